/*
 * Unit tests for lib/mcache: records round-trip through the file and a
 * second open; a lookup with another UIDVALIDITY or id misses; a record
 * parsed one byte at a time asks for more until whole; every flipped byte
 * and every cut of a record is refused; a cache file cut or overwritten at
 * any offset answers only with intact records, and the next write cuts it
 * back and goes on; a file replaced under an open cache is followed;
 * compaction drops replaced and unwanted records only, and writes nothing
 * through a link planted at its temporary file's name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mcache.h"
#include "unit.h"

static char dir[] = "/tmp/mcache-test-XXXXXX";
static char path[256];

static void
rec_of(struct mcache_rec *r, uint32_t uid, const char *id, const char *env)
{
	memset(r, 0, sizeof *r);
	r->validity = 7;
	r->uid = uid;
	r->id = (const unsigned char *)id;
	r->id_len = strlen(id);
	r->size = 1000 + uid;
	r->date = 1700000000 + uid;
	r->items = 1u << 0 | 1u << 3;
	r->item[0].p = (const unsigned char *)env;
	r->item[0].len = (uint32_t)strlen(env);
	r->item[3].p = (const unsigned char *)"";
	r->item[3].len = 0;
}

/* 1 if uid reads back as rec_of(uid, id, env) made it. */
static int
reads_back(struct mcache *c, uint32_t uid, const char *id, const char *env)
{
	struct mcache_rec r;
	if (mcache_get(c, 7, uid, id, strlen(id), &r) != 1)
		return 0;
	return r.size == 1000 + uid && r.date == 1700000000 + (int64_t)uid &&
	    r.items == (1u << 0 | 1u << 3) && r.item[0].len == strlen(env) &&
	    memcmp(r.item[0].p, env, strlen(env)) == 0 && r.item[3].len == 0;
}

static void
fill(struct mcache *c, uint32_t from, uint32_t to)
{
	char id[32], env[64];
	for (uint32_t u = from; u <= to; u++) {
		struct mcache_rec r;
		snprintf(id, sizeof id, "m%u", u);
		snprintf(env, sizeof env, "(envelope of %u)", u);
		rec_of(&r, u, id, env);
		if (mcache_put(c, &r) != 0)
			abort();
	}
}

/* How many of 1..n read back right; *wrong_r: how many read back wrong. */
static unsigned
count_good(struct mcache *c, uint32_t n, unsigned *wrong_r)
{
	char id[32], env[64];
	unsigned good = 0;
	*wrong_r = 0;
	for (uint32_t u = 1; u <= n; u++) {
		struct mcache_rec r;
		snprintf(id, sizeof id, "m%u", u);
		snprintf(env, sizeof env, "(envelope of %u)", u);
		if (reads_back(c, u, id, env))
			good++;
		else if (mcache_get(c, 7, u, id, strlen(id), &r) == 1)
			(*wrong_r)++;
	}
	return good;
}

static void
round_trip(void)
{
	unlink(path);
	struct mcache *c = mcache_open(path);
	CHECK(c != NULL, "a new cache opens");
	fill(c, 1, 100);
	CHECK(mcache_flush(c) == 0, "100 records written");
	unsigned wrong;
	CHECK(count_good(c, 100, &wrong) == 100, "they read back in the same cache");
	mcache_close(&c);
	c = mcache_open(path);
	CHECK(count_good(c, 100, &wrong) == 100 && wrong == 0, "and after a new open");
	struct mcache_rec r;
	CHECK(mcache_get(c, 8, 5, "m5", 2, &r) == 0, "another UIDVALIDITY misses");
	CHECK(mcache_get(c, 7, 5, "m6", 2, &r) == 0, "another id misses");
	CHECK(mcache_get(c, 7, 500, "m500", 4, &r) == 0, "an unknown UID misses");
	/* a later record replaces an earlier one */
	rec_of(&r, 5, "m5x", "(new)");
	mcache_put(c, &r);
	mcache_flush(c);
	CHECK(reads_back(c, 5, "m5x", "(new)") && mcache_get(c, 7, 5, "m5", 2, &r) == 0,
	    "a new record for a UID replaces the old");
	mcache_close(&c);
}

static void
parse_bytes(void)
{
	struct mcache_rec r, back;
	rec_of(&r, 42, "name,S=10", "(\"env\")");
	size_t len, need;
	unsigned char *b = mcache_record_build(&r, &len);
	CHECK(b != NULL, "a record builds");
	int more = 1;
	for (size_t n = 0; n < len; n++)
		more &= mcache_record_parse(b, n, &back, &need) == 0;
	CHECK(more, "each prefix asks for more");
	CHECK(mcache_record_parse(b, len, &back, &need) == 1 && need == len && back.uid == 42,
	    "the whole parses");
	int refused = 1;
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (unsigned char)(1u << bit);
			refused &= mcache_record_parse(b, len, &back, &need) != 1;
			b[i] ^= (unsigned char)(1u << bit);
		}
	}
	CHECK(refused, "every flipped bit is refused");
	free(b);
	r.id_len = MCACHE_ID_MAX + 1;
	errno = 0;
	CHECK(mcache_record_build(&r, &len) == NULL && errno == E2BIG, "a long id is refused");
}

static void
copy_file(const char *from, const char *to)
{
	char buf[65536];
	int a = open(from, O_RDONLY), b = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;
	while ((n = read(a, buf, sizeof buf)) > 0)
		if (write(b, buf, (size_t)n) != n)
			abort();
	close(a);
	close(b);
}

/* The file cut, or bytes overwritten, at offsets all over it: only intact
 * records answer, and a write afterwards leaves a file that reads back. */
static void
damaged(void)
{
	char good[300];
	snprintf(good, sizeof good, "%s/good", dir);
	unlink(path);
	struct mcache *c = mcache_open(path);
	fill(c, 1, 300);
	mcache_close(&c);
	copy_file(path, good);
	struct stat st;
	stat(good, &st);
	int ok_cut = 1, ok_junk = 1, ok_after = 1;
	srand(20261207);
	for (int k = 0; k < 60; k++) {
		off_t at = (off_t)(rand() % (int)st.st_size);
		unsigned wrong;
		copy_file(good, path);
		if (k % 2 == 0) {
			if (truncate(path, at) != 0)
				abort();
		} else {
			int fd = open(path, O_WRONLY);
			unsigned char junk[16];
			for (size_t i = 0; i < sizeof junk; i++)
				junk[i] = (unsigned char)rand();
			if (pwrite(fd, junk, 1 + (size_t)(rand() % 16), at) < 0)
				abort();
			close(fd);
		}
		c = mcache_open(path);
		unsigned got = count_good(c, 300, &wrong);
		if (wrong != 0 && k % 2 == 0)
			ok_cut = 0;
		if (wrong != 0 && k % 2 == 1)
			ok_junk = 0;
		fill(c, 301, 310);
		mcache_flush(c);
		mcache_close(&c);
		c = mcache_open(path);
		unsigned again = count_good(c, 310, &wrong);
		if (wrong != 0 || again < got + 10)
			ok_after = 0;
		mcache_close(&c);
	}
	CHECK(ok_cut, "a cut file answers only with intact records");
	CHECK(ok_junk, "overwritten bytes answer only with intact records");
	CHECK(ok_after, "the next write keeps what was intact and adds its own");
	unlink(good);
}

/* Another writer's record is read before ours goes on, and a file
 * replaced under an open cache is followed. */
static void
two_writers(void)
{
	unlink(path);
	struct mcache *a = mcache_open(path), *b = mcache_open(path);
	fill(a, 1, 10);
	mcache_flush(a);
	fill(b, 11, 20);
	mcache_flush(b);
	unsigned wrong;
	CHECK(count_good(b, 20, &wrong) == 20, "a second writer appends after the first");
	mcache_close(&a);
	mcache_close(&b);
	a = mcache_open(path);
	CHECK(count_good(a, 20, &wrong) == 20, "both are in the file");
	unlink(path);
	b = mcache_open(path);
	fill(b, 21, 21);
	mcache_flush(b);
	fill(a, 22, 22);
	mcache_flush(a);
	mcache_close(&a);
	mcache_close(&b);
	a = mcache_open(path);
	struct mcache_rec r;
	CHECK(mcache_get(a, 7, 21, "m21", 3, &r) == 1 && mcache_get(a, 7, 22, "m22", 3, &r) == 1,
	    "a writer follows the file to its new inode");
	mcache_close(&a);
}

static int
keep_half(void *ctx, uint32_t uid)
{
	return uid <= *(uint32_t *)ctx;
}

/* Replaced records and those of UIDs no longer wanted go, the rest stay
 * readable; a cache with little waste is left alone. */
static void
compaction(void)
{
	unlink(path);
	struct mcache *c = mcache_open(path);
	for (int round = 0; round < 3; round++) {
		fill(c, 1, 3000);
		mcache_flush(c);
	}
	struct stat before, after;
	stat(path, &before);
	uint32_t limit = 1500;
	CHECK(mcache_compact(c, keep_half, &limit) == 0, "a wasteful cache compacts");
	stat(path, &after);
	unsigned wrong;
	CHECK(after.st_size * 5 < before.st_size, "to a fifth of its size or less");
	CHECK(count_good(c, 1500, &wrong) == 1500 && wrong == 0, "kept records read back");
	struct mcache_rec r;
	CHECK(mcache_get(c, 7, 2000, "m2000", 5, &r) == 0, "dropped ones miss");
	mcache_close(&c);
	c = mcache_open(path);
	CHECK(count_good(c, 1500, &wrong) == 1500, "and after a new open");
	stat(path, &before);
	limit = 3000;
	CHECK(mcache_compact(c, keep_half, &limit) == 0, "a lean cache");
	stat(path, &after);
	CHECK(after.st_ino == before.st_ino && after.st_size == before.st_size, "is left alone");
	mcache_close(&c);
}

/* The compaction's new file is made where nothing planted beforehand is
 * written through (S34): a hard link left at <path>.<pid>, the name a
 * rewrite used to open with O_TRUNC, keeps its target's bytes. */
static void
planted_link(void)
{
	char tmp[300], victim[300], got[32] = "";
	snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
	snprintf(victim, sizeof victim, "%s/victim", dir);
	FILE *f = fopen(victim, "w");
	if (f == NULL || fputs("not the cache\n", f) < 0 || fclose(f) != 0 || link(victim, tmp) != 0) {
		perror(tmp);
		exit(1);
	}
	unlink(path);
	struct mcache *c = mcache_open(path);
	for (int round = 0; round < 3; round++) {
		fill(c, 1, 3000);
		mcache_flush(c);
	}
	uint32_t limit = 100;
	struct stat before, after;
	stat(path, &before);
	CHECK(mcache_compact(c, keep_half, &limit) == 0, "compacted with a link planted");
	CHECK(stat(path, &after) == 0 && after.st_ino != before.st_ino, "into a new file");
	unsigned wrong;
	CHECK(count_good(c, 100, &wrong) == 100 && wrong == 0, "its records read back");
	mcache_close(&c);
	f = fopen(victim, "r");
	CHECK(f && fgets(got, sizeof got, f) && strcmp(got, "not the cache\n") == 0,
	    "the linked file is left alone");
	if (f)
		fclose(f);
	unlink(tmp);
	unlink(victim);
}

/* A cache file this process may only read answers (bit 1), and a write
 * to it fails without harm (bit 2). Run by a user that file modes bind. */
static int
read_only_run(void)
{
	unlink(path);
	struct mcache *c = mcache_open(path);
	fill(c, 1, 5);
	mcache_flush(c);
	mcache_close(&c);
	chmod(path, 0400);
	c = mcache_open(path);
	unsigned wrong;
	int got = count_good(c, 5, &wrong) == 5;
	fill(c, 6, 6);
	got |= (mcache_flush(c) != 0) << 1;
	mcache_close(&c);
	chmod(path, 0600);
	unlink(path);
	return got;
}

/* As root (modes do not bind) in a child that becomes nobody. */
static void
read_only(void)
{
	int got;
	if (geteuid() != 0) {
		got = read_only_run();
	} else {
		chmod(dir, 0777);
		pid_t pid = fork();
		if (pid == 0)
			_exit(setgid(65534) == 0 && setuid(65534) == 0 ? read_only_run() : 0);
		int st = 0;
		waitpid(pid, &st, 0);
		got = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
		chmod(dir, 0700);
	}
	CHECK(got & 1, "a read-only cache file still answers");
	CHECK(got & 2, "and a write to it fails");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/yubin-cache", dir);
	round_trip();
	parse_bytes();
	damaged();
	two_writers();
	compaction();
	planted_link();
	read_only();
	unlink(path);
	rmdir(dir);
	return unit_done();
}
