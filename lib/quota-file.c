/*
 * quota-file.c — the Maildir++ usage file, maildirsize (quota-file.h says
 * who writes what and why the count stays at or above the truth).
 */
#include "quota-file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "path.h"

/* Maildir++'s bound: a file this long has had about 500 changes since its
 * count and is counted again, which also bounds what a reader reads. */
#define QUOTA_FILE_MAX 5120
/* Opens retried when a recount replaced the file between open and lock. */
#define QUOTA_FILE_TRIES 4

/* When this system booted: a file last written before may have lost the
 * appends a crash kept from the disk. */
static time_t
boot_time(void)
{
	struct timespec rt, bt;
	if (clock_gettime(CLOCK_REALTIME, &rt) != 0 || clock_gettime(CLOCK_BOOTTIME, &bt) != 0)
		return 0;
	return rt.tv_sec - bt.tv_sec;
}

/* The header: a non-empty list of <digits>S / <digits>C, comma-separated. */
static int
header_ok(const char *p, const char *end)
{
	for (;;) {
		const char *d = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == d || p == end || (*p != 'S' && *p != 'C'))
			return 0;
		if (++p == end)
			return 1;
		if (*p++ != ',')
			return 0;
	}
}

/* One signed number, blanks before it allowed (Courier pads lines). */
static const char *
number(const char *p, const char *end, int64_t *r)
{
	int neg = 0;
	int64_t v = 0;
	while (p < end && *p == ' ')
		p++;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	const char *d = p;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			return NULL;
		v = v * 10 + (*p - '0');
	}
	if (p == d)
		return NULL;
	*r = neg ? -v : v;
	return p;
}

/* Sums the lines after the header; 0 if one is not "<n> <n>". */
static int
sum_lines(const char *p, const char *end, struct quota_file_sum *sum)
{
	int64_t bytes = 0, messages = 0;
	sum->lines = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int64_t b = 0, m = 0;
		const char *q = nl ? number(p, nl, &b) : NULL;
		q = q && q < nl && *q == ' ' ? number(q, nl, &m) : NULL;
		while (q && q < nl && *q == ' ')
			q++;
		if (q != nl)
			return 0;
		if ((b > 0 && bytes > INT64_MAX - b) || (b < 0 && bytes < INT64_MIN - b) ||
		    (m > 0 && messages > INT64_MAX - m) || (m < 0 && messages < INT64_MIN - m))
			return 0;
		bytes += b;
		messages += m;
		sum->lines++;
		p = nl + 1;
	}
	if (bytes < 0 || messages < 0)
		return 0;
	sum->bytes = (uint64_t)bytes;
	sum->messages = (uint64_t)messages;
	return 1;
}

int
quota_file_read(int fd, struct quota_file_sum *sum)
{
	struct stat st;
	char buf[QUOTA_FILE_MAX];
	if (fstat(fd, &st) != 0)
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_size >= QUOTA_FILE_MAX || st.st_mtime < boot_time())
		return 0;
	ssize_t n = pread(fd, buf, sizeof buf, 0);
	if (n < 0)
		return -1;
	if (n == 0 || n >= QUOTA_FILE_MAX || buf[n - 1] != '\n')
		return 0;
	const char *end = buf + n, *nl = memchr(buf, '\n', (size_t)n);
	if (!header_ok(buf, nl))
		return 0;
	sum->mtime = st.st_mtime;
	return sum_lines(nl + 1, end, sum);
}

int
quota_file_open(const char *root)
{
	char path[4096];
	if (path_join(path, sizeof path, root, QUOTA_FILE_NAME, NULL) != 0)
		return -1;
	return open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/* Opens path with flags and takes the flock op on it, retrying while a
 * recount renames another file over the name meanwhile. An fd or -1. */
static int
open_locked(const char *path, int flags, int op)
{
	for (int tries = 0; tries < QUOTA_FILE_TRIES; tries++) {
		struct stat a, b;
		int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		int r;
		while ((r = flock(fd, op)) != 0 && errno == EINTR)
			;
		if (r == 0 && fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return fd;
		int saved = errno;
		close(fd);
		errno = saved;
		if (r != 0)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

int
quota_file_lock(const char *root)
{
	char path[4096];
	if (path_join(path, sizeof path, root, QUOTA_FILE_NAME, NULL) != 0)
		return -1;
	return open_locked(path, O_RDWR | O_CREAT, LOCK_EX);
}

int
quota_file_replace(const char *root, int fd, uint64_t limit, uint64_t bytes,
    uint64_t messages)
{
	char text[128];
	int n = snprintf(text, sizeof text, "%" PRIu64 "S\n%" PRIu64 " %" PRIu64 "\n", limit,
	    bytes, messages);
	/* Written at a unique name (O_EXCL: nothing planted there is written
	 * through) and renamed over the old file; not fsync'd: a file from
	 * before a crash is older than the boot and counted again. */
	int r = n < 0 ? -1
	    : durable_replace(root, QUOTA_FILE_NAME, text, (size_t)n, DURABLE_CACHE);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* The user's Maildir root of a folder: a Maildir++ .Folder's parent. */
static int
folder_root(const char *folder, char *root, size_t size)
{
	size_t len = strlen(folder);
	while (len > 1 && folder[len - 1] == '/')
		len--;
	const char *slash = memrchr(folder, '/', len);
	if (slash && slash[1] == '.')
		len = (size_t)(slash - folder);
	if (len == 0 || len >= size)
		return -1;
	memcpy(root, folder, len);
	root[len] = '\0';
	return 0;
}

static void
note_write(int fd, int64_t bytes, int64_t messages)
{
	char line[64];
	int n = snprintf(line, sizeof line, "%" PRId64 " %" PRId64 "\n", bytes, messages);
	/* One write with O_APPEND: the line lands whole or (crash) as a
	 * damaged tail that makes the next reader recount. */
	if (n > 0 && write(fd, line, (size_t)n) != n)
		return;
}

void
quota_note_begin(const char *folder, struct quota_note *n)
{
	char path[4096];
	int saved = errno;
	n->fd = -1;
	n->missing = 0;
	n->bytes = n->messages = 0;
	if (folder_root(folder, n->root, sizeof n->root) != 0 ||
	    path_join(path, sizeof path, n->root, QUOTA_FILE_NAME, NULL) != 0)
		goto out;
	n->fd = open_locked(path, O_WRONLY | O_APPEND, LOCK_SH);
	if (n->fd < 0 && errno == ENOENT)
		n->missing = 1;
out:
	errno = saved;
}

void
quota_note_add(struct quota_note *n, int64_t bytes, int64_t messages)
{
	int saved = errno;
	struct stat st;
	if (n->fd >= 0) {
		/* A file already too long, or last written before the boot, is
		 * recounted anyway: not grown. A line appended to the latter
		 * would give it a new mtime, and it would be read as current
		 * without the lines the crash lost. */
		if (fstat(n->fd, &st) == 0 && st.st_size < QUOTA_FILE_MAX &&
		    st.st_mtime >= boot_time())
			note_write(n->fd, bytes, messages);
	} else if (n->missing) {
		n->bytes += bytes;
		n->messages += messages;
	}
	errno = saved;
}

void
quota_note_end(struct quota_note *n)
{
	int saved = errno;
	char path[4096];
	if (n->fd >= 0) {
		close(n->fd);
	} else if (n->missing && n->bytes > 0 &&
	    path_join(path, sizeof path, n->root, QUOTA_FILE_NAME, NULL) == 0) {
		/* A recount created the file while this addition was made: its
		 * walk may have missed it, so it is added (at worst twice). */
		int fd = open_locked(path, O_WRONLY | O_APPEND, LOCK_SH);
		if (fd >= 0) {
			struct quota_note late = { .fd = fd };
			quota_note_add(&late, n->bytes, n->messages);
			close(fd);
		}
	}
	n->fd = -1;
	errno = saved;
}

void
quota_file_stale(const char *root)
{
	char path[4096];
	int saved = errno;
	if (path_join(path, sizeof path, root, QUOTA_FILE_NAME, NULL) == 0) {
		/* Under the shared lock: a recount walking now finishes first. */
		int fd = open_locked(path, O_WRONLY | O_APPEND, LOCK_SH);
		if (fd >= 0) {
			static const char mark[] = "recount\n";
			ssize_t w = write(fd, mark, sizeof mark - 1);
			(void)w; /* unwritten, the count stays high: still safe */
			close(fd);
		}
	}
	errno = saved;
}
