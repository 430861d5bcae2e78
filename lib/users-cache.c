/*
 * users-cache.c — a current copy of the aliases file and of the users
 * file's logins (see users-cache.h).
 */
#include "users-cache.h"

#include "bounds.h"
#include "fileline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void
cache_drop(struct users_cache *c)
{
	free(c->path);
	free(c->data);
	c->path = c->data = NULL;
	c->len = 0;
	c->valid = 0;
}

void
users_cache_refresh(struct users_cache *c, const char *path, users_cache_load_fn *load)
{
	struct stat st;
	int saved = errno;
	if (c->valid && strcmp(c->path, path) == 0 && stat(path, &st) == 0 &&
	    same_file(&st, &c->key))
		return;
	cache_drop(c);
	FILE *f = fopen(path, "re");
	if (!f)
		goto out;
	/* The key is the opened file's: a change after this is seen next time. */
	if (fstat(fileno(f), &c->key) == 0 && S_ISREG(c->key.st_mode) &&
	    c->key.st_size <= USERS_FILE_CACHE_MAX && (c->path = strdup(path)) != NULL &&
	    load(f, &c->data, &c->len) == 0)
		c->valid = 1;
	else
		cache_drop(c);
	fclose(f);
out:
	errno = saved;
}

FILE *
users_cache_fopen(const struct users_cache *c, const char *path)
{
	if (c->valid && strcmp(c->path, path) == 0)
		return fmemopen(c->data, c->len, "r");
	return fopen(path, "re");
}

int
users_cache_load_raw(FILE *f, char **data, size_t *len)
{
	char *buf = malloc(USERS_FILE_CACHE_MAX + 1);
	if (!buf)
		return -1;
	size_t n = fread(buf, 1, USERS_FILE_CACHE_MAX + 1, f);
	/* Grown past the bound since fstat, or unreadable: no copy. */
	if (ferror(f) || n > USERS_FILE_CACHE_MAX) {
		free(buf);
		return -1;
	}
	char *fit = realloc(buf, n + 1);
	if (fit)
		buf = fit;
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

/* What load_kept keeps of one users-file line (NUL-terminated, CR cut):
 * writes it, LF included, to out (room for the line plus an LF) and
 * returns its length; 0 keeps nothing. */
typedef size_t keep_fn(const char *line, const char *colon, char *out);

/* A copy of the users file holding only what keep keeps of each line. */
static int
load_kept(FILE *f, char **data, size_t *len, keep_fn *keep)
{
	char *raw, *kept;
	size_t n_raw, out = 0;
	if (users_cache_load_raw(f, &raw, &n_raw) != 0)
		return -1;
	/* Each kept line is at most its line plus an LF. */
	FILE *m = (kept = malloc(n_raw + 2)) ? fmemopen(raw, n_raw, "r") : NULL;
	if (!m) {
		free(kept);
		explicit_bzero(raw, n_raw);
		free(raw);
		return -1;
	}
	char line[USERS_LINE_MAX];
	enum fileline_status st;
	while ((st = fileline_read(m, line, sizeof line, NULL)) != FILELINE_EOF &&
	    st != FILELINE_ERROR) {
		line[strcspn(line, "\r")] = '\0';
		char *colon = strchr(line, ':');
		if (st != FILELINE_OK || line[0] == '#' || !colon)
			continue;
		out += keep(line, colon, kept + out);
	}
	fclose(m);
	explicit_bzero(line, sizeof line);
	explicit_bzero(raw, n_raw);
	free(raw);
	if (st == FILELINE_ERROR) {
		free(kept);
		return -1;
	}
	kept[out] = '\0';
	*data = kept;
	*len = out;
	return 0;
}

/* "login:" of each line users_find would consider, and its extra fields
 * (Dovecot's eighth field, after the seventh ':') when it has some: one
 * copy answers both "is this a user" and "what is its quota rule". The
 * hash stays behind. */
static size_t
keep_login(const char *line, const char *colon, char *out)
{
	const char *p = colon;
	for (int i = 1; i < USERS_EXTRA_FIELD && p; i++)
		p = strchr(p + 1, ':');
	size_t k = (size_t)(colon - line) + 1, e = p ? strlen(p + 1) : 0;
	memcpy(out, line, k);
	if (e)
		memcpy(out + k, p + 1, e);
	out[k + e] = '\n';
	return k + e + 1;
}

int
users_cache_load_logins(FILE *f, char **data, size_t *len)
{
	return load_kept(f, data, len, keep_login);
}
