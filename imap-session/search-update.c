/*
 * search-update.c — UPDATE contexts (RFC 5267 §4.3): a SEARCH or SORT
 * with RETURN (UPDATE) leaves its program and result here, and each time
 * the session reports changes the result is brought up to date and the
 * client told: "* ESEARCH (TAG "t") [UID] REMOVEFROM (...) ADDTO (...)".
 *
 * What changed is found without asking the store: one snapshot per
 * session of each known message's UID and flags, taken at the last
 * update, is compared with the folder's messages (both in UID order). A
 * message that is new, or whose flags or keywords differ, is matched
 * again against each context's program; nothing else can change a
 * match, since the other keys (dates, sizes, headers, text) are fixed for
 * a message and sequence sets were turned into UIDs when the context was
 * made (search_prog_keep). So an update costs one pass over the UIDs and
 * a match per changed message, not a new search.
 *
 * SEARCH results are in mailbox order: their changes go out with context
 * position 0 and the numbers as one set (§4.3.3, §4.3.4: RECOMMENDED).
 * SORT results keep their keys (sort-keys.c's sort_update): an added message
 * is put in its place by the keys, and changes go out as pairs of a
 * position (from 1) and the run of numbers there, REMOVEFROM runs from
 * the last, ADDTO runs from the first, so that each pair's position holds
 * when the client applies them in order (§4.3.2).
 *
 * Re-matching spends a SEARCH budget per context and update (S51); a
 * context that runs out, or out of memory, is dropped with
 * "* NO [NOUPDATE tag]" rather than left wrong.
 */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "imap.h"
#include "search-update.h"
#include "search-prog.h"
#include "sort-keys.h"

struct snap {
	uint32_t uid;
	unsigned flags;
	uint32_t keywords;
};

struct context {
	char *tag;
	int uid;                 /* UID SEARCH or UID SORT: UIDs, else sequence numbers */
	struct snode *prog;
	struct sort_update *su;  /* SORT: the keys in sort order; NULL: SEARCH */
	uint32_t *members;       /* the result's UIDs, ascending */
	size_t n, cap;
};

struct search_updates {
	struct context c[IMAP_SEARCH_UPDATES_MAX];
	size_t n;
	struct snap *snap;       /* the known messages at the last update */
	size_t nsnap;
};

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void
context_free(struct context *c)
{
	free(c->tag);
	search_prog_free(&c->prog);
	sort_update_free(&c->su);
	free(c->members);
	memset(c, 0, sizeof *c);
}

static int
is_member(const struct context *c, uint32_t uid)
{
	return c->n && bsearch(&uid, c->members, c->n, sizeof uid, uid_cmp) != NULL;
}

/* uids[0..n) (ascending) leave c: one pass, however many leave. */
static void
members_remove(struct context *c, const uint32_t *uids, size_t n)
{
	size_t j = 0, w = 0;
	if (n == 0)
		return;
	for (size_t i = 0; i < c->n; i++) {
		while (j < n && uids[j] < c->members[i])
			j++;
		if (j == n || uids[j] != c->members[i])
			c->members[w++] = c->members[i];
	}
	c->n = w;
	if (c->su != NULL)
		sort_update_remove(c->su, uids, n);
}

/* uids[0..n) (ascending, none in c) join c's members, merged from the
 * end. 0, or -1 (ENOMEM). */
static int
members_add(struct context *c, const uint32_t *uids, size_t n)
{
	if (c->n + n > c->cap) {
		size_t cap = c->n + n > 2 * c->cap ? c->n + n : 2 * c->cap;
		uint32_t *v = realloc(c->members, cap * sizeof *v);
		if (v == NULL)
			return -1;
		c->members = v;
		c->cap = cap;
	}
	size_t i = c->n, j = n, w = c->n + n;
	while (j > 0)
		c->members[--w] = i > 0 && c->members[i - 1] > uids[j - 1] ? c->members[--i]
		    : uids[--j];
	c->n += n;
	return 0;
}

static uint32_t
number(struct imap *im, const struct context *c, uint32_t uid)
{
	return c->uid ? uid : (uint32_t)(folder_index_of(im->sel, uid) + 1);
}

/* " WORD (0 set)": a SEARCH context's change, uids ascending. 0, or -1
 * (ENOMEM: nothing written). */
static int
write_search_change(struct imap *im, const struct context *c, const char *word,
    const uint32_t *uids, size_t n)
{
	uint32_t *nums = malloc(n * sizeof *nums);
	if (nums == NULL)
		return -1;
	for (size_t k = 0; k < n; k++)
		nums[k] = number(im, c, uids[k]);
	io_printf(&im->io, " %s (0 ", word);
	seqset_write(&im->io, nums, n);
	io_puts(&im->io, ")");
	free(nums);
	return 0;
}

/* " WORD (pos set ...)": a SORT context's change, the positions (from 0)
 * of the messages uids (ascending) in c->su, in runs of consecutive
 * positions, the runs last first (REMOVEFROM) or first first (ADDTO).
 * 0, or -1 (ENOMEM: nothing written). */
static int
write_sort_change(struct imap *im, const struct context *c, const char *word,
    const uint32_t *uids, size_t n, int last_first)
{
	size_t *pos = malloc(n * sizeof *pos), k = 0;
	uint32_t *nums = malloc(n * sizeof *nums);
	int r = pos == NULL || nums == NULL ? -1 : 0;
	if (r != 0)
		goto done;
	for (size_t p = 0; p < c->n && k < n; p++) {
		uint32_t uid = sort_update_uid(c->su, p);
		if (bsearch(&uid, uids, n, sizeof uid, uid_cmp) != NULL) {
			pos[k] = p;
			nums[k++] = number(im, c, uid);
		}
	}
	io_printf(&im->io, " %s (", word);
	const char *sep = "";
	for (size_t told = 0; told < k;) {
		/* the run [a, b) of consecutive positions, taken in the order asked */
		size_t a, b;
		if (last_first) {
			b = k - told;
			a = b - 1;
			while (a > 0 && pos[a - 1] + 1 == pos[a])
				a--;
		} else {
			a = told;
			b = a + 1;
			while (b < k && pos[b - 1] + 1 == pos[b])
				b++;
		}
		io_printf(&im->io, "%s%zu ", sep, pos[a] + 1);
		seqset_write(&im->io, nums + a, b - a);
		sep = " ";
		told += b - a;
	}
	io_puts(&im->io, ")");
done:
	free(pos);
	free(nums);
	return r;
}

static void
write_head(struct imap *im, const struct context *c)
{
	io_puts(&im->io, "* ESEARCH (TAG ");
	out_string(&im->io, c->tag, strlen(c->tag));
	io_puts(&im->io, c->uid ? ") UID" : ")");
}

/* Tells and applies a context's change: rem (UIDs, ascending) leave,
 * add (UIDs, ascending, their indexes addidx) join. 0; 1 (budget spent)
 * or -1 (ENOMEM) when the context cannot go on (the client may have been
 * told part of the change: it gets NOUPDATE next, and drops it too). */
static int
apply(struct imap *im, struct context *c, const uint32_t *rem, size_t nr, const uint32_t *add,
    const size_t *addidx, size_t na, struct sbudget *b)
{
	if (nr == 0 && na == 0)
		return 0;
	write_head(im, c);
	int r = 0;
	if (nr > 0) {
		r = c->su != NULL ? write_sort_change(im, c, "REMOVEFROM", rem, nr, 1)
		    : write_search_change(im, c, "REMOVEFROM", rem, nr);
		members_remove(c, rem, nr);
	}
	if (na > 0 && r == 0 && c->su != NULL)
		r = sort_update_add(c->su, im, addidx, na, b);
	if (na > 0 && r == 0)
		r = members_add(c, add, na);
	if (na > 0 && r == 0)
		r = c->su != NULL ? write_sort_change(im, c, "ADDTO", add, na, 0)
		    : write_search_change(im, c, "ADDTO", add, na);
	io_puts(&im->io, "\r\n");
	return r;
}

/* Drops context k, the others kept in the order they were made (their
 * updates go out in that order). */
static void
drop(struct search_updates *u, size_t k)
{
	context_free(&u->c[k]);
	memmove(u->c + k, u->c + k + 1, (u->n - k - 1) * sizeof *u->c);
	u->n--;
	memset(&u->c[u->n], 0, sizeof u->c[u->n]);
}

/* Drops context k, telling the client it gets no more updates. */
static void
refuse(struct imap *im, size_t k)
{
	struct search_updates *u = im->updates;
	io_puts(&im->io, "* NO [NOUPDATE ");
	out_string(&im->io, u->c[k].tag, strlen(u->c[k].tag));
	io_puts(&im->io, "] Search result no longer updated\r\n");
	drop(u, k);
}

/* The messages the client knows, as they are now. 0 or -1. */
static int
snapshot(struct imap *im)
{
	struct search_updates *u = im->updates;
	struct folder *f = im->sel;
	size_t n = f->reported < f->n ? f->reported : f->n;
	struct snap *s = malloc((n ? n : 1) * sizeof *s);
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		s[i] = (struct snap){ f->m[i].uid, f->m[i].flags, f->m[i].keywords };
	free(u->snap);
	u->snap = s;
	u->nsnap = n;
	return 0;
}

/* The messages to match again (new since the snapshot, or with other
 * flags) into cand, and the UIDs of those no longer in the folder into
 * gone. */
static void
diff(struct imap *im, size_t *cand, size_t *nc, uint32_t *gone, size_t *ng)
{
	struct search_updates *u = im->updates;
	struct folder *f = im->sel;
	size_t n = f->reported < f->n ? f->reported : f->n, i = 0, j = 0;
	*nc = *ng = 0;
	while (i < n || j < u->nsnap) {
		if (i < n && (j == u->nsnap || f->m[i].uid < u->snap[j].uid)) {
			if (!f->m[i].gone)
				cand[(*nc)++] = i;
			i++;
		} else if (i == n || u->snap[j].uid < f->m[i].uid) {
			gone[(*ng)++] = u->snap[j++].uid;
		} else {
			if (!f->m[i].gone && (f->m[i].flags != u->snap[j].flags ||
			    f->m[i].keywords != u->snap[j].keywords))
				cand[(*nc)++] = i;
			i++;
			j++;
		}
	}
}

/* Context c against the changed messages: 0, or what apply says. */
static int
update_one(struct imap *im, struct context *c, const size_t *cand, size_t nc,
    const uint32_t *gone, size_t ng, uint32_t *rem, uint32_t *add, size_t *addidx)
{
	struct folder *f = im->sel;
	struct sbudget b;
	size_t nr = 0, na = 0;
	/* left without an EXPUNGE the client saw: nothing to tell */
	members_remove(c, gone, ng);
	search_budget_start(&b, &im->s.conf);
	for (size_t k = 0; k < nc; k++) {
		uint32_t uid = f->m[cand[k]].uid;
		int in = is_member(c, uid), m = search_prog_match(im, c->prog, cand[k], &b);
		if (b.over)
			return 1;
		if (m && !in) {
			addidx[na] = cand[k];
			add[na++] = uid;
		} else if (!m && in) {
			rem[nr++] = uid;
		}
	}
	return apply(im, c, rem, nr, add, addidx, na, &b);
}

void
search_update_report(struct imap *im)
{
	struct search_updates *u = im->updates;
	if (u == NULL || u->n == 0 || im->sel == NULL)
		return;
	struct folder *f = im->sel;
	size_t cap = (f->n > u->nsnap ? f->n : u->nsnap) + 1, nc, ng;
	size_t *cand = malloc(cap * sizeof *cand), *addidx = malloc(cap * sizeof *addidx);
	uint32_t *gone = malloc(cap * sizeof *gone), *rem = malloc(cap * sizeof *rem);
	uint32_t *add = malloc(cap * sizeof *add);
	if (cand && addidx && gone && rem && add) {
		diff(im, cand, &nc, gone, &ng);
		for (size_t k = 0; k < u->n;)
			if (update_one(im, &u->c[k], cand, nc, gone, ng, rem, add, addidx) != 0)
				refuse(im, k);
			else
				k++;
	}
	if (!(cand && addidx && gone && rem && add) || snapshot(im) != 0)
		while (u->n > 0)
			refuse(im, u->n - 1);
	folder_cache_flush(f);
	free(cand);
	free(addidx);
	free(gone);
	free(rem);
	free(add);
}

void
search_update_expunged(struct imap *im)
{
	struct search_updates *u = im->updates;
	if (u == NULL || u->n == 0 || im->sel == NULL)
		return;
	struct folder *f = im->sel;
	uint32_t *rem = malloc((f->n ? f->n : 1) * sizeof *rem);
	for (size_t k = 0; k < u->n;) {
		struct context *c = &u->c[k];
		size_t nr = 0;
		for (size_t i = 0; rem != NULL && i < f->reported && i < f->n; i++)
			if (f->m[i].gone && is_member(c, f->m[i].uid))
				rem[nr++] = f->m[i].uid;
		if (rem == NULL || apply(im, c, rem, nr, NULL, NULL, 0, NULL) != 0)
			refuse(im, k);
		else
			k++;
	}
	free(rem);
}

void
search_update_add(struct imap *im, const char *tag, struct snode *prog, const uint32_t *uids,
    size_t n, struct sort_update *su)
{
	/* the others first, so that one snapshot serves all */
	search_update_report(im);
	struct search_updates *u = im->updates;
	if (u == NULL)
		u = im->updates = calloc(1, sizeof *u);
	struct context *c = u && u->n < IMAP_SEARCH_UPDATES_MAX ? &u->c[u->n] : NULL;
	if (c != NULL && uids != NULL && (c->tag = strdup(tag)) != NULL &&
	    (c->members = malloc((n ? n : 1) * sizeof *c->members)) != NULL &&
	    (u->n > 0 || snapshot(im) == 0)) {
		memcpy(c->members, uids, n * sizeof *uids);
		qsort(c->members, n, sizeof *c->members, uid_cmp);
		c->n = c->cap = n;
		c->uid = im->uid_command;
		c->prog = prog;
		c->su = su;
		u->n++;
		return;
	}
	if (c != NULL)
		context_free(c);
	search_prog_free(&prog);
	sort_update_free(&su);
	io_puts(&im->io, "* NO [NOUPDATE ");
	out_string(&im->io, tag, strlen(tag));
	io_puts(&im->io, "] Too many updating searches\r\n");
}

int
search_update_tag_used(struct imap *im, const char *tag)
{
	struct search_updates *u = im->updates;
	for (size_t k = 0; u != NULL && k < u->n; k++)
		if (strcmp(u->c[k].tag, tag) == 0)
			return 1;
	return 0;
}

void
search_update_clear(struct imap *im)
{
	struct search_updates *u = im->updates;
	if (u == NULL)
		return;
	for (size_t k = 0; k < u->n; k++)
		context_free(&u->c[k]);
	free(u->snap);
	free(u);
	im->updates = NULL;
}

enum verdict
cmd_cancelupdate(struct imap *im, struct imap_command *c)
{
	struct search_updates *u = im->updates;
	if (c->n == 0)
		return verdict(im, V_BAD, "CANCELUPDATE needs a tag");
	for (size_t i = 0; i < c->n; i++)
		if (!arg_is_string(&c->args[i]))
			return verdict(im, V_BAD, "CANCELUPDATE takes quoted tags");
	/* as Dovecot: NO, and none cancelled, when one is not known */
	for (size_t i = 0; i < c->n; i++)
		if (!search_update_tag_used(im, c->args[i].str))
			return verdict(im, V_NO, "Unknown tag");
	for (size_t i = 0; i < c->n; i++)
		for (size_t k = 0; k < u->n; k++)
			if (strcmp(u->c[k].tag, c->args[i].str) == 0) {
				drop(u, k);
				break;
			}
	return verdict(im, V_OK, "CANCELUPDATE completed");
}
