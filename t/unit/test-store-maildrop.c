/*
 * Unit tests for lib/store used as a POP3 maildrop (store.h, "POP3"), on
 * both backends: INBOX opened read-only takes no \Recent; its messages
 * read whole with the size folder_size() says; at UPDATE the messages
 * DELE'd (and only those: not one an IMAP client flagged \Deleted) are
 * expunged through folder_expunge with a pick; the next read-write look
 * finds the rest, their \Recent still there to take.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "unit.h"

static int
append_one(struct store *s, const char *subject, unsigned flags)
{
	char data[128];
	snprintf(data, sizeof data, "From: a@example.org\nSubject: %s\n\nbody\n", subject);
	struct store_new m = { .data = data, .len = strlen(data), .when = 1700000000,
		.flags = flags };
	uint32_t uid, validity;
	return store_append(s, "INBOX", NULL, &m, 1, &uid, &validity);
}

/* The UIDs a POP3 session DELE'd. */
struct dele {
	uint32_t uid[4];
	size_t n;
};

static int
dele_pick(void *arg, uint32_t uid)
{
	const struct dele *d = arg;
	for (size_t i = 0; i < d->n; i++)
		if (d->uid[i] == uid)
			return 1;
	return 0;
}

static void
run(enum store_format fmt, const char *what)
{
	char root[] = "/tmp/store-maildrop-XXXXXX", name[200], cmd[300];
	struct store s;
	struct folder *f = NULL;
	if (mkdtemp(root) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	CHECK(store_init(&s, root, fmt) == 0 && store_setup(&s) == 0, what);
	append_one(&s, "one", 0);
	append_one(&s, "two, flagged \\Deleted by IMAP", FL_DELETED);
	append_one(&s, "three", 0);
	snprintf(name, sizeof name, "%s: the maildrop has three, all \\Recent still", what);
	CHECK(store_open(&s, "INBOX", 1, &f) == 0 && f->n == 3 && f->recent == 3, name);

	int sizes_ok = 1;
	for (size_t i = 0; f != NULL && i < f->n; i++) {
		const unsigned char *data;
		size_t len;
		sizes_ok &= folder_message(f, i, &data, &len) == 0 && len == folder_size(f, i) &&
		    memmem(data, len, "\r\n\r\nbody\r\n", 10) != NULL;
	}
	snprintf(name, sizeof name, "%s: RETR gives CRLF messages of folder_size octets", what);
	CHECK(sizes_ok, name);

	/* DELE 1 and 3, then QUIT */
	struct dele d = { { f->m[0].uid, f->m[2].uid }, 2 };
	CHECK(folder_set_flags(f, 0, FL_DELETED, 0) == 0 && folder_set_flags(f, 2, FL_DELETED, 0) == 0,
	    "DELE marks");
	snprintf(name, sizeof name, "%s: UPDATE expunges the two DELE'd", what);
	CHECK(folder_expunge(f, dele_pick, NULL, &d) == 0 && f->n == 1, name);
	folder_close(&f);

	snprintf(name, sizeof name, "%s: the one IMAP flagged stays, \\Recent for IMAP", what);
	CHECK(store_open(&s, "INBOX", 0, &f) == 0 && f->n == 1 && (f->m[0].flags & FL_DELETED) &&
	    (f->m[0].flags & FL_RECENT), name);
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
