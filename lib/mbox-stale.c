/*
 * mbox-stale.c — telling a dotlock left by a crash from a held one, and
 * breaking it (S66).
 *
 * A yubin dotlock names its holder ("<pid> <host>\n"). A session killed
 * while it holds the lock (SIGKILL, OOM killer, power cut of a container)
 * leaves the dotlock behind; its fcntl lock died with it. Waiting the
 * whole MBOX_DOTLOCK_STALE_SEC would lock the user out of his mail for
 * minutes, so a holder of this host that no longer exists is known dead at
 * once (kill(pid, 0) fails with ESRCH; EPERM means alive). A recycled pid
 * only makes us wait for the age rule, as for other programs' dotlocks.
 *
 * Once taken, the dotlock also records the way back ("<dev> <ino>
 * <size>\n": the mbox when the lock was taken). Everything a holder
 * appends is acknowledged only after it unlocks, so whatever lies past
 * that size when its dotlock has to be broken was never promised to
 * anyone, and may be half a message: it is cut off. No fsync: the lock is
 * linked before the first byte is appended, and a file system that keeps
 * metadata in order (ext4's data=ordered) never keeps those bytes
 * without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "mbox-internal.h"

/* This host's name with blanks and control bytes as '_': one word. */
static void
host_word(char *out, size_t size)
{
	if (gethostname(out, size) != 0 || out[0] == '\0')
		snprintf(out, size, "localhost");
	out[size - 1] = '\0';
	for (char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			*p = '_';
}

int
mbox_owner_line(char *out, size_t size)
{
	char host[256];
	host_word(host, sizeof host);
	int n = snprintf(out, size, "%ld %s\n", (long)getpid(), host);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return n;
}

/* 1 if the holder line in buf names a process of this host that is gone. */
static int
holder_dead(const char *buf)
{
	char *end;
	errno = 0;
	long pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || pid <= 0 || *end != ' ')
		return 0;
	const char *host = end + 1;
	const char *nl = strchr(host, '\n');
	char mine[256];
	host_word(mine, sizeof mine);
	if (nl == NULL || (size_t)(nl - host) != strlen(mine) ||
	    memcmp(host, mine, (size_t)(nl - host)) != 0)
		return 0;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int
mbox_mark_write(int lock_fd, int mbox_fd)
{
	struct stat ls, ms;
	char line[MBOX_MARK_MAX];
	if (fstat(lock_fd, &ls) != 0 || fstat(mbox_fd, &ms) != 0)
		return -1;
	if (ls.st_size == 0) {
		errno = ENOSPC;   /* the holder line did not fit */
		return -1;
	}
	int n = snprintf(line, sizeof line, "%llu %llu %lld\n", (unsigned long long)ms.st_dev,
	    (unsigned long long)ms.st_ino, (long long)ms.st_size);
	if (n < 0 || (size_t)n >= sizeof line) {
		errno = EOVERFLOW;
		return -1;
	}
	for (size_t done = 0; done < (size_t)n; ) {
		ssize_t w = pwrite(lock_fd, line + done, (size_t)n - done, ls.st_size + (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			/* a cut line must not pass for a way back */
			if (ftruncate(lock_fd, ls.st_size) != 0)
				(void)0;
			return -1;
		}
		done += (size_t)w;
	}
	return 0;
}

/* The dotlock's contents (at most MBOX_OWNER_MAX + MBOX_MARK_MAX bytes,
 * NUL-terminated) and its mtime. 0, or -1 if it is gone or no file. */
static int
read_lock(const char *lockpath, char *buf, size_t size, time_t *mtime_r)
{
	struct stat st;
	int fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = pread(fd, buf, size - 1, 0);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	*mtime_r = st.st_mtime;
	return 0;
}

int
mbox_dotlock_stale(const char *lockpath)
{
	char buf[MBOX_OWNER_MAX + MBOX_MARK_MAX + 1];
	time_t mtime;
	if (read_lock(lockpath, buf, sizeof buf, &mtime) != 0)
		return 0;
	if (time(NULL) - mtime > MBOX_DOTLOCK_STALE_SEC)
		return 1;
	return holder_dead(buf);
}

/* Truncates the mbox open as fd back to the size the way back in buf
 * records, if it names this inode and the mbox grew since. 0 or -1. */
static int
go_back(const char *buf, int fd)
{
	const char *nl = strchr(buf, '\n');
	unsigned long long dev, ino;
	long long size;
	char end;
	struct stat st;
	if (nl == NULL || sscanf(nl + 1, "%llu %llu %lld%c", &dev, &ino, &size, &end) != 4 ||
	    end != '\n' || size < 0)
		return 0;   /* no way back recorded: nothing was appended */
	if (fstat(fd, &st) != 0)
		return -1;
	if ((unsigned long long)st.st_dev != dev || (unsigned long long)st.st_ino != ino ||
	    st.st_size <= (off_t)size)
		return 0;   /* replaced by a rewrite, or not grown */
	if (ftruncate(fd, (off_t)size) != 0 || fsync(fd) != 0)
		return -1;
	return 0;
}

int
mbox_dotlock_break(const char *lockpath, int fd)
{
	char buf[MBOX_OWNER_MAX + MBOX_MARK_MAX + 1];
	time_t mtime;
	if (read_lock(lockpath, buf, sizeof buf, &mtime) == 0 && go_back(buf, fd) != 0)
		return -1;
	char path[4096];
	size_t n = strlen(lockpath);
	if (n < 5 || n - 5 >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, lockpath, n - 5);   /* "<mbox>.lock" */
	path[n - 5] = '\0';
	mbox_rewrite_clean(path);
	if (unlink(lockpath) != 0 && errno != ENOENT)
		return -1;
	return 0;
}
