/*
 * imapurl.h — IMAP URLs (RFC 5092) naming a message or a part of one, as
 * CATENATE (RFC 4469) takes them:
 *
 *   /Drafts;UIDVALIDITY=385759045/;UID=20/;SECTION=1.MIME/;PARTIAL=0.100
 *   imap://user;AUTH=*@host:143/INBOX/;UID=7
 *   INBOX/;UID=7 (relative to the server's root, as /INBOX/;UID=7)
 *
 * A pure parser of bounded input: no I/O, no session, nothing allocated.
 * Keys (";UID=" ...) are matched in any case; the mailbox and the section
 * are percent-decoded. What the URL names is looked up by the caller
 * (catenate.c): this only says what the text means. A search URL ("?"),
 * an empty mailbox and anything after the last recognised part are
 * syntax errors. URLAUTH parts (";EXPIRE=", ";URLAUTH=", RFC 4467) are
 * recognised and flagged, not checked: the caller refuses them.
 */
#ifndef IMAP_IMAPURL_H
#define IMAP_IMAPURL_H

#include <stddef.h>
#include <stdint.h>

/* A URL longer than this is refused: a mailbox name (MAILNAME_MAX bytes
 * of UTF-8, at most 3 bytes of URL each) plus the rest with room. */
#define IMAPURL_MAX 2048
#define IMAPURL_MAILBOX_MAX 512   /* decoded, with its NUL (MAILNAME_MAX) */
#define IMAPURL_SECTION_MAX 512   /* decoded, with its NUL */
#define IMAPURL_HOST_MAX 256
#define IMAPURL_USER_MAX 320
/* Part numbers in a section ("1.2.3" is 3), as FETCH allows. */
#define IMAPURL_SECTION_PARTS_MAX 100

struct imapurl {
	int absolute;                      /* "imap://" form: user and host set */
	char user[IMAPURL_USER_MAX];       /* decoded; "" when none was given */
	char host[IMAPURL_HOST_MAX];       /* as written (a name, or [v6]) */
	uint32_t port;                     /* 0: none given */
	char mailbox[IMAPURL_MAILBOX_MAX]; /* decoded (UTF-8 per RFC 5092) */
	uint32_t uidvalidity;              /* 0: not given */
	uint32_t uid;
	int has_section;
	char section[IMAPURL_SECTION_MAX]; /* decoded and upper-cased */
	int has_partial;
	uint32_t partial_off;
	uint32_t partial_len;              /* 0: to the end */
	int urlauth;                       /* ;EXPIRE= or ;URLAUTH= followed */
};

enum imapurl_status {
	IMAPURL_OK = 0,
	IMAPURL_SYNTAX = -1,   /* not a message URL of RFC 5092's grammar */
	IMAPURL_TOOLONG = -2,  /* the URL, or a part of it once decoded */
};

/* Parses s[0..len) (no NUL needed; a NUL in it is a syntax error) into
 * *u. Returns IMAPURL_OK, or an error with *u cleared. */
enum imapurl_status imapurl_parse(const char *s, size_t len, struct imapurl *u);

/* 1 if section (upper-cased, decoded) is a section-text of RFC 9051
 * ("HEADER", "TEXT", "1.2", "1.MIME", "2.HEADER.FIELDS (A B)",
 * "HEADER.FIELDS.NOT (A)"), else 0. */
int imapurl_section_valid(const char *section);

#endif
