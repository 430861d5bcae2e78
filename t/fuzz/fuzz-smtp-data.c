/* Fuzz target: smtp-session's DATA/BDAT content decoder (S1–S4, S7).
 * smtp-session/data.c comes from smtp-session's objects.
 *
 * The first input byte picks DATA or BDAT mode and a split point; the rest
 * is content as it arrives after the DATA command. Checks:
 *  - fed whole, one byte at a time, or in two pieces, the decoder consumes
 *    the same bytes, produces the same output and the same counters;
 *  - DATA ends exactly at the first CRLF "." CRLF (counting the CRLF that
 *    ended the DATA command), never elsewhere: the smuggling property;
 *    BDAT never ends and consumes everything;
 *  - the output never holds a CR, and never more bytes than were consumed;
 *    one call may give one byte more than it took (a CR held back before);
 *  - with no bare CR/LF, the output is exactly the input with CRLF → LF and
 *    one leading dot removed per line (DATA), or CRLF → LF (BDAT). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp-session/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct decoded {
	unsigned char *out;
	size_t out_len, used;
	struct data_reader d;
};

/* Decodes in pieces of at most step bytes (0: all at once). */
static void
decode(const uint8_t *in, size_t len, int chunking, size_t step, struct decoded *r)
{
	r->out = malloc(len + 2);
	if (!r->out)
		abort();
	r->out_len = r->used = 0;
	data_init(&r->d, chunking);
	while (r->used < len && !r->d.done) {
		size_t n = step && len - r->used > step ? step : len - r->used;
		size_t o, u = data_feed(&r->d, in + r->used, n, r->out + r->out_len, &o);
		/* At most one byte more than consumed: a held-back CR. */
		if (u > n || o > u + 1)
			abort();
		r->used += u;
		r->out_len += o;
	}
	if (chunking)
		r->out_len += data_finish(&r->d, r->out + r->out_len);
}

static void
same(const struct decoded *a, const struct decoded *b)
{
	if (a->used != b->used || a->out_len != b->out_len ||
	    memcmp(a->out, b->out, a->out_len) != 0 || a->d.done != b->d.done ||
	    a->d.bare_lf != b->d.bare_lf || a->d.bare_cr != b->d.bare_cr ||
	    a->d.nul != b->d.nul || a->d.hops != b->d.hops ||
	    a->d.header_bytes != b->d.header_bytes)
		abort();
}

/* Where DATA must end: just after the first CRLF.CRLF, the CRLF of the
 * DATA command counting as the first. Returns len + 1 when it never ends. */
static size_t
expected_end(const uint8_t *in, size_t len)
{
	static const uint8_t term[] = "\r\n.\r\n";
	if (len >= 3 && memcmp(in, term + 2, 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= len; i++)
		if (memcmp(in + i, term, 5) == 0)
			return i + 5;
	return len + 1;
}

/* The decoding of clean content, done the obvious way. */
static size_t
reference(const uint8_t *in, size_t len, int chunking, unsigned char *out)
{
	size_t o = 0;
	int bol = 1;
	for (size_t i = 0; i < len; i++) {
		if (!chunking && bol && in[i] == '.') {
			bol = 0;
			continue;
		}
		bol = 0;
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') {
			out[o++] = '\n';
			i++;
			bol = 1;
			continue;
		}
		out[o++] = in[i];
	}
	return o;
}

static void
check_properties(const uint8_t *in, size_t len, int chunking, const struct decoded *r)
{
	if (memchr(r->out, '\r', r->out_len) || r->out_len > r->used + 1)
		abort();
	if (chunking) {
		if (r->d.done || r->used != len)
			abort();
	} else {
		size_t end = expected_end(in, len);
		if (end <= len ? (!r->d.done || r->used != end) : (r->d.done || r->used != len))
			abort();
	}
	if (r->d.bare_lf || r->d.bare_cr || (!chunking && !r->d.done))
		return;
	/* Clean and complete: compare with the obvious decoding of the
	 * content before the final "." CRLF. */
	size_t body = chunking ? len : r->used - 3;
	unsigned char *want = malloc(body + 1);
	if (!want)
		abort();
	size_t n = reference(in, body, chunking, want);
	if (n != r->out_len || memcmp(want, r->out, n) != 0)
		abort();
	free(want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	int chunking = data[0] & 1;
	size_t step = data[0] >> 1;
	data++;
	size--;
	struct decoded whole, bytes, pieces;
	decode(data, size, chunking, 0, &whole);
	decode(data, size, chunking, 1, &bytes);
	decode(data, size, chunking, step ? step : 7, &pieces);
	same(&whole, &bytes);
	same(&whole, &pieces);
	check_properties(data, size, chunking, &whole);
	free(whole.out);
	free(bytes.out);
	free(pieces.out);
	return 0;
}
