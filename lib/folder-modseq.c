/*
 * folder-modseq.c — per-message mod-sequences (RFC 7162's MODSEQ) and the
 * folder's HIGHESTMODSEQ, kept for both backends in one journal beside
 * the folder's state (Maildir: dir/yubin-modseq; mbox:
 * dir/.<file>.yubin-modseq):
 *
 *   "yubin-modseq 1 <uidvalidity>\n"   then "<uid> <modseq>\n" per change,
 *
 * appended under the folder's state lock (yubin-lock, flock()ed) and
 * fdatasync'd. A UID's modseq is that of its last line; HIGHESTMODSEQ is
 * the greatest modseq in the file. A change of flags or keywords made
 * through the store (folder_commit), a message seen for the first time
 * (an append, a copy, a delivery: at the next open or sync) and an
 * expunge (folder_expunge: a line for the UID that went) each get a new
 * line with a modseq above every one before; a message without a line is
 * one not seen before. When the journal is three times as long as the
 * folder needs, it is rewritten (tmp, fsync, rename) with one line a
 * message and a line "0 <highestmodseq>".
 *
 * A journal of another UIDVALIDITY, without a valid first line, not a
 * regular file of one link (a FIFO, a hard or symbolic link planted
 * there: never waited on nor written through, S34), or none, starts
 * afresh (every message gets a new line); a last line cut short by a
 * crash, and any line not strictly "<digits> <digits>", is ignored. Starting afresh, modseqs go on from a floor taken from the
 * clock (microseconds since 1970: below 2^53 until 2255, which clients
 * keeping numbers as doubles still hold exactly), not from 1: a
 * journal lost or damaged must not make HIGHESTMODSEQ go down for the
 * same UIDVALIDITY (RFC 7162 §3.1.2.1), and every message then gets a
 * modseq above any a client was told, so CHANGEDSINCE gives it again.
 * That holds while the folder had fewer changes than microseconds went
 * by since the journal last started afresh (each change is a rename or
 * a rewrite, and fsync'd), and while the clock does not go back. Flag changes made outside yubin (another program renaming a
 * Maildir file) get no new modseq. Recording is best effort: a failure
 * (a full disk) leaves the modseqs of this session's view as given, and
 * the next change records them.
 */
#include "folder.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "durable.h"
#include "folder-int.h"
#include "path.h"

/* "<uid> <modseq>\n": 10 + 1 + 20 + 1 digits and separators. */
#define MODSEQ_LINE_MAX 40
#define MODSEQ_HEAD "yubin-modseq 1 "
/* The journal is rewritten past 3 lines a message and this many more:
 * reading it stays linear in the folder's size, and a small folder is
 * not rewritten at every change. */
#define MODSEQ_SLACK 64

/* Where modseqs go on from when the journal starts afresh (above). */
static uint64_t
modseq_floor(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec <= 0)
		return 0;
	uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	/* room above it for the changes to come (mod-sequence < 2^63) */
	return us < (UINT64_C(1) << 62) ? us : 0;
}

/* Message with this UID (f->m is in UID order), or NULL. */
static struct fmsg *
by_uid(struct folder *f, uint32_t uid)
{
	size_t i = folder_index_of(f, uid);
	return i == SIZE_MAX ? NULL : &f->m[i];
}

/* The decimal number at *p (digits only: no sign, no space) if it is at
 * most max, *p moved past it; -1 if there is none or it is larger. */
static int
parse_num(const char **p, uint64_t max, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (s == *p)
		return -1;
	*p = s;
	*v = n;
	return 0;
}

/* 1 if line is the header of a journal of f's UIDVALIDITY. */
static int
header_ok(const struct folder *f, const char *line)
{
	uint64_t v;
	const char *p = line + strlen(MODSEQ_HEAD);
	return strncmp(line, MODSEQ_HEAD, strlen(MODSEQ_HEAD)) == 0 &&
	    parse_num(&p, UINT32_MAX, &v) == 0 && *p == '\0' && v == f->uidvalidity;
}

/* Takes in "<uid> <modseq>" (uid 0: the rewrite's line of the highest
 * alone); anything else is skipped. A modseq is 1..2^63-1 (RFC 7162). */
static void
take_line(struct folder *f, const char *line)
{
	uint64_t uid, ms;
	const char *p = line;
	if (parse_num(&p, UINT32_MAX, &uid) != 0 || *p++ != ' ' ||
	    parse_num(&p, INT64_MAX, &ms) != 0 || *p != '\0' || ms == 0)
		return;
	struct fmsg *m = uid != 0 ? by_uid(f, (uint32_t)uid) : NULL;
	if (m != NULL && m->modseq < ms)
		m->modseq = ms;
	if (f->highestmodseq < ms)
		f->highestmodseq = ms;
	f->ms_lines++;
}

/* Parses the complete lines of d[0..len); returns how many bytes they
 * take (a last line without LF is left for later). At the start, *ok_r
 * 0 unless the first line is a header of f's UIDVALIDITY (one too long,
 * or not there in full, is not). */
static size_t
parse_lines(struct folder *f, const char *d, size_t len, int at_start, int *ok_r)
{
	size_t o = 0;
	*ok_r = 1;
	while (o < len) {
		const char *nl = memchr(d + o, '\n', len - o);
		if (nl == NULL)
			break;
		size_t ll = (size_t)(nl - (d + o));
		char line[MODSEQ_LINE_MAX + 1];
		int fits = ll < sizeof line;
		if (fits) {
			memcpy(line, d + o, ll);
			line[ll] = '\0';
		}
		if (at_start && o == 0) {
			if (!fits || !header_ok(f, line)) {
				*ok_r = 0;
				return 0;
			}
		} else if (fits)
			take_line(f, line);
		o += ll + 1;
	}
	if (at_start && o == 0)
		*ok_r = 0;
	return o;
}

/* Reads what the journal fd has past f->ms_off (from the start if it is
 * another file than last time), MODSEQ_READ_CHUNK bytes at a time: a
 * journal however long (grown by another program) takes no more memory.
 * A line longer than a chunk is skipped to its end. 0, or -1 (no journal
 * of this folder). */
static int
journal_read(struct folder *f, int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	if ((uint64_t)st.st_ino != f->ms_ino || (uint64_t)st.st_size < f->ms_off) {
		f->ms_ino = (uint64_t)st.st_ino;
		f->ms_off = 0;
		f->ms_lines = 0;
	}
	if ((uint64_t)st.st_size == f->ms_off)
		return f->ms_off == 0 ? -1 : 0;
	char *d = malloc(MODSEQ_READ_CHUNK);
	if (d == NULL)
		return -1;
	uint64_t end = (uint64_t)st.st_size, pos = f->ms_off;
	int ok = 1, skipping = 0;
	while (ok && pos < end) {
		size_t want = end - pos < MODSEQ_READ_CHUNK ? (size_t)(end - pos) : MODSEQ_READ_CHUNK;
		ssize_t got = pread(fd, d, want, (off_t)pos);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		size_t used;
		if (skipping) {
			const char *nl = memchr(d, '\n', (size_t)got);
			used = nl != NULL ? (size_t)(nl - d) + 1 : (size_t)got;
			skipping = nl == NULL;
		} else {
			used = parse_lines(f, d, (size_t)got, pos == 0, &ok);
			/* no line end in a whole chunk: a line too long, skipped */
			if (used == 0 && got == MODSEQ_READ_CHUNK) {
				used = (size_t)got;
				skipping = 1;
			}
		}
		if (used == 0)
			break;   /* a last line not yet complete */
		pos += used;
		if (!skipping)
			f->ms_off = pos;
	}
	free(d);
	return !ok && f->ms_off == 0 ? -1 : 0;
}

/* Opens the journal at path with flags as the store's own file (S34); a
 * rewrite renaming a new one over it between the open and the check is
 * met by opening again. An fd, or -1 (errno). */
static int
journal_open_file(const char *path, int flags)
{
	int fd = -1;
	for (int i = 0; i < 3 && fd < 0; i++)
		if ((fd = durable_open_own(path, flags)) < 0 && errno != ESTALE)
			break;
	return fd;
}

/* The journal is lost: modseqs go on from above the floor (top comment). */
static void
journal_lost(struct folder *f)
{
	uint64_t floor = modseq_floor();
	if (f->highestmodseq < floor)
		f->highestmodseq = floor;
}

/* Opens the journal (and the state lock, *lock_r) for writing; reads what
 * others wrote. 1 if it is fresh (to be written whole, *fd_r -1 if what
 * is there is no file of ours: a symlink, a FIFO, a hard link, S34), 0,
 * -1. */
static int
journal_open(struct folder *f, int *fd_r, int *lock_r)
{
	char path[PATH_MAX];
	*lock_r = -1;
	*fd_r = -1;
	if (f->ops->state_path(f, "lock", path, sizeof path) != 0)
		return -1;
	int lock = durable_open_own(path, O_RDWR | O_CREAT);
	if (lock < 0 || flock(lock, LOCK_EX) != 0) {
		if (lock >= 0)
			close(lock);
		return -1;
	}
	*lock_r = lock;
	if (f->ops->state_path(f, "modseq", path, sizeof path) != 0)
		return -1;
	int fd = journal_open_file(path, O_RDWR | O_APPEND | O_CREAT);
	if (fd < 0 && errno != ELOOP && errno != EINVAL && errno != EMLINK)
		return -1;
	*fd_r = fd;
	/* none there, or not ours: replaced by the rewrite, never written
	 * through */
	if (fd < 0 || journal_read(f, fd) != 0) {
		journal_lost(f);
		return 1;
	}
	return 0;
}

/* Writes the journal afresh: a line a message (tmp, fsync, rename). */
static int
journal_rewrite(struct folder *f)
{
	char path[PATH_MAX];
	if (f->ops->state_path(f, "modseq", path, sizeof path) != 0)
		return -1;
	struct buf b = BUF_INIT((f->n + 1) * MODSEQ_LINE_MAX);
	int r = buf_printf(&b, MODSEQ_HEAD "%" PRIu32 "\n", f->uidvalidity);
	for (size_t i = 0; r == 0 && i < f->n; i++)
		if (f->m[i].modseq > 0 && !f->m[i].gone)
			r = buf_printf(&b, "%" PRIu32 " %" PRIu64 "\n", f->m[i].uid, f->m[i].modseq);
	if (r == 0 && f->highestmodseq > 0)
		r = buf_printf(&b, "0 %" PRIu64 "\n", f->highestmodseq);
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	if (r == 0 && (slash == NULL || path_printf(dir, sizeof dir, "%.*s", (int)(slash - path),
	    path) != 0))
		r = -1;
	if (r == 0)
		r = durable_replace(dir, slash + 1, b.s, b.len, DURABLE_SYNCED);
	buf_free(&b);
	f->ms_ino = 0;   /* read again from the new file's start */
	f->ms_off = 0;
	return r;
}

/* Gives the messages picked (uids[0..n); NULL: those without a modseq)
 * new modseqs and records them. 0 or -1 (errno). */
static int
record(struct folder *f, const uint32_t *uids, size_t n)
{
	int fd = -1, lock = -1;
	int fresh = journal_open(f, &fd, &lock);
	int r = fresh < 0 ? -1 : 0;
	struct buf b = BUF_INIT(((uids ? n : f->n) + 1) * MODSEQ_LINE_MAX);
	for (size_t i = 0; r == 0 && i < (uids ? n : f->n); i++) {
		struct fmsg *m = uids ? by_uid(f, uids[i]) : &f->m[i];
		uint32_t uid = uids ? uids[i] : m->uid;
		if (uids == NULL && (m->modseq != 0 || m->gone))
			continue;
		uint64_t ms = ++f->highestmodseq;
		if (m != NULL)
			m->modseq = ms;
		r = buf_printf(&b, "%" PRIu32 " %" PRIu64 "\n", uid, ms);
	}
	/* none there, or another folder's of the same name: written whole,
	 * in one step */
	if (r == 0 && fresh) {
		r = journal_rewrite(f);
		b.len = 0;
	}
	if (r == 0 && b.len > 0)
		r = durable_write_all(fd, b.s, b.len) != 0 || fdatasync(fd) != 0 ? -1 : 0;
	buf_free(&b);
	if (r == 0 && !fresh)
		(void)journal_read(f, fd);   /* past what was just written */
	int e = errno;
	if (r == 0 && f->ms_lines > 3 * f->n + MODSEQ_SLACK)
		(void)journal_rewrite(f);
	if (fd >= 0)
		close(fd);
	if (lock >= 0)
		close(lock);
	errno = e;
	return r;
}

void
folder_modseq_sync(struct folder *f)
{
	char path[PATH_MAX];
	int have = -1;
	if (f->ops->state_path(f, "modseq", path, sizeof path) == 0) {
		int fd = journal_open_file(path, O_RDONLY);
		if (fd >= 0) {
			have = journal_read(f, fd);
			close(fd);
		}
	}
	/* no journal of this folder (lost, damaged, never made): afresh */
	if (have != 0 && f->highestmodseq == 0)
		journal_lost(f);
	int unnumbered = 0;
	for (size_t i = 0; i < f->n && !unnumbered; i++)
		unnumbered = f->m[i].modseq == 0 && !f->m[i].gone;
	/* a read-only look writes nothing: the next read-write one records */
	if (unnumbered && !f->readonly)
		(void)record(f, NULL, 0);
	/* not recorded (a full disk): numbered in this view all the same */
	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].modseq == 0)
			f->m[i].modseq = ++f->highestmodseq;
}

int
folder_modseq_bump(struct folder *f, const uint32_t *uids, size_t n)
{
	return n == 0 ? 0 : record(f, uids, n);
}

uint64_t
folder_highestmodseq(const struct folder *f)
{
	return f->highestmodseq ? f->highestmodseq : 1;
}
