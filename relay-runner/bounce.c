/*
 * bounce.c — failure notices, retried until stored (see bounce.h).
 *
 * The notice is built afresh at each attempt from the queue file, so
 * nothing but the recipient state has to be kept between passes. A crash
 * after the notice is stored and before the queue file is rewritten sends
 * it again: at least once, never zero (DESIGN.md).
 */
#include "bounce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "dsn.h"
#include "log.h"
#include "path.h"

int
bounce_postmaster(const struct conf *conf, char *out, size_t size)
{
	/* path_printf's check: cut, it would name somebody else, so it is
	 * "" and -1 (ENAMETOOLONG) instead */
	if (conf->postmaster && conf->postmaster[0])
		return path_printf(out, size, "%s", conf->postmaster);
	if (conf_is_local_domain(conf, conf->hostname) || conf->n_local_domains == 0)
		return path_printf(out, size, "postmaster@%s", conf->hostname);
	return path_printf(out, size, "postmaster@%s", conf->local_domains[0]);
}

static void
set_states(const struct bounce_job *b, const size_t *idx, size_t n, enum spool_rcpt_state st)
{
	for (size_t i = 0; i < n; i++)
		b->env->rcpts[idx[i]].state = st;
}

/* 1 when every recipient in idx is the postmaster: the message that
 * failed was itself a notice to the postmaster (a triple bounce). */
static int
all_postmaster(const struct bounce_job *b, const size_t *idx, size_t n, const char *pm)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(b->env->rcpts[idx[i]].addr, pm) != 0)
			return 0;
	return 1;
}

/* The notice to the postmaster when the sender cannot have one (why).
 * Returns the state the recipients take. */
static enum spool_rcpt_state
double_bounce(const struct bounce_job *b, struct dsn_msg *m, const size_t *idx, size_t n,
    const char *why)
{
	char pm[ADDR_PATH_MAX + 1], e_pm[4 * ADDR_PATH_MAX + 1], err[300];
	if (bounce_postmaster(b->conf, pm, sizeof pm) < 0) {
		log_err("%s: double bounce (%s) kept owed: the postmaster address is longer "
		    "than %d bytes; set postmaster in the configuration", b->queue_id, why,
		    ADDR_PATH_MAX);
		return SPOOL_RCPT_BOUNCING;
	}
	log_escape(e_pm, sizeof e_pm, pm, strlen(pm));
	if (!b->env->sender[0] && all_postmaster(b, idx, n, pm)) {
		log_err("%s: a notice to the postmaster <%s> failed; not reported again, "
		    "so it is dropped here", b->queue_id, e_pm);
		return SPOOL_RCPT_FAILED;
	}
	m->notify_to = pm;
	int rc = dsn_send(b->conf, m, idx, n, err, sizeof err);
	if (rc == 0 || rc == 1) {
		log_warn("%s: double bounce (%s): notice for %zu recipient(s) sent to the "
		    "postmaster <%s>", b->queue_id, why, n, e_pm);
		return SPOOL_RCPT_FAILED;
	}
	if (rc == -1) {
		log_warn("%s: double bounce to the postmaster <%s> deferred: %s", b->queue_id,
		    e_pm, err);
		return SPOOL_RCPT_BOUNCING;
	}
	log_err("%s: the postmaster <%s> cannot take mail (%s): double bounce dropped",
	    b->queue_id, e_pm, err);
	return SPOOL_RCPT_FAILED;
}

/* Sends the notice for idx[0..n) and returns the state they take. */
static enum spool_rcpt_state
notify(const struct bounce_job *b, const size_t *idx, size_t n)
{
	struct dsn_msg m = { b->env, b->queue_id, b->fd, b->offset, b->length, b->has_8bit,
		DSN_FAILED, 0, b->remote_mta, NULL };
	char err[300], e_sender[4 * ADDR_PATH_MAX + 1];
	if (!b->env->sender[0])       /* never bounce a bounce (S70) */
		return double_bounce(b, &m, idx, n, "the sender is the null path <>");
	log_field(e_sender, sizeof e_sender, b->env->sender, strlen(b->env->sender));
	int rc = dsn_send(b->conf, &m, idx, n, err, sizeof err);
	if (rc == 0 || rc == 1) {
		if (rc == 0)
			log_info("%s: sender non-delivery notification to <%s> for %zu recipient(s)",
			    b->queue_id, e_sender, n);
		return SPOOL_RCPT_FAILED;
	}
	if (rc == -1) {
		log_warn("%s: bounce to <%s> deferred, the message stays queued: %s", b->queue_id,
		    e_sender, err);
		return SPOOL_RCPT_BOUNCING;
	}
	char why[RELAY_DIAGNOSTIC_MAX + 1];
	snprintf(why, sizeof why, "<%.600s>: %.300s", e_sender, err);
	return double_bounce(b, &m, idx, n, why);
}

size_t
bounce_owed(const struct bounce_job *b)
{
	struct spool_envelope *e = b->env;
	size_t n = 0;
	size_t *idx = calloc(e->n_rcpts ? e->n_rcpts : 1, sizeof *idx);
	for (size_t i = 0; i < e->n_rcpts; i++) {
		struct spool_rcpt *r = &e->rcpts[i];
		if (!b->newly_failed[i] && r->state != SPOOL_RCPT_BOUNCING)
			continue;
		if (!dsn_wanted(r))
			r->state = SPOOL_RCPT_FAILED;
		else if (!idx)
			r->state = SPOOL_RCPT_BOUNCING;   /* out of memory: next time */
		else
			idx[n++] = i;
	}
	if (n > 0)
		set_states(b, idx, n, notify(b, idx, n));
	size_t owed = 0;
	for (size_t i = 0; i < e->n_rcpts; i++)
		owed += e->rcpts[i].state == SPOOL_RCPT_BOUNCING;
	free(idx);
	return owed;
}
