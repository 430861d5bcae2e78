/*
 * folder-id.c — the identity of a message in the folder's cache
 * files, the message cache (folder-cache.c) and the SORT keys'
 * (folder-keys.c): what a record is keyed by, and which records a
 * compaction keeps.
 *
 * A record is keyed by UIDVALIDITY, UID and the message's identity in its
 * backend: for Maildir its unique name and its size on disk (a message
 * file never changes, the Maildir rule), for mbox its offset and length
 * in the file. A message read from an mbox file replaced since is not
 * recorded.
 *
 * Both cache files use it and neither calls the other for it.
 */
#include "folder.h"

#include <string.h>

#include "folder-int.h"

size_t
mdf_cache_key(const struct folder *f, size_t idx, char *key, size_t size)
{
	const struct fmsg *m = &f->m[idx];
	/* "<unique name>,S=<size>", without snprintf: every cached answer
	 * of every message makes this key */
	char digits[24];
	size_t d = sizeof digits;
	uint64_t v = m->e.size;
	do {
		digits[--d] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (m->e.base_len + 3 + (sizeof digits - d) >= size)
		return 0;
	memcpy(key, m->e.name, m->e.base_len);
	memcpy(key + m->e.base_len, ",S=", 3);
	memcpy(key + m->e.base_len + 3, digits + d, sizeof digits - d);
	return m->e.base_len + 3 + (sizeof digits - d);
}

size_t
folder_cache_key(struct folder *f, size_t idx, char *key, size_t size)
{
	return f->ops->cache_key(f, idx, key, size);
}

size_t
folder_index_of(const struct folder *f, uint32_t uid)
{
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->m[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->n && f->m[lo].uid == uid ? lo : SIZE_MAX;
}

int
folder_cache_keep(void *ctx, uint32_t uid)
{
	return folder_index_of(ctx, uid) != SIZE_MAX;
}
