/*
 * Unit tests for the modseq journal (lib/folder-modseq.c) as found on
 * disk, through store.h: a journal far larger than memory allowed is
 * read in bounded pieces, lines after a line too long still count; a
 * first line that is not a header of the folder's UIDVALIDITY (too long,
 * a sign) makes the journal disbelieved; numbers with a sign, a space,
 * trailing text or out of range are not taken; a FIFO, a hard link or a
 * symlink at the journal's name is neither waited on nor written through
 * but taken as a lost journal, replaced by a file of the store's own (S34).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "unit.h"

static char root[] = "/tmp/modseq-journal-XXXXXX";
static char journal[300];
static struct store s;
static uint32_t validity;

static int
append_one(void)
{
	const char *data = "From: a@example.org\nSubject: x\n\nbody\n";
	struct store_new m = { .data = data, .len = strlen(data), .when = 1700000000 };
	uint32_t uid;
	return store_append(&s, "INBOX", NULL, &m, 1, &uid, &validity);
}

/* Writes the journal afresh: text, then (if hole > 0) tail at offset hole. */
static int
plant(const char *text, off_t hole, const char *tail)
{
	unlink(journal);
	int fd = open(journal, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	int r = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	if (r == 0 && hole > 0)
		r = pwrite(fd, tail, strlen(tail), hole) == (ssize_t)strlen(tail) ? 0 : -1;
	close(fd);
	return r;
}

/* Opens INBOX read-only: message 0's modseq and HIGHESTMODSEQ, or -1. */
static int
look(uint64_t *m0, uint64_t *h)
{
	struct folder *f = NULL;
	if (store_open(&s, "INBOX", 1, &f) != 0 || f->n < 1)
		return -1;
	*m0 = f->m[0].modseq;
	*h = folder_highestmodseq(f);
	folder_close(&f);
	return 0;
}

/* A journal of 256 MiB (a hole: one line that long) with memory limited
 * to 64 MiB more than now: read through, the line after the hole counts. */
static void
huge_journal(void)
{
	char head[100];
	snprintf(head, sizeof head, "yubin-modseq 1 %" PRIu32 "\n1 5\n", validity);
	CHECK(plant(head, 256 << 20, "\n1 777\n") == 0, "a 256 MiB journal planted");
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 64 << 20, 64 << 20 };
#ifndef __SANITIZE_ADDRESS__
		/* the sanitizer's own mappings count: there only the reading */
		if (setrlimit(RLIMIT_DATA, &rl) != 0)
			_exit(2);
#else
		(void)rl;
#endif
		uint64_t m0 = 0, h = 0;
		_exit(look(&m0, &h) == 0 && m0 == 777 && h == 777 ? 0 : 1);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "a journal larger than memory allowed is read in pieces, all of it");
}

/* The journal pre, the UIDVALIDITY, post, body, opened read-only:
 * message 0's modseq and HIGHESTMODSEQ in *m0, *h. */
static int
try_journal(const char *pre, const char *post, const char *body, uint64_t *m0, uint64_t *h)
{
	char text[1000];
	snprintf(text, sizeof text, "%s%" PRIu32 "%s%s", pre, validity, post, body);
	return plant(text, 0, NULL) == 0 ? look(m0, h) : -1;
}

/* Afresh, modseqs go on from the clock: far above what the tests plant. */
#define FROM_CLOCK(ms) ((ms) > UINT64_C(1000000000000))

static void
headers_and_numbers(void)
{
	uint64_t m0, h;
	CHECK(try_journal("yubin-modseq 1 ", "\n", "1 5\n0 50\n", &m0, &h) == 0 &&
	    m0 == 5 && h == 50, "a sound journal: its modseq and highest taken");
	CHECK(try_journal("yubin-modseq 1 ", "                                   \n",
	    "1 5\n", &m0, &h) == 0 && FROM_CLOCK(m0) && FROM_CLOCK(h),
	    "a first line too long is no header: the journal is not believed");
	CHECK(try_journal("yubin-modseq 1 +", "\n", "1 5\n", &m0, &h) == 0 &&
	    FROM_CLOCK(m0), "a header's UIDVALIDITY with a sign: not believed");
	CHECK(try_journal("yubin-modseq 1 ", "\n",
	    "1 5\n1 -1\n 1 7\n1  8\n1 +9\n1 9223372036854775808\n1 6x\n1 0\n"
	    "-1 10\n4294967297 11\n", &m0, &h) == 0 && m0 == 5 && h == 5,
	    "signs, spaces, trailing text, modseq 0 or >= 2^63, UID >= 2^32: not taken");
	CHECK(try_journal("yubin-modseq 1 ", "\n", "1 9223372036854775807\n", &m0, &h) ==
	    0 && m0 == UINT64_C(9223372036854775807), "modseq 2^63-1 taken");
}

/* Opens INBOX read-write and sets \\Seen on message 0 (a new line in
 * the journal), in a child that a hang would not stop forever: 0 if it
 * went through, with message 0's modseq from the clock (journal lost). */
static int
change_in_child(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		alarm(120);   /* a hang fails the test, not the run */
		struct folder *f = NULL;
		int ok = store_open(&s, "INBOX", 0, &f) == 0 && f->n >= 1 &&
		    folder_set_flags(f, 0, FL_SEEN, 0) == 0 && folder_commit(f) == 0 &&
		    FROM_CLOCK(f->m[0].modseq);
		folder_close(&f);
		_exit(ok ? 0 : 1);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* 1 if the journal is now a regular file with one link. */
static int
journal_ours(void)
{
	struct stat st;
	return lstat(journal, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1;
}

static off_t
size_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? st.st_size : -1;
}

static void
planted(void)
{
	char other[300], text[100];
	snprintf(other, sizeof other, "%s/other", root);
	snprintf(text, sizeof text, "yubin-modseq 1 %" PRIu32 "\n1 5\n", validity);

	unlink(journal);
	CHECK(mkfifo(journal, 0600) == 0, "a FIFO planted as the journal");
	CHECK(change_in_child() == 0 && journal_ours(),
	    "a FIFO journal: no hang, taken as lost, replaced");

	CHECK(plant(text, 0, NULL) == 0 && link(journal, other) == 0, "the journal hard-linked");
	off_t was = size_of(other);
	CHECK(change_in_child() == 0 && size_of(other) == was && journal_ours(),
	    "a hard-linked journal: not appended to, taken as lost, replaced");

	unlink(journal);
	CHECK(symlink("other", journal) == 0, "the journal a symlink");
	CHECK(change_in_child() == 0 && size_of(other) == was && journal_ours(),
	    "a symlinked journal: not followed, taken as lost, replaced");
}

int
main(void)
{
	if (mkdtemp(root) == NULL) {
		CHECK(0, "mkdtemp");
		return unit_done();
	}
	snprintf(journal, sizeof journal, "%s/yubin-modseq", root);
	CHECK(store_init(&s, root, STORE_MAILDIR) == 0 && store_setup(&s) == 0, "store");
	CHECK(append_one() == 0, "one message appended");
	uint64_t m0, h;
	CHECK(look(&m0, &h) == 0, "opened once");

	huge_journal();
	headers_and_numbers();
	planted();

	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		CHECK(0, "cleanup");
	return unit_done();
}
