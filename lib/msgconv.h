/*
 * msgconv.h — stored message bytes to their POP3 form (RFC 1939 §3):
 * every line ends in CRLF whatever the storage holds (LF or CRLF), mboxrd
 * ">From " quoting is undone by one level, and on the wire a line starting
 * with '.' gets one more. The same code counts sizes (stuffing off, no
 * sink), so LIST/STAT sizes equal what RETR sends by construction.
 * Pure: bytes in, bytes out through a callback; no I/O of its own.
 */
#ifndef YUBIN_MSGCONV_H
#define YUBIN_MSGCONV_H

#include <stddef.h>
#include <stdint.h>

/* Receives converted bytes; returns 0, or nonzero to stop (passed back). */
typedef int (*msgconv_emit_fn)(void *ctx, const char *p, size_t n);

struct msgconv {
	int mbox;               /* undo one level of >From quoting */
	int stuff;              /* byte-stuff '.' at line starts (wire form) */
	int limit;              /* TOP: stop after body_lines lines of body */
	unsigned long body_lines, body_seen;
	int line_start;         /* next input byte starts a line */
	int out_line_start;     /* last emitted byte was LF (or none yet) */
	int last_cr;            /* last byte of the current line was CR */
	uint64_t line_len;      /* input bytes of the current line so far */
	int in_body;            /* past the empty line after the header */
	int holding;            /* mbox: '>'s held at a line start */
	uint64_t gt;            /* how many */
	size_t from_match;      /* bytes of "From " matched after them */
	int done;               /* TOP limit reached: the rest is ignored */
	uint64_t out_bytes;     /* bytes emitted, stuffing excluded */
	msgconv_emit_fn emit;   /* NULL: count only */
	void *ctx;
};

void msgconv_init(struct msgconv *c, int mbox, int stuff, msgconv_emit_fn emit, void *ctx);
/* TOP: after the header, only this many body lines. */
void msgconv_set_top(struct msgconv *c, unsigned long body_lines);
/* Converts n more stored bytes. Returns 0 or the sink's nonzero result. */
int msgconv_feed(struct msgconv *c, const char *p, size_t n);
/* Ends the message: releases held bytes and ends an unterminated last line
 * with CRLF, so the output always ends at a line start. 0 or sink's result. */
int msgconv_finish(struct msgconv *c);

/* Size of a whole stored message in POP3 form: feed, finish, out_bytes. */

#endif
