/*
 * durable.c — unique names, complete writes, copies, and publishing a file
 * without ever overwriting one (S62, S63, S71).
 *
 * Publishing is link() + fsync(dir) + unlink(tmp): at the instant the link
 * exists the message is delivered, and link() fails with EEXIST rather than
 * replace a file. File systems without hard links get renameat2 with
 * RENAME_NOREPLACE. The target directory is opened with O_NOFOLLOW, so a
 * planted symlink (new/ → /etc) makes the publish fail (S34).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "durable.h"

/* Copies the host name with '/' → \057, ':' → \072 and ',' → \054 (',' and
 * ':' separate a Maildir name's unique part from its sizes and flags). */
static void
host_escape(char *out, size_t size)
{
	char host[256];
	if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	size_t o = 0;
	for (const char *p = host; *p != '\0' && o + 5 < size; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '/' || c == ':' || c == ',' || c < 0x21 || c > 0x7e) {
			snprintf(out + o, size - o, "\\%03o", c);
			o += 4;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

int
durable_unique_name(char *out, size_t size)
{
	struct timeval tv;
	uint64_t rnd;
	char host[256 * 4 + 1];

	gettimeofday(&tv, NULL);
	/* getrandom() makes names unique even with recycled pids and a clock
	 * that steps backwards (S71). GRND_NONBLOCK: never hang at boot. */
	if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
		return -1;
	host_escape(host, sizeof host);
	int n = snprintf(out, size, "%lld.M%06ldP%ldR%016llx.%s",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
	    (unsigned long long)rnd, host);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
durable_create_unique(int dirfd, char *name, size_t size)
{
	for (int tries = 0; tries < DURABLE_CREATE_TRIES; tries++) {
		if (durable_unique_name(name, size) != 0)
			return -1;
		int fd = openat(dirfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

int
durable_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int
durable_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
durable_reader_init(struct durable_reader *r, int fd, uint64_t off, uint64_t len)
{
	r->fd = fd;
	r->off = off;
	r->end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
}

ssize_t
durable_reader_next(struct durable_reader *r, const char **p_r)
{
	if (r->off >= r->end)
		return 0;
	uint64_t left = r->end - r->off;
	size_t want = left < sizeof r->buf ? (size_t)left : sizeof r->buf;
	for (;;) {
		if (r->off > (uint64_t)INT64_MAX - want) {
			errno = EOVERFLOW;   /* past what off_t can address */
			return -1;
		}
		ssize_t n = pread(r->fd, r->buf, want, (off_t)r->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			if (r->end == UINT64_MAX)
				return 0;    /* read to the end of the file */
			errno = EIO;     /* the file is shorter than the range */
			return -1;
		}
		r->off += (uint64_t)n;
		*p_r = r->buf;
		return n;
	}
}

/* read/write fallback for what copy_file_range could not do, from off. */
static int
copy_rw(int dst, int src, uint64_t off, uint64_t end)
{
	struct durable_reader r;
	const char *p;
	ssize_t n;
	durable_reader_init(&r, src, off, end - off);
	while ((n = durable_reader_next(&r, &p)) > 0)
		if (durable_write_all(dst, p, (size_t)n) != 0)
			return -1;
	return n < 0 ? -1 : 0;
}

int
durable_copy_fd(int dst, int src, uint64_t len)
{
	loff_t off = 0;
	while ((uint64_t)off < len) {
		uint64_t left = len - (uint64_t)off;
		size_t want = left > (1u << 30) ? (1u << 30) : (size_t)left;
		ssize_t n = copy_file_range(src, &off, dst, NULL, want, 0);
		if (n > 0)
			continue;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		if (errno == EINTR)
			continue;
		/* Not supported here (pipes, O_APPEND, old kernels, across file
		 * systems): fall back. Real write errors (ENOSPC, EIO, EFBIG,
		 * EDQUOT) are reported as they are. */
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
		    errno == EOPNOTSUPP || errno == EBADF || errno == ESPIPE)
			return copy_rw(dst, src, (uint64_t)off, len);
		return -1;
	}
	return 0;
}

int
durable_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof buf) {
		errno = len ? ENAMETOOLONG : EINVAL;
		return -1;
	}
	memcpy(buf, path, len + 1);
	/* Create only below the deepest directory that exists: a sandboxed
	 * caller (ProtectSystem=strict) must not even try mkdir("/var"). */
	struct stat st;
	char *from = buf + 1;
	for (char *p = buf + len; p > buf; p--) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		int found = stat(buf, &st) == 0 && S_ISDIR(st.st_mode);
		*p = c;
		if (found) {
			if (c == '\0')
				return 0;
			from = p + 1;
			break;
		}
	}
	for (char *p = from; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, mode) == 0) {
			/* A new directory must survive a crash too: make its entry
			 * in the parent durable. */
			char *slash = strrchr(buf, '/');
			if (slash != NULL) {
				char keep = slash == buf ? slash[1] : *slash;
				if (slash == buf)
					slash[1] = '\0';
				else
					*slash = '\0';
				int r = durable_fsync_dir(buf);
				if (slash == buf)
					slash[1] = keep;
				else
					*slash = keep;
				if (r != 0)
					return -1;
			}
		} else if (errno != EEXIST) {
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int
durable_open_own(const char *path, int flags)
{
	int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct stat st;
	int bad = fstat(fd, &st) != 0 ? errno
	    : !S_ISREG(st.st_mode) ? EINVAL : st.st_nlink == 0 ? ESTALE
	    : st.st_nlink != 1 ? EMLINK : 0;
	if (bad == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
		bad = errno;
	if (bad != 0) {
		close(fd);
		errno = bad;
		return -1;
	}
	return fd;
}

int
durable_open_dir(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int
durable_publish_at(int tmp_dirfd, const char *tmp_name, int dirfd, const char *name)
{
	if (linkat(tmp_dirfd, tmp_name, dirfd, name, 0) != 0) {
		if (errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP &&
		    errno != EMLINK)
			return -1;
		/* No hard links here: an atomic rename that refuses to replace. */
		if (renameat2(tmp_dirfd, tmp_name, dirfd, name, RENAME_NOREPLACE) != 0)
			return -1;
		return fsync(dirfd);
	}
	if (fsync(dirfd) != 0) {
		int saved = errno;
		/* Not known to be durable: take it back so nobody sees it. */
		unlinkat(dirfd, name, 0);
		errno = saved;
		return -1;
	}
	/* The link is durable; a leftover tmp file is only garbage. */
	unlinkat(tmp_dirfd, tmp_name, 0);
	return 0;
}

/* Splits path into an open O_NOFOLLOW directory fd and its last component. */
static int
open_parent(const char *path, const char **base_r)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		*base_r = path;
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	size_t len = (size_t)(slash - path);
	if (len >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (len == 0)
		len = 1;  /* "/name" */
	memcpy(dir, path, len);
	dir[len] = '\0';
	*base_r = slash + 1;
	return durable_open_dir(dir);
}

int
durable_publish(const char *tmp_path, const char *final_path)
{
	const char *tmp_base, *final_base;
	int tfd = open_parent(tmp_path, &tmp_base);
	if (tfd < 0)
		return -1;
	int dfd = open_parent(final_path, &final_base);
	if (dfd < 0) {
		int saved = errno;
		close(tfd);
		errno = saved;
		return -1;
	}
	int r = durable_publish_at(tfd, tmp_base, dfd, final_base);
	int saved = errno;
	close(tfd);
	close(dfd);
	errno = saved;
	return r;
}

/* A unique name starting with a dot: a copy left by a killed writer must
 * not look like a mailbox to a reader listing the directory (an mbox
 * folder is any plain file there whose name has no leading dot). */
static int
create_hidden_unique(int dirfd, char *name, size_t size)
{
	for (int tries = 0; tries < DURABLE_CREATE_TRIES; tries++) {
		name[0] = '.';
		if (durable_unique_name(name + 1, size - 1) != 0)
			return -1;
		int fd = openat(dirfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int
durable_copy_range(int dst, int src, uint64_t off, uint64_t len)
{
	struct durable_reader r;
	const char *p;
	ssize_t n;
	durable_reader_init(&r, src, off, len);
	while ((n = durable_reader_next(&r, &p)) > 0)
		if (durable_write_all(dst, p, (size_t)n) < 0)
			return -1;
	return n < 0 ? -1 : 0;
}

int
durable_replace(const char *dir, const char *name, const void *data, size_t len,
    enum durable_level level)
{
	char tmp[256];
	int dfd = durable_open_dir(dir);
	if (dfd < 0)
		return -1;
	int fd = create_hidden_unique(dfd, tmp, sizeof tmp);
	int r = fd < 0 ? -1 : 0;
	if (r == 0)
		r = durable_write_all(fd, data, len);
	if (r == 0 && level >= DURABLE_WHOLE)
		r = fsync(fd);
	int saved = errno;
	if (fd >= 0 && close(fd) != 0 && r == 0) {
		r = -1;
		saved = errno;
	}
	if (r == 0 && renameat(dfd, tmp, dfd, name) != 0) {
		r = -1;
		saved = errno;
	}
	if (r != 0 && fd >= 0)
		unlinkat(dfd, tmp, 0);
	if (r == 0 && level >= DURABLE_SYNCED && fsync(dfd) != 0) {
		r = -1;
		saved = errno;
	}
	close(dfd);
	errno = saved;
	return r;
}
