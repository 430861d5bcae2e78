/*
 * folder-uids.h — the UID list of a Maildir folder and the files beside
 * it, shared by imap-session and pop3-session. The formats of the files
 * are described in imap-session/folder.h.
 */
#ifndef YUBIN_FOLDER_UIDS_H
#define YUBIN_FOLDER_UIDS_H

#include <stddef.h>
#include <stdint.h>

#include "maildir.h"

/* The folder's state files (imap-session/folder.h), and the user's last
 * UIDVALIDITY. */
#define UIDLIST_NAME "yubin-uidlist"
#define KEYWORDS_NAME "yubin-keywords"
#define LOCK_NAME "yubin-lock"
#define VALIDITY_NAME "yubin-uidvalidity"

/* How folder_uids_assign treats the recent marker (imap-session/folder.h):
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
/* Writes a small file atomically: tmp, fsync, rename, fsync dir. */
int folder_write_atomic(const char *dir, const char *name, const char *data, size_t len);

/* ---- the user's last UIDVALIDITY (folder-validity.c) ---- */
/* The user's mail root of folder dir: dir itself (INBOX) or its parent
 * (a Maildir++ folder). */
void folder_root(const char *dir, char *root, size_t size);
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

#endif
