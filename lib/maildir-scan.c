/*
 * maildir-scan.c — listing a Maildir: new/ and cur/ read into entries
 * (maildir_scan), their names parsed for sizes and info letters, and the
 * names of a scan packed in blocks for a reader that keeps 100,000 of
 * them (maildir_scan_packed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "maildir.h"
#include "maildir-internal.h"

/* Parses ",S=123" / ",W=456" fields of a name into e. */
static void
parse_name(struct maildir_entry *e, int *have_size)
{
	const char *name = e->name;
	e->base_len = (uint32_t)strcspn(name, ",:"); /* NAME_MAX bytes at most */
	e->size = e->vsize = 0;
	*have_size = 0;
	const char *colon = strchr(name, ':');
	size_t info_end = colon ? (size_t)(colon - name) : strlen(name);
	for (const char *p = name + e->base_len; p < name + info_end; ) {
		/* p points at ','. */
		char *end;
		if ((p[1] == 'S' || p[1] == 'W') && p[2] == '=' && p[3] >= '0' && p[3] <= '9') {
			errno = 0;
			uint64_t v = strtoull(p + 3, &end, 10);
			if (errno == 0 && (*end == ',' || *end == ':' || *end == '\0')) {
				if (p[1] == 'S') {
					e->size = v;
					*have_size = 1;
				} else {
					e->vsize = v;
				}
			}
		}
		const char *next = strchr(p + 1, ',');
		if (next == NULL || next > name + info_end)
			break;
		p = next;
	}
}

const char *
maildir_entry_flags(const struct maildir_entry *e, char out[MAILDIR_FLAGS_MAX])
{
	const char *colon = strchr(e->name + e->base_len, ':');
	size_t n = 0;
	if (colon && colon[1] == '2' && colon[2] == ',')
		for (const char *f = colon + 3; *f && n + 1 < MAILDIR_FLAGS_MAX; f++)
			out[n++] = *f;
	out[n] = '\0';
	return out;
}

int
maildir_parse_name(struct maildir_entry *e)
{
	int have_size;
	parse_name(e, &have_size);
	return have_size;
}

/* Delivery time from the name's leading seconds, when not stat'ed. */
static time_t
name_time(const char *name)
{
	char *end;
	long long t = strtoll(name, &end, 10);
	return (end != name && *end == '.' && t > 0) ? (time_t)t : 0;
}

/* An entry with the scan round that saw it: when a directory changed
 * during a scan, it is scanned again and the newest sighting of each
 * message wins (rank = round * 2, +1 for cur/). */
struct ranked {
	struct maildir_entry e;
	unsigned rank;
};

struct scan {
	struct ranked *v;
	size_t n, cap;
	unsigned round;
	struct maildir_names *names;   /* NULL: a malloc per name */
};

/* A block of packed names (struct maildir_names). */
#define NAMES_BLOCK_SIZE (64 * 1024)
struct maildir_names_block {
	struct maildir_names_block *next;
	size_t used;
	char data[NAMES_BLOCK_SIZE];
};

/* A copy of name (at most NAME_MAX bytes) in the newest block of names. */
static char *
names_add(struct maildir_names *names, const char *name)
{
	size_t len = strlen(name) + 1;
	struct maildir_names_block *b = names->blocks;
	if (b == NULL || NAMES_BLOCK_SIZE - b->used < len) {
		if ((b = malloc(sizeof *b)) == NULL)
			return NULL;
		b->next = names->blocks;
		b->used = 0;
		names->blocks = b;
	}
	char *p = memcpy(b->data + b->used, name, len);
	b->used += len;
	return p;
}

void
maildir_names_free(struct maildir_names *names)
{
	while (names != NULL) {
		struct maildir_names *next = names->next;
		for (struct maildir_names_block *b = names->blocks, *bn; b != NULL; b = bn) {
			bn = b->next;
			free(b);
		}
		free(names);
		names = next;
	}
}

void
maildir_entry_free_name(struct maildir_entry *e)
{
	if (!e->name_packed)
		free(e->name);
	e->name = NULL;
	e->name_packed = 0;
}

void
maildir_entry_set_name(struct maildir_entry *e, char *copy)
{
	maildir_entry_free_name(e);
	e->name = copy;
}

int
maildir_entry_own_name(struct maildir_entry *e)
{
	if (!e->name_packed)
		return 0;
	char *copy = strdup(e->name);
	if (copy == NULL)
		return -1;
	e->name = copy;
	e->name_packed = 0;
	return 0;
}

static int
scan_add(struct scan *s, int dfd, const char *name, int in_new, int with_mtime)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct ranked *v = realloc(s->v, cap * sizeof *v);
		if (v == NULL)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	struct maildir_entry *e = &s->v[s->n].e;
	memset(e, 0, sizeof *e);
	e->name = s->names ? names_add(s->names, name) : strdup(name);
	if (e->name == NULL)
		return -1;
	e->name_packed = s->names != NULL;
	e->in_new = in_new;
	int have_size;
	parse_name(e, &have_size);
	e->mtime = name_time(name);
	if (!have_size || with_mtime) {
		struct stat st;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
			maildir_entry_free_name(e); /* gone meanwhile, or not a message */
			return 0;
		}
		if (!have_size)
			e->size = (uint64_t)st.st_size;
		e->mtime = st.st_mtime;
	}
	s->v[s->n].rank = s->round * 2 + (in_new ? 0 : 1);
	s->n++;
	return 0;
}

/* Reads one subdirectory; *changed_r is set if it was modified meanwhile
 * (readdir may then have missed a file renamed during the read). */
static int
scan_dir(struct scan *s, const char *dir, const char *sub, int with_mtime, int *changed_r)
{
	struct stat before, after;
	int dfd = maildir_open_sub(dir, sub);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -1;
	DIR *dp = fdopendir(dfd);
	if (dp == NULL || fstat(dfd, &before) != 0) {
		maildir_close_keep_errno(dfd);
		return -1;
	}
	struct dirent *de;
	int r = 0;
	errno = 0;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (scan_add(s, dfd, de->d_name, sub[0] == 'n', with_mtime) != 0) {
			r = -1;
			break;
		}
		errno = 0;
	}
	if (r == 0 && errno != 0)
		r = -1;
	if (r == 0 && fstat(dfd, &after) == 0 &&
	    (after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
	     after.st_mtim.tv_nsec != before.st_mtim.tv_nsec))
		*changed_r = 1;
	int saved = errno;
	closedir(dp);
	errno = saved;
	return r;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct maildir_entry *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
same_base(const struct maildir_entry *x, const struct maildir_entry *y)
{
	return x->base_len == y->base_len && memcmp(x->name, y->name, x->base_len) == 0;
}

/* Orders by unique part, then newest sighting first. */
static int
base_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	size_t n = x->e.base_len < y->e.base_len ? x->e.base_len : y->e.base_len;
	int c = memcmp(x->e.name, y->e.name, n);
	if (c != 0)
		return c;
	if (x->e.base_len != y->e.base_len)
		return x->e.base_len < y->e.base_len ? -1 : 1;
	return x->rank < y->rank ? 1 : x->rank > y->rank ? -1 : 0;
}

/* Keeps one entry per unique part (its newest sighting) in a plain array. */
static struct maildir_entry *
scan_finish(struct scan *s, size_t *n_r)
{
	struct maildir_entry *out = malloc((s->n ? s->n : 1) * sizeof *out);
	size_t n = 0;
	if (out == NULL)
		return NULL;
	if (s->n > 0)
		qsort(s->v, s->n, sizeof *s->v, base_cmp);
	for (size_t i = 0; i < s->n; i++) {
		if (n > 0 && same_base(&out[n - 1], &s->v[i].e))
			maildir_entry_free_name(&s->v[i].e);
		else
			out[n++] = s->v[i].e;
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
	if (n > 0)
		qsort(out, n, sizeof *out, entry_cmp);
	*n_r = n;
	return out;
}

static void
scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		maildir_entry_free_name(&s->v[i].e);
	free(s->v);
	maildir_names_free(s->names);
	s->names = NULL;
}

static int
scan(struct scan *sp, const char *dir, int with_mtime, struct maildir_entry **entries_r,
    size_t *n_r)
{
	struct scan s = *sp;
	/* new/ first, then cur/: a message moving new → cur between the two
	 * reads is then seen at least once (maildir(5)). A message renamed
	 * while its directory is read may be missed by readdir(), so while a
	 * directory keeps changing under us, read again (S64). */
	for (s.round = 0; s.round < MAILDIR_SCAN_ROUNDS; s.round++) {
		int changed = 0;
		if (scan_dir(&s, dir, "new", with_mtime, &changed) != 0 ||
		    scan_dir(&s, dir, "cur", with_mtime, &changed) != 0) {
			int saved = errno;
			scan_free(&s);
			errno = saved;
			return -1;
		}
		if (!changed)
			break;
	}
	struct maildir_entry *v = scan_finish(&s, n_r);
	if (v == NULL) {
		scan_free(&s);
		return -1;
	}
	*entries_r = v;
	*sp = s;
	return 0;
}

int
maildir_scan(const char *dir, int with_mtime, struct maildir_entry **entries_r, size_t *n_r)
{
	struct scan s = { 0 };
	return scan(&s, dir, with_mtime, entries_r, n_r);
}

int
maildir_scan_packed(const char *dir, int with_mtime, struct maildir_entry **entries_r,
    size_t *n_r, struct maildir_names **names_r)
{
	struct scan s = { .names = calloc(1, sizeof *s.names) };
	if (s.names == NULL)
		return -1;
	if (scan(&s, dir, with_mtime, entries_r, n_r) != 0)
		return -1;
	*names_r = s.names;
	return 0;
}

void
maildir_entries_free(struct maildir_entry **entries, size_t n)
{
	if (*entries == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		maildir_entry_free_name(&(*entries)[i]);
	free(*entries);
	*entries = NULL;
}
