/*
 * deflate.c — raw DEFLATE both ways with zlib, bounded, as an io codec.
 */
#include "deflate.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bounds.h"

/* RFC 4978 §4: raw deflate, no zlib header or checksum; zlib says so
 * with negative window bits. 15: the largest window, which a client may
 * use, so inflate must accept it. */
#define DEFLATE_WINDOW_BITS (-15)
#define DEFLATE_MEM_LEVEL 8

struct deflate {
	z_stream inf, def;
	int inf_ready, def_ready;
	int inf_failed;      /* errno of the first failure each way; sticky */
	int def_failed;
	int ended;           /* the client sent its final block */
	int inf_pending;     /* the last inflate filled its output */
	int dirty;           /* deflated input since the last sync flush */
	uint64_t allowance;
	size_t mem;          /* bytes zlib holds */
	uint64_t in_raw, in_inflated, out_plain, out_deflated;
	size_t in_pos, in_len;
	struct io_codec codec;
	unsigned char in[IO_BUFFER_SIZE];
	unsigned char out[IO_BUFFER_SIZE];
};

/* zlib's allocations carry their size in front, so the total can be kept
 * under DEFLATE_MEMORY_MAX. */
union deflate_block {
	size_t size;
	max_align_t align;
};

static voidpf
deflate_zalloc(voidpf opaque, uInt items, uInt size)
{
	struct deflate *d = opaque;
	size_t n = (size_t)items * size;
	if (n > DEFLATE_MEMORY_MAX - d->mem)
		return Z_NULL;
	union deflate_block *b = malloc(sizeof *b + n);
	if (b == NULL)
		return Z_NULL;
	b->size = n;
	d->mem += n;
	return b + 1;
}

static void
deflate_zfree(voidpf opaque, voidpf p)
{
	struct deflate *d = opaque;
	if (p == NULL)
		return;
	union deflate_block *b = (union deflate_block *)p - 1;
	d->mem -= b->size;
	free(b);
}

static int
deflate_fail(int *failed, int err)
{
	if (!*failed)
		*failed = err;
	errno = *failed;
	return -1;
}

/* zlib counts in uInt. */
static uInt
deflate_clamp(size_t n)
{
	return n > UINT_MAX ? UINT_MAX : (uInt)n;
}

struct deflate *
deflate_new(int level, uint64_t allowance)
{
	struct deflate *d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->allowance = allowance;
	d->inf.zalloc = d->def.zalloc = deflate_zalloc;
	d->inf.zfree = d->def.zfree = deflate_zfree;
	d->inf.opaque = d->def.opaque = d;
	d->inf_ready = inflateInit2(&d->inf, DEFLATE_WINDOW_BITS) == Z_OK;
	d->def_ready = d->inf_ready && deflateInit2(&d->def, level, Z_DEFLATED,
	    DEFLATE_WINDOW_BITS, DEFLATE_MEM_LEVEL, Z_DEFAULT_STRATEGY) == Z_OK;
	if (!d->def_ready) {
		deflate_free(&d);
		errno = ENOMEM;
		return NULL;
	}
	return d;
}

void
deflate_free(struct deflate **dp)
{
	struct deflate *d = *dp;
	if (d == NULL)
		return;
	if (d->inf_ready)
		inflateEnd(&d->inf);
	if (d->def_ready)
		deflateEnd(&d->def);
	free(d);
	*dp = NULL;
}

int
deflate_inflate(struct deflate *d, const unsigned char *in, size_t len, size_t *used_r,
    unsigned char *out, size_t cap, size_t *made_r)
{
	*used_r = *made_r = 0;
	if (d->inf_failed || (d->ended && len > 0))
		return deflate_fail(&d->inf_failed, EPROTO);
	if (d->ended)
		return 0;
	uInt avail_in = deflate_clamp(len), avail_out = deflate_clamp(cap);
	d->inf.next_in = (Bytef *)(uintptr_t)in;
	d->inf.avail_in = avail_in;
	d->inf.next_out = out;
	d->inf.avail_out = avail_out;
	int r = inflate(&d->inf, Z_SYNC_FLUSH);
	*used_r = avail_in - d->inf.avail_in;
	*made_r = avail_out - d->inf.avail_out;
	d->in_raw += *used_r;
	d->in_inflated += *made_r;
	d->inf_pending = d->inf.avail_out == 0;
	if (r == Z_STREAM_END)
		d->ended = 1;
	else if (r == Z_MEM_ERROR)
		return deflate_fail(&d->inf_failed, ENOMEM);
	else if (r != Z_OK && r != Z_BUF_ERROR) /* Z_BUF_ERROR: no progress possible yet */
		return deflate_fail(&d->inf_failed, EPROTO);
	/* Checked after each step of at most cap bytes: the reader never holds
	 * more than its own buffer of a bomb. */
	if (d->in_inflated > DEFLATE_RATIO_MAX * d->in_raw + d->allowance)
		return deflate_fail(&d->inf_failed, E2BIG);
	return 0;
}

int
deflate_inflate_pending(const struct deflate *d)
{
	return d->inf_pending && !d->inf_failed;
}

int
deflate_inflate_error(const struct deflate *d)
{
	return d->inf_failed;
}

int
deflate_deflate(struct deflate *d, const unsigned char *in, size_t len, int sync,
    size_t *used_r, unsigned char *out, size_t cap, size_t *made_r)
{
	*used_r = *made_r = 0;
	if (d->def_failed)
		return deflate_fail(&d->def_failed, EIO);
	/* A second sync flush with nothing new would be an empty block. */
	if (len == 0 && !(sync && d->dirty))
		return 0;
	uInt avail_in = deflate_clamp(len), avail_out = deflate_clamp(cap);
	d->def.next_in = (Bytef *)(uintptr_t)in;
	d->def.avail_in = avail_in;
	d->def.next_out = out;
	d->def.avail_out = avail_out;
	int r = deflate(&d->def, sync ? Z_SYNC_FLUSH : Z_NO_FLUSH);
	if (r != Z_OK && r != Z_BUF_ERROR)
		return deflate_fail(&d->def_failed, r == Z_MEM_ERROR ? ENOMEM : EIO);
	*used_r = avail_in - d->def.avail_in;
	*made_r = avail_out - d->def.avail_out;
	d->out_plain += *used_r;
	d->out_deflated += *made_r;
	if (*used_r > 0)
		d->dirty = 1;
	/* The flush is complete once all input is taken and output is left
	 * over (zlib: call again while avail_out is 0). */
	if (sync && d->def.avail_in == 0 && d->def.avail_out > 0)
		d->dirty = 0;
	return 0;
}

/* io codec: input. */
static ssize_t
deflate_decode(void *ctx, struct io *io, unsigned char *dst, size_t cap, int wait)
{
	struct deflate *d = ctx;
	for (;;) {
		if (d->in_pos < d->in_len || deflate_inflate_pending(d) || d->inf_failed) {
			size_t used, made;
			if (deflate_inflate(d, d->in + d->in_pos, d->in_len - d->in_pos, &used, dst,
			    cap, &made) != 0)
				return IO_ERROR;
			d->in_pos += used;
			if (made > 0)
				return (ssize_t)made;
		}
		if (d->ended)
			return IO_EOF;
		if (!wait)
			return 0;
		ssize_t n = io_transport_recv(io, d->in, sizeof d->in);
		if (n < 0)
			return n;
		d->in_pos = 0;
		d->in_len = (size_t)n;
	}
}

/* io codec: output. */
static int
deflate_encode(void *ctx, struct io *io, const unsigned char *src, size_t len, int sync)
{
	struct deflate *d = ctx;
	for (;;) {
		size_t used, made;
		if (deflate_deflate(d, src, len, sync, &used, d->out, sizeof d->out, &made) != 0)
			return IO_ERROR;
		src += used;
		len -= used;
		if (made > 0) {
			int st = io_transport_send(io, d->out, made);
			if (st != IO_OK)
				return st;
		}
		if (made < sizeof d->out && (len == 0 || used == 0))
			break;
	}
	if (len > 0) { /* zlib took nothing and made nothing: cannot happen */
		deflate_fail(&d->def_failed, EIO);
		return IO_ERROR;
	}
	return IO_OK;
}

int
deflate_start(struct deflate *d, struct io *io)
{
	d->codec.decode = deflate_decode;
	d->codec.encode = deflate_encode;
	d->codec.ctx = d;
	return io_set_codec(io, &d->codec);
}

size_t
deflate_memory(const struct deflate *d)
{
	return d->mem;
}

void
deflate_counts(const struct deflate *d, uint64_t *in_raw_r, uint64_t *in_inflated_r,
    uint64_t *out_plain_r, uint64_t *out_deflated_r)
{
	*in_raw_r = d->in_raw;
	*in_inflated_r = d->in_inflated;
	*out_plain_r = d->out_plain;
	*out_deflated_r = d->out_deflated;
}
