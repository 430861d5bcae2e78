/*
 * Unit tests for store_append on both backends through store.h alone:
 * appending no message at all (n = 0) is refused, stores nothing and
 * reads nothing outside the arrays made for n messages (Maildir read
 * bases[n - 1]; the sanitizer build sees any such read); one message
 * then still appends. store_format_of maps the mailbox_format setting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "store.h"
#include "unit.h"

static void
run(enum store_format fmt, const char *what)
{
	char root[] = "/tmp/store-append-XXXXXX", name[200], cmd[300];
	struct store s;
	struct folder *f = NULL;
	uint32_t uid = 0, validity = 0;
	if (mkdtemp(root) == NULL) {
		CHECK(0, "mkdtemp");
		return;
	}
	CHECK(store_init(&s, root, fmt) == 0 && store_setup(&s) == 0, what);
	snprintf(name, sizeof name, "%s: appending no message is refused", what);
	CHECK(store_append(&s, "INBOX", NULL, NULL, 0, &uid, &validity) == -1, name);
	snprintf(name, sizeof name, "%s: and stores none", what);
	CHECK(store_open(&s, "INBOX", 1, &f) == 0 && f->n == 0, name);
	folder_close(&f);
	const char *data = "From: a@example.org\nSubject: one\n\nbody\n";
	struct store_new m = { .data = data, .len = strlen(data), .when = 1700000000 };
	snprintf(name, sizeof name, "%s: one message then appends", what);
	CHECK(store_append(&s, "INBOX", NULL, &m, 1, &uid, &validity) == 0 && uid > 0 &&
	    store_open(&s, "INBOX", 1, &f) == 0 && f->n == 1, name);
	folder_close(&f);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		CHECK(0, "cleanup");
}

int
main(void)
{
	struct conf c;
	memset(&c, 0, sizeof c);
	c.mailbox_format = MAILBOX_MBOX;
	CHECK(store_format_of(&c) == STORE_MBOX, "mailbox_format = mbox: the mbox store");
	c.mailbox_format = MAILBOX_MAILDIR;
	CHECK(store_format_of(&c) == STORE_MAILDIR, "mailbox_format = maildir: the Maildir store");
	run(STORE_MAILDIR, "Maildir");
	run(STORE_MBOX, "mbox");
	return unit_done();
}
