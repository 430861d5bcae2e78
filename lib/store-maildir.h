/*
 * store-maildir.h — what the Maildir backend's files share
 * (store-maildir*.c); callers use store.h and folder.h.
 */
#ifndef YUBIN_STORE_MAILDIR_H
#define YUBIN_STORE_MAILDIR_H

#include <stddef.h>
#include <stdint.h>

struct folder;
struct store;
struct store_copied;
struct store_new;

/* The directory of folder name. 0, or -1 (EINVAL: not a folder name;
 * ENAMETOOLONG). */
int store_maildir_dir(const struct store *s, const char *name, char *out, size_t size);
/* 1 if dir is a Maildir++ folder directory (no symlink). */
int store_maildir_is_folder(const char *dir);
/* store_append and store_copy for Maildir (store-maildir-copy.c). */
int store_maildir_append(struct store *s, const char *name, struct folder *open,
    const struct store_new *v, size_t n, uint32_t *uids_r, uint32_t *validity_r);
int store_maildir_copy(struct store *s, struct folder *f, const size_t *idx, size_t n,
    const char *name, int move, struct store_copied *out);

#endif
