/*
 * imapurl.c — the IMAP URL parser (see imapurl.h). It walks the text
 * once, left to right, with a cursor that never passes the end; every
 * decoded part is copied into a fixed field of struct imapurl with its
 * bound checked first.
 *
 * RFC 5092 §11 grammar, the parts used here:
 *   imapurl      = "imap://" iserver ipath-query
 *   iserver      = [iuserinfo "@"] host [":" port]
 *   iuserinfo    = enc-user [iauth] / [enc-user] iauth
 *   imessagepart = imailbox-ref iuid [isection] [ipartial] [iurlauth]
 *   imailbox-ref = enc-mailbox [";UIDVALIDITY=" nz-number]
 *   iuid = "/;UID=" nz-number      isection = "/;SECTION=" enc-section
 *   ipartial = "/;PARTIAL=" number ["." nz-number]
 *   enc-mailbox, enc-section = 1*bchar; bchar = achar / ":" / "@" / "/";
 *   achar = uchar / "&" / "="; uchar = unreserved / pct-encoded /
 *   sub-delims-sh ("!" "$" "'" "(" ")" "*" "+" ",")
 * A ';' is no bchar, so a mailbox or section runs to the next ';'; the
 * '/' before ";UID=", ";SECTION=" or ";PARTIAL=" belongs to that part.
 */
#include "imapurl.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

struct cur {
	const char *p, *e;
};

static int
at_key(const struct cur *c, const char *key)
{
	size_t n = strlen(key);
	return (size_t)(c->e - c->p) >= n && strncasecmp(c->p, key, n) == 0;
}

static int
take_key(struct cur *c, const char *key)
{
	if (!at_key(c, key))
		return 0;
	c->p += strlen(key);
	return 1;
}

/* number: digits, at most 2^32-1; nz: no leading zero, not 0. */
static int
take_number(struct cur *c, int nz, uint32_t *v)
{
	uint64_t n = 0;
	const char *start = c->p;
	while (c->p < c->e && isdigit((unsigned char)*c->p)) {
		n = n * 10 + (uint64_t)(*c->p - '0');
		if (n > UINT32_MAX)
			return -1;
		c->p++;
	}
	if (c->p == start || (nz && (*start == '0')))
		return -1;
	*v = (uint32_t)n;
	return 0;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* bchar, the pct-encoded form apart (RFC 5092 §11). */
static int
bchar(unsigned char ch)
{
	return isalnum(ch) || strchr("-._~!$'()*+,&=:@/", ch) != NULL;
}

/* Percent-decodes [s, e) into out (size bytes with its NUL). allow: the
 * characters taken as they are. 0, or an error status. */
static enum imapurl_status
decode(const char *s, const char *e, int (*allow)(unsigned char), char *out, size_t size)
{
	size_t o = 0;
	while (s < e) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '%') {
			int hi = e - s >= 3 ? hexval(s[1]) : -1, lo = e - s >= 3 ? hexval(s[2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return IMAPURL_SYNTAX;
			ch = (unsigned char)(hi * 16 + lo);
			s += 3;
		} else if (allow(ch)) {
			s++;
		} else {
			return IMAPURL_SYNTAX;
		}
		if (o + 1 >= size)
			return IMAPURL_TOOLONG;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return IMAPURL_OK;
}

/* enc-user and enc-auth-type: achar only. */
static int
achar(unsigned char ch)
{
	return isalnum(ch) || strchr("-._~!$'()*+,&=", ch) != NULL;
}

/* enc-auth-type, or "*" (any mechanism) */
static int
auth_char(unsigned char ch)
{
	return ch == '*' || achar(ch);
}

static int
host_char(unsigned char ch)
{
	return isalnum(ch) || strchr("-._~!$'()*+,=[]:%", ch) != NULL;
}

/* [iuserinfo "@"] host [":" port], up to the '/' that starts the path. */
static enum imapurl_status
parse_server(struct cur *c, struct imapurl *u)
{
	const char *slash = memchr(c->p, '/', (size_t)(c->e - c->p));
	if (slash == NULL)
		return IMAPURL_SYNTAX;
	const char *at = memchr(c->p, '@', (size_t)(slash - c->p));
	if (at) {
		/* enc-user up to ";AUTH=", whose value is checked, not kept */
		const char *semi = memchr(c->p, ';', (size_t)(at - c->p));
		const char *uend = semi ? semi : at;
		char auth[64];
		if (semi && (at - semi < 7 || strncasecmp(semi, ";AUTH=", 6) != 0 ||
		    decode(semi + 6, at, auth_char, auth, sizeof auth) != IMAPURL_OK))
			return IMAPURL_SYNTAX;
		enum imapurl_status st = decode(c->p, uend, achar, u->user, sizeof u->user);
		if (st != IMAPURL_OK)
			return st;
		c->p = at + 1;
	}
	const char *hend = slash;
	if (c->p < slash && *c->p == '[') {
		const char *close = memchr(c->p, ']', (size_t)(slash - c->p));
		if (close == NULL)
			return IMAPURL_SYNTAX;
		hend = close + 1;
	} else {
		const char *colon = memchr(c->p, ':', (size_t)(slash - c->p));
		if (colon)
			hend = colon;
	}
	if (hend == c->p || (size_t)(hend - c->p) >= sizeof u->host)
		return hend == c->p ? IMAPURL_SYNTAX : IMAPURL_TOOLONG;
	for (const char *h = c->p; h < hend; h++)
		if (!host_char((unsigned char)*h))
			return IMAPURL_SYNTAX;
	memcpy(u->host, c->p, (size_t)(hend - c->p));
	u->host[hend - c->p] = '\0';
	c->p = hend;
	if (c->p < slash) {
		struct cur pc = { c->p + 1, slash };
		if (*c->p != ':' || take_number(&pc, 1, &u->port) != 0 || pc.p != slash ||
		    u->port > 65535)
			return IMAPURL_SYNTAX;
	}
	c->p = slash;
	return IMAPURL_OK;
}

/* enc-mailbox [";UIDVALIDITY=" nz-number] "/;UID=" nz-number */
static enum imapurl_status
parse_message(struct cur *c, struct imapurl *u)
{
	const char *semi = memchr(c->p, ';', (size_t)(c->e - c->p));
	if (semi == NULL)
		return IMAPURL_SYNTAX;
	const char *mend = semi;
	struct cur k = { semi, c->e };
	if (take_key(&k, ";UIDVALIDITY=")) {
		if (take_number(&k, 1, &u->uidvalidity) != 0 || !take_key(&k, "/;UID="))
			return IMAPURL_SYNTAX;
	} else if (mend > c->p && mend[-1] == '/' && take_key(&k, ";UID=")) {
		mend--;
	} else {
		return IMAPURL_SYNTAX;
	}
	if (mend == c->p)
		return IMAPURL_SYNTAX;
	enum imapurl_status st = decode(c->p, mend, bchar, u->mailbox, sizeof u->mailbox);
	if (st != IMAPURL_OK)
		return st;
	if (take_number(&k, 1, &u->uid) != 0)
		return IMAPURL_SYNTAX;
	c->p = k.p;
	return IMAPURL_OK;
}

/* ["/;SECTION=" enc-section] */
static enum imapurl_status
parse_section(struct cur *c, struct imapurl *u)
{
	if (!take_key(c, "/;SECTION="))
		return IMAPURL_OK;
	const char *semi = memchr(c->p, ';', (size_t)(c->e - c->p));
	const char *end = semi ? semi : c->e;
	/* the '/' of a following "/;PARTIAL=" is that part's */
	if (semi && end > c->p && end[-1] == '/')
		end--;
	if (end == c->p)
		return IMAPURL_SYNTAX;
	enum imapurl_status st = decode(c->p, end, bchar, u->section, sizeof u->section);
	if (st != IMAPURL_OK)
		return st;
	for (char *s = u->section; *s; s++)
		*s = (char)toupper((unsigned char)*s);
	if (!imapurl_section_valid(u->section))
		return IMAPURL_SYNTAX;
	u->has_section = 1;
	c->p = end;
	return IMAPURL_OK;
}

/* ["/;PARTIAL=" number ["." nz-number]] */
static enum imapurl_status
parse_partial(struct cur *c, struct imapurl *u)
{
	if (!take_key(c, "/;PARTIAL="))
		return IMAPURL_OK;
	if (take_number(c, 0, &u->partial_off) != 0)
		return IMAPURL_SYNTAX;
	if (c->p < c->e && *c->p == '.') {
		c->p++;
		if (take_number(c, 1, &u->partial_len) != 0)
			return IMAPURL_SYNTAX;
	}
	u->has_partial = 1;
	return IMAPURL_OK;
}

enum imapurl_status
imapurl_parse(const char *s, size_t len, struct imapurl *u)
{
	memset(u, 0, sizeof *u);
	if (len > IMAPURL_MAX)
		return IMAPURL_TOOLONG;
	if (memchr(s, '\0', len) != NULL)
		return IMAPURL_SYNTAX;
	struct cur c = { s, s + len };
	enum imapurl_status st = IMAPURL_OK;
	if (take_key(&c, "imap://")) {
		u->absolute = 1;
		st = parse_server(&c, u);
		if (st == IMAPURL_OK && !take_key(&c, "/"))
			st = IMAPURL_SYNTAX;
	} else {
		/* "INBOX/;UID=1", a relative-path reference, resolves against
		 * the server's root as "/INBOX/;UID=1" does (RFC 3986 §5.2),
		 * as Dovecot takes it */
		take_key(&c, "/");
	}
	if (st == IMAPURL_OK)
		st = parse_message(&c, u);
	if (st == IMAPURL_OK)
		st = parse_section(&c, u);
	if (st == IMAPURL_OK)
		st = parse_partial(&c, u);
	/* iurlauth = [";EXPIRE=" date-time] ";URLAUTH=" access ...: flagged */
	if (st == IMAPURL_OK && (at_key(&c, ";EXPIRE=") || at_key(&c, ";URLAUTH=")))
		u->urlauth = 1;
	else if (st == IMAPURL_OK && c.p != c.e)
		st = IMAPURL_SYNTAX;
	if (st != IMAPURL_OK)
		memset(u, 0, sizeof *u);
	return st;
}

/* "(A B C)": field names, one space apart (RFC 9051 header-list). */
static int
header_list_valid(const char *list)
{
	size_t n = strlen(list);
	if (n < 3 || list[0] != '(' || list[n - 1] != ')' || list[1] == ' ' || list[n - 2] == ' ')
		return 0;
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char ch = (unsigned char)list[i];
		if (ch == ' ' && list[i + 1] == ' ')
			return 0;
		if (ch != ' ' && (ch <= 0x20 || ch >= 0x7f || strchr("(){:\"\\", ch)))
			return 0;
	}
	return 1;
}

int
imapurl_section_valid(const char *s)
{
	int parts = 0;
	while (isdigit((unsigned char)*s)) {
		struct cur c = { s, s + strlen(s) };
		uint32_t v;
		if (take_number(&c, 1, &v) != 0 || ++parts > IMAPURL_SECTION_PARTS_MAX)
			return 0;
		s = c.p;
		if (*s == '\0')
			return 1;
		if (*s != '.')
			return 0;
		s++;
	}
	if (strcmp(s, "HEADER") == 0 || strcmp(s, "TEXT") == 0)
		return 1;
	if (strcmp(s, "MIME") == 0)
		return parts > 0;
	if (strncmp(s, "HEADER.FIELDS.NOT ", 18) == 0)
		return header_list_valid(s + 18);
	if (strncmp(s, "HEADER.FIELDS ", 14) == 0)
		return header_list_valid(s + 14);
	return 0;
}
