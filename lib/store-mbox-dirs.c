/*
 * store-mbox-dirs.c — the folders of an mbox store (store.h): INBOX is
 * root/INBOX, the file delivery appends to; folder "a/b" is the file
 * root/a.b. Each moves with its index (store-mbox-uid.h), under the
 * delivery lock.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "durable.h"
#include "mailname.h"
#include "mbox.h"
#include "path.h"
#include "store-mbox.h"

/* File names that are not folders: INBOX, its dotlock, yubin's and POP3's
 * own files. */
static int
mbox_reserved(const char *f)
{
	size_t n = strlen(f);
	return f[0] == '.' || strcasecmp(f, "INBOX") == 0 || strcmp(f, "subscriptions") == 0 ||
	    strncmp(f, "yubin-", 6) == 0 || (n >= 5 && strcmp(f + n - 5, ".lock") == 0);
}

int
store_mbox_file(const struct store *s, const char *name, char *out, size_t size)
{
	char disk[MAILNAME_MAX * 3];
	if (strcmp(name, "INBOX") == 0)
		return path_join(out, size, s->root, "INBOX", NULL);
	if (mailname_to_disk(name, disk, sizeof disk) != 0 || disk[0] != '.' ||
	    mbox_reserved(disk + 1)) {
		errno = EINVAL;
		return -1;
	}
	return path_join(out, size, s->root, disk + 1, NULL);
}

/* 1 if path is an mbox file (a regular file, no symlink). */
static int
is_mbox_file(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int
mb_setup(struct store *s)
{
	/* the INBOX file is created by delivery or at the first open */
	return durable_mkdirs(s->root, 0700);
}

static int
mb_exists(const struct store *s, const char *name)
{
	char path[PATH_MAX];
	return store_mbox_file(s, name, path, sizeof path) == 0 && is_mbox_file(path);
}

/* Creates an empty mbox file, durably. 0 or -1 (EEXIST). */
static int
create_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	char dir[PATH_MAX];
	if (r != 0 || path_printf(dir, sizeof dir, "%s", path) != 0)
		return -1;
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	return durable_fsync_dir(dir);
}

static int
mb_create(struct store *s, const char *name)
{
	char path[PATH_MAX];
	if (store_mbox_file(s, name, path, sizeof path) != 0)
		return -1;
	/* "a/b" is the file a.b; parent "a" is made too, as for Maildir */
	for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
		char parent[MAILNAME_MAX], ppath[PATH_MAX];
		if ((size_t)(p - name) >= sizeof parent)
			break;
		memcpy(parent, name, (size_t)(p - name));
		parent[p - name] = '\0';
		if (strcmp(parent, "INBOX") != 0 &&
		    store_mbox_file(s, parent, ppath, sizeof ppath) == 0 && !is_mbox_file(ppath))
			create_file(ppath);
	}
	return create_file(path);
}

/* The index of an mbox file (store-mbox-uid.h): moves or goes with it.
 * 0, or -1 (ENAMETOOLONG). */
static int
sidecar_of(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	return path_printf(out, size, "%.*s/.%s.yubin-uids", (int)(base - path), path, base + 1);
}

static int
mb_remove(struct store *s, const char *name)
{
	char path[PATH_MAX], side[PATH_MAX];
	if (store_mbox_file(s, name, path, sizeof path) != 0)
		return -1;
	struct mbox_lock lk;
	if (mbox_lock(path, &lk) != 0) {
		errno = EBUSY;
		return -1;
	}
	int r = unlink(path);
	mbox_unlock(&lk);
	if (r != 0)
		return -1;
	if (sidecar_of(path, side, sizeof side) == 0)
		unlink(side);
	/* durable before the OK: a crash must not bring the folder back */
	return durable_fsync_dir(s->root);
}

/* Renames one mbox file (and its index) under its lock: a delivery
 * waiting for the lock opens the path again. */
static int
rename_file(const char *from, const char *to, int keep_sidecar)
{
	struct mbox_lock lk;
	char a[PATH_MAX], b[PATH_MAX];
	if (mbox_lock(from, &lk) != 0)
		return -1;
	/* one atomic step: killed before it, the folder has its old name;
	 * after, its new one (link then unlink left both names, and each
	 * open then refused a file with two links) */
	int r = renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
	mbox_unlock(&lk);
	if (r == 0 && !keep_sidecar && sidecar_of(from, a, sizeof a) == 0 &&
	    sidecar_of(to, b, sizeof b) == 0)
		rename(a, b);
	return r;
}

/* Children "from/x" follow as "to/x". */
static void
rename_children(struct store *s, const char *from, const char *to, store_moving_fn moving,
    void *arg)
{
	char fdisk[MAILNAME_MAX * 3], tdisk[MAILNAME_MAX * 3];
	if (mailname_to_disk(from, fdisk, sizeof fdisk) != 0 ||
	    mailname_to_disk(to, tdisk, sizeof tdisk) != 0)
		return;
	size_t fl = strlen(fdisk + 1);
	DIR *d = opendir(s->root);
	struct dirent *de;
	char kids[64][256];
	size_t nk = 0;
	while (d && (de = readdir(d)) != NULL && nk < 64)
		if (strncmp(de->d_name, fdisk + 1, fl) == 0 && de->d_name[fl] == '.' &&
		    !mbox_reserved(de->d_name) && strlen(de->d_name) < 256)
			snprintf(kids[nk++], 256, "%s", de->d_name);
	if (d)
		closedir(d);
	for (size_t i = 0; i < nk; i++) {
		char a[PATH_MAX], b[PATH_MAX], dot[300], old[MAILNAME_MAX];
		if (path_join(a, sizeof a, s->root, kids[i], NULL) != 0 ||
		    path_printf(b, sizeof b, "%s/%s%s", s->root, tdisk + 1, kids[i] + fl) != 0 ||
		    strlen(tdisk + 1) + strlen(kids[i] + fl) > 255)
			continue;
		if (moving && path_printf(dot, sizeof dot, ".%s", kids[i]) == 0 &&
		    mailname_from_disk(dot, old, sizeof old) == 0)
			moving(arg, old);
		rename_file(a, b, 0);
	}
}

static int
mb_rename(struct store *s, const char *from, const char *to, store_moving_fn moving, void *arg)
{
	char fpath[PATH_MAX], tpath[PATH_MAX];
	size_t fl = strlen(from);
	if (strncmp(to, from, fl) == 0 && to[fl] == '/') {
		errno = ELOOP;
		return -1;
	}
	if (store_mbox_file(s, to, tpath, sizeof tpath) != 0)
		return -1;
	if (store_mbox_file(s, from, fpath, sizeof fpath) != 0 || !is_mbox_file(fpath)) {
		errno = ENOENT;
		return -1;
	}
	if (strcmp(to, "INBOX") == 0 || is_mbox_file(tpath)) {
		errno = EEXIST;
		return -1;
	}
	if (moving)
		moving(arg, from);
	/* RENAME INBOX moves its messages; INBOX comes back empty. INBOX
	 * keeps its index: the new INBOX goes on with the same UIDVALIDITY
	 * and UIDs above the old ones */
	if (rename_file(fpath, tpath, strcmp(from, "INBOX") == 0) != 0)
		return -1;
	if (strcmp(from, "INBOX") != 0)
		rename_children(s, from, to, moving, arg);
	/* durable before the OK: a crash must not undo the rename */
	return durable_fsync_dir(s->root);
}

static int
mb_list(const struct store *s, store_name_fn add, void *arg)
{
	DIR *d = opendir(s->root);
	if (d == NULL)
		return -1;
	struct dirent *de;
	size_t count = 0;
	while ((de = readdir(d)) != NULL && count < IMAP_FOLDERS_MAX) {
		char path[PATH_MAX], dot[300], name[MAILNAME_MAX];
		if (mbox_reserved(de->d_name) || strlen(de->d_name) + 2 > sizeof dot)
			continue;
		snprintf(dot, sizeof dot, ".%s", de->d_name);
		if (mailname_from_disk(dot, name, sizeof name) != 0 || strcmp(name, "INBOX") == 0)
			continue;
		if (path_join(path, sizeof path, s->root, de->d_name, NULL) != 0 ||
		    !is_mbox_file(path))
			continue;
		add(arg, name);
		count++;
	}
	closedir(d);
	return 0;
}

static int
mb_open(struct store *s, const char *name, int readonly, struct folder **f_r)
{
	char path[PATH_MAX];
	if (store_mbox_file(s, name, path, sizeof path) != 0)
		return -1;
	if (strcmp(name, "INBOX") != 0 && !is_mbox_file(path)) {
		errno = ENOENT;
		return -1;
	}
	if (mboxf_open(f_r, path, name, readonly) == 0)
		return 0;
	/* the file is there: busy (locked) or unreadable */
	if (errno != ENOSPC && errno != EDQUOT)
		errno = EBUSY;
	return -1;
}

static int
mb_counts(struct store *s, const char *name, struct store_counts *k)
{
	struct folder *f;
	if (mb_open(s, name, 1, &f) != 0)
		return -1;
	folder_counts(f, k);
	folder_close(&f);
	return 0;
}

const struct store_ops store_mbox_ops = {
	.setup = mb_setup, .exists = mb_exists, .create = mb_create, .remove = mb_remove,
	.rename = mb_rename, .list = mb_list, .open = mb_open, .counts = mb_counts,
	.append = store_mbox_append, .copy = store_mbox_copy,
};
