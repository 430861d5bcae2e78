/*
 * store-mbox.c — the folder state (folder.h) of an mbox file: INBOX with
 * mailbox_format = mbox.
 *
 * The file is locked with mbox_lock() (fcntl, then dotlock: the same locks
 * as delivery) only while it is read or rewritten, never for the session,
 * so deliveries go on. Each read takes the whole file: UIDs from X-UID
 * headers checked against X-IMAPbase in the first message (UIDVALIDITY
 * UIDNEXT), or from the UID index beside the file (store-mbox-uid.c); a message
 * with neither (a new delivery) gets the next UID, recorded in the index
 * at once so every session sees the same UIDs: reading never writes the
 * mbox, nor needs free space. Flag changes are kept in the index too
 * (every session's look checks it), until an expunge rewrites the file
 * under the lock as it is then (other sessions' changes to other
 * messages are kept): a temporary file in the same directory, fsync'd,
 * renamed over the mbox, the directory fsync'd, with every UID and flag
 * in the file and the index emptied. An APPEND comes with its X-UID (its
 * UID recorded in the index first), so the append is its last step and
 * nothing is left to number after it.
 *
 * The session keeps a descriptor of the file as it last read it: message
 * content comes from there, so a rewrite by another session (a new inode)
 * or an append (past the end) never changes what this session's offsets
 * mean. Closing a descriptor drops the process's fcntl locks on that
 * inode, so an old descriptor is closed only after mbox_unlock(). An old
 * file that messages expunged elsewhere and not yet reported still read
 * from is kept (keep_replaced), at most MBOXF_KEPT_MAX of them, until
 * the last of those messages leaves the session's view (RFC 2180
 * §4.1.1, as the Maildir side holds message files).
 *
 * A message's own headers are store-mbox-msg.c's; which UIDs to believe is
 * store-mbox-uid.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "durable.h"
#include "folder.h"
#include "store-mbox.h"
#include "mbox.h"
#include "store-mbox-msg.h"
#include "store-mbox-uid.h"
#include "mime.h"
#include "path.h"

/* An mbox changes by growing (delivery), shrinking (another mail
 * program's removal in place) or being replaced (a rewrite by us or by
 * pop3-session: new inode), so the same
 * inode, size and mtime mean the same file at once, with no quiet period
 * as for Maildir directories. Only an edit in place that keeps the size
 * within one mtime tick would go unseen until the next change. */
/* Our X-UID, Status, X-Status and X-Keywords lines for one appended
 * message. */
#define MBOXF_META_MAX 65536
/* How update_locked treats the session's changes: LOOK leaves them
 * (SELECT's first read); APPLY writes them; BEFORE_APPEND as APPLY, but
 * messages new to the file (Status without O) alone are no reason to
 * write: the read under the same lock after the append marks them old
 * (\Recent here, then for no one else), so an APPEND is not held back
 * by others' APPENDs coming in between its reads. */
enum update_mode { UPDATE_LOOK, UPDATE_APPLY, UPDATE_BEFORE_APPEND };

/* ---- reading and rewriting the file ---- */


/* Maps the whole file read-only (under the lock nobody changes it).
 * *len_r 0: *data_r is "" and nothing is mapped. */
static int
map_all(int fd, const char **data_r, size_t *len_r)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	if ((uint64_t)st.st_size > MBOXF_FILE_MAX) {
		errno = EFBIG;
		return -1;
	}
	*len_r = (size_t)st.st_size;
	if (*len_r == 0) {
		*data_r = "";
		return 0;
	}
	void *p = mmap(NULL, *len_r, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	*data_r = p;
	return 0;
}


/* The session's own changes for the message with this UID. */
static struct fmsg *
session_msg(struct folder *f, uint32_t uid)
{
	size_t i = folder_index_of(f, uid);
	return i == SIZE_MAX ? NULL : &f->m[i];
}

/* Writes the messages not dropped to a new file renamed over the mbox
 * (mbox_rewrite_begin: old or new file whole at every instant); offsets
 * in s are updated to the new file; *fd_r is it, open. */
static int
rewrite(struct folder *f, struct mbox_lock *lk, const char *data, struct scanned *s, size_t n,
    int *fd_r)
{
	struct mbox_rewrite rw;
	if (mbox_rewrite_begin(lk, &rw) != 0)
		return -1;
	int fd = rw.fd;
	/* written in pieces of about REWRITE_CHUNK: memory stays small */
	struct buf b = BUF_INIT(MBOXF_BUF_MAX);
	uint64_t base = 0;
	int first = 1;
	for (size_t i = 0; i < n; i++) {
		if (s[i].drop)
			continue;
		const char *m = data + s[i].off;
		size_t hl, bo;
		mboxmsg_split(m, s[i].len, &hl, &bo);
		uint64_t from_off = base + b.len;
		if (buf_add(&b, data + s[i].from_off, s[i].off - s[i].from_off) != 0 ||
		    (b.s[b.len - 1] != '\n' && buf_add(&b, "\n", 1) != 0))
			goto fail; /* a From_ line cut by EOF ends here */
		size_t off = b.len;
		if (mboxmsg_headers_copy(&b, m, hl) != 0 ||
		    mboxmsg_meta_write(f, &b, first, s[i].uid, s[i].flags, s[i].keywords, s[i].old) != 0 ||
		    (bo > hl && buf_add(&b, "\n", 1) != 0) ||
		    buf_add(&b, m + bo, s[i].len - bo) != 0)
			goto fail;
		if (b.len > off && b.s[b.len - 1] != '\n' && buf_add(&b, "\n", 1) != 0)
			goto fail;
		s[i].from_off = from_off;
		s[i].off = base + off;
		s[i].len = b.len - off;
		if (buf_add(&b, "\n", 1) != 0)
			goto fail;
		first = 0;
		if (b.len >= REWRITE_CHUNK) {
			if (durable_write_all(fd, b.s, b.len) != 0)
				goto fail;
			base += b.len;
			b.len = 0;
		}
	}
	if (b.len > 0 && durable_write_all(fd, b.s, b.len) != 0)
		goto fail;
	buf_free(&b);
	/* fsync'd and the directory too: the flags reach the disk before the
	 * tagged OK (mboxf_flush) */
	return mbox_rewrite_commit(lk, &rw, fd_r);
fail:;
	int e = errno;
	buf_free(&b);
	mbox_rewrite_abort(&rw);
	errno = e;
	return -1;
}

/* Merges the file's messages (sorted by UID) into the session's list. */
static int
merge(struct folder *f, const struct scanned *s, size_t n, int grow)
{
	size_t i = 0, old_n = f->n;
	uint32_t max_uid = old_n ? f->m[old_n - 1].uid : 0;
	for (size_t j = 0; j < n; j++) {
		if (s[j].drop || s[j].hide)
			continue;
		while (i < old_n && f->m[i].uid < s[j].uid)
			f->m[i++].gone = 1;
		if (i < old_n && f->m[i].uid == s[j].uid && !f->m[i].gone) {
			struct fmsg *m = &f->m[i++];
			if ((m->flags & ~FL_RECENT) != s[j].flags || m->keywords != s[j].keywords)
				m->changed = 1;
			m->flags = (m->flags & FL_RECENT) | s[j].flags;
			m->keywords = s[j].keywords;
			m->mb_off = s[j].off;
			m->mb_len = s[j].len;
			m->mb_key = s[j].indexed ? s[j].key : 0;
			m->mb_file = 0;
			m->mb_old = (unsigned)s[j].old;
			continue;
		}
		if (s[j].uid <= max_uid)
			continue;
		if (!grow) {
			/* f->m must not move now; the next sync reads again */
			f->mb_skipped = 1;
			continue;
		}
		if (f->n == f->cap) {
			size_t cap = f->cap ? f->cap * 2 : 64;
			struct fmsg *p = realloc(f->m, cap * sizeof *p);
			if (p == NULL)
				return -1;
			f->m = p;
			f->cap = cap;
		}
		struct fmsg *m = &f->m[f->n++];
		memset(m, 0, sizeof *m);
		m->uid = s[j].uid;
		m->flags = s[j].flags;
		m->keywords = s[j].keywords;
		m->mb_off = s[j].off;
		m->mb_len = s[j].len;
		m->mb_key = s[j].indexed ? s[j].key : 0;
		m->mb_old = (unsigned)s[j].old;
		m->mtime_known = 1;
		m->e.mtime = s[j].when;
		m->e.size = s[j].len;
		/* RFC822.SIZE: what FETCH sends (CRLF, our headers hidden) */
		m->e.vsize = s[j].vsize ? s[j].vsize : 1;
		/* read-only (EXAMINE, STATUS): shown, not taken (no O written) */
		if (!s[j].mt.old) {
			m->flags |= FL_RECENT;
			f->recent++;
		}
		f->new_messages = 1;
	}
	while (i < old_n)
		f->m[i++].gone = 1;
	return 0;
}


/* Reads the n messages of e in data into s: our headers, the content
 * check. -1 (EIO) if one lies past the end of the file. */
static int
scan_all(struct folder *f, const char *data, size_t len, const struct mbox_entry *e,
    struct scanned *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((uint64_t)e[i].offset + (uint64_t)e[i].length > len) {
			errno = EIO;
			return -1;
		}
		s[i].from_off = (uint64_t)e[i].from_offset;
		s[i].off = (uint64_t)e[i].offset;
		s[i].len = (uint64_t)e[i].length;
		s[i].when = e[i].when;
		size_t hl, bo;
		mboxmsg_split(data + s[i].off, s[i].len, &hl, &bo);
		mboxmsg_meta_parse(data + s[i].off, hl, &s[i].mt);
		s[i].key = mboxmsg_key(data + s[i].from_off, s[i].off - s[i].from_off,
		    data + s[i].off, s[i].len);
		s[i].flags = s[i].mt.flags;
		s[i].file_old = s[i].mt.old;
		s[i].keywords = mboxmsg_keywords(f, s[i].mt.keywords, s[i].mt.keywords_len);
	}
	return 0;
}

/* The index could not record the UIDs just given: those messages are
 * left out of this look (the next one tries again), so no UID is shown
 * that a later look could give to another message. */
static void
hide_new(struct folder *f, struct scanned *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].given && !s[i].hide) {
			if (f->uidnext > s[i].uid)
				f->uidnext = s[i].uid;
			s[i].hide = 1;
		}
	f->mb_skipped = 1;
}

/* The session's changes (mode) onto s: 1 if the file needs writing
 * (expunges); flag changes go to the index (*flags_r set). */
static int
apply_changes(struct folder *f, struct scanned *s, size_t n, enum update_mode mode,
    uint32_t old_validity, int *flags_r)
{
	int apply = mode != UPDATE_LOOK, write = 0;
	*flags_r = 0;
	for (size_t i = 0; i < n; i++) {
		struct fmsg *m = apply && f->uidvalidity == old_validity ? session_msg(f, s[i].uid) : NULL;
		if (m != NULL && m->gone && (m->flags & FL_DELETED)) {
			s[i].drop = 1;
			write = 1;
		} else if (m != NULL && m->mb_dirty) {
			s[i].flags = m->flags & ~FL_RECENT;
			s[i].keywords = m->keywords;
			s[i].idx_flags = 1;
			*flags_r = 1;
		}
		/* \Recent for this session only, as the first to see it: the
		 * claim goes to the index (merge takes the decision from mt.old) */
		if (!f->readonly)
			s[i].old = 1;
	}
	return write;
}

/* Under the lock: reads the file, decides UIDs, applies the session's
 * changes (mode), and merges the result into f. New UIDs and \Recent
 * claims go to the index beside the file; the file itself is written
 * only for the session's changes (flags, expunges), or before an APPEND
 * while the index replaces the file's own numbering (an APPEND's X-UIDs
 * must be believable). */
static int
update_locked(struct folder *f, struct mbox_lock *lk, enum update_mode mode, int *new_fd)
{
	const char *data = NULL;
	size_t len = 0, n = 0;
	struct mbox_entry *e = NULL;
	struct scanned *s = NULL;
	int rc = -1, fd = -1;
	if (map_all(lk->fd, &data, &len) != 0 || mbox_scan(lk->fd, &e, &n) != 0)
		goto out;
	s = calloc(n ? n : 1, sizeof *s);
	if (s == NULL || scan_all(f, data, len, e, s, n) != 0)
		goto out;
	uint32_t old_validity = f->uidvalidity;
	struct mboxuid_hw hw;
	int given = mboxuid_decide(f, s, n, &hw);
	if (given < 0)
		goto out;
	/* A new message's Status, X-Status and X-Keywords came with it (a
	 * sender could mark it \Deleted): none (its \Recent claim is the
	 * index's, mboxuid_decide). An APPEND's are the client's,
	 * but it comes with its X-UID (mboxf_append_many), never fresh. */
	for (size_t i = 0; i < n; i++)
		if (s[i].fresh && !s[i].idx_flags) {
			s[i].flags = 0;
			s[i].keywords = 0;
		}
	for (size_t i = 0; i < n; i++)
		s[i].old = s[i].mt.old;
	int flags;
	int write = apply_changes(f, s, n, mode, old_validity, &flags);
	if (mode == UPDATE_BEFORE_APPEND && hw.over != 0)
		write = 1;
	/* the index first: a rewrite that fails after it leaves UIDs the
	 * index still finds by their content check */
	if (mboxuid_index_write(f, s, n, &hw, given != 0 || flags, 1) != 0 &&
	    (given != 0 || flags)) {
		/* an APPEND would take the UID of a message left out */
		if (given == MBOXUID_RENUMBERED || write || flags || mode == UPDATE_BEFORE_APPEND)
			goto out;
		hide_new(f, s, n);
	}
	uint32_t known = f->n ? f->m[f->n - 1].uid : 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char *v;
		size_t vl;
		if (s[i].uid > known && !s[i].drop && !s[i].hide &&
		    mboxmsg_view(data + s[i].off, s[i].len, &v, &vl) == 0) {
			s[i].vsize = vl;
			free(v);
		}
	}
	if (write) {
		if (rewrite(f, lk, data, s, n, &fd) != 0)
			goto out;
		/* every UID and claim is in the file now */
		hw.last = 0;
		hw.over = 0;
		for (size_t i = 0; i < n; i++) {
			if (!s[i].drop && s[i].uid > hw.last)
				hw.last = s[i].uid;
			s[i].indexed = 0;
			s[i].idx_flags = 0;
			s[i].file_old = s[i].old;
		}
		(void)mboxuid_index_write(f, s, n, &hw, 0, 0);
	} else {
		fd = dup(lk->fd);
		if (fd < 0)
			goto out;
	}
	if (mode != UPDATE_LOOK) {
		for (size_t i = 0; i < f->n; i++)
			f->m[i].mb_dirty = 0;
		f->mb_dirty = 0;
	}
	if (merge(f, s, n, f->mb_grow) != 0)
		goto out;
	struct stat st;
	if (fstat(fd, &st) == 0) {
		f->mb_ino = (uint64_t)st.st_ino;
		f->mb_size = (uint64_t)st.st_size;
		f->mb_mtime = st.st_mtim;
	}
	/* the index as of this read (only lock holders write it) */
	if (mboxuid_index_stat(f, &st) != 0)
		memset(&st, 0, sizeof st);
	f->mb_idx_ino = (uint64_t)st.st_ino;
	f->mb_idx_size = (uint64_t)st.st_size;
	f->mb_idx_mtime = st.st_mtim;
	*new_fd = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		*new_fd = fd; /* closed by the caller after unlocking */
	free(s);
	free(e);
	if (data != NULL && len > 0)
		munmap((void *)data, len);
	return rc;
}

/* 1 if descriptors a and b are of the same file. */
static int
same_file(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino;
}

/* The descriptor message m is read from, or -1 (none: unreadable). */
static int
msg_fd(const struct folder *f, const struct fmsg *m)
{
	if (m->mb_file == 0)
		return f->mb_fd;
	if (m->mb_file <= MBOXF_KEPT_MAX)
		return f->mb_kept[m->mb_file - 1];
	return -1;
}

/* f->mb_fd gives way to fd. The messages that still read from it are
 * those expunged elsewhere and not yet reported (merge re-pointed every
 * other one to fd): they keep it, in a free mb_kept slot, so FETCH goes
 * on giving their real bytes (RFC 2180 §4.1.1). A replaced file keeps
 * its bytes while open; a file changed in place (fd the same inode) has
 * lost them, and with no slot free nothing is held: such messages
 * become unreadable, never made up. */
static void
keep_replaced(struct folder *f, int fd)
{
	int same = fd >= 0 && same_file(f->mb_fd, fd);
	int slot = -1;
	for (int k = 0; k < MBOXF_KEPT_MAX && slot < 0; k++)
		if (f->mb_kept[k] < 0)
			slot = k;
	size_t refs = 0;
	for (size_t i = 0; i < f->n; i++) {
		struct fmsg *m = &f->m[i];
		if (!m->gone || m->mb_file != 0)
			continue;
		if (same || slot < 0) {
			m->mb_file = MBOXF_FILE_NONE;
		} else {
			m->mb_file = (unsigned)slot + 1;
			refs++;
		}
	}
	if (refs == 0) {
		close(f->mb_fd);
		return;
	}
	f->mb_kept[slot] = f->mb_fd;
	f->mb_kept_refs[slot] = refs;
}

void
mboxf_release(struct folder *f, struct fmsg *m)
{
	unsigned k = m->mb_file;
	if (k == 0 || k > MBOXF_KEPT_MAX)
		return;
	m->mb_file = MBOXF_FILE_NONE;
	/* a replaced inode, no longer at the path: closing it drops no
	 * lock of ours (fd_adopt) */
	if (f->mb_kept[k - 1] >= 0 && --f->mb_kept_refs[k - 1] == 0) {
		close(f->mb_kept[k - 1]);
		f->mb_kept[k - 1] = -1;
	}
}

void
mboxf_close(struct folder *f)
{
	if (f->mb_fd >= 0)
		close(f->mb_fd);
	f->mb_fd = -1;
	for (int k = 0; k < MBOXF_KEPT_MAX; k++) {
		if (f->mb_kept[k] >= 0)
			close(f->mb_kept[k]);
		f->mb_kept[k] = -1;
		f->mb_kept_refs[k] = 0;
	}
}

/* After a successful update and mbox_unlock(): fd, the file as it was
 * read, becomes the session's. The previous descriptor is kept or closed
 * only now (closing it drops fcntl locks on the same inode). */
static void
fd_adopt(struct folder *f, int fd)
{
	if (f->mb_fd >= 0)
		keep_replaced(f, fd);
	f->mb_fd = fd;
	f->cache_uid = 0;
	f->scanned = !f->mb_skipped;
	f->mb_skipped = 0;
}

/* -1 (ENOENT) with f->vanished set if f is a folder other than INBOX
 * and its file is no longer at its path: another session renamed it (or
 * a parent) or deleted it. The lock's open would make an empty file
 * there and every message would look expunged; imap-session.c ends the
 * session instead, as for a Maildir folder. INBOX is delivery's: made
 * when missing, as delivery makes it. */
static int
check_vanished(struct folder *f)
{
	struct stat st;
	if (strcmp(f->name, "INBOX") == 0 || lstat(f->mb_path, &st) == 0 ||
	    (errno != ENOENT && errno != ENOTDIR))
		return 0;
	f->vanished = 1;
	errno = ENOENT;
	return -1;
}

/* Locks, updates, unlocks. */
static int
update(struct folder *f, enum update_mode mode)
{
	struct mbox_lock lk;
	if (check_vanished(f) != 0 || mbox_lock(f->mb_path, &lk) != 0)
		return -1;
	int fd = -1;
	int rc = update_locked(f, &lk, mode, &fd);
	int e = errno;
	mbox_unlock(&lk);
	if (rc == 0)
		fd_adopt(f, fd);
	else if (fd >= 0)
		close(fd);
	errno = e;
	return rc;
}

/* Locks f's file for an append once a read under the lock found nothing
 * to write back (new deliveries to number, this session's flag changes):
 * then f's UIDNEXT is the UID of what comes next, and nothing needs
 * numbering after the append. A read that wrote a new file (renamed over
 * the one locked) is followed by another under a new lock, as long as
 * the wait for a lock may last (MBOX_LOCK_WAIT_SEC): deliveries coming
 * in between are no reason to refuse. *fd_r: the file as read, for
 * fd_adopt() once the lock is gone. 0 with the lock held, or -1 (errno)
 * with nothing held. */
static int
append_lock(struct folder *f, struct mbox_lock *lk, int *fd_r)
{
	/* Deliveries may keep coming between the reads: the wait is bounded
	 * as the wait for the lock is, not by a count of reads. */
	time_t deadline = time(NULL) + MBOX_LOCK_WAIT_SEC;
	while (time(NULL) < deadline) {
		if (check_vanished(f) != 0 || mbox_lock(f->mb_path, lk) != 0)
			return -1;
		int fd = -1;
		int rc = update_locked(f, lk, UPDATE_BEFORE_APPEND, &fd);
		int e = errno;
		if (rc == 0 && same_file(fd, lk->fd)) {
			*fd_r = fd;
			return 0;
		}
		mbox_unlock(lk);
		if (rc != 0) {
			if (fd >= 0)
				close(fd);
			errno = e;
			return -1;
		}
		fd_adopt(f, fd);
	}
	errno = EAGAIN; /* deliveries kept coming between the reads */
	return -1;
}

/* 1 if another process holds the mbox lock (fcntl or dotlock) now: e.g.
 * pop3-session, which keeps it for its whole session. */
static int
lock_busy(const char *path)
{
	char dot[PATH_MAX];
	struct stat st;
	if (path_printf(dot, sizeof dot, "%s.lock", path) == 0 && lstat(dot, &st) == 0)
		return 1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int busy = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd); /* no lock of ours on this inode now: nothing dropped */
	return busy;
}

/* 1 if the index is as the last read left it: another session's flag
 * change (kept there until the next rewrite) changes it. */
static int
index_unchanged(const struct folder *f)
{
	struct stat st;
	if (mboxuid_index_stat(f, &st) != 0)
		memset(&st, 0, sizeof st);
	return (uint64_t)st.st_ino == f->mb_idx_ino && (uint64_t)st.st_size == f->mb_idx_size &&
	    st.st_mtim.tv_sec == f->mb_idx_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == f->mb_idx_mtime.tv_nsec;
}

int
mboxf_sync(struct folder *f)
{
	struct stat st;
	if (f->scanned && !f->mb_dirty && stat(f->mb_path, &st) == 0 &&
	    (uint64_t)st.st_ino == f->mb_ino && (uint64_t)st.st_size == f->mb_size &&
	    st.st_mtim.tv_sec == f->mb_mtime.tv_sec && st.st_mtim.tv_nsec == f->mb_mtime.tv_nsec &&
	    index_unchanged(f))
		return 0;
	if (check_vanished(f) != 0)
		return -1;
	/* A look (NOOP, IDLE, after each command) does not wait for a lock
	 * held elsewhere: the next look tries again. Writes do wait. */
	if (!f->mb_dirty && lock_busy(f->mb_path)) {
		f->scanned = 0;
		return 0;
	}
	return update(f, UPDATE_APPLY);
}

int
mboxf_flush(struct folder *f)
{
	int any = f->mb_dirty;
	for (size_t i = 0; !any && i < f->n; i++)
		any = f->m[i].gone;
	return any ? update(f, UPDATE_APPLY) : 0;
}

int
mboxf_load(struct folder *f, const char *path)
{
	f->mb_fd = -1;
	for (int k = 0; k < MBOXF_KEPT_MAX; k++)
		f->mb_kept[k] = -1;
	f->mb_grow = 1;
	if (path_printf(f->mb_path, sizeof f->mb_path, "%s", path) != 0 ||
	    path_printf(f->dir, sizeof f->dir, "%s", path) != 0)
		return -1; /* ENAMETOOLONG; mboxf_open closes f */
	char *slash = strrchr(f->dir, '/');
	if (slash != NULL)
		*slash = '\0';
	return update(f, UPDATE_LOOK);
}

/* Takes raw (got of its m->mb_len bytes) as message idx into the cache; 1
 * if the bytes are not that message (the file was rewritten in place by
 * another mail program, or replaced since the scan). */
static int
message_take(struct folder *f, size_t idx, const char *raw, size_t got)
{
	struct fmsg *m = &f->m[idx];
	size_t hl, bo;
	struct meta mt;
	mboxmsg_split(raw, got, &hl, &bo);
	mboxmsg_meta_parse(raw, hl, &mt);
	if (got != m->mb_len || (m->mb_key ? mboxmsg_key_head(raw, hl) != (uint32_t)(m->mb_key >> 32) :
	    !mt.has_uid || mt.uid != m->uid))
		return 1;
	if (mboxmsg_view(raw, got, &f->cache_data, &f->cache_len) != 0)
		return -1;
	f->cache_uid = m->uid;
	m->e.vsize = f->cache_len;
	return 0;
}

/* Reads message idx; 1 if the bytes there are not that message. */
static int
message_read(struct folder *f, size_t idx)
{
	struct fmsg *m = &f->m[idx];
	int fd = msg_fd(f, m);
	if (fd < 0 || m->mb_len > MBOXF_FILE_MAX) {
		errno = fd < 0 ? ENOENT : EFBIG;
		return -1;
	}
	char *raw = malloc(m->mb_len + 1);
	if (raw == NULL)
		return -1;
	size_t got = 0;
	while (got < m->mb_len) {
		ssize_t r = pread(fd, raw + got, m->mb_len - got, (off_t)(m->mb_off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	int rc = message_take(f, idx, raw, got);
	free(raw);
	return rc;
}

/* The header part of mboxmsg_view(): our headers out, then the empty
 * line. The whole view starts with these bytes, and its first empty line
 * is this one, unless no header line is left (then the view starts with
 * the empty line, and RFC822.HEADER runs on into the body). */
int
mboxf_header(struct folder *f, size_t idx)
{
	struct fmsg *m = &f->m[idx];
	int fd = msg_fd(f, m);
	if (fd < 0)
		return 1;
	unsigned char *raw;
	size_t got, cut;
	int r = folder_read_head(fd, m->mb_off, m->mb_len, 1, &raw, &got, &cut);
	if (r != 0)
		return 1; /* the whole message's read says what is wrong */
	const char *h = (const char *)raw;
	if (cut == 0) {
		r = message_take(f, idx, h, got);
		free(raw);
		return r;
	}
	size_t hl, bo;
	struct meta mt;
	struct buf b = BUF_INIT(MBOXF_BUF_MAX);
	mboxmsg_split(h, cut, &hl, &bo);
	mboxmsg_meta_parse(h, hl, &mt);
	r = 1;
	if (m->mb_key ? mboxmsg_key_head(h, hl) == (uint32_t)(m->mb_key >> 32) :
	    mt.has_uid && mt.uid == m->uid) {
		r = mboxmsg_headers_copy(&b, h, hl) != 0 || buf_add(&b, "\n", 1) != 0 ? -1 : 0;
		if (r == 0 && b.len == 1)
			r = 1;
		if (r == 0)
			r = folder_crlf((const unsigned char *)b.s, b.len, &f->cache_data, &f->cache_len);
	}
	buf_free(&b);
	free(raw);
	if (r != 0)
		return r;
	f->cache_uid = m->uid;
	f->cache_head = 1;
	return 0;
}

int
mboxf_message(struct folder *f, size_t idx)
{
	uint32_t uid = f->m[idx].uid;
	int r = message_read(f, idx);
	if (r != 1)
		return r;
	/* read the file again: offsets change, indexes do not */
	/* callers hold pointers into f->m: no new messages now */
	f->mb_grow = 0;
	int ur = update(f, UPDATE_APPLY);
	f->mb_grow = 1;
	if (ur != 0)
		return -1;
	/* expunged by then, it reads from the file it was in (fd_adopt) */
	if (f->m[idx].uid != uid || (r = message_read(f, idx)) == 1) {
		errno = ENOENT;
		return -1;
	}
	return r;
}

/* Stages a message at tfd's end as mbox_append_at takes it: LF lines, a
 * client's X-UID or Status out (they must not pass for ours). */
static int
stage_message(int tfd, const struct mboxf_new *m, uint64_t *len_r)
{
	struct buf lf = BUF_INIT(MBOXF_BUF_MAX), b = BUF_INIT(MBOXF_BUF_MAX);
	int rc = -1;
	for (size_t i = 0; i < m->len; i++)
		if (!(m->data[i] == '\r' && i + 1 < m->len && m->data[i + 1] == '\n') &&
		    buf_add(&lf, m->data + i, 1) != 0)
			goto out;
	size_t hl, bo;
	mboxmsg_split(lf.s ? lf.s : "", lf.len, &hl, &bo);
	if (mboxmsg_headers_copy(&b, lf.s ? lf.s : "", hl) != 0 ||
	    (bo > hl && buf_add(&b, "\n", 1) != 0) || buf_add(&b, lf.s + bo, lf.len - bo) != 0)
		goto out;
	if (durable_write_all(tfd, b.s ? b.s : "", b.len) != 0)
		goto out;
	*len_r = b.len;
	rc = 0;
out:
	buf_free(&lf);
	buf_free(&b);
	return rc;
}

/* Under the lock: the n staged messages appended with their UIDs, all
 * or none. Their UIDs are recorded first and the appends are the last
 * step, so a failure anywhere truncates the file back to where it was
 * (mbox_truncate, still under the lock) and gives the UIDs back: a NO
 * is true, and after the last append nothing is left to fail. No O
 * (old): \Recent for the next session that looks, as a delivery. */
/* 1 if fd is still the file at path (no rewrite replaced it). */
static int
still_at(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino;
}

struct append_undo {
	off_t start;               /* the file's size before, -1: nothing appended */
	struct mboxuid_undo uids;
};

/* Takes back appends made under lk: the file cut back, the UIDs given back. */
static void
append_undo(struct folder *f, struct mbox_lock *lk, const struct append_undo *u)
{
	int e = errno;
	if (u->start >= 0)
		(void)mbox_truncate(lk, u->start);
	mboxuid_release(f, &u->uids);
	errno = e;
}

static int
append_staged(struct folder *f, struct mbox_lock *lk, const struct mboxf_new *v, size_t n,
    int tfd, const uint64_t *off, uint32_t *uids_r, struct append_undo *u)
{
	uint32_t uid;
	u->start = -1;
	if (mboxuid_reserve(f, n, &uid, &u->uids) != 0)
		return -1;
	struct buf pb = BUF_INIT(MBOXF_META_MAX);
	off_t old;
	size_t i;
	for (i = 0; i < n; i++) {
		buf_free(&pb);
		if (mboxmsg_meta_write(f, &pb, 0, uid + (uint32_t)i, v[i].flags, v[i].keywords, 0) != 0 ||
		    mbox_append_at(lk, "MAILER-DAEMON", v[i].when, pb.s, pb.len, tfd, off[i],
		    off[i + 1] - off[i], &old) != 0)
			break;
		if (u->start < 0)
			u->start = old;
		uids_r[i] = uid + (uint32_t)i;
	}
	buf_free(&pb);
	if (i == n)
		return 0;
	append_undo(f, lk, u);
	return -1;
}

int
mboxf_append_many(struct folder *f, size_t n, mboxf_source get, void *ctx, uint32_t *uids_r)
{
	/* mboxrd quoting is mbox_append_at's; it reads from a descriptor */
	char tmpl[PATH_MAX];
	int named = path_join(tmpl, sizeof tmpl, f->dir, ".yubin-append.XXXXXX", NULL) == 0;
	uint64_t *off = calloc(n + 1, sizeof *off);
	struct mboxf_new *v = calloc(n ? n : 1, sizeof *v);
	int tfd = named && off && v ? mkstemp(tmpl) : -1;
	if (tfd < 0) {
		free(off);
		free(v);
		return -1;
	}
	unlink(tmpl);
	int rc = -1;
	/* all staged before the lock: get() may read and lock the folder */
	for (size_t i = 0; i < n; i++) {
		uint64_t len;
		if (get(ctx, i, &v[i]) != 0 || stage_message(tfd, &v[i], &len) != 0)
			goto out;
		v[i].data = NULL; /* get()'s, good until its next call */
		off[i + 1] = off[i] + len;
	}
	struct mbox_lock lk;
	int fd = -1;
	if (append_lock(f, &lk, &fd) != 0)
		goto out;
	struct append_undo undo;
	rc = append_staged(f, &lk, v, n, tfd, off, uids_r, &undo);
	int e = errno, spare = -1;
	if (rc == 0) {
		/* Read again under the same lock, so the session knows its
		 * messages now (EXISTS before the tagged OK; a UID STORE of the
		 * APPENDUID finds it) rather than at a look that a lock held
		 * elsewhere may put off. They are stored already: if this
		 * fails, the next sync does it. */
		int fd2 = -1;
		if (update_locked(f, &lk, UPDATE_APPLY, &fd2) == 0) {
			spare = fd;
			fd = fd2;
		} else {
			spare = fd2;
		}
	}
	/* A dotlock left behind would have the next taker cut the appends
	 * off (mbox_unlock_dotlock): unless a rewrite (update_locked) put
	 * them in a new file, which it does not name, they are taken back. */
	if (rc == 0 && mbox_unlock_dotlock(&lk) != 0) {
		e = errno;
		if (still_at(lk.fd, f->mb_path)) {
			append_undo(f, &lk, &undo);
			rc = -1;
		}
	}
	mbox_unlock(&lk);
	fd_adopt(f, fd);
	if (spare >= 0)
		close(spare); /* only now: it may share the locked inode */
	errno = e;
out:
	close(tfd);
	free(off);
	free(v);
	return rc;
}
