/*
 * thread.c — THREAD and UID THREAD (RFC 5256 §3): ORDEREDSUBJECT and
 * REFERENCES, over the messages SEARCH's keys choose (search.c), with the
 * keys SORT reads (sort_keys: from the keys cache when warm).
 *
 * REFERENCES follows the RFC's steps: (1) containers linked by
 * Message-ID along each References: (else In-Reply-To:) chain, never
 * into a loop; (2) the roots; (3) empty dummies dropped, dummies spliced
 * out; (4) siblings by sent date; (5) roots of the same base subject
 * merged; (6) sorted again. A message whose Message-ID is missing or
 * taken already gets a container of its own. Bounds (lib/bounds.h): a
 * message deeper than IMAP_THREAD_DEPTH_MAX in a thread starts its own,
 * which bounds every recursion here; of a References: field the last
 * IMAP_THREAD_REFS_MAX Message-IDs count. Memory: a node per message and
 * per Message-ID referenced, so linear in the header bytes read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "imap.h"
#include "mcache-keys.h"
#include "search-prog.h"
#include "sort-keys.h"
#include "sort.h"

#define DUMMY SIZE_MAX

struct tnode {
	size_t idx;                 /* message index, or DUMMY */
	int64_t date;               /* sent date (messages) */
	char *subj;                 /* folded base subject (messages) */
	int reply;                  /* its subject was a reply or forward */
	struct tnode *parent, *child, *next;
	struct tnode *all;          /* every node, to free them */
	char *id;                   /* Message-ID (in the table), or NULL */
	size_t depth, rootpos;
	int gone;                   /* merged away from the roots */
};

struct threads {
	struct imap *im;
	struct tnode *all;
	size_t count;
	struct tnode **tab;         /* Message-ID → node, open addressing */
	size_t tabsize, tabn;
};

static struct tnode *
node_new(struct threads *t)
{
	struct tnode *n = calloc(1, sizeof *n);
	if (n == NULL)
		return NULL;
	n->idx = DUMMY;
	n->all = t->all;
	t->all = n;
	t->count++;
	return n;
}

static void
threads_free(struct threads *t)
{
	for (struct tnode *n = t->all, *next; n; n = next) {
		next = n->all;
		free(n->subj);
		free(n->id);
		free(n);
	}
	free(t->tab);
}

static uint64_t
hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int
tab_grow(struct threads *t)
{
	size_t size = t->tabsize ? 2 * t->tabsize : 1024;
	struct tnode **tab = calloc(size, sizeof *tab);
	if (tab == NULL)
		return -1;
	for (size_t i = 0; i < t->tabsize; i++) {
		struct tnode *n = t->tab[i];
		if (n == NULL)
			continue;
		size_t j = hash(n->id, strlen(n->id)) & (size - 1);
		while (tab[j] != NULL)
			j = (j + 1) & (size - 1);
		tab[j] = n;
	}
	free(t->tab);
	t->tab = tab;
	t->tabsize = size;
	return 0;
}

/* The container of Message-ID id (n bytes), made (a dummy) if new. */
static struct tnode *
id_node(struct threads *t, const char *id, size_t n)
{
	if (2 * (t->tabn + 1) > t->tabsize && tab_grow(t) != 0)
		return NULL;
	size_t j = hash(id, n) & (t->tabsize - 1);
	for (; t->tab[j] != NULL; j = (j + 1) & (t->tabsize - 1))
		if (strlen(t->tab[j]->id) == n && memcmp(t->tab[j]->id, id, n) == 0)
			return t->tab[j];
	struct tnode *c = node_new(t);
	if (c == NULL || (c->id = strndup(id, n)) == NULL)
		return NULL;
	t->tab[j] = c;
	t->tabn++;
	return c;
}

/* 1 if a is b or an ancestor of it, or b is deeper than the bound (a
 * link there is refused as if it made a loop). */
static int
is_ancestor(const struct tnode *a, const struct tnode *b)
{
	size_t steps = 0;
	for (const struct tnode *p = b; p != NULL; p = p->parent)
		if (p == a || ++steps > IMAP_THREAD_DEPTH_MAX)
			return 1;
	return 0;
}

static void
unlink_node(struct tnode *c)
{
	if (c->parent == NULL)
		return;
	struct tnode **pp = &c->parent->child;
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	c->next = NULL;
	c->parent = NULL;
}

static void
add_child(struct tnode *p, struct tnode *c)
{
	c->parent = p;
	c->next = p->child;
	p->child = c;
}

/* Step 1.A: the message's thread chain (mcache-keys.h: References:, else
 * In-Reply-To:) linked; the last container of it, or NULL. -1 on ENOMEM
 * (*last_r untouched). */
static int
link_references(struct threads *t, const struct mkeys *k, struct tnode **last_r)
{
	struct tnode *prev = NULL;
	const char *id = k->refs;
	for (size_t i = 0; i < k->nrefs; i++, id += strlen(id) + 1) {
		struct tnode *r = id_node(t, id, strlen(id));
		if (r == NULL)
			return -1;
		/* existing links stay; none that would make a loop */
		if (prev != NULL && r != prev && r->parent == NULL && !is_ancestor(r, prev))
			add_child(prev, r);
		prev = r;
	}
	*last_r = prev;
	return 0;
}

/* Step 1 for one message: 0, 1 (budget spent), -1 (ENOMEM). */
static int
add_message(struct threads *t, size_t idx, struct sbudget *b, int refs)
{
	struct mkeys k;
	char *buf;
	int r = sort_keys(t->im, idx, b, &k, &buf);
	if (r != 0)
		return r;
	struct tnode *c = NULL, *last = NULL;
	if (refs && k.msgid[0] != '\0') {
		if ((c = id_node(t, k.msgid, strlen(k.msgid))) == NULL)
			goto fail;
		if (c->idx != DUMMY)
			c = NULL; /* a duplicate Message-ID: a container of its own */
	}
	if (c == NULL && (c = node_new(t)) == NULL)
		goto fail;
	/* subject and date; the subject compared folded, as SORT SUBJECT */
	c->idx = idx;
	c->date = sort_sent_date(t->im, idx, &k);
	c->reply = k.reply;
	if ((c->subj = strdup(k.subject)) == NULL)
		goto fail;
	if (refs) {
		if (link_references(t, &k, &last) != 0)
			goto fail;
		/* step 1.B: a parent the message had (through another's
		 * references) is dropped; the last reference is its parent,
		 * unless that loops */
		unlink_node(c);
		if (last != NULL && !is_ancestor(c, last))
			add_child(last, c);
	}
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

/* Every node deeper than the bound made a root: an explicit stack, so a
 * chain of any length costs no recursion. */
static int
cut_deep(struct threads *t)
{
	struct tnode **stack = malloc((t->count ? t->count : 1) * sizeof *stack);
	size_t sp = 0;
	if (stack == NULL)
		return -1;
	for (struct tnode *n = t->all; n; n = n->all)
		if (n->parent == NULL) {
			n->depth = 0;
			stack[sp++] = n;
		}
	while (sp > 0) {
		struct tnode *n = stack[--sp], *c, *next;
		for (c = n->child; c; c = next) {
			next = c->next;
			c->depth = n->depth + 1;
			if (c->depth > IMAP_THREAD_DEPTH_MAX) {
				unlink_node(c);
				c->depth = 0;
			}
			stack[sp++] = c;
		}
	}
	free(stack);
	return 0;
}

/* Step 3: dummies without children dropped, others replaced by their
 * children, except a root dummy with more than one. */
static struct tnode *
prune(struct tnode *list, struct tnode *parent)
{
	struct tnode *head = NULL, **tail = &head, *next;
	for (struct tnode *n = list; n; n = next) {
		next = n->next;
		n->child = prune(n->child, n);
		if (n->idx == DUMMY && (n->child == NULL || parent != NULL || n->child->next == NULL)) {
			for (struct tnode *c = n->child; c; c = c->next) {
				c->parent = parent;
				*tail = c;
				tail = &c->next;
			}
			n->child = NULL;
			continue;
		}
		n->parent = parent;
		*tail = n;
		tail = &n->next;
	}
	*tail = NULL;
	return head;
}

/* The message a node stands for in sorting and grouping: itself, or a
 * dummy's first child. */
static const struct tnode *
first_message(const struct tnode *n)
{
	while (n->idx == DUMMY && n->child != NULL)
		n = n->child;
	return n;
}

static int
by_date(const struct tnode *a, const struct tnode *b)
{
	a = first_message(a);
	b = first_message(b);
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* A sibling list sorted by date (merge sort, stable). */
static struct tnode *
sort_list(struct tnode *list)
{
	if (list == NULL || list->next == NULL)
		return list;
	struct tnode *slow = list, *fast = list->next;
	while (fast != NULL && fast->next != NULL) {
		slow = slow->next;
		fast = fast->next->next;
	}
	struct tnode *b = slow->next, *head = NULL, **tail = &head;
	slow->next = NULL;
	struct tnode *a = sort_list(list);
	b = sort_list(b);
	while (a != NULL && b != NULL) {
		struct tnode **pick = by_date(a, b) <= 0 ? &a : &b;
		*tail = *pick;
		tail = &(*pick)->next;
		*pick = (*pick)->next;
	}
	*tail = a != NULL ? a : b;
	return head;
}

/* Steps 4 and 6: every sibling list, children first. */
static struct tnode *
sort_tree(struct tnode *list)
{
	for (struct tnode *n = list; n; n = n->next)
		n->child = sort_tree(n->child);
	return sort_list(list);
}

/* ---- step 5: roots of the same base subject ---- */

struct subjtab {
	struct tnode **slot;
	size_t size;
};

static struct tnode **
subj_slot(struct subjtab *s, const char *subj)
{
	size_t j = hash(subj, strlen(subj)) & (s->size - 1);
	while (s->slot[j] != NULL && strcmp(first_message(s->slot[j])->subj, subj) != 0)
		j = (j + 1) & (s->size - 1);
	return &s->slot[j];
}

static void
append_child(struct tnode *p, struct tnode *c)
{
	struct tnode **pp = &p->child;
	while (*pp != NULL)
		pp = &(*pp)->next;
	c->parent = p;
	c->next = NULL;
	*pp = c;
}

/* Root r merged with e, the table's root of its subject (RFC 5256
 * REFERENCES step 5.B). 0 or -1 (ENOMEM). */
static int
merge_roots(struct threads *t, struct tnode **roots, struct tnode **slot, struct tnode *r)
{
	struct tnode *e = *slot;
	int rd = r->idx == DUMMY, ed = e->idx == DUMMY;
	if (rd && ed) {
		struct tnode *c = r->child, *next;
		for (; c; c = next) {
			next = c->next;
			append_child(e, c);
		}
		r->child = NULL;
	} else if (ed) {
		append_child(e, r);
	} else if (rd) {
		append_child(r, e);
		e->gone = 1;
		*slot = r;
		return 0;
	} else if (r->reply && !e->reply) {
		append_child(e, r);
	} else {
		struct tnode *d = node_new(t);
		if (d == NULL)
			return -1;
		d->rootpos = e->rootpos;
		roots[e->rootpos] = d;
		append_child(d, e);
		append_child(d, r);
		*slot = d;
	}
	r->gone = 1;
	return 0;
}

/* The root list (sorted) grouped by subject, as a new root list. */
static int
group_subjects(struct threads *t, struct tnode **list)
{
	size_t n = 0, k;
	for (struct tnode *r = *list; r; r = r->next)
		n++;
	struct tnode **roots = malloc((n ? n : 1) * sizeof *roots);
	struct subjtab s = { NULL, 16 };
	while (s.size < 2 * n)
		s.size *= 2;
	if (roots == NULL || (s.slot = calloc(s.size, sizeof *s.slot)) == NULL) {
		free(roots);
		return -1;
	}
	k = 0;
	for (struct tnode *r = *list; r; r = r->next) {
		r->rootpos = k;
		roots[k++] = r;
	}
	for (k = 0; k < n; k++) {
		const struct tnode *m = first_message(roots[k]);
		if (m->subj == NULL || m->subj[0] == '\0')
			continue;
		struct tnode **slot = subj_slot(&s, m->subj);
		const struct tnode *e = *slot ? first_message(*slot) : NULL;
		if (*slot == NULL || (roots[k]->idx == DUMMY && (*slot)->idx != DUMMY) ||
		    ((*slot)->idx != DUMMY && e->reply && !m->reply))
			*slot = roots[k];
	}
	int rc = 0;
	for (k = 0; k < n && rc == 0; k++) {
		struct tnode *r = roots[k];
		const struct tnode *m = first_message(r);
		if (r->gone || m->subj == NULL || m->subj[0] == '\0')
			continue;
		struct tnode **slot = subj_slot(&s, m->subj);
		if (*slot != r && *slot != NULL)
			rc = merge_roots(t, roots, slot, r);
	}
	struct tnode *head = NULL, **tail = &head;
	for (k = 0; k < n; k++)
		if (!roots[k]->gone) {
			roots[k]->parent = NULL;
			*tail = roots[k];
			tail = &roots[k]->next;
		}
	*tail = NULL;
	*list = head;
	free(roots);
	free(s.slot);
	return rc;
}

/* ---- ORDEREDSUBJECT ---- */

static int
by_subject(const void *pa, const void *pb)
{
	const struct tnode *a = *(const struct tnode *const *)pa, *b = *(const struct tnode *const *)pb;
	int c = strcmp(a->subj, b->subj);
	return c != 0 ? c : by_date(a, b);
}

/* Messages of one base subject: the first (by date) the parent of the
 * others (RFC 5256 ORDEREDSUBJECT). The roots as a list. */
static int
ordered_subject(struct threads *t, struct tnode **list)
{
	size_t n = t->count, k = 0;
	struct tnode **v = malloc((n ? n : 1) * sizeof *v), *head = NULL, **tail = &head;
	if (v == NULL)
		return -1;
	for (struct tnode *m = t->all; m; m = m->all)
		v[k++] = m;
	qsort(v, n, sizeof *v, by_subject);
	for (k = 0; k < n; k++) {
		if (k > 0 && strcmp(v[k]->subj, v[k - 1]->subj) == 0) {
			struct tnode *root = v[k - 1]->parent ? v[k - 1]->parent : v[k - 1];
			append_child(root, v[k]);
			continue;
		}
		*tail = v[k];
		tail = &v[k]->next;
	}
	*tail = NULL;
	free(v);
	*list = sort_list(head);
	return 0;
}

/* ---- the reply ---- */

static void
write_node(struct imap *im, const struct tnode *n)
{
	if (n->idx != DUMMY) {
		io_printf(&im->io, "%u", im->uid_command ? im->sel->m[n->idx].uid : (uint32_t)(n->idx + 1));
		if (n->child == NULL)
			return;
		if (n->child->next == NULL) {
			io_puts(&im->io, " ");
			write_node(im, n->child);
			return;
		}
		io_puts(&im->io, " ");
	} else if (n->child != NULL && n->child->next == NULL) {
		write_node(im, n->child);
		return;
	}
	for (const struct tnode *c = n->child; c; c = c->next) {
		io_puts(&im->io, "(");
		write_node(im, c);
		io_puts(&im->io, ")");
	}
}

static void
write_threads(struct imap *im, const struct tnode *roots)
{
	io_puts(&im->io, "* THREAD");
	if (roots != NULL)
		io_puts(&im->io, " ");
	for (const struct tnode *r = roots; r; r = r->next) {
		io_puts(&im->io, "(");
		write_node(im, r);
		io_puts(&im->io, ")");
	}
	io_puts(&im->io, "\r\n");
}

/* The threads of messages idx[0..n): V_OK with *roots_r, or a verdict. */
static enum verdict
build(struct threads *t, int refs, const size_t *idx, size_t n, struct sbudget *b,
    struct tnode **roots_r)
{
	struct imap *im = t->im;
	for (size_t i = 0; i < n; i++) {
		int r = add_message(t, idx[i], b, refs);
		if (r > 0)
			return search_over_budget(im, b, "Thread", i);
		if (r < 0)
			return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	}
	if (!refs)
		return ordered_subject(t, roots_r) == 0 ? V_OK
		    : verdict(im, V_NO, "[SERVERBUG] Out of memory");
	if (cut_deep(t) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	struct tnode *head = NULL, **tail = &head;
	for (struct tnode *m = t->all; m; m = m->all)
		if (m->parent == NULL) {
			*tail = m;
			tail = &m->next;
		}
	*tail = NULL;
	head = sort_tree(prune(head, NULL));
	if (group_subjects(t, &head) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	*roots_r = sort_tree(head);
	return V_OK;
}

enum verdict
cmd_thread(struct imap *im, struct imap_command *c)
{
	if (c->n < 3 || c->args[0].type != ARG_ATOM || !arg_is_string(&c->args[1]))
		return verdict(im, V_BAD, "THREAD needs an algorithm, a charset and search keys");
	int refs;
	if (arg_is(&c->args[0], "REFERENCES"))
		refs = 1;
	else if (arg_is(&c->args[0], "ORDEREDSUBJECT"))
		refs = 0;
	else
		return verdict(im, V_BAD, "Unknown threading algorithm");
	struct sbudget b;
	size_t *idx = NULL, n = 0;
	search_budget_start(&b, &im->s.conf);
	enum verdict v = search_messages(im, &c->args[1], c->args + 2, c->n - 2, &b, &idx, &n);
	if (v != V_OK)
		return v;
	struct threads t = { .im = im };
	struct tnode *roots = NULL;
	v = b.over ? search_over_budget(im, &b, "Thread", 0) : build(&t, refs, idx, n, &b, &roots);
	folder_cache_flush(im->sel);
	free(idx);
	if (v == V_OK)
		write_threads(im, roots);
	threads_free(&t);
	return v == V_OK ? verdict(im, V_OK, "%s completed", c->name) : v;
}
