/* Unit tests for lib/mbox: locking (fcntl + dotlock, stale removal, S66),
 * mboxrd quoting round trips, rollback byte-identical, failed writes
 * truncated back (S65), symlinks/hard links/FIFOs refused (S34), dotlocks
 * of dead holders broken at once, rewrites by rename, and a few fuzz seeds
 * through mbox_scan. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mbox.h"
#include "unit.h"

static char top[] = "/tmp/yubin-mbox-XXXXXX";

static int
msg_fd(const char *text, size_t len)
{
	/* memfd: nothing on disk to leave behind, even when killed. */
	int fd = memfd_create("msg", MFD_CLOEXEC);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		abort();
	return fd;
}

/* Whole file into a malloc'd buffer. */
static char *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *buf = malloc(1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	*len_r = n;
	return buf;
}

static int
append(const char *path, const char *sender, const char *prefix, const char *text, off_t *old)
{
	struct mbox_lock lk;
	off_t dummy;
	if (mbox_lock(path, &lk) != 0)
		return -1;
	int fd = msg_fd(text, strlen(text));
	int r = mbox_append(&lk, sender, 1700000000, prefix, strlen(prefix), fd, strlen(text),
	    old ? old : &dummy);
	close(fd);
	mbox_unlock(&lk);
	return r;
}

static const char *const bodies[] = {
	"Subject: one\n\nplain body\n",
	"Subject: two\n\nFrom me, a line that must be quoted\n>From already quoted\n>>From twice\n\nFrom after a blank line\n",
	"From the very first line\nSubject: three\n\nno trailing newline",
	"",
	"Subject: five\n\n>>>>From deep\n>not from\nFrom\nFrom: header-like\n\n\n",
	"Subject: six\n\nends with a partial >From",
};
#define N_BODIES (sizeof bodies / sizeof bodies[0])

static void
test_roundtrip(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/rt", top);
	int all = 1;
	for (size_t i = 0; i < N_BODIES; i++)
		if (append(path, i == 3 ? "" : "sender@example.com", "Return-Path: <x>\n", bodies[i], NULL) != 0)
			all = 0;
	CHECK(all, "append 6 messages");
	size_t len;
	char *raw = slurp(path, &len);
	CHECK(raw && strncmp(raw, "From sender@example.com ", 24) == 0, "file starts with a From_ line");
	CHECK(raw && strstr(raw, "\n>From me, a line") && strstr(raw, "\n>>From already") &&
	    strstr(raw, "\n>>>From twice") && strstr(raw, "\n>>>>>From deep") &&
	    strstr(raw, "\n>From the very first line"), "mboxrd quoting of ^>*From ");
	CHECK(raw && strstr(raw, "\nFrom MAILER-DAEMON ") != NULL, "empty sender is MAILER-DAEMON");
	CHECK(raw && len >= 2 && raw[len - 1] == '\n' && raw[len - 2] == '\n', "ends with a blank line");
	free(raw);

	int fd = open(path, O_RDONLY);
	struct mbox_entry *e;
	size_t n;
	CHECK(mbox_scan(fd, &e, &n) == 0 && n == N_BODIES, "scan finds exactly 6 messages");
	int same = n == N_BODIES;
	for (size_t i = 0; same && i < n; i++) {
		char *buf, want[1024];
		size_t blen;
		snprintf(want, sizeof want, "Return-Path: <x>\n%s", bodies[i]);
		if (want[strlen(want) - 1] != '\n')
			strcat(want, "\n");
		if (mbox_read(fd, &e[i], &buf, &blen) != 0 || blen != strlen(want) || strcmp(buf, want) != 0) {
			printf("# message %zu differs\n", i);
			same = 0;
		} else {
			free(buf);
		}
		if (e[i].when != 1700000000)
			same = 0;
	}
	CHECK(same, "every message reads back byte-identical (newline added where missing), dates kept");
	free(e);
	close(fd);
}

/* A big message whose ^>*From  lines fall on every offset of the 64 KiB
 * buffers, so quoting state crosses chunk boundaries. */
static void
test_big_roundtrip(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/big", top);
	size_t cap = 400000, len = 0;
	char *msg = malloc(cap);
	for (unsigned i = 0; len + 400 < cap; i++) {
		if (i % 3 == 0) {
			for (unsigned g = 0; g < i % 4; g++)
				msg[len++] = '>';
			memcpy(msg + len, "From ", 5);
			len += 5;
		}
		size_t l = (i * 7919u) % 300;
		memset(msg + len, 'a' + (char)(i % 26), l);
		len += l;
		msg[len++] = '\n';
		if (i % 11 == 0)
			msg[len++] = '\n';
	}
	memcpy(msg + len, ">>Fro", 5);   /* ends inside a partial match */
	len += 5;
	struct mbox_lock lk;
	off_t old;
	int fd = msg_fd(msg, len);
	CHECK(mbox_lock(path, &lk) == 0 && mbox_append(&lk, "a@b", 1700000000, "", 0, fd, len, &old) == 0,
	    "append a 400 kB message");
	close(fd);
	struct mbox_entry *e;
	size_t n;
	char *back;
	size_t blen;
	CHECK(mbox_scan(lk.fd, &e, &n) == 0 && n == 1, "it is one message");
	CHECK(n == 1 && mbox_read(lk.fd, &e[0], &back, &blen) == 0 && blen == len + 1 &&
	    memcmp(back, msg, len) == 0 && back[len] == '\n',
	    "quoting across buffer boundaries round-trips byte for byte");
	if (n == 1) {
		free(back);
		free(e);
	}
	mbox_unlock(&lk);
	free(msg);
}

static void
test_rollback_and_failure(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/rb", top);
	append(path, "a@b", "", "first\n", NULL);
	size_t len0, len1;
	char *before = slurp(path, &len0);
	struct mbox_lock lk;
	off_t old;
	CHECK(mbox_lock(path, &lk) == 0, "lock");
	int fd = msg_fd("second\nFrom x\n", 14);
	CHECK(mbox_append(&lk, "a@b", time(NULL), "", 0, fd, 14, &old) == 0 && old == (off_t)len0,
	    "append reports the old size");
	CHECK(mbox_truncate(&lk, old) == 0, "truncate back");
	mbox_unlock(&lk);
	char *after = slurp(path, &len1);
	CHECK(len0 == len1 && memcmp(before, after, len0) == 0, "rollback leaves the file byte-identical");
	free(after);

	/* The message fd is shorter than announced: EIO, truncated back. */
	mbox_lock(path, &lk);
	CHECK(mbox_append(&lk, "a@b", time(NULL), "", 0, fd, 1000, &old) == -1 && errno == EIO,
	    "short message: EIO");
	mbox_unlock(&lk);
	after = slurp(path, &len1);
	CHECK(len0 == len1 && memcmp(before, after, len0) == 0, "failed append truncated back");
	free(after);

	/* A write that fails half way (file size limit: EFBIG at a chosen
	 * byte), in a child so the limit does not stick (S65). */
	pid_t pid = fork();
	if (pid == 0) {
		char big[70000];
		memset(big, 'x', sizeof big);
		big[sizeof big - 1] = '\n';
		int bfd = msg_fd(big, sizeof big);
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { (rlim_t)len0 + 100, (rlim_t)len0 + 100 };
		setrlimit(RLIMIT_FSIZE, &rl);
		struct mbox_lock l2;
		off_t o;
		if (mbox_lock(path, &l2) != 0)
			_exit(2);
		int r = mbox_append(&l2, "a@b", time(NULL), "", 0, bfd, sizeof big, &o);
		int e = errno;
		mbox_unlock(&l2);
		errno = e;
		if (r != -1 || errno != EFBIG)
			fprintf(stderr, "# append gave %d, %s\n", r, strerror(errno));
		_exit(r == -1 && errno == EFBIG ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "write failing half way: EFBIG reported (S65)");
	after = slurp(path, &len1);
	CHECK(len0 == len1 && memcmp(before, after, len0) == 0, "half-written append truncated back (S65)");
	free(after);
	free(before);
	close(fd);

	/* An mbox damaged by another writer (no final blank line): the next
	 * From_ line still starts a message. */
	int dfd = open(path, O_WRONLY | O_APPEND);
	if (write(dfd, "From x Thu Nov 27 17:37:10 2026\nno end", 38) != 38)
		abort();
	close(dfd);
	append(path, "c@d", "", "third\n", NULL);
	dfd = open(path, O_RDONLY);
	struct mbox_entry *e;
	size_t n;
	char *buf;
	size_t blen;
	CHECK(mbox_scan(dfd, &e, &n) == 0 && n == 3, "separator added after a damaged tail: 3 messages");
	CHECK(n == 3 && mbox_read(dfd, &e[2], &buf, &blen) == 0 && strcmp(buf, "third\n") == 0,
	    "message after the damaged one intact");
	if (n == 3)
		free(buf);
	free(e);
	close(dfd);
}

static void
test_locking(void)
{
	char path[512], lockpath[600];
	snprintf(path, sizeof path, "%s/lk", top);
	snprintf(lockpath, sizeof lockpath, "%s.lock", path);
	struct mbox_lock lk;
	CHECK(mbox_lock(path, &lk) == 0 && access(lockpath, F_OK) == 0, "lock creates the dotlock");
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mbox created 0600");
	mbox_unlock(&lk);
	CHECK(access(lockpath, F_OK) != 0 && lk.fd == -1, "unlock removes the dotlock");

	/* Stale dotlock, 10 minutes old, no fcntl holder: removed (S66). */
	fclose(fopen(lockpath, "w"));
	struct timeval tv[2];
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= 600;
	tv[1] = tv[0];
	utimes(lockpath, tv);
	time_t t0 = time(NULL);
	CHECK(mbox_lock(path, &lk) == 0 && time(NULL) - t0 < 5, "stale dotlock removed (S66)");
	mbox_unlock(&lk);

	/* Contention: a child holds the lock for 300 ms; we wait and get it. */
	int pfd[2];
	if (pipe(pfd) != 0)
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		struct mbox_lock l2;
		if (mbox_lock(path, &l2) != 0)
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		usleep(300000);
		mbox_unlock(&l2);
		_exit(0);
	}
	char c;
	if (read(pfd[0], &c, 1) != 1)
		abort();
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int r = mbox_lock(path, &lk);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double waited = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	CHECK(r == 0 && waited >= 0.25, "second locker waits for the holder, then gets the lock");
	mbox_unlock(&lk);
	waitpid(pid, NULL, 0);
	close(pfd[0]);
	close(pfd[1]);

	/* A dotlock-only locker (procmail, mutt with dotlocking): a fresh
	 * .lock is respected until its owner removes it. */
	fclose(fopen(lockpath, "w"));
	pid = fork();
	if (pid == 0) {
		usleep(300000);
		unlink(lockpath);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = mbox_lock(path, &lk);
	clock_gettime(CLOCK_MONOTONIC, &b);
	waited = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	CHECK(r == 0 && waited >= 0.25, "a fresh foreign dotlock is waited for, not broken (S66)");
	mbox_unlock(&lk);
	waitpid(pid, NULL, 0);

	/* S34: symlink, hard link, FIFO are refused. */
	char other[512], lnk[512];
	snprintf(other, sizeof other, "%s/victim", top);
	fclose(fopen(other, "w"));
	snprintf(lnk, sizeof lnk, "%s/symlinked", top);
	if (symlink(other, lnk) != 0)
		abort();
	CHECK(mbox_lock(lnk, &lk) == -1 && errno == ELOOP, "symlinked mbox refused (S34)");
	snprintf(lnk, sizeof lnk, "%s/hardlinked", top);
	if (link(other, lnk) != 0)
		abort();
	CHECK(mbox_lock(lnk, &lk) == -1 && errno == EMLINK, "hard-linked mbox refused (S34)");
	snprintf(lnk, sizeof lnk, "%s/fifo", top);
	mkfifo(lnk, 0600);
	CHECK(mbox_lock(lnk, &lk) == -1 && errno == EINVAL, "FIFO refused without hanging (S34)");
	size_t vl;
	char *v = slurp(other, &vl);
	CHECK(v && vl == 0, "nothing written to the link target");
	free(v);
}

/* A dotlock holding "<pid> <host>\n"; returns the seconds mbox_lock took,
 * or -1 if it failed. remover_ms > 0: a child removes the dotlock then. */
static double
lock_against(const char *path, const char *lockpath, long pid, const char *host, int remover_ms)
{
	FILE *f = fopen(lockpath, "w");
	fprintf(f, "%ld %s\n", pid, host);
	fclose(f);
	pid_t child = 0;
	if (remover_ms > 0 && (child = fork()) == 0) {
		usleep((useconds_t)remover_ms * 1000);
		unlink(lockpath);
		_exit(0);
	}
	struct timespec a, b;
	struct mbox_lock lk;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int r = mbox_lock(path, &lk);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (r == 0)
		mbox_unlock(&lk);
	if (child > 0)
		waitpid(child, NULL, 0);
	return r != 0 ? -1 : (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void
test_dead_holder(void)
{
	char path[512], lockpath[600], copy[600], host[256];
	snprintf(path, sizeof path, "%s/dead", top);
	snprintf(lockpath, sizeof lockpath, "%s.lock", path);
	snprintf(copy, sizeof copy, "%s/.dead.yubin-rw.AbCdEf", top);
	gethostname(host, sizeof host);
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	fclose(fopen(copy, "w"));
	double took = lock_against(path, lockpath, (long)gone, host, 0);
	CHECK(took >= 0 && took < 5, "dotlock of a dead process of this host broken at once (S66)");
	CHECK(access(copy, F_OK) != 0, "the rewrite copy its holder left is removed with it");
	took = lock_against(path, lockpath, 1, host, 300);
	CHECK(took >= 0.25, "dotlock of a live process is waited for, not broken (S66)");
	took = lock_against(path, lockpath, (long)gone, "another-host.example", 300);
	CHECK(took >= 0.25, "dotlock of another host is waited for, not broken (S66)");
	struct mbox_lock lk;
	CHECK(mbox_lock(path, &lk) == 0, "lock");
	char owner[300];
	size_t ol;
	char *got = slurp(lockpath, &ol);
	snprintf(owner, sizeof owner, "%ld %s\n", (long)getpid(), host);
	CHECK(got && strncmp(got, owner, strlen(owner)) == 0, "our dotlock names us: pid and host");
	struct stat ms;
	fstat(lk.fd, &ms);
	snprintf(owner, sizeof owner, "%llu %llu %lld\n", (unsigned long long)ms.st_dev,
	    (unsigned long long)ms.st_ino, (long long)ms.st_size);
	CHECK(got && strstr(got, "\n") && strcmp(strchr(got, '\n') + 1, owner) == 0,
	    "and the way back: device, inode, size");
	free(got);
	mbox_unlock(&lk);
}

static void
test_rewrite(void)
{
	char path[512], copy[sizeof ((struct mbox_rewrite *)0)->tmp];
	snprintf(path, sizeof path, "%s/rw", top);
	append(path, "a@b", "", "first\n", NULL);
	chmod(path, 0640);
	size_t len0, len1;
	char *before = slurp(path, &len0);
	struct stat st0, st1;
	stat(path, &st0);
	struct mbox_lock lk;
	struct mbox_rewrite rw;
	CHECK(mbox_lock(path, &lk) == 0 && mbox_rewrite_begin(&lk, &rw) == 0, "rewrite begins");
	CHECK(write(rw.fd, "From x\nnew\n\n", 13) == 13, "copy written");
	mbox_rewrite_abort(&rw);
	char *after = slurp(path, &len1);
	CHECK(len0 == len1 && memcmp(before, after, len0) == 0 && rw.fd == -1, "abort: mbox unchanged");
	free(after);
	CHECK(mbox_rewrite_begin(&lk, &rw) == 0, "rewrite begins again");
	snprintf(copy, sizeof copy, "%s", rw.tmp);
	CHECK(write(rw.fd, "From x\nnew\n\n", 13) == 13, "copy written");
	int fd = -1;
	CHECK(mbox_rewrite_commit(&lk, &rw, &fd) == 0 && fd >= 0, "commit gives the new file");
	mbox_unlock(&lk);
	after = slurp(path, &len1);
	stat(path, &st1);
	CHECK(len1 == 13 && memcmp(after, "From x\nnew\n\n", 13) == 0, "commit: the new version");
	CHECK(st1.st_ino != st0.st_ino && (st1.st_mode & 0777) == 0640, "a new inode with the old mode");
	CHECK(access(copy, F_OK) != 0, "no copy left");
	free(after);
	free(before);
	close(fd);
}

/* A holder killed half way through an append: the next lock taker cuts
 * the half message off (the way back in the dotlock); a holder killed
 * after a rewrite (new inode) leaves the new file alone. */
static void
test_killed_appender(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/killed", top);
	append(path, "a@b", "", "first\n", NULL);
	size_t len0, len1;
	char *before = slurp(path, &len0);
	pid_t pid = fork();
	if (pid == 0) {
		struct mbox_lock l2;
		if (mbox_lock(path, &l2) != 0 ||
		    pwrite(l2.fd, "From half Thu Nov 27 17:37:10 2026\nSubject: cut", 47, (off_t)len0) != 47)
			_exit(1);
		_exit(0);   /* killed: no unlock, the dotlock stays */
	}
	int st;
	waitpid(pid, &st, 0);
	char *mid = slurp(path, &len1);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && len1 == len0 + 47, "half an append left by a dead holder");
	free(mid);
	struct mbox_lock lk;
	CHECK(mbox_lock(path, &lk) == 0, "the next lock is taken at once");
	mbox_unlock(&lk);
	char *after = slurp(path, &len1);
	CHECK(len1 == len0 && memcmp(before, after, len0) == 0, "and the half message is cut off (S65)");
	free(after);
	pid = fork();
	if (pid == 0) {
		struct mbox_lock l2;
		struct mbox_rewrite rw;
		if (mbox_lock(path, &l2) != 0 || mbox_rewrite_begin(&l2, &rw) != 0 ||
		    write(rw.fd, "From x\nnew and longer\n\n", 24) != 24 ||
		    mbox_rewrite_commit(&l2, &rw, NULL) != 0)
			_exit(1);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	CHECK(mbox_lock(path, &lk) == 0, "lock after a holder died after its rewrite");
	mbox_unlock(&lk);
	after = slurp(path, &len1);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && len1 == 24 && memcmp(after, "From x\nnew", 10) == 0,
	    "the rewritten mbox (another inode) is left alone");
	free(after);
	free(before);
}

/* A disk that takes no byte more (a file size limit of 0, in a child):
 * the lock is still taken, so mail can be read and deleted, but an append
 * is refused, having no way back recorded. */
static void
test_full_disk(void)
{
	char path[512], lockpath[600];
	snprintf(path, sizeof path, "%s/full", top);
	snprintf(lockpath, sizeof lockpath, "%s.lock", path);
	append(path, "a@b", "", "first\n", NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = msg_fd("x\n", 2);
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { 0, 0 };
		setrlimit(RLIMIT_FSIZE, &rl);
		struct mbox_lock lk;
		if (mbox_lock(path, &lk) != 0)
			_exit(1);
		struct stat st;
		if (stat(lockpath, &st) != 0 || st.st_size != 0)
			_exit(2);
		off_t old;
		int r = mbox_append(&lk, "a@b", time(NULL), "", 0, fd, 2, &old);
		int e = errno;
		mbox_unlock(&lk);
		_exit(r == -1 && e == ENOSPC ? 0 : 3);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "# full-disk child: status %d\n", st);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "full disk: the lock is taken (empty dotlock), an append refused with ENOSPC");
}

/* The same checks the fuzz target makes, on a few seeds. */
static int
scan_sane(const char *data, size_t len)
{
	int fd = msg_fd(data, len);
	struct mbox_entry *e;
	size_t n;
	int ok = mbox_scan(fd, &e, &n) == 0;
	off_t prev_end = 0;
	for (size_t i = 0; ok && i < n; i++) {
		if (e[i].from_offset < prev_end || e[i].offset <= e[i].from_offset ||
		    e[i].length < 0 || e[i].offset + e[i].length > (off_t)len ||
		    memcmp(data + e[i].from_offset, "From ", 5) != 0)
			ok = 0;
		prev_end = e[i].offset + e[i].length;
		char *buf;
		size_t blen;
		if (ok && (mbox_read(fd, &e[i], &buf, &blen) != 0 || blen > (size_t)e[i].length))
			ok = 0;
		else if (ok)
			free(buf);
	}
	if (ok)
		free(e);
	close(fd);
	return ok;
}

static void
test_scan_seeds(void)
{
	static const char *const seeds[] = {
		"", "From ", "From x", "\n\nFrom x\n", "junk\nFrom x\nbody\n",
		"From a Thu Nov 27 17:37:10 2026\n\nFrom b\n\n", "From a\nFrom b\n\n\n",
		"From a\n>From b\n\nFrom c\n", "\n\n\n", "From a\r\n\r\nFrom b\r\n",
	};
	int ok = 1;
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
		ok &= scan_sane(seeds[i], strlen(seeds[i]));
	CHECK(ok, "fuzz seeds scan sanely");
	int fd = msg_fd("junk\nFrom x\nbody\n", 17);
	struct mbox_entry *e;
	size_t n;
	CHECK(mbox_scan(fd, &e, &n) == 0 && n == 0, "From after a non-blank line is not a message");
	free(e);
	close(fd);
	fd = msg_fd("From a\nFrom b\n\nFrom c\n\n", 23);
	CHECK(mbox_scan(fd, &e, &n) == 0 && n == 2 && e[0].length == 7 && e[1].from_offset == 15 &&
	    e[1].length == 0, "offsets and lengths exact");
	free(e);
	close(fd);
	char q[] = ">From a\n>>From b\n>x\nc >From\n>";
	size_t ql = mbox_unquote(q, strlen(q));
	CHECK(ql == strlen(q) - 2 && memcmp(q, "From a\n>From b\n>x\nc >From\n>", ql) == 0, "unquote");
}

int
main(void)
{
	if (mkdtemp(top) == NULL)
		abort();
	test_roundtrip();
	test_big_roundtrip();
	test_rollback_and_failure();
	test_locking();
	test_dead_holder();
	test_rewrite();
	test_killed_appender();
	test_full_disk();
	test_scan_seeds();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
	if (system(cmd) != 0)
		return 1;
	return unit_done();
}
