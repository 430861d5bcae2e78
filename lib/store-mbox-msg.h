/*
 * store-mbox-msg.h — one message of an mbox folder as store-mbox.c sees
 * it: the headers yubin keeps in the file (X-UID, X-IMAPbase, Status,
 * X-Status, X-Keywords), read and written, and the message as a client
 * sees it, with those headers hidden.
 */
#ifndef IMAP_MBOXMSG_H
#define IMAP_MBOXMSG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "folder.h"

/* A rewrite goes out in pieces of about this size. */
#define REWRITE_CHUNK (1024 * 1024)
/* Largest mbox served: the file is mapped whole on each change. */
#define MBOXF_FILE_MAX (1024ULL * 1024 * 1024)
/* Ceiling of a buffer holding a message or a rewrite's piece of the file:
 * the file's ceiling, a chunk, and the headers we add. */
#define MBOXF_BUF_MAX (MBOXF_FILE_MAX + REWRITE_CHUNK + 65536)

/* Our headers of one message, as parsed. */
struct meta {
	int has_uid, has_base;
	uint32_t uid, validity, next;
	unsigned flags;
	int old;
	/* the X-Keywords value, in the header it was parsed from (valid as
	 * long as that is: a scan holds it per message, not a copy) */
	const char *keywords;
	size_t keywords_len;
};

/* Splits message bytes m[0..len) at its empty line: *hdr_len bytes of
 * header lines, the body after the empty line from *body_off (len if
 * none). */
void mboxmsg_split(const char *m, size_t len, size_t *hdr_len, size_t *body_off);
/* A decimal number after blanks; *end (if end) past it, or NULL when
 * there is none or it does not fit 32 bits (then 0). */
uint32_t mboxmsg_parse_u32(const char *s, size_t len, const char **end);
/* Reads our headers from the header lines h[0..len); the first
 * occurrence of each counts. */
void mboxmsg_meta_parse(const char *h, size_t len, struct meta *mt);
/* X-Keywords names s[0..len) → keyword bits (new names join f's table). */
uint32_t mboxmsg_keywords(struct folder *f, const char *s, size_t len);
/* Our headers for a message (X-IMAPbase too if first), appended to b.
 * 0 or -1. */
int mboxmsg_meta_write(struct folder *f, struct buf *b, int first, uint32_t uid,
    unsigned flags, uint32_t keywords, int old);
/* Appends the header lines of h[0..len) without ours to b. 0 or -1. */
int mboxmsg_headers_copy(struct buf *b, const char *h, size_t len);
/* The message view of raw bytes: our headers out, mboxrd quoting undone,
 * CRLF line ends. *out malloc'd. 0 or -1. */
int mboxmsg_view(const char *raw, size_t len, unsigned char **out, size_t *out_len);

/* The content check of a message whose UID the index keeps (store-mbox-uid.c):
 * its From_ line from[0..from_len), its header lines other than ours,
 * the length of its body and the MBOXMSG_KEY_EDGE bytes at each end of
 * it. Our headers (Status, X-UID) are left out, so a mail reader marking
 * it read in place or a rewrite adding them keeps the check; a message
 * edited elsewhere fails it; the From_ line (sender, delivery time) tells
 * a copy delivered again from the first. Never 0. The high 32 bits are
 * mboxmsg_key_head() of its header lines: what a read of the message
 * alone checks, with its length. */
#define MBOXMSG_KEY_EDGE 256
uint64_t mboxmsg_key(const char *from, size_t from_len, const char *m, size_t len);
uint32_t mboxmsg_key_head(const char *h, size_t len);

#endif
