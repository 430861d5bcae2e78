/*
 * sizecache.h — CRLF sizes of Maildir messages whose names carry no W=
 * (mail put there by other programs), kept in <user dir>/.pop3.sizes so
 * that each such message is read once, not at every login.
 *
 * The file holds one "<unique base> <bytes on disk> <CRLF bytes>\n" line per
 * message; an entry counts only while the size on disk still matches. It is
 * only a cache: a missing, unreadable or damaged file is ignored and
 * rebuilt; it is replaced by write-temporary-then-rename, under the POP3
 * session lock. Nothing here talks to the client.
 */
#ifndef YUBIN_SIZECACHE_H
#define YUBIN_SIZECACHE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* The cache file is read whole; past this size it is ignored (and rebuilt
 * from the messages that need it, which is far smaller). */
#define SIZECACHE_FILE_MAX (16u * 1024 * 1024)
/* A unique base longer than this is not cached (it is no Maildir name). */
#define SIZECACHE_BASE_MAX 255

struct sizecache_entry {
	char *base;
	uint64_t size, vsize;
	int used;                /* seen in this scan: kept at save */
};

struct sizecache {
	char path[PATH_MAX];
	struct sizecache_entry *v;
	size_t n, n_sorted, cap;
	int dirty;
};

/* Reads dir/.pop3.sizes if it is there and sane. Returns 0, or -1 when out
 * of memory; the cache is then usable but empty. */
int sizecache_load(struct sizecache *c, const char *dir);
/* 1 and *vsize_r if base (base_len bytes) is cached with this disk size. */
int sizecache_get(struct sizecache *c, const char *base, size_t base_len, uint64_t size,
    uint64_t *vsize_r);
/* Records a size just computed. */
void sizecache_put(struct sizecache *c, const char *base, size_t base_len, uint64_t size,
    uint64_t vsize);
/* Rewrites the file with the entries used since load, if anything changed.
 * Returns 0 or -1 (errno; harmless: the sizes are computed again). */
int sizecache_save(struct sizecache *c);
void sizecache_free(struct sizecache *c);

#endif
