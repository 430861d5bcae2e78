/*
 * mailbox.c — delivery to users' INBOXes as one all-or-nothing transaction.
 *
 * Maildir copies are written and fsync'd into tmp/ by mailbox_txn_add and
 * linked into new/ by mailbox_txn_commit. mbox copies are appended and
 * fsync'd under lock at add time; the lock is kept until commit or free, so
 * no reader sees a copy that may still be rolled back (truncated away).
 * Mailboxes are created on first delivery: directories 0700, files 0600.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "durable.h"
#include "mailbox.h"
#include "maildir.h"
#include "mbox.h"
#include "path.h"

/* One mbox file locked by the transaction (several copies may share it). */
struct mbox_held {
	char path[PATH_MAX];
	struct mbox_lock lock;
	off_t first_size;   /* size before this transaction's first append */
};

/* Copies beyond this many are published by path: each held Maildir
 * costs two descriptors, and an alias may expand to many mailboxes. */
#define MAILBOX_HELD_DIRS_MAX 64

struct mailbox_txn {
	const struct conf *conf;
	struct maildir_delivery *md;   /* prepared, not yet committed */
	size_t n_md;
	/* tmp/ and new/ of each Maildir copy, opened once for the whole
	 * delivery (fds -1: by path); closed by mailbox_txn_free. */
	struct maildir_dirs *dirs;
	size_t n_dirs;
	struct mbox_held *mb;
	size_t n_mb;
	int committed;   /* published (Maildir copies linked into new/) */
	int finished;    /* mbox locks released: nothing can be taken back */
};

/* A name component that cannot leave its directory. */
static int
safe_component(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

int
mailbox_user_dir(const struct conf *conf, const char *addr, char *out, size_t size)
{
	const char *at = strrchr(addr, '@');
	if (at == NULL) {
		errno = EINVAL;
		return -1;
	}
	size_t llen = (size_t)(at - addr), dlen = strlen(at + 1);
	if (llen > ADDR_LOCAL_MAX || dlen > ADDR_DOMAIN_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!safe_component(addr, llen) || !safe_component(at + 1, dlen)) {
		errno = EINVAL;
		return -1;
	}
	/* Case folded: addresses differing only in case share one mailbox,
	 * whichever program computes the path. */
	char local[ADDR_LOCAL_MAX + 1], domain[ADDR_DOMAIN_MAX + 1];
	for (size_t i = 0; i <= llen; i++)
		local[i] = i < llen ? (char)tolower((unsigned char)addr[i]) : '\0';
	for (size_t i = 0; i <= dlen; i++)
		domain[i] = (char)tolower((unsigned char)at[1 + i]);
	return path_join(out, size, conf->mail_root, domain, local);
}

struct mailbox_txn *
mailbox_txn_new(const struct conf *conf)
{
	struct mailbox_txn *txn = calloc(1, sizeof *txn);
	if (txn != NULL)
		txn->conf = conf;
	return txn;
}

/* "Return-Path: <sender>\nDelivered-To: addr\n" into a malloc'd buffer. */
static char *
make_prefix(const char *addr, const char *sender, size_t *len_r)
{
	char *p = NULL;
	if (sender == NULL)
		sender = "";
	/* A line break here would let the envelope forge header lines (S26). */
	for (const char *s = sender; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			errno = EINVAL;
			return NULL;
		}
	int n = asprintf(&p, "Return-Path: <%s>\nDelivered-To: %s\n", sender, addr);
	if (n < 0)
		return NULL;
	*len_r = (size_t)n;
	return p;
}

/* tmp/ holds garbage only after 36 hours (MAILDIR_TMP_MAX_AGE_SEC), so a
 * process sweeps each Maildir's tmp/ at most once an hour: a session of
 * many messages to one mailbox read the directory, and stat'ed every file
 * other sessions had in flight, for every message (issue 15). Remembered
 * by a hash of the path; a collision only skips a sweep. */
#define MAILBOX_SWEEP_SLOTS 8
#define MAILBOX_SWEEP_EVERY_SEC 3600

static int
sweep_due(const char *dir)
{
	static struct {
		uint64_t key;
		time_t at;
	} swept[MAILBOX_SWEEP_SLOTS];
	static size_t next;
	uint64_t key = 14695981039346656037ULL;   /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)dir; *p; p++)
		key = (key ^ *p) * 1099511628211ULL;
	time_t now = time(NULL);
	for (size_t i = 0; i < MAILBOX_SWEEP_SLOTS; i++)
		if (swept[i].key == key && now >= swept[i].at &&
		    now - swept[i].at < MAILBOX_SWEEP_EVERY_SEC)
			return 0;
	swept[next].key = key;
	swept[next].at = now;
	next = (next + 1) % MAILBOX_SWEEP_SLOTS;
	return 1;
}

static int
add_maildir(struct mailbox_txn *txn, const char *dir, const char *prefix, size_t plen,
    int msg_fd, uint64_t msg_len)
{
	struct maildir_delivery *v = realloc(txn->md, (txn->n_md + 1) * sizeof *v);
	if (v == NULL)
		return -1;
	txn->md = v;
	struct maildir_dirs *dv = realloc(txn->dirs, (txn->n_dirs + 1) * sizeof *dv);
	if (dv == NULL)
		return -1;
	txn->dirs = dv;
	struct maildir_dirs *m = &dv[txn->n_dirs];
	/* The Maildir is made only when it is missing: an existing one
	 * costs no stat and no mkdir per delivery (issue 15). */
	if (maildir_dirs_open(dir, m) != 0 &&
	    (errno != ENOENT || maildir_create(dir) != 0 || maildir_dirs_open(dir, m) != 0))
		return -1;
	txn->n_dirs++;
	if (sweep_due(dir))
		maildir_clean_tmp_at(m->tmp_fd);   /* best effort: garbage only */
	if (maildir_prepare_at(m->tmp_fd, dir, prefix, plen, msg_fd, msg_len, &v[txn->n_md]) != 0) {
		maildir_dirs_close(m);   /* dirs[i] stays copy i's */
		txn->n_dirs--;
		return -1;
	}
	if (txn->n_md >= MAILBOX_HELD_DIRS_MAX)
		maildir_dirs_close(m);
	txn->n_md++;
	return 0;
}

/* Copy i of the transaction: by its held directories when it has them. */
static int
md_held(const struct mailbox_txn *txn, size_t i)
{
	return txn->dirs[i].tmp_fd >= 0;
}

static int
md_commit(struct mailbox_txn *txn, size_t i)
{
	return md_held(txn, i) ? maildir_commit_at(&txn->dirs[i], &txn->md[i]) :
	    maildir_commit(&txn->md[i]);
}

static void
md_uncommit(struct mailbox_txn *txn, size_t i)
{
	if (md_held(txn, i))
		maildir_uncommit_at(&txn->dirs[i], &txn->md[i]);
	else
		maildir_uncommit(&txn->md[i]);
}

/* The held lock for path, taking it (and creating the file) if new. */
static struct mbox_held *
mbox_get(struct mailbox_txn *txn, const char *dir)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof path, dir, "INBOX", NULL) != 0)
		return NULL;
	for (size_t i = 0; i < txn->n_mb; i++)
		if (strcmp(txn->mb[i].path, path) == 0)
			return &txn->mb[i];
	struct mbox_held *v = realloc(txn->mb, (txn->n_mb + 1) * sizeof *v);
	if (v == NULL)
		return NULL;
	txn->mb = v;
	struct mbox_held *h = &v[txn->n_mb];
	if (durable_mkdirs(dir, 0700) != 0 || mbox_lock(path, &h->lock) != 0)
		return NULL;
	memcpy(h->path, path, strlen(path) + 1);
	h->first_size = -1;
	txn->n_mb++;
	return h;
}

static int
add_mbox(struct mailbox_txn *txn, const char *dir, const char *sender,
    const char *prefix, size_t plen, int msg_fd, uint64_t msg_len)
{
	struct mbox_held *h = mbox_get(txn, dir);
	off_t old;
	if (h == NULL)
		return -1;
	if (mbox_append(&h->lock, sender, time(NULL), prefix, plen, msg_fd, msg_len, &old) != 0)
		return -1;
	if (h->first_size < 0) {
		h->first_size = old;
		/* The file may be new: make its directory entry durable. */
		if (old == 0 && durable_fsync_dir(dir) != 0)
			return -1;
	}
	return 0;
}

int
mailbox_txn_add(struct mailbox_txn *txn, const char *addr, const char *sender,
    int msg_fd, uint64_t msg_len)
{
	char dir[PATH_MAX];
	size_t plen;
	if (txn->committed) {
		errno = EINVAL;
		return -1;
	}
	if (mailbox_user_dir(txn->conf, addr, dir, sizeof dir) != 0)
		return -1;
	char *prefix = make_prefix(addr, sender, &plen);
	if (prefix == NULL)
		return -1;
	int r = txn->conf->mailbox_format == MAILBOX_MBOX
	    ? add_mbox(txn, dir, sender, prefix, plen, msg_fd, msg_len)
	    : add_maildir(txn, dir, prefix, plen, msg_fd, msg_len);
	int saved = errno;
	free(prefix);
	errno = saved;
	return r;
}

/* Truncates every mbox back to its size before the transaction. */
static void
mbox_rollback(struct mailbox_txn *txn)
{
	for (size_t j = 0; j < txn->n_mb; j++)
		if (txn->mb[j].first_size >= 0)
			mbox_truncate(&txn->mb[j].lock, txn->mb[j].first_size);
}

/* Links every Maildir copy; on a failure takes back those already linked,
 * so that the sender's retry finds nothing half-delivered. */
static int
maildir_publish_all(struct mailbox_txn *txn)
{
	for (size_t i = 0; i < txn->n_md; i++) {
		char dir[PATH_MAX];
		/* new/ must still be a writable directory for every copy. */
		if (path_printf(dir, sizeof dir, "%s", txn->md[i].tmp_path) != 0)
			return -1;
		char *t = strrchr(dir, '/');
		if (t != NULL && t - dir >= 4) {
			t[-4] = '\0';   /* strip "/tmp/<name>" */
			if ((md_held(txn, i) ? maildir_dirs_check(dir, &txn->dirs[i]) :
			    maildir_check_dirs(dir)) != 0)
				return -1;
		}
	}
	for (size_t i = 0; i < txn->n_md; i++) {
		if (md_commit(txn, i) == 0)
			continue;
		int saved = errno;
		for (size_t j = 0; j < i; j++)
			md_uncommit(txn, j);
		for (size_t j = i + 1; j < txn->n_md; j++)
			maildir_abort(&txn->md[j]);
		txn->n_md = 0;
		errno = saved;
		return -1;
	}
	/* txn->md keeps the new/ names until finish, to take them back. */
	return 0;
}

static void
mbox_unlock_all(struct mailbox_txn *txn)
{
	for (size_t j = 0; j < txn->n_mb; j++)
		mbox_unlock(&txn->mb[j].lock);
	txn->n_mb = 0;
}

int
mailbox_txn_publish(struct mailbox_txn *txn)
{
	if (txn->committed) {
		errno = EINVAL;
		return -1;
	}
	/* mbox copies are already fsync'd in place; only their locks remain,
	 * held until the Maildir copies (and the caller's spool file) are
	 * published too. */
	int r = maildir_publish_all(txn);
	int saved = errno;
	txn->committed = 1;
	if (r != 0) {
		for (size_t i = 0; i < txn->n_md; i++)
			maildir_abort(&txn->md[i]);
		txn->n_md = 0;
		mbox_rollback(txn);
		mbox_unlock_all(txn);
		txn->finished = 1;
	}
	errno = saved;
	return r;
}

void
mailbox_txn_finish(struct mailbox_txn *txn)
{
	txn->n_md = 0;
	mbox_unlock_all(txn);
	txn->finished = 1;
}

int
mailbox_txn_commit(struct mailbox_txn *txn)
{
	int r = mailbox_txn_publish(txn);
	if (r == 0)
		mailbox_txn_finish(txn);
	return r;
}

/* Takes back the copies of a published, unfinished transaction. A reader
 * that moved a Maildir copy from new/ to cur/ in that instant keeps it: the
 * sender's retry may then duplicate it, never lose it. */
static void
maildir_unpublish_all(struct mailbox_txn *txn)
{
	for (size_t i = 0; i < txn->n_md; i++)
		md_uncommit(txn, i);
	txn->n_md = 0;
}

void
mailbox_txn_free(struct mailbox_txn **txnp)
{
	struct mailbox_txn *txn = *txnp;
	if (txn == NULL)
		return;
	int saved = errno;
	if (txn->committed && !txn->finished)
		maildir_unpublish_all(txn);
	for (size_t i = 0; i < txn->n_md; i++)
		maildir_abort(&txn->md[i]);
	mbox_rollback(txn);
	for (size_t j = 0; j < txn->n_mb; j++)
		mbox_unlock(&txn->mb[j].lock);
	for (size_t i = 0; i < txn->n_dirs; i++)
		maildir_dirs_close(&txn->dirs[i]);
	free(txn->dirs);
	free(txn->md);
	free(txn->mb);
	free(txn);
	*txnp = NULL;
	errno = saved;
}
