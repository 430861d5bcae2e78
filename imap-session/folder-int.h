/*
 * folder-int.h — what the parts of the Maildir folder state share among
 * themselves (folder.c, folder-uidlist.c, folder-content.c, folder-read.c);
 * the rest of imap-session uses folder.h only.
 */
#ifndef IMAP_FOLDER_INT_H
#define IMAP_FOLDER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "folder.h"

/* The folder's state files (folder.h), and the user's last UIDVALIDITY. */
#define UIDLIST_NAME "yubin-uidlist"
#define KEYWORDS_NAME "yubin-keywords"
#define LOCK_NAME "yubin-lock"
#define VALIDITY_NAME "yubin-uidvalidity"

/* Lookups of a moved message before it counts as expunged (S64). */
#define FOLDER_OPEN_TRIES 4

/* How folder_uids_assign treats the recent marker (folder.h): KEEP leaves
 * it; LOOK also returns it; CLAIM returns it and moves it to UIDNEXT,
 * under the lock: the UIDs from the returned value up are \Recent for
 * the caller alone. */
enum folder_recent_mode { FOLDER_RECENT_KEEP, FOLDER_RECENT_LOOK, FOLDER_RECENT_CLAIM };

/* UIDs for n scanned entries of dir (uids[i] for e[i]), under the folder
 * lock; writes the list when it changed. 0 or -1 (errno). */
int folder_uids_assign(const char *dir, struct maildir_entry *e, size_t n, uint32_t *uids,
    uint32_t *validity_r, uint32_t *next_r, enum folder_recent_mode mode,
    uint32_t *recent_from_r);
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
/* Rereads the keyword letters of f's directory into f->kw. */
void folder_keywords_read(struct folder *f);
/* Opens message m's file (following a rename by another session, S64):
 * an fd, or -1 (errno ENOENT: it is gone). */
int folder_open_message(struct folder *f, struct fmsg *m);
/* Opens message m's file and holds it (m->fd), letting the oldest held
 * file go past FOLDER_HELD_MAX. 0, or -1 (errno ENOENT: it is gone). */
int folder_hold(struct folder *f, struct fmsg *m);
/* Closes m's held file, if any. */
void folder_release(struct folder *f, struct fmsg *m);
/* Forgets the views rendered from the cached message (folder-cache.c). */
void folder_views_drop(struct folder *f);
/* Forgets the cached message (and its parse). */
void folder_cache_drop(struct folder *f);
/* The length of raw[0..n) after LF → CRLF (folder-read.c). */
size_t crlf_size(const unsigned char *raw, size_t n);

#endif
