/*
 * search-return.h — the RETURN options of SEARCH and SORT and their
 * ESEARCH response (search-return.c, RFC 4731, RFC 5182, RFC 5267).
 */
#ifndef IMAP_SEARCH_RETURN_H
#define IMAP_SEARCH_RETURN_H

#include <stdint.h>

#include "imap.h"

/* RETURN options of SEARCH (RFC 4731, RFC 5182) and SORT (RFC 5267):
 * PARTIAL and UPDATE are CONTEXT=SEARCH's and CONTEXT=SORT's (§4.3,
 * §4.4); CONTEXT, a hint, is taken and has no effect (§4.2). */
enum search_ret {
	RET_MIN = 1, RET_MAX = 2, RET_ALL = 4, RET_COUNT = 8, RET_SAVE = 16, RET_PARTIAL = 32,
	RET_UPDATE = 64,
};
struct search_return {
	unsigned opts;          /* RET_* */
	uint32_t lo, hi;        /* PARTIAL lo:hi, lo <= hi, both from 1 */
	uint64_t modseq;        /* MODSEQ to give (RFC 7162 §3.1.5), 0: none */
};

/* The RETURN list r into *ret (an empty list, or CONTEXT alone, is ALL).
 * 0, or -1 (BAD) for an unknown option, a PARTIAL range that is not
 * nz-number:nz-number, PARTIAL twice, or PARTIAL with ALL (§4.4). */
int search_parse_return(const struct imap_arg *r, struct search_return *ret);
/* SAVE: uids[0..n), the result's UIDs in its order, become "$" (only the
 * first and last with MIN or MAX alone); opts: RET_*. */
void search_save(struct imap *im, unsigned opts, const uint32_t *uids, size_t n);
/* The ESEARCH response for tag: res[0..n) in the result's order. */
void search_esearch(struct imap *im, const char *tag, const struct search_return *ret,
    const uint32_t *res, size_t n);

#endif
