/*
 * maildrop.c — see maildrop.h.
 */
#include "maildrop.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "folder-uids.h"
#include "pop3uidl.h"
#include "log.h"
#include "mailbox.h"
#include "digest.h"
#include "path.h"
#include "sizecache.h"

#define READ_CHUNK 65536

typedef int (*chunk_fn)(void *ctx, const char *p, size_t n);

/* Calls fn on len bytes of fd from off, in chunks, stopping at EOF.
 * Returns 0, -1 (errno) or fn's nonzero result. stop, if set, is checked
 * between chunks (TOP needs only the head of a long message). */
static int
read_range(int fd, off_t off, uint64_t len, chunk_fn fn, void *ctx, const int *stop)
{
	char *buf = malloc(READ_CHUNK);
	if (!buf)
		return -1;
	int r = 0;
	while (len > 0 && !(stop && *stop)) {
		size_t want = len < READ_CHUNK ? (size_t)len : READ_CHUNK;
		ssize_t n = pread(fd, buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -1;
			break;
		}
		if (n == 0)
			break;
		r = fn(ctx, buf, (size_t)n);
		if (r)
			break;
		off += n;
		len -= (uint64_t)n;
	}
	int saved = errno;
	free(buf);
	errno = saved;
	return r;
}

static int
feed_conv(void *ctx, const char *p, size_t n)
{
	return msgconv_feed(ctx, p, n);
}

static void
hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- locking ---- */

static int
lock_session(struct maildrop *m)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof path, m->dir, MAILDROP_LOCK_NAME, NULL) != 0)
		return MAILDROP_FAIL;
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (m->lock_fd < 0)
		return MAILDROP_FAIL;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(m->lock_fd, F_SETLK, &fl) < 0) {
		int busy = errno == EAGAIN || errno == EACCES;
		close(m->lock_fd);
		m->lock_fd = -1;
		return busy ? MAILDROP_IN_USE : MAILDROP_FAIL;
	}
	return MAILDROP_OK;
}

/* ---- UIDL ---- */

static int
uidl_valid(const char *s, size_t n)
{
	if (n == 0 || n > MAILDROP_UIDL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int
uidl_cmp(const void *a, const void *b)
{
	const struct maildrop_msg *x = *(const struct maildrop_msg *const *)a;
	const struct maildrop_msg *y = *(const struct maildrop_msg *const *)b;
	int c = strcmp(x->uidl, y->uidl);
	/* Equal ids keep message order, so "-2" goes to the later one. */
	return c ? c : (x < y ? -1 : x > y);
}

/* Gives repeated ids a "-N" suffix (RFC 1939 §7: unique in the drop). */
static int
uidl_dedupe(struct maildrop *m)
{
	if (m->n < 2)
		return 0;
	struct maildrop_msg **v = malloc(m->n * sizeof *v);
	if (!v)
		return -1;
	for (size_t i = 0; i < m->n; i++)
		v[i] = &m->msg[i];
	qsort(v, m->n, sizeof *v, uidl_cmp);
	/* Only later members of a run get a suffix: the first stays intact. */
	size_t first = 0;
	for (size_t i = 1; i < m->n; i++) {
		if (strcmp(v[i]->uidl, v[first]->uidl) != 0) {
			first = i;
			continue;
		}
		char suffix[24];
		int k = snprintf(suffix, sizeof suffix, "-%zu", i - first + 1);
		size_t keep = strlen(v[i]->uidl);
		if (keep + (size_t)k > MAILDROP_UIDL_MAX)
			keep = MAILDROP_UIDL_MAX - (size_t)k;
		memcpy(v[i]->uidl + keep, suffix, (size_t)k + 1);
	}
	free(v);
	return 0;
}

/* ---- Maildir ---- */

static void
maildir_uidl(const struct maildir_entry *e, char *out)
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
	hex(d, DIGEST_SHA256_LEN, out);
}

/* Size in POP3 form: W= from the name when present (delivery wrote it),
 * else from the size cache, else counted by the same converter RETR uses
 * (and cached). -1 if the file is gone. */
static int
maildir_size(struct maildrop *m, struct sizecache *cache, struct maildir_entry *e,
    uint64_t *size_r)
{
	if (e->vsize > 0) {
		*size_r = e->vsize;
		return 0;
	}
	if (sizecache_get(cache, e->name, e->base_len, e->size, size_r))
		return 0;
	int fd = maildir_open(m->dir, e);
	if (fd < 0)
		return -1;
	struct msgconv c;
	msgconv_init(&c, 0, 0, NULL, NULL);
	int r = read_range(fd, 0, UINT64_MAX, feed_conv, &c, NULL);
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
		snprintf(out, MAILDROP_UIDL_MAX + 1, "%08" PRIx32 "%08" PRIx32, uid, validity);
	else if (scheme != FOLDER_UIDL_COURIER)
		maildir_uidl(e, out);
	else if ((k = pop3uidl_find(known, e->name, e->base_len)) != NULL)
		snprintf(out, MAILDROP_UIDL_MAX + 1, "%s", k);
	else
		snprintf(out, MAILDROP_UIDL_MAX + 1, "UID%" PRIu32 "-%" PRIu32, uid, validity);
}

/* yubin's UIDs, assigned under the folder lock as IMAP does, for a
 * mailbox taken over from Dovecot or Courier (*scheme_r, folder-uids.h).
 * NULL in *uids_r otherwise (file-name UIDLs). */
static int
maildir_uids(struct maildrop *m, enum folder_uidl *scheme_r, uint32_t **uids_r,
    uint32_t *validity_r)
{
	enum folder_uidl scheme;
	*uids_r = NULL;
	if (folder_uidl_scheme(m->dir, &scheme) != 0)
		return -1;
	*scheme_r = scheme;
	if (scheme == FOLDER_UIDL_NAME)
		return 0;
	uint32_t next, *uids = calloc(m->n_md ? m->n_md : 1, sizeof *uids);
	if (uids == NULL || folder_uids_assign(m->dir, m->md, m->n_md, uids, validity_r, &next,
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
maildir_load(struct maildrop *m)
{
	if (maildir_scan(m->dir, 0, &m->md, &m->n_md) < 0)
		return -1;
	m->msg = calloc(m->n_md ? m->n_md : 1, sizeof *m->msg);
	if (!m->msg)
		return -1;
	uint32_t *uids, validity = 0;
	enum folder_uidl scheme;
	struct pop3uidl_map known = { 0 };
	if (maildir_uids(m, &scheme, &uids, &validity) != 0)
		return -1;
	if (scheme == FOLDER_UIDL_COURIER && pop3uidl_read(m->dir, &known) != 0) {
		free(uids);
		return -1;
	}
	struct sizecache cache;
	int r = sizecache_load(&cache, m->dir);
	for (size_t i = 0; r == 0 && i < m->n_md; i++) {
		struct maildrop_msg *msg = &m->msg[m->n];
		if (maildir_size(m, &cache, &m->md[i], &msg->size) < 0) {
			if (errno == ENOENT)
				continue;   /* removed by another reader meanwhile */
			r = -1;
			break;
		}
		msg->entry = i;
		uidl_of(&m->md[i], scheme, uids ? uids[i] : 0, validity, &known, msg->uidl);
		m->n++;
	}
	free(uids);
	pop3uidl_free(&known);
	if (r == 0 && sizecache_save(&cache) < 0)
		log_warn("cannot write %s: %s", cache.path, strerror(errno));
	int saved = errno;
	sizecache_free(&cache);
	errno = saved;
	return r;
}

/* ---- mbox ---- */

/* Headers that mail readers rewrite in place: left out of the digest. */
static const char *const mutable_headers[] = {
	"status:", "x-status:", "x-keywords:", "x-uid:", "x-imap:",
	"x-imapbase:", "content-length:", "lines:",
};

/* The digest's view of a message: header lines are held until their name
 * is known, then hashed or skipped (with their continuation lines). */
struct uidl_hash {
	struct digest sha;
	int in_body, line_start, skipping, holding;
	char held[16];
	size_t n_held;
};

static int
header_is_mutable(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof mutable_headers / sizeof *mutable_headers; i++)
		if (strlen(mutable_headers[i]) == n && strncasecmp(name, mutable_headers[i], n) == 0)
			return 1;
	return 0;
}

static void
hash_release(struct uidl_hash *h, int decide)
{
	if (decide)
		h->skipping = header_is_mutable(h->held, h->n_held);
	if (!h->skipping)
		digest_update(&h->sha, h->held, h->n_held);
	h->holding = 0;
	h->n_held = 0;
}

static void
hash_header_byte(struct uidl_hash *h, char b)
{
	if (h->holding) {
		h->held[h->n_held++] = b;
		int end = b == '\n';
		if (end && h->n_held == 2 && h->held[0] == '\r')
			h->in_body = 1;
		if (end || b == ':' || h->n_held == sizeof h->held)
			hash_release(h, !h->in_body);
		h->line_start = end;
		return;
	}
	if (h->line_start) {
		h->line_start = 0;
		if (b == '\n') {
			h->in_body = 1;
			h->skipping = 0;
		} else if (b != ' ' && b != '\t') {
			h->holding = 1;
			h->held[0] = b;
			h->n_held = 1;
			return;
		}
	}
	if (!h->skipping)
		digest_update(&h->sha, &b, 1);
	if (b == '\n')
		h->line_start = 1;
}

static int
hash_feed(void *ctx, const char *p, size_t n)
{
	struct uidl_hash *h = ctx;
	size_t i = 0;
	for (; i < n && !h->in_body; i++)
		hash_header_byte(h, p[i]);
	if (i < n) {
		h->skipping = 0;
		digest_update(&h->sha, p + i, n - i);
	}
	return 0;
}

static int
hash_raw(void *ctx, const char *p, size_t n)
{
	digest_update(&((struct uidl_hash *)ctx)->sha, p, n);
	return 0;
}

/* Size and id of one mbox message, reading it once for both. */
struct mbox_pass {
	struct msgconv conv;
	struct uidl_hash hash;
};

static int
mbox_pass_feed(void *ctx, const char *p, size_t n)
{
	struct mbox_pass *mp = ctx;
	msgconv_feed(&mp->conv, p, n);
	return hash_feed(&mp->hash, p, n);
}

static int
mbox_measure(struct maildrop *m, const struct mbox_entry *e, struct maildrop_msg *msg)
{
	struct mbox_pass mp;
	memset(&mp, 0, sizeof mp);
	msgconv_init(&mp.conv, 1, 0, NULL, NULL);
	if (digest_sha256_init(&mp.hash.sha) < 0)
		return -1;
	mp.hash.line_start = 1;
	int fd = m->mbox.fd;
	unsigned char d[DIGEST_SHA256_LEN];
	if (read_range(fd, e->from_offset, (uint64_t)(e->offset - e->from_offset), hash_raw,
	    &mp.hash, NULL) != 0 ||
	    read_range(fd, e->offset, (uint64_t)e->length, mbox_pass_feed, &mp, NULL) != 0) {
		digest_final(&mp.hash.sha, d);
		return -1;
	}
	msgconv_finish(&mp.conv);
	if (mp.hash.holding)
		hash_release(&mp.hash, 0);
	digest_final(&mp.hash.sha, d);
	hex(d, 16, msg->uidl);
	msg->size = mp.conv.out_bytes;
	return 0;
}

static int
mbox_load(struct maildrop *m)
{
	if (path_join(m->mbox_path, sizeof m->mbox_path, m->dir, "INBOX", NULL) != 0)
		return -1;
	if (mbox_lock(m->mbox_path, &m->mbox) < 0)
		return -1;
	m->mbox_locked = 1;
	struct stat st;
	if (fstat(m->mbox.fd, &st) < 0 || mbox_scan(m->mbox.fd, &m->mb, &m->n_mb) < 0)
		return -1;
	m->mbox_scanned = st.st_size;
	m->msg = calloc(m->n_mb ? m->n_mb : 1, sizeof *m->msg);
	if (!m->msg)
		return -1;
	for (size_t i = 0; i < m->n_mb; i++) {
		if (mbox_measure(m, &m->mb[i], &m->msg[i]) < 0)
			return -1;
		m->msg[i].entry = i;
		m->n++;
	}
	return 0;
}

/* ---- open, send, close ---- */

int
maildrop_open(struct maildrop *m, const struct conf *conf, const char *user)
{
	memset(m, 0, sizeof *m);
	m->lock_fd = -1;
	m->mbox.fd = -1;
	m->format = conf->mailbox_format;
	if (mailbox_user_dir(conf, user, m->dir, sizeof m->dir) < 0)
		return MAILDROP_FAIL;
	if (durable_mkdirs(m->dir, 0700) < 0)
		return MAILDROP_FAIL;
	if (m->format == MAILBOX_MAILDIR && maildir_create(m->dir) < 0)
		return MAILDROP_FAIL;
	/* before the session lock marks the drop as served by yubin's POP3 */
	if (m->format == MAILBOX_MAILDIR && folder_pop3_takeover(m->dir) < 0)
		return MAILDROP_FAIL;
	int st = lock_session(m);
	if (st != MAILDROP_OK)
		return st;
	int r = m->format == MAILBOX_MBOX ? mbox_load(m) : maildir_load(m);
	if (r == 0)
		r = uidl_dedupe(m);
	if (r < 0) {
		int saved = errno;
		maildrop_close(m);
		errno = saved;
		if (saved == EAGAIN || saved == EWOULDBLOCK)
			return MAILDROP_IN_USE;   /* mbox held by a delivery */
		return MAILDROP_FAIL;
	}
	return MAILDROP_OK;
}

int
maildrop_message_fd(struct maildrop *m, size_t i, off_t *off_r, uint64_t *len_r)
{
	const struct maildrop_msg *msg = &m->msg[i];
	if (m->format == MAILBOX_MBOX) {
		const struct mbox_entry *e = &m->mb[msg->entry];
		*off_r = e->offset;
		*len_r = (uint64_t)e->length;
		return fcntl(m->mbox.fd, F_DUPFD_CLOEXEC, 0);
	}
	*off_r = 0;
	*len_r = UINT64_MAX;
	return maildir_open(m->dir, &m->md[msg->entry]);
}

int
maildrop_stream(int fd, off_t off, uint64_t len, struct msgconv *conv)
{
	int r = read_range(fd, off, len, feed_conv, conv, &conv->done);
	return r ? r : msgconv_finish(conv);
}

void
maildrop_close(struct maildrop *m)
{
	if (m->mbox_locked)
		mbox_unlock(&m->mbox);
	m->mbox_locked = 0;
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	m->lock_fd = -1;
	if (m->md)
		maildir_entries_free(&m->md, m->n_md);
	free(m->mb);
	m->mb = NULL;
	free(m->msg);
	m->msg = NULL;
	m->n = m->n_md = m->n_mb = 0;
}

/* ---- UPDATE state ---- */

static int
maildir_commit_all(struct maildrop *m, size_t *removed_r)
{
	int failed = 0, saved = 0;
	for (size_t i = 0; i < m->n; i++) {
		struct maildrop_msg *msg = &m->msg[i];
		struct maildir_entry *e = &m->md[msg->entry];
		if (msg->deleted) {
			if (maildir_remove(m->dir, e) == 0 || errno == ENOENT) {
				(*removed_r)++;
			} else {
				failed = 1;
				saved = errno;
			}
		} else if (msg->retrieved && (e->in_new || !strchr(e->flags, 'S'))) {
			char flags[MAILDIR_FLAGS_MAX + 1];
			snprintf(flags, sizeof flags, "%sS", e->flags);
			if (strlen(e->flags) + 1 >= MAILDIR_FLAGS_MAX ||
			    maildir_set_flags(m->dir, e, flags) < 0)
				log_warn("cannot mark %s seen: %s", e->name, strerror(errno));
		}
	}
	char sub[PATH_MAX];
	static const char *const subs[] = { "cur", "new" };
	for (int k = 0; k < 2; k++) {
		if ((path_join(sub, sizeof sub, m->dir, subs[k], NULL) != 0 ||
		    durable_fsync_dir(sub) < 0) && !failed) {
			failed = 1;
			saved = errno;
		}
	}
	errno = saved;
	return failed ? -1 : 0;
}

static int
copy_raw(void *ctx, const char *p, size_t n)
{
	return durable_write_all(*(int *)ctx, p, n) < 0 ? -1 : 0;
}

static int
copy_range(int dst, int src, off_t from, off_t to)
{
	if (to <= from)
		return 0;
	return read_range(src, from, (uint64_t)(to - from), copy_raw, &dst, NULL) ? -1 : 0;
}

/* Writes into tmp_fd whatever precedes the first message, every kept
 * message with its separator, then anything appended after the scan. */
static int
mbox_write_kept(struct maildrop *m, int tmp_fd, off_t size_now)
{
	int src = m->mbox.fd;
	if (copy_range(tmp_fd, src, 0, m->n_mb ? m->mb[0].from_offset : m->mbox_scanned) < 0)
		return -1;
	for (size_t i = 0; i < m->n_mb; i++) {
		off_t end = i + 1 < m->n_mb ? m->mb[i + 1].from_offset : m->mbox_scanned;
		if (!m->msg[i].deleted && copy_range(tmp_fd, src, m->mb[i].from_offset, end) < 0)
			return -1;
	}
	return copy_range(tmp_fd, src, m->mbox_scanned, size_now);
}

/* mbox removal under the held lock: the kept messages go to a new file
 * renamed over the INBOX (mbox_rewrite_begin), so a crash at any instant
 * leaves the old or the new INBOX whole, never a torn one. */
static int
mbox_commit_all(struct maildrop *m, size_t *removed_r)
{
	size_t n_del = 0;
	for (size_t i = 0; i < m->n; i++)
		n_del += m->msg[i].deleted != 0;
	if (n_del == 0)
		return 0;
	struct mbox_rewrite rw;
	struct stat st;
	if (mbox_rewrite_begin(&m->mbox, &rw) < 0)
		return -1;
	if (fstat(m->mbox.fd, &st) < 0 || mbox_write_kept(m, rw.fd, st.st_size) < 0) {
		mbox_rewrite_abort(&rw);
		return -1;
	}
	if (mbox_rewrite_commit(&m->mbox, &rw, NULL) < 0)
		return -1;
	*removed_r = n_del;
	return 0;
}

void
maildrop_touch(struct maildrop *m)
{
	if (m->mbox_locked && m->mbox.dotlock[0])
		utimensat(AT_FDCWD, m->mbox.dotlock, NULL, AT_SYMLINK_NOFOLLOW);
}

int
maildrop_commit(struct maildrop *m, size_t *removed_r)
{
	*removed_r = 0;
	if (m->format == MAILBOX_MBOX)
		return mbox_commit_all(m, removed_r);
	return maildir_commit_all(m, removed_r);
}
