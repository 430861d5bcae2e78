/*
 * sched.c — one pass's messages grouped by destination (see sched.h).
 */
#include "sched.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "path.h"
#include "spool.h"

typedef char sched_key[sizeof ((struct sched_group *)0)->key];

/* The destination key of the first pending recipient of spool/dir/id
 * into key ("" when it cannot be read: the worker's claim quarantines
 * it). Returns 1 to take the message, 0 to leave it (gone, or not due). */
static int
classify(const struct queue *q, const struct routes *r, const char *dir, const char *id,
    int all, time_t now, char *key, size_t size)
{
	char path[PATH_MAX], err[300];
	key[0] = '\0';
	/* A path that does not fit is taken: the claim then says why. */
	if (path_join(path, sizeof path, q->spool, dir, id) != 0)
		return 1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	struct spool_envelope env;
	uint64_t off, len;
	int take = 1;
	if (spool_read(fd, &env, &off, &len) == 0) {
		take = all || strcmp(dir, "queue") != 0 || env.next_attempt <= now;
		for (size_t i = 0; i < env.n_rcpts; i++) {
			const char *at = strrchr(env.rcpts[i].addr, '@');
			struct route_dest d;
			if (env.rcpts[i].state != SPOOL_RCPT_PENDING || !at || !at[1])
				continue;
			if (route_dest(r, at + 1, &d, err, sizeof err) == 0)
				snprintf(key, size, "%s", d.key);
			break;
		}
		spool_envelope_free(&env);
	}
	close(fd);
	return take;
}

static int
by_key_then_order(const void *a, const void *b, void *keys)
{
	const struct sched_item *x = a, *y = b;
	const sched_key *k = keys;
	int c = strcmp(k[x->order], k[y->order]);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
by_oldest(const void *a, const void *b, void *items)
{
	const struct sched_item *it = items;
	size_t x = it[((const struct sched_group *)a)->first].order;
	size_t y = it[((const struct sched_group *)b)->first].order;
	return x < y ? -1 : x > y;
}

/* Sorts s->items into groups, then lays the groups out oldest first. */
static int
group(struct sched *s, const sched_key *keys)
{
	qsort_r(s->items, s->n_items, sizeof *s->items, by_key_then_order, (void *)keys);
	s->groups = calloc(s->n_items ? s->n_items : 1, sizeof *s->groups);
	struct sched_item *out = calloc(s->n_items ? s->n_items : 1, sizeof *out);
	if (!s->groups || !out) {
		free(out);
		return -1;
	}
	for (size_t i = 0; i < s->n_items; i++) {
		if (i == 0 || strcmp(keys[s->items[i].order], keys[s->items[i - 1].order]) != 0) {
			struct sched_group *g = &s->groups[s->n_groups++];
			snprintf(g->key, sizeof g->key, "%s", keys[s->items[i].order]);
			g->first = i;
		}
		s->groups[s->n_groups - 1].n++;
	}
	qsort_r(s->groups, s->n_groups, sizeof *s->groups, by_oldest, s->items);
	size_t o = 0;
	for (size_t g = 0; g < s->n_groups; g++) {
		for (size_t i = 0; i < s->groups[g].n; i++) {
			out[o] = s->items[s->groups[g].first + i];
			out[o].group = g;
			o++;
		}
		s->groups[g].first = o - s->groups[g].n;
	}
	free(s->items);
	s->items = out;
	return 0;
}

int
sched_build(struct sched *s, const struct queue *q, const struct routes *r, int all,
    time_t now, const char **dir_r)
{
	static const char *const dirs[] = { "new", "queue" };
	char **names[2] = { NULL, NULL };
	size_t n[2] = { 0, 0 };
	sched_key *keys = NULL;
	int rc = -1;
	memset(s, 0, sizeof *s);
	for (size_t d = 0; d < 2; d++) {
		if (queue_names(q, dirs[d], &names[d], &n[d]) < 0) {
			*dir_r = dirs[d];
			goto out;
		}
	}
	size_t total = n[0] + n[1];
	s->items = calloc(total ? total : 1, sizeof *s->items);
	keys = calloc(total ? total : 1, sizeof *keys);
	if (!s->items || !keys) {
		*dir_r = dirs[0];
		goto out;
	}
	for (size_t d = 0; d < 2; d++) {
		for (size_t i = 0; i < n[d]; i++) {
			struct sched_item *it = &s->items[s->n_items];
			if (!classify(q, r, dirs[d], names[d][i], all, now, keys[s->n_items],
			    sizeof keys[s->n_items]))
				continue;
			it->dir = dirs[d];
			it->id = names[d][i];
			names[d][i] = NULL;       /* owned by the item now */
			it->order = s->n_items++;
		}
	}
	if (group(s, keys) < 0) {
		*dir_r = dirs[0];
		goto out;
	}
	rc = 0;
out:
	for (size_t d = 0; d < 2; d++)
		queue_names_free(&names[d], n[d]);
	free(keys);
	if (rc < 0) {
		int e = errno;
		sched_free(s);
		errno = e ? e : ENOMEM;
	}
	return rc;
}

void
sched_free(struct sched *s)
{
	for (size_t i = 0; i < s->n_items; i++)
		free(s->items[i].id);
	free(s->items);
	free(s->groups);
	memset(s, 0, sizeof *s);
}
