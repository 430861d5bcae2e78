/*
 * addr.h — RFC 5321 paths as they arrive in MAIL FROM and RCPT TO.
 *
 * The parser is strict where relay tricks live (S19–S25): a local part with
 * '@', '%' or '!', source routes, address literals and quoted local parts
 * that hide a domain are reported as such, so the caller can refuse them.
 */
#ifndef YUBIN_ADDR_H
#define YUBIN_ADDR_H

#include <stddef.h>

#include "bounds.h"

enum addr_error {
	ADDR_OK = 0,
	ADDR_SYNTAX,      /* not a <path> */
	ADDR_TOO_LONG,    /* local part > 64, domain > 255, path > 256 */
	ADDR_ROUTING,     /* '%', '!', '@' in the local part, or a source route */
	ADDR_LITERAL,     /* domain is an address literal [..] */
	ADDR_UTF8,        /* 8-bit bytes without SMTPUTF8 */
	ADDR_NO_DOMAIN,   /* "postmaster" alone, or no '@' */
};

struct addr {
	char local[ADDR_LOCAL_MAX + 1];  /* unquoted form */
	char domain[ADDR_DOMAIN_MAX + 1]; /* lower-cased */
	int null;                         /* the null path <> */
};

/* Parses a path starting at s ('<' expected, a space before it tolerated).
 * On success *end_r points after '>'. utf8 allows 8-bit (SMTPUTF8).
 * Returns ADDR_OK or an error. */
enum addr_error addr_parse_path(const char *s, int utf8, struct addr *a, const char **end_r);

/* Writes local@domain (empty for the null path) into out. */
void addr_format(const struct addr *a, char *out, size_t size);

/* Validates a bare domain or address literal as given in EHLO (S29). */
int addr_valid_helo(const char *s);

/* 1 if an address taken from a spool file can go into MAIL FROM, RCPT TO
 * or a report as is: at most ADDR_PATH_MAX bytes, no controls, spaces,
 * '<' or '>' (a forged spool file cannot inject commands or fields). */
int addr_smtp_safe(const char *addr);

#endif
