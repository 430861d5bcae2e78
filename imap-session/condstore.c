/*
 * condstore.c — CONDSTORE (RFC 7162 §3.1): the session's switch, the
 * MODSEQ data item and the modifiers (CHANGEDSINCE, UNCHANGEDSINCE) the
 * commands take. The modseqs themselves are the store's (fmsg.modseq,
 * folder_highestmodseq(): lib/folder-modseq.c).
 *
 * CONDSTORE is on once the client uses it (ENABLE CONDSTORE, SELECT
 * (CONDSTORE), FETCH MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE, SEARCH
 * MODSEQ: RFC 7162 §3.1); from then on every FETCH that tells a flag
 * change carries MODSEQ, and SELECT/EXAMINE say HIGHESTMODSEQ (every
 * folder has persistent modseqs here: NOMODSEQ is never said).
 */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "imap.h"

int
condstore_parse_modseq(const char *s, int zero_ok, uint64_t *v)
{
	uint64_t n = 0;
	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	while (s[0] == '0' && s[1] != '\0')
		s++;   /* 1*DIGIT: leading zeros count for nothing */
	if (strlen(s) > 19)   /* n * 10 below stays under 2^64 */
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	/* mod-sequence-value: 1 .. 2^63-1 (RFC 7162 §7) */
	if (n > INT64_MAX || (n == 0 && !zero_ok))
		return -1;
	*v = n;
	return 0;
}

void
condstore_enable(struct imap *im)
{
	if (im->condstore)
		return;
	im->condstore = 1;
	/* §3.1: the first enabling command in a selected mailbox says its
	 * HIGHESTMODSEQ, which SELECT did not */
	if (im->sel != NULL)
		condstore_select_ok(im);
}

void
condstore_select_ok(struct imap *im)
{
	io_printf(&im->io, "* OK [HIGHESTMODSEQ %" PRIu64 "] Highest\r\n",
	    folder_highestmodseq(im->sel));
}

void
condstore_out_modseq(struct imap *im, const struct fmsg *m, const char *sep)
{
	io_printf(&im->io, "%sMODSEQ (%" PRIu64 ")", sep, m->modseq);
}

/* "(NAME value)" with value a mod-sequence, as the one modifier of a
 * FETCH or STORE. 0 (found, *v set), 1 (not this modifier), -1 (BAD). */
int
condstore_modifier(const struct imap_arg *a, const char *name, int zero_ok, uint64_t *v)
{
	if (a->type != ARG_LIST || a->n == 0 || !arg_is(&a->list[0], name))
		return 1;
	if (a->n != 2 || a->list[1].type != ARG_ATOM ||
	    condstore_parse_modseq(a->list[1].str, zero_ok, v) != 0)
		return -1;
	return 0;
}

int
condstore_select_params(struct imap *im, const struct imap_arg *a)
{
	if (a->type != ARG_LIST || a->n == 0)
		return -1;
	for (size_t i = 0; i < a->n; i++)
		if (!arg_is(&a->list[i], "CONDSTORE"))
			return -1;
	im->condstore = 1;
	return 0;
}

uint64_t
condstore_highest_of(const struct folder *f, const size_t *idx, size_t n)
{
	uint64_t h = 0;
	for (size_t i = 0; i < n; i++)
		if (f->m[idx[i]].modseq > h)
			h = f->m[idx[i]].modseq;
	return h;
}

int
condstore_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}
