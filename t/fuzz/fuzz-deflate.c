/* Fuzz target: lib/deflate (IMAP COMPRESS=DEFLATE, S52). Two uses of the
 * input:
 *   - as compressed bytes from a client, fed one byte at a time with an
 *     output room of 1..64 bytes (the first byte picks it): no call writes
 *     past its room, what was inflated never passes DEFLATE_RATIO_MAX times
 *     the input plus the allowance, and a failure stays a failure;
 *   - as plain text sent by the server, with a sync flush at every LF:
 *     after each flush the client side inflates exactly the text so far. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ALLOWANCE 4096

static void
fuzz_inflate(const uint8_t *data, size_t size)
{
	if (size == 0)
		return;
	size_t cap = 1 + data[0] % 64;
	struct deflate *d = deflate_new(6, FUZZ_ALLOWANCE);
	unsigned char *out = malloc(cap); /* exact size: ASan sees an overrun */
	if (d == NULL || out == NULL)
		abort();
	uint64_t in = 0, total = 0;
	int failed = 0;
	for (size_t i = 1; i <= size && !failed; i++) {
		size_t give = i < size ? 1 : 0, used, made;
		do {
			if (deflate_inflate(d, data + i, give, &used, out, cap, &made) != 0) {
				if (errno != EPROTO && errno != E2BIG)
					abort();
				failed = 1;
				break;
			}
			if (made > cap || used > give)
				abort();
			in += used;
			total += made;
			give -= used;
			if (total > DEFLATE_RATIO_MAX * in + FUZZ_ALLOWANCE)
				abort();
		} while (made > 0 || give > 0);
	}
	if (failed) {
		size_t used, made;
		if (deflate_inflate(d, data, 0, &used, out, cap, &made) != -1 || made != 0)
			abort();
	}
	free(out);
	deflate_free(&d);
}

/* Deflates text[0..len) with a sync flush, inflates the result one byte at
 * a time on the client side; the output must be the text, complete. zcap
 * is above deflate's worst case for len, and back has zcap bytes. */
static void
fuzz_batch(struct deflate *srv, struct deflate *cli, const uint8_t *text, size_t len,
    unsigned char *z, size_t zcap, unsigned char *back)
{
	size_t zlen = 0, n = 0, left = len;
	const uint8_t *p = text;
	for (;;) {
		size_t used, made;
		if (deflate_deflate(srv, p, left, 1, &used, z + zlen, zcap - zlen, &made) != 0)
			abort();
		p += used;
		left -= used;
		zlen += made;
		if (zlen < zcap && left == 0)
			break;
		if (zlen == zcap)
			abort();
	}
	for (size_t i = 0; i <= zlen; i++) {
		size_t give = i < zlen ? 1 : 0, used, made;
		do {
			if (deflate_inflate(cli, z + i, give, &used, back + n, zcap - n, &made) != 0)
				abort();
			n += made;
			give -= used;
		} while (made > 0 || give > 0);
	}
	if (n != len || memcmp(back, text, len) != 0)
		abort();
}

static void
fuzz_round_trip(const uint8_t *data, size_t size)
{
	struct deflate *srv = deflate_new(1 + (size % 9), 0), *cli = deflate_new(6, 0);
	size_t zcap = size + size / 8 + 64;
	unsigned char *z = malloc(zcap), *back = malloc(zcap);
	if (srv == NULL || cli == NULL || z == NULL || back == NULL)
		abort();
	size_t start = 0;
	while (start < size) {
		const uint8_t *lf = memchr(data + start, '\n', size - start);
		size_t end = lf ? (size_t)(lf - data) + 1 : size;
		fuzz_batch(srv, cli, data + start, end - start, z, zcap, back);
		start = end;
	}
	free(z);
	free(back);
	deflate_free(&srv);
	deflate_free(&cli);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_inflate(data, size);
	fuzz_round_trip(data, size);
	return 0;
}
