/*
 * search-prog.c — the SEARCH program: the search keys of SEARCH, SORT,
 * THREAD and the UPDATE contexts (search-update.c), parsed, run over the
 * selected folder, kept for a context, and the budget (S51) they spend.
 *
 * Keys are parsed into a tree first (depth bounded, S32), then evaluated
 * per message; message content is parsed only for keys that need it.
 * Dates are imap-date.c's: a date that does not exist is BAD. With a
 * CHARSET other than UTF-8 or US-ASCII the search strings are converted to
 * UTF-8 by iconv(3) while parsing, so matching only ever sees UTF-8.
 *
 * Cost (S51): with no index, a key on message content reads and decodes
 * every message it is asked about. Such keys spend a budget, CPU time
 * (imap_search_budget) and bytes looked at (imap_search_max_bytes); past
 * it the search ends with NO [LIMIT] (RFC 5530) and nothing else changes.
 * A search that mostly waits for a slow disk spends little CPU time, so
 * SEARCH_WALL_FACTOR times the budget in real time ends it too; no client
 * waits that long for an answer.
 * Keys answered from the folder state (flags, UIDs, sequence numbers,
 * sizes, arrival dates) never spend it, so a cheap search is never cut.
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap-date.h"
#include "imap.h"
#include "log.h"
#include "mime.h"
#include "render.h"
#include "search-prog.h"

enum sk {
	SK_ALL, SK_FLAG, SK_UNFLAG, SK_NEW, SK_OLD, SK_KEYWORD, SK_UNKEYWORD, SK_HEADER,
	SK_BODY, SK_TEXT, SK_BEFORE, SK_ON, SK_SINCE, SK_SENTBEFORE, SK_SENTON, SK_SENTSINCE,
	SK_LARGER, SK_SMALLER, SK_UIDSET, SK_SEQSET, SK_SAVED_SEQ, SK_SAVED_UID, SK_NOT, SK_OR,
	SK_AND, SK_NONE, SK_ADDRESS, SK_MODSEQ,
};

struct snode {
	enum sk t;
	unsigned flag;
	int kw;
	const char *field, *str;
	char *owned;           /* str converted from the CHARSET, or NULL */
	char *owned_field;     /* field copied (search_prog_keep), or NULL */
	long long day;         /* imap-date.h day number */
	uint64_t num;
	struct seqset set;
	struct snode *a, *b;   /* NOT: a; OR: a, b */
	struct snode **kids;   /* AND */
	size_t n, cap;
};

struct sparse {
	struct imap *im;
	const struct imap_arg *args;
	size_t n, i;
	const char *err;
	iconv_t cd;            /* CHARSET to UTF-8, or (iconv_t)-1: as sent */
};

static void
snode_free(struct snode *s)
{
	if (s == NULL)
		return;
	snode_free(s->a);
	snode_free(s->b);
	for (size_t i = 0; i < s->n; i++)
		snode_free(s->kids[i]);
	free(s->kids);
	free(s->owned);
	free(s->owned_field);
	seqset_free(&s->set);
	free(s);
}

/* ---- CHARSET (RFC 9051 §6.4.4) ---- */

/* Named in BADCHARSET: charsets every glibc converts (any name iconv(3)
 * knows is taken, these are the ones worth telling a client about). */
#define SEARCH_CHARSETS "UTF-8 US-ASCII ISO-8859-1 ISO-8859-2 ISO-8859-15 WINDOWS-1252 KOI8-R"

/* A character of any charset is at most 4 bytes of UTF-8, and a stateful
 * charset's escape sequences make none; the slack takes the flush. */
#define CHARSET_UTF8_FACTOR 4
#define CHARSET_UTF8_SLACK 16

/* A converter from charset to UTF-8, or (iconv_t)-1 (errno EINVAL) for a
 * name iconv does not know. Only plain names: "X//TRANSLIT" and the like
 * are options to iconv, not charsets. */
static iconv_t
charset_open(const char *charset)
{
	size_t n = strlen(charset);
	if (n == 0 || n > 40 || strspn(charset, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.") != n) {
		errno = EINVAL;
		return (iconv_t)-1;
	}
	return iconv_open("UTF-8", charset);
}

/* in (len bytes) converted by cd into a malloc'd NUL-terminated string, at
 * most CHARSET_UTF8_FACTOR times len plus slack. NULL with errno ENOMEM,
 * or EILSEQ when the bytes are not text of the charset (invalid or
 * incomplete sequences, or a NUL character). */
static char *
charset_convert(iconv_t cd, const char *in, size_t len)
{
	if (len > (SIZE_MAX - CHARSET_UTF8_SLACK - 1) / CHARSET_UTF8_FACTOR) {
		errno = EILSEQ;
		return NULL;
	}
	size_t cap = len * CHARSET_UTF8_FACTOR + CHARSET_UTF8_SLACK;
	char *out = malloc(cap + 1);
	if (out == NULL)
		return NULL;
	char *ip = (char *)(uintptr_t)in, *op = out;
	size_t left = len, room = cap;
	iconv(cd, NULL, NULL, NULL, NULL); /* initial shift state */
	if (iconv(cd, &ip, &left, &op, &room) == (size_t)-1 ||
	    iconv(cd, NULL, NULL, &op, &room) == (size_t)-1 || memchr(out, '\0', cap - room)) {
		free(out);
		errno = EILSEQ; /* E2BIG too: past the factor is not text */
		return NULL;
	}
	*op = '\0';
	return out;
}

/* The search string x in UTF-8: as sent, or converted from the CHARSET
 * into s->owned. NULL (p->err set) when it is not valid in the charset. */
static const char *
search_string(struct sparse *p, struct snode *s, const struct imap_arg *x)
{
	if (p->cd == (iconv_t)-1)
		return x->str;
	free(s->owned);
	s->owned = charset_convert(p->cd, x->str, x->len);
	if (s->owned == NULL && p->err == NULL)
		p->err = errno == ENOMEM ? "Out of memory" : "Search string not valid in its CHARSET";
	return s->owned;
}

static struct snode *parse_key(struct sparse *p, int depth);

static const struct imap_arg *
next_arg(struct sparse *p)
{
	return p->i < p->n ? &p->args[p->i++] : NULL;
}

static struct snode *
fail(struct sparse *p, struct snode *s, const char *why)
{
	if (p->err == NULL)
		p->err = why;
	snode_free(s);
	return NULL;
}

static int
add_kid(struct snode *and, struct snode *k)
{
	if (and->n == and->cap) {
		size_t cap = and->cap ? 2 * and->cap : 4;
		struct snode **v = realloc(and->kids, cap * sizeof *v);
		if (v == NULL)
			return -1;
		and->kids = v;
		and->cap = cap;
	}
	and->kids[and->n++] = k;
	return 0;
}

/* A parenthesised list or the top level: an AND of keys. */
static struct snode *
parse_and(struct sparse *p, const struct imap_arg *args, size_t n, int depth)
{
	struct sparse sub = { p->im, args, n, 0, NULL, p->cd };
	struct snode *and = calloc(1, sizeof *and);
	if (and == NULL)
		return fail(p, NULL, "Out of memory");
	and->t = SK_AND;
	if (n == 0)
		return fail(p, and, "Empty search key list");
	while (sub.i < sub.n) {
		struct snode *k = parse_key(&sub, depth);
		if (k == NULL || add_kid(and, k) != 0) {
			snode_free(k);
			p->err = sub.err ? sub.err : "Out of memory";
			return fail(p, and, p->err);
		}
	}
	return and;
}

static int
is_set_arg(const struct imap_arg *a)
{
	return a->type == ARG_ATOM &&
	    (isdigit((unsigned char)a->str[0]) || a->str[0] == '*' || strcmp(a->str, "$") == 0);
}

static struct snode *
parse_key(struct sparse *p, int depth)
{
	static const struct { const char *name; enum sk t; unsigned flag; } flagkeys[] = {
		{ "ANSWERED", SK_FLAG, FL_ANSWERED }, { "DELETED", SK_FLAG, FL_DELETED },
		{ "DRAFT", SK_FLAG, FL_DRAFT }, { "FLAGGED", SK_FLAG, FL_FLAGGED },
		{ "SEEN", SK_FLAG, FL_SEEN }, { "RECENT", SK_FLAG, FL_RECENT },
		{ "UNANSWERED", SK_UNFLAG, FL_ANSWERED }, { "UNDELETED", SK_UNFLAG, FL_DELETED },
		{ "UNDRAFT", SK_UNFLAG, FL_DRAFT }, { "UNFLAGGED", SK_UNFLAG, FL_FLAGGED },
		{ "UNSEEN", SK_UNFLAG, FL_SEEN }, { "NEW", SK_NEW, 0 }, { "OLD", SK_OLD, 0 },
		{ "ALL", SK_ALL, 0 },
	};
	static const struct { const char *name; const char *field; enum sk t; } hdrkeys[] = {
		{ "BCC", "Bcc", SK_ADDRESS }, { "CC", "Cc", SK_ADDRESS },
		{ "FROM", "From", SK_ADDRESS }, { "SUBJECT", "Subject", SK_HEADER },
		{ "TO", "To", SK_ADDRESS },
	};
	static const struct { const char *name; enum sk t; } datekeys[] = {
		{ "BEFORE", SK_BEFORE }, { "ON", SK_ON }, { "SINCE", SK_SINCE },
		{ "SENTBEFORE", SK_SENTBEFORE }, { "SENTON", SK_SENTON }, { "SENTSINCE", SK_SENTSINCE },
	};
	if (depth > IMAP_DEPTH_MAX)
		return fail(p, NULL, "Search keys nested too deep");
	const struct imap_arg *a = next_arg(p), *x;
	if (a == NULL)
		return fail(p, NULL, "Missing search key");
	if (a->type == ARG_LIST)
		return parse_and(p, a->list, a->n, depth + 1);
	struct snode *s = calloc(1, sizeof *s);
	if (s == NULL)
		return fail(p, NULL, "Out of memory");
	if (is_set_arg(a)) {
		if (strcmp(a->str, "$") == 0) {
			s->t = SK_SAVED_SEQ;
			return s;
		}
		s->t = SK_SEQSET;
		struct folder *f = p->im->sel;
		if (seqset_parse(a->str, f->n ? (uint32_t)f->n : 1, &s->set) != 0)
			return fail(p, s, "Invalid sequence set");
		return s;
	}
	if (a->type != ARG_ATOM)
		return fail(p, s, "Invalid search key");
	for (size_t i = 0; i < sizeof flagkeys / sizeof flagkeys[0]; i++)
		if (arg_is(a, flagkeys[i].name)) {
			s->t = flagkeys[i].t;
			s->flag = flagkeys[i].flag;
			return s;
		}
	for (size_t i = 0; i < sizeof hdrkeys / sizeof hdrkeys[0]; i++)
		if (arg_is(a, hdrkeys[i].name)) {
			if ((x = next_arg(p)) == NULL || !arg_is_string(x))
				return fail(p, s, "Missing search string");
			s->t = hdrkeys[i].t;
			s->field = hdrkeys[i].field;
			if ((s->str = search_string(p, s, x)) == NULL)
				return fail(p, s, NULL);
			return s;
		}
	for (size_t i = 0; i < sizeof datekeys / sizeof datekeys[0]; i++)
		if (arg_is(a, datekeys[i].name)) {
			if ((x = next_arg(p)) == NULL || !arg_is_string(x) || imap_date_parse(x->str, &s->day) != 0)
				return fail(p, s, "Invalid date");
			s->t = datekeys[i].t;
			return s;
		}
	if (arg_is(a, "HEADER")) {
		const struct imap_arg *f = next_arg(p);
		if (f == NULL || !arg_is_string(f) || (x = next_arg(p)) == NULL || !arg_is_string(x))
			return fail(p, s, "HEADER needs a field and a string");
		s->t = SK_HEADER;
		s->field = f->str;
		if ((s->str = search_string(p, s, x)) == NULL)
			return fail(p, s, NULL);
		return s;
	}
	if (arg_is(a, "BODY") || arg_is(a, "TEXT")) {
		if ((x = next_arg(p)) == NULL || !arg_is_string(x))
			return fail(p, s, "Missing search string");
		s->t = arg_is(a, "BODY") ? SK_BODY : SK_TEXT;
		if ((s->str = search_string(p, s, x)) == NULL)
			return fail(p, s, NULL);
		return s;
	}
	if (arg_is(a, "KEYWORD") || arg_is(a, "UNKEYWORD")) {
		if ((x = next_arg(p)) == NULL || x->type != ARG_ATOM)
			return fail(p, s, "Missing keyword");
		s->t = arg_is(a, "KEYWORD") ? SK_KEYWORD : SK_UNKEYWORD;
		s->kw = folder_keyword(p->im->sel, x->str, 0);
		s->str = x->str; /* looked up again by an UPDATE context */
		return s;
	}
	if (arg_is(a, "LARGER") || arg_is(a, "SMALLER")) {
		char *end;
		if ((x = next_arg(p)) == NULL || x->type != ARG_ATOM || !isdigit((unsigned char)x->str[0]))
			return fail(p, s, "Missing number");
		errno = 0;
		s->num = strtoull(x->str, &end, 10);
		if (*end || errno || s->num > 4294967295ULL)
			return fail(p, s, "Invalid number");
		s->t = arg_is(a, "LARGER") ? SK_LARGER : SK_SMALLER;
		return s;
	}
	if (arg_is(a, "UID")) {
		struct folder *f = p->im->sel;
		if ((x = next_arg(p)) == NULL || !is_set_arg(x))
			return fail(p, s, "Invalid UID set");
		if (strcmp(x->str, "$") == 0) {
			s->t = SK_SAVED_UID;
			return s;
		}
		s->t = SK_UIDSET;
		if (seqset_parse(x->str, f->n ? f->m[f->n - 1].uid : 1, &s->set) != 0)
			return fail(p, s, "Invalid UID set");
		return s;
	}
	if (arg_is(a, "MODSEQ")) {
		/* RFC 7162 §3.1.5: MODSEQ ["/flags/x" priv|shared|all] n; a
		 * message has one modseq, whichever flag the entry names */
		if ((x = next_arg(p)) != NULL && x->type != ARG_ATOM && arg_is_string(x)) {
			const struct imap_arg *t = next_arg(p);
			if (t == NULL || !(arg_is(t, "priv") || arg_is(t, "shared") || arg_is(t, "all")))
				return fail(p, s, "Invalid MODSEQ entry type");
			x = next_arg(p);
		}
		if (x == NULL || x->type != ARG_ATOM || condstore_parse_modseq(x->str, 1, &s->num) != 0)
			return fail(p, s, "Invalid MODSEQ");
		s->t = SK_MODSEQ;
		p->im->search_modseq = 1;
		condstore_enable(p->im);
		return s;
	}
	if (arg_is(a, "NOT")) {
		s->t = SK_NOT;
		if ((s->a = parse_key(p, depth + 1)) == NULL)
			return fail(p, s, NULL);
		return s;
	}
	if (arg_is(a, "OR")) {
		s->t = SK_OR;
		if ((s->a = parse_key(p, depth + 1)) == NULL || (s->b = parse_key(p, depth + 1)) == NULL)
			return fail(p, s, NULL);
		return s;
	}
	return fail(p, s, "Unknown search key");
}

#define SEARCH_WALL_FACTOR 4


void
search_budget_start(struct sbudget *b, const struct conf *conf)
{
	memset(b, 0, sizeof *b);
	/* A budget beyond what fits in nanoseconds is no limit. */
	if (conf->imap_search_budget < UINT64_MAX / 1000000000u)
		b->cpu_ns = conf->imap_search_budget * 1000000000u;
	b->max_bytes = conf->imap_search_max_bytes;
	if (b->cpu_ns && (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b->start) != 0 ||
	    clock_gettime(CLOCK_MONOTONIC, &b->wall) != 0))
		b->cpu_ns = 0;
}

/* Nanoseconds on clock since *since (0 if the clock cannot be read). */
static uint64_t
elapsed_ns(clockid_t clock, const struct timespec *since)
{
	struct timespec now;
	if (clock_gettime(clock, &now) != 0)
		return 0;
	int64_t ns = (int64_t)(now.tv_sec - since->tv_sec) * 1000000000 +
	    (now.tv_nsec - since->tv_nsec);
	return ns > 0 ? (uint64_t)ns : 0;
}

/* Reading the CPU clock is a system call, dearer than a look at a
 * message's cached fields: the clocks are read every SEARCH_CLOCK_EVERY
 * looks, or sooner once SEARCH_CLOCK_BYTES were read since they last
 * were (a big message is never looked at unchecked). */
#define SEARCH_CLOCK_EVERY 64
#define SEARCH_CLOCK_BYTES (64u * 1024)

static int
clock_due(struct sbudget *b)
{
	if (b->cpu_ns == 0 || (b->looks++ % SEARCH_CLOCK_EVERY != 0 &&
	    b->bytes - b->clock_bytes < SEARCH_CLOCK_BYTES))
		return 0;
	b->clock_bytes = b->bytes;
	return 1;
}

/* 1 (and stays 1) once the search has spent its budget; asked before each
 * look at a message's content. */
int
search_budget_spent(struct sbudget *b)
{
	if (b->over != NULL)
		return 1;
	if (b->max_bytes && b->bytes >= b->max_bytes)
		b->over = "imap_search_max_bytes";
	else if (!clock_due(b))
		return 0;
	else if (b->cpu_ns && elapsed_ns(CLOCK_PROCESS_CPUTIME_ID, &b->start) >= b->cpu_ns)
		b->over = "imap_search_budget (CPU time)";
	else if (b->cpu_ns && elapsed_ns(CLOCK_MONOTONIC, &b->wall) / SEARCH_WALL_FACTOR >= b->cpu_ns)
		b->over = "imap_search_budget (real time)";
	return b->over != NULL;
}

struct seval {
	struct imap *im;
	size_t idx;
	struct sbudget budget;
};

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The saved UIDs are kept sorted (cmd_search), so "$" costs log n per
 * message rather than n. */
static int
saved_has(struct imap *im, uint32_t uid)
{
	return im->nsearchres &&
	    bsearch(&uid, im->searchres, im->nsearchres, sizeof uid, uid_cmp) != NULL;
}

/* The message for a content key, its cost counted: for a key on one
 * header field the cache keeps (field), those fields from the folder's
 * cache when it has them; for other header keys only the header is read
 * (unless the message is at hand already), for BODY and TEXT the whole
 * message. NULL if the budget is spent (e->budget.over set) or the
 * message cannot be read. */
static const struct mime_message *
content(struct seval *e, int header_only, const char *field)
{
	if (search_budget_spent(&e->budget))
		return NULL;
	const struct mime_message *mm = NULL;
	if (field != NULL && folder_field_cached(field, strlen(field)))
		mm = folder_fields_mime(e->im->sel, e->idx);
	if (mm == NULL)
		mm = header_only ? folder_mime_header(e->im->sel, e->idx)
		    : folder_mime(e->im->sel, e->idx);
	if (mm != NULL)
		e->budget.bytes += header_only ? mm->root->hdr_len : mm->len;
	return mm;
}

/* A key on one header field the cache keeps, matched on the cached
 * fields' text itself (no parse of them all, which cost more than the
 * match): 1 or 0, or -1 when the cache lacks them (then content()). */
static int
cached_field(struct seval *e, const struct snode *s, int address)
{
	size_t n;
	char *t;
	if (!folder_field_cached(s->field, strlen(s->field)) || search_budget_spent(&e->budget) ||
	    (t = folder_view_cached(e->im->sel, e->idx, FOLDER_VIEW_FIELDS, &n)) == NULL)
		return -1;
	e->budget.bytes += n;
	int r = render_search_fields((const unsigned char *)t, n, s->field, s->str, address) == 1;
	free(t);
	return r;
}

/* BEFORE, ON, SINCE and their SENT* forms: day against the key's day. */
static int
day_matches(const struct snode *s, long long day)
{
	switch (s->t) {
	case SK_BEFORE:
	case SK_SENTBEFORE:
		return day < s->day;
	case SK_ON:
	case SK_SENTON:
		return day == s->day;
	default:
		return day >= s->day;
	}
}

/* The day the sender wrote in the Date: header, its time and zone
 * disregarded (RFC 9051 §6.4.4). A message without a Date: field, or with
 * one that does not parse or names a day that does not exist, has no sent
 * date: it matches no SENT* key (and so NOT SENT* matches it), as with
 * Dovecot; the arrival date is no stand-in for when it was written. */
static int
sent_day(const struct mime_message *mm, long long *day_r)
{
	const struct mime_header *h = mime_header_find(mm->root, "Date");
	if (h == NULL || mime_parse_date(h->value, h->value_len) == (time_t)-1)
		return -1;
	return imap_date_header_day(h->value, h->value_len, day_r);
}

/* FROM, TO, CC and BCC match the envelope form of the addresses (RFC
 * 9051 §6.4.4 "in the envelope structure's FROM field"): mailbox@domain
 * without comments or white space, and the display names, not the raw
 * header, so "user (comment)@ domain" is found as user@domain and not by
 * "comment". */
static int
address_key(struct seval *e, const struct snode *s)
{
	int r = cached_field(e, s, 1);
	if (r >= 0)
		return r;
	const struct mime_message *mm = content(e, 1, s->field);
	return mm != NULL && render_search_address(mm, s->field, s->str) == 1;
}

static int
eval(struct seval *e, const struct snode *s)
{
	struct folder *f = e->im->sel;
	struct fmsg *m = &f->m[e->idx];
	const struct mime_message *mm;
	long long day;
	int r;
	switch (s->t) {
	case SK_ALL:
		return 1;
	case SK_NONE:
		return 0;
	case SK_MODSEQ:
		return m->modseq >= s->num;
	case SK_FLAG:
		return (m->flags & s->flag) != 0;
	case SK_UNFLAG:
		return (m->flags & s->flag) == 0;
	case SK_NEW:
		return (m->flags & FL_RECENT) && !(m->flags & FL_SEEN);
	case SK_OLD:
		return !(m->flags & FL_RECENT);
	case SK_KEYWORD:
		return s->kw >= 0 && (m->keywords & (1u << s->kw));
	case SK_UNKEYWORD:
		return s->kw < 0 || !(m->keywords & (1u << s->kw));
	case SK_HEADER:
	case SK_BODY:
	case SK_TEXT:
		if (s->t == SK_HEADER && (r = cached_field(e, s, 0)) >= 0)
			return r;
		mm = content(e, s->t == SK_HEADER, s->t == SK_HEADER ? s->field : NULL);
		if (mm == NULL)
			return 0;
		if (s->t == SK_HEADER)
			return render_search_header(mm, s->field, s->str) == 1;
		return (s->t == SK_BODY ? render_search_body(mm, s->str)
		    : render_search_text(mm, s->str)) == 1;
	case SK_ADDRESS:
		return address_key(e, s);
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:
		return day_matches(s, imap_date_day_of(folder_internaldate(f, e->idx)));
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		mm = content(e, 1, "Date");
		return mm != NULL && sent_day(mm, &day) == 0 && day_matches(s, day);
	case SK_LARGER:
		return folder_size(f, e->idx) > s->num;
	case SK_SMALLER:
		return folder_size(f, e->idx) < s->num;
	case SK_UIDSET:
		return seqset_contains(&s->set, m->uid);
	case SK_SEQSET:
		return seqset_contains(&s->set, (uint32_t)(e->idx + 1));
	case SK_SAVED_SEQ:
	case SK_SAVED_UID:
		return saved_has(e->im, m->uid);
	case SK_NOT:
		return !eval(e, s->a);
	case SK_OR:
		return eval(e, s->a) || eval(e, s->b);
	case SK_AND:
		for (size_t i = 0; i < s->n; i++)
			if (!eval(e, s->kids[i]))
				return 0;
		return 1;
	}
	return 0;
}


/* The keys args[0..n) in the charset named by cs (NULL: UTF-8) parsed
 * into *prog: V_OK, or the verdict to give. */
static enum verdict
parse_program(struct imap *im, const struct imap_arg *cs, const struct imap_arg *args, size_t n,
    struct snode **prog)
{
	iconv_t cd = (iconv_t)-1;
	if (cs != NULL) {
		if (!arg_is_string(cs))
			return verdict(im, V_BAD, "CHARSET needs a name");
		/* UTF-8 and its subset are searched as sent */
		if (strcasecmp(cs->str, "UTF-8") != 0 && strcasecmp(cs->str, "US-ASCII") != 0 &&
		    (cd = charset_open(cs->str)) == (iconv_t)-1) {
			if (errno == ENOMEM)
				return verdict(im, V_NO, "[SERVERBUG] Out of memory");
			return verdict(im, V_NO, "[BADCHARSET (" SEARCH_CHARSETS ")] Unsupported charset");
		}
	}
	struct sparse p = { im, NULL, 0, 0, NULL, cd };
	im->search_modseq = 0;
	*prog = parse_and(&p, args, n, 0);
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	if (*prog == NULL)
		return verdict(im, V_BAD, "%s", p.err ? p.err : "Invalid search");
	return V_OK;
}

enum verdict
search_messages_keep(struct imap *im, const struct imap_arg *charset,
    const struct imap_arg *args, size_t n, struct sbudget *b, size_t **idx_r, size_t *n_r,
    struct snode **prog_r)
{
	struct folder *f = im->sel;
	struct snode *prog;
	enum verdict v = parse_program(im, charset, args, n, &prog);
	if (v != V_OK)
		return v;
	size_t *res = malloc((f->n ? f->n : 1) * sizeof *res), k = 0;
	if (res == NULL) {
		snode_free(prog);
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	}
	struct seval e = { .im = im, .budget = *b };
	for (e.idx = 0; e.idx < f->n && !e.budget.over; e.idx++)
		if (!f->m[e.idx].gone && eval(&e, prog) && !e.budget.over)
			res[k++] = e.idx;
	/* the program outlives the command only when the search ended */
	if (prog_r != NULL && !e.budget.over && search_prog_keep(im, prog) == 0)
		*prog_r = prog;
	else
		snode_free(prog);
	*b = e.budget;
	b->done = e.idx;
	*idx_r = res;
	*n_r = k;
	return V_OK;
}

enum verdict
search_messages(struct imap *im, const struct imap_arg *charset, const struct imap_arg *args,
    size_t n, struct sbudget *b, size_t **idx_r, size_t *n_r)
{
	return search_messages_keep(im, charset, args, n, b, idx_r, n_r, NULL);
}

/* ---- programs kept by UPDATE contexts (search-update.c) ---- */

static char *
keep_string(char **owned, const char *s)
{
	if (*owned == NULL && s != NULL)
		*owned = strdup(s);
	return *owned;
}

/* The UIDs of the messages a sequence set (or "$", saved) names now, as
 * a UID set in s->set. 0 or -1. */
static int
freeze_set(struct imap *im, struct snode *s, int saved)
{
	struct folder *f = im->sel;
	struct seqrange *r = malloc((f->n ? f->n : 1) * sizeof *r);
	size_t k = 0;
	if (r == NULL)
		return -1;
	for (size_t i = 0; i < f->n; i++) {
		uint32_t uid = f->m[i].uid;
		if (saved ? !saved_has(im, uid) : !seqset_contains(&s->set, (uint32_t)(i + 1)))
			continue;
		if (k > 0 && r[k - 1].hi + 1 == uid)
			r[k - 1].hi = uid;
		else
			r[k++] = (struct seqrange){ uid, uid };
	}
	seqset_free(&s->set);
	s->set.r = r;
	s->set.n = k;
	s->t = k ? SK_UIDSET : SK_NONE;
	return 0;
}

int
search_prog_keep(struct imap *im, struct snode *s)
{
	if (s == NULL)
		return 0;
	if (s->str != NULL && (s->str = keep_string(&s->owned, s->str)) == NULL)
		return -1;
	if (s->t == SK_HEADER && (s->field = keep_string(&s->owned_field, s->field)) == NULL)
		return -1;
	if ((s->t == SK_SEQSET || s->t == SK_SAVED_SEQ || s->t == SK_SAVED_UID) &&
	    freeze_set(im, s, s->t != SK_SEQSET) != 0)
		return -1;
	if (search_prog_keep(im, s->a) != 0 || search_prog_keep(im, s->b) != 0)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		if (search_prog_keep(im, s->kids[i]) != 0)
			return -1;
	return 0;
}

/* KEYWORD and UNKEYWORD of a keyword the folder did not have when the
 * program was parsed: another session may have made it since. */
static void
refresh_keywords(struct imap *im, struct snode *s)
{
	if (s == NULL)
		return;
	if ((s->t == SK_KEYWORD || s->t == SK_UNKEYWORD) && s->kw < 0 && s->str != NULL)
		s->kw = folder_keyword(im->sel, s->str, 0);
	refresh_keywords(im, s->a);
	refresh_keywords(im, s->b);
	for (size_t i = 0; i < s->n; i++)
		refresh_keywords(im, s->kids[i]);
}

int
search_prog_match(struct imap *im, struct snode *prog, size_t idx, struct sbudget *b)
{
	refresh_keywords(im, prog);
	struct seval e = { .im = im, .idx = idx, .budget = *b };
	int r = eval(&e, prog) && !e.budget.over;
	*b = e.budget;
	return r;
}

void
search_prog_free(struct snode **prog)
{
	snode_free(*prog);
	*prog = NULL;
}

enum verdict
search_over_budget(struct imap *im, const struct sbudget *b, const char *cmd, size_t done)
{
	char name[128];
	log_field(name, sizeof name, im->sel->name, strlen(im->sel->name));
	log_info("user=%s %s in %s stopped by %s after %zu of %zu messages, %llu bytes",
	    im->user, cmd, name, b->over, done, im->sel->n, (unsigned long long)b->bytes);
	return verdict(im, V_NO, "[LIMIT] %s too expensive", cmd);
}
