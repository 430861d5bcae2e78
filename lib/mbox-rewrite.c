/*
 * mbox-rewrite.c — replacing a locked mbox by a new version of itself
 * (messages removed, headers rewritten) so that at every instant the file
 * at its path holds either the old or the new set of whole messages.
 *
 * The new version is written to ".<name>.yubin-rw.XXXXXX" beside the mbox
 * (O_EXCL, mode 0600, then the mbox's mode and, where the process may set
 * it, its owner), fsync'd, renamed over the mbox, and the directory
 * fsync'd. A writer killed before the rename leaves the old mbox untouched
 * and the copy, which the next lock holder removes (mbox_rewrite_clean:
 * only a lock holder makes copies, so under the lock every copy is a dead
 * one's). A delivery that waited for the lock on the old inode notices the
 * rename when it gets the lock (mbox_lock) and opens the new file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "mbox-internal.h"
#include "mbox.h"
#include "path.h"

#define REWRITE_TAG ".yubin-rw."

void
mbox_signals_hold(sigset_t *old)
{
	sigset_t hold;
	sigemptyset(&hold);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGALRM);
	sigprocmask(SIG_BLOCK, &hold, old);
}

void
mbox_signals_release(const sigset_t *old)
{
	int saved = errno;
	sigprocmask(SIG_SETMASK, old, NULL);
	errno = saved;
}

/* Splits path into its directory (into dir) and its last component. */
static const char *
split_path(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 1;
	if (n >= size)
		n = size - 1;
	memcpy(dir, slash ? path : ".", n);
	dir[n] = '\0';
	return slash ? slash + 1 : path;
}

void
mbox_rewrite_clean(const char *path)
{
	char dir[4096], prefix[4096];
	const char *base = split_path(path, dir, sizeof dir);
	int n = snprintf(prefix, sizeof prefix, ".%s" REWRITE_TAG, base);
	if (n < 0 || (size_t)n >= sizeof prefix)
		return;
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, (size_t)n) == 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* The copy gets the mbox's mode, and its owner where we may set it (a
 * session runs as one user: an mbox made by root stays readable to it). */
static void
copy_owner(int fd, int mbox_fd)
{
	struct stat st;
	if (fstat(mbox_fd, &st) != 0)
		return;
	if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) != 0)
		(void)0;   /* the copy stays ours, with the mbox's mode */
	if (fchmod(fd, st.st_mode & 0777) != 0)
		(void)0;   /* 0600 from mkostemp stays */
}

int
mbox_rewrite_begin(struct mbox_lock *lock, struct mbox_rewrite *rw)
{
	char dir[4096];
	rw->fd = -1;
	if (lock->fd < 0 || lock->path[0] == '\0') {
		errno = EBADF;
		return -1;
	}
	const char *base = split_path(lock->path, dir, sizeof dir);
	if (path_printf(rw->tmp, sizeof rw->tmp, "%s/.%s" REWRITE_TAG "XXXXXX", dir, base) != 0)
		return -1;
	mbox_signals_hold(&rw->held);
	mbox_rewrite_clean(lock->path);
	rw->fd = mkostemp(rw->tmp, O_CLOEXEC);
	if (rw->fd < 0) {
		mbox_signals_release(&rw->held);
		return -1;
	}
	copy_owner(rw->fd, lock->fd);
	return 0;
}

void
mbox_rewrite_abort(struct mbox_rewrite *rw)
{
	if (rw->fd < 0)
		return;
	int saved = errno;
	close(rw->fd);
	unlink(rw->tmp);
	rw->fd = -1;
	mbox_signals_release(&rw->held);
	errno = saved;
}

int
mbox_rewrite_commit(struct mbox_lock *lock, struct mbox_rewrite *rw, int *fd_r)
{
	char dir[4096];
	split_path(lock->path, dir, sizeof dir);
	if (fsync(rw->fd) != 0 || rename(rw->tmp, lock->path) != 0) {
		mbox_rewrite_abort(rw);
		return -1;
	}
	/* Renamed: from here the new version is the mbox, even if the
	 * directory fsync fails (then it may not survive a power cut). */
	int r = durable_fsync_dir(dir);
	int saved = errno;
	if (r == 0 && fd_r != NULL)
		*fd_r = rw->fd;
	else
		close(rw->fd);
	rw->fd = -1;
	mbox_signals_release(&rw->held);
	errno = saved;
	return r;
}
