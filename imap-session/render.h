/*
 * render.h — IMAP views of a parsed message (lib/mime.h): ENVELOPE,
 * BODYSTRUCTURE/BODY, BODY[section], BINARY[section] and the SEARCH text
 * matchers. Output strings follow IMAP quoting rules (S39): NIL where
 * absent, quoted with \" and \\ escapes when safe, a literal {n}\r\n... for
 * anything with CR, LF or 8-bit bytes (a NUL never goes out: U+FFFD in
 * header values, 0x80 in message bytes), as Dovecot does.
 * ENVELOPE and BODYSTRUCTURE match what Dovecot returns for the same
 * message (t/fixtures/mime/).
 */
#ifndef YUBIN_RENDER_H
#define YUBIN_RENDER_H

#include <stddef.h>
#include <time.h>

#include "folder.h"
#include "mime.h"

struct buf;
/* Appends s (n bytes) to b as an IMAP string: "quoted" with \" and \\
 * escaped, or a {n} literal when s has CR, LF or 8-bit bytes or more than
 * 4 quoted-specials (a literal is shorter then), as Dovecot. Failures are
 * left in b (buf.h). */
void render_string(struct buf *b, const char *s, size_t n);

/* Each returns a malloc'd IMAP-syntax string of *len_r bytes (no trailing
 * NUL counted, but one is present), or NULL on ENOMEM. */
/* "(date subject from sender reply-to to cc bcc in-reply-to message-id)". */
char *render_envelope(const struct mime_message *m, size_t *len_r);
/* extended=1: BODYSTRUCTURE (with extension data); 0: BODY. */
char *render_bodystructure(const struct mime_message *m, int extended, size_t *len_r);

/* section: the text between [ and ] as the client sent it (case-insensitive):
 * "", "HEADER", "TEXT", "1.2", "1.MIME", "2.HEADER.FIELDS (FROM TO)",
 * "HEADER.FIELDS.NOT (X)". Returns 0 with a malloc'd copy in *out (CRLF
 * bytes) and *len_r; 1 if the section does not exist (caller sends NIL or
 * an empty string); -1 on a syntax error. ENOMEM also gives -1 with errno
 * set to ENOMEM (errno is EINVAL for syntax). */
int render_section(const struct mime_message *m, const char *section, unsigned char **out,
    size_t *len_r);
/* BINARY[section] (RFC 3516): decoded content. Returns 0, 1 (no such part),
 * 2 (unknown or broken Content-Transfer-Encoding: NO [UNKNOWN-CTE]) or -1
 * (syntax, or ENOMEM with errno ENOMEM). */
int render_binary(const struct mime_message *m, const char *section, unsigned char **out,
    size_t *len_r);

/* SEARCH: case-insensitive substring match on decoded text (RFC 2047 words
 * in headers; quoted-printable and base64 bodies; charsets utf-8, us-ascii,
 * iso-8859-1 and more). needle is UTF-8. Return 1 on a match, 0 if not. */
/* field: a header name; needle "" matches when the header exists. */
int render_search_header(const struct mime_message *m, const char *field, const char *needle);
/* FROM, TO, CC, BCC: field's addresses as the envelope has them, written
 * back as Dovecot does to search them ("name" <mailbox@domain>, group:
 * ...;), comments and white space gone; needle "" matches when the field
 * exists. */
int render_search_address(const struct mime_message *m, const char *field,
    const char *needle);
/* render_search_header (address 0) or render_search_address (1) on the
 * header text hdr[0..n) (fields, then the empty line) itself: for one
 * look at cached fields without a parse of them all. */
int render_search_fields(const unsigned char *hdr, size_t n, const char *field, const char *needle,
    int address);
/* Body of the message: every text part, decoded. */
int render_search_body(const struct mime_message *m, const char *needle);
/* Headers and body. */
int render_search_text(const struct mime_message *m, const char *needle);
/* Whether needle occurs in hay[0..hn), folded as SEARCH folds (1 or 0). */
int render_search_contains(const char *hay, size_t hn, const char *needle);
/* The Date: header parsed (RFC 5322 with obsolete forms and zones), or -1. */
time_t render_date(const struct mime_message *m);

/* View v of the parse mm as the store's message cache keeps it
 * (views.c; lib/folder.h folder_render_fn): malloc'd, or NULL. */
char *imap_view_render(const struct mime_message *mm, enum folder_view v, size_t *len_r);

#endif
