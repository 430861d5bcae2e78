/*
 * folder-keys.c — the SORT and THREAD keys of a folder's messages
 * (lib/mcache-keys.h) in a cache file of their own, beside the message
 * cache (folder-cache.c): Maildir yubin-keys beside yubin-cache, mbox
 * .<name>.yubin-keys. Same format and rules (lib/mcache.h): records keyed
 * by UIDVALIDITY, UID and the message's identity, checked on every read,
 * a damaged one a miss, the file only a cache.
 *
 * Why a file of their own: a SORT reads the keys of every message, and
 * in the message cache they would come with each message's ENVELOPE,
 * BODYSTRUCTURE and header fields (about six times the bytes to read and
 * check). Here a record is the keys and the id, nothing else.
 *
 * The keys are made when a message's header is first parsed
 * (folder_cache_fill) and, if the file lacks them while the message
 * cache has the header fields, from those (folder_keys_put, sort.c).
 */
#include "folder.h"

#include <stdlib.h>
#include <string.h>

#include "folder-int.h"
#include "mcache-keys.h"
#include "mcache.h"
#include "path.h"

/* The keys are item 0 of their records. */
#define KEYS_ITEM 0

static struct mcache *
keys_file(struct folder *f)
{
	if (f->mk_opened)
		return f->mk;
	f->mk_opened = 1;
	char path[PATH_MAX];
	/* too long: no file, every lookup misses */
	if (f->ops->state_path(f, "keys", path, sizeof path) == 0)
		f->mk = mcache_open(path);
	return f->mk;
}

/* The record of message idx in *r: 1, or 0 (none, or not of it). */
static int
lookup(struct folder *f, size_t idx, struct mcache_rec *r)
{
	char key[FOLDER_CACHE_KEY_MAX];
	size_t klen = folder_cache_key(f, idx, key, sizeof key);
	struct mcache *c;
	if (klen == 0 || (c = keys_file(f)) == NULL)
		return 0;
	return mcache_get(c, f->uidvalidity, f->m[idx].uid, key, klen, r) &&
	    (r->items & (1u << KEYS_ITEM));
}

char *
folder_keys_get(struct folder *f, size_t idx, size_t *len_r)
{
	struct mcache_rec r;
	const char *p;
	size_t n;
	if (f->view_uid != 0 && f->view_uid == f->m[idx].uid && f->cache_uid == f->view_uid &&
	    f->view[FOLDER_VIEW_SORTKEYS] != NULL) {
		p = f->view[FOLDER_VIEW_SORTKEYS];
		n = f->view_len[FOLDER_VIEW_SORTKEYS];
	} else if (lookup(f, idx, &r)) {
		p = (const char *)r.item[KEYS_ITEM].p;
		n = r.item[KEYS_ITEM].len;
	} else {
		return NULL;
	}
	char *s = malloc(n + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	*len_r = n;
	return s;
}

void
folder_keys_put(struct folder *f, size_t idx, const char *keys, size_t len)
{
	char key[FOLDER_CACHE_KEY_MAX];
	size_t klen = folder_cache_key(f, idx, key, sizeof key);
	struct mcache *c = klen ? keys_file(f) : NULL;
	struct mcache_rec r = {
		.validity = f->uidvalidity, .uid = f->m[idx].uid, .id = (const unsigned char *)key,
		.id_len = klen, .size = MCACHE_SIZE_UNKNOWN, .date = MCACHE_DATE_UNKNOWN,
		.items = 1u << KEYS_ITEM,
	};
	r.item[KEYS_ITEM].p = (const unsigned char *)keys;
	r.item[KEYS_ITEM].len = (uint32_t)len;
	if (c != NULL)
		(void)mcache_put(c, &r);
}

void
folder_keys_fill(struct folder *f, size_t idx, const struct mime_message *mm)
{
	struct mcache_rec r;
	char **kept = &f->view[FOLDER_VIEW_SORTKEYS];
	/* already recorded: nothing to work out (a message parsed again) */
	if (lookup(f, idx, &r) || (*kept = mkeys_render(mm, &f->view_len[FOLDER_VIEW_SORTKEYS])) == NULL)
		return;
	folder_keys_put(f, idx, *kept, f->view_len[FOLDER_VIEW_SORTKEYS]);
}

void
folder_keys_flush(struct folder *f)
{
	if (f->mk != NULL)
		(void)mcache_flush(f->mk);
}

void
folder_keys_close(struct folder *f)
{
	(void)mcache_compact(f->mk, folder_cache_keep, f);
	mcache_close(&f->mk);
	f->mk_opened = 0;
}
