/* test-folder-uids — lib/folder-uidlist.c: a UID list rewritten from a
 * scan taken before the lock keeps the line of a message that came after
 * that scan and was numbered meanwhile by another session, also when its
 * name sorts before a message the scan saw (its UID is then below the
 * greatest the scan found); a line of a message really gone is dropped.
 * Found by the stress client (t/0442): messages reported EXPUNGEd that
 * no session removed, then seen again under a second UID (S45). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folder-uids.h"
#include "maildir.h"
#include "unit.h"

static char dir[] = "/tmp/yubin-unit-folder-uids-XXXXXX";

static void
put(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/new/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, "Subject: x\n\nx\n", 14) != 14)
			perror("write");
		close(fd);
	}
}

/* The UID the list gives the file with this unique name, from a fresh
 * scan (0: none). */
static uint32_t
uid_of(const char *base)
{
	struct maildir_entry *e;
	size_t n;
	uint32_t validity, next, found = 0;
	if (maildir_scan(dir, 0, &e, &n) != 0)
		return 0;
	uint32_t *uids = calloc(n ? n : 1, sizeof *uids);
	if (uids && folder_assign_uids(dir, e, n, uids, &validity, &next) == 0)
		for (size_t i = 0; i < n; i++)
			if (e[i].base_len == strlen(base) && memcmp(e[i].name, base, e[i].base_len) == 0)
				found = uids[i];
	free(uids);
	maildir_entries_free(&e, n);
	return found;
}

static void
cleanup(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		perror("rm");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	const char *sub[] = { "cur", "new", "tmp" };
	for (int i = 0; i < 3; i++) {
		char p[512];
		snprintf(p, sizeof p, "%s/%s", dir, sub[i]);
		mkdir(p, 0700);
	}
	/* session X scans: one unnumbered message, G */
	put("1800000000.M2P1.host");
	struct maildir_entry *stale;
	size_t nstale;
	CHECK(maildir_scan(dir, 0, &stale, &nstale) == 0 && nstale == 1, "X's scan: G alone");
	/* F comes, named to sort first; session Y numbers both: F 1, G 2 */
	put("1800000000.M1P1.host");
	CHECK(uid_of("1800000000.M1P1.host") == 1, "Y numbers F 1");
	CHECK(uid_of("1800000000.M2P1.host") == 2, "and G 2");
	/* X, still holding its scan without F, rewrites the list */
	uint32_t u[1], validity, next;
	put("1800000001.M3P1.host");  /* something new, so that X writes */
	CHECK(folder_assign_uids(dir, stale, nstale, u, &validity, &next) == 0 && u[0] == 2,
	    "X's stale scan: G is still 2");
	maildir_entries_free(&stale, nstale);
	CHECK(uid_of("1800000000.M1P1.host") == 1, "F keeps UID 1 after X's rewrite");
	CHECK(uid_of("1800000001.M3P1.host") == 3, "the new one gets 3");
	/* a message really gone loses its line; nothing else moves */
	char p[512];
	snprintf(p, sizeof p, "%s/cur/1800000000.M1P1.host:2,", dir);
	char q[512];
	snprintf(q, sizeof q, "%s/new/1800000000.M1P1.host", dir);
	if (access(p, F_OK) == 0)
		unlink(p);
	else
		unlink(q);
	put("1800000002.M4P1.host");
	CHECK(uid_of("1800000002.M4P1.host") == 4, "after an expunge, a new one gets 4");
	CHECK(uid_of("1800000000.M2P1.host") == 2, "G keeps 2");
	FILE *fp;
	char list[512], line[256];
	int has_f = 0;
	snprintf(list, sizeof list, "%s/%s", dir, UIDLIST_NAME);
	if ((fp = fopen(list, "r")) != NULL) {
		while (fgets(line, sizeof line, fp))
			has_f |= strstr(line, "M1P1") != NULL;
		fclose(fp);
	}
	CHECK(!has_f, "the line of the message gone is dropped");
	cleanup();
	return unit_done();
}
