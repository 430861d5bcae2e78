/*
 * dkim-canon.c — the header block parser and the relaxed canonical forms
 * of RFC 6376 §3.4.2 (header) and §3.4.4 (body). See dkim.h for why a CR
 * counts as white space here.
 */
#include "dkim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

void
dkim_headers_init(struct dkim_headers *h)
{
	memset(h, 0, sizeof *h);
}

void
dkim_headers_free(struct dkim_headers *h)
{
	free(h->buf);
	free(h->fields);
	memset(h, 0, sizeof *h);
}

/* Room for one more byte of header block; grows by doubling. */
static int
reserve_byte(struct dkim_headers *h)
{
	if (h->len < h->cap)
		return 0;
	size_t cap = h->cap ? h->cap * 2 : 4096;
	if (cap > DKIM_HEADER_MAX)
		cap = DKIM_HEADER_MAX;
	char *p = realloc(h->buf, cap);
	if (!p)
		return -1;
	h->buf = p;
	h->cap = cap;
	return 0;
}

static int
field_open(struct dkim_headers *h)
{
	if (h->n_fields == h->cap_fields) {
		size_t cap = h->cap_fields ? h->cap_fields * 2 : 32;
		struct dkim_field *f = realloc(h->fields, cap * sizeof *f);
		if (!f)
			return -1;
		h->fields = f;
		h->cap_fields = cap;
	}
	h->fields[h->n_fields++] = (struct dkim_field){ .off = h->len, .len = SIZE_MAX };
	return 0;
}

/* Ends the open field (if any) at end, the offset of its final LF. */
static void
field_close(struct dkim_headers *h, size_t end)
{
	if (h->n_fields == 0)
		return;
	struct dkim_field *f = &h->fields[h->n_fields - 1];
	if (f->len != SIZE_MAX)
		return;
	f->len = end - f->off;
	const char *colon = memchr(h->buf + f->off, ':', f->len);
	f->name_len = colon ? (size_t)(colon - (h->buf + f->off)) : f->len;
}

/* The offset of the LF that ended the line before the current one. */
static size_t
line_start(const struct dkim_headers *h)
{
	return h->len - h->line_len;
}

enum dkim_parse
dkim_headers_feed(struct dkim_headers *h, const char *p, size_t n, size_t *used_r)
{
	*used_r = 0;
	if (h->done)
		return DKIM_PARSE_DONE;     /* the rest is body: nothing taken */
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\n' && (h->line_len == 0 || h->line_cr)) {
			/* The empty line ("\n", or "\r\n" on the wire). */
			field_close(h, line_start(h) - (line_start(h) > 0));
			h->done = 1;
			*used_r = i + 1;
			return DKIM_PARSE_DONE;
		}
		if (h->len >= DKIM_HEADER_MAX) {
			*used_r = i;
			return DKIM_PARSE_TOO_BIG;
		}
		if (reserve_byte(h) < 0)
			return DKIM_PARSE_ERROR;
		if (h->line_len == 0 && !is_wsp(c)) {
			/* Not a continuation: a new field begins on this line. */
			field_close(h, h->len - (h->len > 0));
			if (field_open(h) < 0)
				return DKIM_PARSE_ERROR;
		} else if (h->n_fields == 0 && field_open(h) < 0) {
			return DKIM_PARSE_ERROR;   /* a block that starts folded */
		}
		h->buf[h->len++] = c;
		if (c == '\n') {
			h->line_len = 0;
			h->line_cr = 0;
		} else {
			h->line_cr = h->line_len == 0 && c == '\r';
			h->line_len++;
		}
	}
	*used_r = n;
	return DKIM_PARSE_MORE;
}

void
dkim_headers_end(struct dkim_headers *h)
{
	if (h->done)
		return;
	/* A last line without its LF is whole: a relay adds the line end. */
	field_close(h, h->line_len > 0 ? h->len : h->len - (h->len > 0));
	h->done = 1;
}

size_t
dkim_canon_header(const char *f, size_t len, char *out)
{
	size_t o = 0;
	int in_name = 1, wsp = 0, value_started = 0;
	for (size_t i = 0; i < len; i++) {
		char c = f[i];
		if (c == '\n')
			continue;            /* unfold */
		if (is_wsp(c)) {
			wsp = 1;
			continue;
		}
		if (in_name && c == ':') {
			out[o++] = ':';      /* no white space either side of it */
			in_name = 0;
			wsp = 0;
			continue;
		}
		if (wsp && (in_name ? o > 0 : value_started))
			out[o++] = ' ';
		wsp = 0;
		if (in_name)
			c = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		else
			value_started = 1;
		out[o++] = c;
	}
	out[o++] = '\r';
	out[o++] = '\n';
	return o;
}

int
dkim_body_init(struct dkim_body *b)
{
	memset(b, 0, sizeof *b);
	return digest_sha256_init(&b->hash);
}

static void
body_put(struct dkim_body *b, const char *p, size_t n)
{
	if (b->out_len + n > sizeof b->out) {
		digest_update(&b->hash, b->out, b->out_len);
		b->out_len = 0;
	}
	memcpy(b->out + b->out_len, p, n);
	b->out_len += n;
}

/* Empty lines are only known to be inside the body once a non-empty
 * line follows them; trailing ones are dropped (RFC 6376 §3.4.4 c). */
static void
body_flush_empty(struct dkim_body *b)
{
	for (; b->empty_lines > 0; b->empty_lines--)
		body_put(b, "\r\n", 2);
}

void
dkim_body_feed(struct dkim_body *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\n') {
			if (b->in_line)
				body_put(b, "\r\n", 2);    /* white space before it dropped */
			else
				b->empty_lines++;
			b->in_line = b->wsp = 0;
		} else if (is_wsp(c)) {
			b->wsp = 1;
		} else {
			if (!b->in_line)
				body_flush_empty(b);
			if (b->wsp)
				body_put(b, " ", 1);
			body_put(b, &c, 1);
			b->in_line = 1;
			b->wsp = 0;
		}
	}
}

void
dkim_body_final(struct dkim_body *b, unsigned char *hash)
{
	if (b->in_line)
		body_put(b, "\r\n", 2);    /* a last line without its line end */
	digest_update(&b->hash, b->out, b->out_len);
	digest_final(&b->hash, hash);
	b->out_len = 0;
}
