/*
 * dest.c — one message to each of its destinations (see dest.h).
 */
#include "dest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounds.h"
#include "dead.h"
#include "dsn.h"
#include "log.h"
#include "rlog.h"

#define CANDIDATES_MAX (RELAY_MX_MAX * RELAY_ADDRS_PER_HOST)

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at && at[1] ? at + 1 : NULL;
}

static void
target_from(const struct route_dest *d, const struct route_candidate *c, struct smtpc_target *t)
{
	memset(t, 0, sizeof *t);
	snprintf(t->host, sizeof t->host, "%s", c->host);
	dns_addr_format(&c->addr, t->addr_text, sizeof t->addr_text);
	if (c->addr.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)c->port);
		memcpy(&sin->sin_addr, c->addr.a, 4);
		t->addrlen = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->addr;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)c->port);
		memcpy(&sin6->sin6_addr, c->addr.a, 16);
		t->addrlen = sizeof *sin6;
	}
	t->tls = d->tls;
	t->ca_file = d->ca_file;
	t->auth_user = d->auth_user;
	t->auth_pass = d->auth_pass;
}

static void
relay_name(const struct smtpc_target *t, unsigned port, char *out, size_t size)
{
	snprintf(out, size, "%s[%s]:%u", t->host, t->addr_text, port);
}

/* Tries the candidates in order until one answers. Returns the open
 * session, or NULL with the last reason in diag and *timed_out_r set when
 * some host did not answer in time. Once the pass budget is spent, or
 * RELAY_DEST_TIMEOUTS_MAX addresses timed out, no further host is tried.
 * rcpt names the first recipient in log lines. */
static struct smtpc *
open_session(struct job *j, const struct route_dest *d, const struct route_candidate *cand,
    size_t n_cand, const char *rcpt, char *relay, size_t relaysize, char *tls, size_t tlssize,
    char *diag, size_t diagsize, int *timed_out_r)
{
	struct runner *run = j->run;
	unsigned timeouts = 0;
	*timed_out_r = 0;
	for (size_t c = 0; c < n_cand; c++) {
		struct smtpc_target t;
		enum smtpc_status st;
		target_from(d, &cand[c], &t);
		relay_name(&t, cand[c].port, relay, relaysize);
		struct smtpc *s = smtpc_open(&run->conf, &t, &st, diag, diagsize, tls, tlssize);
		if (!s && st == SMTPC_TLS_RETRY) {
			/* Opportunistic TLS failed: the same host in plaintext, as
			 * Postfix's "may" level does (S57). */
			rlog_attempt(j->id, rcpt, relay, "tls-fallback", tls, diag);
			t.no_tls = 1;
			s = smtpc_open(&run->conf, &t, &st, diag, diagsize, tls, tlssize);
		}
		if (s)
			return s;
		timeouts += st == SMTPC_HOST_TIMEOUT;
		*timed_out_r |= st == SMTPC_HOST_TIMEOUT;
		if (c + 1 == n_cand || timeouts >= RELAY_DEST_TIMEOUTS_MAX || runner_budget_spent(run))
			break;
		rlog_attempt(j->id, rcpt, relay, "host-failed", tls, diag);
	}
	return NULL;
}

/* 1 for a recipient refused only because the transaction had enough:
 * 452 (or 552, RFC 5321 §4.5.3.1.10) "too many recipients". */
static int
too_many(const struct smtpc_rcpt *r)
{
	return r->result == RCPT_TEMP &&
	    (!strncmp(r->diag, "452 ", 4) || !strncmp(r->diag, "552 ", 4));
}

/* Recipients a server put off with "too many recipients" go in further
 * transactions on the same connection (RFC 5321 §4.5.3.1.8), as long as
 * each round delivers some. */
static void
send_rest(struct smtpc *s, const struct smtpc_msg *m, struct smtpc_rcpt *rc, size_t n)
{
	struct smtpc_rcpt *sub = calloc(n, sizeof *sub);
	size_t *from = calloc(n, sizeof *from);
	for (int round = 0; sub && from && round < RELAY_RCPT_ROUNDS_MAX; round++) {
		size_t k = 0, ok = 0;
		for (size_t i = 0; i < n; i++) {
			ok += rc[i].result == RCPT_OK;
			if (too_many(&rc[i])) {
				sub[k].index = rc[i].index;
				from[k++] = i;
			}
		}
		if (k == 0 || ok == 0 || !smtpc_reusable(s))
			break;
		smtpc_send(s, m, sub, k);
		size_t accepted = 0;
		for (size_t x = 0; x < k; x++) {
			accepted += sub[x].result == RCPT_OK;
			rc[from[x]] = sub[x];
		}
		if (accepted == 0)
			break;
	}
	free(sub);
	free(from);
}

static void
format_time(time_t t, char *out, size_t size)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, size, "%lld", (long long)t);
}

/* 1 if d has a "dead until" note in force (under --flush: one written
 * in this pass): then the recipients idx[0..n) are deferred without a
 * connection (S72). */
static int
held(struct job *j, const struct route_dest *d, const size_t *idx, size_t n)
{
	time_t until;
	char when[64], diag[RELAY_DIAGNOSTIC_MAX + 1];
	if (dead_check(j->run->conf.spool, d->key, time(NULL),
	    j->run->flush ? &j->run->started : NULL, &until) != 1)
		return 0;
	format_time(until, when, sizeof when);
	snprintf(diag, sizeof diag, "4.4.1 not tried: %s did not answer in time at an earlier "
	    "attempt; next attempt after %s", d->host, when);
	for (size_t i = 0; i < n; i++)
		job_record(j, idx[i], RCPT_TEMP, d->host, "none", diag);
	if (until > j->held_until)
		j->held_until = until;
	return 1;
}

/* No host of d answered in time: note it, so that this pass and the next
 * ones do not wait for it again until its back-off has passed (S72). */
static void
hold(struct job *j, const struct route_dest *d)
{
	const struct conf *conf = &j->run->conf;
	time_t until;
	unsigned failures;
	char when[64], e_key[4 * sizeof d->key];
	log_escape(e_key, sizeof e_key, d->key, strlen(d->key));
	if (dead_note(conf->spool, d->key, time(NULL), (time_t)conf->relay_backoff_min,
	    RELAY_BACKOFF_MAX_SEC, &until, &failures) < 0) {
		log_warn("%s: cannot note that it did not answer: %s", e_key, strerror(errno));
		return;
	}
	format_time(until, when, sizeof when);
	log_warn("%s: did not answer in time (%u in a row); no further attempts before %s",
	    e_key, failures, when);
}

/* Delivers to the recipients idx[0..n) which share destination d, over
 * the kept connection when it goes there and still answers. */
static void
deliver_group(struct job *j, const struct route_dest *d, const size_t *idx, size_t n)
{
	struct runner *run = j->run;
	struct conn_cache *cache = &run->cache;
	char diag[RELAY_DIAGNOSTIC_MAX + 1] = "", relay[400] = "", tls[200] = "none";
	struct smtpc_rcpt *rc = calloc(n, sizeof *rc);
	if (!rc) {
		for (size_t i = 0; i < n; i++)
			job_record(j, idx[i], RCPT_TEMP, d->host, "none", "4.3.0 out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		rc[i].index = idx[i];
	struct smtpc_msg m = { &j->env, j->fd, j->off, j->len, j->wire_size, j->has_8bit,
		j->need_utf8 };
	struct smtpc *s = NULL;
	if (cache->c && !strcmp(cache->key, d->key) && smtpc_reusable(cache->c)) {
		s = cache->c;
		cache->c = NULL;
		j->attempted = 1;
		snprintf(relay, sizeof relay, "%s", cache->relay);
		snprintf(tls, sizeof tls, "%s", smtpc_tls(s));
		smtpc_send(s, &m, rc, n);
	} else {
		smtpc_close(&cache->c);
		if (held(j, d, idx, n)) {
			free(rc);
			return;
		}
		/* Another process opening a connection to d: wait, then see
		 * what it found. The lock is held until a session is open. */
		int lock = dead_lock(run->conf.spool, d->key);
		if (held(j, d, idx, n)) {
			dead_unlock(&lock);
			free(rc);
			return;
		}
		j->attempted = 1;
		struct route_candidate cand[CANDIDATES_MAX];
		size_t n_cand = 0;
		enum route_result rr = route_resolve(run->routes, run->res, d, cand, CANDIDATES_MAX,
		    &n_cand, diag, sizeof diag);
		if (rr != ROUTE_OK) {
			dead_unlock(&lock);
			for (size_t i = 0; i < n; i++)
				job_record(j, idx[i], rr == ROUTE_PERM ? RCPT_PERM : RCPT_TEMP, d->host, "none",
				    diag);
			free(rc);
			return;
		}
		int timed_out;
		s = open_session(j, d, cand, n_cand, j->env.rcpts[idx[0]].addr, relay, sizeof relay,
		    tls, sizeof tls, diag, sizeof diag, &timed_out);
		if (s)
			dead_clear(run->conf.spool, d->key);
		else if (timed_out)
			hold(j, d);
		dead_unlock(&lock);
		if (s)
			smtpc_send(s, &m, rc, n);
	}
	if (s)
		send_rest(s, &m, rc, n);
	for (size_t i = 0; i < n; i++) {
		job_record(j, idx[i], s ? rc[i].result : RCPT_TEMP, relay, tls, s ? rc[i].diag : diag);
		/* A peer without DSN cannot report success: we do ("relayed"). */
		if (s && rc[i].result == RCPT_OK && !rc[i].dsn_passed &&
		    dsn_success_wanted(&j->env.rcpts[idx[i]])) {
			j->relayed[idx[i]] = 1;
			free(j->remote_mta[idx[i]]);
			j->remote_mta[idx[i]] = strndup(relay, strcspn(relay, "["));
		}
	}
	if (s) {
		snprintf(cache->key, sizeof cache->key, "%s", d->key);
		snprintf(cache->relay, sizeof cache->relay, "%s", relay);
		cache->c = s;
	}
	free(rc);
}

void
dest_deliver_all(struct job *j)
{
	typedef char dest_key[sizeof ((struct route_dest *)0)->key];
	size_t n = j->env.n_rcpts;
	size_t *idx = calloc(n, sizeof *idx);
	dest_key *keys = calloc(n, sizeof *keys);
	struct route_dest d;
	char err[300], diag[400];
	if (!idx || !keys)
		goto out;
	/* The destination of every pending recipient, computed once. */
	for (size_t i = 0; i < n; i++) {
		struct spool_rcpt *r = &j->env.rcpts[i];
		const char *dom = domain_of(r->addr);
		if (r->state != SPOOL_RCPT_PENDING || j->newly_failed[i])
			continue;
		if (!dom) {
			job_record(j, i, RCPT_PERM, "none", "none", "5.1.3 recipient address has no domain");
		} else if (!smtpc_addr_ok(r->addr)) {
			/* A forged queue file: no lookup, no command with it (S26). */
			job_record(j, i, RCPT_PERM, "none", "none", "5.1.3 bad recipient address syntax");
		} else if (route_dest(j->run->routes, dom, &d, err, sizeof err) < 0) {
			snprintf(diag, sizeof diag, "4.3.5 configuration error: %s", err);
			job_record(j, i, RCPT_TEMP, "none", "none", diag);
		} else {
			memcpy(keys[i], d.key, sizeof keys[i]);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!keys[i][0])
			continue;
		/* Budget spent: the other destinations wait for the next pass. */
		if (j->attempted && runner_budget_spent(j->run))
			break;
		route_dest(j->run->routes, domain_of(j->env.rcpts[i].addr), &d, err, sizeof err);
		size_t k = 0;
		for (size_t x = i; x < n; x++) {
			if (keys[x][0] && strcmp(keys[x], d.key) == 0) {
				idx[k++] = x;
				keys[x][0] = '\0';
			}
		}
		deliver_group(j, &d, idx, k);
		/* More destinations to go: record this transaction's results
		 * now, so a crash does not resend them (S68). After the last
		 * one, finish() writes or removes the file anyway. */
		for (size_t x = i + 1; x < n; x++) {
			if (keys[x][0]) {
				job_save(j);
				break;
			}
		}
	}
out:
	free(idx);
	free(keys);
}
