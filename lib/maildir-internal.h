/*
 * maildir-internal.h — what lib/maildir.c and maildir-scan.c take from
 * lib/maildir-dirs.c (a subdirectory opened as a directory fd without
 * following a symlink, and a close that keeps errno for the caller's
 * report) and from each other. Not for use outside lib/maildir*.c.
 */
#ifndef YUBIN_MAILDIR_INTERNAL_H
#define YUBIN_MAILDIR_INTERNAL_H

/* Reads of new/ and cur/ while they keep changing during a scan, and
 * passes looking for a moved message (S64). */
#define MAILDIR_SCAN_ROUNDS 3

/* dir/sub as a directory fd, never through a symlink (S34). fd or -1. */
int maildir_open_sub(const char *dir, const char *sub);
/* close(fd) if fd >= 0, errno as it was. */
void maildir_close_keep_errno(int fd);
/* Gives e the malloc'd name copy, freeing its own if it has one
 * (maildir-scan.c). */
struct maildir_entry;
void maildir_entry_set_name(struct maildir_entry *e, char *copy);

#endif
