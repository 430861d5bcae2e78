/*
 * bounce.h — the failure notices a queued message owes, kept owed until
 * one is durably stored (S70). A recipient that failed for good stays in
 * the queue file as SPOOL_RCPT_BOUNCING while its notice cannot be stored
 * (the sender's mbox locked by a POP3 session, disk full, an I/O error),
 * and the message is retried with back-off like any delivery. A notice
 * that can never reach its sender (a null sender, a local sender without
 * a mailbox) goes to the postmaster instead: a double bounce.
 */
#ifndef RELAY_BOUNCE_H
#define RELAY_BOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "spool.h"

struct bounce_job {
	const struct conf *conf;
	struct spool_envelope *env;     /* recipient states are updated */
	const char *queue_id;
	int fd;                         /* the original message */
	uint64_t offset, length;
	int has_8bit;
	const unsigned char *newly_failed; /* per recipient: failed in this pass */
	char *const *remote_mta;        /* per recipient: host that refused it, or NULL */
};

/* Sends one notice for every recipient that failed in this pass or owes
 * one from an earlier pass. Each such recipient ends SPOOL_RCPT_FAILED
 * once its notice is stored or none is wanted (NOTIFY), and
 * SPOOL_RCPT_BOUNCING when it must be tried again. Logs what it did.
 * Returns how many recipients still owe a notice. */
size_t bounce_owed(const struct bounce_job *b);

/* The postmaster address: the postmaster key, else postmaster@hostname
 * when hostname is a local domain, else postmaster@ the first local
 * domain. 0, or -1 with errno ENAMETOOLONG when it does not fit in size
 * bytes (out is then "", never a cut address). */
int bounce_postmaster(const struct conf *conf, char *out, size_t size);

#endif
