/*
 * list.c — LIST, LSUB and NAMESPACE. LIST never builds a path from the
 * pattern: it matches patterns against the folder names found (S33, S51).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap.h"
#include "mailboxes.h"
#include "mailname.h"
#include "path.h"

/* ---- LIST ---- */

/* Wildcard match as an NFA over pattern positions: time O(name × pattern),
 * no backtracking (S51). '*' matches anything, '%' anything but '/'. */
static int
pattern_match(const char *pat, const char *name)
{
	size_t m = strlen(pat);
	unsigned char cur[IMAP_LIST_PATTERN_MAX + 1], next[IMAP_LIST_PATTERN_MAX + 1];
	if (m > IMAP_LIST_PATTERN_MAX)
		return 0;
	memset(cur, 0, m + 1);
	cur[0] = 1;
	/* Close over wildcards matching the empty string. */
	for (size_t i = 0; i < m && cur[i] && (pat[i] == '*' || pat[i] == '%'); i++)
		cur[i + 1] = 1;
	for (const char *s = name; *s; s++) {
		memset(next, 0, m + 1);
		int any = 0;
		for (size_t i = 0; i < m; i++) {
			if (!cur[i])
				continue;
			char p = pat[i];
			if (p == '*' || (p == '%' && *s != '/'))
				next[i] = 1;
			else if (p == *s)
				next[i + 1] = 1;
		}
		for (size_t i = 0; i < m; i++)
			if (next[i] && (pat[i] == '*' || pat[i] == '%'))
				next[i + 1] = 1;
		for (size_t i = 0; i <= m; i++)
			any |= next[i];
		if (!any)
			return 0;
		memcpy(cur, next, m + 1);
	}
	return cur[m];
}

/* All folder names (UTF-8), sorted, INBOX first. */
static int
names_add_cb(void *l, const char *s)
{
	return names_add(l, s);
}

static void
folders_list(struct imap *im, struct names *l)
{
	names_add(l, "INBOX");
	store_list(&im->store, names_add_cb, l);
	qsort(l->v + 1, l->n - 1, sizeof *l->v, name_cmp);
}

static int
has_children(const struct names *all, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < all->n; i++)
		if (strncmp(all->v[i], name, n) == 0 && all->v[i][n] == '/')
			return 1;
	return 0;
}

struct list_opts {
	int sel_subscribed, sel_special, recursive, ret_subscribed, ret_children, ret_special;
	const struct imap_arg *ret_status;
	int lsub;
	int extended; /* selection or return options given (RFC 5258) */
};

static int
list_options(struct imap *im, const struct imap_arg *a, struct list_opts *o, int ret)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_arg *x = &a->list[i];
		if (!ret && arg_is(x, "SUBSCRIBED"))
			o->sel_subscribed = 1;
		else if (!ret && arg_is(x, "SPECIAL-USE"))
			o->sel_special = 1;
		else if (!ret && arg_is(x, "RECURSIVEMATCH"))
			o->recursive = 1;
		else if (!ret && arg_is(x, "REMOTE"))
			;
		else if (ret && arg_is(x, "SUBSCRIBED"))
			o->ret_subscribed = 1;
		else if (ret && arg_is(x, "CHILDREN"))
			o->ret_children = 1;
		else if (ret && arg_is(x, "SPECIAL-USE"))
			o->ret_special = 1;
		else if (ret && arg_is(x, "STATUS") && i + 1 < a->n && a->list[i + 1].type == ARG_LIST)
			o->ret_status = &a->list[++i];
		else
			return -1;
	}
	(void)im;
	/* RFC 5258 §3: RECURSIVEMATCH alone is an error. */
	return o->recursive && !o->sel_subscribed && !o->sel_special ? -1 : 0;
}

static void
list_one(struct imap *im, const struct list_opts *o, const char *name, int exists,
    const struct names *all, const struct names *subs, int childinfo)
{
	const char *sep = "";
	io_printf(&im->io, "* %s (", o->lsub ? "LSUB" : "LIST");
#define ATTR(s) do { io_printf(&im->io, "%s%s", sep, s); sep = " "; } while (0)
	/* \NonExistent (it implies \Noselect) where the client speaks LIST
	 * extensions or IMAP4rev2 (RFC 5258 §3, shown alone as Dovecot
	 * does); \Noselect to LSUB and to a plain IMAP4rev1 LIST. */
	if (!exists)
		ATTR(o->lsub || (!im->rev2 && !o->extended) ? "\\Noselect" : "\\NonExistent");
	/* As Dovecot: child and special-use attributes in a plain LIST, and
	 * in an extended one only when asked for (RFC 5258 §4 and RFC 6154
	 * §2 allow either); special-use in LSUB too. */
	if (!o->lsub && (!o->extended || o->ret_children))
		ATTR(has_children(all, name) ? "\\HasChildren" : "\\HasNoChildren");
	const char *su = mailname_special_use(name);
	if (su && (o->lsub || !o->extended || o->sel_special || o->ret_special))
		ATTR(su);
	if (!o->lsub && (o->ret_subscribed || o->sel_subscribed) && names_has(subs, name))
		ATTR("\\Subscribed");
#undef ATTR
	io_puts(&im->io, ") \"/\" ");
	out_mailbox(im, name);
	if (childinfo)
		io_puts(&im->io, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	io_puts(&im->io, "\r\n");
	if (o->ret_status && exists)
		status_write(im, name, o->ret_status);
}

/* Pattern argument → UTF-8 pattern (wildcards kept). */
static int
pattern_arg(struct imap *im, const char *ref, const struct imap_arg *a, char *out, size_t size)
{
	char raw[IMAP_LIST_PATTERN_MAX * 2];
	if (!arg_is_string(a) || strlen(ref) + a->len >= sizeof raw / 2)
		return -1;
	strf(raw, sizeof raw, "%s%s", ref, a->str);
	if (im->utf8) {
		if (!utf8_valid(raw, strlen(raw)) || strlen(raw) >= size)
			return -1;
		strf(out, size, "%s", raw);
		return 0;
	}
	if (mutf7_decode(raw, strlen(raw), out, size) != 0)
		return -1;
	/* "inbox%" lists INBOX whatever the case. */
	if (strncasecmp(out, "INBOX", 5) == 0 && strchr("/*%", out[5]))
		memcpy(out, "INBOX", 5);
	return 0;
}

/* 1 if name matches one of the patterns. */
static int
patterns_match(struct imap *im, const char *refname, const struct imap_arg *pats, size_t npats,
    const char *name)
{
	for (size_t p = 0; p < npats; p++) {
		char pat[IMAP_LIST_PATTERN_MAX + 1];
		if (pattern_arg(im, refname, &pats[p], pat, sizeof pat) == 0 &&
		    pattern_match(pat, name))
			return 1;
	}
	return 0;
}

/* 1 if a subscribed name below parent is not matched by the patterns (a
 * "%" hides it): LSUB lists parent \Noselect for it (RFC 3501 6.3.9),
 * LIST with RECURSIVEMATCH gives parent CHILDINFO (RFC 5258 §3.5). A
 * descendant the reply lists itself tells nothing new about its parent. */
static int
hidden_subscribed_child(struct imap *im, const char *refname, const struct imap_arg *pats,
    size_t npats, const struct names *subs, const char *parent)
{
	size_t n = strlen(parent);
	for (size_t i = 0; i < subs->n; i++)
		if (strncmp(subs->v[i], parent, n) == 0 && subs->v[i][n] == '/' &&
		    !patterns_match(im, refname, pats, npats, subs->v[i]))
			return 1;
	return 0;
}

static enum verdict
list_common(struct imap *im, struct imap_command *c, int lsub)
{
	struct list_opts o = { 0 };
	size_t i = 0;
	o.lsub = lsub;
	if (!lsub && c->n > 0 && c->args[0].type == ARG_LIST) {
		if (list_options(im, &c->args[0], &o, 0) != 0)
			return verdict(im, V_BAD, "Unknown LIST selection option");
		o.extended = 1;
		i++;
	}
	if (c->n < i + 2 || !arg_is_string(&c->args[i]))
		return verdict(im, V_BAD, "%s needs a reference and a pattern", c->name);
	const struct imap_arg *ref = &c->args[i], *pats = &c->args[i + 1];
	size_t npats = 1;
	if (pats->type == ARG_LIST) {
		/* a pattern list makes the LIST extended (RFC 5258 §3) */
		if (lsub)
			return verdict(im, V_BAD, "LSUB takes one pattern");
		npats = pats->n;
		pats = pats->list;
		o.extended = 1;
	}
	i += 2;
	if (!lsub && i + 1 < c->n + 1 && i < c->n) {
		if (!arg_is(&c->args[i], "RETURN") || i + 1 >= c->n || c->args[i + 1].type != ARG_LIST ||
		    list_options(im, &c->args[i + 1], &o, 1) != 0)
			return verdict(im, V_BAD, "Invalid LIST return options");
		o.extended = 1;
		i += 2;
	}
	if (i != c->n)
		return verdict(im, V_BAD, "Too many arguments");
	char refname[MAILNAME_MAX] = "";
	if (ref->len > 0) {
		if (ref->len >= sizeof refname)
			return verdict(im, V_OK, "%s completed", c->name);
		memcpy(refname, ref->str, ref->len + 1);
	}
	/* LIST "" "": the hierarchy delimiter. */
	if (!lsub && npats == 1 && arg_is_string(&pats[0]) && pats[0].len == 0) {
		io_puts(&im->io, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		return verdict(im, V_OK, "LIST completed");
	}
	struct names all = { 0 }, subs = { 0 }, cand = { 0 };
	folders_list(im, &all);
	(void)subs_read(im, &subs); /* after a read error: the names read */
	/* Candidates: folders, subscribed names, and parents that hold children. */
	const struct names *src = (lsub || o.sel_subscribed) ? &subs : &all;
	for (size_t k = 0; k < src->n; k++) {
		if (!names_has(&cand, src->v[k]))
			names_add(&cand, src->v[k]);
		for (char *p = strchr(src->v[k], '/'); p; p = strchr(p + 1, '/')) {
			char parent[MAILNAME_MAX];
			strf(parent, sizeof parent, "%.*s", (int)(p - src->v[k]), src->v[k]);
			if (!names_has(&cand, parent))
				names_add(&cand, parent);
		}
	}
	if (cand.n > 1)
		qsort(cand.v, cand.n, sizeof *cand.v, name_cmp);
	for (size_t k = 0; k < cand.n; k++) {
		const char *name = cand.v[k];
		if (!patterns_match(im, refname, pats, npats, name))
			continue;
		int exists = names_has(&all, name), childinfo = 0;
		if (lsub && !names_has(&subs, name)) {
			/* Only a parent of subscribed names the pattern hides. */
			if (!hidden_subscribed_child(im, refname, pats, npats, &subs, name))
				continue;
			exists = 0; /* shown \Noselect: not subscribed itself */
		}
		if (o.sel_special && !mailname_special_use(name))
			continue;
		/* RECURSIVEMATCH: a name that is not subscribed is listed, with
		 * CHILDINFO, only for a subscribed descendant the patterns
		 * leave out; one whose descendants are all in the reply would
		 * be redundant (RFC 5258 §3.5, example 9). A subscribed name
		 * with subscribed descendants says so in any case, as Dovecot. */
		if (o.sel_subscribed) {
			int sub = names_has(&subs, name);
			childinfo = o.recursive && (sub ? has_children(&subs, name) :
			    hidden_subscribed_child(im, refname, pats, npats, &subs, name));
			if (!sub && !childinfo)
				continue;
		}
		list_one(im, &o, name, exists, &all, &subs, childinfo);
	}
	names_free(&all);
	names_free(&subs);
	names_free(&cand);
	return verdict(im, V_OK, "%s completed", c->name);
}

enum verdict
cmd_list(struct imap *im, struct imap_command *c)
{
	return list_common(im, c, 0);
}

enum verdict
cmd_lsub(struct imap *im, struct imap_command *c)
{
	return list_common(im, c, 1);
}

enum verdict
cmd_namespace(struct imap *im, struct imap_command *c)
{
	if (c->n != 0)
		return verdict(im, V_BAD, "NAMESPACE takes no arguments");
	io_puts(&im->io, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	return verdict(im, V_OK, "NAMESPACE completed");
}
