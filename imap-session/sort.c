/*
 * sort.c — SORT and UID SORT (RFC 5256 §3), the DISPLAYFROM and DISPLAYTO
 * keys of SORT=DISPLAY (RFC 5957) and SORT's RETURN options of ESORT
 * (RFC 5267 §3: MIN, MAX, COUNT, ALL; and SAVE of SEARCHRES, RFC 5182).
 *
 * The messages are chosen by SEARCH's keys (search.c), then each gets its
 * sort keys once: numbers (arrival, sent date, size) and strings (base
 * subject, first address, display name) in i;unicode-casemap form
 * (RFC 5051: titlecase and decomposition, casemap.h) to compare. The
 * keys are worked out once per message and kept in the folder's keys
 * cache file (folder-keys.c, lib/mcache-keys.h), so a warm SORT opens no
 * message file and parses no header field; on a miss they come from the
 * cached header fields or the message's header, whose parse fills the
 * cache. Reading a header spends SEARCH's budget (S51): past it the
 * command ends with NO [LIMIT]. Memory is the
 * keys, linear in the messages chosen. Messages equal on every key are in
 * sequence order, whatever REVERSE says (RFC 5256: the final tie-break).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "mcache-keys.h"
#include "mime.h"
#include "search-update.h"
#include "search.h"
#include "sort.h"

enum skey { K_ARRIVAL, K_CC, K_DATE, K_FROM, K_SIZE, K_SUBJECT, K_TO, K_DISPLAYFROM, K_DISPLAYTO };

/* Each key is named at most once in a sensible program; REVERSE aside
 * there are nine. Twice as many allowed, no more (S32). */
#define SORT_KEYS_MAX 18

struct sortspec {
	enum skey k[SORT_KEYS_MAX];
	int reverse[SORT_KEYS_MAX];
	size_t n;
};

union sval {
	int64_t num;
	char *str;
};

struct sitem {
	size_t idx;              /* in the folder when the keys were made */
	uint32_t uid;            /* the final tie-break: sequence (UID) order */
	union sval v[];
};

/* A SORT's keys kept for its UPDATE context (search-update.c): items in
 * the sort order. */
struct sort_update {
	struct sortspec sp;
	struct sitem **items;
	size_t n, cap;
};

static int
is_string_key(enum skey k)
{
	return k != K_ARRIVAL && k != K_DATE && k != K_SIZE;
}

static int
parse_spec(const struct imap_arg *list, struct sortspec *sp)
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

static void
items_free(struct sitem **items, size_t n, const struct sortspec *sp)
{
	for (size_t i = 0; items && i < n; i++) {
		for (size_t k = 0; items[i] && k < sp->n; k++)
			if (is_string_key(sp->k[k]))
				free(items[i]->v[k].str);
		free(items[i]);
	}
	free(items);
}

/* RFC 7162 §3.1.5: after a MODSEQ key, the highest modseq of the
 * messages returned (the first and last in sort order for MIN or MAX
 * alone). */
static uint64_t
sort_modseq(struct imap *im, unsigned opts, struct sitem **items, size_t n)
{
	uint64_t h = 0;
	int ends = opts && !(opts & ~(unsigned)(RET_MIN | RET_MAX | RET_SAVE));
	for (size_t k = 0; k < n; k++) {
		if (ends && !((k == 0 && (opts & RET_MIN)) || (k == n - 1 && (opts & RET_MAX))))
			continue;
		uint64_t ms = im->sel->m[items[k]->idx].modseq;
		h = ms > h ? ms : h;
	}
	return h;
}

static void
reply(struct imap *im, const struct imap_command *c, int esort, struct search_return *ret,
    const uint32_t *res, size_t n, struct sitem **items)
{
	ret->modseq = im->search_modseq ? sort_modseq(im, ret->opts, items, n) : 0;
	if (!esort) {
		io_puts(&im->io, "* SORT");
		for (size_t k = 0; k < n; k++)
			io_printf(&im->io, " %u", res[k]);
		if (ret->modseq && n)
			io_printf(&im->io, " (MODSEQ %" PRIu64 ")", ret->modseq);
		io_puts(&im->io, "\r\n");
		return;
	}
	search_esearch(im, c->tag, ret, res, n);
}

/* SAVE (RFC 5182, as Dovecot takes it on SORT): the UIDs of the result
 * become "$", kept in UID order as SEARCH keeps them; with MIN or MAX and
 * neither ALL nor COUNT only those (first and last in sort order). A
 * failed command (ok 0) leaves "$" empty. */
static void
save_result(struct imap *im, unsigned opts, struct sitem **items, size_t n, int ok)
{
	uint32_t *uids = ok ? malloc((n ? n : 1) * sizeof *uids) : NULL;
	for (size_t k = 0; uids != NULL && k < n; k++)
		uids[k] = im->sel->m[items[k]->idx].uid;
	search_save(im, opts, uids, uids != NULL ? n : 0);
	free(uids);
}

/* The sorted numbers (sequence or UID) of items into a malloc'd array. */
static uint32_t *
numbers(struct imap *im, struct sitem **items, size_t n)
{
	uint32_t *res = malloc((n ? n : 1) * sizeof *res);
	for (size_t k = 0; res && k < n; k++)
		res[k] = im->uid_command ? im->sel->m[items[k]->idx].uid : (uint32_t)(items[k]->idx + 1);
	return res;
}

/* Keys of every chosen message, sorted: V_OK or the verdict to give. */
static enum verdict
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

/* RETURN (UPDATE): the result's keys and program go on living in an
 * UPDATE context (search-update.c); items is taken (NULL on return). */
static void
keep_context(struct imap *im, const char *tag, const struct sortspec *sp, struct snode *prog,
    struct sitem ***items, size_t n)
{
	struct sort_update *su = calloc(1, sizeof *su);
	uint32_t *uids = malloc((n ? n : 1) * sizeof *uids);
	if (su == NULL || uids == NULL) {
		free(su);
		free(uids);
		search_update_add(im, tag, prog, NULL, 0, NULL); /* NO [NOUPDATE] */
		return;
	}
	su->sp = *sp;
	su->items = *items;
	su->n = su->cap = n;
	*items = NULL;
	for (size_t k = 0; k < n; k++)
		uids[k] = su->items[k]->uid;
	search_update_add(im, tag, prog, uids, n, su);
	free(uids);
}

/* The RETURN list (ESORT, CONTEXT=SORT) and the sort program of c:
 * V_OK with *i past them, or BAD. */
static enum verdict
parse_head(struct imap *im, struct imap_command *c, size_t *i, struct search_return *ret,
    int *esort, struct sortspec *sp)
{
	if (*i + 1 < c->n && arg_is(&c->args[*i], "RETURN") && c->args[*i + 1].type == ARG_LIST) {
		if (search_parse_return(&c->args[*i + 1], ret) != 0)
			return verdict(im, V_BAD, "Invalid RETURN options");
		*esort = 1;
		*i += 2;
	}
	if ((ret->opts & RET_UPDATE) && search_update_tag_used(im, c->tag))
		return verdict(im, V_BAD, "Tag reuse (an UPDATE context has it)");
	if (*i + 2 > c->n || c->args[*i].type != ARG_LIST || parse_spec(&c->args[*i], sp) != 0)
		return verdict(im, V_BAD, "Invalid sort criteria");
	if (!arg_is_string(&c->args[*i + 1]))
		return verdict(im, V_BAD, "Missing charset");
	if (*i + 2 == c->n)
		return verdict(im, V_BAD, "Missing search criteria");
	return V_OK;
}

enum verdict
cmd_sort(struct imap *im, struct imap_command *c)
{
	size_t i = 0, n = 0, *idx = NULL;
	struct search_return ret = { 0, 0, 0, 0 };
	int esort = 0;
	struct sortspec sp;
	struct snode *prog = NULL;
	enum verdict v = parse_head(im, c, &i, &ret, &esort, &sp);
	if (v != V_OK)
		return v;
	struct sbudget b;
	search_budget_start(&b, &im->s.conf);
	v = search_messages_keep(im, &c->args[i + 1], c->args + i + 2, c->n - i - 2, &b, &idx, &n,
	    (ret.opts & RET_UPDATE) ? &prog : NULL);
	if (v != V_OK)
		return v;
	if (b.over) {
		free(idx);
		search_prog_free(&prog);
		if (ret.opts & RET_SAVE)
			save_result(im, ret.opts, NULL, 0, 0);
		return search_over_budget(im, &b, "Sort", b.done);
	}
	struct sitem **items = calloc(n ? n : 1, sizeof *items);
	v = items ? sort_items(im, &sp, idx, n, &b, items)
	    : verdict(im, V_NO, "[SERVERBUG] Out of memory");
	folder_cache_flush(im->sel);
	free(idx);
	if (ret.opts & RET_SAVE)
		save_result(im, ret.opts, items, n, v == V_OK);
	uint32_t *res = v == V_OK ? numbers(im, items, n) : NULL;
	if (res != NULL)
		reply(im, c, esort, &ret, res, n, items);
	/* after the answer, so that a NOUPDATE follows it (§4.3.1) */
	if (res != NULL && prog != NULL)
		keep_context(im, c->tag, &sp, prog, &items, n);
	else
		search_prog_free(&prog);
	items_free(items, n, &sp);
	if (v != V_OK)
		return v;
	if (res == NULL)
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	free(res);
	return verdict(im, V_OK, "%s completed", c->name);
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
		items_free(nw, nw ? n : 0, &su->sp);
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
	items_free((*su)->items, (*su)->n, &(*su)->sp);
	free(*su);
	*su = NULL;
}
