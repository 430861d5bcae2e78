/*
 * basesubj.h — the base subject of RFC 5256 §2.1, which SORT SUBJECT and
 * both THREAD algorithms compare: a Subject: value without its "Re:",
 * "Fwd:", "[list]" leaders, "(fwd)" trailers and "[fwd: ...]" wrapping.
 */
#ifndef YUBIN_BASESUBJ_H
#define YUBIN_BASESUBJ_H

#include <stddef.h>

/* Bytes of a Subject: value looked at; a longer one is cut there (the
 * base subject of a megabyte subject is no use to anyone, S38). */
#define BASESUBJ_INPUT_MAX 4096

/* The base subject of the header value raw (len bytes, RFC 2047 words
 * decoded to UTF-8 here): malloc'd, NUL-terminated, *len_r bytes, never
 * longer than the decoded value. *reply_r (if not NULL) is 1 when a
 * "Re:"/"Fwd:" leader, "(fwd)" trailer or "[fwd: ]" wrapping was taken
 * off (RFC 5256 §2.1's reply or forward). NULL only on ENOMEM. */
char *base_subject(const unsigned char *raw, size_t len, size_t *len_r, int *reply_r);
/* The same on text already decoded (UTF-8, len bytes). */
char *base_subject_text(const char *text, size_t len, size_t *len_r, int *reply_r);

#endif
