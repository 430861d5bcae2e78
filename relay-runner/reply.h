/*
 * reply.h — a bounded SMTP reply parser (RFC 5321 §4.2) for the client side.
 * It never reads: feed it bytes, it says need-more, done or bad, and how
 * many bytes it used, so bytes after a reply stay with the caller (S56).
 */
#ifndef RELAY_REPLY_H
#define RELAY_REPLY_H

#include <stddef.h>

#include "bounds.h"

enum reply_status { REPLY_MORE = 0, REPLY_DONE = 1, REPLY_BAD = -1 };

struct reply {
	int code;            /* 3-digit code, valid once REPLY_DONE */
	size_t n_lines;
	size_t total;        /* bytes of this reply consumed so far */
	size_t text_len;
	/* Text after "NNN-"/"NNN " of every line, lines joined by '\n'; raw
	 * remote bytes (may contain NUL): sanitise before logging (S59). */
	char text[SMTP_REPLY_TOTAL_MAX + 1];
	const char *error;   /* why REPLY_BAD */
	size_t line_len;
	char line[SMTP_REPLY_LINE_MAX];
};

void reply_init(struct reply *r);

/* Feeds len bytes. Stops right after the last line of the reply: *used_r
 * tells how many bytes were consumed. Returns REPLY_MORE (all used, reply
 * incomplete), REPLY_DONE, or REPLY_BAD (malformed, code mismatch between
 * lines, line or total too long; see r->error). A line ends at LF; a CR
 * before it is dropped. */
enum reply_status reply_feed(struct reply *r, const void *data, size_t len, size_t *used_r);

/* Copies the reply ("NNN text", lines joined by a space) into out as
 * printable ASCII, other bytes as \xHH, cut to fit (S59). Returns out. */
char *reply_sanitize(const struct reply *r, char *out, size_t size);

/* The enhanced status code (RFC 3463) at the start of the reply text, e.g.
 * "5.1.1", copied into out (size >= 12); else "" . Only when its class
 * matches the reply code's first digit. */
void reply_enhanced(const struct reply *r, char *out, size_t size);

#endif
