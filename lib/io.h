/*
 * io.h — bounded, buffered I/O for one connection.
 *
 * Reads come from fd_in and writes go to fd_out (the same socket under
 * systemd/inetd, two pipes in tests). A transport (lib/tls) can be slotted in
 * under the buffer; callers do not change. Every read has a caller-set
 * ceiling and a timeout; "line too long" is reported apart from EOF and error.
 */
#ifndef YUBIN_IO_H
#define YUBIN_IO_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"

enum io_status {
	IO_OK = 0,
	IO_EOF = -1,      /* peer closed (or TLS close_notify) */
	IO_ERROR = -2,    /* read/write failed; errno says why */
	IO_TIMEOUT = -3,  /* nothing arrived within the timeout */
	IO_TOOLONG = -4,  /* line did not fit; the rest is still unread */
};

/* A transport moves bytes under the buffer. recv/send return >0, 0 for EOF,
 * or -1 with errno (EAGAIN is not used: calls block). pending() says how many
 * bytes the transport already holds, so the poll for readability is skipped. */
struct io_transport {
	ssize_t (*recv)(void *ctx, void *buf, size_t len);
	ssize_t (*send)(void *ctx, const void *buf, size_t len);
	size_t (*pending)(void *ctx);
	void *ctx;
};

/* A codec sits between the buffers and the transport and changes the bytes
 * of both directions (lib/deflate: IMAP COMPRESS). decode() fills dst with
 * up to cap decoded bytes, taking input with io_transport_recv(); when wait
 * is 0 it uses only input it already holds and returns 0 if that gives
 * nothing. It returns the count (> 0), 0, or IO_EOF/IO_TIMEOUT/IO_ERROR.
 * encode() takes len bytes and sends what it makes with
 * io_transport_send(); sync says a reply batch ends here, so everything so
 * far must reach the peer now. It returns IO_OK or an error. */
struct io;
struct io_codec {
	ssize_t (*decode)(void *ctx, struct io *io, unsigned char *dst, size_t cap, int wait);
	int (*encode)(void *ctx, struct io *io, const unsigned char *src, size_t len, int sync);
	void *ctx;
};

struct io {
	int fd_in, fd_out;
	const struct io_transport *transport; /* NULL: plain read(2)/write(2) */
	const struct io_codec *codec;         /* NULL: bytes go through as they are */
	int timeout_ms;                       /* per wait for input or output */
	int64_t deadline_ms;                  /* CLOCK_MONOTONIC ms ending every wait; 0: none */
	int write_failed;                     /* sticky: later writes are dropped */
	uint64_t bytes_in, bytes_out;
	size_t in_pos, in_len, out_len;
	unsigned char in[IO_BUFFER_SIZE];
	unsigned char out[IO_BUFFER_SIZE];
};

void io_init(struct io *io, int fd_in, int fd_out);
/* NULL restores the plain transport. */
void io_set_transport(struct io *io, const struct io_transport *transport);
void io_set_timeout(struct io *io, int seconds);
/* From now on input is decoded and output encoded by codec (NULL: none).
 * Buffered output is flushed first, so it goes out as it was before; bytes
 * already buffered as input stay as they are. Returns 0, or IO_ERROR/
 * IO_TIMEOUT if that flush failed. */
int io_set_codec(struct io *io, const struct io_codec *codec);
/* For codecs: one read from the transport, waiting as io_fill does, and
 * a write of all of buf. bytes_in and bytes_out count these (wire) bytes. */
ssize_t io_transport_recv(struct io *io, void *buf, size_t len);
int io_transport_send(struct io *io, const void *buf, size_t len);
/* A deadline no wait may pass, however often input trickles in: at
 * deadline_ms (io_now_ms() clock) every read and write wait ends with
 * IO_TIMEOUT. 0 removes it. */
void io_set_deadline(struct io *io, int64_t deadline_ms);
/* Milliseconds on the CLOCK_MONOTONIC clock deadlines use. */
int64_t io_now_ms(void);
/* 1 once the deadline has passed (an IO_TIMEOUT then means that). */
int io_deadline_passed(const struct io *io);
/* What the next wait may take: the per-wait timeout cut to what is left
 * of the deadline; -1 for no limit. Transports (lib/tls) wait with it. */
int io_wait_ms(const struct io *io);

/* Reads one line, LF included, into buf (NUL-terminated after len_r bytes;
 * the line itself may contain NULs, so use len_r). At most size-1 bytes are
 * stored. Returns IO_OK, IO_EOF (no byte before EOF; a final unterminated
 * line is returned as IO_OK without LF), IO_TOOLONG (size-1 bytes stored, no
 * LF yet: the rest stays unread), IO_TIMEOUT or IO_ERROR. */
int io_getline(struct io *io, char *buf, size_t size, size_t *len_r);
/* Discards input through the next LF, reading at most max bytes. Returns
 * IO_OK when the LF was found, IO_TOOLONG when max was reached first. */
int io_skipline(struct io *io, size_t max);
/* Reads up to len bytes (at least one). Returns the count, or IO_EOF,
 * IO_TIMEOUT, IO_ERROR. */
ssize_t io_read(struct io *io, void *buf, size_t len);
/* Waits until input is buffered or timeout; returns IO_OK, IO_EOF, ... */
int io_fill(struct io *io);
/* Buffered input without consuming it: fills the buffer first if empty.
 * Returns IO_OK with data_r and len_r set (len > 0), or IO_EOF/IO_TIMEOUT/
 * IO_ERROR. Parsers that stop mid-buffer consume only what they used. */
int io_peek(struct io *io, const unsigned char **data_r, size_t *len_r);
void io_consume(struct io *io, size_t len);
/* Bytes read from the transport but not yet consumed (pipelining checks). */
size_t io_buffered(const struct io *io);
/* Drops buffered input: after STARTTLS no plaintext survives (S10). */
void io_discard_input(struct io *io);
/* Like io_fill but returns at once: 1 if input is waiting, 0 if not. */
int io_input_waiting(struct io *io);

/* Buffered output; errors are sticky and reported by io_flush(). */
int io_write(struct io *io, const void *buf, size_t len);
int io_puts(struct io *io, const char *s);
int io_printf(struct io *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int io_vprintf(struct io *io, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Returns 0, or IO_ERROR/IO_TIMEOUT once any write has failed. */
int io_flush(struct io *io);

#endif
