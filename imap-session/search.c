/*
 * search.c — SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH return
 * options (RFC 4731) and SEARCHRES "$" (RFC 5182): the command. Its keys,
 * their run over the folder and its budget (S51) are search-prog.c's;
 * RETURN and ESEARCH search-return.c's; UPDATE contexts search-update.c's.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include "imap.h"
#include "search-prog.h"
#include "search-return.h"
#include "search-update.h"

/* The numbers (sequence or UID) of the messages idx[0..n) into a
 * malloc'd array, NULL when out of memory. */
static uint32_t *
numbers(struct imap *im, const size_t *idx, size_t n)
{
	uint32_t *res = malloc((n ? n : 1) * sizeof *res);
	for (size_t k = 0; res != NULL && k < n; k++)
		res[k] = im->uid_command ? im->sel->m[idx[k]].uid : (uint32_t)(idx[k] + 1);
	return res;
}

/* SAVE and UPDATE: the result's UIDs become "$", and the program an
 * UPDATE context's (taken). */
static void
keep_result(struct imap *im, const char *tag, const struct search_return *ret, const size_t *idx,
    size_t n, struct snode *prog)
{
	uint32_t *uids = malloc((n ? n : 1) * sizeof *uids);
	for (size_t k = 0; uids != NULL && k < n; k++)
		uids[k] = im->sel->m[idx[k]].uid;
	if (ret->opts & RET_SAVE)
		search_save(im, ret->opts, uids, uids != NULL ? n : 0);
	if (prog != NULL)
		search_update_add(im, tag, prog, uids, uids != NULL ? n : 0, NULL);
	free(uids);
}

/* The MODSEQ of a result (RFC 7162 §3.1.5, RFC 4731 §3.2): the highest
 * of the messages returned, which are the first and last alone when
 * MIN or MAX alone is asked. */
static uint64_t
search_modseq(struct imap *im, const struct search_return *ret, const size_t *idx, size_t n)
{
	if (n == 0)
		return 0;
	if (ret->opts && !(ret->opts & ~(unsigned)(RET_MIN | RET_MAX | RET_SAVE))) {
		uint64_t h = 0;
		if (ret->opts & RET_MIN)
			h = im->sel->m[idx[0]].modseq;
		if ((ret->opts & RET_MAX) && im->sel->m[idx[n - 1]].modseq > h)
			h = im->sel->m[idx[n - 1]].modseq;
		if (h)
			return h;
	}
	return condstore_highest_of(im->sel, idx, n);
}

enum verdict
cmd_search(struct imap *im, struct imap_command *c)
{
	size_t i = 0;
	struct search_return ret = { 0, 0, 0, 0 };
	int esearch = 0;
	if (i + 1 < c->n && arg_is(&c->args[i], "RETURN") && c->args[i + 1].type == ARG_LIST) {
		esearch = 1;
		if (search_parse_return(&c->args[i + 1], &ret) != 0)
			return verdict(im, V_BAD, "Invalid RETURN options");
		i += 2;
	}
	/* RFC 5267 §4.3: a tag an UPDATE context has is not taken again */
	if ((ret.opts & RET_UPDATE) && search_update_tag_used(im, c->tag))
		return verdict(im, V_BAD, "Tag reuse (an UPDATE context has it)");
	const struct imap_arg *cs = NULL;
	if (i + 1 < c->n && arg_is(&c->args[i], "CHARSET")) {
		cs = &c->args[i + 1];
		i += 2;
	}
	struct sbudget b;
	struct snode *prog = NULL;
	size_t n = 0, *idx = NULL;
	search_budget_start(&b, &im->s.conf);
	enum verdict v = search_messages_keep(im, cs, c->args + i, c->n - i, &b, &idx, &n,
	    (ret.opts & RET_UPDATE) ? &prog : NULL);
	folder_cache_flush(im->sel);
	if (v != V_OK)
		return v;
	if (b.over) {
		free(idx);
		/* no result, and a SAVE leaves "$" empty rather than holding an
		 * older result the client did not ask for */
		if (ret.opts & RET_SAVE)
			search_save(im, ret.opts, NULL, 0);
		return search_over_budget(im, &b, "Search", b.done);
	}
	uint32_t *res = numbers(im, idx, n);
	if (res == NULL) {
		free(idx);
		search_prog_free(&prog);
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	}
	if (!esearch && im->rev2) {
		esearch = 1;
		ret.opts = RET_ALL;
	}
	ret.modseq = im->search_modseq ? search_modseq(im, &ret, idx, n) : 0;
	if (!esearch) {
		io_puts(&im->io, "* SEARCH");
		for (size_t k = 0; k < n; k++)
			io_printf(&im->io, " %u", res[k]);
		if (ret.modseq && n)
			io_printf(&im->io, " (MODSEQ %" PRIu64 ")", ret.modseq);
		io_puts(&im->io, "\r\n");
	} else {
		search_esearch(im, c->tag, &ret, res, n);
	}
	/* after the answer, so that a NOUPDATE follows it (§4.3.1) */
	keep_result(im, c->tag, &ret, idx, n, prog);
	free(idx);
	free(res);
	return verdict(im, V_OK, "%s completed", c->name);
}
