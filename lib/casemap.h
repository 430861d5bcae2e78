/*
 * casemap.h — the i;unicode-casemap collation (RFC 5051) that SORT and
 * THREAD compare strings with (RFC 5256, as Dovecot does): titlecase,
 * then compatibility decomposition, compared as octets. Known for ASCII
 * and U+0080..U+052F (Latin, Greek, Cyrillic); other code points and
 * bytes that are not UTF-8 stay as they are.
 */
#ifndef YUBIN_CASEMAP_H
#define YUBIN_CASEMAP_H

#include <stddef.h>

/* The casemap of s (n bytes): malloc'd, NUL-terminated, *len_r bytes (at
 * most 3n: a 2-byte letter becomes at most 6). NULL on ENOMEM. */
char *casemap_utf8(const char *s, size_t n, size_t *len_r);

#endif
