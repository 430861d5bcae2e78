/*
 * mbox.c — mboxrd files: fcntl + NFS-safe dotlock, append with From_ line
 * and >From quoting, truncate back on failure, and a reader's scan (S66).
 *
 * Format as written (mboxrd):
 *   From <sender> <asctime, local time>\n
 *   <prefix headers><message, each line matching ^>*From  given one more '>'>
 *   [\n if the message did not end with one]
 *   \n                                     ← separating blank line
 * A From_ line is recognised only at the start of the file or after a blank
 * line, so a message body can never start a new message.
 *
 * Locking order is fcntl, then the dotlock (as Postfix and Dovecot do on
 * Linux), each retried without blocking up to MBOX_LOCK_WAIT_SEC in total.
 * The dotlock is made NFS-safely: a unique file is link()ed to "<mbox>.lock"
 * and the link count checked, since O_EXCL is unreliable over old NFS. A
 * dotlock whose holder is known dead (mbox-stale.c), or older than
 * MBOX_DOTLOCK_STALE_SEC, is taken to be left by a crash and removed. Note that fcntl locks belong to the process: closing any
 * other descriptor of the same mbox releases ours, so readers in the same
 * process must reuse lock->fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "durable.h"
#include "mbox-internal.h"
#include "mbox.h"
#include "path.h"

/* Retry interval while waiting for a lock: starts small, doubles, capped. */
#define MBOX_RETRY_MIN_MS 5
#define MBOX_RETRY_MAX_MS 50
/* The part of a From_ line the scanner keeps (sender and date). */
#define MBOX_FROM_LINE_MAX 1024
/* Opens of an mbox path that each found the file opened already replaced
 * (a rewrite renamed a new one over it) before open_mbox gives up: a
 * rename is rare, so more in a row mean something else is wrong. */
#define MBOX_REOPEN_TRIES 50

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double
now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* fcntl write lock on the whole file, retried until the deadline. */
static int
lock_fcntl(int fd, double deadline)
{
	long wait = MBOX_RETRY_MIN_MS;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	while (fcntl(fd, F_SETLK, &fl) != 0) {
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return -1;
		if (now_sec() >= deadline) {
			errno = EWOULDBLOCK;
			return -1;
		}
		sleep_ms(wait);
		wait = wait * 2 > MBOX_RETRY_MAX_MS ? MBOX_RETRY_MAX_MS : wait * 2;
	}
	return 0;
}

/* One attempt: unique file, link to lockpath, check st_nlink == 2
 * (link() may report failure over NFS although it worked). 0 with the
 * dotlock open for writing in *fd_r, or -1 with EEXIST when someone else
 * holds it, or another errno. */
static int
dotlock_try(const char *lockpath, int *fd_r)
{
	char uniq[PATH_MAX], name[256];
	const char *slash = strrchr(lockpath, '/');
	size_t dirlen = slash ? (size_t)(slash - lockpath + 1) : 0;
	if (durable_unique_name(name, sizeof name) != 0)
		return -1;
	if (path_printf(uniq, sizeof uniq, "%.*s.lk%s", (int)dirlen, lockpath, name) != 0)
		return -1;
	/* The holder's name is in place before the lock is: a dotlock of
	 * ours is never seen without it (mbox-stale.c). On a full disk it
	 * stays empty (judged by age, as other programs' dotlocks): a user
	 * must still be able to read and delete mail then. */
	char owner[MBOX_OWNER_MAX];
	int olen = mbox_owner_line(owner, sizeof owner);
	if (olen < 0)
		return -1;
	int fd = open(uniq, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (durable_write_all(fd, owner, (size_t)olen) != 0 && ftruncate(fd, 0) != 0) {
		int saved = errno;
		close(fd);
		unlink(uniq);
		errno = saved;
		return -1;
	}
	int r = link(uniq, lockpath);
	int saved = errno;
	struct stat st;
	if (stat(uniq, &st) == 0 && st.st_nlink == 2)
		r = 0;
	else if (r == 0) {
		r = -1;
		saved = EEXIST;
	}
	unlink(uniq);
	if (r == 0)
		*fd_r = fd;
	else
		close(fd);
	errno = saved;
	return r;
}

/* Takes the dotlock of the mbox open (and fcntl-locked) as fd; the
 * dotlock is left open for writing in *lock_fd_r. */
static int
lock_dotlock(const char *lockpath, int fd, double deadline, int *lock_fd_r)
{
	long wait = MBOX_RETRY_MIN_MS;
	for (;;) {
		if (dotlock_try(lockpath, lock_fd_r) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
		/* Left by a crash: broken, and taken again at once. */
		if (mbox_dotlock_stale(lockpath) && mbox_dotlock_break(lockpath, fd) == 0)
			continue;
		if (now_sec() >= deadline) {
			errno = EWOULDBLOCK;
			return -1;
		}
		sleep_ms(wait);
		wait = wait * 2 > MBOX_RETRY_MAX_MS ? MBOX_RETRY_MAX_MS : wait * 2;
	}
}

/* Opens path once as an mbox: no symlink, regular, one link (S34).
 * ESTALE: what was opened has no link left (a rewrite renamed a new file
 * over it, or it was removed, between the open and the check), or a
 * stale NFS handle: open the path again. */
static int
open_mbox_once(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0)
		return -1;
	struct stat st;
	int bad = fstat(fd, &st) != 0 ? errno
	    : !S_ISREG(st.st_mode) ? EINVAL : st.st_nlink == 0 ? ESTALE
	    : st.st_nlink != 1 ? EMLINK : 0;
	if (bad != 0) {
		int saved = bad;
		close(fd);
		errno = saved;
		return -1;
	}
	/* O_NONBLOCK only guarded the open against a planted FIFO. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* open_mbox_once, again while the file opened was replaced: at once the
 * first time (the path names the new file), then with a pause, at most
 * MBOX_REOPEN_TRIES times. */
static int
open_mbox(const char *path)
{
	for (int tries = 1;; tries++) {
		int fd = open_mbox_once(path);
		if (fd >= 0 || errno != ESTALE || tries >= MBOX_REOPEN_TRIES)
			return fd;
		if (tries > 1)
			sleep_ms(MBOX_RETRY_MIN_MS);
	}
}

/* 1 if fd is still the file at path. */
static int
mbox_still_at(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && lstat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int
mbox_lock(const char *path, struct mbox_lock *lock)
{
	lock->fd = -1;
	lock->dotlock[0] = '\0';
	lock->path[0] = '\0';
	lock->mark_errno = EBADF;
	char lockpath[sizeof lock->dotlock];
	if (path_printf(lockpath, sizeof lockpath, "%s.lock", path) != 0)
		return -1;
	if (strlen(path) >= sizeof lock->path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	double deadline = now_sec() + MBOX_LOCK_WAIT_SEC;
	int fd, lock_fd;
	for (;;) {
		fd = open_mbox(path);
		if (fd < 0)
			return -1;
		if (lock_fcntl(fd, deadline) != 0 ||
		    lock_dotlock(lockpath, fd, deadline, &lock_fd) != 0) {
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		/* A writer that replaced the mbox by rename while we waited left
		 * us holding the old inode: appending there would lose mail. */
		if (mbox_still_at(fd, path))
			break;
		unlink(lockpath);
		close(lock_fd);
		close(fd);
		if (now_sec() > deadline) {
			errno = EAGAIN;
			return -1;
		}
	}
	lock->fd = fd;
	memcpy(lock->dotlock, lockpath, strlen(lockpath) + 1);
	memcpy(lock->path, path, strlen(path) + 1);
	lock->mark_errno = mbox_mark_write(lock_fd, fd) == 0 ? 0 : errno;
	close(lock_fd);
	return 0;
}

int
mbox_unlock_dotlock(struct mbox_lock *lock)
{
	if (lock->dotlock[0] != '\0' && unlink(lock->dotlock) != 0 && errno != ENOENT)
		return -1;
	lock->dotlock[0] = '\0';
	return 0;
}

/* A dotlock left behind (its unlink failed: EIO, ENOSPC on some file
 * systems) must not keep the size to cut back to: what was appended under
 * it is acknowledged now, and the locker that breaks it would cut that
 * off. Cut to the holder line alone (shrinking needs no space), it is still
 * known as ours, so the next locker breaks it at once once we are gone. */
static void
dotlock_forget_way_back(const char *path)
{
	char owner[MBOX_OWNER_MAX];
	int olen = mbox_owner_line(owner, sizeof owner);
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > (olen > 0 ? olen : 0) &&
	    (olen <= 0 || ftruncate(fd, olen) != 0)) {
		int r = ftruncate(fd, 0);   /* no holder line: the age rule */
		(void)r;
	}
	close(fd);
}

void
mbox_unlock(struct mbox_lock *lock)
{
	if (lock->dotlock[0] != '\0' && unlink(lock->dotlock) != 0)
		dotlock_forget_way_back(lock->dotlock);
	lock->dotlock[0] = '\0';
	if (lock->fd >= 0)
		close(lock->fd);   /* releases the fcntl lock */
	lock->fd = -1;
}

/* ---- append ---- */

/* Buffered positional writer with the >From quoting state machine. */
struct writer {
	int fd;
	off_t off;
	char buf[65536];
	size_t len;
	int at_bol;        /* at the start of a line */
	uint64_t gts;      /* '>' bytes held back at the start of this line */
	size_t from_i;     /* bytes of "From " matched after them */
	char last;         /* last byte written */
};

static int
w_flush(struct writer *w)
{
	size_t done = 0;
	while (done < w->len) {
		ssize_t n = pwrite(w->fd, w->buf + done, w->len - done, w->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		done += (size_t)n;
		w->off += n;
	}
	w->len = 0;
	return 0;
}

static int
w_byte(struct writer *w, char c)
{
	if (w->len == sizeof w->buf && w_flush(w) != 0)
		return -1;
	w->buf[w->len++] = c;
	w->last = c;
	return 0;
}

static int
w_bytes(struct writer *w, const char *p, size_t n)
{
	while (n > 0) {
		if (w->len == sizeof w->buf && w_flush(w) != 0)
			return -1;
		size_t room = sizeof w->buf - w->len;
		size_t take = n < room ? n : room;
		memcpy(w->buf + w->len, p, take);
		w->len += take;
		w->last = p[take - 1];
		p += take;
		n -= take;
	}
	return 0;
}

static int
w_repeat(struct writer *w, char c, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (w_byte(w, c) != 0)
			return -1;
	return 0;
}

/* Emits what was held back at the start of a line, with one more '>' if
 * it turned out to be ^>*From . */
static int
w_release(struct writer *w, int quote)
{
	if (quote && w_byte(w, '>') != 0)
		return -1;
	if (w_repeat(w, '>', w->gts) != 0)
		return -1;
	for (size_t i = 0; i < w->from_i; i++)
		if (w_byte(w, "From "[i]) != 0)
			return -1;
	w->gts = 0;
	w->from_i = 0;
	w->at_bol = 0;
	return 0;
}

static int
w_quoted(struct writer *w, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (w->at_bol) {
			if (c == '>' && w->from_i == 0) {
				w->gts++;
				continue;
			}
			if (c == "From "[w->from_i]) {
				if (++w->from_i == 5 && w_release(w, 1) != 0)
					return -1;
				continue;
			}
			if (w_release(w, 0) != 0)
				return -1;
		}
		/* Inside a line: copy through to its end in one go. */
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) + 1 : n;
		if (w_bytes(w, p + i, end - i) != 0)
			return -1;
		w->at_bol = nl != NULL;
		i = end - 1;
	}
	return 0;
}

/* "From sender Thu Nov 27 17:37:10 2026\n"; sender bytes that would split
 * the line or its fields become '_'. */
static int
w_from_line(struct writer *w, const char *sender, time_t when)
{
	char date[64];
	struct tm tm;
	if (sender == NULL || sender[0] == '\0')
		sender = "MAILER-DAEMON";
	if (strlen(sender) > MBOX_FROM_LINE_MAX - 64) {
		errno = EINVAL;
		return -1;
	}
	if (localtime_r(&when, &tm) == NULL ||
	    strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm) == 0) {
		errno = EINVAL;
		return -1;
	}
	for (const char *s = "From "; *s; s++)
		if (w_byte(w, *s) != 0)
			return -1;
	for (const unsigned char *s = (const unsigned char *)sender; *s; s++)
		if (w_byte(w, *s <= 0x20 || *s == 0x7f ? '_' : (char)*s) != 0)
			return -1;
	if (w_byte(w, ' ') != 0)
		return -1;
	for (const char *s = date; *s; s++)
		if (w_byte(w, *s) != 0)
			return -1;
	return w_byte(w, '\n');
}

/* Newlines needed before a new From_ line so it follows a blank line. */
static int
separator_needed(int fd, off_t size, int *need_r)
{
	char tail[2];
	*need_r = 0;
	if (size == 0)
		return 0;
	size_t want = size >= 2 ? 2 : 1;
	if (pread(fd, tail, want, size - (off_t)want) != (ssize_t)want)
		return -1;
	if (want == 1)
		*need_r = tail[0] == '\n' ? 1 : 2;
	else if (tail[1] != '\n')
		*need_r = 2;
	else if (tail[0] != '\n')
		*need_r = 1;
	return 0;
}

static int
append_body(struct writer *w, const char *prefix, size_t prefix_len, int msg_fd, uint64_t msg_off,
    uint64_t msg_len)
{
	struct durable_reader r;
	const char *p;
	ssize_t n;
	if (w_quoted(w, prefix, prefix_len) != 0)
		return -1;
	durable_reader_init(&r, msg_fd, msg_off, msg_len);
	while ((n = durable_reader_next(&r, &p)) > 0)
		if (w_quoted(w, p, (size_t)n) != 0)
			return -1;
	if (n < 0)
		return -1;
	if (w->at_bol && (w->gts > 0 || w->from_i > 0) && w_release(w, 0) != 0)
		return -1;
	/* End the last line, then the separating blank line. */
	if (w->last != '\n' && w_byte(w, '\n') != 0)
		return -1;
	return w_byte(w, '\n');
}

int
mbox_append(struct mbox_lock *lock, const char *sender, time_t when,
    const char *prefix, size_t prefix_len, int msg_fd, uint64_t msg_len,
    off_t *old_size_r)
{
	return mbox_append_at(lock, sender, when, prefix, prefix_len, msg_fd, 0, msg_len,
	    old_size_r);
}

int
mbox_append_at(struct mbox_lock *lock, const char *sender, time_t when,
    const char *prefix, size_t prefix_len, int msg_fd, uint64_t msg_off, uint64_t msg_len,
    off_t *old_size_r)
{
	struct stat st;
	int need;
	if (lock->fd < 0) {
		errno = EBADF;
		return -1;
	}
	/* Without the way back recorded, a crash half way would leave half
	 * a message: no append (the disk that refused it is full anyway). */
	if (lock->mark_errno != 0) {
		errno = lock->mark_errno;
		return -1;
	}
	if (fstat(lock->fd, &st) != 0 || separator_needed(lock->fd, st.st_size, &need) != 0)
		return -1;
	struct writer *w = calloc(1, sizeof *w);
	if (w == NULL)
		return -1;
	sigset_t held;
	mbox_signals_hold(&held);
	w->fd = lock->fd;
	w->off = st.st_size;
	w->at_bol = 0;
	int r = w_repeat(w, '\n', (uint64_t)need);
	if (r == 0)
		r = w_from_line(w, sender, when);
	w->at_bol = 1;
	w->last = '\n';
	if (r == 0)
		r = append_body(w, prefix, prefix_len, msg_fd, msg_off, msg_len);
	if (r == 0)
		r = w_flush(w);
	if (r == 0)
		r = fsync(lock->fd);
	int saved = errno;
	free(w);
	if (r != 0) {
		/* Never leave half a message behind (S65). */
		if (ftruncate(lock->fd, st.st_size) == 0)
			fsync(lock->fd);
	}
	mbox_signals_release(&held);
	errno = saved;
	if (r != 0)
		return -1;
	*old_size_r = st.st_size;
	return 0;
}

int
mbox_truncate(struct mbox_lock *lock, off_t old_size)
{
	if (ftruncate(lock->fd, old_size) != 0)
		return -1;
	return fsync(lock->fd);
}

/* ---- scan ---- */

/* "From sender Thu Nov 27 17:37:10 2026": the date is the last 24 bytes. */
static time_t
from_line_time(const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len < 5 + 24)
		return 0;
	char date[32];
	memcpy(date, line + len - 24, 24);
	date[24] = '\0';
	struct tm tm = { 0 };
	const char *end = strptime(date, "%a %b %d %H:%M:%S %Y", &tm);
	if (end == NULL || *end != '\0')
		return 0;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	return t == (time_t)-1 ? 0 : t;
}

struct scanner {
	struct mbox_entry *v;
	size_t n, cap;
	char head[MBOX_FROM_LINE_MAX];   /* start of the current line */
	size_t head_len;
	off_t line_start;
	int prev_blank;                 /* the previous line was empty */
	off_t blank_at;                 /* offset of that empty line */
};

static int
scan_line_end(struct scanner *s, off_t next)
{
	int blank = s->head_len == 1 && s->head[0] == '\n';
	if ((s->line_start == 0 || s->prev_blank) && s->head_len >= 5 &&
	    memcmp(s->head, "From ", 5) == 0) {
		if (s->n > 0) {
			struct mbox_entry *p = &s->v[s->n - 1];
			p->length = s->blank_at - p->offset;
		}
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct mbox_entry *v = realloc(s->v, cap * sizeof *v);
			if (v == NULL)
				return -1;
			s->v = v;
			s->cap = cap;
		}
		struct mbox_entry *e = &s->v[s->n++];
		e->from_offset = s->line_start;
		e->offset = next;
		e->length = 0;
		e->when = from_line_time(s->head, s->head_len);
	}
	if (blank)
		s->blank_at = s->line_start;
	s->prev_blank = blank;
	s->line_start = next;
	s->head_len = 0;
	return 0;
}

/* Feeds a chunk read at offset off: keeps the head of each line, ends
 * lines at '\n' (memchr: most bytes are never looked at one by one). */
static int
scan_chunk(struct scanner *s, const char *buf, size_t n, off_t off)
{
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(buf + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - buf) + 1 : n;
		size_t take = end - i;
		if (take > sizeof s->head - s->head_len)
			take = sizeof s->head - s->head_len;
		memcpy(s->head + s->head_len, buf + i, take);
		s->head_len += take;
		if (nl != NULL && scan_line_end(s, off + (off_t)end) != 0)
			return -1;
		i = end;
	}
	return 0;
}

int
mbox_scan(int fd, struct mbox_entry **entries_r, size_t *n_r)
{
	struct scanner s = { 0 };
	struct durable_reader r;
	const char *chunk;
	ssize_t n;
	s.prev_blank = 1;  /* the start of the file counts as after a blank line */
	durable_reader_init(&r, fd, 0, DURABLE_TO_EOF);
	while ((n = durable_reader_next(&r, &chunk)) > 0)
		if (scan_chunk(&s, chunk, (size_t)n, (off_t)r.off - n) != 0)
			break;
	if (n != 0) {
		free(s.v);
		return -1;
	}
	off_t off = (off_t)r.off;
	/* An unterminated last line may still be a From_ line. */
	if (s.head_len > 0 && scan_line_end(&s, off) != 0) {
		free(s.v);
		return -1;
	}
	if (s.n > 0) {
		struct mbox_entry *p = &s.v[s.n - 1];
		/* Ends with its separating blank line, or (damaged) at EOF. */
		p->length = (s.prev_blank && s.blank_at >= p->offset ? s.blank_at : off) - p->offset;
	}
	*entries_r = s.v;
	*n_r = s.n;
	return 0;
}

int
mbox_read(int fd, const struct mbox_entry *e, char **buf_r, size_t *len_r)
{
	if (e->length < 0 || (uint64_t)e->length > SIZE_MAX - 1) {
		errno = EFBIG;
		return -1;
	}
	size_t len = (size_t)e->length;
	char *buf = malloc(len + 1);
	if (buf == NULL)
		return -1;
	for (size_t got = 0; got < len; ) {
		ssize_t n = pread(fd, buf + got, len - got, e->offset + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			if (n == 0)
				errno = EIO;
			return -1;
		}
		got += (size_t)n;
	}
	*len_r = mbox_unquote(buf, len);
	buf[*len_r] = '\0';
	*buf_r = buf;
	return 0;
}

size_t
mbox_unquote(char *buf, size_t len)
{
	size_t o = 0;
	int bol = 1;
	for (size_t i = 0; i < len; i++) {
		if (bol && buf[i] == '>') {
			size_t j = i;
			while (j < len && buf[j] == '>')
				j++;
			if (len - j >= 5 && memcmp(buf + j, "From ", 5) == 0)
				i++;  /* drop one '>' */
		}
		bol = buf[i] == '\n';
		buf[o++] = buf[i];
	}
	return o;
}
