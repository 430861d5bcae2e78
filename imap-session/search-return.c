/*
 * search-return.c — the RETURN options of SEARCH and SORT and the ESEARCH
 * response they ask for: MIN, MAX, ALL, COUNT (RFC 4731; in sort order
 * for SORT, RFC 5267 §3.1), SAVE (RFC 5182), and CONTEXT=SEARCH's and
 * CONTEXT=SORT's CONTEXT, UPDATE and PARTIAL (RFC 5267 §4). UPDATE's
 * later ADDTO and REMOVEFROM are search-update.c's.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "search-return.h"

/* PARTIAL's range (RFC 5267 §5: partial-range = nz-number ":" nz-number,
 * no "*"; 500:400 is 400:500) into lo <= hi. 0 or -1. */
static int
parse_range(const char *s, uint32_t *lo, uint32_t *hi)
{
	uint64_t v[2] = { 0, 0 };
	for (int k = 0; k < 2; k++) {
		const char *start = s;
		while (*s >= '0' && *s <= '9') {
			v[k] = v[k] * 10 + (uint64_t)(*s++ - '0');
			if (v[k] > UINT32_MAX)
				return -1;
		}
		if (s == start || v[k] == 0 || *s != (k == 0 ? ':' : '\0'))
			return -1;
		s++;
	}
	*lo = (uint32_t)(v[0] < v[1] ? v[0] : v[1]);
	*hi = (uint32_t)(v[0] < v[1] ? v[1] : v[0]);
	return 0;
}

int
search_parse_return(const struct imap_arg *r, struct search_return *ret)
{
	static const struct { const char *name; unsigned bit; } opts[] = {
		{ "MIN", RET_MIN }, { "MAX", RET_MAX }, { "ALL", RET_ALL },
		{ "COUNT", RET_COUNT }, { "SAVE", RET_SAVE }, { "UPDATE", RET_UPDATE },
		{ "CONTEXT", 0 },
	};
	memset(ret, 0, sizeof *ret);
	for (size_t k = 0; k < r->n; k++) {
		const struct imap_arg *a = &r->list[k];
		if (arg_is(a, "PARTIAL")) {
			/* one PARTIAL, and not with ALL (§4.4) */
			if ((ret->opts & RET_PARTIAL) || k + 1 == r->n ||
			    r->list[k + 1].type != ARG_ATOM ||
			    parse_range(r->list[k + 1].str, &ret->lo, &ret->hi) != 0)
				return -1;
			ret->opts |= RET_PARTIAL;
			k++;
			continue;
		}
		size_t j = 0;
		while (j < sizeof opts / sizeof opts[0] && !arg_is(a, opts[j].name))
			j++;
		if (j == sizeof opts / sizeof opts[0])
			return -1;
		ret->opts |= opts[j].bit;
	}
	if ((ret->opts & RET_PARTIAL) && (ret->opts & RET_ALL))
		return -1;
	if (ret->opts == 0)
		ret->opts = RET_ALL; /* RETURN () is ALL (RFC 4731 §3.1) */
	return 0;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void
search_save(struct imap *im, unsigned opts, const uint32_t *uids, size_t n)
{
	free(im->searchres);
	im->searchres = malloc((n ? n : 1) * sizeof *im->searchres);
	im->nsearchres = 0;
	/* With MIN or MAX only, only those are saved (RFC 5182 §2.4). */
	int ends_only = (opts & (RET_MIN | RET_MAX)) && !(opts & (RET_ALL | RET_COUNT));
	for (size_t k = 0; im->searchres != NULL && k < n; k++) {
		if (ends_only && !((opts & RET_MIN) && k == 0) && !((opts & RET_MAX) && k == n - 1))
			continue;
		im->searchres[im->nsearchres++] = uids[k];
	}
	/* search.c's saved_has relies on UID order */
	if (im->searchres != NULL)
		qsort(im->searchres, im->nsearchres, sizeof *im->searchres, uid_cmp);
}

/* PARTIAL (lo:hi set): results lo..hi of the result's order, as many as
 * there are; NIL when none (RFC 5267 §4.4). */
static void
write_partial(struct imap *im, const struct search_return *ret, const uint32_t *res, size_t n)
{
	io_printf(&im->io, " PARTIAL (%u:%u ", ret->lo, ret->hi);
	if (ret->lo > n) {
		io_puts(&im->io, "NIL)");
		return;
	}
	size_t end = ret->hi < n ? ret->hi : n;
	seqset_write(&im->io, res + ret->lo - 1, end - (ret->lo - 1));
	io_puts(&im->io, ")");
}

void
search_esearch(struct imap *im, const char *tag, const struct search_return *ret,
    const uint32_t *res, size_t n)
{
	unsigned opts = ret->opts;
	if (opts == RET_SAVE)
		return; /* RETURN (SAVE) alone answers nothing (RFC 5182 §2.4) */
	io_puts(&im->io, "* ESEARCH (TAG ");
	out_string(&im->io, tag, strlen(tag));
	io_puts(&im->io, ")");
	if (im->uid_command)
		io_puts(&im->io, " UID");
	/* MIN and MAX: the first and the last of the result's order */
	if ((opts & RET_MIN) && n)
		io_printf(&im->io, " MIN %u", res[0]);
	if ((opts & RET_MAX) && n)
		io_printf(&im->io, " MAX %u", res[n - 1]);
	if ((opts & RET_ALL) && n) {
		io_puts(&im->io, " ALL ");
		seqset_write(&im->io, res, n);
	}
	if (opts & RET_PARTIAL)
		write_partial(im, ret, res, n);
	if (opts & RET_COUNT)
		io_printf(&im->io, " COUNT %zu", n);
	if (ret->modseq && n)
		io_printf(&im->io, " MODSEQ %" PRIu64, ret->modseq);
	io_puts(&im->io, "\r\n");
}
