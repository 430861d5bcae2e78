/*
 * pop3-parse.h — the POP3 command line parser (RFC 1939 §3, RFC 2449 §4).
 * Pure: no I/O, no state, so the fuzz target and unit tests drive it alone.
 */
#ifndef YUBIN_POP3_PARSE_H
#define YUBIN_POP3_PARSE_H

#include <stddef.h>

#define POP3_KEYWORD_MAX 4   /* RFC 1939 §3: keywords are 3 or 4 characters */
/* RFC 1939 §3 says arguments are up to 40 characters, but a login name is
 * an address (RFC 5321: 256); the line limit bounds everything anyway. */
#define POP3_ARG_MAX 256
#define POP3_ARGS_MAX 2      /* TOP msg n is the most any command takes */

enum pop3_parse_status {
	POP3_PARSE_OK = 0,
	POP3_PARSE_EMPTY,        /* nothing but the line end */
	POP3_PARSE_BAD_BYTE,     /* NUL, bare CR or another control byte */
	POP3_PARSE_BAD_KEYWORD,  /* not 3-4 letters */
	POP3_PARSE_BAD_ARGS,     /* empty argument (two spaces), too many, too long */
};

/* One parsed line. keyword is upper-cased; args and rest point into the
 * caller's line buffer (which the parser modifies). rest is everything after
 * the keyword and its space, taken whole: PASS allows spaces in a password
 * (RFC 1939 §7) and AUTH carries a long initial response (RFC 5034). */
struct pop3_command {
	char keyword[POP3_KEYWORD_MAX + 1];
	size_t argc;
	const char *argv[POP3_ARGS_MAX];
	const char *rest;        /* "" when there is no argument */
};

/* Parses line (len bytes, the line end included or not) in place.
 * Splits at most POP3_ARGS_MAX arguments; a line with more, or with an empty
 * or over-long argument, is POP3_PARSE_BAD_ARGS — unless the command takes
 * its rest whole (see pop3_parse_rest_only), for which argc stays 0 and only
 * rest is set. Returns a pop3_parse_status. */
int pop3_parse_line(char *line, size_t len, struct pop3_command *cmd);

/* 1 for keywords whose argument is taken as one opaque rest (PASS, AUTH). */
int pop3_parse_rest_only(const char *keyword);

/* A message number or line count: decimal digits only (no sign, no space,
 * no leading "+"), at most max. Returns 0 and sets *r, or -1. */
int pop3_parse_number(const char *s, unsigned long max, unsigned long *r);
/* The same for a count where any larger value means "all" (TOP's line
 * count, S42): digits only, saturating at ULONG_MAX. 0 or -1. */
int pop3_parse_count(const char *s, unsigned long *r);

#endif
