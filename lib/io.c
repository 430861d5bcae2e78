/*
 * io.c — bounded buffered I/O over fd 0/1 or a pluggable transport.
 */
#include "io.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
io_init(struct io *io, int fd_in, int fd_out)
{
	memset(io, 0, offsetof(struct io, in));
	io->fd_in = fd_in;
	io->fd_out = fd_out;
	io->timeout_ms = -1;
}

void
io_set_transport(struct io *io, const struct io_transport *transport)
{
	io->transport = transport;
}

void
io_set_timeout(struct io *io, int seconds)
{
	io->timeout_ms = seconds > 0 ? seconds * 1000 : -1;
}

void
io_set_deadline(struct io *io, int64_t deadline_ms)
{
	io->deadline_ms = deadline_ms;
}

int64_t
io_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
io_deadline_passed(const struct io *io)
{
	return io->deadline_ms > 0 && io_now_ms() >= io->deadline_ms;
}

int
io_wait_ms(const struct io *io)
{
	int ms = io->timeout_ms;
	if (io->deadline_ms > 0) {
		int64_t left = io->deadline_ms - io_now_ms();
		if (left < 0)
			left = 0;
		if (left > INT_MAX)
			left = INT_MAX;
		if (ms < 0 || left < ms)
			ms = (int)left;
	}
	return ms;
}

/* Waits for fd; the wait is taken afresh from io after an interruption,
 * so a signal cannot stretch it past the deadline. */
static int
io_wait(const struct io *io, int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	for (;;) {
		int n = poll(&pfd, 1, io_wait_ms(io));
		if (n > 0)
			return IO_OK;
		if (n == 0)
			return IO_TIMEOUT;
		if (errno != EINTR)
			return IO_ERROR;
	}
}

ssize_t
io_transport_recv(struct io *io, void *buf, size_t len)
{
	int pending = io->transport && io->transport->pending &&
	    io->transport->pending(io->transport->ctx) > 0;
	if (!pending) {
		int w = io_wait(io, io->fd_in, POLLIN);
		if (w != IO_OK)
			return w;
	}
	for (;;) {
		ssize_t n = io->transport ?
		    io->transport->recv(io->transport->ctx, buf, len) :
		    read(io->fd_in, buf, len);
		if (n > 0) {
			io->bytes_in += (uint64_t)n;
			return n;
		}
		if (n == 0)
			return IO_EOF;
		if (errno != EINTR)
			return errno == ETIMEDOUT ? IO_TIMEOUT : IO_ERROR;
	}
}

int
io_fill(struct io *io)
{
	if (io->in_pos < io->in_len)
		return IO_OK;
	io->in_pos = io->in_len = 0;
	ssize_t n;
	do
		n = io->codec ? io->codec->decode(io->codec->ctx, io, io->in, sizeof io->in, 1) :
		    io_transport_recv(io, io->in, sizeof io->in);
	while (n == 0);
	if (n < 0)
		return (int)n;
	io->in_len = (size_t)n;
	return IO_OK;
}

int
io_getline(struct io *io, char *buf, size_t size, size_t *len_r)
{
	size_t len = 0;
	*len_r = 0;
	if (size == 0)
		return IO_TOOLONG;
	buf[0] = '\0';
	for (;;) {
		if (len + 1 >= size) {
			buf[len] = '\0';
			*len_r = len;
			return IO_TOOLONG;
		}
		int st = io_fill(io);
		if (st != IO_OK) {
			buf[len] = '\0';
			*len_r = len;
			return (st == IO_EOF && len > 0) ? IO_OK : st;
		}
		size_t avail = io->in_len - io->in_pos;
		size_t room = size - 1 - len;
		size_t take = avail < room ? avail : room;
		unsigned char *start = io->in + io->in_pos;
		unsigned char *lf = memchr(start, '\n', take);
		if (lf)
			take = (size_t)(lf - start) + 1;
		memcpy(buf + len, start, take);
		io->in_pos += take;
		len += take;
		if (lf) {
			buf[len] = '\0';
			*len_r = len;
			return IO_OK;
		}
	}
}

int
io_skipline(struct io *io, size_t max)
{
	size_t seen = 0;
	while (seen < max) {
		int st = io_fill(io);
		if (st != IO_OK)
			return st;
		size_t avail = io->in_len - io->in_pos;
		if (avail > max - seen)
			avail = max - seen;
		unsigned char *start = io->in + io->in_pos;
		unsigned char *lf = memchr(start, '\n', avail);
		if (lf) {
			io->in_pos += (size_t)(lf - start) + 1;
			return IO_OK;
		}
		io->in_pos += avail;
		seen += avail;
	}
	return IO_TOOLONG;
}

ssize_t
io_read(struct io *io, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	int st = io_fill(io);
	if (st != IO_OK)
		return st;
	size_t avail = io->in_len - io->in_pos;
	if (avail > len)
		avail = len;
	memcpy(buf, io->in + io->in_pos, avail);
	io->in_pos += avail;
	return (ssize_t)avail;
}

int
io_peek(struct io *io, const unsigned char **data_r, size_t *len_r)
{
	int st = io_fill(io);
	if (st != IO_OK)
		return st;
	*data_r = io->in + io->in_pos;
	*len_r = io->in_len - io->in_pos;
	return IO_OK;
}

void
io_consume(struct io *io, size_t len)
{
	size_t avail = io->in_len - io->in_pos;
	io->in_pos += len < avail ? len : avail;
}

size_t
io_buffered(const struct io *io)
{
	return io->in_len - io->in_pos;
}

void
io_discard_input(struct io *io)
{
	io->in_pos = io->in_len = 0;
}

int
io_input_waiting(struct io *io)
{
	if (io->in_pos < io->in_len)
		return 1;
	/* Compressed input already read may hold a whole command. An error
	 * counts as input too: the read that follows reports it. */
	if (io->codec) {
		io->in_pos = io->in_len = 0;
		ssize_t n = io->codec->decode(io->codec->ctx, io, io->in, sizeof io->in, 0);
		if (n > 0)
			io->in_len = (size_t)n;
		if (n != 0)
			return 1;
	}
	if (io->transport && io->transport->pending &&
	    io->transport->pending(io->transport->ctx) > 0)
		return 1;
	struct pollfd pfd = { .fd = io->fd_in, .events = POLLIN };
	return poll(&pfd, 1, 0) > 0;
}

int
io_transport_send(struct io *io, const void *data, size_t len)
{
	const unsigned char *buf = data;
	while (len > 0) {
		int w = io_wait(io, io->fd_out, POLLOUT);
		if (w != IO_OK)
			return w;
		ssize_t n = io->transport ?
		    io->transport->send(io->transport->ctx, buf, len) :
		    write(io->fd_out, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return IO_ERROR;
		}
		io->bytes_out += (uint64_t)n;
		buf += n;
		len -= (size_t)n;
	}
	return IO_OK;
}

/* Sends the output buffer. sync: a reply batch ends, so a codec must push
 * out what it holds too (a full buffer in mid-reply need not). */
static int
io_send_out(struct io *io, int sync)
{
	if (io->write_failed)
		return io->write_failed;
	if (io->out_len == 0 && !(sync && io->codec))
		return IO_OK;
	int st = io->codec ?
	    io->codec->encode(io->codec->ctx, io, io->out, io->out_len, sync) :
	    io_transport_send(io, io->out, io->out_len);
	io->out_len = 0;
	if (st != IO_OK)
		io->write_failed = st;
	return st;
}

int
io_flush(struct io *io)
{
	return io_send_out(io, 1);
}

int
io_set_codec(struct io *io, const struct io_codec *codec)
{
	int st = io_flush(io);
	io->codec = codec;
	return st;
}

int
io_write(struct io *io, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (io->write_failed)
		return io->write_failed;
	while (len > 0) {
		size_t room = sizeof io->out - io->out_len;
		if (room == 0) {
			int st = io_send_out(io, 0);
			if (st != IO_OK)
				return st;
			continue;
		}
		size_t take = len < room ? len : room;
		memcpy(io->out + io->out_len, p, take);
		io->out_len += take;
		p += take;
		len -= take;
	}
	return IO_OK;
}

int
io_puts(struct io *io, const char *s)
{
	return io_write(io, s, strlen(s));
}

int
io_vprintf(struct io *io, const char *fmt, va_list ap)
{
	char small[1024];
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(small, sizeof small, fmt, copy);
	va_end(copy);
	if (n < 0)
		return IO_ERROR;
	if ((size_t)n < sizeof small)
		return io_write(io, small, (size_t)n);
	/* Rare long reply: format straight into a heap copy of the right size. */
	char *big = NULL;
	if (vasprintf(&big, fmt, ap) < 0)
		return IO_ERROR;
	int st = io_write(io, big, (size_t)n);
	free(big);
	return st;
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int st = io_vprintf(io, fmt, ap);
	va_end(ap);
	return st;
}
