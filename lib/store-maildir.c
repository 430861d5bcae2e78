/*
 * store-maildir.c — an open Maildir folder (folder.h): flags, and
 * syncing a session's view with the directory; its ops table (the UID
 * list and keywords are in folder-keywords.c, message content in
 * folder-content.c, the folders themselves in store-maildir-dirs.c).
 */
#include "folder.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "folder-int.h"
#include "mime.h"
#include "path.h"

/* ---- flags ---- */

static const struct {
	char letter;
	unsigned flag;
} letter_map[] = {
	{ 'D', FL_DRAFT }, { 'F', FL_FLAGGED }, { 'R', FL_ANSWERED },
	{ 'S', FL_SEEN }, { 'T', FL_DELETED },
};

void
folder_flag_letters(unsigned flags, uint32_t keywords, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < sizeof letter_map / sizeof letter_map[0]; i++)
		if (flags & letter_map[i].flag)
			out[o++] = letter_map[i].letter;
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		if (keywords & (1u << i))
			out[o++] = (char)('a' + i);
	out[o] = '\0';
}

void
folder_parse_letters(const char *letters, unsigned *flags_r, uint32_t *keywords_r)
{
	unsigned flags = 0;
	uint32_t kw = 0;
	for (const char *p = letters; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			kw |= 1u << (*p - 'a');
		for (size_t i = 0; i < sizeof letter_map / sizeof letter_map[0]; i++)
			if (*p == letter_map[i].letter)
				flags |= letter_map[i].flag;
	}
	*flags_r = flags;
	*keywords_r = kw;
}

/* Letters of the name that yubin does not know (e.g. 'P'): kept as they are. */
static void
foreign_letters(const char *letters, char *out)
{
	size_t o = 0;
	for (const char *p = letters; *p; p++)
		if (*p >= 'A' && *p <= 'Z' && !strchr("DFRST", *p))
			out[o++] = *p;
	out[o] = '\0';
}

int
folder_set_flags(struct folder *f, size_t idx, unsigned flags, uint32_t keywords)
{
	struct fmsg *m = &f->m[idx];
	int same = (m->flags & ~FL_RECENT) == (flags & ~FL_RECENT) && m->keywords == keywords;
	if (f->ops->set_flags(f, idx, flags, keywords) != 0)
		return -1;
	/* a change gets a new modseq when it is committed (folder_commit) */
	if (!same)
		m->ms_dirty = 1;
	return 0;
}

/* Maildir: the file renamed to its new info letters. */
static int
mdf_set_flags(struct folder *f, size_t idx, unsigned flags, uint32_t keywords)
{
	struct fmsg *m = &f->m[idx];
	char letters[MAILDIR_FLAGS_MAX + 8], foreign[MAILDIR_FLAGS_MAX];
	foreign_letters(maildir_entry_flags(&m->e, letters), foreign);
	folder_flag_letters(flags & ~FL_RECENT, keywords, letters);
	if (strlen(letters) + strlen(foreign) >= MAILDIR_FLAGS_MAX) {
		errno = EINVAL;
		return -1;
	}
	strcat(letters, foreign);
	/* The directory fsync comes once per command (folder_flags_durable).
	 * Marked whether or not this call renamed: a retry may find the file
	 * renamed by another session, or back in new/. */
	for (int tries = 0;; tries++) {
		f->flags_pending |= FOLDER_PENDING_CUR | (m->e.in_new || tries ? FOLDER_PENDING_NEW : 0);
		int r = maildir_set_flags(f->dir, &m->e, letters);
		if (r == 0)
			break;
		if (errno == ENOENT && tries == FOLDER_OPEN_TRIES)
			break; /* expunged elsewhere: this view only (folder.h) */
		if (errno != ENOENT)
			return -1;
		struct timespec pause = { 0, 2000000L * (tries + 1) };
		nanosleep(&pause, NULL);
	}
	m->flags = (m->flags & FL_RECENT) | (flags & ~FL_RECENT);
	m->keywords = keywords;
	return 0;
}

/* Sets f->vanished if the folder's directory (or its cur/) is no longer
 * at its path: after a failed look, never on a good one. */
static void
folder_check_vanished(struct folder *f)
{
	char cur[PATH_MAX];
	struct stat st;
	if (path_join(cur, sizeof cur, f->dir, "cur", NULL) != 0)
		return;
	if ((lstat(f->dir, &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) ||
	    (lstat(cur, &st) != 0 && (errno == ENOENT || errno == ENOTDIR)))
		f->vanished = 1;
}

static int
fsync_sub(const char *dir, const char *sub)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof path, dir, sub, NULL) != 0)
		return -1;
	return durable_fsync_dir(path);
}

int
folder_flags_durable(struct folder *f)
{
	if (f->flags_pending == 0)
		return 0;
	/* cur/ first: a message that left new/ is in cur/ before new/ loses it */
	if (((f->flags_pending & FOLDER_PENDING_CUR) && fsync_sub(f->dir, "cur") != 0) ||
	    ((f->flags_pending & FOLDER_PENDING_NEW) && fsync_sub(f->dir, "new") != 0)) {
		int e = errno;
		folder_check_vanished(f);
		errno = e;
		return -1;
	}
	f->flags_pending = 0;
	return 0;
}

/* ---- held message files (folder.h) ---- */

void
folder_release(struct folder *f, struct fmsg *m)
{
	f->ops->release(f, m);
}

static void
mdf_release(struct folder *f, struct fmsg *m)
{
	if (m->fd < 0)
		return;
	close(m->fd);
	m->fd = -1;
	f->held--;
}

/* Lets the held file of the lowest-numbered message go. */
static void
release_oldest(struct folder *f)
{
	for (size_t i = f->held_hint; i < f->n; i++)
		if (f->m[i].fd >= 0) {
			folder_release(f, &f->m[i]);
			f->held_hint = i + 1;
			return;
		}
	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].fd >= 0) {
			folder_release(f, &f->m[i]);
			f->held_hint = i + 1;
			return;
		}
}

int
folder_hold(struct folder *f, struct fmsg *m)
{
	if (m->fd >= 0)
		return 0;
	int fd = folder_open_message(f, m);
	if (fd < 0)
		return -1;
	if (f->held >= FOLDER_HELD_MAX)
		release_oldest(f);
	m->fd = fd;
	f->held++;
	struct stat st;
	if (!m->mtime_known && fstat(fd, &st) == 0) {
		m->e.mtime = st.st_mtime;
		m->mtime_known = 1;
	}
	return 0;
}

/* ---- open and sync ---- */

static int
fmsg_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct fmsg *)a)->uid, y = ((const struct fmsg *)b)->uid;
	return x < y ? -1 : x > y;
}

/* Scans dir and returns messages (with UIDs) sorted by UID, their names
 * in *names_r. */
static int
folder_scan(struct folder *f, struct fmsg **list_r, size_t *n_r, struct maildir_names **names_r)
{
	struct maildir_entry *e;
	size_t n;
	if (maildir_scan_packed(f->dir, 0, &e, &n, names_r) != 0)
		return -1;
	uint32_t *uids = calloc(n ? n : 1, sizeof *uids), recent_from;
	struct fmsg *list = calloc(n ? n : 1, sizeof *list);
	if (uids == NULL || list == NULL ||
	    folder_uids_assign(f->dir, e, n, uids, &f->uidvalidity, &f->uidnext,
	    f->readonly ? FOLDER_RECENT_LOOK : FOLDER_RECENT_CLAIM, &recent_from) != 0) {
		free(uids);
		free(list);
		maildir_entries_free(&e, n);
		maildir_names_free(*names_r);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		list[i].uid = uids[i];
		list[i].fd = -1;
		list[i].e = e[i];
		char letters[MAILDIR_FLAGS_MAX];
		folder_parse_letters(maildir_entry_flags(&e[i], letters), &list[i].flags,
		    &list[i].keywords);
		/* \Recent by the marker; one still in new/ is the session's
		 * that moves it out (folder_take_recent), whatever its UID */
		if (uids[i] >= recent_from && (!e[i].in_new || f->readonly))
			list[i].flags |= FL_RECENT;
	}
	free(uids);
	free(e); /* the names now belong to list */
	if (n > 1)
		qsort(list, n, sizeof *list, fmsg_cmp);
	*list_r = list;
	*n_r = n;
	return 0;
}

static int
folder_grow(struct folder *f, size_t want)
{
	if (want <= f->cap)
		return 0;
	size_t cap = f->cap ? f->cap : 64;
	while (cap < want)
		cap *= 2;
	struct fmsg *p = realloc(f->m, cap * sizeof *p);
	if (p == NULL)
		return -1;
	f->m = p;
	f->cap = cap;
	return 0;
}

/* Moves a message from new/ to cur/ (its info as it is). 0, or -1 if it
 * is not there (another session moved it first) or the rename failed.
 * No lookup elsewhere, as maildir_set_flags does: the rename that
 * succeeds is the one claim of the message. */
static int
take_from_new(struct folder *f, struct fmsg *m)
{
	char path[PATH_MAX], name[NAME_MAX + 1], letters[MAILDIR_FLAGS_MAX];
	size_t base = strcspn(m->e.name, ":");
	int len = snprintf(name, sizeof name, "%.*s:2,%s", (int)base, m->e.name,
	    maildir_entry_flags(&m->e, letters));
	if (len < 0 || (size_t)len >= sizeof name)
		return -1;
	char *copy = strdup(name);
	if (copy == NULL)
		return -1;
	int from = path_join(path, sizeof path, f->dir, "new", NULL) == 0 ? durable_open_dir(path) : -1;
	int to = from >= 0 && path_join(path, sizeof path, f->dir, "cur", NULL) == 0
	    ? durable_open_dir(path) : -1;
	int r = to >= 0 ? renameat(from, m->e.name, to, copy) : -1;
	if (from >= 0)
		close(from);
	if (to >= 0)
		close(to);
	if (r != 0) {
		free(copy);
		return -1;
	}
	maildir_entry_free_name(&m->e);
	m->e.name = copy;
	m->e.in_new = 0;
	return 0;
}

/* \Recent for this session only (RFC 9051 §2.3.2): a message past the
 * UID list's recent marker that this scan claimed (FL_RECENT set by
 * folder_scan), or one found in new/ that a read-write session moves to
 * cur/. A read-only session (EXAMINE) claims nothing: it shows what is
 * new as \Recent and leaves it for the next session. */
static void
folder_take_recent(struct folder *f, struct fmsg *m)
{
	if (!(m->flags & FL_RECENT) && m->e.in_new &&
	    (f->readonly || take_from_new(f, m) == 0))
		m->flags |= FL_RECENT;
	if (m->flags & FL_RECENT)
		f->recent++;
}

/* Why directory times are not simply compared: a change stamps new/ or
 * cur/ with the kernel's coarse clock (a tick of 1-10 ms) cut to the file
 * system's granule (1 ns on ext4, xfs, btrfs, tmpfs; 1 s on some others,
 * 2 s on FAT), so a delivery in the same granule as the change that gave
 * the time we saw leaves the time as it was, and a scan taken just before
 * that delivery would be believed for good. Such a time can be trusted
 * only once it is over a granule old: every change after that gets a
 * later time. So folder_unchanged() notes at each stat whether the times
 * were already that old (the clock read before the stat), and skips the
 * rescan only for the same times noted as settled. A time with
 * nanoseconds comes from a fine file system: its granule is the tick,
 * and FOLDER_MTIME_FINE_NSEC is above the 10 ms of HZ=100 with margin.
 * A time on a whole second may be a coarse file system's (or, once in a
 * few hundred, a fine one's): 2 s, as Dovecot's maildir syncing waits.
 * (Checking the age at the next look instead, as this did before, both
 * rescans for 2 s after every change, the SELECT that moves new/ into
 * cur/ or a STORE, and trusts a time that was fresh at the scan.)
 * Times set by another host's clock (NFS) need clocks in step (NTP); the
 * attribute cache there can hide a change for its lifetime (actimeo):
 * mount with a short one where sessions share a mailbox across hosts. */
#define FOLDER_MTIME_FINE_NSEC (50 * 1000000LL)
#define FOLDER_MTIME_COARSE_SEC 2

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* 1 if a change after now gets a time other than t (see above); a time
 * ahead of the clock never is. */
static int
mtime_settled(const struct timespec *t, const struct timespec *now)
{
	long long age_ns = ((long long)now->tv_sec - (long long)t->tv_sec) * 1000000000LL +
	    (now->tv_nsec - t->tv_nsec);
	long long granule = t->tv_nsec != 0 ? FOLDER_MTIME_FINE_NSEC
	    : FOLDER_MTIME_COARSE_SEC * 1000000000LL;
	return age_ns > granule;
}

/* 1 if neither new/ nor cur/ changed since the last scan; saves their
 * times (taken before the scan, so later changes are seen next time) and
 * whether they were settled then. */
static int
folder_unchanged(struct folder *f)
{
	char path[PATH_MAX];
	struct stat sn, sc;
	struct timespec now;
	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return 0;
	if (path_join(path, sizeof path, f->dir, "new", NULL) != 0 || stat(path, &sn) != 0)
		return 0;
	if (path_join(path, sizeof path, f->dir, "cur", NULL) != 0 || stat(path, &sc) != 0)
		return 0;
	int same = f->scanned && f->settled && same_time(&sn.st_mtim, &f->new_mtime) &&
	    same_time(&sc.st_mtim, &f->cur_mtime);
	f->new_mtime = sn.st_mtim;
	f->cur_mtime = sc.st_mtim;
	f->settled = mtime_settled(&sn.st_mtim, &now) && mtime_settled(&sc.st_mtim, &now);
	return same;
}

int
folder_sync(struct folder *f)
{
	if (f->ops->sync(f) != 0)
		return -1;
	folder_modseq_sync(f);
	return 0;
}

/* After a sync every message still there has its name from the new scan
 * (names); those gone elsewhere get copies of theirs, so the names of
 * earlier scans can go. Kept (linked) if a copy fails. */
static void
adopt_names(struct folder *f, struct maildir_names *names)
{
	int all = 1;
	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].gone && maildir_entry_own_name(&f->m[i].e) != 0)
			all = 0;
	if (all) {
		maildir_names_free(f->md_names);
		f->md_names = NULL;
	}
	names->next = f->md_names;
	f->md_names = names;
}

/* The first look of a session: the scan's list becomes the folder's
 * messages as it is (no second array of them at the peak of SELECT). */
static void
first_sync(struct folder *f, struct fmsg *list, size_t n, struct maildir_names *names)
{
	f->m = list;
	f->cap = n ? n : 1;
	f->n = n;
	for (size_t i = 0; i < n; i++)
		folder_take_recent(f, &f->m[i]);
	f->new_messages = n > 0;
	adopt_names(f, names);
}

static int
mdf_sync(struct folder *f)
{
	struct fmsg *list;
	size_t n;
	struct maildir_names *names;
	if (folder_unchanged(f))
		return 0;
	if (folder_scan(f, &list, &n, &names) != 0) {
		int e = errno;
		f->scanned = 0;
		folder_check_vanished(f);
		errno = e;
		return -1;
	}
	f->scanned = 1;
	folder_keywords_read(f);
	if (f->n == 0 && f->m == NULL) {
		first_sync(f, list, n, names);
		return 0;
	}
	size_t i = 0, j = 0, old_n = f->n;
	uint32_t max_uid = old_n ? f->m[old_n - 1].uid : 0;
	while (i < old_n || j < n) {
		if (j == n || (i < old_n && f->m[i].uid < list[j].uid)) {
			f->m[i++].gone = 1;
			continue;
		}
		if (i == old_n || list[j].uid < f->m[i].uid) {
			if (list[j].uid > max_uid && folder_grow(f, f->n + 1) == 0) {
				struct fmsg *m = &f->m[f->n];
				*m = list[j];
				/* not opened here: an unchanged folder is selected
				 * without reading a message file; its file is held
				 * from its first read (folder_hold, folder.h) */
				folder_take_recent(f, m);
				f->n++;
				f->new_messages = 1;
			} else {
				maildir_entry_free_name(&list[j].e);
			}
			j++;
			continue;
		}
		struct fmsg *m = &f->m[i];
		list[j].flags &= ~FL_RECENT; /* decided when the message came */
		if ((m->flags & ~FL_RECENT) != list[j].flags || m->keywords != list[j].keywords) {
			m->changed = 1;
			m->flags = (m->flags & FL_RECENT) | list[j].flags;
			m->keywords = list[j].keywords;
		}
		maildir_entry_free_name(&m->e);
		time_t mt = m->e.mtime;
		uint64_t vsize = m->e.vsize;
		m->e = list[j].e;
		if (m->mtime_known)
			m->e.mtime = mt;
		/* a size counted from the file (no W= in the name) stays
		 * true: a message file's content never changes */
		if (m->e.vsize == 0)
			m->e.vsize = vsize;
		i++;
		j++;
	}
	free(list);
	adopt_names(f, names);
	return 0;
}

void
folder_remove_gone(struct folder *f, size_t idx)
{
	if (f->m[idx].flags & FL_RECENT)
		f->recent--;
	folder_release(f, &f->m[idx]);
	f->held_hint = 0;
	maildir_entry_free_name(&f->m[idx].e);
	memmove(&f->m[idx], &f->m[idx + 1], (f->n - idx - 1) * sizeof *f->m);
	f->n--;
	if (idx < f->reported)
		f->reported--;
	f->cache_uid = 0;
}

int
folder_open(struct folder **f_r, const char *dir, const char *name, int readonly)
{
	struct folder *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	if (path_printf(f->dir, sizeof f->dir, "%s", dir) != 0) {
		free(f);
		return -1;
	}
	snprintf(f->name, sizeof f->name, "%s", name);
	f->readonly = readonly;
	f->ops = &folder_maildir_ops;
	struct stat st;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || folder_sync(f) != 0) {
		int saved = errno;
		folder_close(&f);
		errno = saved ? saved : ENOENT;
		return -1;
	}
	f->reported = f->n;
	f->new_messages = 0;
	*f_r = f;
	return 0;
}

void
folder_close(struct folder **fp)
{
	struct folder *f = *fp;
	if (f == NULL)
		return;
	folder_cache_drop(f);
	folder_cache_close(f);
	if (f->ops != NULL)
		f->ops->close(f);
	for (size_t i = 0; i < f->n; i++) {
		folder_release(f, &f->m[i]);
		maildir_entry_free_name(&f->m[i].e);
	}
	free(f->m);
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		free(f->kw[i]);
	free(f);
	*fp = NULL;
}

/* Maildir holds its messages' files (released by folder_close) and the
 * blocks of their names. */
static void
mdf_close(struct folder *f)
{
	/* folder_close frees the messages' own names after this: a packed
	 * one is only forgotten there */
	maildir_names_free(f->md_names);
	f->md_names = NULL;
}

const struct folder_ops folder_maildir_ops = {
	.sync = mdf_sync, .set_flags = mdf_set_flags, .commit = mdf_commit,
	.expunge = mdf_expunge, .watch = mdf_watch, .keyword = mdf_keyword,
	.message = mdf_message, .header = mdf_header, .stat = mdf_stat,
	.release = mdf_release, .close = mdf_close, .cache_key = mdf_cache_key,
	.state_path = mdf_state_path,
};
