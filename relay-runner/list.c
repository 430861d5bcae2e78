/*
 * list.c — relay-runner --list: the queue, like mailq(1).
 */
#include "list.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "log.h"
#include "path.h"
#include "spool.h"

static void
fmt_time(time_t t, char *out, size_t size)
{
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void
fmt_age(time_t secs, char *out, size_t size)
{
	if (secs < 0)
		secs = 0;
	if (secs < 3600)
		snprintf(out, size, "%lldm", (long long)(secs / 60));
	else if (secs < 86400)
		snprintf(out, size, "%lldh%02lldm", (long long)(secs / 3600),
		    (long long)(secs % 3600 / 60));
	else
		snprintf(out, size, "%lldd%02lldh", (long long)(secs / 86400),
		    (long long)(secs % 86400 / 3600));
}

static void
list_one(const struct queue *q, const char *dir, const char *name, uint64_t *bytes)
{
	static const char *const states[] = { "pending", "delivered", "failed",
		"failed, notice to the sender not yet stored" };
	char path[PATH_MAX], e[4 * ADDR_PATH_MAX + 1], when[32], age[32];
	char e_diag[4 * RELAY_DIAGNOSTIC_MAX + 1];
	int fd = path_join(path, sizeof path, q->spool, dir, name) != 0 ? -1 :
	    open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct spool_envelope env;
	uint64_t off, len;
	int err = fd < 0 ? errno : 0;
	if (err == ENAMETOOLONG)
		log_err("%s/%s: path too long for a queue file; not read", dir,
		    log_escape(e, sizeof e, name, strlen(name)));
	if (fd < 0 || spool_read(fd, &env, &off, &len) < 0) {
		printf("%s  (%s: %s)\n", log_escape(e, sizeof e, name, strlen(name)), dir,
		    fd < 0 ? strerror(err) : "unreadable or malformed");
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	*bytes += len;
	time_t now = time(NULL);
	fmt_time(env.arrival, when, sizeof when);
	fmt_age(now - env.arrival, age, sizeof age);
	const char *where = !strcmp(dir, "active") ? "being delivered" :
	    !strcmp(dir, "new") ? "new" : "deferred";
	printf("%s  %llu bytes  arrived %s (%s ago)  %s, %u attempt%s\n",
	    log_escape(e, sizeof e, name, strlen(name)), (unsigned long long)len, when, age,
	    where, env.attempts, env.attempts == 1 ? "" : "s");
	printf("    from <%s>\n", log_escape(e, sizeof e, env.sender, strlen(env.sender)));
	for (size_t i = 0; i < env.n_rcpts; i++) {
		const struct spool_rcpt *r = &env.rcpts[i];
		printf("    to <%s>  %s", log_escape(e, sizeof e, r->addr, strlen(r->addr)),
		    states[r->state]);
		if (r->state == SPOOL_RCPT_PENDING) {
			if (env.next_attempt > now) {
				fmt_time(env.next_attempt, when, sizeof when);
				printf(", next attempt %s", when);
			} else {
				printf(", next attempt now");
			}
		}
		if (r->diagnostic)
			printf("  (%s)", log_escape(e_diag, sizeof e_diag, r->diagnostic,
			    strlen(r->diagnostic)));
		printf("\n");
	}
	spool_envelope_free(&env);
}

int
list_queue(const struct queue *q)
{
	static const char *const dirs[] = { "active", "new", "queue", "corrupt" };
	size_t total = 0;
	uint64_t bytes = 0;
	for (size_t d = 0; d < 4; d++) {
		char **names;
		size_t n;
		if (queue_names(q, dirs[d], &names, &n) < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (d == 3) {
				char e[4 * QUEUE_NAME_MAX + 1];    /* every byte escaped */
				printf("%s  (corrupt: kept for inspection)\n",
				    log_escape(e, sizeof e, names[i], strlen(names[i])));
			} else {
				list_one(q, dirs[d], names[i], &bytes);
			}
			total++;
		}
		queue_names_free(&names, n);
	}
	if (total == 0)
		printf("Mail queue is empty\n");
	else
		printf("-- %llu Kbytes in %zu Request%s.\n",
		    (unsigned long long)((bytes + 1023) / 1024), total, total == 1 ? "" : "s");
	return fflush(stdout) == 0 ? 0 : 111;
}
