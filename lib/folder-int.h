/*
 * folder-int.h — what the parts of the folder state share among
 * themselves (store-maildir.c, folder-keywords.c, folder-content.c,
 * folder-read.c, folder-cache.c);
 * callers use folder.h and store.h only.
 */
#ifndef YUBIN_FOLDER_INT_H
#define YUBIN_FOLDER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "folder.h"
#include "folder-uids.h"

/* The backend of an open folder, set once when it is opened (the Maildir
 * one in store-maildir.c, the mbox one in store-mbox-ops.c): the folder.h
 * calls of the same names go through it, and nothing else asks which
 * format a folder has. */
struct folder_ops {
	int (*sync)(struct folder *f);
	int (*set_flags)(struct folder *f, size_t idx, unsigned flags, uint32_t keywords);
	int (*commit)(struct folder *f);
	/* marks gone, on disk, the messages to expunge (folder_expunge) */
	int (*expunge)(struct folder *f, folder_pick_fn pick, void *arg);
	int (*watch)(const struct folder *f, int fd);
	int (*keyword)(struct folder *f, const char *name, int create);
	/* message idx, whole, into f->cache_data (folder_message) */
	int (*message)(struct folder *f, size_t idx);
	/* its header alone (folder_header): 0; 1: read it whole; -1 */
	int (*header)(struct folder *f, size_t idx);
	/* folder_stat: what of INTERNALDATE, RFC822.SIZE is known */
	int (*stat)(struct folder *f, size_t idx, unsigned what);
	void (*release)(struct folder *f, struct fmsg *m);
	/* frees what the backend holds (the folder itself is freed after) */
	void (*close)(struct folder *f);
	/* the cache (folder-cache.c): a message's identity there (its
	 * length, 0: not to be recorded) */
	size_t (*cache_key)(const struct folder *f, size_t idx, char *key, size_t size);
	/* the path of the folder's state file "yubin-<what>" (cache, modseq,
	 * lock): Maildir dir/yubin-<what>, mbox dir/.<file>.yubin-<what>.
	 * 0, or -1 (ENAMETOOLONG) */
	int (*state_path)(const struct folder *f, const char *what, char *out, size_t size);
};

extern const struct folder_ops folder_maildir_ops, folder_mbox_ops;

/* The Maildir backend's calls that live beside the generic code. */
int mdf_message(struct folder *f, size_t idx);
int mdf_header(struct folder *f, size_t idx);
int mdf_stat(struct folder *f, size_t idx, unsigned what);
int mdf_expunge(struct folder *f, folder_pick_fn pick, void *arg);
int mdf_keyword(struct folder *f, const char *name, int create);
int mdf_commit(struct folder *f);
int mdf_watch(const struct folder *f, int fd);
size_t mdf_cache_key(const struct folder *f, size_t idx, char *key, size_t size);
int mdf_state_path(const struct folder *f, const char *what, char *out, size_t size);
/* 1 if message m is to go in an expunge (folder_expunge's rule). */
int folder_picked(const struct fmsg *m, folder_pick_fn pick, void *arg);

/* Lookups of a moved message before it counts as expunged (S64). */
#define FOLDER_OPEN_TRIES 4

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
/* View v of message idx as kept for its last parse or, unless
 * kept, recorded in the cache file; malloc'd, or NULL (not there, or
 * ENOMEM). The cache never parses: folder_view (folder-content.c) does. */
char *folder_cache_view(struct folder *f, size_t idx, enum folder_view v, int kept, size_t *len_r);
/* The identity of message idx in its cache records, in *key (at most
 * size bytes): its length, or 0 if the message is not to be recorded.
 * It and folder_cache_keep are folder-id.c's, used by both cache
 * files (folder-cache.c, folder-keys.c). */
size_t folder_cache_key(struct folder *f, size_t idx, char *key, size_t size);
/* keep() of mcache_compact: the UID is a message of the folder. */
int folder_cache_keep(void *ctx, uint32_t uid);
/* The SORT and THREAD keys' own cache file (folder-keys.c): the keys of
 * message idx as kept for its last parse or recorded (malloc'd, or NULL);
 * recorded from the parse mm unless the file has them (and kept); the
 * file's pending records written; closed (compacted first). */
char *folder_keys_get(struct folder *f, size_t idx, size_t *len_r);
void folder_keys_fill(struct folder *f, size_t idx, const struct mime_message *mm);
void folder_keys_flush(struct folder *f);
void folder_keys_close(struct folder *f);
/* View v rendered from the parse mm by f->render; malloc'd, or NULL
 * (none set, or ENOMEM). */
char *folder_cache_render(struct folder *f, const struct mime_message *mm, enum folder_view v,
    size_t *len_r);
/* The length of raw[0..n) after LF → CRLF (folder-read.c). */
size_t crlf_size(const unsigned char *raw, size_t n);

#endif
