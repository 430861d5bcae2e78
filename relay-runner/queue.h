/*
 * queue.h — relay-runner's directories in the spool and the claim
 * protocol that keeps two runners from sending one message at once.
 *
 *   tmp/      files being written (smtp-session, spool_rewrite)
 *   new/      freshly queued by smtp-session: <id>
 *   queue/    deferred, waiting for their next attempt: <id>
 *   active/   claimed: <id>,<host>~<boot>,<pid>,<start>
 *   corrupt/  unreadable or malformed files, kept for the admin (S67)
 *   dead/     "dead until" notes of unreachable destinations (dead.h, S72)
 *
 * A runner claims <id> by rename(2) into active/ under a name that says
 * who holds it; rename is atomic, so of two runners exactly one succeeds
 * (the other gets ENOENT). A claim whose holder is gone — same host and
 * boot, and that pid no longer runs with that start time — or, from
 * another host, untouched for longer than RELAY_STALE_CLAIM_SEC, goes back
 * to queue/ on the next run: a killed runner leaves its message queued
 * (at-least-once, S67, S68).
 */
#ifndef RELAY_QUEUE_H
#define RELAY_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest file name taken for a queue id: room under NAME_MAX for the
 * owner suffix of a claim. */
#define QUEUE_NAME_MAX 240

struct queue {
	const char *spool;
	char owner[128];     /* ",<host>~<boot>,<pid>,<start>" suffix of our claims */
	char host[96];       /* "<host>~<boot>" */
	time_t stale_after;  /* seconds, for claims from other hosts */
};

/* Creates the directories (0700) and learns who we are. 0 or -1 (errno). */
int queue_open(struct queue *q, const char *spool, time_t stale_after);

/* Makes later claims name the calling process: a worker forked by the
 * runner claims under its own pid, so a claim outlives neither. */
void queue_reown(struct queue *q);

/* The file names in spool/dir that can be ids (at most QUEUE_NAME_MAX
 * bytes, not starting with '.'), sorted (oldest first for
 * maildir-style names). *names_r is malloc'd; free with queue_names_free.
 * Returns 0 or -1 (errno). */
int queue_names(const struct queue *q, const char *dir, char ***names_r, size_t *n_r);
void queue_names_free(char ***names, size_t n);

/* Claims dir/id. On success writes the claim path into claim (size
 * bytes) and returns 0; -1 with errno (ENOENT: someone else has it;
 * ENAMETOOLONG: a path would not fit, and is never cut to another). */
int queue_claim(const struct queue *q, const char *dir, const char *id, char *claim, size_t size);

/* Moves a claim back to queue/<id> (deferred, or not due yet) and syncs
 * both directories. 0 or -1. */
int queue_release(const struct queue *q, const char *claim, const char *id);
/* Removes a finished claim durably (unlink, fsync active/). 0 or -1. */
int queue_remove(const struct queue *q, const char *claim);
/* Moves path to corrupt/<id> (S67). 0 or -1. */
int queue_quarantine(const struct queue *q, const char *path, const char *id);

/* Returns stale claims in active/ to queue/. Calls report(id, holder, 0)
 * for each, and report(name, NULL, errno) for a name in active/ it cannot
 * check (ENAMETOOLONG: its path does not fit). Returns how many were
 * recovered, or -1 if active/ is unreadable. */
int queue_recover(const struct queue *q,
    void (*report)(const char *id, const char *holder, int err));

/* Removes files in tmp/ older than max_age: what a writer killed
 * mid-write left behind (djb's Maildir rule: 36 hours). Returns how many. */
int queue_clean_tmp(const struct queue *q, time_t max_age);

/* The id part of an active/ name (before the owner suffix) into out. */
int queue_claim_id(const char *name, char *out, size_t size);

#endif
