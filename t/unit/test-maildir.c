/* Unit tests for lib/maildir: delivery round trip, names with S= and W=,
 * exact vsize for LF and CRLF content, flag renames keeping the unique part,
 * following a concurrent rename (S64), symlinked new/ or tmp/ (S34). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "maildir.h"
#include "unit.h"

static char top[] = "/tmp/yubin-maildir-XXXXXX";
/* info letters of an entry, read from its name (maildir_entry_flags) */
static char fl[MAILDIR_FLAGS_MAX];

/* An unlinked temp file holding text, positioned at its end (delivery must
 * read from offset 0 regardless). */
static int
msg_fd(const char *text, size_t len)
{
	/* memfd: nothing on disk to leave behind, even when killed. */
	int fd = memfd_create("msg", MFD_CLOEXEC);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		abort();
	return fd;
}

static int
count_files(const char *dir, const char *sub)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "test $(ls -A '%s/%s' | wc -l) -eq 0", dir, sub);
	if (system(cmd) == 0)
		return 0;
	snprintf(cmd, sizeof cmd, "ls -A '%s/%s' | wc -l", dir, sub);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p == NULL || fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

static int
deliver(const char *dir, const char *prefix, const char *text)
{
	struct maildir_delivery d;
	int fd = msg_fd(text, strlen(text));
	int r = maildir_prepare(dir, prefix, strlen(prefix), fd, strlen(text), &d);
	close(fd);
	if (r == 0)
		r = maildir_commit(&d);
	return r;
}

static int
read_all(int fd, char *buf, size_t size)
{
	ssize_t n = read(fd, buf, size - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

static void
test_roundtrip(void)
{
	char dir[512], buf[4096];
	snprintf(dir, sizeof dir, "%s/md", top);
	CHECK(maildir_create(dir) == 0, "create");
	CHECK(maildir_create(dir) == 0, "create again is fine");
	const char *prefix = "Return-Path: <a@b>\n";
	const char *body = "Subject: hi\n\nline 1\nline 2\n";
	CHECK(deliver(dir, prefix, body) == 0, "deliver LF message");
	CHECK(count_files(dir, "tmp") == 0 && count_files(dir, "new") == 1, "one file in new/, tmp/ empty");

	struct maildir_entry *e;
	size_t n;
	CHECK(maildir_scan(dir, 0, &e, &n) == 0 && n == 1, "scan finds it");
	size_t size = strlen(prefix) + strlen(body);
	CHECK(e[0].size == size, "S= is the size on disk");
	CHECK(e[0].vsize == size + 5, "W= is size + one per LF");
	CHECK(e[0].in_new == 1 && maildir_entry_flags(&e[0], fl)[0] == '\0', "in new/, no flags");
	CHECK(e[0].base_len > 0 && e[0].name[e[0].base_len] == ',', "unique part ends at ','");
	char expect[256];
	snprintf(expect, sizeof expect, ",S=%zu,W=%zu", size, size + 5);
	CHECK(strcmp(e[0].name + e[0].base_len, expect) == 0, "name is <unique>,S=,W=");
	CHECK(e[0].mtime > 0 && e[0].mtime <= time(NULL), "mtime from the name");
	int fd = maildir_open(dir, &e[0]);
	CHECK(fd >= 0 && read_all(fd, buf, sizeof buf) == (int)size &&
	    strncmp(buf, prefix, strlen(prefix)) == 0 && strcmp(buf + strlen(prefix), body) == 0,
	    "content is prefix + message, byte for byte");
	uint64_t vs = 0;
	CHECK(maildir_count_vsize(fd, &vs) == 0 && vs == e[0].vsize, "count_vsize agrees with W=");
	close(fd);
	char path[1024];
	snprintf(path, sizeof path, "%s/new/%s", dir, e[0].name);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "message file mode 0600");
	maildir_entries_free(&e, n);
	CHECK(e == NULL, "entries_free sets NULL");

	/* CRLF content: W= equals S=; mixed content counts only bare LFs. */
	CHECK(deliver(dir, "", "a\r\nb\r\n") == 0, "deliver CRLF message");
	CHECK(deliver(dir, "X: y\n", "a\r\nb\nc\rd") == 0, "deliver mixed line ends");
	CHECK(deliver(dir, "", "") == 0, "deliver empty message");
	CHECK(maildir_scan(dir, 1, &e, &n) == 0 && n == 4, "scan with mtime: 4 messages");
	int crlf = 0, mixed = 0, empty = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].size == 6 && e[i].vsize == 6)
			crlf = 1;
		if (e[i].size == 13 && e[i].vsize == 15)
			mixed = 1;
		if (e[i].size == 0 && e[i].vsize == 0)
			empty = 1;
		fd = maildir_open(dir, &e[i]);
		uint64_t v;
		if (fd < 0 || maildir_count_vsize(fd, &v) != 0 || v != e[i].vsize)
			crlf = mixed = empty = 0;
		if (fd >= 0)
			close(fd);
	}
	CHECK(crlf, "CRLF content: vsize == size");
	CHECK(mixed, "mixed content: vsize counts bare LFs only");
	CHECK(empty, "empty message: sizes 0");
	int sorted = 1;
	for (size_t i = 1; i < n; i++)
		if (e[i - 1].mtime > e[i].mtime)
			sorted = 0;
	CHECK(sorted, "entries sorted by mtime");
	maildir_entries_free(&e, n);
}

static void
test_flags_and_moves(void)
{
	char dir[512], from[1024], to[1024], base[256];
	snprintf(dir, sizeof dir, "%s/fl", top);
	maildir_create(dir);
	deliver(dir, "", "hello\n");
	struct maildir_entry *e;
	size_t n;
	maildir_scan(dir, 0, &e, &n);
	snprintf(base, sizeof base, "%.*s", (int)e[0].base_len, e[0].name);
	CHECK(maildir_set_flags(dir, &e[0], "TSFS") == 0, "set_flags");
	CHECK(e[0].in_new == 0 && strcmp(maildir_entry_flags(&e[0], fl), "FST") == 0, "flags sorted and deduplicated");
	CHECK(strncmp(e[0].name, base, strlen(base)) == 0 && e[0].base_len == strlen(base),
	    "flag rename keeps the unique part");
	CHECK(strstr(e[0].name, ",S=6,W=7:2,FST") != NULL, "sizes kept, :2,FST appended");
	CHECK(count_files(dir, "new") == 0 && count_files(dir, "cur") == 1, "moved to cur/");
	CHECK(maildir_set_flags(dir, &e[0], "F x") == -1 && errno == EINVAL, "bad flag refused");

	/* Another session renames it behind our back: open follows (S64). */
	snprintf(from, sizeof from, "%s/cur/%s", dir, e[0].name);
	snprintf(to, sizeof to, "%s/cur/%s,S=6,W=7:2,RS", dir, base);
	if (rename(from, to) != 0)
		abort();
	struct maildir_entry stale = e[0];
	stale.name = strdup(e[0].name);
	int fd = maildir_open(dir, &stale);
	char buf[64];
	CHECK(fd >= 0 && read_all(fd, buf, sizeof buf) == 6 && strcmp(buf, "hello\n") == 0,
	    "open after a concurrent rename finds it by unique part (S64)");
	CHECK(strcmp(maildir_entry_flags(&stale, fl), "RS") == 0 && strstr(stale.name, ":2,RS") != NULL,
	    "entry updated to the new name and flags");
	if (fd >= 0)
		close(fd);
	/* Stale entry again (old name): set_flags follows too. */
	free(stale.name);
	stale.name = strdup(e[0].name);
	CHECK(maildir_set_flags(dir, &stale, "S") == 0 && strcmp(maildir_entry_flags(&stale, fl), "S") == 0,
	    "set_flags follows a concurrent rename");
	/* Moved back to new/ (as an odd client might): still found. */
	snprintf(from, sizeof from, "%s/cur/%s", dir, stale.name);
	snprintf(to, sizeof to, "%s/new/%s,S=6,W=7", dir, base);
	if (rename(from, to) != 0)
		abort();
	fd = maildir_open(dir, &stale);
	CHECK(fd >= 0 && stale.in_new == 1, "found again in new/");
	if (fd >= 0)
		close(fd);
	free(stale.name);
	stale.name = strdup(e[0].name);
	CHECK(maildir_remove(dir, &stale) == 0, "remove follows the move");
	CHECK(count_files(dir, "new") == 0 && count_files(dir, "cur") == 0, "removed");
	CHECK(maildir_open(dir, &stale) == -1 && errno == ENOENT, "gone: ENOENT");
	CHECK(maildir_remove(dir, &stale) == -1 && errno == ENOENT, "remove gone: ENOENT");
	free(stale.name);
	maildir_entries_free(&e, n);
}

static void
test_scan_odd_names(void)
{
	char dir[512], path[1024];
	snprintf(dir, sizeof dir, "%s/odd", top);
	maildir_create(dir);
	/* A message from another MDA without sizes, one with a duplicate in
	 * new/ and cur/ (seen mid-move), a dot file and a directory. */
	snprintf(path, sizeof path, "%s/cur/1700000000.P1.h:2,S", dir);
	FILE *f = fopen(path, "w");
	fputs("abc\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/new/1700000001.P2.h,S=3,W=4", dir);
	f = fopen(path, "w");
	fputs("xy\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/cur/1700000001.P2.h,S=3,W=4:2,", dir);
	f = fopen(path, "w");
	fputs("xy\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/new/.hidden", dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof path, "%s/cur/subdir", dir);
	mkdir(path, 0700);
	struct maildir_entry *e;
	size_t n;
	CHECK(maildir_scan(dir, 0, &e, &n) == 0 && n == 2, "scan: 2 messages (dup, dot file, dir skipped)");
	if (n == 2) {
		/* Sorted by time: the name's seconds, or the stat'ed mtime (now). */
		struct maildir_entry *a = &e[1], *b = &e[0];
		CHECK(a->size == 4 && a->vsize == 0 && strcmp(maildir_entry_flags(a, fl), "S") == 0 &&
		    a->base_len == strlen("1700000000.P1.h") && a->mtime >= time(NULL) - 100,
		    "name without S=: size and mtime by stat, flags parsed");
		CHECK(b->in_new == 0 && b->size == 3 && b->vsize == 4 && b->mtime == 1700000001,
		    "message in new/ and cur/ listed once, as cur/; time from the name");
		int fd = maildir_open(dir, a);
		uint64_t v;
		CHECK(fd >= 0 && maildir_count_vsize(fd, &v) == 0 && v == 5, "count_vsize computes W");
		close(fd);
	}
	maildir_entries_free(&e, n);
	snprintf(path, sizeof path, "%s/nope", top);
	CHECK(maildir_scan(path, 0, &e, &n) == 0 && n == 0, "scan of a missing maildir: empty");
	maildir_entries_free(&e, n);
}

static void
test_symlinks_and_abort(void)
{
	char dir[512], path[1024], target[512];
	snprintf(dir, sizeof dir, "%s/sym", top);
	snprintf(target, sizeof target, "%s/target", top);
	maildir_create(dir);
	mkdir(target, 0700);

	struct maildir_delivery d;
	int fd = msg_fd("x\n", 2);
	CHECK(maildir_prepare(dir, "", 0, fd, 2, &d) == 0, "prepare");
	CHECK(count_files(dir, "tmp") == 1 && count_files(dir, "new") == 0, "prepared: only in tmp/");
	maildir_abort(&d);
	CHECK(count_files(dir, "tmp") == 0 && count_files(dir, "new") == 0, "abort removes the tmp file");

	/* new/ replaced by a symlink: commit fails, nothing written there (S34). */
	CHECK(maildir_prepare(dir, "", 0, fd, 2, &d) == 0, "prepare before the swap");
	snprintf(path, sizeof path, "%s/new", dir);
	rmdir(path);
	if (symlink(target, path) != 0)
		abort();
	CHECK(maildir_commit(&d) == -1 && (errno == ELOOP || errno == ENOTDIR),
	    "commit into symlinked new/ refused (S34)");
	CHECK(count_files(dir, "tmp") == 0 && count_files(top, "target") == 0,
	    "nothing through the link, tmp file removed");
	CHECK(maildir_commit(&d) == -1 && errno == EINVAL, "commit twice: EINVAL");

	/* tmp/ a symlink: prepare refuses. */
	snprintf(path, sizeof path, "%s/tmp", dir);
	rmdir(path);
	if (symlink(target, path) != 0)
		abort();
	CHECK(maildir_prepare(dir, "", 0, fd, 2, &d) == -1 && (errno == ELOOP || errno == ENOTDIR),
	    "prepare into symlinked tmp/ refused (S34)");
	CHECK(count_files(top, "target") == 0, "nothing written through tmp/ link");

	/* Readers (S34): cur/ a symlink → scan fails; a symlink or FIFO among
	 * the messages is skipped by scan and refused by open, without hanging. */
	snprintf(dir, sizeof dir, "%s/readsym", top);
	maildir_create(dir);
	snprintf(path, sizeof path, "%s/1.M1P1.h,S=4,W=5", target);
	FILE *f = fopen(path, "w");
	fputs("abc\n", f);
	fclose(f);
	char cur[600];
	snprintf(cur, sizeof cur, "%s/cur", dir);
	rmdir(cur);
	if (symlink(target, cur) != 0)
		abort();
	struct maildir_entry *e;
	size_t n;
	CHECK(maildir_scan(dir, 0, &e, &n) == -1 && (errno == ELOOP || errno == ENOTDIR),
	    "scan refuses a symlinked cur/ (S34)");
	struct maildir_entry fake = { .name = strdup("1.M1P1.h,S=4,W=5"), .base_len = 8 };
	CHECK(maildir_open(dir, &fake) == -1 && (errno == ELOOP || errno == ENOTDIR),
	    "open refuses a message under a symlinked cur/ (S34)");
	unlink(cur);
	mkdir(cur, 0700);
	snprintf(path, sizeof path, "%s/1.M1P1.h,S=4,W=5", cur);
	snprintf(target, sizeof target, "%s/target/1.M1P1.h,S=4,W=5", top);
	if (symlink(target, path) != 0)
		abort();
	snprintf(path, sizeof path, "%s/2.M1P1.h,S=4,W=5", cur);
	mkfifo(path, 0600);
	CHECK(maildir_scan(dir, 0, &e, &n) == 0 && n == 0, "scan skips a symlink and a FIFO among messages");
	maildir_entries_free(&e, n);
	CHECK(maildir_open(dir, &fake) == -1 && errno == ELOOP, "open refuses a symlinked message (S34)");
	free(fake.name);
	fake.name = strdup("2.M1P1.h,S=4,W=5");
	CHECK(maildir_open(dir, &fake) == -1 && errno == EINVAL, "open refuses a FIFO without hanging (S34)");
	free(fake.name);
	snprintf(target, sizeof target, "%s/target", top);

	/* tmp/ leftovers of killed deliveries: only those older than 36 h go. */
	snprintf(dir, sizeof dir, "%s/clean", top);
	maildir_create(dir);
	snprintf(path, sizeof path, "%s/tmp/old", dir);
	fclose(fopen(path, "w"));
	struct timeval tv[2] = { { time(NULL) - 37 * 3600, 0 }, { time(NULL) - 37 * 3600, 0 } };
	utimes(path, tv);
	snprintf(path, sizeof path, "%s/tmp/fresh", dir);
	fclose(fopen(path, "w"));
	CHECK(maildir_clean_tmp(dir) == 0, "clean_tmp");
	snprintf(path, sizeof path, "%s/tmp/old", dir);
	int gone = access(path, F_OK) != 0;
	snprintf(path, sizeof path, "%s/tmp/fresh", dir);
	CHECK(gone && access(path, F_OK) == 0, "tmp file older than 36 h removed, fresh one kept (S63)");

	/* Message shorter than promised: error, nothing left. */
	snprintf(dir, sizeof dir, "%s/short", top);
	maildir_create(dir);
	CHECK(maildir_prepare(dir, "", 0, fd, 3, &d) == -1 && errno == EIO, "short message: EIO");
	CHECK(count_files(dir, "tmp") == 0, "short message: tmp/ clean");
	close(fd);
}

static int
content_is(const char *dir, struct maildir_entry *e, const char *want)
{
	char buf[256];
	int fd = maildir_open(dir, e);
	if (fd < 0)
		return 0;
	int n = read_all(fd, buf, sizeof buf);
	close(fd);
	return n == (int)strlen(want) && strcmp(buf, want) == 0;
}

/* Finds the entry whose name is name in a fresh scan (with mtime). */
static struct maildir_entry *
find_named(const char *dir, const char *name, struct maildir_entry **all, size_t *n)
{
	if (maildir_scan(dir, 1, all, n) != 0)
		return NULL;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*all)[i].name, name) == 0)
			return &(*all)[i];
	return NULL;
}

static void
test_append_copy_move(void)
{
	char inbox[512], sent[512], name[256], base[256];
	struct maildir_entry *all, *all2, *e, *c;
	size_t n, n2;
	snprintf(inbox, sizeof inbox, "%s/imap", top);
	snprintf(sent, sizeof sent, "%s/imap/.Sent", top);
	maildir_create(inbox);
	maildir_create(sent);

	/* APPEND with flags and INTERNALDATE: straight into cur/. */
	struct maildir_delivery d;
	int fd = msg_fd("Subject: a\n\nappended\n", 21);
	CHECK(maildir_prepare(inbox, "", 0, fd, 21, &d) == 0 &&
	    maildir_commit_flags(&d, "SF", 1600000000) == 0, "commit_flags");
	close(fd);
	const char *slash = strrchr(d.new_path, '/');
	snprintf(name, sizeof name, "%s", slash ? slash + 1 : "");
	CHECK(strstr(d.new_path, "/cur/") && strstr(name, ",S=21,W=24:2,FS"), "appended into cur/ with sorted flags");
	e = find_named(inbox, name, &all, &n);
	CHECK(e && e->in_new == 0 && e->mtime == 1600000000 && strcmp(maildir_entry_flags(e, fl), "FS") == 0,
	    "INTERNALDATE kept as mtime, flags parsed");
	CHECK(e && content_is(inbox, e, "Subject: a\n\nappended\n"), "appended content exact");
	CHECK(count_files(inbox, "new") == 0 && count_files(inbox, "tmp") == 0, "nothing in new/ or tmp/");
	fd = msg_fd("x", 1);
	CHECK(maildir_prepare(inbox, "", 0, fd, 1, &d) == 0 && maildir_commit_flags(&d, "S!", 0) == -1 &&
	    errno == EINVAL && count_files(inbox, "tmp") == 0, "bad flag: EINVAL, tmp file removed");
	close(fd);

	/* COPY: new unique part, same content and date, source kept. */
	if (e) {
		snprintf(base, sizeof base, "%.*s", (int)e->base_len, e->name);
		CHECK(maildir_copy(inbox, e, sent, "S", name, sizeof name) == 0, "copy");
		c = find_named(sent, name, &all2, &n2);
		CHECK(c && strncmp(c->name, base, strlen(base)) != 0 && strcmp(maildir_entry_flags(c, fl), "S") == 0 &&
		    c->size == 21 && c->vsize == 24 && c->mtime == 1600000000,
		    "copy: fresh unique part, given flags, sizes and date kept");
		CHECK(c && content_is(sent, c, "Subject: a\n\nappended\n") &&
		    content_is(inbox, e, "Subject: a\n\nappended\n"), "copy: both readable");
		maildir_entries_free(&all2, n2);
		CHECK(maildir_copy(inbox, e, sent, NULL, name, sizeof name) == 0 && strstr(name, ":2,FS"),
		    "copy with NULL flags keeps the source's");

		/* MOVE after a concurrent flag rename of the source (S64). */
		char from[1024], to[1024];
		snprintf(from, sizeof from, "%s/cur/%s", inbox, e->name);
		snprintf(to, sizeof to, "%s/cur/%s,S=21,W=24:2,RS", inbox, base);
		rename(from, to);
		CHECK(maildir_move(inbox, e, sent, "T", name, sizeof name) == 0, "move follows a concurrent rename");
		CHECK(strncmp(name, base, strlen(base)) == 0 && strstr(name, ":2,T"), "move keeps the unique part");
		c = find_named(sent, name, &all2, &n2);
		CHECK(c && content_is(sent, c, "Subject: a\n\nappended\n") && count_files(inbox, "cur") == 0,
		    "moved: in the destination only");
		CHECK(n2 == 3, "destination holds the two copies and the moved one");
		maildir_entries_free(&all2, n2);
	}
	maildir_entries_free(&all, n);

	/* Across file systems (root only: a tmpfs): the copy fallback. */
	char other[512];
	snprintf(other, sizeof other, "%s/otherfs", top);
	mkdir(other, 0700);
	if (mount("tmpfs", other, "tmpfs", 0, "size=1m") == 0) {
		maildir_create(other);
		maildir_scan(sent, 1, &all, &n);
		CHECK(n > 0 && maildir_copy(sent, &all[0], other, "D", name, sizeof name) == 0,
		    "copy across file systems");
		c = find_named(other, name, &all2, &n2);
		CHECK(c && c->mtime == all[0].mtime && content_is(other, c, "Subject: a\n\nappended\n"),
		    "cross-fs copy: content and date kept");
		maildir_entries_free(&all2, n2);
		CHECK(maildir_move(sent, &all[0], other, NULL, name, sizeof name) == 0 &&
		    count_files(other, "cur") == 2 && count_files(other, "tmp") == 0, "move across file systems");
		maildir_entries_free(&all, n);
		umount(other);
	}
}

/* Helper modes for t/0020-storage-concurrency.t (S64):
 *   test-maildir churn DIR SECONDS   sets flags on every message, in a loop
 *   test-maildir read DIR SECONDS    scans and reads every message, in a loop
 * until SECONDS pass or standard input reaches EOF.
 * Nothing is ever removed meanwhile, so a reader that cannot find a message
 * ("vanished"), a scan listing fewer messages than an earlier one
 * ("missed") or a size other than S= ("partial") is wrong. Each
 * prints one line of counters. */
static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
helper(const char *mode, const char *dir, double secs)
{
	static const char *const flagsets[] = { "S", "FS", "", "RS", "DFS" };
	unsigned long passes = 0, ops = 0, vanished = 0, partial = 0, errors = 0, missed = 0;
	size_t seen = 0;
	double end = now() + secs;
	struct pollfd in = { .fd = 0, .events = POLLIN };
	while (now() < end && poll(&in, 1, 0) == 0) {
		struct maildir_entry *e;
		size_t n;
		if (maildir_scan(dir, 0, &e, &n) != 0) {
			errors++;
			continue;
		}
		/* Nothing is removed: a scan must never list fewer than before. */
		if (n < seen)
			missed += seen - n;
		if (n > seen)
			seen = n;
		for (size_t i = 0; i < n; i++) {
			if (mode[0] == 'c') {
				if (maildir_set_flags(dir, &e[i], flagsets[(passes + i) % 5]) == 0)
					ops++;
				else if (errno == ENOENT)
					vanished++;
				else
					errors++;
				continue;
			}
			int fd = maildir_open(dir, &e[i]);
			if (fd < 0) {
				if (errno == ENOENT)
					vanished++;
				else
					errors++;
				continue;
			}
			struct stat st;
			uint64_t v;
			if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != e[i].size ||
			    maildir_count_vsize(fd, &v) != 0 || v != e[i].vsize)
				partial++;
			ops++;
			close(fd);
		}
		maildir_entries_free(&e, n);
		passes++;
	}
	printf("passes=%lu ops=%lu vanished=%lu partial=%lu errors=%lu missed=%lu\n",
	    passes, ops, vanished, partial, errors, missed);
	return 0;
}

/* Names of a scan in blocks (maildir_scan_packed): the same entries as a
 * plain scan, past one 64 KiB block; a renamed entry and one given its
 * own copy stay valid after the blocks are freed (ASan build: no
 * use-after-free, no double free). */
static void
test_packed_names(void)
{
	char dir[512], path[1024], pad[201];
	snprintf(dir, sizeof dir, "%s/pk", top);
	maildir_create(dir);
	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	enum { FILES = 400 };   /* ~90 KB of names: two blocks */
	for (int i = 0; i < FILES; i++) {
		snprintf(path, sizeof path, "%s/cur/%d.M%dP1.%s,S=1:2,%s", dir, 1600000000 + i, i,
		    pad, i % 2 ? "S" : "FR");
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || write(fd, "x", 1) != 1)
			abort();
		close(fd);
	}
	struct maildir_entry *e, *p;
	struct maildir_names *names = NULL;
	size_t n, np, same = 0, packed = 0, flags_ok = 0;
	CHECK(maildir_scan(dir, 0, &e, &n) == 0 && n == FILES, "plain scan");
	CHECK(maildir_scan_packed(dir, 0, &p, &np, &names) == 0 && np == FILES && names != NULL &&
	    names->blocks != NULL, "packed scan");
	for (size_t i = 0; i < n && i < np; i++) {
		same += strcmp(e[i].name, p[i].name) == 0 && e[i].base_len == p[i].base_len &&
		    e[i].size == p[i].size && e[i].mtime == p[i].mtime;
		packed += p[i].name_packed && !e[i].name_packed;
		flags_ok += strcmp(maildir_entry_flags(&p[i], fl), strstr(e[i].name, ":2,") + 3) == 0;
	}
	CHECK(same == FILES && packed == FILES && flags_ok == FILES,
	    "same names, sizes and times; flags read from the name");
	CHECK(maildir_set_flags(dir, &p[0], "T") == 0 && !p[0].name_packed &&
	    strcmp(maildir_entry_flags(&p[0], fl), "T") == 0, "a renamed packed entry owns its name");
	CHECK(maildir_entry_own_name(&p[1]) == 0 && !p[1].name_packed &&
	    strcmp(p[1].name, e[1].name) == 0, "own_name copies a packed name");
	maildir_names_free(names);
	CHECK(strstr(p[0].name, ":2,T") != NULL && strcmp(p[1].name, e[1].name) == 0,
	    "own names outlive the blocks");
	maildir_entries_free(&p, np);  /* frees only the two own names */
	maildir_entries_free(&e, n);
}

int
main(int argc, char **argv)
{
	if (argc == 4)
		return helper(argv[1], argv[2], atof(argv[3]));
	if (mkdtemp(top) == NULL)
		abort();
	test_roundtrip();
	test_flags_and_moves();
	test_scan_odd_names();
	test_symlinks_and_abort();
	test_append_copy_move();
	test_packed_names();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
	if (system(cmd) != 0)
		return 1;
	return unit_done();
}
