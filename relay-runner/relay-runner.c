/*
 * relay-runner — one pass over the outbound spool: claim each due message,
 * deliver it to every destination (one connection per destination carries
 * all its recipients), record per-recipient results, bounce what failed,
 * and defer the rest with back-off. See relay-runner.8.
 *
 *   main: flags, config, privileges, then --list, the quarantine
 *         (--quarantine, --release, --delete: held.c) or one pass
 *   pass: recover stale claims, group new/ and the due part of queue/ by
 *         destination, one worker process per group, relay_processes at
 *         once, none started after relay_pass_budget (S72)
 *   message: claim, read, group by destination, deliver, bounce, finish
 */
#include <errno.h>
#include <limits.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "bounce.h"
#include "conf.h"
#include "dead.h"
#include "dns.h"
#include "dsn.h"
#include "held.h"
#include "list.h"
#include "log.h"
#include "queue.h"
#include "rlog.h"
#include "route.h"
#include "scan.h"
#include "sched.h"
#include "session.h"
#include "smtpc.h"
#include "spool.h"

/* Exit codes (relay-runner.8). */
#define EXIT_OK 0
#define EXIT_USAGE 100
#define EXIT_SYSTEM 111

#define CANDIDATES_MAX (RELAY_MX_MAX * RELAY_ADDRS_PER_HOST)

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

static void
count_n(unsigned *counter, size_t n)
{
	__atomic_fetch_add(counter, (unsigned)n, __ATOMIC_RELAXED);
}

static void
count(unsigned *counter)
{
	count_n(counter, 1);
}

/* 1 once the pass may start no more deliveries (relay_pass_budget). */
static int
budget_spent(const struct runner *run)
{
	struct timespec now;
	if (run->pass_end.tv_sec == 0 || clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return 0;
	return now.tv_sec > run->pass_end.tv_sec ||
	    (now.tv_sec == run->pass_end.tv_sec && now.tv_nsec >= run->pass_end.tv_nsec);
}

static unsigned
jitter(unsigned range)
{
	unsigned r = 0;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) < 0)
		r = (unsigned)getpid();
	return r % (range + 1);
}

static time_t
backoff(const struct conf *conf, unsigned attempts)
{
	time_t delay = conf->relay_backoff_min > 0 ? (time_t)conf->relay_backoff_min : 1;
	for (unsigned i = 1; i < attempts && delay < RELAY_BACKOFF_MAX_SEC; i++)
		delay *= 2;
	if (delay > RELAY_BACKOFF_MAX_SEC)
		delay = RELAY_BACKOFF_MAX_SEC;
	/* Up to 10 % jitter so a crowd of deferred messages spreads out. */
	return delay + (time_t)jitter((unsigned)(delay / 10));
}

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at && at[1] ? at + 1 : NULL;
}

/* ---- results ------------------------------------------------------------- */

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

static void
record(struct job *j, size_t i, enum rcpt_result res, const char *relay, const char *tls,
    const char *diag)
{
	struct spool_rcpt *r = &j->env.rcpts[i];
	const char *status;
	set_diag(r, diag);
	if (res == RCPT_OK) {
		r->state = SPOOL_RCPT_DELIVERED;
		status = "sent";
		count(&j->run->counts->sent);
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
		count(&j->run->counts->bounced);
	} else {
		status = "deferred";
	}
	rlog_attempt(j->id, r->addr, relay, status, tls, diag);
}

/* Writes the current state into the claimed file. Recipients that failed
 * in this pass stay pending until bounce() has given them their state
 * (failed, or failed with the notice still owed). */
static int
save(struct job *j)
{
	if (spool_rewrite(j->run->conf.spool, j->claim, &j->env, j->fd, j->off, j->len) < 0) {
		log_err("%s: cannot update the queue file: %s", j->id, strerror(errno));
		j->run->system_error = 1;
		return -1;
	}
	return 0;
}

/* ---- delivery to one destination ---------------------------------------- */

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
		if (c + 1 == n_cand || timeouts >= RELAY_DEST_TIMEOUTS_MAX || budget_spent(run))
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
		record(j, idx[i], RCPT_TEMP, d->host, "none", diag);
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
			record(j, idx[i], RCPT_TEMP, d->host, "none", "4.3.0 out of memory");
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
				record(j, idx[i], rr == ROUTE_PERM ? RCPT_PERM : RCPT_TEMP, d->host, "none",
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
		record(j, idx[i], s ? rc[i].result : RCPT_TEMP, relay, tls, s ? rc[i].diag : diag);
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

/* Groups pending recipients by destination and delivers each group,
 * saving state after each completed transaction (S68). */
static void
deliver_all(struct job *j)
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
			record(j, i, RCPT_PERM, "none", "none", "5.1.3 recipient address has no domain");
		} else if (!smtpc_addr_ok(r->addr)) {
			/* A forged queue file: no lookup, no command with it (S26). */
			record(j, i, RCPT_PERM, "none", "none", "5.1.3 bad recipient address syntax");
		} else if (route_dest(j->run->routes, dom, &d, err, sizeof err) < 0) {
			snprintf(diag, sizeof diag, "4.3.5 configuration error: %s", err);
			record(j, i, RCPT_TEMP, "none", "none", diag);
		} else {
			memcpy(keys[i], d.key, sizeof keys[i]);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!keys[i][0])
			continue;
		/* Budget spent: the other destinations wait for the next pass. */
		if (j->attempted && budget_spent(j->run))
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
				save(j);
				break;
			}
		}
	}
out:
	free(idx);
	free(keys);
}

/* ---- one message ---------------------------------------------------------- */

static void
expire(struct job *j, time_t now)
{
	const struct conf *conf = &j->run->conf;
	if ((uint64_t)(now - j->env.arrival) < conf->queue_lifetime)
		return;
	for (size_t i = 0; i < j->env.n_rcpts; i++) {
		struct spool_rcpt *r = &j->env.rcpts[i];
		if (r->state != SPOOL_RCPT_PENDING || j->newly_failed[i])
			continue;
		char diag[RELAY_DIAGNOSTIC_MAX + 1];
		snprintf(diag, sizeof diag, "5.4.7 delivery time expired (queue_lifetime); last error: %.800s",
		    r->diagnostic ? r->diagnostic : "none");
		record(j, i, RCPT_PERM, "none", "none", diag);
	}
}

/* RFC 3464 "delayed" notice, once per message, when it has waited
 * RELAY_DELAY_WARNING_SEC with recipients still pending. */
static void
warn_delay(struct job *j, time_t now)
{
	const struct spool_envelope *e = &j->env;
	if (e->delay_warned || !e->sender[0] || now - e->arrival < RELAY_DELAY_WARNING_SEC)
		return;
	size_t n = 0;
	size_t *idx = calloc(e->n_rcpts, sizeof *idx);
	if (!idx)
		return;
	for (size_t i = 0; i < e->n_rcpts; i++)
		if (e->rcpts[i].state == SPOOL_RCPT_PENDING && !j->newly_failed[i] &&
		    dsn_delay_wanted(&e->rcpts[i]))
			idx[n++] = i;
	if (n > 0) {
		struct dsn_msg m = { e, j->id, j->fd, j->off, j->len, j->has_8bit, DSN_DELAYED,
			e->arrival + (time_t)j->run->conf.queue_lifetime, NULL, NULL };
		char err[300];
		if (dsn_send(&j->run->conf, &m, idx, n, err, sizeof err) == 0)
			log_info("%s: sender delay notification for %zu recipient(s)", j->id, n);
		else
			log_warn("%s: delay notification dropped: %s", j->id, err);
	}
	j->env.delay_warned = 1;    /* saved with the deferral */
	free(idx);
}

/* "relayed" notices for NOTIFY=SUCCESS recipients handed to peers that
 * do not offer DSN (RFC 3461 §6.2.2.2). Best effort, once. */
static void
notify_relayed(struct job *j)
{
	size_t n = 0;
	size_t *idx = calloc(j->env.n_rcpts, sizeof *idx);
	if (!idx)
		return;
	for (size_t i = 0; i < j->env.n_rcpts; i++)
		if (j->relayed[i])
			idx[n++] = i;
	if (n > 0 && j->env.sender[0]) {
		struct dsn_msg m = { &j->env, j->id, j->fd, j->off, j->len, j->has_8bit, DSN_RELAYED,
			0, j->remote_mta, NULL };
		char err[300];
		if (dsn_send(&j->run->conf, &m, idx, n, err, sizeof err) == 0)
			log_info("%s: sender success notification for %zu recipient(s)", j->id, n);
		else
			log_warn("%s: success notification dropped: %s", j->id, err);
	}
	free(idx);
}

/* Failure notices for this pass's failures and those still owed. */
static size_t
bounce(struct job *j)
{
	struct bounce_job b = { &j->run->conf, &j->env, j->id, j->fd, j->off, j->len,
		j->has_8bit, j->newly_failed, j->remote_mta };
	return bounce_owed(&b);
}

/* Removes the message once nothing is owed for it (no recipient pending,
 * no failure notice unstored), else defers it. */
static void
finish(struct job *j, time_t now, size_t owed)
{
	struct queue *q = &j->run->q;
	size_t pending = owed;
	for (size_t i = 0; i < j->env.n_rcpts; i++)
		if (j->env.rcpts[i].state == SPOOL_RCPT_PENDING && !j->newly_failed[i])
			pending++;
	if (pending == 0) {
		if (queue_remove(q, j->claim) < 0) {
			log_err("%s: cannot remove the finished queue file: %s", j->id, strerror(errno));
			j->run->system_error = 1;
		} else {
			log_info("%s: removed", j->id);
		}
		return;
	}
	if (!j->attempted && j->held_until > now) {
		/* Nothing was tried: no attempt counted, and the message is due
		 * again when its destination's note ends (a little jitter
		 * spreads the crowd). */
		time_t left = j->held_until - now;
		j->env.next_attempt = j->held_until + (time_t)jitter((unsigned)(left / 10));
	} else {
		j->env.attempts++;
		j->env.next_attempt = now + backoff(&j->run->conf, j->env.attempts);
	}
	count(&j->run->counts->deferred);
	if (save(j) < 0 || queue_release(q, j->claim, j->id) < 0) {
		log_err("%s: cannot defer the queue file: %s", j->id, strerror(errno));
		j->run->system_error = 1;
	}
}

/* Reads the claimed file; quarantines it when it is not a spool file. */
static int
open_claimed(struct job *j)
{
	j->fd = open(j->claim, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int bad = 0;
	if (j->fd < 0)
		bad = errno == ELOOP || errno == EACCES ? errno : -1;
	else if (fstat(j->fd, &st) < 0 || !S_ISREG(st.st_mode))
		bad = EBADMSG;
	else if (spool_read(j->fd, &j->env, &j->off, &j->len) < 0)
		bad = errno == EBADMSG ? EBADMSG : -1;
	if (bad == 0)
		return 0;
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	if (bad == -1) {
		log_err("%s: cannot read the queue file: %s", j->id, strerror(errno));
		queue_release(&j->run->q, j->claim, j->id);
		j->run->system_error = 1;
		return -1;
	}
	log_err("%s: moved to corrupt/: %s", j->id,
	    bad == EBADMSG ? "malformed or truncated queue file" : strerror(bad));
	queue_quarantine(&j->run->q, j->claim, j->id);
	return -1;
}

static void
process(struct runner *run, const char *dir, const char *id)
{
	struct job j;
	memset(&j, 0, sizeof j);
	j.run = run;
	j.id = id;
	j.fd = -1;
	if (queue_claim(&run->q, dir, id, j.claim, sizeof j.claim) < 0) {
		if (errno == ENAMETOOLONG)
			log_err("%s: path too long for a queue file; left in %s/", id, dir);
		else if (errno != ENOENT)
			log_warn("%s: cannot claim: %s", id, strerror(errno));
		return;     /* ENOENT: another runner has it */
	}
	if (open_claimed(&j) < 0)
		return;
	time_t now = time(NULL);
	if (!run->flush && j.env.next_attempt > now) {
		queue_release(&run->q, j.claim, id);     /* not due after all */
		goto out;
	}
	j.newly_failed = calloc(j.env.n_rcpts, 1);
	j.remote_mta = calloc(j.env.n_rcpts, sizeof *j.remote_mta);
	j.relayed = calloc(j.env.n_rcpts, 1);
	if (!j.newly_failed || !j.remote_mta || !j.relayed) {
		queue_release(&run->q, j.claim, id);
		goto out;
	}
	scan_message(j.fd, j.off, j.len, &j.has_8bit, &j.wire_size);
	j.need_utf8 = j.env.smtputf8 || scan_non_ascii(j.env.sender);
	for (size_t i = 0; i < j.env.n_rcpts; i++)
		j.need_utf8 |= scan_non_ascii(j.env.rcpts[i].addr);
	rlog_status("delivering %s", id);
	if (scan_received(j.fd, j.off, j.len) > HOP_COUNT_MAX) {
		for (size_t i = 0; i < j.env.n_rcpts; i++)
			if (j.env.rcpts[i].state == SPOOL_RCPT_PENDING)
				record(&j, i, RCPT_PERM, "none", "none",
				    "5.4.6 too many hops (Received: headers), mail forwarding loop");
	} else {
		deliver_all(&j);
	}
	expire(&j, time(NULL));
	size_t owed = bounce(&j);
	notify_relayed(&j);
	warn_delay(&j, time(NULL));
	finish(&j, time(NULL), owed);
out:
	for (size_t i = 0; j.remote_mta && i < j.env.n_rcpts; i++)
		free(j.remote_mta[i]);
	free(j.remote_mta);
	free(j.relayed);
	free(j.newly_failed);
	spool_envelope_free(&j.env);
	if (j.fd >= 0)
		close(j.fd);
}

static void
report_recovered(const char *id, const char *holder, int err)
{
	char e[600];
	if (err)
		log_err("active/%s: claim not checked: %s", log_escape(e, sizeof e, id, strlen(id)),
		    strerror(err));
	else
		log_warn("%s: recovered a stale claim (%s); it will be retried",
		    id, log_escape(e, sizeof e, holder, strlen(holder)));
}

/* One group's messages in queue order, until the budget is spent. */
static void
run_group(struct runner *run, const struct sched *s, size_t g)
{
	const struct sched_group *grp = &s->groups[g];
	size_t i;
	for (i = 0; i < grp->n && !budget_spent(run); i++) {
		const struct sched_item *it = &s->items[grp->first + i];
		process(run, it->dir, it->id);
	}
	count_n(&run->counts->left, grp->n - i);
	smtpc_close(&run->cache.c);
}

/* A worker process for group g: it dies with the runner (a killed runner
 * leaves no worker sending behind its back) and claims under its own pid,
 * so its claims are recovered when it is gone. Never returns. */
static void
worker(struct runner *run, const struct sched *s, size_t g, pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(EXIT_SYSTEM);
	queue_reown(&run->q);
	run_group(run, s, g);
	_exit(run->system_error ? EXIT_SYSTEM : EXIT_OK);
}

/* Waits for one worker; a worker that failed marks the pass failed. */
static void
reap(struct runner *run)
{
	int status;
	pid_t pid;
	while ((pid = wait(&status)) < 0 && errno == EINTR)
		;
	if (pid < 0)
		return;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != EXIT_OK) {
		log_err("worker %ld ended with %s %d", (long)pid,
		    WIFEXITED(status) ? "status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		run->system_error = 1;
	}
}

/* Starts one worker per group, at most relay_processes at a time, none
 * once the budget is spent (S72). With one group, one process allowed, or
 * no fork, the runner does the groups itself. */
static void
dispatch(struct runner *run, const struct sched *s)
{
	size_t procs = run->conf.relay_processes;
	size_t running = 0, g;
	pid_t self = getpid();
	if (procs < 1 || s->n_groups == 1)
		procs = 1;
	if (procs > RELAY_PROCESSES_MAX)
		procs = RELAY_PROCESSES_MAX;
	for (g = 0; g < s->n_groups; g++) {
		if (procs == 1) {
			if (budget_spent(run))
				break;
			run_group(run, s, g);
			continue;
		}
		if (running >= procs) {
			reap(run);
			running--;
		}
		if (budget_spent(run))
			break;
		pid_t pid = fork();
		if (pid == 0)
			worker(run, s, g, self);
		if (pid > 0) {
			running++;
		} else if (running > 0) {
			reap(run);           /* fork failed: retry with one worker fewer */
			running--;
			g--;
		} else {
			run_group(run, s, g);
		}
	}
	while (running-- > 0)
		reap(run);
	for (size_t rest = g; rest < s->n_groups; rest++)
		count_n(&run->counts->left, s->groups[rest].n);
	if (run->counts->left > 0)
		log_info("pass budget of %llus spent: %u messages left for the next pass, "
		    "%zu of %zu destinations not started",
		    (unsigned long long)run->conf.relay_pass_budget, run->counts->left,
		    s->n_groups - g, s->n_groups);
}

static int
pass(struct runner *run)
{
	struct sched s;
	const char *dir;
	if (queue_recover(&run->q, report_recovered) < 0) {
		log_err("cannot read %s/active: %s", run->conf.spool, strerror(errno));
		return EXIT_SYSTEM;
	}
	queue_clean_tmp(&run->q, RELAY_TMP_STALE_SEC);
	dead_clean(run->conf.spool, time(NULL), RELAY_TMP_STALE_SEC);
	/* Both listings are taken before any delivery, so a message deferred
	 * into queue/ during this pass is not tried twice in it. */
	if (sched_build(&s, &run->q, run->routes, run->flush, time(NULL), &dir) < 0) {
		log_err("cannot read %s/%s: %s", run->conf.spool, dir, strerror(errno));
		return EXIT_SYSTEM;
	}
	run->counts = mmap(NULL, sizeof *run->counts, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (run->counts == MAP_FAILED) {
		log_err("mmap: %s", strerror(errno));
		sched_free(&s);
		return EXIT_SYSTEM;
	}
	memset(run->counts, 0, sizeof *run->counts);
	dispatch(run, &s);
	sched_free(&s);
	rlog_status("pass done: %u sent, %u bounced, %u deferred", run->counts->sent,
	    run->counts->bounced, run->counts->deferred);
	munmap(run->counts, sizeof *run->counts);
	run->counts = NULL;
	return run->system_error ? EXIT_SYSTEM : EXIT_OK;
}

/* ---- main ------------------------------------------------------------------ */

/* Configuration, privileges, spool directories, routes and resolver. */
static int
start(struct runner *run, const char *conf_path)
{
	char err[512];
	if (conf_load(&run->conf, conf_path, err, sizeof err) < 0) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	if (geteuid() == 0 && session_drop_privileges(&run->conf) < 0)
		return EXIT_SYSTEM;
	time_t stale = (time_t)run->conf.relay_timeout * 2;
	if (stale < RELAY_STALE_CLAIM_SEC)
		stale = RELAY_STALE_CLAIM_SEC;
	/* The coarse clock is the one file times come from: a note written after
	 * this instant never looks older. */
	clock_gettime(CLOCK_REALTIME_COARSE, &run->started);
	if (run->conf.relay_pass_budget > 0 && clock_gettime(CLOCK_MONOTONIC, &run->pass_end) == 0)
		run->pass_end.tv_sec += (time_t)run->conf.relay_pass_budget;
	if (queue_open(&run->q, run->conf.spool, stale) < 0) {
		/* The reason first: a long spool path may not fit the line. */
		log_err("spool: %s: %s", strerror(errno), run->conf.spool);
		return EXIT_SYSTEM;
	}
	struct stat st;
	if (run->conf.relay_auth && stat(run->conf.relay_auth, &st) == 0 && (st.st_mode & S_IROTH))
		log_warn("%s is readable by every user: it holds the smarthost password",
		    run->conf.relay_auth);
	if (!(run->routes = routes_load(&run->conf, err, sizeof err)) ||
	    !(run->res = dns_new(run->conf.dns_servers, err, sizeof err))) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int
usage(void)
{
	fprintf(stderr, "usage: relay-runner [-c FILE] [-V] [--once | --flush | --list |\n"
	    "       --quarantine | --release ID | --delete ID]\n");
	return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	const char *conf_path = NULL, *held_id = NULL;
	int do_list = 0;    /* 1 --list, 2 --quarantine, 3 --release, 4 --delete */
	struct runner run;
	memset(&run, 0, sizeof run);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			conf_path = argv[++i];
		else if (!strcmp(argv[i], "-V")) {
			printf("relay-runner (yubin) %s\n", YUBIN_VERSION);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--once"))
			;
		else if (!strcmp(argv[i], "--flush"))
			run.flush = 1;
		else if (!strcmp(argv[i], "--list"))
			do_list = 1;
		else if (!strcmp(argv[i], "--quarantine"))
			do_list = 2;
		else if ((!strcmp(argv[i], "--release") || !strcmp(argv[i], "--delete")) &&
		    i + 1 < argc) {
			do_list = argv[i][2] == 'r' ? 3 : 4;
			held_id = argv[++i];
		} else
			return usage();
	}
	rlog_init();
	signal(SIGPIPE, SIG_IGN);
	conf_defaults(&run.conf);
	int rc = start(&run, conf_path ? conf_path : conf_default_path());
	if (rc == EXIT_OK && do_list == 1)
		rc = list_queue(&run.q);
	else if (rc == EXIT_OK && do_list == 2)
		rc = held_list(&run.conf);
	else if (rc == EXIT_OK && do_list == 3)
		rc = held_release(&run.conf, held_id);
	else if (rc == EXIT_OK && do_list == 4)
		rc = held_delete(&run.conf, held_id);
	else if (rc == EXIT_OK)
		rc = pass(&run);
	routes_free(&run.routes);
	dns_free(&run.res);
	conf_free(&run.conf);
	return rc;
}
