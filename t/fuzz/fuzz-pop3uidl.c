/* Fuzz target: lib/pop3uidl's readers of Courier's courierpop3dsizelist
 * and of yubin-pop3-uidl. The first byte picks the file (odd: ours); the
 * rest is its content, written to a private directory and read back.
 * Whatever a reader accepts must be a map pop3-session can answer from:
 * bases sorted and unique, each found again by pop3uidl_find, UIDLs
 * without spaces, as POP3 (RFC 1939 §7: 0x21-0x7E) needs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "folder-uids.h"
#include "pop3uidl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void
remove_dir(void)
{
	rmdir(dir);
}

static void
check(const struct pop3uidl_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct pop3uidl_rec *r = &m->r[i];
		size_t len = strlen(r->base);
		if (len == 0 || r->uidl[0] == '\0' || strchr(r->uidl, ' ') != NULL)
			abort();
		if (i > 0 && strcmp(m->r[i - 1].base, r->base) >= 0)
			abort();
		if (pop3uidl_find(m, r->base, len) != r->uidl)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (dir[0] == '\0') {
		snprintf(dir, sizeof dir, "/tmp/fuzz-pop3uidl.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(remove_dir);
	}
	int ours = data[0] & 1;
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, ours ? POP3_UIDL_NAME : "courierpop3dsizelist");
	FILE *fp = fopen(path, "w");
	if (fp == NULL || fwrite(data + 1, 1, size - 1, fp) != size - 1 || fclose(fp) != 0)
		abort();
	struct pop3uidl_map m;
	int r = ours ? pop3uidl_read(dir, &m) : pop3uidl_courier_read(dir, &m);
	if (r == 0) {
		check(&m);
		pop3uidl_free(&m);
	}
	unlink(path);
	return 0;
}
