/*
 * quota.c — storage usage of one user, counted from the store itself.
 *
 * Maildir++ keeps a maildirsize file that every writer must update and
 * that readers recount when it grows stale; here every writer (smtp-session,
 * imap-session, pop3-session's deletes, other tools) would have to keep it,
 * and a missed update makes the quota wrong until a recount. Counting from
 * the directory listings instead costs one readdir per folder (the S= size
 * in a Maildir name needs no stat), bounded by QUOTA_ENTRIES_MAX.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quota.h"
#include "users.h"

/* mbox folders may nest in directories; deeper trees are not walked. */
#define QUOTA_DEPTH_MAX 16

struct walk {
	uint64_t used;
	uint64_t entries;
};

/* Size from a Maildir name's ",S=<n>" field; 0 if it has none. */
static int
name_size(const char *name, uint64_t *r)
{
	const char *p = strstr(name, ",S=");
	if (p == NULL)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p + 3, &end, 10);
	if (errno != 0 || end == p + 3)
		return 0;
	*r = v;
	return 1;
}

static int
count_entry(struct walk *w)
{
	if (++w->entries > QUOTA_ENTRIES_MAX) {
		errno = E2BIG;
		return -1;
	}
	return 0;
}

/* Adds the messages of one Maildir cur/ or new/ directory. */
static int
maildir_sub(struct walk *w, int at, const char *sub)
{
	int fd = openat(at, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		uint64_t sz = 0;
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		r = count_entry(w);
		if (r == 0 && !name_size(de->d_name, &sz)) {
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
				continue; /* gone since the listing: not stored */
			if (!S_ISREG(st.st_mode))
				continue;
			sz = (uint64_t)st.st_size;
		}
		w->used += sz;
	}
	closedir(d);
	return r;
}

static int
maildir_folder(struct walk *w, int at, const char *folder)
{
	int fd = openat(at, folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	int r = maildir_sub(w, fd, "cur");
	if (r == 0)
		r = maildir_sub(w, fd, "new");
	close(fd);
	return r;
}

/* The root's own cur/ and new/ (INBOX), then every .Folder of Maildir++. */
static int
maildir_usage(struct walk *w, const char *root)
{
	DIR *d = opendir(root);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	int r = maildir_folder(w, dirfd(d), ".");
	struct dirent *de;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		r = count_entry(w);
		if (r == 0)
			r = maildir_folder(w, dirfd(d), de->d_name);
	}
	closedir(d);
	return r;
}

static int
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* Every mbox file under fd; dot files (UID lists, rewrites, appends in
 * progress) and dotlocks are the store's own, not messages. */
static int
mbox_usage(struct walk *w, int fd, int depth)
{
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.' || ends_with(de->d_name, ".lock"))
			continue;
		r = count_entry(w);
		if (r != 0 || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			w->used += (uint64_t)st.st_size;
		} else if (S_ISDIR(st.st_mode) && depth < QUOTA_DEPTH_MAX) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub >= 0)
				r = mbox_usage(w, sub, depth + 1);
		}
	}
	closedir(d);
	return r;
}

int
quota_usage(const struct conf *conf, const char *dir, uint64_t *used)
{
	struct walk w = { 0, 0 };
	int r;
	if (conf->mailbox_format == MAILBOX_MBOX) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			r = errno == ENOENT ? 0 : -1;
		else
			r = mbox_usage(&w, fd, 0);
	} else {
		r = maildir_usage(&w, dir);
	}
	*used = w.used;
	return r;
}

int
quota_limit(const struct conf *conf, const char *user, uint64_t *limit_r)
{
	int r = users_quota(conf, user, limit_r);
	if (r < 0)
		return -1;
	if (r == 0)
		*limit_r = conf->quota_storage;
	return 0;
}

int
quota_would_exceed(const struct conf *conf, const char *dir, uint64_t limit, uint64_t add)
{
	uint64_t used;
	if (limit == 0)
		return 0;
	if (quota_usage(conf, dir, &used) != 0)
		return -1;
	return add > limit || used > limit - add;
}
