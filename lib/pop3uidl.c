/*
 * pop3uidl.c — Courier's POP3 UIDLs and yubin's record of them (see
 * pop3uidl.h).
 */
#include "pop3uidl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "durable.h"
#include "fileline.h"
#include "folder-uids.h"
#include "path.h"

/* A record line of yubin-pop3-uidl: a unique part, a space, a UIDL of at
 * most 70 bytes (RFC 1939), an LF. */
#define RECORD_MAX (UIDIMPORT_LINE_MAX + 72)

void
pop3uidl_free(struct pop3uidl_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->r[i].base);
		free(m->r[i].uidl);
	}
	free(m->r);
	memset(m, 0, sizeof *m);
}

static int
add(struct pop3uidl_map *m, const char *base, size_t blen, const char *uidl, size_t ulen)
{
	if (m->n >= UIDIMPORT_RECORDS_MAX) {
		errno = E2BIG;
		return -1;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct pop3uidl_rec *r = realloc(m->r, cap * sizeof *r);
		if (r == NULL)
			return -1;
		m->r = r;
		m->cap = cap;
	}
	char *b = strndup(base, blen), *u = strndup(uidl, ulen);
	if (b == NULL || u == NULL) {
		free(b);
		free(u);
		return -1;
	}
	m->r[m->n].base = b;
	m->r[m->n].uidl = u;
	m->n++;
	return 0;
}

static int
rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pop3uidl_rec *)a)->base, ((const struct pop3uidl_rec *)b)->base);
}

/* Sorts by base; one message twice makes the map of no use. */
static int
finish(struct pop3uidl_map *m)
{
	if (m->n > 1)
		qsort(m->r, m->n, sizeof *m->r, rec_cmp);
	for (size_t i = 1; i < m->n; i++)
		if (strcmp(m->r[i - 1].base, m->r[i].base) == 0) {
			errno = EINVAL;
			return -1;
		}
	return 0;
}

/* A decimal number of 1 to 19 digits at *p: *v_r, *p past it. */
static int
number(const char **p, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t digits = 0;
	while (**p >= '0' && **p <= '9') {
		if (++digits > 19)
			return -1;
		v = v * 10 + (uint64_t)(*(*p)++ - '0');
	}
	*v_r = v;
	return digits ? 0 : -1;
}

static int
name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 255 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == '/')
			return 0;
	return strcspn(s, ",:") > 0;
}

/* "<file name> <size> <n>:<uidv>[:<utf8>]" */
static int
courier_record(struct pop3uidl_map *m, const char *line)
{
	const char *sp = strchr(line, ' '), *p;
	uint64_t size, n, uidv, utf8;
	if (sp == NULL || !name_ok(line, (size_t)(sp - line)))
		return -1;
	p = sp + 1;
	if (number(&p, &size) != 0 || *p++ != ' ' || number(&p, &n) != 0 || n == 0 ||
	    *p++ != ':' || number(&p, &uidv) != 0)
		return -1;
	if (*p == ':') {
		p++;
		if (number(&p, &utf8) != 0)
			return -1;
	}
	if (*p != '\0')
		return -1;
	char uidl[48];
	int len = uidv ? snprintf(uidl, sizeof uidl, "UID%" PRIu64 "-%" PRIu64, n, uidv) :
	    snprintf(uidl, sizeof uidl, "UID%" PRIu64, n);
	return add(m, line, strcspn(line, ",: "), uidl, (size_t)len);
}

static FILE *
open_file(const char *dir, const char *name)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof path, dir, name, NULL) != 0)
		return NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct stat st;
	FILE *fp = NULL;
	if (fstat(fd, &st) != 0 || (!S_ISREG(st.st_mode) && (errno = EINVAL)) ||
	    (fp = fdopen(fd, "r")) == NULL) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return fp;
}

int
pop3uidl_courier_read(const char *dir, struct pop3uidl_map *m)
{
	char line[UIDIMPORT_LINE_MAX + 1];
	memset(m, 0, sizeof *m);
	FILE *fp = open_file(dir, "courierpop3dsizelist");
	if (fp == NULL)
		return errno == ENOENT || errno == ELOOP || errno == EINVAL ? 1 : -1;
	int version, r = 0;
	unsigned long next;
	size_t len;
	enum fileline_status st = fileline_read(fp, line, sizeof line, &len);
	if (st == FILELINE_ERROR)
		r = -1;
	else if (st != FILELINE_OK || sscanf(line, "/%d %lu", &version, &next) != 2 ||
	    (version != 2 && version != 3))
		r = 1;
	while (r == 0 && (st = fileline_read(fp, line, sizeof line, &len)) != FILELINE_EOF) {
		if (st == FILELINE_ERROR)
			r = -1;
		else if (st != FILELINE_OK || feof(fp) || courier_record(m, line) != 0)
			r = errno == ENOMEM ? -1 : 1;
	}
	int saved = errno;
	fclose(fp);
	if (r == 0 && finish(m) != 0) {
		r = 1;
		saved = errno;
	}
	if (r != 0)
		pop3uidl_free(m);
	errno = saved;
	return r;
}

int
pop3uidl_write(const char *dir, const struct pop3uidl_map *m)
{
	struct buf b = BUF_INIT((m->n + 1) * RECORD_MAX);
	buf_printf(&b, "courier\n");
	for (size_t i = 0; i < m->n; i++)
		buf_printf(&b, "%s %s\n", m->r[i].base, m->r[i].uidl);
	size_t len;
	char *s = buf_finish(&b, &len);
	if (s == NULL)
		return -1;
	int r = durable_replace(dir, POP3_UIDL_NAME, s, len, DURABLE_SYNCED);
	free(s);
	return r;
}

int
pop3uidl_read(const char *dir, struct pop3uidl_map *m)
{
	char line[RECORD_MAX + 1];
	memset(m, 0, sizeof *m);
	FILE *fp = open_file(dir, POP3_UIDL_NAME);
	if (fp == NULL)
		return -1;
	size_t len;
	int r = 0;
	enum fileline_status st = fileline_read(fp, line, sizeof line, &len);
	if (st != FILELINE_OK || strcmp(line, "courier") != 0) {
		errno = st == FILELINE_ERROR ? errno : EINVAL;
		r = -1;
	}
	while (r == 0 && (st = fileline_read(fp, line, sizeof line, &len)) != FILELINE_EOF) {
		const char *sp = strchr(line, ' ');
		size_t ulen = sp ? strlen(sp + 1) : 0;
		if (st == FILELINE_ERROR) {
			r = -1;
		} else if (st != FILELINE_OK || feof(fp) || sp == NULL ||
		    !name_ok(line, (size_t)(sp - line)) || ulen == 0 || ulen > 70 ||
		    strchr(sp + 1, ' ') != NULL) {
			errno = EINVAL;
			r = -1;
		} else {
			r = add(m, line, (size_t)(sp - line), sp + 1, ulen);
		}
	}
	int saved = errno;
	fclose(fp);
	if (r == 0 && finish(m) != 0) {
		r = -1;
		saved = errno;
	}
	if (r != 0)
		pop3uidl_free(m);
	errno = saved;
	return r;
}

const char *
pop3uidl_find(const struct pop3uidl_map *m, const char *base, size_t len)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *b = m->r[mid].base;
		int c = strncmp(base, b, len);
		if (c == 0 && b[len] != '\0')
			c = -1;
		if (c == 0)
			return m->r[mid].uidl;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
