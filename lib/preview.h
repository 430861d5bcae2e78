/*
 * preview.h — the text preview of a message (RFC 8970 PREVIEW): up to
 * PREVIEW_CHARS characters of its first text part (text/plain preferred,
 * else text/html without its tags), decoded from the transfer encoding
 * and the charset to UTF-8, white space collapsed to single spaces, never
 * cut inside a UTF-8 sequence.
 *
 * Bounded: at most PREVIEW_INPUT_MAX encoded bytes of the part are read,
 * far more than 256 characters need in any encoding (an HTML part whose
 * first PREVIEW_INPUT_MAX bytes are all markup gives what they hold).
 * Nothing here knows IMAP.
 */
#ifndef YUBIN_PREVIEW_H
#define YUBIN_PREVIEW_H

#include <stddef.h>

#include "mime.h"

#define PREVIEW_CHARS 256
#define PREVIEW_INPUT_MAX (64u * 1024)

/* The preview of mm: 1 with a malloc'd, NUL-terminated UTF-8 string in
 * *out (*len_r bytes, possibly 0: a text part with only white space), 0
 * when the message has no text part (*out NULL), -1 on ENOMEM. */
int message_preview(const struct mime_message *mm, char **out, size_t *len_r);

/* The text steps on bytes already decoded to UTF-8: tags stripped (html
 * set), invalid UTF-8 dropped, white space collapsed, cut at PREVIEW_CHARS
 * characters. Writes at most len bytes to out; returns their count. */
size_t preview_text(const unsigned char *in, size_t len, int html, char *out);

#endif
