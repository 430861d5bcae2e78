/*
 * seqset.c — sequence sets (RFC 9051 §9 sequence-set): numbers 1..2^32-1,
 * '*', ranges in either order. Sets are sorted and merged, and messages are
 * selected by walking ranges and messages together, so "1,1,1,..." or
 * "1:4294967295" never costs more than the set and the mailbox (S37).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap.h"

static int
parse_number(const char **pp, uint32_t star, uint32_t *v)
{
	const char *p = *pp;
	if (*p == '*') {
		*pp = p + 1;
		*v = star;
		return 0;
	}
	if (!isdigit((unsigned char)*p) || *p == '0')
		return -1;
	uint64_t n = 0;
	while (isdigit((unsigned char)*p)) {
		n = n * 10 + (uint64_t)(*p++ - '0');
		if (n > 4294967295ULL)
			return -1;
	}
	*pp = p;
	*v = (uint32_t)n;
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct seqrange *)a)->lo, y = ((const struct seqrange *)b)->lo;
	return x < y ? -1 : x > y;
}

int
seqset_parse(const char *s, uint32_t star, struct seqset *set)
{
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		if (*p == ',')
			cap++;
	set->r = malloc(cap * sizeof *set->r);
	set->n = 0;
	if (set->r == NULL)
		return -1;
	const char *p = s;
	for (;;) {
		uint32_t a, b;
		if (parse_number(&p, star, &a) != 0)
			goto bad;
		b = a;
		if (*p == ':') {
			p++;
			if (parse_number(&p, star, &b) != 0)
				goto bad;
		}
		set->r[set->n].lo = a < b ? a : b;
		set->r[set->n].hi = a < b ? b : a;
		set->n++;
		if (*p == '\0')
			break;
		if (*p != ',')
			goto bad;
		p++;
	}
	qsort(set->r, set->n, sizeof *set->r, range_cmp);
	size_t out = 0;
	for (size_t i = 0; i < set->n; i++) {
		if (out > 0 && set->r[i].lo <= set->r[out - 1].hi + 1ULL) {
			if (set->r[i].hi > set->r[out - 1].hi)
				set->r[out - 1].hi = set->r[i].hi;
		} else {
			set->r[out++] = set->r[i];
		}
	}
	set->n = out;
	return 0;
bad:
	seqset_free(set);
	return -1;
}

int
seqset_contains(const struct seqset *set, uint32_t v)
{
	size_t lo = 0, hi = set->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v < set->r[mid].lo)
			hi = mid;
		else if (v > set->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

void
seqset_free(struct seqset *set)
{
	free(set->r);
	set->r = NULL;
	set->n = 0;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = ((const struct fmsg *)b)->uid;
	return x < y ? -1 : x > y;
}

/* "$": the UIDs saved by the last SEARCH with SAVE. */
static int
select_saved(struct imap *im, size_t **idx_r, size_t *n_r)
{
	struct folder *f = im->sel;
	size_t *idx = malloc((im->nsearchres ? im->nsearchres : 1) * sizeof *idx), n = 0;
	if (idx == NULL)
		return -1;
	for (size_t i = 0; i < im->nsearchres; i++) {
		const struct fmsg *m = bsearch(&im->searchres[i], f->m, f->n, sizeof *f->m, uid_cmp);
		if (m)
			idx[n++] = (size_t)(m - f->m);
	}
	*idx_r = idx;
	*n_r = n;
	return 0;
}

int
imap_select_messages(struct imap *im, const char *arg, int by_uid, size_t **idx_r, size_t *n_r)
{
	struct folder *f = im->sel;
	struct seqset set;
	*idx_r = NULL;
	*n_r = 0;
	if (strcmp(arg, "$") == 0)
		return select_saved(im, idx_r, n_r);
	uint32_t star = by_uid ? (f->n ? f->m[f->n - 1].uid : 0) : (uint32_t)f->n;
	/* An empty mailbox has no "*": "1:*" selects nothing. */
	if (seqset_parse(arg, star ? star : 1, &set) != 0)
		return -1;
	if (star == 0 && strchr(arg, '*')) {
		seqset_free(&set);
		*idx_r = malloc(sizeof **idx_r);
		return *idx_r ? 0 : -1;
	}
	size_t *idx = malloc((f->n ? f->n : 1) * sizeof *idx), n = 0;
	if (idx == NULL) {
		seqset_free(&set);
		return -1;
	}
	size_t r = 0;
	for (size_t i = 0; i < f->n && r < set.n; i++) {
		uint32_t key = by_uid ? f->m[i].uid : (uint32_t)(i + 1);
		while (r < set.n && set.r[r].hi < key)
			r++;
		if (r < set.n && key >= set.r[r].lo)
			idx[n++] = i;
	}
	seqset_free(&set);
	*idx_r = idx;
	*n_r = n;
	return 0;
}

/* The longest run is ",4294967295:4294967295"; a single UID takes at most
 * half of that, so 11 bytes per UID bound any set. */
#define SEQSET_UID_TEXT_MAX 11

int
seqset_format(struct buf *b, const uint32_t *u, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && u[j + 1] == u[j] + 1)
			j++;
		if (j > i)
			buf_printf(b, "%s%u:%u", i ? "," : "", u[i], u[j]);
		else
			buf_printf(b, "%s%u", i ? "," : "", u[i]);
		i = j + 1;
	}
	return b->err != 0 ? -1 : 0;
}

int
seqset_write(struct io *io, const uint32_t *u, size_t n)
{
	struct buf b = BUF_INIT(n < SIZE_MAX / SEQSET_UID_TEXT_MAX ? n * SEQSET_UID_TEXT_MAX : SIZE_MAX);
	size_t len;
	char *s;
	if (seqset_format(&b, u, n) != 0 || (s = buf_finish(&b, &len)) == NULL) {
		buf_free(&b);
		return -1;
	}
	int r = io_write(io, s, len);
	free(s);
	return r;
}
