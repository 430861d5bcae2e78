/*
 * append8.c — a message APPENDed in a literal8 (RFC 3516 §4.4) made
 * storable byte for byte. Maildir and mbox keep lines as LF and give them
 * back as CRLF, so a part in Content-Transfer-Encoding binary (bare LFs
 * and CRs, NULs) would not come back as sent. Each such part is stored
 * base64-encoded instead, its Content-Transfer-Encoding field saying so:
 * BINARY[part] and BINARY.SIZE[part] decode it back to the bytes appended
 * (what the RFC asks), and BODY[part] is 7-bit text both stores keep. The
 * other parts and every header stay as they were.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "base64.h"
#include "buf.h"
#include "imap.h"
#include "mime.h"

#define CTE_FIELD "Content-Transfer-Encoding"
#define B64_LINE 57 /* input bytes per 76-character base64 line (RFC 2045 §6.8) */

struct enc {
	const unsigned char *d;
	size_t len;
	size_t pos;     /* input copied to out so far */
	struct buf out;
};

static void
copy_to(struct enc *e, size_t to)
{
	buf_add(&e->out, e->d + e->pos, to - e->pos);
	e->pos = to;
}

/* Its Content-Transfer-Encoding field(s) rewritten to base64. The part's
 * encoding came from one of its indexed fields, so there is one. */
static void
rewrite_fields(struct enc *e, const struct mime_part *p)
{
	for (size_t i = 0; i < p->hdr_count; i++) {
		const struct mime_header *h = &p->headers[i];
		if (h->name_len != strlen(CTE_FIELD) ||
		    strncasecmp((const char *)h->name, CTE_FIELD, h->name_len) != 0)
			continue;
		copy_to(e, (size_t)(h->value - e->d));
		buf_addstr(&e->out, "base64");
		e->pos = (size_t)(h->value - e->d) + h->value_len;
	}
}

static void
encode_body(struct enc *e, const struct mime_part *p)
{
	char line[B64_LINE / 3 * 4 + 1];
	copy_to(e, p->body_off);
	for (size_t o = 0; o < p->body_len; o += B64_LINE) {
		size_t n = p->body_len - o < B64_LINE ? p->body_len - o : B64_LINE;
		if (o > 0)
			buf_addstr(&e->out, "\r\n");
		base64_encode(e->d + p->body_off + o, n, line, sizeof line);
		buf_addstr(&e->out, line);
	}
	/* The line end before a boundary is the boundary's; at the end of the
	 * message the text ends in one. */
	if (p->body_off + p->body_len == e->len)
		buf_addstr(&e->out, "\r\n");
	e->pos = p->body_off + p->body_len;
}

/* Parts in message order (the tree is in order). */
static void
walk(struct enc *e, const struct mime_part *p)
{
	if (p->children) {
		for (const struct mime_part *c = p->children; c; c = c->next)
			walk(e, c);
		return;
	}
	if (p->encoding == NULL || strcasecmp(p->encoding, "binary") != 0)
		return;
	rewrite_fields(e, p);
	encode_body(e, p);
}

int
append8_store_form(struct imap_arg *msg)
{
	struct mime_message *m = mime_message_parse((const unsigned char *)msg->str, msg->len);
	if (m == NULL)
		return -1;
	/* A part's body takes at most 4/3 and CRLFs encoded, and every binary
	 * part has a field and a line end at least as long as its growth. */
	struct enc e = { m->data, m->len, 0, BUF_INIT(msg->len * 2 + 80) };
	walk(&e, m->root);
	mime_message_free(&m);
	if (e.pos == 0) {
		buf_free(&e.out);
		return 0;
	}
	copy_to(&e, e.len);
	size_t len;
	char *s = buf_finish(&e.out, &len);
	if (s == NULL)
		return -1;
	free(msg->str);
	msg->str = s;
	msg->len = len;
	return 0;
}
