/*
 * store-maildir-dirs.c — the folders of a Maildir++ store (store.h):
 * folder "a/b" is the directory root/.a.b (mailname.h), INBOX the root.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "durable.h"
#include "folder-uids.h"
#include "maildir.h"
#include "mailname.h"
#include "path.h"
#include "quota-file.h"
#include "store-maildir.h"

int
store_maildir_dir(const struct store *s, const char *name, char *out, size_t size)
{
	char disk[MAILNAME_MAX * 3];
	if (mailname_to_disk(name, disk, sizeof disk) != 0) {
		errno = EINVAL;
		return -1;
	}
	return disk[0] ? path_join(out, size, s->root, disk, NULL)
		       : path_printf(out, size, "%s", s->root);
}

int
store_maildir_is_folder(const char *dir)
{
	char cur[PATH_MAX];
	struct stat st;
	if (path_join(cur, sizeof cur, dir, "cur", NULL) != 0)
		return 0;
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && lstat(cur, &st) == 0 &&
	    S_ISDIR(st.st_mode);
}

static int
folder_make(const char *dir)
{
	struct stat st;
	/* A symlink planted as ".x" must not lead CREATE elsewhere (S34). */
	if (lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	if (maildir_create(dir) != 0)
		return -1;
	char marker[PATH_MAX];
	if (path_join(marker, sizeof marker, dir, "maildirfolder", NULL) != 0)
		return -1;
	int fd = open(marker, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* A DELETE moves the folder out of sight to yubin-deleted-<unique> (its
 * name starts with the time of the move, durable_unique_name), then
 * removes it; killed in between, it left it there. Removed here, those
 * moved over ten minutes ago: a DELETE running now keeps its own. */
#define DELETED_PREFIX "yubin-deleted-"
#define DELETED_AGE 600

static int remove_tree(const char *dir, int depth);

static void
sweep_deleted(const struct store *s)
{
	DIR *d = opendir(s->root);
	if (d == NULL)
		return;
	time_t now = time(NULL);
	size_t pl = strlen(DELETED_PREFIX);
	struct dirent *de;
	int swept = 0;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX], *end;
		struct stat st;
		if (strncmp(de->d_name, DELETED_PREFIX, pl) != 0)
			continue;
		long long when = strtoll(de->d_name + pl, &end, 10);
		if (end == de->d_name + pl || *end != '.' || when > (long long)now - DELETED_AGE)
			continue;
		if (path_join(path, sizeof path, s->root, de->d_name, NULL) == 0 &&
		    lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			remove_tree(path, 1);
			swept = 1;
		}
	}
	closedir(d);
	if (swept)
		quota_file_stale(s->root); /* its messages left without notes */
}

static int
md_setup(struct store *s)
{
	if (durable_mkdirs(s->root, 0700) != 0 || maildir_create(s->root) != 0)
		return -1;
	sweep_deleted(s);
	return 0;
}

static int
md_exists(const struct store *s, const char *name)
{
	char dir[PATH_MAX];
	return store_maildir_dir(s, name, dir, sizeof dir) == 0 && store_maildir_is_folder(dir);
}

static int
md_create(struct store *s, const char *name)
{
	char dir[PATH_MAX];
	if (store_maildir_dir(s, name, dir, sizeof dir) != 0)
		return -1;
	/* Parents first, so the hierarchy is complete (RFC 9051 §6.3.4). */
	for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
		char parent[MAILNAME_MAX], pdir[PATH_MAX];
		if ((size_t)(p - name) >= sizeof parent)
			break;
		memcpy(parent, name, (size_t)(p - name));
		parent[p - name] = '\0';
		if (strcmp(parent, "INBOX") == 0 || store_maildir_dir(s, parent, pdir, sizeof pdir) != 0)
			continue;
		if (!store_maildir_is_folder(pdir))
			folder_make(pdir);
	}
	return folder_make(dir);
}

/* Removes a folder directory: its message subdirectories and files. */
static int
remove_tree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char path[PATH_MAX];
		struct stat st;
		if (path_join(path, sizeof path, dir, de->d_name, NULL) != 0 || lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth > 0)
			remove_tree(path, depth - 1);
		else
			unlink(path);
	}
	closedir(d);
	return rmdir(dir);
}

static int
md_remove(struct store *s, const char *name)
{
	char dir[PATH_MAX], trash[PATH_MAX], uniq[256];
	if (store_maildir_dir(s, name, dir, sizeof dir) != 0)
		return -1;
	/* Out of sight at once by one rename, then removed. */
	if (durable_unique_name(uniq, sizeof uniq) != 0 ||
	    path_printf(trash, sizeof trash, "%s/" DELETED_PREFIX "%s", s->root, uniq) != 0 ||
	    rename(dir, trash) != 0)
		return -1;
	/* durable before the OK: a crash must not bring the folder back */
	int r = durable_fsync_dir(s->root);
	remove_tree(trash, 1);
	quota_file_stale(s->root); /* its messages left without notes */
	return r;
}

/* RENAME INBOX: its messages move to the new folder; INBOX stays, empty. */
static int
rename_inbox(struct store *s, const char *dir)
{
	struct maildir_entry *e;
	size_t n;
	if (folder_make(dir) != 0 || maildir_scan(s->root, 0, &e, &n) != 0)
		return -1;
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		char from[PATH_MAX], to[PATH_MAX];
		if (path_join(from, sizeof from, s->root, e[i].in_new ? "new" : "cur", e[i].name) != 0 ||
		    path_join(to, sizeof to, dir, e[i].in_new ? "new" : "cur", e[i].name) != 0 ||
		    rename(from, to) != 0)
			failed = 1;
	}
	maildir_entries_free(&e, n);
	/* both ends of every move on disk before the OK: the folder's and
	 * INBOX's own cur/ and new/ */
	static const char *const subs[] = { "cur", "new" };
	for (size_t i = 0; i < 4; i++) {
		char sub[PATH_MAX];
		if (path_join(sub, sizeof sub, i < 2 ? dir : s->root, subs[i % 2], NULL) != 0 ||
		    durable_fsync_dir(sub) != 0)
			failed = 1;
	}
	if (failed) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* 1 if the root's entry disk is a folder RENAME may move: its name a
 * folder name both ways (never pop3-session's ".pop3.lock" or another
 * file that merely starts alike). */
static int
folder_child(const struct store *s, const char *disk, char *name, size_t size)
{
	char path[PATH_MAX];
	return mailname_from_disk(disk, name, size) == 0 &&
	    path_join(path, sizeof path, s->root, disk, NULL) == 0 && store_maildir_is_folder(path);
}

/* Children ".from.x" follow as ".to.x", none over an entry already
 * there. */
static void
rename_children(struct store *s, const char *from, const char *to, store_moving_fn moving,
    void *arg)
{
	char fdisk[MAILNAME_MAX * 3], tdisk[MAILNAME_MAX * 3];
	if (mailname_to_disk(from, fdisk, sizeof fdisk) != 0 ||
	    mailname_to_disk(to, tdisk, sizeof tdisk) != 0)
		return;
	size_t fl = strlen(fdisk), n = 0, cap = 0;
	char **kids = NULL;
	DIR *d = opendir(s->root);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL && n < IMAP_FOLDERS_MAX) {
		char name[MAILNAME_MAX];
		if (strncmp(de->d_name, fdisk, fl) != 0 || de->d_name[fl] != '.' ||
		    !folder_child(s, de->d_name, name, sizeof name))
			continue;
		if (n == cap) {
			char **nk = realloc(kids, (cap ? cap * 2 : 16) * sizeof *kids);
			if (nk == NULL)
				break;
			kids = nk;
			cap = cap ? cap * 2 : 16;
		}
		if ((kids[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++) {
		char a[PATH_MAX], b[PATH_MAX], disk[MAILNAME_MAX * 3], name[MAILNAME_MAX];
		if (path_printf(disk, sizeof disk, "%s%s", tdisk, kids[i] + fl) == 0 &&
		    mailname_from_disk(disk, name, sizeof name) == 0 &&
		    path_join(a, sizeof a, s->root, kids[i], NULL) == 0 &&
		    path_join(b, sizeof b, s->root, disk, NULL) == 0) {
			char old[MAILNAME_MAX];
			if (moving && mailname_from_disk(kids[i], old, sizeof old) == 0)
				moving(arg, old);
			renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_NOREPLACE);
		}
		free(kids[i]);
	}
	free(kids);
}

static int
md_rename(struct store *s, const char *from, const char *to, store_moving_fn moving, void *arg)
{
	char fdir[PATH_MAX], tdir[PATH_MAX];
	if (store_maildir_dir(s, from, fdir, sizeof fdir) != 0 || store_maildir_dir(s, to, tdir, sizeof tdir) != 0)
		return -1;
	if (strcmp(to, "INBOX") == 0 || store_maildir_is_folder(tdir)) {
		errno = EEXIST;
		return -1;
	}
	if (strcmp(from, "INBOX") == 0)
		return rename_inbox(s, tdir);
	if (!store_maildir_is_folder(fdir)) {
		errno = ENOENT;
		return -1;
	}
	size_t flen = strlen(from);
	if (strncmp(to, from, flen) == 0 && to[flen] == '/') {
		errno = ELOOP;
		return -1;
	}
	if (moving)
		moving(arg, from);
	if (rename(fdir, tdir) != 0)
		return -1;
	rename_children(s, from, to, moving, arg);
	/* durable before the OK: a crash must not undo the rename */
	return durable_fsync_dir(s->root);
}

static int
md_list(const struct store *s, store_name_fn add, void *arg)
{
	DIR *d = opendir(s->root);
	if (d == NULL)
		return -1;
	struct dirent *de;
	size_t count = 0;
	while ((de = readdir(d)) != NULL && count < IMAP_FOLDERS_MAX) {
		char name[MAILNAME_MAX], dir[PATH_MAX];
		if (de->d_name[0] != '.' || mailname_from_disk(de->d_name, name, sizeof name) != 0 ||
		    strcmp(name, "INBOX") == 0)
			continue;
		if (path_join(dir, sizeof dir, s->root, de->d_name, NULL) == 0 && store_maildir_is_folder(dir)) {
			add(arg, name);
			count++;
		}
	}
	closedir(d);
	return 0;
}

static int
md_open(struct store *s, const char *name, int readonly, struct folder **f_r)
{
	char dir[PATH_MAX];
	if (store_maildir_dir(s, name, dir, sizeof dir) != 0)
		return -1;
	if (!store_maildir_is_folder(dir)) {
		errno = ENOENT;
		return -1;
	}
	if (folder_open(f_r, dir, name, readonly) == 0)
		return 0;
	/* there but unreadable: not to be told "doesn't exist" (a client
	 * may drop its cache of it) */
	if (errno == ENOENT && store_maildir_is_folder(dir))
		errno = EIO;
	return -1;
}

/* The counts of a folder not open here: its names and UID list alone. */
static int
md_counts(struct store *s, const char *name, struct store_counts *k)
{
	char dir[PATH_MAX];
	struct maildir_entry *e;
	size_t n;
	if (store_maildir_dir(s, name, dir, sizeof dir) != 0 || maildir_scan(dir, 0, &e, &n) != 0)
		return -1;
	uint32_t *uids = calloc(n ? n : 1, sizeof *uids), recent_from = 0;
	int r = uids ? folder_assign_uids_recent(dir, e, n, uids, &k->uidvalidity, &k->uidnext,
	    &recent_from) : -1;
	for (size_t i = 0; i < n; i++) {
		unsigned flags;
		uint32_t kw;
		char letters[MAILDIR_FLAGS_MAX];
		folder_parse_letters(maildir_entry_flags(&e[i], letters), &flags, &kw);
		k->messages++;
		k->unseen += !(flags & FL_SEEN);
		k->deleted += !!(flags & FL_DELETED);
		/* APPENDed, COPYed, MOVEd since the last taker are \Recent too */
		k->recent += e[i].in_new || (r == 0 && uids[i] >= recent_from);
		k->size += e[i].vsize ? e[i].vsize : e[i].size;
	}
	free(uids);
	maildir_entries_free(&e, n);
	return r;
}

const struct store_ops store_maildir_ops = {
	.setup = md_setup, .exists = md_exists, .create = md_create, .remove = md_remove,
	.rename = md_rename, .list = md_list, .open = md_open, .counts = md_counts,
	.append = store_maildir_append, .copy = store_maildir_copy,
};
