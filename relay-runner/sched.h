/*
 * sched.h — the work of one pass, grouped by destination (S72): every
 * message in new/ and the due ones in queue/, each put with the other
 * messages whose first pending recipient goes to the same destination
 * (route_dest key). One worker takes one group and works through it in
 * queue order, so a destination gets one connection at a time (reused
 * from message to message) and a dead one holds up only its own group.
 *
 * The envelopes are read without a claim: files in the spool are only
 * replaced by rename, and the worker claims and reads each message again,
 * so a grouping made stale by another runner costs nothing but order.
 */
#ifndef RELAY_SCHED_H
#define RELAY_SCHED_H

#include <stddef.h>
#include <time.h>

#include "queue.h"
#include "route.h"

struct sched_item {
	const char *dir;     /* "new" or "queue" */
	char *id;
	size_t group;
	size_t order;        /* position in the listing: new/ first, then by name */
};

struct sched_group {
	char key[sizeof ((struct route_dest *)0)->key];   /* "" for unreadable files */
	size_t first, n;     /* items[first .. first + n) */
};

struct sched {
	struct sched_item *items;
	size_t n_items;
	struct sched_group *groups;   /* in the order of their oldest message */
	size_t n_groups;
};

/* Lists new/ and queue/ (only the due part of queue/ unless all), reads
 * each envelope and groups the messages. Returns 0, or -1 (errno) with
 * the directory that failed in *dir_r. */
int sched_build(struct sched *s, const struct queue *q, const struct routes *r, int all,
    time_t now, const char **dir_r);
void sched_free(struct sched *s);

#endif
