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
 *   message: claim, read, deliver to each destination (dest.c), bounce,
 *         finish; the runner and job state and their results: job.c
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "dest.h"
#include "dns.h"
#include "dsn.h"
#include "held.h"
#include "job.h"
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
		job_record(j, i, RCPT_PERM, "none", "none", diag);
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
	runner_count(&j->run->counts->deferred, 1);
	if (job_save(j) < 0 || queue_release(q, j->claim, j->id) < 0) {
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
				job_record(&j, i, RCPT_PERM, "none", "none",
				    "5.4.6 too many hops (Received: headers), mail forwarding loop");
	} else {
		dest_deliver_all(&j);
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
	for (i = 0; i < grp->n && !runner_budget_spent(run); i++) {
		const struct sched_item *it = &s->items[grp->first + i];
		process(run, it->dir, it->id);
	}
	runner_count(&run->counts->left, grp->n - i);
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
			if (runner_budget_spent(run))
				break;
			run_group(run, s, g);
			continue;
		}
		if (running >= procs) {
			reap(run);
			running--;
		}
		if (runner_budget_spent(run))
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
		runner_count(&run->counts->left, s->groups[rest].n);
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
