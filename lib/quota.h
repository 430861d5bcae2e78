/*
 * quota.h — a user's storage quota (RFC 9208 STORAGE): the limit is the
 * user's own quota rule in the users file (users_quota), else the
 * quota_storage key of yubin.conf (0: none); usage is the sum of the sizes
 * of every message in every folder of the user (Maildir: the S= size in
 * each file name, else the file's size, kept in the Maildir++ usage file
 * maildirsize, quota-file.h; mbox: the size of each folder file).
 */
#ifndef YUBIN_QUOTA_H
#define YUBIN_QUOTA_H

#include <stdint.h>

#include "conf.h"

/* Directory entries walked per count at most: a store beyond this is
 * reported as unreadable (-1, E2BIG) rather than walked without bound. */
#define QUOTA_ENTRIES_MAX 2000000

/* Bytes stored for the user whose mailbox root (mailbox_user_dir) is dir
 * and whose limit is limit (recorded in a Maildir's usage file); a
 * missing dir is 0 bytes. 0, or -1 with errno. */
int quota_usage(const struct conf *conf, const char *dir, uint64_t limit, uint64_t *used);

/* The storage limit of user (a canonical address) in bytes, 0 for none:
 * its own rule in the users file, else quota_storage. 0, or -1 with
 * errno (the users file unreadable, or its rule for user: EINVAL). */
int quota_limit(const struct conf *conf, const char *user, uint64_t *limit_r);

/* 1 if adding `add` bytes to the user at dir would pass limit (bytes),
 * 0 if not (or limit 0: none), -1 with errno if usage cannot be counted. */
int quota_would_exceed(const struct conf *conf, const char *dir, uint64_t limit, uint64_t add);

#endif
