/*
 * job.c — the totals, the pass budget and the per-recipient results of a
 * job (see job.h).
 */
#include "job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "log.h"
#include "rlog.h"
void
runner_count(unsigned *counter, size_t n)
{
	__atomic_fetch_add(counter, (unsigned)n, __ATOMIC_RELAXED);
}

int
runner_budget_spent(const struct runner *run)
{
	struct timespec now;
	if (run->pass_end.tv_sec == 0 || clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return 0;
	return now.tv_sec > run->pass_end.tv_sec ||
	    (now.tv_sec == run->pass_end.tv_sec && now.tv_nsec >= run->pass_end.tv_nsec);
}

static void
set_diag(struct spool_rcpt *r, const char *diag)
{
	char *d = strndup(diag, RELAY_DIAGNOSTIC_MAX);
	if (!d)
		return;
	/* Printable ASCII only, so neither the queue file nor a bounce ever
	 * carries remote control bytes (S59). */
	for (char *p = d; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	free(r->diagnostic);
	r->diagnostic = d;
}

void
job_record(struct job *j, size_t i, enum rcpt_result res, const char *relay, const char *tls,
    const char *diag)
{
	struct spool_rcpt *r = &j->env.rcpts[i];
	const char *status;
	set_diag(r, diag);
	if (res == RCPT_OK) {
		r->state = SPOOL_RCPT_DELIVERED;
		status = "sent";
		runner_count(&j->run->counts->sent, 1);
	} else if (res == RCPT_PERM) {
		/* Stays pending on disk until the bounce is out (at-least-once). */
		j->newly_failed[i] = 1;
		/* "host[address]:port" names a server that answered: Remote-MTA. */
		const char *br = strchr(relay, '[');
		if (br && br > relay && j->remote_mta) {
			free(j->remote_mta[i]);
			j->remote_mta[i] = strndup(relay, (size_t)(br - relay));
		}
		status = "bounced";
		runner_count(&j->run->counts->bounced, 1);
	} else {
		status = "deferred";
	}
	rlog_attempt(j->id, r->addr, relay, status, tls, diag);
}

/* Writes the current state into the claimed file. Recipients that failed
 * in this pass stay pending until bounce() has given them their state
 * (failed, or failed with the notice still owed). */
int
job_save(struct job *j)
{
	if (spool_rewrite(j->run->conf.spool, j->claim, &j->env, j->fd, j->off, j->len) < 0) {
		log_err("%s: cannot update the queue file: %s", j->id, strerror(errno));
		j->run->system_error = 1;
		return -1;
	}
	return 0;
}
