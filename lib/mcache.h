/*
 * mcache.h — a folder's message cache: what a reader learnt from parsing
 * a message (its size, arrival date and views of it such as ENVELOPE,
 * BODYSTRUCTURE and chosen header fields), kept in one file per folder so
 * that later sessions answer from it without opening the message.
 *
 * The cache is never the truth. Each record names the message it was made
 * from: UIDVALIDITY, UID and an id the folder's backend chooses to change
 * whenever the message's bytes may have (a Maildir unique name and size,
 * an mbox offset and length). A lookup with any of them different misses.
 * Every record carries a checksum, checked when the file is scanned and
 * again when the record is read: a torn or corrupt record is a miss, never
 * an answer, and the next writer cuts the file back to its last good
 * record. Writing never needs to succeed: a failed write loses only cache.
 *
 * File format (integers little-endian):
 *   header  8 bytes  "YBCACHE2" (the digit is the version: a file of
 *                    another is not read, and the next writer starts it
 *                    again; 2 added the sort keys item, mcache-keys.h)
 *   records, each:
 *     0  u32 magic   0x31524359 ("YCR1")
 *     4  u32 len     bytes of the whole record, MCACHE_RECORD_MIN..MAX
 *     8  u64 check   mcache_check() of bytes [16, len) seeded with len
 *    16  u32 uidvalidity
 *    20  u32 uid
 *    24  u64 size    UINT64_MAX: unknown
 *    32  i64 date    seconds since the epoch; INT64_MIN: unknown
 *    40  u16 id_len  at most MCACHE_ID_MAX
 *    42  u16 items   bit i set: item i follows
 *    44  id bytes, then per item present, in bit order: u32 n, n bytes
 *   The sum must come to len exactly. A later record for the same UID
 *   replaces an earlier one (readers merge what they add).
 *
 * Concurrency: records are appended under flock() on the file, after the
 * writer has read what others appended since it last looked and cut off a
 * torn tail. When the file outgrows MCACHE_FILE_MAX it is replaced
 * (temporary file, rename) by one holding only the records being written;
 * mcache_compact() replaces it the same way by one without replaced
 * records and those of expunged messages. A writer that finds its open
 * file replaced opens the new one. Readers
 * read with pread into a window, never mmap, so a file cut by another
 * session gives a miss, not a fault. Memory: an index of 8 bytes per
 * record (at most twice that allocated), a read window and the records
 * not yet written (at most MCACHE_PENDING_MAX bytes).
 *
 * Items are opaque byte strings numbered 0..MCACHE_ITEMS-1; the caller
 * decides what each holds. Nothing here knows IMAP.
 */
#ifndef YUBIN_MCACHE_H
#define YUBIN_MCACHE_H

#include <stddef.h>
#include <stdint.h>

#define MCACHE_ITEMS 8
#define MCACHE_ID_MAX 1024
#define MCACHE_HEAD_LEN 44
#define MCACHE_RECORD_MIN MCACHE_HEAD_LEN
/* One record: an ENVELOPE and a BODYSTRUCTURE of a message that is near
 * the MIME parser's bounds stay far below it; a bigger one is not cached. */
#define MCACHE_RECORD_MAX (4u * 1024 * 1024)
/* The file: 100,000 messages take around 100 MB; past this it is
 * started again rather than grown (offsets stay within 32 bits). */
#define MCACHE_FILE_MAX (1024u * 1024 * 1024)
/* Records kept in memory before they are written. */
#define MCACHE_PENDING_MAX (256u * 1024)

#define MCACHE_SIZE_UNKNOWN UINT64_MAX
#define MCACHE_DATE_UNKNOWN INT64_MIN

struct mcache_item {
	const unsigned char *p;
	uint32_t len;
};

/* A record. From mcache_get() and mcache_record_parse() its pointers
 * point into the cache's read window or the parsed bytes. */
struct mcache_rec {
	uint32_t validity, uid;
	uint64_t size;
	int64_t date;
	const unsigned char *id;
	size_t id_len;
	unsigned items;                       /* bit i: item[i] is set */
	struct mcache_item item[MCACHE_ITEMS];
};

struct mcache;

/* Opens (creating, mode 0600) the cache file at path and reads its index.
 * A missing, foreign or corrupt file is not an error: the cache starts
 * empty (a file that cannot be opened leaves it empty for good; one that
 * can only be read is read, and writes to it fail). NULL only on ENOMEM. */
struct mcache *mcache_open(const char *path);
/* Writes what is pending (best effort) and frees c; sets *c to NULL. */
void mcache_close(struct mcache **c);
/* The record for uid, if its validity and id match and it reads back
 * intact: 1 with *r filled (pointers valid until the next call on c), or
 * 0. A record found bad is forgotten. */
int mcache_get(struct mcache *c, uint32_t validity, uint32_t uid, const void *id, size_t id_len,
    struct mcache_rec *r);
/* Queues r to be written (its bytes are copied); writes when the queue is
 * full. 0, or -1 (errno: E2BIG for a record past MCACHE_RECORD_MAX or an
 * id past MCACHE_ID_MAX, ENOMEM): then nothing is queued. */
int mcache_put(struct mcache *c, const struct mcache_rec *r);
/* Appends the queued records to the file under its lock. 0, or -1
 * (errno); the queue is emptied either way. */
int mcache_flush(struct mcache *c);

/* Rewrites the file (temporary file, rename) with only the latest record
 * of each UID keep() accepts (the messages still in the folder), in UID
 * order, when replaced or refused records outnumber the kept ones (plus
 * a slack of 1024). 0 (done or not needed) or -1 (errno); the file is
 * intact either way. */
int mcache_compact(struct mcache *c, int (*keep)(void *ctx, uint32_t uid), void *ctx);

/* The checksum of the format above. */
uint64_t mcache_check(const void *p, size_t n, uint64_t seed);
/* Parses one record at the start of p[0..n): 1 with *r and *len_r set,
 * 0 if p holds only the start of a well-formed record (read more: *len_r
 * is how many bytes it needs in all, 0 if unknown yet), -1 if it is not
 * a record (bad magic, length, check or layout). */
int mcache_record_parse(const unsigned char *p, size_t n, struct mcache_rec *r, size_t *len_r);
/* The bytes of record r: a malloc'd string of *len_r bytes, or NULL
 * (errno E2BIG or ENOMEM). */
unsigned char *mcache_record_build(const struct mcache_rec *r, size_t *len_r);

#endif
