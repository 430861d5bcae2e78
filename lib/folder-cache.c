/*
 * folder-cache.c — the folder's message cache (lib/mcache.h) as FETCH and
 * SEARCH use it: ENVELOPE, BODY and BODYSTRUCTURE as rendered, the header
 * fields clients ask for, RFC822.SIZE and INTERNALDATE, recorded when a
 * message is parsed and answered from the file later (folder.h).
 *
 * A record is keyed by UIDVALIDITY, UID and the message's identity in its
 * backend (folder-id.c).
 *
 * The cache is below the content code: it is asked and filled by
 * folder-content.c (folder_view, mime_cached) and never reads or parses a
 * message itself.
 */
#include "folder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "folder-int.h"
#include "mcache.h"
#include "mime.h"
#include "path.h"

/* View v is item v of a record (lib/mcache.h). */

/* The header fields kept (FOLDER_VIEW_FIELDS): what mail clients list a
 * folder by, thread by and SEARCH, and the RFC 2369/2919/8058 List-*. */
static const char *const cached_fields[] = {
	"From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "References",
	"In-Reply-To", "Content-Type", "Sender", "Reply-To", "List-Id", "List-Post",
	"List-Unsubscribe", "List-Unsubscribe-Post", "List-Help", "List-Subscribe",
	"List-Owner", "List-Archive",
};
#define CACHED_FIELDS (sizeof cached_fields / sizeof cached_fields[0])

const char *
folder_cached_field(size_t i)
{
	return i < CACHED_FIELDS ? cached_fields[i] : NULL;
}

int
folder_field_cached(const char *name, size_t len)
{
	for (size_t i = 0; i < CACHED_FIELDS; i++)
		if (strlen(cached_fields[i]) == len && strncasecmp(cached_fields[i], name, len) == 0)
			return 1;
	return 0;
}

int
mdf_state_path(const struct folder *f, const char *what, char *out, size_t size)
{
	return path_printf(out, size, "%s/yubin-%s", f->dir, what);
}

/* The cache file, opened at first use; a folder without one misses. */
static struct mcache *
cache_of(struct folder *f)
{
	if (f->mc_opened)
		return f->mc;
	f->mc_opened = 1;
	char path[PATH_MAX];
	if (f->ops->state_path(f, "cache", path, sizeof path) == 0) /* too long: none */
		f->mc = mcache_open(path);
	return f->mc;
}

/* Message idx's record: 1 with *r, or 0. */
static int
lookup(struct folder *f, size_t idx, struct mcache_rec *r)
{
	char key[FOLDER_CACHE_KEY_MAX];
	size_t klen = folder_cache_key(f, idx, key, sizeof key);
	struct mcache *c;
	if (klen == 0 || (c = cache_of(f)) == NULL)
		return 0;
	return mcache_get(c, f->uidvalidity, f->m[idx].uid, key, klen, r);
}

int
folder_cache_has(struct folder *f, size_t idx, unsigned mask)
{
	struct mcache_rec r;
	return lookup(f, idx, &r) && (r.items & mask) == mask;
}

void
folder_cache_stat(struct folder *f, size_t idx)
{
	struct fmsg *m = &f->m[idx];
	struct mcache_rec r;
	if ((m->mtime_known && m->e.vsize != 0) || !lookup(f, idx, &r))
		return;
	if (!m->mtime_known && r.date != MCACHE_DATE_UNKNOWN) {
		m->e.mtime = (time_t)r.date;
		m->mtime_known = 1;
	}
	if (m->e.vsize == 0 && r.size != MCACHE_SIZE_UNKNOWN)
		m->e.vsize = r.size;
}

/* The views of the parse in the folder's message cache are its message's
 * while that stays (folder_cache_drop and an mbox reread reset it). */
static int
views_current(const struct folder *f, size_t idx)
{
	return f->view_uid != 0 && f->view_uid == f->m[idx].uid && f->cache_uid == f->view_uid;
}

/* Renders the views a parse gives (whole: the message's, else its
 * header's) that the message's record lacks, keeps them for this message
 * and queues its record, merged with what the file had. */
void
folder_cache_fill(struct folder *f, size_t idx, const struct mime_message *mm, int whole)
{
	struct fmsg *m = &f->m[idx];
	char key[FOLDER_CACHE_KEY_MAX];
	size_t klen = folder_cache_key(f, idx, key, sizeof key);
	struct mcache *c = klen ? cache_of(f) : NULL;
	struct mcache_rec old, r = {
		.validity = f->uidvalidity, .uid = m->uid, .id = (const unsigned char *)key,
		.id_len = klen, .size = m->e.vsize ? m->e.vsize : MCACHE_SIZE_UNKNOWN,
		.date = m->mtime_known ? (int64_t)m->e.mtime : MCACHE_DATE_UNKNOWN,
	};
	int had = c != NULL && mcache_get(c, f->uidvalidity, m->uid, key, klen, &old);
	folder_views_drop(f);
	f->view_uid = m->uid;
	folder_keys_fill(f, idx, mm);
	for (int v = 0; v < FOLDER_VIEWS; v++) {
		int from_header = v == FOLDER_VIEW_ENVELOPE || v == FOLDER_VIEW_FIELDS;
		if (v == FOLDER_VIEW_SORTKEYS)
			continue;   /* in their own file (folder-keys.c) */
		if (had && (old.items & (1u << v))) {
			r.items |= 1u << v;
			r.item[v] = old.item[v];
		} else if ((whole || from_header) &&
		    f->render != NULL &&
		    (f->view[v] = f->render(mm, (enum folder_view)v, &f->view_len[v])) != NULL) {
			r.items |= 1u << v;
			r.item[v].p = (const unsigned char *)f->view[v];
			r.item[v].len = (uint32_t)f->view_len[v];
		}
	}
	if (c == NULL)
		return;
	if (had && r.size == MCACHE_SIZE_UNKNOWN)
		r.size = old.size;
	if (had && r.date == MCACHE_DATE_UNKNOWN)
		r.date = old.date;
	/* nothing new: a message parsed again (BODY[], SEARCH TEXT) */
	if (had && old.items == r.items && old.size == r.size && old.date == r.date)
		return;
	(void)mcache_put(c, &r);
}

/* A copy of view v as kept for the parse of message idx, or NULL. */
static char *
view_kept(struct folder *f, size_t idx, int v, size_t *len_r)
{
	if (!views_current(f, idx) || f->view[v] == NULL)
		return NULL;
	*len_r = f->view_len[v];
	return strndup(f->view[v], f->view_len[v]);
}

char *
folder_cache_view(struct folder *f, size_t idx, enum folder_view v, int kept, size_t *len_r)
{
	struct mcache_rec r;
	char *s = view_kept(f, idx, v, len_r);
	if (s != NULL || kept)
		return s;
	if (lookup(f, idx, &r) && (r.items & (1u << v))) {
		if ((s = malloc((size_t)r.item[v].len + 1)) == NULL)
			return NULL;
		memcpy(s, r.item[v].p, r.item[v].len);
		s[r.item[v].len] = '\0';
		*len_r = r.item[v].len;
		return s;
	}
	return NULL;
}

char *
folder_view_cached(struct folder *f, size_t idx, enum folder_view v, size_t *len_r)
{
	if (v == FOLDER_VIEW_SORTKEYS)
		return folder_keys_get(f, idx, len_r);
	return folder_cache_view(f, idx, v, 0, len_r);
}

char *
folder_cache_render(struct folder *f, const struct mime_message *mm, enum folder_view v,
    size_t *len_r)
{
	return f->render != NULL ? f->render(mm, v, len_r) : NULL;
}

static void
fields_drop(struct folder *f)
{
	mime_message_free(&f->fields_mime);
	free(f->fields_data);
	f->fields_data = NULL;
	f->fields_key_len = 0;
}

const struct mime_message *
folder_fields_mime(struct folder *f, size_t idx)
{
	char key[FOLDER_CACHE_KEY_MAX];
	size_t klen = folder_cache_key(f, idx, key, sizeof key);
	if (klen == 0)
		return NULL;
	if (f->fields_mime != NULL && f->fields_uid == f->m[idx].uid && f->fields_key_len == klen &&
	    memcmp(f->fields_key, key, klen) == 0)
		return f->fields_mime;
	fields_drop(f);
	struct mcache_rec r;
	const char *s;
	size_t n;
	if (views_current(f, idx) && f->view[FOLDER_VIEW_FIELDS] != NULL) {
		s = f->view[FOLDER_VIEW_FIELDS];
		n = f->view_len[FOLDER_VIEW_FIELDS];
	} else if (lookup(f, idx, &r) && (r.items & (1u << FOLDER_VIEW_FIELDS))) {
		s = (const char *)r.item[FOLDER_VIEW_FIELDS].p;
		n = r.item[FOLDER_VIEW_FIELDS].len;
	} else {
		return NULL;
	}
	/* the parse keeps pointers into its bytes: a copy of its own */
	if ((f->fields_data = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(f->fields_data, s, n);
	f->fields_data[n] = '\0';
	if ((f->fields_mime = mime_message_parse(f->fields_data, n)) == NULL) {
		fields_drop(f);
		return NULL;
	}
	memcpy(f->fields_key, key, klen);
	f->fields_key_len = klen;
	f->fields_uid = f->m[idx].uid;
	return f->fields_mime;
}

void
folder_cache_flush(struct folder *f)
{
	if (f->mc != NULL)
		(void)mcache_flush(f->mc);
	folder_keys_flush(f);
}

void
folder_cache_close(struct folder *f)
{
	folder_views_drop(f);
	fields_drop(f);
	/* records of messages expunged since, and replaced ones, go when
	 * they outnumber the rest: the file stays near the folder's size */
	(void)mcache_compact(f->mc, folder_cache_keep, f);
	folder_keys_close(f);
	mcache_close(&f->mc);
	f->mc_opened = 0;
}
