/* Unit tests for lib/durable: unique names (S63, S71), complete writes,
 * copies, mkdir -p, publish without overwrite and never through a
 * symlinked directory (S34). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "durable.h"
#include "unit.h"

static char top[] = "/tmp/yubin-durable-XXXXXX";

static void
put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || durable_write_all(fd, text, strlen(text)) != 0)
		abort();
	close(fd);
}

static int
file_is(const char *path, const char *text)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	return n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_unique(void)
{
	enum { N = 2000 };
	static char names[N][256];
	char *ptrs[N];
	int parsed = 1;
	for (int i = 0; i < N; i++) {
		if (durable_unique_name(names[i], sizeof names[i]) != 0)
			parsed = 0;
		ptrs[i] = names[i];
		long long sec;
		long usec, pid;
		unsigned long long rnd;
		char host[200];
		if (sscanf(names[i], "%lld.M%6ldP%ldR%16llx.%199s", &sec, &usec, &pid, &rnd, host) != 5 ||
		    pid != (long)getpid() || strchr(names[i], '/') || strchr(names[i], ':') ||
		    strchr(names[i], ','))
			parsed = 0;
	}
	CHECK(parsed, "unique names parse as <sec>.M<usec>P<pid>R<rand>.<host> (S63)");
	qsort(ptrs, N, sizeof *ptrs, cmp_str);
	int distinct = 1;
	for (int i = 1; i < N; i++)
		if (strcmp(ptrs[i - 1], ptrs[i]) == 0)
			distinct = 0;
	CHECK(distinct, "2000 names in one process are distinct (S71)");
	char small[8];
	CHECK(durable_unique_name(small, sizeof small) == -1 && errno == ENAMETOOLONG,
	    "too small buffer: ENAMETOOLONG");
}

/* In a fresh UTS namespace (root only), a host name with '/', ':' and ','
 * is escaped as \057, \072, \054 (S63). Returns 1 if checked and right,
 * 0 if wrong, -1 if namespaces are not available. */
static int
check_host_escape(void)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char name[256];
		close(pfd[0]);
		if (unshare(CLONE_NEWUTS) != 0 || sethostname("a/b:c,d", 7) != 0)
			_exit(2);
		if (durable_unique_name(name, sizeof name) != 0)
			_exit(3);
		if (write(pfd[1], name, strlen(name)) < 0)
			_exit(4);
		_exit(0);
	}
	close(pfd[1]);
	char buf[256] = { 0 };
	ssize_t n = read(pfd[0], buf, sizeof buf - 1);
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 2)
		return -1;
	const char *dot = n > 0 ? strchr(strchr(buf, 'R'), '.') : NULL;
	return dot && strcmp(dot, ".a\\057b\\072c\\054d") == 0;
}

static void
test_copy(void)
{
	char src[512], dst[512];
	snprintf(src, sizeof src, "%s/src", top);
	snprintf(dst, sizeof dst, "%s/dst", top);
	put(src, "0123456789abcdef");
	int s = open(src, O_RDONLY);
	int d = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(durable_write_all(d, "head:", 5) == 0, "write_all");
	CHECK(durable_copy_fd(d, s, 16) == 0, "copy_fd appends the source from offset 0");
	close(d);
	CHECK(file_is(dst, "head:0123456789abcdef"), "copy_fd content exact");
	/* O_APPEND makes copy_file_range refuse: the fallback must do it. */
	d = open(dst, O_WRONLY | O_APPEND);
	lseek(s, 7, SEEK_SET);  /* the source's own offset must not matter */
	CHECK(durable_copy_fd(d, s, 4) == 0, "copy_fd onto O_APPEND (read/write fallback)");
	close(d);
	CHECK(file_is(dst, "head:0123456789abcdef0123"), "fallback content exact");
	d = open(dst, O_WRONLY | O_TRUNC);
	CHECK(durable_copy_fd(d, s, 17) == -1 && errno == EIO, "source shorter than len: EIO");
	close(d);
	int p[2];
	if (pipe(p) != 0)
		abort();
	d = open(dst, O_WRONLY | O_TRUNC);
	CHECK(durable_copy_fd(p[1], s, 10) == 0, "copy_fd into a pipe");
	char buf[16] = { 0 };
	CHECK(read(p[0], buf, sizeof buf) == 10 && memcmp(buf, "0123456789", 10) == 0,
	    "pipe got the bytes");
	close(p[0]);
	close(p[1]);
	close(d);
	close(s);
}

static void
test_mkdirs_publish(void)
{
	char path[512], tmp[512], fin[512], link_dir[512];
	snprintf(path, sizeof path, "%s/a/b/c", top);
	CHECK(durable_mkdirs(path, 0700) == 0, "mkdirs creates a/b/c");
	CHECK(durable_mkdirs(path, 0700) == 0, "mkdirs on existing is fine");
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700, "mkdirs mode 0700");
	snprintf(tmp, sizeof tmp, "%s/src", top);
	CHECK(durable_mkdirs(tmp, 0700) == -1 && errno == ENOTDIR, "mkdirs over a file: ENOTDIR");
	CHECK(durable_fsync_dir(path) == 0, "fsync_dir");

	snprintf(tmp, sizeof tmp, "%s/a/tmpfile", top);
	snprintf(fin, sizeof fin, "%s/a/b/c/final", top);
	put(tmp, "one");
	CHECK(durable_publish(tmp, fin) == 0, "publish");
	CHECK(file_is(fin, "one") && access(tmp, F_OK) != 0, "published, tmp gone");
	put(tmp, "two");
	CHECK(durable_publish(tmp, fin) == -1 && errno == EEXIST, "publish onto existing: EEXIST");
	CHECK(file_is(fin, "one") && file_is(tmp, "two"), "existing file untouched, tmp kept");

	/* A symlinked target directory is refused (S34). */
	snprintf(link_dir, sizeof link_dir, "%s/evil", top);
	snprintf(path, sizeof path, "%s/a/b", top);
	if (symlink(path, link_dir) != 0)
		abort();
	snprintf(fin, sizeof fin, "%s/evil/x", top);
	CHECK(durable_publish(tmp, fin) == -1 && (errno == ELOOP || errno == ENOTDIR),
	    "publish into a symlinked directory refused (S34)");
	snprintf(fin, sizeof fin, "%s/a/b/x", top);
	CHECK(access(fin, F_OK) != 0, "nothing written through the symlink");
	CHECK(durable_open_dir(link_dir) == -1, "open_dir refuses a symlink");

	int dfd = durable_open_dir(path);
	char name[256];
	int fd = durable_create_unique(dfd, name, sizeof name);
	CHECK(fd >= 0 && fstatat(dfd, name, &st, 0) == 0 && (st.st_mode & 0777) == 0600,
	    "create_unique makes a 0600 file");
	close(fd);
	close(dfd);
}

/* The number of entries in dir (. and .. not counted). */
static int
entries(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
	return system(cmd) == 0 ? 1 : 0;
}

/* durable_replace at each level: the whole new contents, mode 0600, no
 * temporary left, never through a symlinked directory (S34). */
static void
test_replace(void)
{
	char dir[512], path[512], link_dir[512];
	snprintf(dir, sizeof dir, "%s/r", top);
	snprintf(path, sizeof path, "%s/r/state", top);
	if (durable_mkdirs(dir, 0700) != 0)
		abort();
	static const enum durable_level levels[] = { DURABLE_CACHE, DURABLE_WHOLE, DURABLE_SYNCED };
	static const char *const texts[] = { "cache\n", "whole\n", "synced\n" };
	static const char *const names[] = { "replace at DURABLE_CACHE", "replace at DURABLE_WHOLE",
		"replace at DURABLE_SYNCED" };
	for (size_t i = 0; i < 3; i++) {
		CHECK(durable_replace(dir, "state", texts[i], strlen(texts[i]), levels[i]) == 0 &&
		    file_is(path, texts[i]), names[i]);
		struct stat st;
		CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && entries(dir),
		    "replace: mode 0600, no temporary left beside it");
	}
	snprintf(link_dir, sizeof link_dir, "%s/rl", top);
	if (symlink(dir, link_dir) != 0)
		abort();
	errno = 0;
	CHECK(durable_replace(link_dir, "state", "x", 1, DURABLE_SYNCED) == -1 &&
	    (errno == ELOOP || errno == ENOTDIR) && file_is(path, "synced\n"),
	    "replace through a symlinked directory refused (S34)");
	snprintf(path, sizeof path, "%s/nodir", top);
	CHECK(durable_replace(path, "state", "x", 1, DURABLE_CACHE) == -1 && errno == ENOENT,
	    "replace in a missing directory: ENOENT");
}

int
main(void)
{
	if (mkdtemp(top) == NULL)
		abort();
	test_unique();
	int h = check_host_escape();
	if (h >= 0)
		CHECK(h == 1, "host name '/', ':' and ',' escaped as octal (S63)");
	test_copy();
	test_mkdirs_publish();
	test_replace();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
	if (system(cmd) != 0)
		return 1;
	return unit_done();
}
