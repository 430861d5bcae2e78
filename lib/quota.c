/*
 * quota.c — storage usage of one user.
 *
 * Maildir: the usage is read from the Maildir++ file maildirsize
 * (quota-file.h), which every addition and removal of lib/maildir.c keeps
 * up to date; it is recounted from the store — one readdir per folder, the
 * S= size in a name needs no stat, bounded by QUOTA_ENTRIES_MAX — when it
 * is missing, damaged, too long or older than the boot, and before any
 * refusal unless it is a recount younger than QUOTA_RECOUNT_AGE: a count
 * left high by a crash or by mail removed behind yubin's back never
 * refuses a user who is under the quota.
 *
 * mbox: the usage is the size of each folder file, one stat per folder:
 * already as cheap as reading a usage file would be, and always true even
 * though every flag change rewrites headers and so changes the size.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quota-file.h"
#include "quota.h"
#include "users.h"

/* mbox folders may nest in directories; deeper trees are not walked. */
#define QUOTA_DEPTH_MAX 16

/* Maildir++'s age after which a count that refuses is made again, for
 * changes made behind yubin's back (a shell user's rm, another MDA). */
#define QUOTA_RECOUNT_AGE (15 * 60)

struct walk {
	uint64_t used;
	uint64_t entries;
	uint64_t messages;
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
		w->messages++;
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

/* Counts the Maildir at root afresh and keeps the count in its usage
 * file, under the file's exclusive lock (quota-file.h). */
static int
maildir_recount(const char *root, uint64_t limit, uint64_t *used)
{
	struct walk w = { 0, 0, 0 };
	struct quota_file_sum sum;
	time_t start = time(NULL);
	int fd = quota_file_lock(root);
	if (fd < 0 && errno == ENOENT) {
		*used = 0; /* no mailbox yet */
		return 0;
	}
	/* Another session may have counted while this one waited. */
	if (fd >= 0 && quota_file_read(fd, &sum) == 1 && sum.lines == 1 && sum.mtime >= start) {
		close(fd);
		*used = sum.bytes;
		return 0;
	}
	int r = maildir_usage(&w, root);
	if (fd >= 0) {
		int saved = errno;
		if (r == 0)
			(void)quota_file_replace(root, fd, limit, w.used, w.messages);
		else
			close(fd);
		errno = saved;
	}
	*used = w.used;
	return r;
}

/* The usage from the file, or from a recount; *fresh_r: it is a recount
 * younger than QUOTA_RECOUNT_AGE. */
static int
maildir_counted(const char *root, uint64_t limit, uint64_t *used, int *fresh_r)
{
	struct quota_file_sum sum;
	int fd = quota_file_open(root), valid = 0;
	if (fd >= 0) {
		valid = quota_file_read(fd, &sum);
		close(fd);
	}
	if (valid == 1) {
		*used = sum.bytes;
		*fresh_r = sum.lines == 1 && time(NULL) - sum.mtime < QUOTA_RECOUNT_AGE;
		return 0;
	}
	*fresh_r = 1;
	return maildir_recount(root, limit, used);
}

static int
usage_of(const struct conf *conf, const char *dir, uint64_t limit, uint64_t *used,
    int *fresh_r)
{
	struct walk w = { 0, 0, 0 };
	int r;
	if (conf->mailbox_format != MAILBOX_MBOX)
		return maildir_counted(dir, limit, used, fresh_r);
	*fresh_r = 1;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		r = errno == ENOENT ? 0 : -1;
	else
		r = mbox_usage(&w, fd, 0);
	*used = w.used;
	return r;
}

int
quota_usage(const struct conf *conf, const char *dir, uint64_t limit, uint64_t *used)
{
	int fresh;
	return usage_of(conf, dir, limit, used, &fresh);
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
	int fresh;
	if (limit == 0)
		return 0;
	if (add > limit)
		return 1;
	if (usage_of(conf, dir, limit, &used, &fresh) != 0)
		return -1;
	/* A refusal is made on a fresh count only (see the head comment). */
	if (used > limit - add && !fresh && maildir_recount(dir, limit, &used) != 0)
		return -1;
	return used > limit - add;
}
