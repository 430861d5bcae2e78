/*
 * users-cache.h — the process's copy of the aliases file and of the users
 * file's login names and extra fields (internal to users*.c).
 *
 * A session asks about the same few addresses at RCPT, at delivery and
 * for notices; reading the files for each question opened the aliases
 * file once per alias level and recipient. A copy is kept instead and
 * checked against the file (device, inode, size, mtime, ctime: one stat)
 * at each top-level lookup, so an edited file is read again at once.
 * Password hashes are never copied: users_verify reads the file itself.
 */
#ifndef YUBIN_USERS_CACHE_H
#define YUBIN_USERS_CACHE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "conf.h"

struct users_cache {
	char *path;
	struct stat key;
	char *data;
	size_t len;
	int valid;
};

/* Fills data (malloc'd, len bytes plus a NUL) from f. 0 or -1. */
typedef int users_cache_load_fn(FILE *f, char **data, size_t *len);

/* Makes c a current copy of path through load, unless it is one. A file
 * that cannot be read or is larger than USERS_FILE_CACHE_MAX leaves c
 * empty: users_cache_fopen then opens the file and reports its error. */
void users_cache_refresh(struct users_cache *c, const char *path, users_cache_load_fn *load);

/* A stream over c's copy of path, or over path itself when there is none. */
FILE *users_cache_fopen(const struct users_cache *c, const char *path);

/* Loaders: the whole file; only "login:" of each users-file entry, with
 * its extra fields after the ':' when it has some (no hash). */
int users_cache_load_raw(FILE *f, char **data, size_t *len);
int users_cache_load_logins(FILE *f, char **data, size_t *len);

/* users.c: the users file's copy above, refreshed (users_cache_refresh);
 * *copy_r 1 if the stream is over the copy, 0 if over the file itself
 * (then whole lines). NULL with errno if neither can be opened. */
FILE *users_logins_fopen(const struct conf *conf, int *copy_r);

/* Dovecot's passwd-file: user:password:uid:gid:gecos:home:shell:extra —
 * the extra fields are the eighth, after the seventh ':'. */
#define USERS_EXTRA_FIELD 7

#endif
