/* Fuzz target: lib/dkim-canon.c, the DKIM header block parser and the
 * relaxed canonical forms.
 *
 * The first input byte picks a piece size; the rest is a stored message
 * (LF line ends). Checks:
 *  - fed whole or in pieces, the parser finds the same body offset and
 *    the same fields, and the body hashes the same;
 *  - fields lie inside the block, in order, without overlap, with the
 *    name inside the field;
 *  - a field's relaxed form fits len + 2 bytes, ends in CRLF and has no
 *    other CR or LF, no tab, no two spaces in a row, no space before the
 *    CRLF and no upper-case letter in the name;
 *  - dkim_from_domain gives a lower-case LDH name or nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
parse(struct dkim_headers *h, const char *msg, size_t len, size_t step)
{
	size_t off = 0, used;
	dkim_headers_init(h);
	while (off < len) {
		size_t n = step && len - off > step ? step : len - off;
		enum dkim_parse r = dkim_headers_feed(h, msg + off, n, &used);
		if (used > n)
			abort();
		off += used;
		if (r == DKIM_PARSE_DONE || r == DKIM_PARSE_TOO_BIG)
			return off;
		if (r == DKIM_PARSE_ERROR)
			abort();
	}
	dkim_headers_end(h);
	return off;
}

static void
hash_body(const char *p, size_t len, size_t step, unsigned char *out)
{
	struct dkim_body b;
	if (dkim_body_init(&b) < 0)
		abort();
	for (size_t i = 0; i < len;) {
		size_t n = step && len - i > step ? step : len - i;
		dkim_body_feed(&b, p + i, n);
		i += n;
	}
	dkim_body_final(&b, out);
}

static void
check_canon(const struct dkim_headers *h, const struct dkim_field *f)
{
	char *out = malloc(f->len + 2);
	if (!out)
		abort();
	size_t n = dkim_canon_header(h->buf + f->off, f->len, out);
	if (n > f->len + 2 || n < 2 || out[n - 2] != '\r' || out[n - 1] != '\n')
		abort();
	int in_name = 1;
	for (size_t i = 0; i + 2 < n; i++) {
		char c = out[i];
		if (c == '\r' || c == '\n' || c == '\t' || (c == ' ' && (out[i + 1] == ' ' ||
		    i + 3 == n)))
			abort();
		if (in_name && c >= 'A' && c <= 'Z')
			abort();
		if (c == ':')
			in_name = 0;
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = data[0] % 17;
	const char *msg = (const char *)data + 1;
	size_t len = size - 1;
	struct dkim_headers a, b;
	size_t off_a = parse(&a, msg, len, 0), off_b = parse(&b, msg, len, step);
	if (off_a != off_b || a.n_fields != b.n_fields || a.len != b.len)
		abort();
	size_t prev_end = 0;
	for (size_t i = 0; i < a.n_fields; i++) {
		const struct dkim_field *f = &a.fields[i];
		if (memcmp(f, &b.fields[i], sizeof *f) || f->off < prev_end ||
		    f->off + f->len > a.len || f->name_len > f->len)
			abort();
		prev_end = f->off + f->len;
		check_canon(&a, f);
	}
	char dom[256];
	if (dkim_from_domain(&a, dom, sizeof dom) == 0)
		for (const char *p = dom; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
			    *p == '.'))
				abort();
	unsigned char h1[DKIM_HASH_LEN], h2[DKIM_HASH_LEN];
	hash_body(msg + off_a, len - off_a, 0, h1);
	hash_body(msg + off_a, len - off_a, step, h2);
	if (memcmp(h1, h2, sizeof h1))
		abort();
	dkim_headers_free(&a);
	dkim_headers_free(&b);
	return 0;
}
