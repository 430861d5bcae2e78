/*
 * store-mbox-msg.c — one message of an mbox folder: yubin's own headers in it
 * (read, written, hidden from clients) and the message a client sees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "buf.h"
#include "folder.h"
#include "store-mbox.h"
#include "mbox.h"
#include "store-mbox-msg.h"


/* Headers yubin keeps in the mbox and hides from clients. */
static int
is_ours(const char *line, size_t len)
{
	static const char *const names[] = { "X-UID", "X-IMAPbase", "X-IMAP", "Status",
		"X-Status", "X-Keywords", "Content-Length" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i]);
		if (len > n && line[n] == ':' && strncasecmp(line, names[i], n) == 0)
			return 1;
	}
	return 0;
}

/* Splits message bytes m[0..len) at its empty line: *hdr_len bytes of
 * header lines, the body after the empty line from *body_off (len if
 * none). */
void
mboxmsg_split(const char *m, size_t len, size_t *hdr_len, size_t *body_off)
{
	if (len > 0 && m[0] == '\n') {
		*hdr_len = 0;
		*body_off = 1;
		return;
	}
	for (size_t i = 0; i + 1 < len; i++)
		if (m[i] == '\n' && m[i + 1] == '\n') {
			*hdr_len = i + 1;
			*body_off = i + 2;
			return;
		}
	*hdr_len = len;
	*body_off = len;
}

/* End of the header field starting at i (continuation lines included). */
static size_t
field_end(const char *h, size_t len, size_t i)
{
	for (;;) {
		const char *nl = memchr(h + i, '\n', len - i);
		if (nl == NULL)
			return len;
		i = (size_t)(nl - h) + 1;
		if (i >= len || (h[i] != ' ' && h[i] != '\t'))
			return i;
	}
}


uint32_t
mboxmsg_parse_u32(const char *s, size_t len, const char **end)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	size_t start = i;
	while (i < len && s[i] >= '0' && s[i] <= '9' && v <= 0xffffffffULL)
		v = v * 10 + (uint64_t)(s[i++] - '0');
	if (end)
		*end = i > start && v <= 0xffffffffULL ? s + i : NULL;
	return i > start && v <= 0xffffffffULL ? (uint32_t)v : 0;
}

/* Reads our headers; the first occurrence of each counts. */
void
mboxmsg_meta_parse(const char *h, size_t len, struct meta *mt)
{
	int seen_status = 0, seen_xstatus = 0, seen_kw = 0;
	memset(mt, 0, sizeof *mt);
	for (size_t i = 0; i < len;) {
		size_t e = field_end(h, len, i);
		const char *f = h + i, *colon = memchr(f, ':', e - i);
		if (colon != NULL && is_ours(f, e - i)) {
			size_t nlen = (size_t)(colon - f);
			const char *v = colon + 1;
			size_t vlen = (size_t)(h + e - v);
			const char *end;
			if (nlen == 5 && strncasecmp(f, "X-UID", 5) == 0 && !mt->has_uid) {
				mt->uid = mboxmsg_parse_u32(v, vlen, &end);
				mt->has_uid = end != NULL && mt->uid != 0;
			} else if (nlen == 10 && strncasecmp(f, "X-IMAPbase", 10) == 0 && !mt->has_base) {
				mt->validity = mboxmsg_parse_u32(v, vlen, &end);
				if (end != NULL) {
					mt->next = mboxmsg_parse_u32(end, (size_t)(h + e - end), &end);
					mt->has_base = end != NULL && mt->validity != 0 && mt->next != 0;
				}
			} else if (nlen == 6 && strncasecmp(f, "Status", 6) == 0 && !seen_status) {
				seen_status = 1;
				for (size_t k = 0; k < vlen; k++) {
					if (v[k] == 'R')
						mt->flags |= FL_SEEN;
					else if (v[k] == 'O')
						mt->old = 1;
				}
			} else if (nlen == 8 && strncasecmp(f, "X-Status", 8) == 0 && !seen_xstatus) {
				seen_xstatus = 1;
				for (size_t k = 0; k < vlen; k++)
					mt->flags |= v[k] == 'A' ? FL_ANSWERED : v[k] == 'F' ? FL_FLAGGED :
					    v[k] == 'T' ? FL_DRAFT : v[k] == 'D' ? FL_DELETED : 0;
			} else if (nlen == 10 && strncasecmp(f, "X-Keywords", 10) == 0 && !seen_kw) {
				seen_kw = 1;
				mt->keywords = v;
				mt->keywords_len = vlen;
			}
		}
		i = e;
	}
}

/* X-Keywords names → keyword bits (new names join the folder's table). */
static int
is_keyword_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '\0';
}

uint32_t
mboxmsg_keywords(struct folder *f, const char *s, size_t len)
{
	uint32_t bits = 0;
	char word[IMAP_KEYWORD_MAX + 1];
	if (s == NULL)
		return 0;
	const char *end = s + len;
	while (s < end) {
		while (s < end && is_keyword_sep(*s))
			s++;
		size_t n = 0, all = 0;
		while (s < end && !is_keyword_sep(*s)) {
			if (n + 1 < sizeof word)
				word[n++] = *s;
			all++;
			s++;
		}
		word[n] = '\0';
		/* longer than a keyword may be: skipped, never cut to one */
		if (n == 0 || all != n)
			continue;
		int k = mboxf_keyword(f, word, 1);
		if (k >= 0)
			bits |= 1u << k;
	}
	return bits;
}

int
mboxf_keyword(struct folder *f, const char *name, int create)
{
	int free_slot = -1;
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++) {
		if (f->kw[i] && strcasecmp(f->kw[i], name) == 0)
			return i;
		if (!f->kw[i] && free_slot < 0)
			free_slot = i;
	}
	if (!create || free_slot < 0)
		return -1;
	/* kept in each message's X-Keywords: the table is this session's */
	f->kw[free_slot] = strdup(name);
	return f->kw[free_slot] ? free_slot : -1;
}

/* Our headers for a message, written after its other header lines. */
int
mboxmsg_meta_write(struct folder *f, struct buf *b, int first, uint32_t uid, unsigned flags,
    uint32_t keywords, int old)
{
	char line[256];
	if (first) {
		snprintf(line, sizeof line, "X-IMAPbase: %u %u\n", f->uidvalidity, f->uidnext);
		if (buf_addstr(b, line) != 0)
			return -1;
	}
	snprintf(line, sizeof line, "X-UID: %u\nStatus: %s%s\nX-Status: %s%s%s%s\n", uid,
	    flags & FL_SEEN ? "R" : "", old ? "O" : "", flags & FL_ANSWERED ? "A" : "",
	    flags & FL_FLAGGED ? "F" : "", flags & FL_DRAFT ? "T" : "",
	    flags & FL_DELETED ? "D" : "");
	if (buf_addstr(b, line) != 0)
		return -1;
	if (keywords == 0)
		return 0;
	if (buf_addstr(b, "X-Keywords:") != 0)
		return -1;
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		if ((keywords & (1u << i)) && f->kw[i] &&
		    (buf_addstr(b, " ") != 0 || buf_addstr(b, f->kw[i]) != 0))
			return -1;
	return buf_addstr(b, "\n");
}

/* Header lines of h[0..len) without ours. */
int
mboxmsg_headers_copy(struct buf *b, const char *h, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t e = field_end(h, len, i);
		if (!is_ours(h + i, e - i) && (buf_add(b, h + i, e - i) != 0 ||
		    (h[e - 1] != '\n' && buf_add(b, "\n", 1) != 0)))
			return -1; /* a last line without its newline gets one */
		i = e;
	}
	return 0;
}


/* The message view of raw bytes: our headers out, mboxrd quoting undone,
 * CRLF line ends. malloc'd. */
int
mboxmsg_view(const char *raw, size_t len, unsigned char **out, size_t *out_len)
{
	size_t hl, bo;
	mboxmsg_split(raw, len, &hl, &bo);
	struct buf b = BUF_INIT(MBOXF_BUF_MAX);
	/* the empty line only if the message has one: a message that ends
	 * in its header reads back as it came (RFC822.SIZE included) */
	if (mboxmsg_headers_copy(&b, raw, hl) != 0 || (bo > hl && buf_add(&b, "\n", 1) != 0))
		goto fail;
	size_t body_at = b.len;
	if (buf_add(&b, raw + bo, len - bo) != 0)
		goto fail;
	b.len = body_at + mbox_unquote(b.s + body_at, b.len - body_at);
	size_t bare = 0;
	for (size_t i = 0; i < b.len; i++)
		bare += b.s[i] == '\n' && (i == 0 || b.s[i - 1] != '\r');
	unsigned char *o = malloc(b.len + bare + 1);
	if (o == NULL)
		goto fail;
	size_t k = 0;
	for (size_t i = 0; i < b.len; i++) {
		if (b.s[i] == '\n' && (i == 0 || b.s[i - 1] != '\r'))
			o[k++] = '\r';
		o[k++] = (unsigned char)b.s[i];
	}
	o[k] = '\0';
	buf_free(&b);
	*out = o;
	*out_len = k;
	return 0;
fail:
	buf_free(&b);
	return -1;
}

/* ---- the content check of a message numbered in the index ---- */

static uint32_t
fnv32(uint32_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

uint32_t
mboxmsg_key_head(const char *h, size_t len)
{
	uint32_t k = 2166136261u;
	for (size_t i = 0; i < len;) {
		size_t e = field_end(h, len, i);
		if (!is_ours(h + i, e - i))
			k = fnv32(k, h + i, e - i);
		i = e;
	}
	return k;
}

uint64_t
mboxmsg_key(const char *from, size_t from_len, const char *m, size_t len)
{
	size_t hl, bo;
	mboxmsg_split(m, len, &hl, &bo);
	size_t body = len - bo, edge = body < MBOXMSG_KEY_EDGE ? body : MBOXMSG_KEY_EDGE;
	char n[24];
	int nl = snprintf(n, sizeof n, "%zu.", body);
	uint32_t t = fnv32(2166136261u, from, from_len);
	t = fnv32(t, n, (size_t)nl);
	t = fnv32(t, m + bo, edge);
	t = fnv32(t, m + len - edge, edge);
	uint64_t k = (uint64_t)mboxmsg_key_head(m, hl) << 32 | t;
	return k ? k : 1;
}
