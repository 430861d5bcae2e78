/*
 * mbox.h — mboxrd files: locking, delivery and reading.
 *
 * Locks are taken in the order fcntl then dotlock (NFS-safe: unique file,
 * link(), st_nlink == 2), each with bounded retries; a dotlock older than
 * MBOX_DOTLOCK_STALE_SEC is removed (S66). Each message starts with
 * "From <sender> <asctime>\n"; body lines matching ^>*From get one more '>';
 * each message ends with an empty line.
 */
#ifndef YUBIN_MBOX_H
#define YUBIN_MBOX_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct mbox_lock {
	int fd;                /* the mbox, open O_RDWR */
	char dotlock[4096];    /* path of the held dotlock, "" if none */
	char path[4096];       /* the mbox */
	int mark_errno;        /* 0, or why the way back is not recorded */
};

/* Opens (creating with mode 0600 if missing, O_NOFOLLOW, must be a regular
 * file with one link) and locks path. Returns 0, or -1 with errno
 * (EWOULDBLOCK/EAGAIN: lock not obtained in time). The dotlock names its
 * holder ("<pid> <host>"): one left by a process of this host that is gone
 * is broken at once, any other after MBOX_DOTLOCK_STALE_SEC. It also
 * records the way back: the mbox's device, inode and size when the lock
 * was taken. Whoever breaks it truncates that inode back to that size, so
 * what a killed holder was appending (never acknowledged: that happens
 * after mbox_unlock) is never seen, and removes the rewrite copies the
 * holder left. */
int mbox_lock(const char *path, struct mbox_lock *lock);
void mbox_unlock(struct mbox_lock *lock);
/* Removes the dotlock only, the fcntl lock still held (mbox_unlock ends
 * it). A dotlock left behind tells the next taker that what lies past
 * the size it records was never acknowledged, and is cut off: a holder
 * acknowledges appends only once this succeeded, and otherwise takes
 * them back itself. 0, or -1 (errno; the dotlock stays). */
int mbox_unlock_dotlock(struct mbox_lock *lock);

/* Appends one message under a held lock: From_ line (sender "" → MAILER-DAEMON),
 * prefix headers, then msg_len bytes of msg_fd with >From quoting, trailing
 * blank line; fsync. SIGTERM, SIGHUP, SIGINT and SIGALRM are held until it
 * is done. On any error the file is truncated back to its old size; if the
 * process is killed half way, the next lock taker truncates it back (see
 * mbox_lock). Refused with the error that kept the lock from recording the
 * way back (lock->mark_errno: a full disk).
 * *old_size_r receives the size before the append (for a later rollback).
 * Returns 0 or -1 (errno). */
int mbox_append(struct mbox_lock *lock, const char *sender, time_t when,
    const char *prefix, size_t prefix_len, int msg_fd, uint64_t msg_len,
    off_t *old_size_r);
/* As mbox_append, the message being msg_len bytes of msg_fd from msg_off
 * (several messages staged in one file, appended under one lock). */
int mbox_append_at(struct mbox_lock *lock, const char *sender, time_t when,
    const char *prefix, size_t prefix_len, int msg_fd, uint64_t msg_off, uint64_t msg_len,
    off_t *old_size_r);
/* Truncates back to old_size and fsyncs (rollback of a multi-mailbox
 * delivery). 0 or -1. */
int mbox_truncate(struct mbox_lock *lock, off_t old_size);

/* Replacing the locked mbox by a new version (removals, rewritten
 * headers): the caller writes the whole new mbox to rw->fd between begin
 * and commit. At every instant the mbox is the old or the new version,
 * whole: the copy ".<name>.yubin-rw.XXXXXX" beside it (O_EXCL, the mbox's
 * mode, and owner where the process may set it) is fsync'd, renamed over
 * the mbox, the directory fsync'd. SIGTERM, SIGHUP, SIGINT and SIGALRM
 * are held from begin to commit or abort. lock->fd stays the old inode
 * (still fcntl-locked: a waiter on it sees the rename and reopens); the
 * dotlock guards the new one until mbox_unlock. */
struct mbox_rewrite {
	int fd;                /* the new version, open O_RDWR */
	char tmp[4096 + 64];
	sigset_t held;         /* signal mask to restore */
};

/* Creates the copy (removing copies a killed holder left). 0 or -1. */
int mbox_rewrite_begin(struct mbox_lock *lock, struct mbox_rewrite *rw);
/* fsync, rename over the mbox, fsync the directory. 0, with the new
 * file's descriptor in *fd_r (the caller closes it; fd_r NULL: closed), or
 * -1 (errno; the copy is gone, and unless the rename was made, the mbox
 * is the old one). */
int mbox_rewrite_commit(struct mbox_lock *lock, struct mbox_rewrite *rw, int *fd_r);
/* Drops the copy; the mbox stays as it was. Safe after a failed commit. */
void mbox_rewrite_abort(struct mbox_rewrite *rw);

/* One message in an mbox file, as a reader finds it. */
struct mbox_entry {
	off_t from_offset;     /* start of the From_ line */
	off_t offset;          /* first byte after the From_ line */
	off_t length;          /* bytes up to (not incl.) the separating blank line */
	time_t when;           /* from the From_ line */
};

/* Scans an open mbox. Returns 0 or -1. Entries are malloc'd. */
int mbox_scan(int fd, struct mbox_entry **entries_r, size_t *n_r);

/* Additions for readers (POP3, IMAP). */

/* Reads message e of an open mbox into a malloc'd buffer (caller frees),
 * with the mboxrd quoting undone; NUL-terminated, *len_r excludes the NUL.
 * A message stored without a final newline comes back with one.
 * Returns 0 or -1 (errno). */
int mbox_read(int fd, const struct mbox_entry *e, char **buf_r, size_t *len_r);

/* Undoes mboxrd quoting in place (one '>' off each ^>+From  line).
 * buf must start at a line start. Returns the new length. */
size_t mbox_unquote(char *buf, size_t len);

#endif
