/*
 * deflate.h — a raw DEFLATE stream (RFC 1951) both ways on one connection,
 * as IMAP COMPRESS=DEFLATE wants it (RFC 4978 §4: no zlib header, a sync
 * flush at the end of every reply batch). zlib does the work; this module is
 * the only one that includes it. It slots in as io's codec, between io's
 * buffers and its transport, so with TLS the deflated bytes are what TLS
 * encrypts and the inflated bytes what the session's framer reads: every
 * line and literal limit applies to the inflated stream (S47, S52).
 *
 * Bounds against a deflate bomb (S52):
 *   - one call inflates at most what the caller has room for (io's 16 KiB
 *     buffer), so nothing is inflated ahead of the reader;
 *   - the whole inflated stream may be at most DEFLATE_RATIO_MAX times the
 *     compressed bytes read so far, plus the allowance given at creation
 *     (what one command may legitimately carry: a message); past that the
 *     stream fails with E2BIG;
 *   - zlib's memory is fixed when the stream is made and counted, at most
 *     DEFLATE_MEMORY_MAX.
 * A corrupt stream fails with EPROTO. Failures are sticky, each direction
 * apart: after bad input the session can still send its BYE.
 */
#ifndef YUBIN_DEFLATE_H
#define YUBIN_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

struct deflate;

/* A stream pair; level is zlib's 1 (fast) to 9 (small). allowance: inflated
 * bytes tolerated beyond DEFLATE_RATIO_MAX times the input. Returns NULL
 * with errno set (ENOMEM). */
struct deflate *deflate_new(int level, uint64_t allowance);
void deflate_free(struct deflate **d);

/* Inflates from in (len bytes) into out (at most cap bytes); *used_r says
 * how much of in was taken, *made_r how much was written. It stops when out
 * is full or in is used up. Returns 0, or -1 with errno (EPROTO corrupt,
 * E2BIG over the ratio) once and for every later call. After the client's
 * final block, further input is EPROTO. */
int deflate_inflate(struct deflate *d, const unsigned char *in, size_t len, size_t *used_r,
    unsigned char *out, size_t cap, size_t *made_r);
/* 1 if inflate may have output left without more input (out was full). */
int deflate_inflate_pending(const struct deflate *d);
/* The errno that stopped inflating (EPROTO, E2BIG, ENOMEM), or 0. */
int deflate_inflate_error(const struct deflate *d);

/* Deflates all of in (len bytes) into out (cap bytes at a time): *used_r
 * and *made_r as above. With sync, after in is taken, ends the block with
 * a sync flush so the peer can inflate everything so far. Call again while
 * *made_r == cap. Returns 0 or -1 with errno. */
int deflate_deflate(struct deflate *d, const unsigned char *in, size_t len, int sync,
    size_t *used_r, unsigned char *out, size_t cap, size_t *made_r);

/* Installs d as io's codec (io_set_codec: buffered output goes out plain
 * first). d must outlive io's use of it; uninstall with io_set_codec(io,
 * NULL) before deflate_free. Returns 0 or the flush's IO_ status. */
int deflate_start(struct deflate *d, struct io *io);

/* Bytes zlib holds for d (at most DEFLATE_MEMORY_MAX). */
size_t deflate_memory(const struct deflate *d);

/* Counters for the log line at the end of a session. */
void deflate_counts(const struct deflate *d, uint64_t *in_raw_r, uint64_t *in_inflated_r,
    uint64_t *out_plain_r, uint64_t *out_deflated_r);

#endif
