/*
 * job.h — relay-runner's state: the runner of one pass (configuration,
 * queue, routes, resolver, the kept connection, totals shared with the
 * workers) and the job, one claimed message being worked on; and the
 * results a job records per recipient.
 */
#ifndef RELAY_JOB_H
#define RELAY_JOB_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "dns.h"
#include "queue.h"
#include "route.h"
#include "smtpc.h"
#include "spool.h"

/* The last connection, kept open for the next message to the same
 * destination ("several messages per connection where the peer allows"). */
struct conn_cache {
	char key[300];
	char relay[400];
	struct smtpc *c;
};

/* Totals of a pass, shared with the worker processes. */
struct counts {
	unsigned sent, deferred, bounced;
	unsigned left;       /* messages not started: the budget was spent */
};

struct runner {
	struct conf conf;
	struct conn_cache cache;
	struct queue q;
	struct routes *routes;
	struct resolver *res;
	int flush;
	int system_error;
	struct counts *counts;     /* shared memory (MAP_SHARED) */
	struct timespec pass_end;  /* CLOCK_MONOTONIC; tv_sec 0: no budget */
	struct timespec started;   /* CLOCK_REALTIME, for notes written in this pass */
};

/* One message being worked on. */
struct job {
	struct runner *run;
	const char *id;
	char claim[PATH_MAX];
	int fd;
	struct spool_envelope env;
	uint64_t off, len;
	int has_8bit, need_utf8;   /* 8-bit bytes in the content; SMTPUTF8 needed */
	uint64_t wire_size;        /* the message as sent, for SIZE= */
	unsigned char *newly_failed;
	char **remote_mta;         /* per recipient: the host that refused it, or NULL */
	unsigned char *relayed;    /* per recipient: NOTIFY=SUCCESS owed (RFC 3461 §6.2.2) */
	int attempted;             /* a destination was tried in this pass */
	time_t held_until;         /* latest "dead until" that kept a destination untried */
};

/* Adds n to a total shared with the workers. */
void runner_count(unsigned *counter, size_t n);

/* 1 once the pass may start no more deliveries (relay_pass_budget). */
int runner_budget_spent(const struct runner *run);

/* Records the result of recipient i: its state and diagnostic (printable
 * ASCII, S59), the totals and the log line. A permanent failure stays
 * pending on disk until its notice is out (newly_failed). */
void job_record(struct job *j, size_t i, enum rcpt_result res, const char *relay,
    const char *tls, const char *diag);

/* Writes the current state into the claimed file. 0, or -1 after logging
 * (the runner's system_error is set). */
int job_save(struct job *j);

#endif
