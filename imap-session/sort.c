/*
 * sort.c — SORT and UID SORT (RFC 5256 §3), the DISPLAYFROM and DISPLAYTO
 * keys of SORT=DISPLAY (RFC 5957) and SORT's RETURN options of ESORT
 * (RFC 5267 §3: MIN, MAX, COUNT, ALL; and SAVE of SEARCHRES, RFC 5182).
 *
 * The messages are chosen by SEARCH's keys (search-prog.c), then each gets
 * its sort keys once (sort-keys.c): numbers (arrival, sent date, size)
 * and strings (base subject, first address, display name) in
 * i;unicode-casemap form (RFC 5051: titlecase and decomposition,
 * casemap.h) to compare. The keys are worked out once per message and
 * kept in the folder's keys cache file (folder-keys.c,
 * lib/mcache-keys.h), so a warm SORT opens no message file and parses no
 * header field; on a miss they come from the cached header fields or the
 * message's header, whose parse fills the cache. Reading a header spends
 * SEARCH's budget (S51): past it the command ends with NO [LIMIT]. Memory
 * is the keys, linear in the messages chosen. Messages equal on every key
 * are in sequence order, whatever REVERSE says (RFC 5256: the final
 * tie-break).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "imap.h"
#include "search-prog.h"
#include "search-return.h"
#include "search-update.h"
#include "sort-keys.h"
#include "sort.h"

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
	if (*i + 2 > c->n || c->args[*i].type != ARG_LIST || sort_parse_spec(&c->args[*i], sp) != 0)
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
	sort_items_free(items, n, &sp);
	if (v != V_OK)
		return v;
	if (res == NULL)
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	free(res);
	return verdict(im, V_OK, "%s completed", c->name);
}
