/*
 * render-search.c — the SEARCH matchers of render.h: header, body and text
 * searches on decoded text (RFC 2047 words, quoted-printable and base64
 * bodies, charsets to UTF-8), case-insensitive, with what Dovecot's SEARCH
 * finds on the corpus as reference (t/fixtures/mime/search.expected).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "render.h"

/* Code point of a 2-byte UTF-8 sequence, and back. */
#define U2(a, b) ((((unsigned)(a) & 0x1f) << 6) | ((unsigned)(b) & 0x3f))

/* Lower case of the 2-byte code points SEARCH folds: Latin-1, Latin
 * Extended-A, Greek and Cyrillic capitals (their lower cases are 2 bytes
 * too, so folding keeps lengths). */
static unsigned
fold_cp(unsigned c)
{
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7) || (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) ||
	    (c >= 0x410 && c <= 0x42f))
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177)) && c % 2 == 0)
		return c + 1;
	if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) && c % 2 == 1)
		return c + 1;
	return c;
}

/* 1 for the first byte of a 2-byte UTF-8 sequence, and for the byte after. */
#define LEAD2(c) ((unsigned char)(c) >= 0xc2 && (unsigned char)(c) <= 0xdf)
#define CONT(c) (((unsigned char)(c) & 0xc0) == 0x80)

/* Lower-cases ASCII and the 2-byte letters above in UTF-8 text s into t
 * (n bytes each). Byte i of the result depends on bytes i-1..i+1 only, so
 * a piece cut where no 2-byte sequence is split folds as in the whole. */
static void
fold_into(const char *s, size_t n, char *t)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z') {
			t[i] = (char)(c + 32);
		} else if (c >= 0xc2 && c <= 0xdf && i + 1 < n &&
		    ((unsigned char)s[i + 1] & 0xc0) == 0x80) {
			unsigned cp = fold_cp(U2(c, s[i + 1]));
			t[i++] = (char)(0xc0 | (cp >> 6));
			t[i] = (char)(0x80 | (cp & 0x3f));
		} else {
			t[i] = (char)c;
		}
	}
}

/* Text is folded and searched in windows of this size (plus the needle),
 * overlapping by the needle's length: a big body costs no copy of its
 * size, and the window stays in the CPU cache. */
#define FOLD_WINDOW 65536

int
render_search_contains(const char *hay, size_t hn, const char *needle)
{
	size_t nn = strlen(needle);
	if (nn == 0)
		return 1;
	if (nn > hn)
		return 0;
	size_t cap = hn < FOLD_WINDOW + nn ? hn : FOLD_WINDOW + nn;
	char *nd = malloc(nn), *w = malloc(cap);
	int r = 0;
	if (nd == NULL || w == NULL)
		goto done;
	fold_into(needle, nn, nd);
	for (size_t a = 0;;) {
		/* [a, b): starts and ends where no 2-byte sequence is cut */
		size_t b = hn - a <= cap ? hn : a + cap;
		if (b < hn && LEAD2(hay[b - 1]) && CONT(hay[b]))
			b--;
		fold_into(hay + a, b - a, w);
		if (memmem(w, b - a, nd, nn) != NULL) {
			r = 1;
			break;
		}
		if (b == hn)
			break;
		a = b - (nn - 1);
		if (a > 0 && CONT(hay[a]) && LEAD2(hay[a - 1]))
			a--;
	}
done:
	free(nd);
	free(w);
	return r;
}

static int
header_matches(const struct mime_header *h, const char *needle)
{
	size_t n;
	char *v = mime_decode_header(h->value, h->value_len, &n);
	if (v == NULL)
		return 0;
	int r = render_search_contains(v, n, needle);
	free(v);
	return r;
}

int
render_search_header(const struct mime_message *m, const char *field, const char *needle)
{
	const struct mime_part *p = m->root;
	size_t flen = strlen(field);
	for (size_t i = 0; i < p->hdr_count; i++) {
		const struct mime_header *h = &p->headers[i];
		if (h->name_len != flen || strncasecmp((const char *)h->name, field, flen) != 0)
			continue;
		if (*needle == '\0' || header_matches(h, needle))
			return 1;
	}
	return 0;
}

/* What mime_decode_cte() and mime_charset_to_utf8() give back unchanged
 * (the bulk of mail): searched where it is rather than copied twice. */
static int
is_identity(const struct mime_part *p)
{
	const char *e = p->encoding;
	if (e != NULL && (strcasecmp(e, "quoted-printable") == 0 || strcasecmp(e, "base64") == 0))
		return 0;
	const char *cs = mime_param_get(p->params, p->param_count, "charset");
	return cs == NULL || *cs == '\0' || strcasecmp(cs, "utf-8") == 0 ||
	    strcasecmp(cs, "utf8") == 0 || strcasecmp(cs, "us-ascii") == 0 ||
	    strcasecmp(cs, "ascii") == 0;
}

static int
part_text_matches(const struct mime_message *m, const struct mime_part *p, const char *needle)
{
	unsigned char *dec;
	size_t dlen;
	const unsigned char *body = m->data + p->body_off;
	if (is_identity(p))
		return render_search_contains((const char *)body, p->body_len, needle);
	int rc = mime_decode_cte(p->encoding, body, p->body_len, 0, &dec, &dlen);
	if (rc < 0)
		return 0;
	if (rc == 1) {
		/* unknown or broken encoding: search what is there */
		dec = malloc(p->body_len + 1);
		if (dec == NULL)
			return 0;
		memcpy(dec, body, p->body_len);
		dlen = p->body_len;
	}
	const char *cs = mime_param_get(p->params, p->param_count, "charset");
	size_t ulen;
	char *u = mime_charset_to_utf8(cs, dec, dlen, &ulen);
	free(dec);
	if (u == NULL)
		return 0;
	int r = render_search_contains(u, ulen, needle);
	free(u);
	return r;
}

/* Every text leaf of the tree, messages inside message/rfc822 included. */
int
render_search_body(const struct mime_message *m, const char *needle)
{
	const struct mime_part *p = m->root;
	while (p != NULL) {
		if (!(p->flags & (MIME_PART_MULTIPART | MIME_PART_RFC822)) &&
		    (p->type == NULL || strcasecmp(p->type, "text") == 0 ||
		     strcasecmp(p->type, "message") == 0) &&
		    part_text_matches(m, p, needle))
			return 1;
		if (p->children != NULL)
			p = p->children;
		else {
			while (p != NULL && p->next == NULL)
				p = p->parent;
			if (p != NULL)
				p = p->next;
		}
	}
	return 0;
}

/* Headers of every part (embedded messages and MIME part headers too, as
 * Dovecot's TEXT), then the body. */
int
render_search_text(const struct mime_message *m, const char *needle)
{
	const struct mime_part *p = m->root;
	while (p != NULL) {
		for (size_t i = 0; i < p->hdr_count; i++) {
			const struct mime_header *h = &p->headers[i];
			if (render_search_contains((const char *)h->name, h->name_len, needle) ||
			    header_matches(h, needle))
				return 1;
		}
		if (p->children != NULL)
			p = p->children;
		else {
			while (p != NULL && p->next == NULL)
				p = p->parent;
			if (p != NULL)
				p = p->next;
		}
	}
	return render_search_body(m, needle);
}

time_t
render_date(const struct mime_message *m)
{
	const struct mime_header *h = mime_header_find(m->root, "Date");
	if (h == NULL)
		return -1;
	return mime_parse_date(h->value, h->value_len);
}
