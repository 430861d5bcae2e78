/*
 * held.h — relay-runner --quarantine, --release ID, --delete ID:
 * the messages a milter had held in spool/quarantine (lib/quarantine.h).
 */
#ifndef RELAY_HELD_H
#define RELAY_HELD_H

#include "conf.h"

/* Prints each held message: id, date, size, reason, sender, recipients;
 * "Quarantine is empty" otherwise. 0, or 111 (stdout or the directory
 * failed). */
int held_list(const struct conf *conf);

/* Delivers the held message id as if the milter had accepted it: local
 * recipients (aliases expanded) into their mailboxes, remote ones queued
 * in the spool, all durably; only then removes it from the quarantine
 * (a crash in between releases it again later: at least once). 0, 100
 * (no such id, or a recipient that can no longer take it), 111. */
int held_release(const struct conf *conf, const char *id);

/* Removes the held message id for good. 0, 100 (no such id), 111. */
int held_delete(const struct conf *conf, const char *id);

#endif
