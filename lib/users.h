/*
 * users.h — the passwd-file (Dovecot's format) and the aliases file.
 *
 * users: `user@domain:{SCHEME}hash[:uid:gid:gecos:home:shell:extra]`
 * (Dovecot's passwd-file; only the extra fields' quota rule is read of
 * the rest: users-quota.c), hashes for
 * crypt(3) ($y$, $6$, $5$, $2b$), optionally prefixed {SHA512-CRYPT},
 * {BLF-CRYPT}, {CRYPT} (also {SHA256-CRYPT}). aliases:
 * `local@domain: target[, target...]` lines, `#` comments.
 * The aliases file and the users file's logins are read once per process
 * and again when the file changes (users-cache.h); passwords are checked
 * against the file itself.
 */
#ifndef YUBIN_USERS_H
#define YUBIN_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define USERS_ALIAS_TARGETS_MAX 100

/* Canonical login name: lower-cased; without '@' the first local
 * domain is appended. Returns 0, or -1 if the result does not fit. */
int users_canonical(const struct conf *conf, const char *login, char *out, size_t size);

/* Checks a password. Returns 1 (good), 0 (unknown user or wrong password:
 * the two take the same time), -1 (file unreadable; errno set). */
int users_verify(const struct conf *conf, const char *login, const char *password);

/* 1 if the address is a user in the users file, 0 if not, -1 on error. */
int users_exists(const struct conf *conf, const char *addr);

/* The user's own storage limit: the default quota_rule in the extra
 * fields of its line (Dovecot's `userdb_quota_rule=*:storage=2G`).
 * Returns 1 with *bytes_r (0: no limit), 0 when the line has none (or
 * there is no such user), -1 with errno (EINVAL: a rule that cannot be
 * read; else the file could not be). */
int users_quota(const struct conf *conf, const char *addr, uint64_t *bytes_r);

/* Expands addr through the aliases file (one level deep after recursion
 * through local aliases, at most 8 levels). On success *targets_r holds
 * *n_r malloc'd addresses (free with users_free_targets); n_r is 0 when addr
 * is no alias. Returns 0, or -1 on error. */
int users_aliases(const struct conf *conf, const char *addr, char ***targets_r, size_t *n_r);
void users_free_targets(char ***targets, size_t n);

/* The addresses a user may send as: itself and every alias whose expansion
 * contains it. Returns 1 if from is one of them, 0 if not, -1 on error. */
int users_may_send_as(const struct conf *conf, const char *user, const char *from);

#endif
