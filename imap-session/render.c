/*
 * render.c — IMAP views of a parsed message: ENVELOPE, BODYSTRUCTURE,
 * BODY[section], BINARY[section], and the SEARCH matchers (see render.h).
 *
 * The ENVELOPE and BODYSTRUCTURE writers follow Dovecot's output rules so
 * that the answers match Dovecot's byte for byte (t/fixtures/mime/):
 *  - nstring: NIL, "quoted" with \" and \\ escapes, or a literal when the
 *    value has CR, LF or 8-bit bytes or more than 4 quoted-specials;
 *  - subjects and display names are cleaned "for humans": line ends
 *    removed, runs of white space and tabs become one space, leading and
 *    trailing white space dropped; anything that had to change goes out as
 *    a literal;
 *  - Content-ID, -Description, -MD5 and -Location lose their line ends.
 * Long strings stay quoted, as Dovecot does (t/fixtures/mime/long-header-
 * lines): IMAP sets no length limit on a quoted string, and sending them
 * as literals would change the answers Dovecot-tuned clients cache.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "buf.h"
#include "render.h"

/* At most 4 quoted-specials in a quoted string, as Dovecot: past that a
 * literal is shorter. */
#define QUOTED_ESCAPES_MAX 4

/* buf_finish(), with the ceiling (E2BIG) reported as ENOMEM, as render.h
 * promises: both mean the answer does not fit in memory we allow. */
static char *
render_finish(struct buf *b, size_t *len_r)
{
	char *s = buf_finish(b, len_r);
	if (s == NULL)
		errno = ENOMEM;
	return s;
}

/* ---- IMAP strings ---- */

static void
imap_literal(struct buf *b, const char *s, size_t n)
{
	buf_printf(b, "{%zu}\r\n", n);
	buf_add(b, s, n);
}

static void
imap_quoted(struct buf *b, const char *s, size_t n)
{
	buf_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_addc(b, '\\');
		buf_addc(b, s[i]);
	}
	buf_addc(b, '"');
}

/* The one IMAP string quoter of imap-session (S39): every quoted string
 * or literal it sends, but message bytes in FETCH, goes through here. */
void
render_string(struct buf *b, const char *s, size_t n)
{
	size_t esc = 0;
	int literal = 0;
	for (size_t i = 0; i < n && !literal; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			if (esc++ >= QUOTED_ESCAPES_MAX)
				literal = 1;
		} else if (c == '\r' || c == '\n' || c >= 0x80) {
			literal = 1;
		}
	}
	if (literal)
		imap_literal(b, s, n);
	else
		imap_quoted(b, s, n);
}

/* NIL, "quoted" or {n} literal. */
static void
imap_nstring(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_addstr(b, "NIL");
	else
		render_string(b, s, strlen(s));
}

/* nstring without line ends: a line end not followed by white space
 * becomes one space. */
static void
imap_nstring_nolf(struct buf *b, const char *s)
{
	if (s == NULL || strpbrk(s, "\r\n") == NULL) {
		imap_nstring(b, s);
		return;
	}
	size_t n = strlen(s);
	char *t = malloc(n + 1);
	if (t == NULL) {
		buf_fail(b, ENOMEM);
		return;
	}
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\r' && s[i] != '\n')
			t[o++] = s[i];
		else if (s[i + 1] != ' ' && s[i + 1] != '\t' && s[i + 1] != '\r' &&
		    s[i + 1] != '\n' && s[i + 1] != '\0')
			t[o++] = ' ';
	}
	t[o] = '\0';
	imap_nstring(b, t);
	free(t);
}

/* Subjects and display names, cleaned for humans as Dovecot does. */
static void
imap_string_for_humans(struct buf *b, const char *s)
{
	size_t n = strlen(s), i, remove = 0;
	int ws_prefix = 1, last_lwsp = 1, modify = 0;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '\t':
			modify = 1;
			/* fall through */
		case ' ':
			if (last_lwsp) {
				modify = 1;
				remove++;
			}
			last_lwsp = 1;
			break;
		case '\r':
		case '\n':
			remove++;
			modify = 1;
			break;
		case '"':
		case '\\':
			modify = 1;
			last_lwsp = 0;
			break;
		default:
			if ((unsigned char)s[i] & 0x80)
				modify = 1;
			last_lwsp = 0;
			break;
		}
		if (!last_lwsp)
			ws_prefix = 0;
	}
	if (last_lwsp && i > 0 && !ws_prefix) {
		modify = 1;
		remove++;
	}
	if (!modify) {
		imap_quoted(b, s, n);
		return;
	}
	if (n == remove) {
		imap_quoted(b, "", 0);
		return;
	}
	char *t = malloc(n + 1);
	if (t == NULL) {
		buf_fail(b, ENOMEM);
		return;
	}
	size_t o = 0;
	last_lwsp = 1;
	ws_prefix = 1;
	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '\t':
		case ' ':
			if (!last_lwsp)
				t[o++] = ' ';
			last_lwsp = 1;
			break;
		case '\r':
		case '\n':
			break;
		default:
			last_lwsp = 0;
			t[o++] = s[i];
			break;
		}
		if (!last_lwsp)
			ws_prefix = 0;
	}
	if (last_lwsp && i > 0 && !ws_prefix && o > 0)
		o--;
	imap_literal(b, t, o);
	free(t);
}

/* ---- header values ---- */

/* Dovecot's "full value": continuation lines keep their LF, CRs before LF
 * are dropped. */
static char *
header_value(const struct mime_header *h)
{
	char *s = malloc(h->value_len * 3 + 1);
	if (s == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < h->value_len; i++) {
		if (h->value[i] == '\r' && i + 1 < h->value_len && h->value[i + 1] == '\n')
			continue;
		if (h->value[i] == '\0') {
			/* a NUL becomes U+FFFD, as Dovecot */
			memcpy(s + o, "\xef\xbf\xbd", 3);
			o += 3;
			continue;
		}
		s[o++] = (char)h->value[i];
	}
	s[o] = '\0';
	return s;
}

/* The envelope takes the last of repeated fields, as Dovecot (each one
 * overwrites the one before). */
static const struct mime_header *
env_header(const struct mime_part *p, const char *name)
{
	return mime_header_last(p, name);
}

static void
env_nstring(struct buf *b, const struct mime_part *p, const char *name, int humans)
{
	const struct mime_header *h = env_header(p, name);
	if (h == NULL) {
		buf_addstr(b, "NIL");
		return;
	}
	char *v = header_value(h);
	if (v == NULL) {
		buf_fail(b, ENOMEM);
		return;
	}
	if (humans)
		imap_string_for_humans(b, v);
	else
		imap_nstring_nolf(b, v);
	free(v);
}

/* An address field of the envelope: the addresses of every header of
 * that name, in order (Dovecot joins repeated To:, Cc: ... headers). */
static int
env_addresses(struct mime_pool *pool, const struct mime_part *p, const char *name,
    struct mime_address **list_r)
{
	struct mime_address *first = NULL, **tail = &first;
	size_t nlen = strlen(name), total = 0;
	*list_r = NULL;
	for (size_t i = 0; i < p->hdr_count; i++) {
		const struct mime_header *h = &p->headers[i];
		if (h->name_len != nlen || strncasecmp((const char *)h->name, name, nlen) != 0)
			continue;
		char *v = header_value(h);
		if (v == NULL)
			return -1;
		struct mime_address *list;
		int rc = mime_address_parse(pool, (const unsigned char *)v, strlen(v), &list);
		free(v);
		if (rc < 0)
			return -1;
		*tail = list;
		/* the joined list is bounded like one header's (S38) */
		while (*tail != NULL && total < MIME_ADDRESSES_MAX) {
			tail = &(*tail)->next;
			total++;
		}
		*tail = NULL;
		if (total >= MIME_ADDRESSES_MAX)
			break;
	}
	*list_r = first;
	return 0;
}

static void
write_addresses(struct buf *b, const struct mime_address *a)
{
	if (a == NULL) {
		buf_addstr(b, "NIL");
		return;
	}
	buf_addc(b, '(');
	for (; a != NULL; a = a->next) {
		buf_addc(b, '(');
		if (a->name == NULL)
			buf_addstr(b, "NIL");
		else
			imap_string_for_humans(b, a->name);
		buf_addc(b, ' ');
		imap_nstring(b, a->route);
		buf_addc(b, ' ');
		imap_nstring(b, a->mailbox);
		buf_addc(b, ' ');
		imap_nstring(b, a->domain);
		buf_addc(b, ')');
	}
	buf_addc(b, ')');
}

/* The ten envelope fields of the message whose header is part p. */
static void
write_envelope(struct buf *b, const struct mime_message *m, const struct mime_part *p)
{
	struct mime_address *from, *sender, *reply_to, *to, *cc, *bcc;
	struct mime_pool *pool = mime_pool_new();
	if (pool == NULL || env_addresses(pool, p, "From", &from) < 0 ||
	    env_addresses(pool, p, "Sender", &sender) < 0 ||
	    env_addresses(pool, p, "Reply-To", &reply_to) < 0 ||
	    env_addresses(pool, p, "To", &to) < 0 || env_addresses(pool, p, "Cc", &cc) < 0 ||
	    env_addresses(pool, p, "Bcc", &bcc) < 0) {
		mime_pool_free(&pool);
		buf_fail(b, ENOMEM);
		return;
	}
	env_nstring(b, p, "Date", 0);
	buf_addc(b, ' ');
	env_nstring(b, p, "Subject", 1);
	buf_addc(b, ' ');
	write_addresses(b, from);
	buf_addc(b, ' ');
	write_addresses(b, sender != NULL ? sender : from);
	buf_addc(b, ' ');
	write_addresses(b, reply_to != NULL ? reply_to : from);
	buf_addc(b, ' ');
	write_addresses(b, to);
	buf_addc(b, ' ');
	write_addresses(b, cc);
	buf_addc(b, ' ');
	write_addresses(b, bcc);
	buf_addc(b, ' ');
	env_nstring(b, p, "In-Reply-To", 0);
	buf_addc(b, ' ');
	env_nstring(b, p, "Message-ID", 0);
	mime_pool_free(&pool);
}

char *
render_envelope(const struct mime_message *m, size_t *len_r)
{
	struct buf b = BUF_INIT(IMAP_RENDER_MAX);
	buf_addc(&b, '(');
	write_envelope(&b, m, m->root);
	buf_addc(&b, ')');
	return render_finish(&b, len_r);
}

/* ---- BODYSTRUCTURE ---- */

static void
write_params(struct buf *b, const struct mime_param *params, size_t n, int default_charset)
{
	if (!default_charset && n == 0) {
		buf_addstr(b, "NIL");
		return;
	}
	int seen_charset = 0;
	buf_addc(b, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(b, ' ');
		if (default_charset && strcasecmp(params[i].name, "charset") == 0)
			seen_charset = 1;
		imap_nstring(b, params[i].name);
		buf_addc(b, ' ');
		imap_nstring(b, params[i].value);
	}
	if (default_charset && !seen_charset) {
		if (n > 0)
			buf_addc(b, ' ');
		buf_addstr(b, "\"charset\" \"us-ascii\"");
	}
	buf_addc(b, ')');
}

static void
write_ext_common(struct buf *b, const struct mime_part *p)
{
	buf_addc(b, ' ');
	if (p->disposition == NULL)
		buf_addstr(b, "NIL");
	else {
		buf_addc(b, '(');
		imap_nstring(b, p->disposition);
		buf_addc(b, ' ');
		write_params(b, p->disp_params, p->disp_param_count, 0);
		buf_addc(b, ')');
	}
	buf_addc(b, ' ');
	if (p->language == NULL)
		buf_addstr(b, "NIL");
	else {
		buf_addc(b, '(');
		for (size_t i = 0; i < p->language_count; i++) {
			if (i > 0)
				buf_addc(b, ' ');
			imap_nstring(b, p->language[i]);
		}
		buf_addc(b, ')');
	}
	buf_addc(b, ' ');
	imap_nstring_nolf(b, p->location);
}

static void write_part(struct buf *b, const struct mime_message *m, const struct mime_part *p,
    int ext);

static void
write_multipart(struct buf *b, const struct mime_message *m, const struct mime_part *p, int ext)
{
	if (p->children != NULL) {
		for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
			buf_addc(b, '(');
			write_part(b, m, c, ext);
			buf_addc(b, ')');
		}
	} else {
		/* A multipart without parts is not allowed: one empty
		 * text/plain part, as Dovecot writes it. */
		buf_addstr(b, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
		buf_addstr(b, ext ? " NIL NIL NIL NIL)" : ")");
	}
	buf_addc(b, ' ');
	imap_nstring(b, p->subtype != NULL ? p->subtype : "x-unknown");
	if (!ext)
		return;
	buf_addc(b, ' ');
	write_params(b, p->params, p->param_count, 0);
	write_ext_common(b, p);
}

static void
write_leaf(struct buf *b, const struct mime_message *m, const struct mime_part *p, int ext)
{
	int text;
	if (p->flags & MIME_PART_RFC822) {
		buf_addstr(b, "\"message\" \"rfc822\"");
		text = 0;
	} else if (p->type == NULL) {
		/* no Content-Type */
		text = 1;
		buf_addstr(b, "\"text\" \"plain\"");
	} else {
		/* a broken Content-Type keeps what could be read, as Dovecot:
		 * "text" alone is ("text" "") */
		text = strcasecmp(p->type, "text") == 0;
		imap_nstring(b, p->type);
		buf_addc(b, ' ');
		imap_nstring(b, p->subtype != NULL ? p->subtype : "");
	}
	buf_addc(b, ' ');
	write_params(b, p->params, p->param_count, text);
	buf_addc(b, ' ');
	imap_nstring_nolf(b, p->id);
	buf_addc(b, ' ');
	imap_nstring_nolf(b, p->description);
	buf_addc(b, ' ');
	if (p->encoding != NULL)
		imap_nstring(b, p->encoding);
	else
		buf_addstr(b, "\"7bit\"");
	char num[48];
	int l = snprintf(num, sizeof(num), " %zu", p->body_vsize);
	buf_add(b, num, (size_t)l);
	if (text) {
		l = snprintf(num, sizeof(num), " %zu", p->body_lines);
		buf_add(b, num, (size_t)l);
	} else if ((p->flags & MIME_PART_RFC822) && p->children != NULL) {
		buf_addstr(b, " (");
		write_envelope(b, m, p->children);
		buf_addstr(b, ") (");
		write_part(b, m, p->children, ext);
		l = snprintf(num, sizeof(num), ") %zu", p->body_lines);
		buf_add(b, num, (size_t)l);
	}
	if (!ext)
		return;
	buf_addc(b, ' ');
	imap_nstring_nolf(b, p->md5);
	write_ext_common(b, p);
}

/* Depth is bounded by the parser (MIME_DEPTH_MAX), so recursion is too. */
static void
write_part(struct buf *b, const struct mime_message *m, const struct mime_part *p, int ext)
{
	if (p->flags & MIME_PART_MULTIPART)
		write_multipart(b, m, p, ext);
	else
		write_leaf(b, m, p, ext);
}

char *
render_bodystructure(const struct mime_message *m, int extended, size_t *len_r)
{
	struct buf b = BUF_INIT(IMAP_RENDER_MAX);
	buf_addc(&b, '(');
	write_part(&b, m, m->root, extended);
	buf_addc(&b, ')');
	return render_finish(&b, len_r);
}

/* ---- BODY[section] ---- */

/* Copies bytes with every bare LF made CRLF (what the sizes count) and NUL
 * made 0x80. */
static int
copy_crlf_nul(const unsigned char *d, size_t from, size_t to, int keep_nul, unsigned char **out,
    size_t *len_r);

static int
copy_crlf(const unsigned char *d, size_t from, size_t to, unsigned char **out, size_t *len_r)
{
	return copy_crlf_nul(d, from, to, 0, out, len_r);
}

/* keep_nul: BINARY sends NULs (literal8). */
static int
copy_crlf_nul(const unsigned char *d, size_t from, size_t to, int keep_nul, unsigned char **out,
    size_t *len_r)
{
	size_t extra = 0;
	for (size_t i = from; i < to; i++)
		if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r'))
			extra++;
	unsigned char *o = malloc(to - from + extra + 1);
	if (o == NULL)
		return -1;
	size_t n = 0;
	for (size_t i = from; i < to; i++) {
		if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r'))
			o[n++] = '\r';
		/* NUL is not allowed in a literal: 0x80, as Dovecot */
		o[n++] = d[i] != '\0' || keep_nul ? d[i] : 0x80;
	}
	o[n] = '\0';
	*out = o;
	*len_r = n;
	return 0;
}

/* Case-insensitive prefix match of a keyword; returns its length or 0. */
static size_t
kw(const char *s, const char *word)
{
	size_t n = strlen(word);
	return strncasecmp(s, word, n) == 0 ? n : 0;
}

#define FIELDS_MAX 256

struct field_list {
	char *names[FIELDS_MAX];
	size_t count;
};

static void
fields_free(struct field_list *f)
{
	for (size_t i = 0; i < f->count; i++)
		free(f->names[i]);
	f->count = 0;
}

/* " (name name ...)" at s: astrings. Returns 0 or -1 (syntax). */
static int
fields_parse(const char *s, struct field_list *f)
{
	f->count = 0;
	if (*s != ' ')
		return -1;
	s++;
	if (*s != '(')
		return -1;
	s++;
	for (;;) {
		if (*s == ')' && f->count > 0)
			break;
		if (f->count > 0) {
			if (*s != ' ')
				return -1;
			s++;
		}
		const char *start;
		size_t n;
		char *name;
		if (*s == '"') {
			s++;
			name = malloc(strlen(s) + 1);
			if (name == NULL)
				return -1;
			n = 0;
			while (*s != '"' && *s != '\0') {
				if (*s == '\\' && s[1] != '\0')
					s++;
				name[n++] = *s++;
			}
			if (*s != '"') {
				free(name);
				return -1;
			}
			s++;
			name[n] = '\0';
		} else {
			start = s;
			while (*s > ' ' && *s < 0x7f && *s != '(' && *s != ')' && *s != '"' &&
			    *s != '{' && *s != '%' && *s != '*' && *s != '\\')
				s++;
			n = s - start;
			if (n == 0)
				return -1;
			name = strndup(start, n);
			if (name == NULL)
				return -1;
		}
		if (f->count >= FIELDS_MAX) {
			free(name);
			return -1;
		}
		f->names[f->count++] = name;
	}
	s++;
	return *s == '\0' ? 0 : -1;
}

static int
field_listed(const struct field_list *f, const unsigned char *name, size_t len)
{
	for (size_t i = 0; i < f->count; i++)
		if (strlen(f->names[i]) == len && strncasecmp(f->names[i], (const char *)name, len) == 0)
			return 1;
	return 0;
}

/* The header lines of part p whose names are (not) in the list, then the
 * empty line. Walks the raw header block, so every field counts, not only
 * the ones the parser indexed. */
static int
header_fields(const struct mime_message *m, const struct mime_part *p,
    const struct field_list *f, int not, unsigned char **out, size_t *len_r)
{
	struct buf b = BUF_INIT(IMAP_RENDER_MAX);
	const unsigned char *d = m->data;
	size_t pos = p->hdr_off, end = p->hdr_off + p->hdr_len;
	int keep = 0, eoh = 0, last_cut = 0, last_kept = 0;
	while (pos < end) {
		const unsigned char *lf = memchr(d + pos, '\n', end - pos);
		size_t e = lf != NULL ? (size_t)(lf - d) + 1 : end;
		size_t content = e;
		if (content > pos && d[content - 1] == '\n')
			content--;
		if (content > pos && d[content - 1] == '\r')
			content--;
		if (content == pos && lf != NULL) {
			eoh = 1; /* the empty line */
			break;
		}
		if (d[pos] != ' ' && d[pos] != '\t') {
			/* a line without a colon is a field named by the whole
			 * line, as Dovecot reads it */
			const unsigned char *colon = memchr(d + pos, ':', content - pos);
			size_t nlen = colon != NULL ? (size_t)(colon - (d + pos)) : content - pos;
			while (nlen > 0 && (d[pos + nlen - 1] == ' ' || d[pos + nlen - 1] == '\t'))
				nlen--;
			keep = field_listed(f, d + pos, nlen) != not;
		}
		if (keep) {
			size_t start = b.len;
			buf_add(&b, d + pos, content - pos);
			for (size_t i = start; b.err == 0 && i < b.len; i++)
				if (b.s[i] == '\0')
					b.s[i] = (char)0x80;
			/* HEADER.FIELDS ends every line it sends */
			if (lf != NULL || !not)
				buf_add(&b, "\r\n", 2);
		}
		last_cut = lf == NULL;
		last_kept = keep;
		pos = e;
	}
	/* The empty line, as Dovecot: always after HEADER.FIELDS.NOT of a
	 * header that had one; after HEADER.FIELDS also when the header had
	 * none, except when its last line, cut off without a line end, was
	 * sent (its CRLF ends the header) or, inside a message/rfc822 part,
	 * was not (t/fixtures/mime: cr-only, rfc822-base64). */
	if (eoh || (!not && (!last_cut || (!last_kept && p->parent == NULL))))
		buf_add(&b, "\r\n", 2);
	char *s = render_finish(&b, len_r);
	if (s == NULL)
		return -1;
	*out = (unsigned char *)s;
	return 0;
}

/* The part a HEADER/TEXT suffix refers to: the message itself, or the
 * message enclosed in a message/rfc822 part; NULL otherwise. */
static const struct mime_part *
message_of(const struct mime_part *p, int top)
{
	if (top)
		return p;
	if ((p->flags & MIME_PART_RFC822) && p->children != NULL)
		return p->children;
	return NULL;
}

int
render_section(const struct mime_message *m, const char *section, unsigned char **out,
    size_t *len_r)
{
	const char *rest;
	const struct mime_part *p;
	int top = !(section[0] >= '0' && section[0] <= '9');

	*out = NULL;
	*len_r = 0;
	errno = EINVAL;
	if (top) {
		p = m->root;
		rest = section;
	} else {
		p = mime_part_find(m, section, &rest);
		if (p == NULL) {
			/* a well-formed number that names no part */
			const char *s = section;
			while ((*s >= '0' && *s <= '9') || *s == '.')
				s++;
			return *s == '\0' || *s == '.' || s[-1] == '.' ? 1 : 1;
		}
		if (*rest == '.' && rest[1] != '\0')
			rest++;
		else if (*rest != '\0')
			return -1;
	}
	size_t n;
	int rc;
	if (*rest == '\0') {
		if (top)
			rc = copy_crlf(m->data, 0, m->len, out, len_r);
		else
			rc = copy_crlf(m->data, p->body_off, p->body_off + p->body_len, out, len_r);
	} else if (!top && strcasecmp(rest, "MIME") == 0) {
		rc = copy_crlf(m->data, p->hdr_off, p->hdr_off + p->hdr_len, out, len_r);
	} else if (strcasecmp(rest, "HEADER") == 0) {
		const struct mime_part *mp = message_of(p, top);
		if (mp == NULL)
			return 1;
		rc = copy_crlf(m->data, mp->hdr_off, mp->hdr_off + mp->hdr_len, out, len_r);
	} else if (strcasecmp(rest, "TEXT") == 0) {
		const struct mime_part *mp = message_of(p, top);
		if (mp == NULL)
			return 1;
		rc = copy_crlf(m->data, mp->body_off, mp->body_off + mp->body_len, out, len_r);
	} else if ((n = kw(rest, "HEADER.FIELDS.NOT")) != 0 || (n = kw(rest, "HEADER.FIELDS")) != 0) {
		int not = n == strlen("HEADER.FIELDS.NOT");
		struct field_list f;
		if (fields_parse(rest + n, &f) < 0) {
			fields_free(&f);
			errno = EINVAL;
			return -1;
		}
		const struct mime_part *mp = message_of(p, top);
		if (mp == NULL) {
			fields_free(&f);
			return 1;
		}
		rc = header_fields(m, mp, &f, not, out, len_r);
		fields_free(&f);
	} else {
		return -1;
	}
	if (rc < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* The first token of the part's Content-Transfer-Encoding header, or NULL. */
static const char *
header_cte(const struct mime_part *p, char *buf, size_t size)
{
	const struct mime_header *h = mime_header_find(p, "Content-Transfer-Encoding");
	if (h == NULL)
		return NULL;
	size_t i = 0, n = 0;
	while (i < h->value_len && (h->value[i] == ' ' || h->value[i] == '\t' ||
	    h->value[i] == '\r' || h->value[i] == '\n'))
		i++;
	while (i < h->value_len && n + 1 < size && h->value[i] > ' ' && h->value[i] < 0x7f &&
	    h->value[i] != ';' && h->value[i] != '(')
		buf[n++] = (char)h->value[i++];
	buf[n] = '\0';
	return n > 0 ? buf : NULL;
}

int
render_binary(const struct mime_message *m, const char *section, unsigned char **out,
    size_t *len_r)
{
	*out = NULL;
	*len_r = 0;
	errno = EINVAL;
	if (*section == '\0') {
		if (copy_crlf(m->data, 0, m->len, out, len_r) < 0) {
			errno = ENOMEM;
			return -1;
		}
		return 0;
	}
	const char *rest;
	for (const char *s = section; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '.'))
			return -1;
	const struct mime_part *p = mime_part_find(m, section, &rest);
	if (p == NULL)
		return 1;
	if (*rest != '\0')
		return -1;
	const unsigned char *body = m->data + p->body_off;
	if (p->flags & (MIME_PART_MULTIPART | MIME_PART_RFC822)) {
		if (copy_crlf(m->data, p->body_off, p->body_off + p->body_len, out, len_r) < 0) {
			errno = ENOMEM;
			return -1;
		}
		return 0;
	}
	/* Dovecot decodes by the Content-Transfer-Encoding header even where
	 * BODYSTRUCTURE ignores it (no MIME-Version nor Content-Type). */
	char encbuf[64];
	const char *enc = p->encoding != NULL ? p->encoding : header_cte(p, encbuf, sizeof(encbuf));
	if (enc == NULL || strcasecmp(enc, "7bit") == 0 || strcasecmp(enc, "8bit") == 0 ||
	    strcasecmp(enc, "binary") == 0) {
		if (copy_crlf_nul(m->data, p->body_off, p->body_off + p->body_len, 1, out, len_r) < 0) {
			errno = ENOMEM;
			return -1;
		}
		return 0;
	}
	int rc = mime_decode_cte(enc, body, p->body_len, 1, out, len_r);
	if (rc < 0) {
		errno = ENOMEM;
		return -1;
	}
	return rc == 1 ? 2 : 0;
}
