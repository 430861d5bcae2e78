/*
 * maildir-internal.h — what lib/maildir.c takes from lib/maildir-dirs.c:
 * a subdirectory opened as a directory fd without following a symlink,
 * and a close that keeps errno for the caller's report. Not for use
 * outside lib/maildir*.c.
 */
#ifndef YUBIN_MAILDIR_INTERNAL_H
#define YUBIN_MAILDIR_INTERNAL_H

/* dir/sub as a directory fd, never through a symlink (S34). fd or -1. */
int maildir_open_sub(const char *dir, const char *sub);
/* close(fd) if fd >= 0, errno as it was. */
void maildir_close_keep_errno(int fd);

#endif
