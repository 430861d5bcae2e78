/*
 * store-mbox.h — what the mbox backend's files share (store-mbox*.c);
 * callers use store.h and folder.h.
 */
#ifndef YUBIN_STORE_MBOX_H
#define YUBIN_STORE_MBOX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "folder.h"

struct store;
struct store_copied;
struct store_new;

/* The mbox file of folder name (INBOX: root/INBOX; "a/b": root/a.b).
 * 0, or -1 (EINVAL: no folder file can have that name; ENAMETOOLONG). */
int store_mbox_file(const struct store *s, const char *name, char *out, size_t size);
/* store_append and store_copy for mbox (store-mbox-copy.c). */
int store_mbox_append(struct store *s, const char *name, struct folder *open,
    const struct store_new *v, size_t n, uint32_t *uids_r, uint32_t *validity_r);
int store_mbox_copy(struct store *s, struct folder *f, const size_t *idx, size_t n,
    const char *name, int move, struct store_copied *out);

/* ---- an open mbox folder (store-mbox.c, store-mbox-ops.c) ----
 * INBOX is mail_root/d/u/INBOX, locked with mbox_lock() (as delivery) only
 * while it is read or rewritten. UIDs in X-UID headers, "X-IMAPbase:
 * <uidvalidity> <uidnext>" in the first message, flags in Status (R, O),
 * X-Status (A, F, T, D) and X-Keywords, as UW-IMAP and Dovecot. Those
 * headers are hidden from FETCH. A rewrite goes to a temporary file in the
 * same directory, fsync'd and renamed over the mbox. */
/* Opens the mbox file path as folder name. 0 or -1. */
int mboxf_open(struct folder **f_r, const char *path, const char *name, int readonly);
/* Sets up the new folder f for the mbox file path and reads it (for
 * mboxf_open; f is closed by the caller on failure). 0 or -1. */
int mboxf_load(struct folder *f, const char *path);
/* folder_sync for mbox: rereads the file if it changed. 0 or -1. */
int mboxf_sync(struct folder *f);
/* Writes flag changes (mb_dirty) and drops messages marked gone from the
 * file. 0 or -1 (nothing written). */
int mboxf_flush(struct folder *f);
/* One message for mboxf_append_many. */
struct mboxf_new {
	const char *data;
	size_t len;
	time_t when;
	unsigned flags;
	uint32_t keywords;
};
/* Fills *m with message i of a batch (its data good until the next call);
 * 0 or -1 (errno). */
typedef int (*mboxf_source)(void *ctx, size_t i, struct mboxf_new *m);
/* Appends n messages (n >= 1), each taken once from get() and staged in
 * a file before the lock, then all under one lock, all or none: a
 * failure part way leaves the file as it was and records no UID (a NO
 * to COPY is true). uids_r[i] gets message i's UID. 0 or -1. */
int mboxf_append_many(struct folder *f, size_t n, mboxf_source get, void *ctx,
    uint32_t *uids_r);
/* The content of message idx (CRLF, our headers removed) into the cache. */
int mboxf_message(struct folder *f, size_t idx);
/* Only its header into the cache (cache_head set), as folder_header. 0;
 * 1: take the whole message instead (header too long, or the file
 * changed); -1. */
int mboxf_header(struct folder *f, size_t idx);
int mboxf_keyword(struct folder *f, const char *name, int create);
/* Message m leaves the session's view: a replaced file no other message
 * reads from is closed. */
void mboxf_release(struct folder *f, struct fmsg *m);
/* Closes the files f holds. */
void mboxf_close(struct folder *f);

/* The mbox parts of its ops table (store-mbox-ops.c). */
int mboxf_expunge(struct folder *f, folder_pick_fn pick, void *arg);
int mboxf_commit(struct folder *f);
int mboxf_watch(const struct folder *f, int fd);

#endif
