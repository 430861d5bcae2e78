/*
 * folder-uidlist.c — the UID list beside a Maildir folder's messages,
 * with its recent marker, and the lock it is read and rewritten under
 * (see folder-uids.h; formats in folder.h).
 */
#include "folder-uids.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "durable.h"
#include "fileline.h"
#include "path.h"
#include "uidimport.h"

/* A UID list line: a UID, a space, a file's base name (a file name is at
 * most NAME_MAX), a newline; the first line is shorter. */
#define UIDLIST_LINE_MAX (10 + 1 + NAME_MAX + 1)

/* The records of a list as read: their base names all sit in one block
 * (a malloc per line was 100,000 of them at the peak of a large folder's
 * SELECT), owned by the record one past the last (uid 0). */
struct uidrec {
	uint32_t uid;
	uint32_t off;            /* where base is in the block, while reading */
	char *base;
};

int
folder_lock(const char *dir)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof path, dir, LOCK_NAME, NULL) != 0)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct uidrec *)a)->base, ((const struct uidrec *)b)->base);
}

static void
recs_free(struct uidrec *r, size_t n)
{
	if (r != NULL)
		free(r[n].base);
	free(r);
}

/* Reads the UID list. Returns 0 (records sorted by base), 1 if it is
 * corrupt, 2 if it is missing (start afresh), -1 on a read error. */
static int
uidlist_read(const char *dir, uint32_t *validity, uint32_t *next, uint32_t *recent_from,
    struct uidrec **recs_r, size_t *n_r)
{
	char path[PATH_MAX], line[600];
	*recs_r = NULL;
	*n_r = 0;
	if (path_join(path, sizeof path, dir, UIDLIST_NAME, NULL) != 0)
		return -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 2 : -1;
	FILE *fp = fdopen(fd, "r");
	if (fp == NULL) {
		close(fd);
		return -1;
	}
	unsigned long v, nx, rf = 0;
	int fields = 0;
	enum fileline_status st = fileline_read(fp, line, sizeof line, NULL);
	if (st == FILELINE_ERROR) {
		/* unreadable is not malformed: a fresh list would lose UIDVALIDITY */
		fclose(fp);
		return -1;
	}
	if (st != FILELINE_OK ||
	    (fields = sscanf(line, "yubin-uidlist 1 %lu %lu %lu", &v, &nx, &rf)) < 2 || v == 0 ||
	    nx == 0 || v > UINT32_MAX || nx > UINT32_MAX) {
		fclose(fp);
		return 1;
	}
	/* a list without the recent marker (written before it existed): no
	 * message of it is \Recent but those still in new/ */
	if (fields < 3 || rf == 0 || rf > nx)
		rf = nx;
	struct uidrec *recs = NULL;
	struct buf text = BUF_INIT(UINT32_MAX);
	size_t n = 0, cap = 0;
	int bad = 0;
	size_t len;
	while ((st = fileline_read(fp, line, sizeof line, &len)) != FILELINE_EOF) {
		if (st == FILELINE_ERROR) {
			bad = -1;
			break;
		}
		/* every record ends in LF: a last one without it was cut short */
		char *sp = strchr(line, ' ');
		unsigned long uid;
		if (st != FILELINE_OK || feof(fp) || sp == NULL || sp == line ||
		    (size_t)(sp - line) + 2 > len || sscanf(line, "%lu", &uid) != 1 || uid == 0 ||
		    uid >= nx) {
			bad = 1;
			break;
		}
		if (n + 1 >= cap) { /* room for the owner record too */
			cap = cap ? cap * 2 : 256;
			struct uidrec *p = realloc(recs, cap * sizeof *p);
			if (p == NULL) {
				bad = -1;
				break;
			}
			recs = p;
		}
		recs[n].uid = (uint32_t)uid;
		recs[n].off = (uint32_t)text.len;
		if (buf_add(&text, sp + 1, strlen(sp + 1) + 1) != 0) {
			bad = -1;
			break;
		}
		n++;
	}
	fclose(fp);
	char *block = bad ? NULL : buf_finish(&text, NULL);
	if (bad || block == NULL || (recs == NULL && (recs = malloc(sizeof *recs)) == NULL)) {
		buf_free(&text);
		free(block);
		free(recs);
		return bad > 0 ? 1 : -1;
	}
	for (size_t i = 0; i < n; i++)
		recs[i].base = block + recs[i].off;
	recs[n] = (struct uidrec){ .base = block };
	if (n > 1)
		qsort(recs, n, sizeof *recs, rec_cmp);
	*validity = (uint32_t)v;
	*next = (uint32_t)nx;
	*recent_from = (uint32_t)rf;
	*recs_r = recs;
	*n_r = n;
	return 0;
}

static int
base_cmp_len(const char *base, size_t len, const char *rec)
{
	int c = strncmp(base, rec, len);
	if (c != 0)
		return c;
	return rec[len] == '\0' ? 0 : -1;
}

static struct uidrec *
recs_find(struct uidrec *recs, size_t n, const char *base, size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = base_cmp_len(base, len, recs[mid].base);
		if (c == 0)
			return &recs[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* No lock file yet: yubin never looked at dir, so a UID list Dovecot or
 * Courier left there is what clients know (folder-import.c). Once it has
 * looked, such a list is stale: a lost yubin-uidlist then starts afresh. */
static int
first_look(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	/* too long: not a first look (folder_lock fails on it anyway) */
	if (path_join(path, sizeof path, dir, LOCK_NAME, NULL) != 0)
		return 0;
	return lstat(path, &st) != 0 && errno == ENOENT;
}

/* The scan of dir was taken before the lock. A line it has no file for
 * is of a message expunged, or of one that came after the scan and was
 * numbered by another session meanwhile: after the greatest UID the scan
 * found, or below it when its name sorts before a message numbered with
 * it (names sort by delivery time, then name). Dropping that line would
 * give the message a second UID later (S45), so when the scan lacks a
 * line below its greatest UID, a scan taken now, under the lock (which
 * every numbering holds), tells the two apart. keep[k]: recs[k] stays. */
static int
lines_to_keep(const char *dir, struct uidrec *recs, size_t nrecs, const unsigned char *found,
    uint32_t seen_max, unsigned char *keep)
{
	int unsure = 0;
	for (size_t k = 0; k < nrecs; k++) {
		keep[k] = !found[k] && recs[k].uid > seen_max;
		unsure |= !found[k] && recs[k].uid <= seen_max;
	}
	if (!unsure)
		return 0;
	struct maildir_entry *now;
	size_t n;
	if (maildir_scan(dir, 0, &now, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct uidrec *rec = recs_find(recs, nrecs, now[i].name, now[i].base_len);
		if (rec && !found[rec - recs])
			keep[rec - recs] = 1;
	}
	maildir_entries_free(&now, n);
	return 0;
}

int
folder_uids_assign(const char *dir, struct maildir_entry *e, size_t n, uint32_t *uids,
    uint32_t *validity_r, uint32_t *next_r, enum folder_recent_mode mode, uint32_t *recent_from_r)
{
	int first = first_look(dir);
	/* the lock file marks the folder as looked at: not before a list
	 * there could be read, or its UIDs would be lost to a fresh start */
	if (first && uidimport_check(dir) != 0)
		return -1;
	int lock = folder_lock(dir);
	if (lock < 0)
		return -1;
	uint32_t validity = 0, next = 1, recent_from = 1;
	struct uidrec *recs;
	size_t nrecs;
	int r = uidlist_read(dir, &validity, &next, &recent_from, &recs, &nrecs);
	if (r == 2 && first) {
		int m = folder_import(dir);
		r = m == 0 ? uidlist_read(dir, &validity, &next, &recent_from, &recs, &nrecs) :
		    m < 0 ? -1 : 2;
	}
	if (r < 0) {
		close(lock);
		return -1;
	}
	int dirty = r != 0 || nrecs != n;
	if (r != 0) {
		validity = folder_uidvalidity_new(dir);
		next = 1;
		/* a lost list's messages are not new: only an empty folder's
		 * first messages are (set below) */
		recent_from = n == 0 ? 1 : 0;
	}
	uint32_t seen_max = 0;
	unsigned char *found = calloc(nrecs ? 2 * nrecs : 1, 1), *keep = found + nrecs;
	if (found == NULL) {
		recs_free(recs, nrecs);
		close(lock);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct uidrec *rec = recs_find(recs, nrecs, e[i].name, e[i].base_len);
		if (rec) {
			uids[i] = rec->uid;
			found[rec - recs] = 1;
			if (rec->uid > seen_max)
				seen_max = rec->uid;
		} else {
			uids[i] = 0;
			dirty = 1;
		}
	}
	/* New messages get UIDs in scan order (delivery time, then name). */
	for (size_t i = 0; i < n; i++)
		if (uids[i] == 0)
			uids[i] = next++;
	if (recent_from == 0)
		recent_from = next;
	uint32_t claimed = recent_from;
	if (mode == FOLDER_RECENT_CLAIM && recent_from != next) {
		recent_from = next;
		dirty = 1;
	}
	int rc = 0;
	if (dirty && r == 0)
		rc = lines_to_keep(dir, recs, nrecs, found, seen_max, keep);
	if (dirty && rc == 0) {
		struct buf b = BUF_INIT(n < (SIZE_MAX - UIDLIST_LINE_MAX) / UIDLIST_LINE_MAX
		    ? (n + 1) * UIDLIST_LINE_MAX : SIZE_MAX);
		rc = buf_printf(&b, "yubin-uidlist 1 %" PRIu32 " %" PRIu32 " %" PRIu32 "\n", validity,
		    next, recent_from);
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = buf_printf(&b, "%" PRIu32 " %.*s\n", uids[i], (int)e[i].base_len, e[i].name);
		for (size_t i = 0; rc == 0 && r == 0 && i < nrecs; i++)
			if (keep[i])
				rc = buf_printf(&b, "%" PRIu32 " %s\n", recs[i].uid, recs[i].base);
		if (rc == 0)
			rc = durable_replace(dir, UIDLIST_NAME, b.s, b.len, DURABLE_SYNCED);
		buf_free(&b);
	}
	free(found);
	recs_free(recs, nrecs);
	close(lock);
	*validity_r = validity;
	*next_r = next;
	if (recent_from_r)
		*recent_from_r = mode == FOLDER_RECENT_KEEP ? next : claimed;
	return rc;
}

int
folder_assign_uids(const char *dir, struct maildir_entry *e, size_t n, uint32_t *uids,
    uint32_t *validity_r, uint32_t *next_r)
{
	return folder_uids_assign(dir, e, n, uids, validity_r, next_r, FOLDER_RECENT_KEEP, NULL);
}

int
folder_assign_uids_recent(const char *dir, struct maildir_entry *e, size_t n, uint32_t *uids,
    uint32_t *validity_r, uint32_t *next_r, uint32_t *recent_from_r)
{
	return folder_uids_assign(dir, e, n, uids, validity_r, next_r, FOLDER_RECENT_LOOK, recent_from_r);
}

int
folder_pop3_takeover(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	if (path_join(path, sizeof path, dir, MAILDROP_LOCK_NAME, NULL) != 0)
		return -1;
	if (lstat(path, &st) == 0 || errno != ENOENT || !first_look(dir))
		return 0;
	static const char *const lists[] = { "dovecot-uidlist", "courierpop3dsizelist" };
	int found = 0;
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		if (path_join(path, sizeof path, dir, lists[i], NULL) != 0)
			return -1;
		found |= lstat(path, &st) == 0;
	}
	if (!found)
		return 0;  /* no POP3 UIDLs to keep: IMAP's first look takes the rest */
	struct maildir_entry *e;
	size_t n;
	if (maildir_scan(dir, 0, &e, &n) != 0)
		return -1;
	uint32_t *uids = calloc(n ? n : 1, sizeof *uids), validity, next;
	int rc = uids ? folder_uids_assign(dir, e, n, uids, &validity, &next, FOLDER_RECENT_KEEP,
	    NULL) : -1;
	free(uids);
	maildir_entries_free(&e, n);
	return rc;
}
