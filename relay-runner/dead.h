/*
 * dead.h — "dead until" notes: destinations that did not answer in time
 * (S72). After a connect or greeting timeout to every host of a
 * destination, relay-runner writes spool/dead/<key>; until the time in
 * it, further messages to that destination are deferred without another
 * connection, in this pass and in the following ones. A connection that
 * works removes the note.
 *
 * A note is one line, "<until> <failures>\n" (seconds since the epoch,
 * consecutive timeouts), written to tmp/ and renamed into dead/, so a
 * reader sees the old note or the new one. A note lost in a crash costs
 * one more connection attempt, nothing else: it is not fsync'd. The file
 * name is the destination key with every byte other than [A-Za-z0-9.-]
 * written as %XX (long keys end in a hash instead).
 */
#ifndef RELAY_DEAD_H
#define RELAY_DEAD_H

#include <time.h>

/* 1 if key is held back at now (*until_r set), 0 if not (no note, an
 * expired or unreadable one, or, with since, one written before since:
 * --flush retries every destination once, but not once per message). */
int dead_check(const char *spool, const char *key, time_t now, const struct timespec *since,
    time_t *until_r);

/* Records one more timeout for key: held for min_sec doubled per earlier
 * consecutive timeout, at most max_sec. Returns 0 with *until_r and
 * *failures_r set, or -1 (errno). */
int dead_note(const char *spool, const char *key, time_t now, time_t min_sec, time_t max_sec,
    time_t *until_r, unsigned *failures_r);

/* Takes key's attempt lock (flock on dead/<name>.lock), waiting for a
 * process that holds it: one connection attempt per destination at a
 * time, across workers and runners, so a process that waited finds the
 * note its predecessor wrote instead of timing out once more. Returns
 * the fd to pass to dead_unlock, or -1 (errno): go on without it. */
int dead_lock(const char *spool, const char *key);
void dead_unlock(int *fd);

/* Removes key's note, if any (the destination answered). */
void dead_clear(const char *spool, const char *key);

/* Removes notes that expired more than max_age ago (destinations that
 * got no more mail), and lock files not taken for max_age. Returns how
 * many, or -1 if dead/ is unreadable. */
int dead_clean(const char *spool, time_t now, time_t max_age);

#endif
