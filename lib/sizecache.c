/*
 * sizecache.c — see sizecache.h.
 */
#include "sizecache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "durable.h"
#include "path.h"

static int
base_ok(const char *base, size_t len)
{
	if (len == 0 || len > SIZECACHE_BASE_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)base[i] <= 0x20 || base[i] == 0x7f)
			return 0;
	return 1;
}

static int
add(struct sizecache *c, const char *base, size_t len, uint64_t size, uint64_t vsize, int used)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct sizecache_entry *v = realloc(c->v, cap * sizeof *v);
		if (!v)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	char *b = strndup(base, len);
	if (!b)
		return -1;
	c->v[c->n++] = (struct sizecache_entry){ b, size, vsize, used };
	return 0;
}

/* One "base size vsize" line (NUL-terminated, no LF); bad lines skipped. */
static int
parse_line(struct sizecache *c, char *line)
{
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp2 || !base_ok(line, (size_t)(sp1 - line)))
		return 0;
	char *end1, *end2;
	errno = 0;
	unsigned long long size = strtoull(sp1 + 1, &end1, 10);
	unsigned long long vsize = strtoull(sp2 + 1, &end2, 10);
	if (errno || end1 != sp2 || *end2 != '\0' || sp1[1] == '-' || sp2[1] == '-' || vsize < size)
		return 0;
	return add(c, line, (size_t)(sp1 - line), size, vsize, 0);
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sizecache_entry *)a)->base,
	    ((const struct sizecache_entry *)b)->base);
}

static char *
read_small_file(const char *path, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < SIZECACHE_FILE_MAX &&
	    (buf = malloc((size_t)st.st_size + 1)) != NULL) {
		ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
		if (n < 0) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len_r = (size_t)n;
		}
	}
	close(fd);
	return buf;
}

int
sizecache_load(struct sizecache *c, const char *dir)
{
	memset(c, 0, sizeof *c);
	if (path_join(c->path, sizeof c->path, dir, ".pop3.sizes", NULL) != 0)
		return 0; /* c->path is "": no cache */
	size_t len;
	char *buf = read_small_file(c->path, &len);
	if (!buf)
		return 0;
	int r = 0;
	for (char *line = buf, *lf; r == 0 && (lf = memchr(line, '\n', len - (size_t)(line - buf)));
	    line = lf + 1) {
		*lf = '\0';
		if (strlen(line) == (size_t)(lf - line))   /* no NUL inside */
			r = parse_line(c, line);
	}
	free(buf);
	if (c->n > 1)
		qsort(c->v, c->n, sizeof *c->v, entry_cmp);
	c->n_sorted = c->n;
	return r;
}

int
sizecache_get(struct sizecache *c, const char *base, size_t base_len, uint64_t size,
    uint64_t *vsize_r)
{
	char key[SIZECACHE_BASE_MAX + 1];
	if (c->n_sorted == 0 || !base_ok(base, base_len))
		return 0;
	memcpy(key, base, base_len);
	key[base_len] = '\0';
	struct sizecache_entry k = { .base = key };
	struct sizecache_entry *e = bsearch(&k, c->v, c->n_sorted, sizeof *c->v, entry_cmp);
	if (!e || e->size != size)
		return 0;
	e->used = 1;
	*vsize_r = e->vsize;
	return 1;
}

void
sizecache_put(struct sizecache *c, const char *base, size_t base_len, uint64_t size,
    uint64_t vsize)
{
	if (base_ok(base, base_len) && add(c, base, base_len, size, vsize, 1) == 0)
		c->dirty = 1;
}

int
sizecache_save(struct sizecache *c)
{
	size_t used = 0;
	for (size_t i = 0; i < c->n; i++)
		used += c->v[i].used != 0;
	/* Entries of messages gone since are dropped too. */
	if (c->path[0] == '\0' || (!c->dirty && used == c->n))
		return 0;
	/* the file's directory: c->path without its last part */
	char dir[PATH_MAX];
	const char *slash = strrchr(c->path, '/');
	if (slash == NULL || path_printf(dir, sizeof dir, "%.*s", (int)(slash - c->path), c->path) != 0)
		return -1;
	struct buf b = BUF_INIT(SIZECACHE_FILE_MAX);
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].used)
			buf_printf(&b, "%s %llu %llu\n", c->v[i].base, (unsigned long long)c->v[i].size,
			    (unsigned long long)c->v[i].vsize);
	int r = b.err != 0 ? -1
	    : durable_replace(dir, slash + 1, buf_str(&b), b.len, DURABLE_CACHE);
	buf_free(&b);
	return r;
}

void
sizecache_free(struct sizecache *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].base);
	free(c->v);
	c->v = NULL;
	c->n = c->n_sorted = c->cap = 0;
}
