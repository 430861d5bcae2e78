/*
 * folder.c — folder state on Maildir: the UID list, keywords, syncing a
 * session's view with the directory, message content (see folder.h).
 */
#include "folder.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "durable.h"
#include "fileline.h"
#include "mime.h"

#define UIDLIST_NAME "yubin-uidlist"
#define KEYWORDS_NAME "yubin-keywords"
#define LOCK_NAME "yubin-lock"
#define VALIDITY_NAME "yubin-uidvalidity"
/* A keywords line: letter, space, keyword of at most IMAP_KEYWORD_MAX. */
#define KEYWORDS_LINE_MAX 300
_Static_assert(IMAP_KEYWORD_MAX + 3 <= KEYWORDS_LINE_MAX, "keyword fits its line");
/* Lookups of a moved message before it counts as expunged (S64). */
#define FOLDER_OPEN_TRIES 4
/* A message file larger than this is not loaded (max_message_size is far
 * below; a bigger file was not delivered by yubin). */
#define MESSAGE_LOAD_MAX (1024ULL * 1024 * 1024)

struct uidrec {
	uint32_t uid;
	char *base;
};

static int
folder_lock(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME);
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
	for (size_t i = 0; i < n; i++)
		free(r[i].base);
	free(r);
}

/* Reads the UID list. Returns 0 (records sorted by base), 1 if it is
 * missing or corrupt (start afresh), -1 on a read error. */
static int
uidlist_read(const char *dir, uint32_t *validity, uint32_t *next, uint32_t *recent_from,
    struct uidrec **recs_r, size_t *n_r)
{
	char path[4200], line[600];
	*recs_r = NULL;
	*n_r = 0;
	snprintf(path, sizeof path, "%s/%s", dir, UIDLIST_NAME);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
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
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			struct uidrec *p = realloc(recs, cap * sizeof *p);
			if (p == NULL) {
				bad = -1;
				break;
			}
			recs = p;
		}
		recs[n].uid = (uint32_t)uid;
		recs[n].base = strdup(sp + 1);
		if (recs[n].base == NULL) {
			bad = -1;
			break;
		}
		n++;
	}
	fclose(fp);
	if (bad) {
		recs_free(recs, n);
		return bad < 0 ? -1 : 1;
	}
	if (n > 1)
		qsort(recs, n, sizeof *recs, rec_cmp);
	*validity = (uint32_t)v;
	*next = (uint32_t)nx;
	*recent_from = (uint32_t)rf;
	*recs_r = recs;
	*n_r = n;
	return 0;
}

/* Writes a small file atomically: tmp, fsync, rename, fsync dir. */
static int
write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
	char tmp[4200], path[4200];
	snprintf(tmp, sizeof tmp, "%s/%s.tmp.%ld", dir, name, (long)getpid());
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (durable_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		int saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return durable_fsync_dir(dir);
}

struct strbuf {
	char *p;
	size_t len, cap;
};

static int
sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
sb_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return 0;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
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

/* A fresh UIDVALIDITY must exceed every earlier one of the folder (RFC 9051
 * §2.3.1.1), even when the UID list is lost within the second it was made.
 * The user's root keeps the last value handed out ("yubin-uidvalidity");
 * the next is max(now, last + 1). Maildir++ folders sit directly in the
 * root, so the root is dir itself (INBOX) or its parent. */
static uint32_t
new_uidvalidity(const char *dir)
{
	char root[4200], path[4300], buf[32];
	const char *slash = strrchr(dir, '/');
	if (slash && slash[1] == '.')
		snprintf(root, sizeof root, "%.*s", (int)(slash - dir), dir);
	else
		snprintf(root, sizeof root, "%s", dir);
	snprintf(path, sizeof path, "%s/%s", root, VALIDITY_NAME);
	unsigned long last = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			last = strtoul(buf, NULL, 10);
		}
	}
	uint32_t v = (uint32_t)time(NULL);
	if (last >= UINT32_MAX)
		last = 0;
	if (v <= last)
		v = (uint32_t)last + 1;
	int len = snprintf(buf, sizeof buf, "%" PRIu32 "\n", v);
	write_atomic(root, VALIDITY_NAME, buf, (size_t)len);
	return v;
}

/* How uids_assign treats the recent marker (folder.h): RECENT_KEEP leaves
 * it; RECENT_LOOK also returns it; RECENT_CLAIM returns it and moves it
 * to UIDNEXT, under the lock: the UIDs from the returned value up are
 * \Recent for the caller alone. */
enum recent_mode { RECENT_KEEP, RECENT_LOOK, RECENT_CLAIM };

static int
uids_assign(const char *dir, struct maildir_entry *e, size_t n, uint32_t *uids,
    uint32_t *validity_r, uint32_t *next_r, enum recent_mode mode, uint32_t *recent_from_r)
{
	int lock = folder_lock(dir);
	if (lock < 0)
		return -1;
	uint32_t validity = 0, next = 1, recent_from = 1;
	struct uidrec *recs;
	size_t nrecs;
	int r = uidlist_read(dir, &validity, &next, &recent_from, &recs, &nrecs);
	if (r < 0) {
		close(lock);
		return -1;
	}
	int dirty = r == 1 || nrecs != n;
	if (r == 1) {
		validity = new_uidvalidity(dir);
		next = 1;
		/* a lost list's messages are not new: only an empty folder's
		 * first messages are (set below) */
		recent_from = n == 0 ? 1 : 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct uidrec *rec = recs_find(recs, nrecs, e[i].name, e[i].base_len);
		if (rec) {
			uids[i] = rec->uid;
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
	if (mode == RECENT_CLAIM && recent_from != next) {
		recent_from = next;
		dirty = 1;
	}
	int rc = 0;
	if (dirty) {
		struct strbuf b = { 0 };
		rc = sb_printf(&b, "yubin-uidlist 1 %" PRIu32 " %" PRIu32 " %" PRIu32 "\n", validity,
		    next, recent_from);
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = sb_printf(&b, "%" PRIu32 " %.*s\n", uids[i], (int)e[i].base_len, e[i].name);
		if (rc == 0)
			rc = write_atomic(dir, UIDLIST_NAME, b.p, b.len);
		free(b.p);
	}
	recs_free(recs, nrecs);
	close(lock);
	*validity_r = validity;
	*next_r = next;
	if (recent_from_r)
		*recent_from_r = mode == RECENT_KEEP ? next : claimed;
	return rc;
}

int
folder_assign_uids(const char *dir, struct maildir_entry *e, size_t n, uint32_t *uids,
    uint32_t *validity_r, uint32_t *next_r)
{
	return uids_assign(dir, e, n, uids, validity_r, next_r, RECENT_KEEP, NULL);
}

int
folder_assign_uids_recent(const char *dir, struct maildir_entry *e, size_t n, uint32_t *uids,
    uint32_t *validity_r, uint32_t *next_r, uint32_t *recent_from_r)
{
	return uids_assign(dir, e, n, uids, validity_r, next_r, RECENT_LOOK, recent_from_r);
}

int
folder_uids_init(const char *dir)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, UIDLIST_NAME);
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

int
folder_uid_of(const char *dir, const char *base, size_t base_len, uint32_t *uid_r,
    uint32_t *validity_r)
{
	struct maildir_entry *e;
	size_t n;
	if (maildir_scan(dir, 0, &e, &n) != 0)
		return -1;
	uint32_t *uids = calloc(n ? n : 1, sizeof *uids), next;
	int rc = -1;
	if (uids && folder_assign_uids(dir, e, n, uids, validity_r, &next) == 0) {
		for (size_t i = 0; i < n; i++)
			if (e[i].base_len == base_len && memcmp(e[i].name, base, base_len) == 0) {
				*uid_r = uids[i];
				rc = 0;
			}
	}
	free(uids);
	maildir_entries_free(&e, n);
	return rc;
}

/* ---- keywords ---- */

static void
keywords_read(struct folder *f)
{
	char path[4200], line[KEYWORDS_LINE_MAX];
	snprintf(path, sizeof path, "%s/%s", f->dir, KEYWORDS_NAME);
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
	if (f->mbox)
		return mboxf_keyword(f, name, create);
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		if (f->kw[i] && strcasecmp(f->kw[i], name) == 0)
			return i;
	if (!create || f->readonly || strlen(name) > IMAP_KEYWORD_MAX)
		return -1;
	int lock = folder_lock(f->dir);
	if (lock < 0)
		return -1;
	keywords_read(f);
	int found = -1, free_slot = -1;
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++) {
		if (f->kw[i] && strcasecmp(f->kw[i], name) == 0)
			found = i;
		else if (!f->kw[i] && free_slot < 0)
			free_slot = i;
	}
	if (found < 0 && free_slot >= 0) {
		f->kw[free_slot] = strdup(name);
		struct strbuf b = { 0 };
		int rc = f->kw[free_slot] ? 0 : -1;
		for (int i = 0; rc == 0 && i < FOLDER_KEYWORDS_MAX; i++)
			if (f->kw[i])
				rc = sb_printf(&b, "%c %s\n", 'a' + i, f->kw[i]);
		if (rc == 0 && write_atomic(f->dir, KEYWORDS_NAME, b.p, b.len) == 0)
			found = free_slot;
		free(b.p);
	}
	close(lock);
	return found;
}

/* ---- flags ---- */

static const struct {
	char letter;
	unsigned flag;
} letter_map[] = {
	{ 'D', FL_DRAFT }, { 'F', FL_FLAGGED }, { 'R', FL_ANSWERED },
	{ 'S', FL_SEEN }, { 'T', FL_DELETED },
};

void
folder_flag_letters(unsigned flags, uint32_t keywords, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < sizeof letter_map / sizeof letter_map[0]; i++)
		if (flags & letter_map[i].flag)
			out[o++] = letter_map[i].letter;
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		if (keywords & (1u << i))
			out[o++] = (char)('a' + i);
	out[o] = '\0';
}

void
folder_parse_letters(const char *letters, unsigned *flags_r, uint32_t *keywords_r)
{
	unsigned flags = 0;
	uint32_t kw = 0;
	for (const char *p = letters; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			kw |= 1u << (*p - 'a');
		for (size_t i = 0; i < sizeof letter_map / sizeof letter_map[0]; i++)
			if (*p == letter_map[i].letter)
				flags |= letter_map[i].flag;
	}
	*flags_r = flags;
	*keywords_r = kw;
}

/* Letters of the name that yubin does not know (e.g. 'P'): kept as they are. */
static void
foreign_letters(const char *letters, char *out)
{
	size_t o = 0;
	for (const char *p = letters; *p; p++)
		if (*p >= 'A' && *p <= 'Z' && !strchr("DFRST", *p))
			out[o++] = *p;
	out[o] = '\0';
}

int
folder_set_flags(struct folder *f, size_t idx, unsigned flags, uint32_t keywords)
{
	struct fmsg *m = &f->m[idx];
	char letters[MAILDIR_FLAGS_MAX + 8], foreign[MAILDIR_FLAGS_MAX];
	if (f->mbox) {
		/* written by mboxf_flush() once the command is done */
		m->flags = (m->flags & FL_RECENT) | (flags & ~FL_RECENT);
		m->keywords = keywords;
		m->mb_dirty = 1;
		f->mb_dirty = 1;
		return 0;
	}
	foreign_letters(m->e.flags, foreign);
	folder_flag_letters(flags & ~FL_RECENT, keywords, letters);
	if (strlen(letters) + strlen(foreign) >= MAILDIR_FLAGS_MAX) {
		errno = EINVAL;
		return -1;
	}
	strcat(letters, foreign);
	/* The directory fsync comes once per command (folder_flags_durable).
	 * Marked whether or not this call renamed: a retry may find the file
	 * renamed by another session, or back in new/. */
	for (int tries = 0;; tries++) {
		f->flags_pending |= FOLDER_PENDING_CUR | (m->e.in_new || tries ? FOLDER_PENDING_NEW : 0);
		int r = maildir_set_flags(f->dir, &m->e, letters);
		if (r == 0)
			break;
		if (errno != ENOENT || tries == FOLDER_OPEN_TRIES)
			return -1;
		struct timespec pause = { 0, 2000000L * (tries + 1) };
		nanosleep(&pause, NULL);
	}
	m->flags = (m->flags & FL_RECENT) | (flags & ~FL_RECENT);
	m->keywords = keywords;
	return 0;
}

static int
fsync_sub(const char *dir, const char *sub)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, sub);
	return durable_fsync_dir(path);
}

int
folder_flags_durable(struct folder *f)
{
	if (f->mbox || f->flags_pending == 0)
		return 0;
	/* cur/ first: a message that left new/ is in cur/ before new/ loses it */
	if ((f->flags_pending & FOLDER_PENDING_CUR) && fsync_sub(f->dir, "cur") != 0)
		return -1;
	if ((f->flags_pending & FOLDER_PENDING_NEW) && fsync_sub(f->dir, "new") != 0)
		return -1;
	f->flags_pending = 0;
	return 0;
}

/* ---- open and sync ---- */

static int
fmsg_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct fmsg *)a)->uid, y = ((const struct fmsg *)b)->uid;
	return x < y ? -1 : x > y;
}

/* Scans dir and returns messages (with UIDs) sorted by UID. */
static int
folder_scan(struct folder *f, struct fmsg **list_r, size_t *n_r)
{
	struct maildir_entry *e;
	size_t n;
	if (maildir_scan(f->dir, 0, &e, &n) != 0)
		return -1;
	uint32_t *uids = calloc(n ? n : 1, sizeof *uids), recent_from;
	struct fmsg *list = calloc(n ? n : 1, sizeof *list);
	if (uids == NULL || list == NULL ||
	    uids_assign(f->dir, e, n, uids, &f->uidvalidity, &f->uidnext,
	    f->readonly ? RECENT_LOOK : RECENT_CLAIM, &recent_from) != 0) {
		free(uids);
		free(list);
		maildir_entries_free(&e, n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		list[i].uid = uids[i];
		list[i].e = e[i];
		folder_parse_letters(e[i].flags, &list[i].flags, &list[i].keywords);
		/* \Recent by the marker; one still in new/ is the session's
		 * that moves it out (folder_take_recent), whatever its UID */
		if (uids[i] >= recent_from && (!e[i].in_new || f->readonly))
			list[i].flags |= FL_RECENT;
	}
	free(uids);
	free(e); /* the names now belong to list */
	if (n > 1)
		qsort(list, n, sizeof *list, fmsg_cmp);
	*list_r = list;
	*n_r = n;
	return 0;
}

static int
folder_grow(struct folder *f, size_t want)
{
	if (want <= f->cap)
		return 0;
	size_t cap = f->cap ? f->cap : 64;
	while (cap < want)
		cap *= 2;
	struct fmsg *p = realloc(f->m, cap * sizeof *p);
	if (p == NULL)
		return -1;
	f->m = p;
	f->cap = cap;
	return 0;
}

/* Moves a message from new/ to cur/ (its info as it is). 0, or -1 if it
 * is not there (another session moved it first) or the rename failed.
 * No lookup elsewhere, as maildir_set_flags does: the rename that
 * succeeds is the one claim of the message. */
static int
take_from_new(struct folder *f, struct fmsg *m)
{
	char path[4200], name[NAME_MAX + 1];
	size_t base = strcspn(m->e.name, ":");
	int len = snprintf(name, sizeof name, "%.*s:2,%s", (int)base, m->e.name, m->e.flags);
	if (len < 0 || (size_t)len >= sizeof name)
		return -1;
	char *copy = strdup(name);
	if (copy == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/new", f->dir);
	int from = durable_open_dir(path);
	snprintf(path, sizeof path, "%s/cur", f->dir);
	int to = from >= 0 ? durable_open_dir(path) : -1;
	int r = to >= 0 ? renameat(from, m->e.name, to, copy) : -1;
	if (from >= 0)
		close(from);
	if (to >= 0)
		close(to);
	if (r != 0) {
		free(copy);
		return -1;
	}
	free(m->e.name);
	m->e.name = copy;
	m->e.in_new = 0;
	return 0;
}

/* \Recent for this session only (RFC 9051 §2.3.2): a message past the
 * UID list's recent marker that this scan claimed (FL_RECENT set by
 * folder_scan), or one found in new/ that a read-write session moves to
 * cur/. A read-only session (EXAMINE) claims nothing: it shows what is
 * new as \Recent and leaves it for the next session. */
static void
folder_take_recent(struct folder *f, struct fmsg *m)
{
	if (!(m->flags & FL_RECENT) && m->e.in_new &&
	    (f->readonly || take_from_new(f, m) == 0))
		m->flags |= FL_RECENT;
	if (m->flags & FL_RECENT)
		f->recent++;
}

/* Why directory times are not simply compared: a change stamps new/ or
 * cur/ with the kernel's coarse clock (a tick of 1-10 ms) cut to the file
 * system's granule (1 ns on ext4, xfs, btrfs, tmpfs; 1 s on some others,
 * 2 s on FAT), so a delivery in the same granule as the change that gave
 * the time we saw leaves the time as it was, and a scan taken just before
 * that delivery would be believed for good. Such a time can be trusted
 * only once it is over a granule old: every change after that gets a
 * later time. So folder_unchanged() notes at each stat whether the times
 * were already that old (the clock read before the stat), and skips the
 * rescan only for the same times noted as settled. A time with
 * nanoseconds comes from a fine file system: its granule is the tick,
 * and FOLDER_MTIME_FINE_NSEC is above the 10 ms of HZ=100 with margin.
 * A time on a whole second may be a coarse file system's (or, once in a
 * few hundred, a fine one's): 2 s, as Dovecot's maildir syncing waits.
 * (Checking the age at the next look instead, as this did before, both
 * rescans for 2 s after every change, the SELECT that moves new/ into
 * cur/ or a STORE, and trusts a time that was fresh at the scan.)
 * Times set by another host's clock (NFS) need clocks in step (NTP); the
 * attribute cache there can hide a change for its lifetime (actimeo):
 * mount with a short one where sessions share a mailbox across hosts. */
#define FOLDER_MTIME_FINE_NSEC (50 * 1000000LL)
#define FOLDER_MTIME_COARSE_SEC 2

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* 1 if a change after now gets a time other than t (see above); a time
 * ahead of the clock never is. */
static int
mtime_settled(const struct timespec *t, const struct timespec *now)
{
	long long age_ns = ((long long)now->tv_sec - (long long)t->tv_sec) * 1000000000LL +
	    (now->tv_nsec - t->tv_nsec);
	long long granule = t->tv_nsec != 0 ? FOLDER_MTIME_FINE_NSEC
	    : FOLDER_MTIME_COARSE_SEC * 1000000000LL;
	return age_ns > granule;
}

/* 1 if neither new/ nor cur/ changed since the last scan; saves their
 * times (taken before the scan, so later changes are seen next time) and
 * whether they were settled then. */
static int
folder_unchanged(struct folder *f)
{
	char path[4200];
	struct stat sn, sc;
	struct timespec now;
	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return 0;
	snprintf(path, sizeof path, "%s/new", f->dir);
	if (stat(path, &sn) != 0)
		return 0;
	snprintf(path, sizeof path, "%s/cur", f->dir);
	if (stat(path, &sc) != 0)
		return 0;
	int same = f->scanned && f->settled && same_time(&sn.st_mtim, &f->new_mtime) &&
	    same_time(&sc.st_mtim, &f->cur_mtime);
	f->new_mtime = sn.st_mtim;
	f->cur_mtime = sc.st_mtim;
	f->settled = mtime_settled(&sn.st_mtim, &now) && mtime_settled(&sc.st_mtim, &now);
	return same;
}

int
folder_sync(struct folder *f)
{
	struct fmsg *list;
	size_t n;
	if (f->mbox)
		return mboxf_sync(f);
	if (folder_unchanged(f))
		return 0;
	if (folder_scan(f, &list, &n) != 0) {
		f->scanned = 0;
		return -1;
	}
	f->scanned = 1;
	keywords_read(f);
	size_t i = 0, j = 0, old_n = f->n;
	uint32_t max_uid = old_n ? f->m[old_n - 1].uid : 0;
	while (i < old_n || j < n) {
		if (j == n || (i < old_n && f->m[i].uid < list[j].uid)) {
			f->m[i++].gone = 1;
			continue;
		}
		if (i == old_n || list[j].uid < f->m[i].uid) {
			if (list[j].uid > max_uid && folder_grow(f, f->n + 1) == 0) {
				f->m[f->n] = list[j];
				folder_take_recent(f, &f->m[f->n]);
				f->n++;
				f->new_messages = 1;
			} else {
				free(list[j].e.name);
			}
			j++;
			continue;
		}
		struct fmsg *m = &f->m[i];
		list[j].flags &= ~FL_RECENT; /* decided when the message came */
		if ((m->flags & ~FL_RECENT) != list[j].flags || m->keywords != list[j].keywords) {
			m->changed = 1;
			m->flags = (m->flags & FL_RECENT) | list[j].flags;
			m->keywords = list[j].keywords;
		}
		free(m->e.name);
		time_t mt = m->e.mtime;
		uint64_t vsize = m->e.vsize;
		m->e = list[j].e;
		if (m->mtime_known)
			m->e.mtime = mt;
		/* a size counted from the file (no W= in the name) stays
		 * true: a message file's content never changes */
		if (m->e.vsize == 0)
			m->e.vsize = vsize;
		i++;
		j++;
	}
	free(list);
	return 0;
}

void
folder_remove_gone(struct folder *f, size_t idx)
{
	if (f->m[idx].flags & FL_RECENT)
		f->recent--;
	free(f->m[idx].e.name);
	memmove(&f->m[idx], &f->m[idx + 1], (f->n - idx - 1) * sizeof *f->m);
	f->n--;
	if (idx < f->reported)
		f->reported--;
	f->cache_uid = 0;
}

int
folder_open(struct folder **f_r, const char *dir, const char *name, int readonly)
{
	struct folder *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s", dir);
	snprintf(f->name, sizeof f->name, "%s", name);
	f->readonly = readonly;
	struct stat st;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || folder_sync(f) != 0) {
		int saved = errno;
		folder_close(&f);
		errno = saved ? saved : ENOENT;
		return -1;
	}
	f->reported = f->n;
	f->new_messages = 0;
	*f_r = f;
	return 0;
}

static void
cache_drop(struct folder *f)
{
	mime_message_free(&f->cache_mime);
	free(f->cache_data);
	f->cache_data = NULL;
	f->cache_len = 0;
	f->cache_uid = 0;
	f->cache_head = 0;
}

void
folder_close(struct folder **fp)
{
	struct folder *f = *fp;
	if (f == NULL)
		return;
	cache_drop(f);
	if (f->mbox && f->mb_fd >= 0)
		close(f->mb_fd);
	for (size_t i = 0; i < f->n; i++)
		free(f->m[i].e.name);
	free(f->m);
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		free(f->kw[i]);
	free(f);
	*fp = NULL;
}

/* ---- content ---- */

/* The length of raw[0..n) after LF → CRLF. */
static size_t
crlf_size(const unsigned char *raw, size_t n)
{
	size_t bare = 0;
	for (const unsigned char *p = raw; (p = memchr(p, '\n', n - (size_t)(p - raw))); p++)
		if (p == raw || p[-1] != '\r')
			bare++;
	return n + bare;
}

int
folder_crlf(const unsigned char *raw, size_t n, unsigned char **data_r, size_t *len_r)
{
	unsigned char *out = malloc(crlf_size(raw, n) + 1);
	if (out == NULL)
		return -1;
	/* whole lines at a time: this runs over every message listed */
	size_t o = 0, i = 0;
	while (i < n) {
		const unsigned char *lf = memchr(raw + i, '\n', n - i);
		size_t run = lf != NULL ? (size_t)(lf - (raw + i)) : n - i;
		memcpy(out + o, raw + i, run);
		o += run;
		i += run;
		if (lf == NULL)
			break;
		if (i == 0 || raw[i - 1] != '\r')
			out[o++] = '\r';
		out[o++] = '\n';
		i++;
	}
	out[o] = '\0';
	*data_r = out;
	*len_r = o;
	return 0;
}

int
folder_read_crlf(int fd, unsigned char **data_r, size_t *len_r)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	if ((uint64_t)st.st_size > MESSAGE_LOAD_MAX) {
		errno = EFBIG;
		return -1;
	}
	size_t size = (size_t)st.st_size;
	unsigned char *raw = malloc(size + 1);
	if (raw == NULL)
		return -1;
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, raw + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	int rc = folder_crlf(raw, got, data_r, len_r);
	free(raw);
	return rc;
}

/* The header's length if raw[0..n) holds its end, else 0. The end is the
 * first LF followed by an empty line, the same place after LF → CRLF:
 * where fetch.c's RFC822.HEADER cuts, never before the MIME parser's
 * end of the top-level header. Only an end whose bytes are all read
 * counts (a "\n\r" at the end may go on with "\n"). */
static size_t
head_end(const unsigned char *raw, size_t n, int lf_only)
{
	for (const unsigned char *p = raw; n > 1 && (p = memchr(p, '\n', n - 1 - (size_t)(p - raw)));
	    p++) {
		size_t i = (size_t)(p - raw);
		if (raw[i + 1] == '\n')
			return i + 2;
		if (!lf_only && raw[i + 1] == '\r' && i + 2 < n && raw[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* First read of a header: most are a few KB (Received: chains); then
 * four times more each time, up to FOLDER_HEADER_READ_MAX. */
#define HEAD_READ_FIRST 8192

int
folder_read_head(int fd, uint64_t off, uint64_t len, int lf_only, unsigned char **raw_r,
    size_t *got_r, size_t *cut_r)
{
	size_t cap = 0, got = 0, cut = 0;
	unsigned char *raw = NULL;
	while ((uint64_t)got < len) {
		if (got == cap) {
			if (cap == FOLDER_HEADER_READ_MAX) {
				free(raw);
				return 1;
			}
			cap = cap ? cap * 4 : HEAD_READ_FIRST;
			if (cap > FOLDER_HEADER_READ_MAX)
				cap = FOLDER_HEADER_READ_MAX;
			unsigned char *p = realloc(raw, cap + 1);
			if (p == NULL) {
				free(raw);
				return -1;
			}
			raw = p;
		}
		size_t want = cap - got;
		if ((uint64_t)want > len - got)
			want = (size_t)(len - got);
		ssize_t r = pread(fd, raw + got, want, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(raw);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		/* a short read is most often the whole small file: done
		 * without another read when the header's end is in it */
		if ((cut = head_end(raw, got, lf_only)) != 0)
			break;
	}
	if (raw == NULL && (raw = malloc(1)) == NULL)
		return -1;
	*raw_r = raw;
	*got_r = got;
	*cut_r = cut;
	return 0;
}

/* maildir_open() looks a moved message up with one readdir() pass; a
 * rename inside the same directory during that pass can hide the entry
 * from it (S64), so a miss is retried before the message counts as gone. */
static int
folder_open_message(struct folder *f, struct fmsg *m)
{
	for (int tries = 0;; tries++) {
		int fd = maildir_open(f->dir, &m->e);
		if (fd >= 0 || errno != ENOENT || tries == FOLDER_OPEN_TRIES)
			return fd;
		struct timespec pause = { 0, 2000000L * (tries + 1) };
		nanosleep(&pause, NULL);
	}
}

int
folder_message(struct folder *f, size_t idx, const unsigned char **data_r, size_t *len_r)
{
	struct fmsg *m = &f->m[idx];
	if (f->cache_uid != m->uid || f->cache_head) {
		cache_drop(f);
		if (f->mbox) {
			if (mboxf_message(f, idx) != 0)
				return -1;
			*data_r = f->cache_data;
			*len_r = f->cache_len;
			return 0;
		}
		int fd = folder_open_message(f, m);
		if (fd < 0)
			return -1;
		int r = folder_read_crlf(fd, &f->cache_data, &f->cache_len);
		close(fd);
		if (r != 0)
			return -1;
		f->cache_uid = m->uid;
	}
	*data_r = f->cache_data;
	*len_r = f->cache_len;
	return 0;
}

/* Header of a Maildir message into the cache: 0, 1 (read it whole), -1. */
static int
maildir_header(struct folder *f, struct fmsg *m)
{
	int fd = folder_open_message(f, m);
	if (fd < 0)
		return -1;
	unsigned char *raw = NULL;
	size_t got = 0, cut = 0;
	struct stat st;
	/* to the end of the file, as folder_read_crlf: no fstat needed */
	int r = folder_read_head(fd, 0, UINT64_MAX, 0, &raw, &got, &cut);
	/* A small message came whole: its RFC822.SIZE (without W= in the
	 * name) is counted here rather than by a second read (folder_size). */
	if (r == 0 && m->e.vsize == 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == got)
		m->e.vsize = crlf_size(raw, got);
	close(fd);
	if (r != 0)
		return r;
	/* Even when a small message came whole with its header, only the
	 * header is converted and parsed: listing a folder is the case. */
	int whole = cut == 0;
	r = folder_crlf(raw, whole ? got : cut, &f->cache_data, &f->cache_len);
	free(raw);
	if (r != 0)
		return -1;
	f->cache_uid = m->uid;
	f->cache_head = !whole;
	return 0;
}

int
folder_header(struct folder *f, size_t idx, const unsigned char **data_r, size_t *len_r)
{
	struct fmsg *m = &f->m[idx];
	if (f->cache_uid != m->uid) {
		cache_drop(f);
		int r = f->mbox ? mboxf_header(f, idx) : maildir_header(f, m);
		if (r < 0)
			return -1;
		if (r == 1)
			return folder_message(f, idx, data_r, len_r);
	}
	*data_r = f->cache_data;
	*len_r = f->cache_len;
	return 0;
}

/* The parse of what read gave, kept until the cache moves to another
 * message or from a header to a whole message (folder_message drops it). */
static const struct mime_message *
mime_cached(struct folder *f, size_t idx,
    int (*read)(struct folder *, size_t, const unsigned char **, size_t *))
{
	const unsigned char *data;
	size_t len;
	if (read(f, idx, &data, &len) != 0)
		return NULL;
	if (f->cache_mime == NULL)
		f->cache_mime = mime_message_parse(data, len);
	return f->cache_mime;
}

const struct mime_message *
folder_mime(struct folder *f, size_t idx)
{
	return mime_cached(f, idx, folder_message);
}

/* The parse of a header alone ends its top-level header where the whole
 * message's parse does (folder_header), with the same fields: ENVELOPE
 * and the HEADER sections come out the same. Only the parts differ. */
const struct mime_message *
folder_mime_header(struct folder *f, size_t idx)
{
	return mime_cached(f, idx, folder_header);
}

time_t
folder_internaldate(struct folder *f, size_t idx)
{
	struct fmsg *m = &f->m[idx];
	if (!m->mtime_known) {
		char path[4600];
		m->mtime_known = 1;
		struct stat st;
		snprintf(path, sizeof path, "%s/%s/%s", f->dir, m->e.in_new ? "new" : "cur", m->e.name);
		if (stat(path, &st) == 0)
			m->e.mtime = st.st_mtime;
		else {
			int fd = maildir_open(f->dir, &m->e);
			if (fd >= 0) {
				if (fstat(fd, &st) == 0)
					m->e.mtime = st.st_mtime;
				close(fd);
			}
		}
	}
	return m->e.mtime;
}

uint64_t
folder_size(struct folder *f, size_t idx)
{
	struct fmsg *m = &f->m[idx];
	if (m->e.vsize == 0) {
		int fd = maildir_open(f->dir, &m->e);
		if (fd >= 0) {
			uint64_t v;
			if (maildir_count_vsize(fd, &v) == 0)
				m->e.vsize = v;
			close(fd);
		}
	}
	return m->e.vsize;
}
