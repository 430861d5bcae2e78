/*
 * store-maildir-pop3.c — the POP3 snapshot of a Maildir INBOX
 * (store-pop3.h): its unique base names as UIDLs (or the ones Dovecot's
 * or Courier's POP3 gave), sizes from W= or the size cache.
 */
#include "store-pop3.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "durable.h"
#include "folder-uids.h"
#include "maildir.h"
#include "path.h"
#include "pop3uidl.h"
#include "sizecache.h"
#include "store.h"

struct md_snap {
	struct maildir_entry *md;
	size_t n_md;
};

static int
uidl_valid(const char *s, size_t n)
{
	if (n == 0 || n > STORE_POP3_UIDL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static void
name_uidl(const struct maildir_entry *e, char *out)
{
	if (uidl_valid(e->name, e->base_len)) {
		memcpy(out, e->name, e->base_len);
		out[e->base_len] = '\0';
		return;
	}
	struct digest s;
	unsigned char d[DIGEST_SHA256_LEN];
	digest_sha256_init(&s);
	digest_update(&s, e->name, e->base_len);
	digest_final(&s, d);
	store_pop3_hex(d, DIGEST_SHA256_LEN, out);
}

/* Size in POP3 form: W= from the name when present (delivery wrote it),
 * else from the size cache, else counted by the same converter RETR uses
 * (and cached). -1 if the file is gone. */
static int
entry_size(const char *dir, struct sizecache *cache, struct maildir_entry *e, uint64_t *size_r)
{
	if (e->vsize > 0) {
		*size_r = e->vsize;
		return 0;
	}
	if (sizecache_get(cache, e->name, e->base_len, e->size, size_r))
		return 0;
	int fd = maildir_open(dir, e);
	if (fd < 0)
		return -1;
	struct msgconv c;
	msgconv_init(&c, 0, 0, NULL, NULL);
	int r = store_pop3_read(fd, 0, UINT64_MAX, store_pop3_feed_conv, &c, NULL);
	msgconv_finish(&c);
	close(fd);
	*size_r = c.out_bytes;
	if (r == 0)
		sizecache_put(cache, e->name, e->base_len, e->size, c.out_bytes);
	return r ? -1 : 0;
}

/* The UIDL of e in scheme (folder-uids.h): from its UID, or the one
 * Courier's pop3d gave it (known). */
static void
uidl_of(const struct maildir_entry *e, enum folder_uidl scheme, uint32_t uid, uint32_t validity,
    const struct pop3uidl_map *known, char *out)
{
	const char *k;
	if (scheme == FOLDER_UIDL_DOVECOT)
		snprintf(out, STORE_POP3_UIDL_MAX + 1, "%08" PRIx32 "%08" PRIx32, uid, validity);
	else if (scheme != FOLDER_UIDL_COURIER)
		name_uidl(e, out);
	else if ((k = pop3uidl_find(known, e->name, e->base_len)) != NULL)
		snprintf(out, STORE_POP3_UIDL_MAX + 1, "%s", k);
	else
		snprintf(out, STORE_POP3_UIDL_MAX + 1, "UID%" PRIu32 "-%" PRIu32, uid, validity);
}

/* yubin's UIDs, assigned under the folder lock as IMAP does, for a
 * mailbox taken over from Dovecot or Courier (*scheme_r, folder-uids.h).
 * NULL in *uids_r otherwise (file-name UIDLs). */
static int
snap_uids(const char *dir, struct md_snap *m, enum folder_uidl *scheme_r, uint32_t **uids_r,
    uint32_t *validity_r)
{
	enum folder_uidl scheme;
	*uids_r = NULL;
	if (folder_uidl_scheme(dir, &scheme) != 0)
		return -1;
	*scheme_r = scheme;
	if (scheme == FOLDER_UIDL_NAME)
		return 0;
	uint32_t next, *uids = calloc(m->n_md ? m->n_md : 1, sizeof *uids);
	if (uids == NULL || folder_uids_assign(dir, m->md, m->n_md, uids, validity_r, &next,
	    FOLDER_RECENT_KEEP, NULL) != 0) {
		int saved = errno;
		free(uids);
		errno = saved;
		return -1;
	}
	*uids_r = uids;
	return 0;
}

static int
md_prepare(struct store *s)
{
	return folder_pop3_takeover(s->root);
}

/* Numbers the messages that are still there; sizes and UIDLs. */
static int
number(struct store_pop3 *p, struct md_snap *m, enum folder_uidl scheme, const uint32_t *uids,
    uint32_t validity, const struct pop3uidl_map *known)
{
	const char *dir = p->s->root;
	struct sizecache cache;
	int r = sizecache_load(&cache, dir);
	for (size_t i = 0; r == 0 && i < m->n_md; i++) {
		struct store_pop3_msg *msg = &p->msg[p->n];
		if (entry_size(dir, &cache, &m->md[i], &msg->size) < 0) {
			if (errno == ENOENT)
				continue;   /* removed by another reader meanwhile */
			r = -1;
			break;
		}
		msg->entry = i;
		uidl_of(&m->md[i], scheme, uids ? uids[i] : 0, validity, known, msg->uidl);
		p->n++;
	}
	/* a cache that cannot be written costs only time: the sizes are
	 * counted again next login */
	if (r == 0 && sizecache_save(&cache) != 0)
		p->sizes_errno = errno;
	int saved = errno;
	sizecache_free(&cache);
	errno = saved;
	return r;
}

static int
md_load(struct store_pop3 *p)
{
	struct md_snap *m = calloc(1, sizeof *m);
	if (!m)
		return -1;
	p->be = m;
	const char *dir = p->s->root;
	if (maildir_scan(dir, 0, &m->md, &m->n_md) < 0)
		return -1;
	p->msg = calloc(m->n_md ? m->n_md : 1, sizeof *p->msg);
	if (!p->msg)
		return -1;
	uint32_t *uids, validity = 0;
	enum folder_uidl scheme;
	struct pop3uidl_map known = { 0 };
	if (snap_uids(dir, m, &scheme, &uids, &validity) != 0)
		return -1;
	if (scheme == FOLDER_UIDL_COURIER && pop3uidl_read(dir, &known) != 0) {
		free(uids);
		return -1;
	}
	int r = number(p, m, scheme, uids, validity, &known);
	free(uids);
	pop3uidl_free(&known);
	return r;
}

static int
md_fd(struct store_pop3 *p, size_t i, off_t *off_r, uint64_t *len_r)
{
	struct md_snap *m = p->be;
	*off_r = 0;
	*len_r = UINT64_MAX;
	return maildir_open(p->s->root, &m->md[p->msg[i].entry]);
}

/* A retrieved message is seen: moved to cur/ with S (at QUIT only). A
 * failure costs only the flag: 0 or -1. */
static int
mark_seen(const char *dir, struct maildir_entry *e)
{
	char own[MAILDIR_FLAGS_MAX];
	maildir_entry_flags(e, own);
	if (!e->in_new && strchr(own, 'S'))
		return 0;
	char flags[MAILDIR_FLAGS_MAX + 1];
	snprintf(flags, sizeof flags, "%sS", own);
	if (strlen(own) + 1 >= MAILDIR_FLAGS_MAX)
		return -1;
	return maildir_set_flags(dir, e, flags) < 0 ? -1 : 0;
}

static int
md_commit(struct store_pop3 *p, size_t *removed_r)
{
	struct md_snap *m = p->be;
	const char *dir = p->s->root;
	int failed = 0, saved = 0;
	for (size_t i = 0; i < p->n; i++) {
		struct store_pop3_msg *msg = &p->msg[i];
		struct maildir_entry *e = &m->md[msg->entry];
		if (msg->deleted) {
			if (maildir_remove(dir, e) == 0 || errno == ENOENT) {
				(*removed_r)++;
			} else {
				failed = 1;
				saved = errno;
			}
		} else if (msg->retrieved && mark_seen(dir, e) != 0) {
			p->seen_failed++;
		}
	}
	char sub[PATH_MAX];
	static const char *const subs[] = { "cur", "new" };
	for (int k = 0; k < 2; k++) {
		if ((path_join(sub, sizeof sub, dir, subs[k], NULL) != 0 ||
		    durable_fsync_dir(sub) < 0) && !failed) {
			failed = 1;
			saved = errno;
		}
	}
	errno = saved;
	return failed ? -1 : 0;
}

static void
md_close(struct store_pop3 *p)
{
	struct md_snap *m = p->be;
	if (!m)
		return;
	if (m->md)
		maildir_entries_free(&m->md, m->n_md);
	free(m);
}

const struct store_pop3_ops store_maildir_pop3 = {
	.from_quoted = 0, .prepare = md_prepare, .load = md_load, .fd = md_fd,
	.commit = md_commit, .close = md_close,
};
