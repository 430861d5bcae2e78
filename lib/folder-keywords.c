/*
 * folder-keywords.c — the files beside a Maildir folder's messages that
 * the store alone uses: the keyword letters, and the UID list's uses
 * for folders that are not selected (the list itself: lib/folder-uids.h).
 */
#include "folder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "durable.h"
#include "fileline.h"
#include "folder-int.h"
#include "path.h"

/* A keywords line: letter, space, keyword of at most IMAP_KEYWORD_MAX. */
#define KEYWORDS_LINE_MAX 300
_Static_assert(IMAP_KEYWORD_MAX + 3 <= KEYWORDS_LINE_MAX, "keyword fits its line");

int
folder_uids_init(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	if (path_join(path, sizeof path, dir, UIDLIST_NAME, NULL) != 0)
		return -1;
	if (lstat(path, &st) == 0 || errno != ENOENT)
		return 0; /* a list there is as good as it gets; errors show later */
	struct maildir_entry *e;
	size_t n;
	if (maildir_scan(dir, 0, &e, &n) != 0)
		return -1;
	uint32_t *uids = calloc(n ? n : 1, sizeof *uids), validity, next;
	int rc = uids ? folder_assign_uids(dir, e, n, uids, &validity, &next) : -1;
	free(uids);
	maildir_entries_free(&e, n);
	return rc;
}

/* ---- keywords ---- */

void
folder_keywords_read(struct folder *f)
{
	char path[PATH_MAX], line[KEYWORDS_LINE_MAX];
	if (path_join(path, sizeof path, f->dir, KEYWORDS_NAME, NULL) != 0)
		return;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	FILE *fp = fdopen(fd, "r");
	if (fp == NULL) {
		close(fd);
		return;
	}
	/* a line too long or holding NUL is skipped whole: its tail never
	 * passes for another slot's keyword */
	enum fileline_status st;
	size_t len;
	while ((st = fileline_read(fp, line, sizeof line, &len)) != FILELINE_EOF &&
	    st != FILELINE_ERROR) {
		if (st != FILELINE_OK || line[0] < 'a' || line[0] > 'z' || line[1] != ' ' ||
		    len < 3)
			continue;
		int i = line[0] - 'a';
		if (f->kw[i] == NULL || strcmp(f->kw[i], line + 2) != 0) {
			free(f->kw[i]);
			f->kw[i] = strdup(line + 2);
		}
	}
	fclose(fp);
}

int
folder_keyword(struct folder *f, const char *name, int create)
{
	return f->ops->keyword(f, name, create);
}

int
mdf_keyword(struct folder *f, const char *name, int create)
{
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		if (f->kw[i] && strcasecmp(f->kw[i], name) == 0)
			return i;
	if (!create || f->readonly || strlen(name) > IMAP_KEYWORD_MAX)
		return -1;
	int lock = folder_lock(f->dir);
	if (lock < 0)
		return -1;
	folder_keywords_read(f);
	int found = -1, free_slot = -1;
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++) {
		if (f->kw[i] && strcasecmp(f->kw[i], name) == 0)
			found = i;
		else if (!f->kw[i] && free_slot < 0)
			free_slot = i;
	}
	if (found < 0 && free_slot >= 0) {
		f->kw[free_slot] = strdup(name);
		struct buf b = BUF_INIT(FOLDER_KEYWORDS_MAX * KEYWORDS_LINE_MAX);
		int rc = f->kw[free_slot] ? 0 : -1;
		for (int i = 0; rc == 0 && i < FOLDER_KEYWORDS_MAX; i++)
			if (f->kw[i])
				rc = buf_printf(&b, "%c %s\n", 'a' + i, f->kw[i]);
		if (rc == 0 && durable_replace(f->dir, KEYWORDS_NAME, b.s, b.len, DURABLE_SYNCED) == 0)
			found = free_slot;
		buf_free(&b);
	}
	close(lock);
	return found;
}

