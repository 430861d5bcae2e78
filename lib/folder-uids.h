/*
 * folder-uids.h — the UID list of a Maildir folder and the files beside
 * it, shared by imap-session (which numbers messages for IMAP) and
 * pop3-session (whose UIDLs follow those UIDs in a mailbox taken over
 * from Dovecot). The formats of the files are described in
 * folder.h; the one pop3-session alone reads is below.
 *
 * Per folder directory (the Maildir root for INBOX), besides those:
 *   yubin-pop3-uidl  "<scheme>\n", written once, when the folder's UID
 *                    list is taken over from another server
 *                    (folder-import.c), before yubin-uidlist. <scheme>
 *                    "dovecot": pop3-session answers UIDL as Dovecot's
 *                    default pop3_uidl_format %08Xu%08Xv does (the UID
 *                    and the UIDVALIDITY of yubin-uidlist, 8 lower-case
 *                    hex digits each), for every message, old or new, so
 *                    POP3 clients that leave mail on the server download
 *                    nothing again and the scheme never changes within a
 *                    mailbox. "courier": the UIDLs Courier's pop3d gave,
 *                    a record a message after that line (lib/pop3uidl.h),
 *                    and "UID<uid>-<uidvalidity>" (Courier's scheme, in
 *                    decimal) for messages it did not know.
 *                    No file: UIDLs are the file names' unique
 *                    parts, as always (pop3-session/maildrop.h).
 *                    Not written if yubin's POP3 served the folder before
 *                    (MAILDROP_LOCK_NAME there): its clients know the
 *                    file-name UIDLs, and must not download again either.
 */
#ifndef YUBIN_FOLDER_UIDS_H
#define YUBIN_FOLDER_UIDS_H

#include <stddef.h>
#include <stdint.h>

#include "maildir.h"

/* The folder's state files (folder.h), and the user's last
 * UIDVALIDITY. */
#define UIDLIST_NAME "yubin-uidlist"
#define KEYWORDS_NAME "yubin-keywords"
#define LOCK_NAME "yubin-lock"
#define VALIDITY_NAME "yubin-uidvalidity"
#define POP3_UIDL_NAME "yubin-pop3-uidl"
/* The lock file of a POP3 session in the user's Maildir (pop3-session). */
#define MAILDROP_LOCK_NAME ".pop3.lock"

/* How folder_uids_assign treats the recent marker (folder.h):
 * KEEP leaves it; LOOK also returns it; CLAIM returns it and moves it to
 * UIDNEXT, under the lock: the UIDs from the returned value up are
 * \Recent for the caller alone. */
enum folder_recent_mode { FOLDER_RECENT_KEEP, FOLDER_RECENT_LOOK, FOLDER_RECENT_CLAIM };

/* UIDs for n scanned entries of dir (uids[i] for e[i]), under the folder
 * lock; writes the list when it changed. 0 or -1 (errno). */
int folder_uids_assign(const char *dir, struct maildir_entry *e, size_t n, uint32_t *uids,
    uint32_t *validity_r, uint32_t *next_r, enum folder_recent_mode mode,
    uint32_t *recent_from_r);
/* Assigns UIDs to n scanned entries of dir (uids_r[i] for e[i]); returns
 * UIDVALIDITY and UIDNEXT. For folders that are not selected (STATUS,
 * APPENDUID, COPYUID). 0 or -1. */
int folder_assign_uids(const char *dir, struct maildir_entry *e, size_t n, uint32_t *uids_r,
    uint32_t *validity_r, uint32_t *next_r);
/* folder_assign_uids, and the recent marker: the messages with a UID
 * from *recent_from_r up, and those in new/, are \Recent for the next
 * session that selects dir (STATUS RECENT counts them). Takes none. */
int folder_assign_uids_recent(const char *dir, struct maildir_entry *e, size_t n,
    uint32_t *uids, uint32_t *validity_r, uint32_t *next_r, uint32_t *recent_from_r);

/* The folder lock (yubin-lock, flock()ed exclusively): an fd to close,
 * or -1 (errno). */
int folder_lock(const char *dir);

/* ---- the user's last UIDVALIDITY (folder-validity.c) ---- */
/* The user's mail root of folder dir: dir itself (INBOX) or its parent
 * (a Maildir++ folder). 0, or -1 with errno ENAMETOOLONG (root is ""). */
int folder_root(const char *dir, char *root, size_t size);
/* A fresh UIDVALIDITY for folder dir, greater than every one handed out
 * or taken over in the user's root before: max(now, last + 1), recorded
 * (best effort, as before: a folder still opens on a full disk). */
uint32_t folder_uidvalidity_new(const char *dir);
/* Raises the user's last UIDVALIDITY to at least v, so that a fresh one
 * is always greater. 0 or -1 (errno). */
int folder_uidvalidity_raise(const char *dir, uint32_t v);
/* On the first look at dir, under the folder lock: takes over the UID
 * list and keyword letters Dovecot or Courier left there (lib/uidimport.h)
 * by writing yubin-keywords and yubin-uidlist from them (folder-import.c).
 * 0 (written), 1 (nothing to take: start afresh), -1 (errno: a list is
 * there but cannot be read, or writing failed). */
int folder_import(const char *dir);

/* ---- POP3 UIDLs (folder-import.c, folder-uidlist.c) ---- */
enum folder_uidl {
	FOLDER_UIDL_NAME,     /* the file name's unique part */
	FOLDER_UIDL_DOVECOT,  /* %08x UID, %08x UIDVALIDITY */
	FOLDER_UIDL_COURIER,  /* Courier's recorded (pop3uidl.h), else UID<uid>-<uidvalidity> */
};
/* The UIDL scheme of folder dir (yubin-pop3-uidl): 0 with *scheme_r, or
 * -1 (errno; EINVAL: the file is not of its format, and guessing another
 * scheme would have clients download everything again). */
int folder_uidl_scheme(const char *dir, enum folder_uidl *scheme_r);
/* Before POP3's first session on dir (no MAILDROP_LOCK_NAME yet): if
 * yubin never looked at dir and Dovecot or Courier left a UID list there,
 * takes it over now (as IMAP's first look would), so POP3, often the
 * first and only client after a switch, answers their UIDLs. 0 or -1
 * (errno). */
int folder_pop3_takeover(const char *dir);

#endif
