/*
 * addr.c — RFC 5321 §4.1.2 paths, parsed strictly.
 *
 * Routing syntax is reported rather than interpreted: a local part holding
 * '@', '%' or '!' (bare or quoted), and source routes, come back as
 * ADDR_ROUTING so no later stage can turn an accepted local address into a
 * remote one (S19, S20). Address literals come back as ADDR_LITERAL with the
 * literal in domain, for the caller's policy.
 */
#include "addr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int
is_atext(unsigned char c, int utf8)
{
	if (c >= 0x80)
		return utf8;
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
is_domain_char(unsigned char c, int utf8)
{
	if (c >= 0x80)
		return utf8;
	return isalnum(c) || c == '-' || c == '.';
}

/* Parses the local part at *sp into a->local. */
static enum addr_error
parse_local(const char **sp, int utf8, struct addr *a)
{
	const char *s = *sp;
	size_t n = 0;
	int quoted = *s == '"';
	if (quoted) {
		for (s++; *s != '"'; s++) {
			unsigned char c = (unsigned char)*s;
			if (c == '\\') {
				c = (unsigned char)*++s;
				if (c == '\0')
					return ADDR_SYNTAX;
			}
			if (c == '\0' || c < 0x20 || c == 0x7f)
				return ADDR_SYNTAX;
			if (c >= 0x80 && !utf8)
				return ADDR_UTF8;
			if (n >= ADDR_LOCAL_MAX)
				return ADDR_TOO_LONG;
			a->local[n++] = (char)c;
		}
		s++;
	} else {
		for (; *s && *s != '@' && *s != '>'; s++) {
			unsigned char c = (unsigned char)*s;
			if (c >= 0x80 && !utf8)
				return ADDR_UTF8;
			if (!is_atext(c, utf8) && c != '.')
				return ADDR_SYNTAX;
			if (n >= ADDR_LOCAL_MAX)
				return ADDR_TOO_LONG;
			a->local[n++] = (char)c;
		}
		if (n == 0 || a->local[0] == '.' || a->local[n - 1] == '.' ||
		    memmem(a->local, n, "..", 2))
			return ADDR_SYNTAX;
	}
	a->local[n] = '\0';
	*sp = s;
	if (strpbrk(a->local, "@%!"))
		return ADDR_ROUTING;
	return ADDR_OK;
}

/* RFC 5321 §4.1.2: sub-domain = Let-dig [Ldh-str]: every label 1–63
 * octets, no '-' at either end. */
static int
labels_valid(const char *d)
{
	if (*d == '\0')
		return 0;
	for (;;) {
		size_t len = strcspn(d, ".");
		if (len == 0 || len > 63 || d[0] == '-' || d[len - 1] == '-')
			return 0;
		if (d[len] == '\0')
			return 1;
		d += len + 1;
	}
}

static enum addr_error
parse_domain(const char **sp, int utf8, struct addr *a)
{
	const char *s = *sp;
	size_t n = 0;
	if (*s == '[') {
		for (; *s && *s != ']'; s++) {
			if (n >= ADDR_DOMAIN_MAX - 1)
				return ADDR_TOO_LONG;
			if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || *s == '\\')
				return ADDR_SYNTAX;
			a->domain[n++] = *s;
		}
		if (*s != ']')
			return ADDR_SYNTAX;
		a->domain[n++] = *s++;
		a->domain[n] = '\0';
		*sp = s;
		return ADDR_LITERAL;
	}
	for (; *s && *s != '>'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x80 && !utf8)
			return ADDR_UTF8;
		if (!is_domain_char(c, utf8))
			return ADDR_SYNTAX;
		if (n >= ADDR_DOMAIN_MAX)
			return ADDR_TOO_LONG;
		a->domain[n++] = (char)tolower(c);
	}
	a->domain[n] = '\0';
	if (n > 0 && a->domain[n - 1] == '.')
		a->domain[--n] = '\0';
	if (!labels_valid(a->domain))
		return ADDR_SYNTAX;
	*sp = s;
	return ADDR_OK;
}

enum addr_error
addr_parse_path(const char *s, int utf8, struct addr *a, const char **end_r)
{
	memset(a, 0, sizeof *a);
	if (*s == ' ')
		s++;
	if (*s != '<')
		return ADDR_SYNTAX;
	const char *close = strchr(s, '>');
	/* Cheap early bound before looking inside (S22). A quoted '>' could make
	 * this too strict, never too lax: the full parse below decides. */
	if (close && (size_t)(close - s) - 1 > ADDR_PATH_MAX)
		return ADDR_TOO_LONG;
	s++;
	if (*s == '>') {
		a->null = 1;
		*end_r = s + 1;
		return ADDR_OK;
	}
	if (*s == '@')
		return ADDR_ROUTING;  /* source route <@a,@b:u@d> (S20) */
	enum addr_error e = parse_local(&s, utf8, a);
	if (e != ADDR_OK)
		return e;
	if (*s == '>')
		return ADDR_NO_DOMAIN;
	if (*s != '@')
		return ADDR_SYNTAX;
	s++;
	enum addr_error d = parse_domain(&s, utf8, a);
	if (d != ADDR_OK && d != ADDR_LITERAL)
		return d;
	if (*s != '>')
		return strchr(s, '@') ? ADDR_ROUTING : ADDR_SYNTAX;
	if (strlen(a->local) + 1 + strlen(a->domain) > ADDR_PATH_MAX)
		return ADDR_TOO_LONG;
	*end_r = s + 1;
	return d;
}

static int
local_needs_quotes(const char *local)
{
	size_t n = strlen(local);
	if (n == 0 || local[0] == '.' || local[n - 1] == '.' || strstr(local, ".."))
		return 1;
	for (const char *p = local; *p; p++)
		if (!is_atext((unsigned char)*p, 1) && *p != '.')
			return 1;
	return 0;
}

void
addr_format(const struct addr *a, char *out, size_t size)
{
	if (a->null) {
		snprintf(out, size, "%s", "");
		return;
	}
	if (!local_needs_quotes(a->local)) {
		snprintf(out, size, "%s@%s", a->local, a->domain);
		return;
	}
	size_t o = 0;
	if (size < 4) {
		out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (const char *p = a->local; *p && o + 4 < size; p++) {
		if (*p == '"' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	out[o++] = '"';
	snprintf(out + o, size - o, "@%s", a->domain);
}

int
addr_valid_helo(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > HELO_NAME_MAX)
		return 0;
	if (s[0] == '[')
		return s[n - 1] == ']' && strspn(s + 1, "0123456789abcdefABCDEFIPv6:.") == n - 2;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return 0;
	return 1;
}

int
addr_smtp_safe(const char *addr)
{
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>')
			return 0;
	return strlen(addr) <= ADDR_PATH_MAX;
}
