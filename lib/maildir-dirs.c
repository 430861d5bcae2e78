/*
 * maildir-dirs.c — a Maildir's tmp/ and new/ held open for a delivery, and
 * the tmp/ sweep. Each is opened once with O_NOFOLLOW (S34) and used
 * through *at() calls; before publishing, maildir_dirs_check makes sure
 * they are still the directories their paths name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "durable.h"
#include "maildir.h"
#include "maildir-internal.h"
#include "path.h"

void
maildir_close_keep_errno(int fd)
{
	int saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
}

int
maildir_open_sub(const char *dir, const char *sub)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof path, dir, sub, NULL) != 0)
		return -1;
	return durable_open_dir(path);
}

int
maildir_dirs_open(const char *dir, struct maildir_dirs *m)
{
	m->tmp_fd = m->new_fd = -1;
	if ((m->tmp_fd = maildir_open_sub(dir, "tmp")) < 0 || (m->new_fd = maildir_open_sub(dir, "new")) < 0 ||
	    faccessat(m->tmp_fd, ".", W_OK | X_OK, AT_EACCESS) != 0 ||
	    faccessat(m->new_fd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
		maildir_dirs_close(m);
		return -1;
	}
	return 0;
}

/* fd is still the directory dir/sub, not one moved away or replaced by a
 * symlink (S34: ELOOP), and writable. */
static int
held_dir_check(const char *dir, const char *sub, int fd)
{
	char path[PATH_MAX];
	struct stat held, now;
	if (path_join(path, sizeof path, dir, sub, NULL) != 0)
		return -1;
	if (fstat(fd, &held) != 0 || lstat(path, &now) != 0)
		return -1;
	if (!S_ISDIR(now.st_mode)) {
		errno = S_ISLNK(now.st_mode) ? ELOOP : ENOTDIR;
		return -1;
	}
	if (held.st_dev != now.st_dev || held.st_ino != now.st_ino) {
		errno = ESTALE;
		return -1;
	}
	return faccessat(fd, ".", W_OK | X_OK, AT_EACCESS);
}

int
maildir_dirs_check(const char *dir, const struct maildir_dirs *m)
{
	if (held_dir_check(dir, "tmp", m->tmp_fd) != 0 || held_dir_check(dir, "new", m->new_fd) != 0)
		return -1;
	return 0;
}

void
maildir_dirs_close(struct maildir_dirs *m)
{
	maildir_close_keep_errno(m->tmp_fd);
	maildir_close_keep_errno(m->new_fd);
	m->tmp_fd = m->new_fd = -1;
}

int
maildir_check_dirs(const char *dir)
{
	struct maildir_dirs m;
	if (maildir_dirs_open(dir, &m) != 0)
		return -1;
	maildir_dirs_close(&m);
	return 0;
}

int
maildir_clean_tmp(const char *dir)
{
	int dfd = maildir_open_sub(dir, "tmp");
	if (dfd < 0)
		return -1;
	int r = maildir_clean_tmp_at(dfd);
	maildir_close_keep_errno(dfd);
	return r;
}

int
maildir_clean_tmp_at(int tmp_fd)
{
	/* A duplicate for the DIR stream: tmp_fd stays the caller's. */
	int dfd = fcntl(tmp_fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0)
		return -1;
	DIR *dp = fdopendir(dfd);
	if (dp == NULL) {
		maildir_close_keep_errno(dfd);
		return -1;
	}
	rewinddir(dp);
	time_t limit = time(NULL) - MAILDIR_TMP_MAX_AGE_SEC;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.' ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		/* Only old regular files: a delivery in progress is younger. */
		if (S_ISREG(st.st_mode) && st.st_mtime < limit && st.st_atime < limit)
			unlinkat(dfd, de->d_name, 0);
	}
	closedir(dp);
	return 0;
}
