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
 * size bytes): its length, or 0 if the message is not to be recorded. */
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
