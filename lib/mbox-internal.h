/*
 * mbox-internal.h — what lib/mbox.c, mbox-stale.c and mbox-rewrite.c
 * share: what a yubin dotlock says about its holder, how a lock left by a
 * dead holder is recognised and cleaned up after, and the set of signals
 * held while an mbox changes. Not for use outside lib/mbox*.c.
 */
#ifndef YUBIN_MBOX_INTERNAL_H
#define YUBIN_MBOX_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* A dotlock's contents as yubin writes them: "<pid> <host>\n", the
 * holder, written before the lock is linked into place. Other programs'
 * dotlocks (empty, or anything else) are judged by their age alone. */
#define MBOX_OWNER_MAX 320
/* The way back line: three decimal numbers. */
#define MBOX_MARK_MAX 80

/* The holder line for this process into out. Returns its length, or -1. */
int mbox_owner_line(char *out, size_t size);

/* The way back, after the holder line: "<dev> <ino> <size>\n" of the
 * mbox open (and locked) as mbox_fd, written through lock_fd, the dotlock
 * just taken. 0, or -1 (errno; ENOSPC when not even the holder line fit). */
int mbox_mark_write(int lock_fd, int mbox_fd);

/* 1 if the dotlock at lockpath is left by a crash and may be broken: its
 * holder (by the holder line) is a process of this host that no longer
 * exists, or it is older than MBOX_DOTLOCK_STALE_SEC. 0 otherwise (also
 * when it is gone). */
int mbox_dotlock_stale(const char *lockpath);

/* Breaks a stale dotlock of the mbox open (and fcntl-locked) as fd:
 * undoes what its dead holder left behind (an append half done: the mbox
 * truncated back to the size the way back records, if it is this inode;
 * rewrite copies, see mbox_rewrite_begin), then removes the dotlock. 0, or
 * -1 (errno) if the mbox could not be truncated back (the dotlock stays:
 * better locked than half a message shown) or the dotlock removed. */
int mbox_dotlock_break(const char *lockpath, int fd);

/* Removes every unfinished rewrite copy of the mbox at path (only a lock
 * holder makes them, so under the lock each is a dead one's). */
void mbox_rewrite_clean(const char *path);

/* Holds SIGTERM, SIGHUP, SIGINT and SIGALRM (old mask into *old): a
 * polite stop or a deadline then acts only once the mbox is whole again. */
void mbox_signals_hold(sigset_t *old);
void mbox_signals_release(const sigset_t *old);

#endif
