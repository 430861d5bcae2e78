/*
 * store-maildir-copy.c — APPEND, COPY and MOVE into a Maildir folder
 * (store.h), durable before they return (maildir_prepare fsyncs the
 * file, maildir_commit fsyncs new/).
 *
 * APPEND and COPY are all or none: every message is written and fsync'd
 * in tmp/ first, then each moved into new/; a failure part way takes
 * back the ones moved, so a retry does not double them. MOVE between
 * folders is one rename(2) per message (RENAME_NOREPLACE): the message
 * is in exactly one folder at every instant, never lost and never left
 * behind. The unique part of its name, and so its identity, stays; it
 * gets a new UID in the target folder.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "folder-int.h"
#include "folder-uids.h"
#include "maildir.h"
#include "path.h"
#include "store-maildir.h"

/* A folder handle for the keyword letters of a target: the caller's open
 * folder if it is the target, else one made here (just its keywords).
 * An open folder that is read-only (EXAMINE) would refuse to name a new
 * keyword and so drop it from the message: a fresh handle then. */
static struct folder *
target_open(struct folder *open, const char *dir)
{
	if (open != NULL && !open->readonly && strcmp(open->dir, dir) == 0)
		return open;
	struct folder *t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->ops = &folder_maildir_ops;
	if (path_printf(t->dir, sizeof t->dir, "%s", dir) != 0) {
		free(t);
		return NULL;
	}
	/* folder_keyword() reads the keyword file; a dummy lookup loads it. */
	folder_keyword(t, "", 0);
	return t;
}

static void
target_close(struct folder *open, struct folder **t)
{
	if (*t && *t != open)
		folder_close(t);
	*t = NULL;
}

/* Maildir info letters in the target for flags and keyword names. */
static void
target_letters(struct folder *t, unsigned flags, char *const *names, size_t nnames,
    char *out)
{
	uint32_t kw = 0;
	for (size_t i = 0; t && i < nnames; i++) {
		int k = folder_keyword(t, names[i], 1);
		if (k >= 0)
			kw |= 1u << k;
	}
	folder_flag_letters(flags & ~FL_RECENT, kw, out);
}

static size_t
base_len_of(const char *name)
{
	return strcspn(name, ",:");
}

/* The base name of a committed delivery, malloc'd (NULL: ENOMEM). */
static char *
base_of(const struct maildir_delivery *d)
{
	const char *base = strrchr(d->new_path, '/');
	base = base ? base + 1 : d->new_path;
	return strndup(base, base_len_of(base));
}

/* UIDs in dir of the messages with these base names. */
static int
uids_of(const char *dir, char **bases, size_t n, uint32_t *uids, uint32_t *validity)
{
	struct maildir_entry *e;
	size_t ne;
	uint32_t next;
	if (maildir_scan(dir, 0, &e, &ne) != 0)
		return -1;
	uint32_t *all = calloc(ne ? ne : 1, sizeof *all);
	int r = all ? folder_assign_uids(dir, e, ne, all, validity, &next) : -1;
	for (size_t i = 0; r == 0 && i < n; i++) {
		uids[i] = 0;
		size_t bl = strlen(bases[i]);
		for (size_t j = 0; j < ne; j++)
			if (e[j].base_len == bl && memcmp(e[j].name, bases[i], bl) == 0)
				uids[i] = all[j];
	}
	free(all);
	maildir_entries_free(&e, ne);
	return r;
}

static void
bases_free(char **bases, size_t n)
{
	for (size_t i = 0; bases && i < n; i++)
		free(bases[i]);
	free(bases);
}

/* CRLF → LF into a memory file, as Maildir stores messages. */
static int
message_to_fd(const char *data, size_t len, uint64_t *len_r)
{
	int fd = memfd_create("store-append", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	char *buf = malloc(len ? len : 1);
	if (buf == NULL) {
		close(fd);
		return -1;
	}
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
			continue;
		buf[o++] = data[i];
	}
	int r = durable_write_all(fd, buf, o);
	free(buf);
	if (r != 0 || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	*len_r = o;
	return fd;
}

/* Takes back deliveries: d[0..committed) moved into new/ (unlinked, new/
 * fsync'd by maildir_uncommit), d[committed..n) still in tmp/. */
static void
deliveries_undo(struct maildir_delivery *d, size_t committed, size_t n)
{
	int e = errno;
	for (size_t i = committed; i < n; i++)
		maildir_abort(&d[i]);
	for (size_t i = 0; i < committed; i++)
		if (d[i].new_path[0] != '\0')
			maildir_uncommit(&d[i]);
	errno = e;
}

/* Writes v[0..n) into dir's tmp/, each fsync'd. 0, or -1 with nothing
 * left behind. */
static int
append_prepare(const char *dir, const struct store_new *v, size_t n,
    struct maildir_delivery *d)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t len;
		int fd = message_to_fd(v[i].data, v[i].len, &len);
		int r = fd < 0 ? -1 : maildir_prepare(dir, NULL, 0, fd, len, &d[i]);
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (r != 0) {
			/* maildir_prepare left nothing behind of message i */
			deliveries_undo(d, 0, i);
			errno = e;
			return -1;
		}
	}
	return 0;
}

int
store_maildir_append(struct store *s, const char *name, struct folder *open,
    const struct store_new *v, size_t n, uint32_t *uids_r, uint32_t *validity_r)
{
	char dir[PATH_MAX];
	/* nothing to append: refused as mbox refuses it (and bases[n - 1]
	 * below needs one) */
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	if (store_maildir_dir(s, name, dir, sizeof dir) != 0)
		return -1;
	/* a list made now, before they come: they are past its recent
	 * marker (a list made later would take them as old); without one
	 * they still arrive */
	(void)folder_uids_init(dir);
	struct maildir_delivery *d = calloc(n ? n : 1, sizeof *d);
	char **bases = calloc(n ? n : 1, sizeof *bases);
	if (d == NULL || bases == NULL || append_prepare(dir, v, n, d) != 0) {
		int e = errno;
		free(d);
		free(bases);
		errno = e;
		return -1;
	}
	struct folder *t = target_open(open, dir);
	size_t committed = 0;
	for (; committed < n; committed++) {
		char letters[MAILDIR_FLAGS_MAX + 8];
		target_letters(t, v[committed].flags, v[committed].kwnames, v[committed].nkw, letters);
		if (maildir_commit_flags(&d[committed], letters, v[committed].when) != 0)
			break;
		if ((bases[committed] = base_of(&d[committed])) == NULL) {
			committed++;
			break;
		}
	}
	target_close(open, &t);
	if (committed < n || bases[n - 1] == NULL) {
		deliveries_undo(d, committed, n);
		bases_free(bases, n);
		free(d);
		return -1;
	}
	if (uids_of(dir, bases, n, uids_r, validity_r) != 0)
		memset(uids_r, 0, n * sizeof *uids_r);
	bases_free(bases, n);
	free(d);
	return 0;
}

static void
source_keywords(struct folder *f, const struct fmsg *m, char **names, size_t *n)
{
	*n = 0;
	for (int k = 0; k < FOLDER_KEYWORDS_MAX; k++)
		if ((m->keywords & (1u << k)) && f->kw[k])
			names[(*n)++] = f->kw[k];
}

/* Writes a copy of each message into dir's tmp/ with its mtime
 * (INTERNALDATE). 0, or -1 with nothing left behind. */
static int
copy_prepare(struct folder *f, const size_t *idx, size_t n, const char *dir,
    struct maildir_delivery *d, int *vanished)
{
	for (size_t i = 0; i < n; i++) {
		struct fmsg *m = &f->m[idx[i]];
		int fd = maildir_open(f->dir, &m->e);
		if (fd < 0 && errno == ENOENT)
			*vanished = 1;
		struct stat st;
		int r = fd < 0 || fstat(fd, &st) != 0 ? -1 :
		    maildir_prepare(dir, NULL, 0, fd, (uint64_t)st.st_size, &d[i]);
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (r != 0) {
			deliveries_undo(d, 0, i);
			errno = e;
			return -1;
		}
		/* the source's mtime (INTERNALDATE); atime now, else a tmp/
		 * cleaner may take an old message's copy for litter */
		struct timespec ts[2] = { { 0, UTIME_NOW }, st.st_mtim };
		utimensat(AT_FDCWD, d[i].tmp_path, ts, 0);
	}
	return 0;
}

/* Copies every message: all prepared first, then all committed; a
 * failure part way takes back what was committed, so the target is
 * unchanged. bases[i] gets copy i's base name. */
static int
copy_messages(struct folder *f, const size_t *idx, size_t n, const char *dir, char **bases,
    struct store_copied *out)
{
	struct maildir_delivery *d = calloc(n ? n : 1, sizeof *d);
	if (d == NULL || copy_prepare(f, idx, n, dir, d, &out->vanished) != 0) {
		free(d);
		return -1;
	}
	struct folder *t = target_open(f, dir);
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		struct fmsg *m = &f->m[idx[i]];
		char *names[FOLDER_KEYWORDS_MAX], letters[MAILDIR_FLAGS_MAX + 8];
		size_t nn;
		source_keywords(f, m, names, &nn);
		target_letters(t, m->flags, names, nn, letters);
		if (maildir_commit_flags(&d[i], letters, 0) != 0 ||
		    (bases[i] = base_of(&d[i])) == NULL) {
			deliveries_undo(d, d[i].new_path[0] != '\0' ? i + 1 : i, n);
			for (size_t k = 0; k <= i; k++) {
				free(bases[k]);
				bases[k] = NULL;
			}
			out->done = 0;
			r = -1;
			break;
		}
		out->src[i] = m->uid;
		out->done = i + 1;
	}
	target_close(f, &t);
	free(d);
	return r;
}

/* Moves every message by rename into dir/cur; stops at the first failure
 * (the messages moved so far are reported). */
static int
move_messages(struct folder *f, const size_t *idx, size_t n, const char *dir, char **bases,
    struct store_copied *out)
{
	struct folder *t = target_open(f, dir);
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		struct fmsg *m = &f->m[idx[i]];
		char *names[FOLDER_KEYWORDS_MAX], letters[MAILDIR_FLAGS_MAX + 8], newname[512];
		size_t nn;
		source_keywords(f, m, names, &nn);
		target_letters(t, m->flags, names, nn, letters);
		if (maildir_move(f->dir, &m->e, dir, letters, newname, sizeof newname) != 0) {
			out->vanished = errno == ENOENT;
			r = -1;
			break;
		}
		m->gone = 1;
		out->src[i] = m->uid;
		out->done = i + 1;
		if ((bases[i] = strndup(m->e.name, m->e.base_len)) == NULL) {
			r = -1;
			break;
		}
	}
	target_close(f, &t);
	int e = errno;
	char sub[PATH_MAX];
	if (path_join(sub, sizeof sub, dir, "cur", NULL) != 0 || durable_fsync_dir(sub) != 0) {
		e = errno;
		r = -1;
	}
	if (path_join(sub, sizeof sub, f->dir, "cur", NULL) == 0)
		durable_fsync_dir(sub);
	if (path_join(sub, sizeof sub, f->dir, "new", NULL) == 0)
		durable_fsync_dir(sub);
	errno = e;
	return r;
}

/* MOVE within one folder: the copies made, the originals unlinked (made
 * durable with the flags, folder_flags_durable). */
static void
drop_copied(struct folder *f, const size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct fmsg *m = &f->m[idx[i]];
		if (maildir_remove(f->dir, &m->e) == 0 || errno == ENOENT)
			m->gone = 1;
	}
	f->flags_pending |= FOLDER_PENDING_CUR | FOLDER_PENDING_NEW;
}

int
store_maildir_copy(struct store *s, struct folder *f, const size_t *idx, size_t n,
    const char *name, int move, struct store_copied *out)
{
	char dir[PATH_MAX];
	if (store_maildir_dir(s, name, dir, sizeof dir) != 0)
		return -1;
	char **bases = calloc(n ? n : 1, sizeof *bases);
	if (bases == NULL)
		return -1;
	(void)folder_uids_init(dir);
	int same = strcmp(dir, f->dir) == 0, r;
	if (move && !same) {
		r = move_messages(f, idx, n, dir, bases, out);
	} else {
		r = copy_messages(f, idx, n, dir, bases, out);
		if (r == 0 && move)
			drop_copied(f, idx, n);
	}
	int e = errno;
	uint32_t validity;
	if (out->done > 0 && uids_of(dir, bases, out->done, out->dst, &validity) == 0)
		out->validity = validity;
	bases_free(bases, n);
	errno = e;
	return r;
}
