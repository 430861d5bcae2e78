/*
 * store-pop3.h — a POP3 maildrop over the store (store.h): the user's
 * INBOX as a snapshot taken at login (new mail joins at the next login,
 * RFC 1939 §8 numbering stays fixed), exclusive for the session, changed
 * only by store_pop3_commit (the UPDATE state). The backend is the
 * store's (struct store's pop3 table, set by store_init): the caller
 * never asks which format it has. Nothing here talks to the client.
 *
 * The snapshot writes no UID list (unless the Maildir was taken over
 * from Dovecot or Courier, below), takes no \Recent message and moves
 * nothing into cur/ before QUIT: a POP3 login leaves an IMAP client's
 * view as it was.
 *
 * Exclusivity: an fcntl write lock on <root>/.pop3.lock
 * (MAILDROP_LOCK_NAME), taken without waiting, so a second session learns
 * at once that the drop is in use (RFC 2449 [IN-USE]). For mbox the INBOX
 * lock (fcntl + dotlock) is also held for the whole session, as delivery
 * uses the same locks.
 *
 * Sizes are octets as sent (CRLF, mbox >From quoting undone: msgconv.h).
 * Maildir: from W= in the name; for names without it (mail put there by
 * other programs) counted once and kept in .pop3.sizes (sizecache.h).
 * mbox: counted at login, in the same pass as the UIDL.
 *
 * UIDLs (RFC 1939 §7: 1-70 bytes of 0x21-0x7E, stable across sessions;
 * a changed one makes the client download the mailbox again):
 * Maildir: the unique base of the file name (before ',' or ':'), unchanged
 * by flag renames and new/ → cur/ moves; a base that is too long or holds
 * other bytes is replaced by a SHA-256 hex digest of itself. A Maildir
 * taken over from Dovecot (yubin-pop3-uidl, lib/folder-uids.h) answers
 * Dovecot's default UIDLs instead, "%08x%08x" of yubin's UID and
 * UIDVALIDITY (the ones Dovecot had, for the messages it knew), taking
 * the UIDs under the folder lock as imap-session does; one taken over
 * from Courier answers the UIDLs Courier's pop3d gave (lib/pop3uidl.h)
 * and "UID<uid>-<uidvalidity>" for later messages. The first POP3
 * session on such a Maildir takes the other server's lists over.
 * mbox: a SHA-256 digest (32 hex digits) of the From_ line and the message
 * without the headers mail readers rewrite (Status, X-Status, X-Keywords,
 * X-UID, X-IMAP, X-IMAPbase, Content-Length, Lines), so rewrites by this or
 * other programs keep it. X-UIDL headers are ignored: anyone can send one.
 * Two messages with the same id get "-2", "-3"... after the second.
 */
#ifndef YUBIN_STORE_POP3_H
#define YUBIN_STORE_POP3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "msgconv.h"

#define STORE_POP3_UIDL_MAX 70

struct store;

struct store_pop3_msg {
	uint64_t size;          /* in POP3 form: CRLF line ends, unquoted */
	char uidl[STORE_POP3_UIDL_MAX + 1];
	int deleted;            /* DELE'd; removed at commit */
	int retrieved;          /* RETR'd: Maildir marks it seen at commit */
	size_t entry;           /* the backend's index of the message */
};

struct store_pop3_ops;

struct store_pop3 {
	struct store *s;
	const struct store_pop3_ops *ops;
	int lock_fd;            /* .pop3.lock, -1 when not held */
	/* The stored bytes carry mboxrd ">From " quoting: the msgconv the
	 * caller sets up for store_pop3_stream undoes it (msgconv_init). */
	int from_quoted;
	struct store_pop3_msg *msg;
	size_t n;
	void *be;               /* the backend's state */
	/* What went wrong without failing, for the caller to log (lib does
	 * not): the size cache could not be written (its errno, 0: it was),
	 * and how many retrieved messages commit could not mark seen. */
	int sizes_errno;
	size_t seen_failed;
};

/* Takes the snapshot of s's INBOX (creating an empty one if missing;
 * store_setup first): locks, scans, numbers. 0, the caller then
 * store_pop3_close()s; -1 with errno EAGAIN (another session or a
 * delivery holds the drop) or another errno. */
int store_pop3_open(struct store *s, struct store_pop3 *p);
/* Opens message i (0-based) for reading, before any reply is sent, so a
 * vanished message gets a clean -ERR. Returns an fd the caller closes and
 * the stored byte range (*len_r UINT64_MAX: to the end of the file), or -1
 * (errno; ENOENT: removed by someone else since login). */
int store_pop3_fd(struct store_pop3 *p, size_t i, off_t *off_r, uint64_t *len_r);
/* Feeds a stored range through conv (set up by the caller: wire or count,
 * TOP or whole), stopping early once conv is done, and finishes it.
 * Returns 0, -1 (read error, errno) or the sink's nonzero result. */
int store_pop3_stream(int fd, off_t off, uint64_t len, struct msgconv *conv);
/* The UPDATE state: removes deleted messages durably (Maildir: unlink and
 * fsync new/ and cur/; mbox: the kept messages are written to a copy
 * renamed over the INBOX, mbox_rewrite_begin) and, for Maildir, moves
 * retrieved messages to cur/ with the S flag (retrieved = seen; TOP does
 * not count, and nothing moves outside QUIT). *removed_r gets the number
 * removed. Returns 0, or -1 if some deletion failed (errno). */
int store_pop3_commit(struct store_pop3 *p, size_t *removed_r);
/* Keeps a long session's locks fresh (the mbox dotlock, so programs that
 * only dotlock do not break it as stale, MBOX_DOTLOCK_STALE_SEC). */
void store_pop3_touch(struct store_pop3 *p);
/* Unlocks and frees; removes nothing. Safe on a closed snapshot. */
void store_pop3_close(struct store_pop3 *p);

/* ---- the backends (store-maildir-pop3.c, store-mbox-pop3.c) ---- */
struct store_pop3_ops {
	int from_quoted;
	/* Before the session lock is taken (Maildir: a first POP3 session
	 * takes Dovecot's or Courier's lists over, folder_pop3_takeover).
	 * NULL: nothing to do. 0 or -1. */
	int (*prepare)(struct store *s);
	/* Sets p->be, p->msg and p->n (UIDLs not yet made unique). 0 or -1;
	 * on -1 close() frees what was set. */
	int (*load)(struct store_pop3 *p);
	int (*fd)(struct store_pop3 *p, size_t i, off_t *off_r, uint64_t *len_r);
	int (*commit)(struct store_pop3 *p, size_t *removed_r);
	void (*touch)(struct store_pop3 *p);    /* NULL: nothing to keep fresh */
	void (*close)(struct store_pop3 *p);    /* frees p->be */
};

extern const struct store_pop3_ops store_maildir_pop3, store_mbox_pop3;

/* For the backends (store-pop3.c). */
typedef int (*store_pop3_chunk_fn)(void *ctx, const char *p, size_t n);
/* Calls fn on len bytes of fd from off, in chunks, stopping at EOF.
 * Returns 0, -1 (errno) or fn's nonzero result. stop, if set, is checked
 * between chunks (TOP needs only the head of a long message). */
int store_pop3_read(int fd, off_t off, uint64_t len, store_pop3_chunk_fn fn, void *ctx,
    const int *stop);
/* Lower-case hex of d[0..n) into out (2n + 1 bytes). */
void store_pop3_hex(const unsigned char *d, size_t n, char *out);
/* msgconv_feed as a store_pop3_chunk_fn. */
int store_pop3_feed_conv(void *ctx, const char *p, size_t n);

#endif
