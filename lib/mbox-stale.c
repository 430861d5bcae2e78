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
mbox_dotlock_stale(const char *lockpath)
{
	char buf[MBOX_OWNER_MAX + 1];
	struct stat st;
	int fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = pread(fd, buf, MBOX_OWNER_MAX, 0);
	close(fd);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	if (time(NULL) - st.st_mtime > MBOX_DOTLOCK_STALE_SEC)
		return 1;
	return holder_dead(buf);
}

int
mbox_dotlock_break(const char *lockpath, int fd)
{
	(void)fd;
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
