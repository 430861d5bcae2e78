/*
 * render-search.c — the SEARCH matchers of render.h: header, address,
 * body and text searches on decoded text (RFC 2047 words, quoted-printable
 * and base64 bodies, charsets to UTF-8), case-insensitive, with what
 * Dovecot's SEARCH finds on the corpus as reference
 * (t/fixtures/mime/search.expected).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "buf.h"
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

/* 1 if a top-level field named field matches needle by match (an empty
 * needle: the field is there), else 0. */
static int
field_matches(const struct mime_message *m, const char *field, const char *needle,
    int (*match)(const struct mime_header *, const char *))
{
	const struct mime_part *p = m->root;
	size_t flen = strlen(field);
	for (size_t i = 0; i < p->hdr_count; i++) {
		const struct mime_header *h = &p->headers[i];
		if (h->name_len != flen || strncasecmp((const char *)h->name, field, flen) != 0)
			continue;
		if (*needle == '\0' || match(h, needle))
			return 1;
	}
	return 0;
}

int
render_search_header(const struct mime_message *m, const char *field, const char *needle)
{
	return field_matches(m, field, needle, header_matches);
}

/* ---- address fields: SEARCH FROM, TO, CC and BCC ---- */

/* RFC 5322 atext, and '.': what a phrase or local part may hold unquoted
 * (8-bit bytes count as text). */
static int
is_atext(unsigned char c)
{
	return c >= 0x80 || (c > ' ' && c < 0x7f && !strchr("\"(),:;<>@[\\]", c));
}

/* s as written in a header: as it is when every byte is atext, else
 * with '"' and '\\' escaped and, if quote, in quotes. A phrase holding an
 * encoded word stays as it is, so that it is decoded after. */
static void
write_maybe_quoted(struct buf *b, const char *s, int quote)
{
	const char *p = s;
	while (*p && is_atext((unsigned char)*p))
		p++;
	if (*p == '\0' || (quote && strstr(s, "=?") != NULL)) {
		buf_addstr(b, s);
		return;
	}
	if (quote)
		buf_addc(b, '"');
	for (p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_addc(b, '\\');
		buf_addc(b, *p);
	}
	if (quote)
		buf_addc(b, '"');
}

/* An address list written back as a header value, as Dovecot writes it to
 * search it: "name <mailbox@domain>" (the name quoted where it must be,
 * <mailbox@domain> alone without one), groups as "group: ...;", joined by
 * ", ". Comments (but a comment standing for a name) and folding are gone;
 * a broken address keeps the parser's MISSING_MAILBOX, as in ENVELOPE. */
static void
addresses_write(struct buf *b, const struct mime_address *a)
{
	int first = 1, in_group = 0;
	for (; a != NULL; a = a->next) {
		if (!first)
			buf_addstr(b, ", ");
		first = 0;
		if (a->domain == NULL && !in_group) {
			if (a->mailbox != NULL && *a->mailbox)
				write_maybe_quoted(b, a->mailbox, 1);
			else
				buf_addstr(b, "\"\"");
			buf_addstr(b, ": ");
			first = 1;
			in_group = 1;
			continue;
		}
		if (a->domain == NULL) {
			/* the end of a group: ", " or the space of ": " goes */
			if (b->s != NULL && b->len >= 2 && b->s[b->len - 2] == ',')
				b->len -= 2;
			else if (b->s != NULL && b->len >= 1 && b->s[b->len - 1] == ' ')
				b->len -= 1;
			buf_addc(b, ';');
			in_group = 0;
			continue;
		}
		if (a->name != NULL)
			write_maybe_quoted(b, a->name, 1);
		const char *mbox = a->mailbox ? a->mailbox : "";
		if (a->route == NULL && *mbox == '\0' && *a->domain == '\0')
			continue;
		if (a->name != NULL && *a->name)
			buf_addc(b, ' ');
		buf_addc(b, '<');
		if (a->route != NULL)
			buf_printf(b, "%s:", a->route);
		if (*mbox)
			write_maybe_quoted(b, mbox, 0);
		else
			buf_addstr(b, "\"\"");
		if (*a->domain)
			buf_printf(b, "@%s", a->domain);
		buf_addc(b, '>');
	}
}

/* 1 if the header's addresses, written as above and their RFC 2047
 * words decoded, hold needle (case-insensitive). */
static int
address_header_matches(const struct mime_header *h, const char *needle)
{
	/* the parser wants what the envelope gets: no CR, no NUL */
	char *v = malloc(h->value_len + 1);
	struct mime_pool *pool = mime_pool_new();
	struct mime_address *list = NULL;
	size_t n = 0;
	int r = 0;
	if (v == NULL || pool == NULL)
		goto done;
	for (size_t i = 0; i < h->value_len; i++)
		if (h->value[i] != '\r' && h->value[i] != '\0')
			v[n++] = (char)h->value[i];
	if (mime_address_parse(pool, (const unsigned char *)v, n, &list) != 0)
		goto done;
	struct buf b = BUF_INIT(IMAP_RENDER_MAX);
	addresses_write(&b, list);
	size_t flen, dlen;
	char *flat = buf_finish(&b, &flen);
	char *dec = flat ? mime_decode_header((unsigned char *)flat, flen, &dlen) : NULL;
	if (dec != NULL)
		r = render_search_contains(dec, dlen, needle);
	free(dec);
	free(flat);
done:
	mime_pool_free(&pool);
	free(v);
	return r;
}

int
render_search_address(const struct mime_message *m, const char *field, const char *needle)
{
	return field_matches(m, field, needle, address_header_matches);
}

int
render_search_fields(const unsigned char *hdr, size_t n, const char *field, const char *needle,
    int address)
{
	int (*match)(const struct mime_header *, const char *) =
	    address ? address_header_matches : header_matches;
	size_t flen = strlen(field), pos = 0;
	struct mime_header h;
	while (mime_header_next(hdr, n, &pos, &h) == 1) {
		if (h.name_len != flen || strncasecmp((const char *)h.name, field, flen) != 0)
			continue;
		if (*needle == '\0' || match(&h, needle))
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
