/*
 * mcache-keys.h — the sort and thread keys of a message (RFC 5256, RFC
 * 5957), worked out once from its header and kept as one item of its
 * message cache record (mcache.h), so that SORT and THREAD of a later
 * session compare them without parsing a header field again.
 *
 * Keys, in the form compared:
 *   date     the Date: field as time_t; absent when it is missing or
 *            does not parse (the caller puts INTERNALDATE in its place)
 *   subject  base subject (basesubj.h), i;unicode-casemap folded
 *            (casemap.h); reply: "Re:"/"Fwd:" and the like were taken off
 *   from, to, cc        the first address's mailbox, folded
 *   dfrom, dto          its display name (RFC 2047 decoded), else
 *                       mailbox@domain, folded
 *   msgid    the first <id> of Message-ID: (without the brackets)
 *   refs     the thread chain: the last IMAP_THREAD_REFS_MAX ids of
 *            References:, or without one the first id of In-Reply-To:
 * Strings are "" when the field is missing; ids are the bytes between "<"
 * and ">" holding an "@" and no white space, NUL or "<".
 *
 * Item bytes (built by mkeys_render, checked by mkeys_parse):
 *   0  i64 date (little-endian), 0 when absent
 *   8  u8  flags: 1 date present, 2 reply
 *   9  subject, from, to, cc, dfrom, dto, msgid: each NUL-terminated
 *      then each reference id NUL-terminated, to the item's end
 * The record's checksum covers the item; a layout that does not parse is
 * a miss, never a key.
 */
#ifndef YUBIN_MCACHE_KEYS_H
#define YUBIN_MCACHE_KEYS_H

#include <stddef.h>
#include <stdint.h>

struct mime_message;

struct mkeys {
	int has_date, reply;
	int64_t date;
	const char *subject, *from, *to, *cc, *dfrom, *dto, *msgid;
	const char *refs;     /* nrefs NUL-terminated ids, one after another */
	size_t nrefs;
};

/* The keys of the parse mm (NULL: a message without a header, all keys
 * empty) as item bytes: malloc'd, *len_r bytes; NULL on ENOMEM. */
char *mkeys_render(const struct mime_message *mm, size_t *len_r);
/* The keys in item bytes p[0..n) into *k, its strings pointing into p:
 * 0, or -1 if p is not laid out as above. */
int mkeys_parse(const char *p, size_t n, struct mkeys *k);
/* The next id of a header value from *pos (comments and quoted strings
 * skipped): its bytes in *id_r and its length, *pos moved past it; 0 when
 * there is none. */
size_t mkeys_next_id(const unsigned char *s, size_t n, size_t *pos, const char **id_r);

#endif
