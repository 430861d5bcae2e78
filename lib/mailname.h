/*
 * mailname.h — the one mapping from IMAP mailbox names to Maildir++ folder
 * directories (S33).
 *
 * Internally names are UTF-8 with '/' as the hierarchy separator. Clients
 * speak modified UTF-7 (RFC 3501 §5.1.3) unless they enabled UTF8=ACCEPT or
 * IMAP4rev2. On disk a folder "a/b" is the directory ".a.b" under the
 * user's Maildir root, its components in modified UTF-7 (ASCII only); INBOX
 * is the root itself ("" here).
 */
#ifndef YUBIN_MAILNAME_H
#define YUBIN_MAILNAME_H

#include <stddef.h>

#define MAILNAME_MAX 512

/* Client text → UTF-8 name. In mUTF-7 mode the input must be printable
 * ASCII and decode canonically (encode(decode(x)) == x); in UTF-8 mode it
 * must be valid UTF-8. INBOX (any case) becomes "INBOX". Returns 0 or -1. */
int mailname_from_client(const char *in, size_t len, int utf8, char *out, size_t size);

/* UTF-8 name → text for the client (mUTF-7 unless utf8). 0 or -1. */
int mailname_to_client(const char *name, int utf8, char *out, size_t size);

/* The folder whose children pop3-session's files in the Maildir root
 * would be (".pop3.*"): names below it are refused. */
#define MAILNAME_POP3_RESERVED "pop3"

/* UTF-8 name → directory name under the Maildir root ("" for INBOX).
 * Refuses empty components, "." and "..", '.' inside a component (the
 * Maildir++ separator), a leading '/' or '~', '\\', '*', '%', control
 * characters, and every name below MAILNAME_POP3_RESERVED. Returns 0 or
 * -1. */
int mailname_to_disk(const char *name, char *out, size_t size);

/* Directory name (".a.b") → UTF-8 name ("a/b"); -1 if it is no folder. */
int mailname_from_disk(const char *dir, char *out, size_t size);

/* Modified UTF-7 helpers. 0 or -1. */
int mutf7_decode(const char *in, size_t len, char *out, size_t size);
int mutf7_encode(const char *utf8, char *out, size_t size);
/* 1 if s (len bytes) is valid UTF-8 without control characters. */
int utf8_valid(const char *s, size_t len);

/* Special-use attribute (RFC 6154) of a top-level name, or NULL. */
const char *mailname_special_use(const char *name);

#endif
