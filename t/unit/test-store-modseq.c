/*
 * Unit tests for lib/store's mod-sequences (folder-modseq.c), on both
 * backends through store.h alone: every message of an open folder has a
 * modseq of at least 1 and at most HIGHESTMODSEQ; a flag change rises
 * above every other, an append and an expunge raise HIGHESTMODSEQ; all
 * of it survives closing and opening again (read-write and read-only),
 * and a second session sees the first one's change at its next sync;
 * a journal grown long is rewritten short with nothing lost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "unit.h"

static int
append_one(struct store *s, const char *subject)
{
	char data[128];
	snprintf(data, sizeof data, "From: a@example.org\nSubject: %s\n\nbody\n", subject);
	struct store_new m = { .data = data, .len = strlen(data), .when = 1700000000 };
	uint32_t uid, validity;
	return store_append(s, "INBOX", NULL, &m, 1, &uid, &validity);
}

/* 1 if every message has 1 <= modseq <= HIGHESTMODSEQ. */
static int
modseqs_sane(const struct folder *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].modseq < 1 || f->m[i].modseq > folder_highestmodseq(f))
			return 0;
	return 1;
}

static int
reopen(struct store *s, int readonly, struct folder **f)
{
	folder_close(f);
	return store_open(s, "INBOX", readonly, f);
}

static void
run(enum store_format fmt, const char *what)
{
	char root[] = "/tmp/store-modseq-XXXXXX", name[200], cmd[300];
	struct store s;
	struct folder *f = NULL, *g = NULL;
	if (mkdtemp(root) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	CHECK(store_init(&s, root, fmt) == 0 && store_setup(&s) == 0, what);
	for (int i = 0; i < 3; i++)
		append_one(&s, "first three");
	snprintf(name, sizeof name, "%s: three appended, opened, modseqs sane", what);
	CHECK(store_open(&s, "INBOX", 0, &f) == 0 && f->n == 3 && modseqs_sane(f), name);
	uint64_t h1 = folder_highestmodseq(f), m0 = f->m[0].modseq;
	snprintf(name, sizeof name, "%s: their first modseqs were recorded", what);
	CHECK(reopen(&s, 1, &f) == 0 && f->m[0].modseq == m0 && folder_highestmodseq(f) == h1 &&
	    reopen(&s, 0, &f) == 0, name);

	/* a flag change rises above everything */
	CHECK(folder_set_flags(f, 1, FL_SEEN, 0) == 0 && folder_commit(f) == 0, "STORE \\Seen");
	uint64_t m1 = f->m[1].modseq, h2 = folder_highestmodseq(f);
	snprintf(name, sizeof name, "%s: the changed message's modseq rose above HIGHESTMODSEQ", what);
	CHECK(m1 > h1 && h2 == m1 && f->m[0].modseq == m0, name);
	uint64_t before = f->m[1].modseq;
	CHECK(folder_set_flags(f, 1, FL_SEEN, 0) == 0 && folder_commit(f) == 0 &&
	    f->m[1].modseq == before, "an unchanged STORE gets no new modseq");

	/* survives reopening, read-write and read-only */
	snprintf(name, sizeof name, "%s: modseqs survive reopen (read-write)", what);
	CHECK(reopen(&s, 0, &f) == 0 && f->m[1].modseq == m1 && f->m[0].modseq == m0 &&
	    folder_highestmodseq(f) == h2, name);
	snprintf(name, sizeof name, "%s: and read-only", what);
	CHECK(reopen(&s, 1, &f) == 0 && f->m[1].modseq == m1 && folder_highestmodseq(f) == h2,
	    name);

	/* an append: the new message above all before */
	CHECK(append_one(&s, "fourth") == 0, "APPEND a fourth");
	snprintf(name, sizeof name, "%s: the appended message's modseq is above the old highest",
	    what);
	CHECK(reopen(&s, 0, &f) == 0 && f->n == 4 && f->m[3].modseq > h2 && modseqs_sane(f), name);
	uint64_t h3 = folder_highestmodseq(f);
	/* more than a few at once: every one gets its own, recorded */
	for (int i = 0; i < 40; i++)
		append_one(&s, "forty more");
	CHECK(reopen(&s, 0, &f) == 0 && f->n == 44 && modseqs_sane(f), "forty more appended");
	uint64_t m43 = f->m[43].modseq;
	/* recorded, not numbered again above a change made since */
	snprintf(name, sizeof name, "%s: forty new ones numbered once, above the old highest", what);
	CHECK(m43 > h3 + 39 && folder_set_flags(f, 0, FL_ANSWERED, 0) == 0 &&
	    folder_commit(f) == 0 && reopen(&s, 0, &f) == 0 && f->m[43].modseq == m43, name);
	h3 = folder_highestmodseq(f);

	/* another session sees a change at its next sync */
	CHECK(store_open(&s, "INBOX", 0, &g) == 0, "second session");
	CHECK(folder_set_flags(f, 0, FL_FLAGGED, 0) == 0 && folder_commit(f) == 0, "STORE \\Flagged");
	snprintf(name, sizeof name, "%s: the other session sees the new modseq after a sync", what);
	CHECK(g != NULL && folder_sync(g) == 0 && g->m[0].modseq == f->m[0].modseq &&
	    g->m[0].modseq > h3 && folder_highestmodseq(g) == folder_highestmodseq(f), name);
	folder_close(&g);

	/* an expunge raises HIGHESTMODSEQ, and that persists */
	uint64_t h4 = folder_highestmodseq(f);
	size_t n4 = f->n;
	CHECK(folder_set_flags(f, 2, FL_DELETED, 0) == 0 && folder_commit(f) == 0 &&
	    folder_expunge(f, NULL, NULL, NULL) == 0 && f->n == n4 - 1, "EXPUNGE one");
	uint64_t h5 = folder_highestmodseq(f);
	snprintf(name, sizeof name, "%s: EXPUNGE raised HIGHESTMODSEQ, kept after reopen", what);
	CHECK(h5 > h4 && reopen(&s, 0, &f) == 0 && folder_highestmodseq(f) == h5 &&
	    modseqs_sane(f), name);

	/* many changes: the journal is rewritten short, nothing lost */
	int rising = 1;
	for (int i = 0; i < 200 && rising; i++) {
		uint64_t h = folder_highestmodseq(f);
		rising = folder_set_flags(f, 0, i % 2 ? FL_FLAGGED : FL_SEEN, 0) == 0 &&
		    folder_commit(f) == 0 && f->m[0].modseq == h + 1 &&
		    folder_highestmodseq(f) == h + 1;
	}
	CHECK(rising, "200 changes, each one modseq higher");
	uint64_t h6 = folder_highestmodseq(f), m6 = f->m[0].modseq, m7 = f->m[1].modseq;
	snprintf(name, sizeof name, "%s: after the journal's rewrite the same modseqs", what);
	CHECK(reopen(&s, 0, &f) == 0 && folder_highestmodseq(f) == h6 && f->m[0].modseq == m6 &&
	    f->m[1].modseq == m7, name);
	/* 200 changes and the lines of 43 messages: past 3 a message + 64 */
	snprintf(cmd, sizeof cmd, "test $(wc -l < %s/%s) -le %zu", root,
	    fmt == STORE_MBOX ? ".INBOX.yubin-modseq" : "yubin-modseq", 3 * f->n + 64 + 1);
	snprintf(name, sizeof name, "%s: the journal was rewritten short", what);
	CHECK(system(cmd) == 0, name);
	folder_close(&f);

	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		CHECK(0, "cleanup");
}

int
main(void)
{
	run(STORE_MAILDIR, "Maildir");
	run(STORE_MBOX, "mbox");
	return unit_done();
}
