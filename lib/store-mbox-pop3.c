/*
 * store-mbox-pop3.c — the POP3 snapshot of an mbox INBOX (store-pop3.h):
 * the file locked for the session, each message's UIDL a digest of its
 * content without the headers mail readers rewrite, and at QUIT the one
 * crash-safe rewrite (mbox-rewrite.c).
 */
#include "store-pop3.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "durable.h"
#include "mbox.h"
#include "path.h"
#include "store.h"

struct mb_snap {
	char path[PATH_MAX];
	struct mbox_lock lock;
	int locked;
	off_t scanned;          /* bytes of the mbox covered by the scan */
	struct mbox_entry *mb;
	size_t n_mb;
};

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
measure(int fd, const struct mbox_entry *e, struct store_pop3_msg *msg)
{
	struct mbox_pass mp;
	memset(&mp, 0, sizeof mp);
	msgconv_init(&mp.conv, 1, 0, NULL, NULL);
	if (digest_sha256_init(&mp.hash.sha) < 0)
		return -1;
	mp.hash.line_start = 1;
	unsigned char d[DIGEST_SHA256_LEN];
	if (store_pop3_read(fd, e->from_offset, (uint64_t)(e->offset - e->from_offset), hash_raw,
	    &mp.hash, NULL) != 0 ||
	    store_pop3_read(fd, e->offset, (uint64_t)e->length, mbox_pass_feed, &mp, NULL) != 0) {
		digest_final(&mp.hash.sha, d);
		return -1;
	}
	msgconv_finish(&mp.conv);
	if (mp.hash.holding)
		hash_release(&mp.hash, 0);
	digest_final(&mp.hash.sha, d);
	store_pop3_hex(d, 16, msg->uidl);
	msg->size = mp.conv.out_bytes;
	return 0;
}

static int
mb_load(struct store_pop3 *p)
{
	struct mb_snap *m = calloc(1, sizeof *m);
	if (!m)
		return -1;
	m->lock.fd = -1;
	p->be = m;
	if (path_join(m->path, sizeof m->path, p->s->root, "INBOX", NULL) != 0)
		return -1;
	if (mbox_lock(m->path, &m->lock) < 0)
		return -1;
	m->locked = 1;
	struct stat st;
	if (fstat(m->lock.fd, &st) < 0 || mbox_scan(m->lock.fd, &m->mb, &m->n_mb) < 0)
		return -1;
	m->scanned = st.st_size;
	p->msg = calloc(m->n_mb ? m->n_mb : 1, sizeof *p->msg);
	if (!p->msg)
		return -1;
	for (size_t i = 0; i < m->n_mb; i++) {
		if (measure(m->lock.fd, &m->mb[i], &p->msg[i]) < 0)
			return -1;
		p->msg[i].entry = i;
		p->n++;
	}
	return 0;
}

static int
mb_fd(struct store_pop3 *p, size_t i, off_t *off_r, uint64_t *len_r)
{
	struct mb_snap *m = p->be;
	const struct mbox_entry *e = &m->mb[p->msg[i].entry];
	*off_r = e->offset;
	*len_r = (uint64_t)e->length;
	return fcntl(m->lock.fd, F_DUPFD_CLOEXEC, 0);
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
	return store_pop3_read(src, from, (uint64_t)(to - from), copy_raw, &dst, NULL) ? -1 : 0;
}

/* Writes into tmp_fd whatever precedes the first message, every kept
 * message with its separator, then anything appended after the scan. */
static int
write_kept(const struct store_pop3 *p, const struct mb_snap *m, int tmp_fd, off_t size_now)
{
	int src = m->lock.fd;
	if (copy_range(tmp_fd, src, 0, m->n_mb ? m->mb[0].from_offset : m->scanned) < 0)
		return -1;
	for (size_t i = 0; i < m->n_mb; i++) {
		off_t end = i + 1 < m->n_mb ? m->mb[i + 1].from_offset : m->scanned;
		if (!p->msg[i].deleted && copy_range(tmp_fd, src, m->mb[i].from_offset, end) < 0)
			return -1;
	}
	return copy_range(tmp_fd, src, m->scanned, size_now);
}

/* Removal under the held lock: the kept messages go to a new file
 * renamed over the INBOX (mbox_rewrite_begin), so a crash at any instant
 * leaves the old or the new INBOX whole, never a torn one. */
static int
mb_commit(struct store_pop3 *p, size_t *removed_r)
{
	struct mb_snap *m = p->be;
	size_t n_del = 0;
	for (size_t i = 0; i < p->n; i++)
		n_del += p->msg[i].deleted != 0;
	if (n_del == 0)
		return 0;
	struct mbox_rewrite rw;
	struct stat st;
	if (mbox_rewrite_begin(&m->lock, &rw) < 0)
		return -1;
	if (fstat(m->lock.fd, &st) < 0 || write_kept(p, m, rw.fd, st.st_size) < 0) {
		mbox_rewrite_abort(&rw);
		return -1;
	}
	if (mbox_rewrite_commit(&m->lock, &rw, NULL) < 0)
		return -1;
	*removed_r = n_del;
	return 0;
}

static void
mb_touch(struct store_pop3 *p)
{
	struct mb_snap *m = p->be;
	if (m && m->locked && m->lock.dotlock[0])
		utimensat(AT_FDCWD, m->lock.dotlock, NULL, AT_SYMLINK_NOFOLLOW);
}

static void
mb_close(struct store_pop3 *p)
{
	struct mb_snap *m = p->be;
	if (!m)
		return;
	if (m->locked)
		mbox_unlock(&m->lock);
	free(m->mb);
	free(m);
}

const struct store_pop3_ops store_mbox_pop3 = {
	.from_quoted = 1, .load = mb_load, .fd = mb_fd, .commit = mb_commit,
	.touch = mb_touch, .close = mb_close,
};
