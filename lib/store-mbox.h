/*
 * store-mbox.h — what the mbox backend's files share (store-mbox*.c);
 * callers use store.h and folder.h.
 */
#ifndef YUBIN_STORE_MBOX_H
#define YUBIN_STORE_MBOX_H

#include <stddef.h>

struct store;

/* The mbox file of folder name (INBOX: root/INBOX; "a/b": root/a.b).
 * 0, or -1 (EINVAL: no folder file can have that name; ENAMETOOLONG). */
int store_mbox_file(const struct store *s, const char *name, char *out, size_t size);

#endif
