/*
 * held.c — the admin's view of spool/quarantine (see held.h).
 *
 * The quarantine is a Maildir; a held message may sit in new/ or, once a
 * mail reader looked at it, in cur/. A message is named by the queue id
 * smtp-session gave it (the "quarantined id=" log line, the 250 reply).
 * Release and delete hold an exclusive flock on the file, and check it is
 * still linked once they have it, so two admins cannot release it twice.
 */
#include "held.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "delivery.h"
#include "durable.h"
#include "log.h"
#include "path.h"
#include "quarantine.h"
#include "spool.h"
#include "targets.h"
#include "users.h"

#define EXIT_OK 0
#define EXIT_USAGE 100
#define EXIT_SYSTEM 111

/* One held message, open. */
struct held {
	char dir[PATH_MAX];   /* its Maildir subdirectory */
	char path[PATH_MAX];
	int fd;
	struct quarantine_info q;
};

/* Calls fn for every file in new/ and cur/ of the quarantine; fn gets
 * the message (NULL if the file is not a quarantine file) and returns
 * nonzero to stop at it: then it is left open in *keep. 0, or -1 (errno)
 * if a directory cannot be read (a missing quarantine is an empty one). */
static int
scan(const struct conf *conf, int (*fn)(struct held *h, const char *name, void *arg), void *arg,
    struct held *keep)
{
	static const char *const subs[] = { "new", "cur" };
	for (size_t s = 0; s < 2; s++) {
		struct held h;
		memset(&h, 0, sizeof h);
		if (path_join(h.dir, sizeof h.dir, conf->spool, "quarantine", subs[s]) != 0)
			return -1;
		DIR *d = opendir(h.dir);
		if (!d && errno == ENOENT)
			continue;
		if (!d)
			return -1;
		struct dirent *de;
		int stop = 0;
		while (!stop && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			h.fd = path_join(h.path, sizeof h.path, h.dir, de->d_name, NULL) != 0 ? -1
			    : open(h.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			int ok = h.fd >= 0 && quarantine_read(h.fd, &h.q) == 0;
			stop = fn(ok ? &h : NULL, de->d_name, arg);
			if (stop && ok)
				break;    /* fn keeps the open file */
			if (ok)
				quarantine_info_free(&h.q);
			if (h.fd >= 0)
				close(h.fd);
		}
		closedir(d);
		if (stop) {
			*keep = h;
			return 0;
		}
	}
	return 0;
}

/* ---- --quarantine ------------------------------------------------------ */

struct listing {
	size_t n;
	uint64_t bytes;
};

static int
list_one(struct held *h, const char *name, void *arg)
{
	struct listing *l = arg;
	char e[4 * ADDR_PATH_MAX + 1], when[64];
	l->n++;
	if (!h) {
		printf("%s  (not a quarantine file: kept for inspection)\n",
		    log_escape(e, sizeof e, name, strlen(name)));
		return 0;
	}
	struct tm tm;
	time_t t = h->q.env.arrival;
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	l->bytes += h->q.msg_len;
	printf("%s  %llu bytes  quarantined %s\n", h->q.id, (unsigned long long)h->q.msg_len,
	    when);
	printf("    reason: %s\n", h->q.reason);
	/* Addresses may hold UTF-8 (SMTPUTF8): escaped, as --list does. */
	printf("    from <%s>\n", log_escape(e, sizeof e, h->q.env.sender, strlen(h->q.env.sender)));
	for (size_t i = 0; i < h->q.env.n_rcpts; i++) {
		const char *a = h->q.env.rcpts[i].addr;
		printf("    to <%s>\n", log_escape(e, sizeof e, a, strlen(a)));
	}
	return 0;
}

int
held_list(const struct conf *conf)
{
	struct listing l = { 0, 0 };
	if (scan(conf, list_one, &l, NULL) < 0) {
		log_err("cannot read %s/quarantine: %s", conf->spool, strerror(errno));
		return EXIT_SYSTEM;
	}
	if (l.n == 0)
		printf("Quarantine is empty\n");
	else
		printf("-- %llu Kbytes in %zu quarantined message%s.\n",
		    (unsigned long long)((l.bytes + 1023) / 1024), l.n, l.n == 1 ? "" : "s");
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_SYSTEM;
}

/* ---- finding one -------------------------------------------------------- */

static int
match(struct held *h, const char *name, void *id)
{
	(void)name;
	return h && !strcmp(h->q.id, (const char *)id);
}

/* Opens the held message id and locks it. 0, or an exit code after
 * saying why. */
static int
find_locked(const struct conf *conf, const char *id, struct held *h)
{
	memset(h, 0, sizeof *h);
	h->fd = -1;
	if (!quarantine_id_valid(id)) {
		char e[4 * QUARANTINE_ID_MAX + 1];
		log_err("bad quarantine id \"%s\": letters, digits, '.', '_' and '-' only",
		    log_escape(e, sizeof e, id, strlen(id)));
		return EXIT_USAGE;
	}
	if (scan(conf, match, (void *)id, h) < 0) {
		log_err("cannot read %s/quarantine: %s", conf->spool, strerror(errno));
		return EXIT_SYSTEM;
	}
	struct stat st;
	if (h->fd >= 0 && (flock(h->fd, LOCK_EX) < 0 || fstat(h->fd, &st) < 0)) {
		log_err("%s: cannot lock %s: %s", id, h->path, strerror(errno));
		close(h->fd);
		quarantine_info_free(&h->q);
		return EXIT_SYSTEM;
	}
	if (h->fd < 0 || st.st_nlink == 0) {
		/* Gone while we waited for the lock: released or deleted. */
		log_err("no quarantined message with id %s (see relay-runner --quarantine)", id);
		if (h->fd >= 0) {
			close(h->fd);
			quarantine_info_free(&h->q);
		}
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Unlinks the held file and makes that durable. */
static int
unlink_held(struct held *h)
{
	if (unlink(h->path) < 0 || durable_fsync_dir(h->dir) < 0) {
		log_err("%s: cannot remove %s: %s", h->q.id, h->path, strerror(errno));
		return -1;
	}
	return 0;
}

static void
held_close(struct held *h)
{
	close(h->fd);     /* drops the lock */
	quarantine_info_free(&h->q);
}

int
held_delete(const struct conf *conf, const char *id)
{
	struct held h;
	int rc = find_locked(conf, id, &h);
	if (rc != EXIT_OK)
		return rc;
	char e[4 * ADDR_PATH_MAX + 1];
	rc = unlink_held(&h) < 0 ? EXIT_SYSTEM : EXIT_OK;
	if (rc == EXIT_OK)
		log_info("quarantine: deleted id=%s from=<%s> size=%llu", id,
		    log_field(e, sizeof e, h.q.env.sender, strlen(h.q.env.sender)),
		    (unsigned long long)h.q.msg_len);
	held_close(&h);
	return rc;
}

/* ---- --release ----------------------------------------------------------- */

/* The targets of the held recipients, aliases expanded as at RCPT time
 * now. 0, -1 (errno) or -2 (a local recipient that is no longer a user
 * or alias: the release would lose its copy, so it is refused). */
static int
targets_expand(const struct conf *conf, const struct held *h, struct targets *t)
{
	char e[4 * ADDR_PATH_MAX + 1];
	for (size_t i = 0; i < h->q.env.n_rcpts; i++) {
		const struct spool_rcpt *r = &h->q.env.rcpts[i];
		int rc = targets_add_rcpt(conf, t, r->addr, r->notify, r->orcpt);
		if (rc < 0)
			return -1;
		const char *at = strrchr(r->addr, '@');
		if (rc == 0 && at && conf_is_local_domain(conf, at + 1) &&
		    users_exists(conf, r->addr) != 1) {
			log_err("%s: <%s> is no longer a local user or alias; not released", h->q.id,
			    log_field(e, sizeof e, r->addr, strlen(r->addr)));
			return -2;
		}
	}
	return 0;
}

/* The message without our block, in a nameless file of the spool's tmp/
 * (mailbox and spool writers read from offset 0). fd or -1 (errno). */
static int
message_copy(const struct conf *conf, const struct held *h)
{
	char dir[PATH_MAX];
	if (path_join(dir, sizeof dir, conf->spool, "tmp", NULL) != 0 ||
	    durable_mkdirs(dir, 0700) < 0)
		return -1;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct durable_reader *r = malloc(sizeof *r);
	const char *p;
	ssize_t n = -1;
	int rc = 0;
	if (r) {
		durable_reader_init(r, h->fd, h->q.msg_off, h->q.msg_len);
		while ((n = durable_reader_next(r, &p)) > 0 && (rc = durable_write_all(fd, p, (size_t)n)) == 0)
			;
		free(r);
	}
	if (n < 0 || rc < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* The spool envelope for the remote targets: the held one's fields (its
 * recipients are replaced by the targets), queued now. */
static void
remote_envelope(const struct held *h, struct spool_envelope *env)
{
	*env = h->q.env;
	env->arrival = env->next_attempt = time(NULL);
}

/* Every copy written and fsync'd, then published, the spool file last,
 * as smtp-session stores an accepted message: all or none. The spool id
 * goes in queued (empty when nothing is remote). 0 or -1 (errno). */
static int
deliver(const struct conf *conf, const struct held *h, const struct targets *t, int fd,
    char *queued, size_t size)
{
	struct delivery d = { 0 };
	struct spool_envelope env;
	remote_envelope(h, &env);
	int rc = delivery_prepare(&d, conf, t, &env, fd, h->q.msg_len) < 0 ||
	    delivery_publish(&d) < 0 || delivery_commit(&d) < 0 ? -1 : 0;
	queued[0] = '\0';
	if (rc == 0 && t->n_remote > 0)
		snprintf(queued, size, "%s", d.spool.id);
	delivery_abort(&d);
	return rc;
}

/* deliver() with the polite stops held back: dying half way through an
 * mbox append would leave half a message behind. */
static int
deliver_whole(const struct conf *conf, const struct held *h, const struct targets *t, int fd,
    char *queued, size_t size)
{
	sigset_t hold, old;
	sigemptyset(&hold);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGINT);
	sigprocmask(SIG_BLOCK, &hold, &old);
	int rc = deliver(conf, h, t, fd, queued, size);
	int saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return rc;
}

int
held_release(const struct conf *conf, const char *id)
{
	struct held h;
	struct targets t = { 0 };
	char queued[128], e[4 * ADDR_PATH_MAX + 1];
	int rc = find_locked(conf, id, &h);
	if (rc != EXIT_OK)
		return rc;
	int fd = -1, x = targets_expand(conf, &h, &t);
	if (x == -2) {
		rc = EXIT_USAGE;
	} else if (x < 0 || (fd = message_copy(conf, &h)) < 0 ||
	    deliver_whole(conf, &h, &t, fd, queued, sizeof queued) < 0) {
		log_err("%s: release failed, still in quarantine: %s", id, strerror(errno));
		rc = EXIT_SYSTEM;
	} else {
		/* Delivered: only now out of the quarantine. */
		log_info("quarantine: released id=%s from=<%s> local=%zu remote=%zu%s%s", id,
		    log_field(e, sizeof e, h.q.env.sender, strlen(h.q.env.sender)),
		    t.n_local, t.n_remote, queued[0] ? " queued as " : "", queued);
		if (unlink_held(&h) < 0) {
			log_err("%s: delivered, but still in quarantine: remove it with "
			    "relay-runner --delete %s", id, id);
			rc = EXIT_SYSTEM;
		}
	}
	if (fd >= 0)
		close(fd);
	targets_free(&t);
	held_close(&h);
	return rc;
}
