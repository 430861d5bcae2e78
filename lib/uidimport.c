/*
 * uidimport.c — Dovecot's and Courier's UID lists and Dovecot's keyword
 * letters, parsed strictly (see uidimport.h for the formats).
 */
#include "uidimport.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "fileline.h"
#include "path.h"

/* A file name of a message, as a directory entry can hold it. */
#define NAME_LEN_MAX 255

void
uidimport_init(struct uidimport *u, enum uidimport_kind kind)
{
	memset(u, 0, sizeof *u);
	u->kind = kind;
}

void
uidimport_free(struct uidimport *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->recs[i].base);
	free(u->recs);
	for (int i = 0; i < UIDIMPORT_KEYWORDS; i++)
		free(u->kw[i]);
	uidimport_init(u, u->kind);
}

static int
invalid(void)
{
	errno = EINVAL;
	return -1;
}

/* A decimal number of 1 to 10 digits at *p, at most max: its value in
 * *v_r and *p past it. 0, or -1 (none, or too large). */
static int
number(const char **p, uint64_t max, uint32_t *v_r)
{
	const char *s = *p;
	uint64_t v = 0;
	size_t digits = 0;
	while (*s >= '0' && *s <= '9') {
		if (++digits > 10)
			return -1;
		v = v * 10 + (uint64_t)(*s++ - '0');
	}
	if (digits == 0 || v > max)
		return -1;
	*v_r = (uint32_t)v;
	*p = s;
	return 0;
}

static int
is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* "1 <uidvalidity> <nextuid>": Courier's header and Dovecot 1.0's. */
static int
header_v1(struct uidimport *u, const char *p)
{
	if (number(&p, UINT32_MAX, &u->validity) != 0 || *p++ != ' ' ||
	    number(&p, UINT32_MAX, &u->next) != 0 || *p != '\0')
		return invalid();
	return 0;
}

/* One header field of version 3: "<key><value>". V and N once each, G a
 * 128-bit GUID in hex; other keys (letters) are Dovecot's to know. */
static int
header_field(struct uidimport *u, char key, const char *val, size_t len, int *seen)
{
	const char *end = val;
	uint32_t v;
	switch (key) {
	case 'V':
	case 'N':
		if (*seen & (key == 'V' ? 1 : 2) || number(&end, UINT32_MAX, &v) != 0 ||
		    end != val + len)
			return -1;
		*seen |= key == 'V' ? 1 : 2;
		*(key == 'V' ? &u->validity : &u->next) = v;
		return 0;
	case 'G':
		return len == 32 && is_hex(val, len) ? 0 : -1;
	default:
		return key >= 'A' && key <= 'Z' ? 0 : -1;
	}
}

/* "3 V<uidvalidity> N<nextuid> ...": fields in any order, apart by spaces. */
static int
header_v3(struct uidimport *u, const char *p)
{
	int seen = 0;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p + 1, " ");
		if (header_field(u, p[0], p + 1, len, &seen) != 0)
			return invalid();
		p += 1 + len;
	}
	return seen == 3 ? 0 : invalid();
}

static int
header(struct uidimport *u, const char *line)
{
	if (line[0] == '1' && line[1] == ' ') {
		u->version = 1;
		if (header_v1(u, line + 2) != 0)
			return -1;
	} else if (line[0] == '3' && line[1] == ' ' && u->kind == UIDIMPORT_DOVECOT) {
		u->version = 3;
		if (header_v3(u, line + 2) != 0)
			return -1;
	} else {
		return invalid();
	}
	return u->validity == 0 || u->next == 0 ? invalid() : 0;
}

/* A message's file name as the lists record it: what a directory entry
 * of a Maildir can be, in printable ASCII or bytes past it. */
static int
name_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > NAME_LEN_MAX || name[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c == 0x7f || c == '/')
			return 0;
	}
	return strcspn(name, ",:") > 0;
}

/* Version 3 record after its UID: "[<key><value> ...] :<name>". Returns
 * the name, or NULL. */
static const char *
record_v3_name(const char *p)
{
	while (*p == ' ')
		p++;
	while (*p != ':') {
		if (*p < 'A' || *p > 'Z')
			return NULL;  /* not a field (or the line ended) */
		p += strcspn(p, " ");
		if (*p != ' ')
			return NULL;
		while (*p == ' ')
			p++;
	}
	return p + 1;
}

static int
record(struct uidimport *u, const char *p)
{
	uint32_t uid;
	/* UIDs are below 2^32 - 1 so that the next one fits */
	if (number(&p, UINT32_MAX - 1, &uid) != 0 || uid == 0 || *p != ' ')
		return invalid();
	if ((u->n > 0 && uid <= u->recs[u->n - 1].uid) || (u->version == 1 && uid >= u->next))
		return invalid();
	const char *name = u->version == 3 ? record_v3_name(p) : p + 1;
	if (name == NULL || !name_ok(name))
		return invalid();
	if (u->n >= UIDIMPORT_RECORDS_MAX) {
		errno = E2BIG;
		return -1;
	}
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 256;
		struct uidimport_rec *r = realloc(u->recs, cap * sizeof *r);
		if (r == NULL)
			return -1;
		u->recs = r;
		u->cap = cap;
	}
	char *base = strndup(name, strcspn(name, ",:"));
	if (base == NULL)
		return -1;
	u->recs[u->n].uid = uid;
	u->recs[u->n].base = base;
	u->n++;
	return 0;
}

int
uidimport_line(struct uidimport *u, const char *line, size_t len)
{
	if (strlen(line) != len)
		return invalid();
	return u->version == 0 ? header(u, line) : record(u, line);
}

/* A keyword as IMAP writes it: an atom (RFC 9051 flag-keyword) of at
 * most IMAP_KEYWORD_MAX bytes, as yubin takes one from a client. */
static int
keyword_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > IMAP_KEYWORD_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return 0;
	}
	return 1;
}

int
uidimport_keyword_line(struct uidimport *u, const char *line, size_t len)
{
	const char *p = line;
	uint32_t idx;
	if (strlen(line) != len || number(&p, UIDIMPORT_KEYWORDS - 1, &idx) != 0 ||
	    *p++ != ' ' || !keyword_ok(p) || u->kw[idx] != NULL)
		return invalid();
	for (int i = 0; i < UIDIMPORT_KEYWORDS; i++)
		if (u->kw[i] && strcasecmp(u->kw[i], p) == 0)
			return invalid();
	u->kw[idx] = strdup(p);
	return u->kw[idx] ? 0 : -1;
}

static int
rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct uidimport_rec *)a)->base,
	    ((const struct uidimport_rec *)b)->base);
}

int
uidimport_finish(struct uidimport *u)
{
	if (u->version == 0)
		return invalid();
	/* records appended to a version 3 list may pass its header's N */
	if (u->n > 0 && u->recs[u->n - 1].uid >= u->next)
		u->next = u->recs[u->n - 1].uid + 1;
	if (u->n > 1)
		qsort(u->recs, u->n, sizeof *u->recs, rec_cmp);
	/* one message under two UIDs: which one a client knows is a guess */
	for (size_t i = 1; i < u->n; i++)
		if (strcmp(u->recs[i - 1].base, u->recs[i].base) == 0)
			return invalid();
	return 0;
}

uint32_t
uidimport_uid(const struct uidimport *u, const char *base, size_t len)
{
	size_t lo = 0, hi = u->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *b = u->recs[mid].base;
		int c = strncmp(base, b, len);
		if (c == 0 && b[len] != '\0')
			c = -1;
		if (c == 0)
			return u->recs[mid].uid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

typedef int (*line_fn)(struct uidimport *, const char *, size_t);

/* Feeds every line of dir/name to fn; *stamp_r (if not NULL) gets the
 * file's mtime. 0; 1 with errno (ENOENT: no such file; ELOOP, EINVAL: not
 * a regular file, or not of its format; E2BIG); -1 with errno when it
 * cannot be read. */
static int
read_file(const char *dir, const char *name, struct uidimport *u, line_fn fn,
    uint32_t *stamp_r)
{
	char path[PATH_MAX], line[UIDIMPORT_LINE_MAX + 1];
	if (path_join(path, sizeof path, dir, name, NULL) != 0)
		return -1;
	/* O_NONBLOCK: a FIFO planted there must not stall the open */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 1 : -1;
	struct stat st;
	FILE *fp = NULL;
	if (fstat(fd, &st) != 0 || (fp = fdopen(fd, "r")) == NULL) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	int r = 0;
	if (stamp_r != NULL)
		*stamp_r = st.st_mtime <= 0 ? 0 : st.st_mtime >= UINT32_MAX ? UINT32_MAX :
		    (uint32_t)st.st_mtime;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		r = 1;
	}
	enum fileline_status s;
	size_t len;
	while (r == 0 && (s = fileline_read(fp, line, sizeof line, &len)) != FILELINE_EOF) {
		if (s == FILELINE_ERROR) {
			r = -1;
		} else if (s != FILELINE_OK || feof(fp)) {
			/* too long, a NUL, or a last line cut short of its LF */
			errno = EINVAL;
			r = 1;
		} else if (fn(u, line, len) != 0) {
			r = errno == ENOMEM ? -1 : 1;
		}
	}
	int saved = errno;
	fclose(fp);
	errno = saved;
	return r;
}

/* Forgets the records (and header) of a list refused, keeping its
 * UIDVALIDITY and the keywords. */
static void
drop_list(struct uidimport *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->recs[i].base);
	free(u->recs);
	u->recs = NULL;
	u->n = u->cap = 0;
	u->version = 0;
	u->next = 0;
}

static void
drop_keywords(struct uidimport *u)
{
	for (int i = 0; i < UIDIMPORT_KEYWORDS; i++) {
		free(u->kw[i]);
		u->kw[i] = NULL;
	}
}

int
uidimport_read(const char *dir, struct uidimport *u)
{
	uint32_t stamp = 0;
	uidimport_init(u, UIDIMPORT_DOVECOT);
	int r = read_file(dir, "dovecot-uidlist", u, uidimport_line, &stamp);
	if (r == 1 && errno == ENOENT) {
		uidimport_free(u);
		uidimport_init(u, UIDIMPORT_COURIER);
		r = read_file(dir, "courierimapuiddb", u, uidimport_line, &stamp);
	}
	if (r == 0 && uidimport_finish(u) != 0)
		r = errno == ENOMEM ? -1 : 1;
	int saved = errno;
	if (r == 1)
		drop_list(u);
	if (r >= 0) {
		/* the letters in the names are Dovecot's whatever became of
		 * the UID list: their names are taken even without it */
		int k = read_file(dir, "dovecot-keywords", u, uidimport_keyword_line, NULL);
		if (k == -1 || (k == 1 && errno != ENOENT)) {
			saved = errno;
			drop_keywords(u);
			if (k == -1 || r == 0)
				drop_list(u);
			r = k == -1 ? -1 : 1;
		}
	}
	u->stamp = stamp;
	if (r < 0)
		uidimport_free(u);
	errno = saved;
	return r;
}

int
uidimport_check(const char *dir)
{
	static const char *const names[] = { "dovecot-uidlist", "courierimapuiddb",
		"dovecot-keywords" };
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (path_join(path, sizeof path, dir, names[i], NULL) != 0)
			return -1;
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0)
			close(fd);
		else if (errno != ENOENT && errno != ELOOP)
			return -1;  /* ELOOP: a symlink, which uidimport_read refuses */
	}
	return 0;
}

uint32_t
uidimport_dovecot_last(const char *root)
{
	char path[PATH_MAX], buf[16];
	if (path_join(path, sizeof path, root, "dovecot-uidvalidity", NULL) != 0)
		return 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	struct stat st;
	ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof buf) : -1;
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n <= 0 || n > 8 || !is_hex(buf, (size_t)n))
		return 0;
	buf[n] = '\0';
	return (uint32_t)strtoul(buf, NULL, 16);
}
