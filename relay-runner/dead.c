/*
 * dead.c — per-destination "dead until" notes (see dead.h).
 */
#include "dead.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "path.h"

/* Longest encoded key kept as is; longer ones are cut and hashed, well
 * below NAME_MAX. */
#define DEAD_NAME_PLAIN_MAX 180

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

/* spool/dead/<encoded key> into path. 0, or -1 (ENAMETOOLONG). */
static int
note_path(const char *spool, const char *key, char *path, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	char name[DEAD_NAME_PLAIN_MAX + 32];
	size_t o = 0;
	const char *p = key;
	for (; *p && o + 3 < DEAD_NAME_PLAIN_MAX; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || (c == '.' && o > 0)) {
			name[o++] = (char)c;
		} else {
			name[o++] = '%';
			name[o++] = hex[c >> 4];
			name[o++] = hex[c & 15];
		}
	}
	name[o] = '\0';
	/* cut: the hash of the whole key tells keys apart */
	if (*p && path_printf(name + o, sizeof name - o, "~%016llx",
	    (unsigned long long)fnv1a(key)) != 0)
		return -1;
	return path_join(path, size, spool, "dead", name);
}

/* Reads a note: 0 with its fields (and its time of writing into
 * *mtime_r unless NULL), -1 if absent or malformed. */
static int
note_read(const char *path, time_t *until_r, unsigned *failures_r, struct timespec *mtime_r)
{
	char buf[64];
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (mtime_r && fstat(fd, &st) == 0)
		*mtime_r = st.st_mtim;
	else if (mtime_r)
		n = -1;
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	long long until;
	unsigned failures;
	char nl;
	if (sscanf(buf, "%lld %u%c", &until, &failures, &nl) != 3 || nl != '\n' || until < 0)
		return -1;
	*until_r = (time_t)until;
	*failures_r = failures;
	return 0;
}

int
dead_check(const char *spool, const char *key, time_t now, const struct timespec *since,
    time_t *until_r)
{
	char path[PATH_MAX];
	time_t until;
	unsigned failures;
	struct timespec written;
	if (note_path(spool, key, path, sizeof path) != 0 ||
	    note_read(path, &until, &failures, &written) < 0 || until <= now)
		return 0;
	if (since && (written.tv_sec < since->tv_sec ||
	    (written.tv_sec == since->tv_sec && written.tv_nsec < since->tv_nsec)))
		return 0;
	*until_r = until;
	return 1;
}

int
dead_note(const char *spool, const char *key, time_t now, time_t min_sec, time_t max_sec,
    time_t *until_r, unsigned *failures_r)
{
	char path[PATH_MAX], tmp[PATH_MAX], name[256], line[64];
	time_t until;
	unsigned failures = 0;
	if (note_path(spool, key, path, sizeof path) != 0)
		return -1;
	if (note_read(path, &until, &failures, NULL) < 0)
		failures = 0;
	if (failures < 1000)
		failures++;
	time_t hold = min_sec > 0 ? min_sec : 1;
	for (unsigned i = 1; i < failures && hold < max_sec; i++)
		hold *= 2;
	if (hold > max_sec)
		hold = max_sec;
	until = now + hold;
	if (durable_unique_name(name, sizeof name) < 0 ||
	    path_join(tmp, sizeof tmp, spool, "tmp", name) != 0)
		return -1;
	int len = snprintf(line, sizeof line, "%lld %u\n", (long long)until, failures);
	if (len < 0 || (size_t)len >= sizeof line) {
		errno = EOVERFLOW;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (durable_write_all(fd, line, (size_t)len) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	*until_r = until;
	*failures_r = failures;
	return 0;
}

int
dead_lock(const char *spool, const char *key)
{
	char note[PATH_MAX], path[PATH_MAX];
	if (note_path(spool, key, note, sizeof note) != 0 ||
	    path_printf(path, sizeof path, "%s.lock", note) != 0)
		return -1;
	for (int tries = 0;; tries++) {
		int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				int e = errno;
				close(fd);
				errno = e;
				return -1;
			}
		}
		/* dead_clean may have unlinked the file between open and flock:
		 * a lock on a file no longer at path locks nothing. */
		struct stat held, named;
		if (fstat(fd, &held) == 0 && stat(path, &named) == 0 &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
			futimens(fd, NULL);     /* the time of last use, for dead_clean */
			return fd;
		}
		close(fd);
		if (tries == 10) {
			errno = EAGAIN;
			return -1;
		}
	}
}

void
dead_unlock(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void
dead_clear(const char *spool, const char *key)
{
	char path[PATH_MAX];
	if (note_path(spool, key, path, sizeof path) == 0)
		unlink(path);
}

int
dead_clean(const char *spool, time_t now, time_t max_age)
{
	char dir[PATH_MAX], path[PATH_MAX];
	if (path_join(dir, sizeof dir, spool, "dead", NULL) != 0)
		return -1;
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		time_t until;
		unsigned failures;
		if (de->d_name[0] == '.' || path_join(path, sizeof path, dir, de->d_name, NULL) != 0)
			continue;
		size_t len = strlen(de->d_name);
		struct stat st;
		if (len > 5 && !strcmp(de->d_name + len - 5, ".lock")) {
			/* Taken at most relay_timeout ago by a live holder. */
			until = lstat(path, &st) == 0 ? st.st_mtime : 0;
		} else if (note_read(path, &until, &failures, NULL) < 0) {
			until = 0;      /* a malformed note counts as expired long ago */
		}
		if (now - until > max_age && unlink(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
