/* Fuzz target: the store's mbox folder state (lib/store-mbox*.c)
 * on a hostile mbox file: X-UID, X-IMAPbase, Status, X-Status and
 * X-Keywords headers, broken From_ lines, missing newlines. Linked with
 * imap-session's objects.
 *
 * The input becomes an INBOX file in a scratch directory; it is opened
 * read-write (UIDs assigned and written back), each message read, every
 * other one flagged and the rest expunged, then opened again. Checks: UIDs
 * rise and stay under UIDNEXT; a message's content never shows our
 * headers; after the rewrite the same UIDVALIDITY, the kept UIDs and their
 * flags come back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "folder.h"
#include "store-mbox.h"
#include "store-mbox-uid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MSGS_MAX 64

static char dir[64], path[128];
static const uint8_t *cur_data;
static size_t cur_size;

static void
check_at(int cond, int line)
{
	if (!cond) {
		fprintf(stderr, "fuzz-imap-mbox: check at line %d failed\n", line);
		FILE *fp = getenv("FUZZ_DUMP") ? fopen(getenv("FUZZ_DUMP"), "wb") : NULL;
		if (fp) {
			fwrite(cur_data, 1, cur_size, fp);
			fclose(fp);
		}
		abort();
	}
}
#define check(c) check_at((c), __LINE__)

static void
clean(void)
{
	char side[200];
	snprintf(side, sizeof side, "%s/.INBOX.yubin-uids", dir);
	unlink(side);
	unlink(path);
}

static void
remove_dir(void)
{
	clean();
	rmdir(dir);
}

static void
setup(void)
{
	if (dir[0])
		return;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/fuzz-imap-mbox.XXXXXX", tmp && strlen(tmp) < 30 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/INBOX", dir);
	atexit(remove_dir);
}

/* Our headers never reach a client. */
static void
check_hidden(const unsigned char *d, size_t len)
{
	static const char *const names[] = { "\r\nX-UID:", "\r\nX-IMAPbase:", "\r\nStatus:",
		"\r\nX-Status:", "\r\nX-Keywords:" };
	size_t hl = len >= 2 && d[0] == '\r' && d[1] == '\n' ? 0 : len;
	for (size_t i = 0; hl && i + 3 < len; i++)
		if (memcmp(d + i, "\r\n\r\n", 4) == 0) {
			hl = i + 2;
			break;
		}
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		size_t n = strlen(names[k]);
		for (size_t i = 0; i + n <= hl; i++)
			check(strncasecmp((const char *)d + i, names[k], n) != 0);
		check(hl < n - 2 || strncasecmp((const char *)d, names[k] + 2, n - 2) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	clean();
	cur_data = data;
	cur_size = size;
	FILE *fp = fopen(path, "wb");
	if (fp == NULL)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	struct folder *f = NULL;
	if (mboxf_open(&f, path, "INBOX", 0) != 0) {
		clean();
		return 0;
	}
	uint32_t validity = f->uidvalidity, kept[MSGS_MAX];
	unsigned kept_flags[MSGS_MAX];
	size_t nkept = 0;
	int kw = folder_keyword(f, "$Fuzz", 1);
	for (size_t i = 0; i < f->n; i++) {
		check(f->m[i].uid > 0 && f->m[i].uid < f->uidnext);
		check(i == 0 || f->m[i].uid > f->m[i - 1].uid);
		if (i >= MSGS_MAX)
			continue;
		const unsigned char *d;
		size_t len;
		if (folder_message(f, i, &d, &len) == 0)
			check_hidden(d, len);
		if (i % 2 == 0) {
			unsigned fl = (f->m[i].flags & ~(FL_RECENT | FL_DELETED)) | FL_FLAGGED;
			folder_set_flags(f, i, fl, kw >= 0 ? 1u << kw : 0);
			kept[nkept] = f->m[i].uid;
			kept_flags[nkept++] = fl;
		} else {
			f->m[i].flags |= FL_DELETED;
			f->m[i].gone = 1;
		}
	}
	size_t n_before = f->n;
	int flushed = n_before <= MSGS_MAX && mboxf_flush(f) == 0;
	folder_close(&f);
	if (flushed && mboxf_open(&f, path, "INBOX", 1) == 0) {
		check(f->uidvalidity == validity || n_before == 0);
		check(f->n == nkept);
		for (size_t i = 0; i < f->n; i++) {
			check(f->m[i].uid == kept[i]);
			check((f->m[i].flags & ~FL_RECENT) == kept_flags[i]);
			check(kw < 0 || f->m[i].keywords != 0);
		}
		folder_close(&f);
	}
	clean();
	return 0;
}
