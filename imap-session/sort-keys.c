/*
 * sort-keys.c — a SORT's keys (RFC 5256 §2, RFC 5957): the sort program,
 * each message's keys from the keys cache (folder-keys.c,
 * lib/mcache-keys.h) or its header fields, their order, and the keys an
 * UPDATE context keeps (search-update.c) so that a message that comes is
 * put in its place. SORT (sort.c) and THREAD (thread.c) use them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "mcache-keys.h"
#include "mime.h"
#include "search-prog.h"
#include "sort-keys.h"

static int
is_string_key(enum skey k)
{
	return k != K_ARRIVAL && k != K_DATE && k != K_SIZE;
}

int
sort_parse_spec(const struct imap_arg *list, struct sortspec *sp)
{
	static const struct { const char *name; enum skey k; } names[] = {
		{ "ARRIVAL", K_ARRIVAL }, { "CC", K_CC }, { "DATE", K_DATE }, { "FROM", K_FROM },
		{ "SIZE", K_SIZE }, { "SUBJECT", K_SUBJECT }, { "TO", K_TO },
		{ "DISPLAYFROM", K_DISPLAYFROM }, { "DISPLAYTO", K_DISPLAYTO },
	};
	int reverse = 0;
	sp->n = 0;
	for (size_t i = 0; i < list->n; i++) {
		const struct imap_arg *a = &list->list[i];
		if (arg_is(a, "REVERSE")) {
			if (reverse)
				return -1;
			reverse = 1;
			continue;
		}
		size_t j = 0;
		while (j < sizeof names / sizeof names[0] && !arg_is(a, names[j].name))
			j++;
		if (j == sizeof names / sizeof names[0] || sp->n == SORT_KEYS_MAX)
			return -1;
		sp->k[sp->n] = names[j].k;
		sp->reverse[sp->n++] = reverse;
		reverse = 0;
	}
	return sp->n == 0 || reverse ? -1 : 0;
}

const struct mime_message *
sort_fields(struct imap *im, size_t idx, struct sbudget *b)
{
	if (search_budget_spent(b))
		return NULL;
	const struct mime_message *mm = folder_fields_mime(im->sel, idx);
	if (mm == NULL && (mm = folder_mime_header(im->sel, idx)) != NULL)
		b->bytes += mm->root->hdr_len;
	return mm;
}

/* The keys of message idx from the cache, else from the parse of its
 * header, which records them (folder_cache_fill), or they are made here
 * (from the cached header fields) and recorded. */
int
sort_keys(struct imap *im, size_t idx, struct sbudget *b, struct mkeys *k, char **buf_r)
{
	size_t n;
	char *s = folder_view_cached(im->sel, idx, FOLDER_VIEW_SORTKEYS, &n);
	if (s == NULL || mkeys_parse(s, n, k) != 0) {
		free(s);
		const struct mime_message *mm = sort_fields(im, idx, b);
		if (mm == NULL && b->over)
			return 1;
		s = mm ? folder_view_cached(im->sel, idx, FOLDER_VIEW_SORTKEYS, &n) : NULL;
		if (s == NULL || mkeys_parse(s, n, k) != 0) {
			free(s);
			if ((s = mkeys_render(mm, &n)) == NULL || mkeys_parse(s, n, k) != 0) {
				free(s);
				return -1;
			}
			/* made from cached fields: recorded for the next time */
			if (mm != NULL)
				folder_keys_put(im->sel, idx, s, n);
		}
	}
	*buf_r = s;
	return 0;
}

int64_t
sort_sent_date(struct imap *im, size_t idx, const struct mkeys *k)
{
	/* no usable Date: the INTERNALDATE stands in (RFC 5256 §2.2) */
	return k->has_date ? k->date : (int64_t)folder_internaldate(im->sel, idx);
}

static const char *
string_key(const struct mkeys *k, enum skey key)
{
	switch (key) {
	case K_CC:
		return k->cc;
	case K_FROM:
		return k->from;
	case K_TO:
		return k->to;
	case K_DISPLAYFROM:
		return k->dfrom;
	case K_DISPLAYTO:
		return k->dto;
	default:
		return k->subject;
	}
}

/* The keys of message it->idx: 0, 1 (budget spent) or -1 (ENOMEM). */
static int
fill_keys(struct imap *im, const struct sortspec *sp, struct sitem *it, struct sbudget *b)
{
	struct mkeys keys;
	char *buf = NULL;
	int need_header = 0, r = 0;
	for (size_t k = 0; k < sp->n; k++)
		need_header |= sp->k[k] != K_ARRIVAL && sp->k[k] != K_SIZE;
	if (need_header && (r = sort_keys(im, it->idx, b, &keys, &buf)) != 0)
		return r;
	for (size_t k = 0; k < sp->n && r == 0; k++) {
		switch (sp->k[k]) {
		case K_ARRIVAL:
			it->v[k].num = (int64_t)folder_internaldate(im->sel, it->idx);
			break;
		case K_SIZE:
			it->v[k].num = (int64_t)folder_size(im->sel, it->idx);
			break;
		case K_DATE:
			it->v[k].num = sort_sent_date(im, it->idx, &keys);
			break;
		default:
			if ((it->v[k].str = strdup(string_key(&keys, sp->k[k]))) == NULL)
				r = -1;
		}
	}
	free(buf);
	return r;
}

static int
item_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct sortspec *sp = ctx;
	const struct sitem *a = *(const struct sitem *const *)pa, *b = *(const struct sitem *const *)pb;
	for (size_t k = 0; k < sp->n; k++) {
		int c;
		if (is_string_key(sp->k[k]))
			c = strcmp(a->v[k].str, b->v[k].str);
		else
			c = a->v[k].num < b->v[k].num ? -1 : a->v[k].num > b->v[k].num;
		if (c != 0)
			return sp->reverse[k] ? -c : c;
	}
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

void
sort_items_free(struct sitem **items, size_t n, const struct sortspec *sp)
{
	for (size_t i = 0; items && i < n; i++) {
		for (size_t k = 0; items[i] && k < sp->n; k++)
			if (is_string_key(sp->k[k]))
				free(items[i]->v[k].str);
		free(items[i]);
	}
	free(items);
}

/* Keys of every chosen message, sorted: V_OK or the verdict to give. */
enum verdict
sort_items(struct imap *im, const struct sortspec *sp, const size_t *idx, size_t n,
    struct sbudget *b, struct sitem **items)
{
	for (size_t i = 0; i < n; i++) {
		items[i] = calloc(1, sizeof *items[i] + sp->n * sizeof items[i]->v[0]);
		if (items[i] == NULL)
			return verdict(im, V_NO, "[SERVERBUG] Out of memory");
		items[i]->idx = idx[i];
		items[i]->uid = im->sel->m[idx[i]].uid;
		for (size_t k = 0; k < sp->n; k++)
			if (is_string_key(sp->k[k]))
				items[i]->v[k].str = NULL;
		int r = fill_keys(im, sp, items[i], b);
		if (r > 0)
			return search_over_budget(im, b, "Sort", i);
		if (r < 0)
			return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	}
	qsort_r(items, n, sizeof *items, item_cmp, (void *)(uintptr_t)sp);
	return V_OK;
}

/* ---- the keys of an UPDATE context (search-update.c) ---- */

int
sort_update_add(struct sort_update *su, struct imap *im, const size_t *idx, size_t n,
    struct sbudget *b)
{
	struct sitem **nw = calloc(n ? n : 1, sizeof *nw), **all = NULL;
	int r = nw == NULL ? -1 : 0;
	for (size_t k = 0; k < n && r == 0; k++) {
		if ((nw[k] = calloc(1, sizeof *nw[k] + su->sp.n * sizeof nw[k]->v[0])) == NULL) {
			r = -1;
			break;
		}
		nw[k]->idx = idx[k];
		nw[k]->uid = im->sel->m[idx[k]].uid;
		r = fill_keys(im, &su->sp, nw[k], b);
	}
	if (r == 0 && (all = malloc((su->n + n ? su->n + n : 1) * sizeof *all)) == NULL)
		r = -1;
	if (r != 0) {
		sort_items_free(nw, nw ? n : 0, &su->sp);
		return r;
	}
	/* sorted among themselves, then merged: O(n log n + su->n) */
	qsort_r(nw, n, sizeof *nw, item_cmp, &su->sp);
	size_t i = 0, j = 0, w = 0;
	while (i < su->n || j < n)
		all[w++] = j == n || (i < su->n && item_cmp(&su->items[i], &nw[j], &su->sp) < 0)
		    ? su->items[i++] : nw[j++];
	free(su->items);
	free(nw);
	su->items = all;
	su->n = su->cap = w;
	return 0;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void
sort_update_remove(struct sort_update *su, const uint32_t *uids, size_t n)
{
	size_t w = 0;
	for (size_t k = 0; k < su->n; k++) {
		struct sitem *it = su->items[k];
		if (n == 0 || bsearch(&it->uid, uids, n, sizeof *uids, uid_cmp) == NULL) {
			su->items[w++] = it;
			continue;
		}
		for (size_t j = 0; j < su->sp.n; j++)
			if (is_string_key(su->sp.k[j]))
				free(it->v[j].str);
		free(it);
	}
	su->n = w;
}

uint32_t
sort_update_uid(const struct sort_update *su, size_t pos)
{
	return su->items[pos]->uid;
}

void
sort_update_free(struct sort_update **su)
{
	if (*su == NULL)
		return;
	sort_items_free((*su)->items, (*su)->n, &(*su)->sp);
	free(*su);
	*su = NULL;
}
