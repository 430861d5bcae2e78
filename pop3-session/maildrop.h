/*
 * maildrop.h — one user's POP3 maildrop over Maildir or mbox: a snapshot
 * taken at login (new mail joins at the next login, RFC 1939 §8 numbering
 * stays fixed), exclusive for the session, changed only by maildrop_commit
 * (the UPDATE state). Nothing here talks to the client.
 *
 * Exclusivity: an fcntl write lock on <user dir>/.pop3.lock
 * (MAILDROP_LOCK_NAME), taken without waiting, so a second session learns
 * at once that the drop is in use
 * (RFC 2449 [IN-USE]). For mbox the INBOX lock (fcntl + dotlock) is also held
 * for the whole session, as delivery uses the same locks.
 *
 * Sizes (Maildir): from W= in the name; for names without it (mail put there
 * by other programs) counted once and kept in .pop3.sizes (sizecache.h).
 *
 * UIDLs (RFC 1939 §7: 1-70 bytes of 0x21-0x7E, stable across sessions):
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
#ifndef YUBIN_MAILDROP_H
#define YUBIN_MAILDROP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "maildir.h"
#include "mbox.h"
#include "msgconv.h"

#define MAILDROP_UIDL_MAX 70

struct maildrop_msg {
	uint64_t size;          /* in POP3 form: CRLF line ends, unquoted */
	char uidl[MAILDROP_UIDL_MAX + 1];
	int deleted;            /* DELE'd; removed at commit */
	int retrieved;          /* RETR'd: Maildir marks it seen at commit */
	size_t entry;           /* index into md[] or mb[] */
};

struct maildrop {
	enum mailbox_format format;
	char dir[PATH_MAX];     /* mail_root/domain/local */
	char mbox_path[PATH_MAX];
	int lock_fd;            /* .pop3.lock, -1 when not held */
	struct mbox_lock mbox;
	int mbox_locked;
	off_t mbox_scanned;     /* bytes of the mbox covered by the scan */
	struct maildir_entry *md;
	size_t n_md;
	struct mbox_entry *mb;
	size_t n_mb;
	struct maildrop_msg *msg;
	size_t n;
};

enum maildrop_status {
	MAILDROP_OK = 0,
	MAILDROP_IN_USE,        /* another session holds it */
	MAILDROP_FAIL,          /* errno says why */
};

/* Locks and scans user's INBOX (creating an empty one if missing).
 * Returns a maildrop_status; on MAILDROP_OK the caller must
 * maildrop_close. */
int maildrop_open(struct maildrop *m, const struct conf *conf, const char *user);

/* Opens message i (0-based) for reading, before any reply is sent, so a
 * vanished message gets a clean -ERR. Returns an fd the caller closes and
 * the stored byte range (*len_r UINT64_MAX: to the end of the file), or -1
 * (errno; ENOENT: removed by someone else since login). */
int maildrop_message_fd(struct maildrop *m, size_t i, off_t *off_r, uint64_t *len_r);

/* Feeds a stored range through conv (set up by the caller: wire or count,
 * TOP or whole), stopping early once conv is done, and finishes it.
 * Returns 0, -1 (read error, errno) or the sink's nonzero result. */
int maildrop_stream(int fd, off_t off, uint64_t len, struct msgconv *conv);

/* The UPDATE state: removes deleted messages durably (Maildir: unlink and
 * fsync new/ and cur/; mbox: the kept messages are written to a copy
 * renamed over the INBOX, mbox_rewrite_begin) and,
 * for Maildir, moves retrieved messages to cur/ with the S flag (retrieved
 * = seen; TOP does not count, and nothing moves outside QUIT).
 * *removed_r gets the number removed. Returns 0, or -1 if some deletion
 * failed (errno). */
int maildrop_commit(struct maildrop *m, size_t *removed_r);

/* Keeps a long session's mbox dotlock fresh, so that programs which only
 * dotlock do not break it as stale (MBOX_DOTLOCK_STALE_SEC). */
void maildrop_touch(struct maildrop *m);
/* Unlocks and frees; removes nothing. Safe on a closed drop. */
void maildrop_close(struct maildrop *m);

#endif
