/*
 * notice.c — success notices (RFC 3461 NOTIFY=SUCCESS, RFC 3464) for the
 * local recipients that asked for them: "delivered" for a user's mailbox,
 * "expanded" for an alias (RFC 3461 §6.2.7.4; its targets are not asked
 * again). relay-runner reports remote recipients itself.
 *
 * A notice is built with lib/dsn before anything is published and stored
 * in the message's own transaction, so the 250 promises it as much as the
 * message: a local sender gets it as one more copy in the mailbox
 * transaction; a remote sender's is a spool file from <> for relay-runner,
 * published before the message's spool file and withdrawn if that fails.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "log.h"
#include "mailbox.h"
#include "smtp.h"
#include "users.h"

static int
ascii_only(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 0;
	return 1;
}

/* 1 if addr is an alias, 0 a user, -1 lookup failed. */
static int
is_alias(struct smtp *s, const char *addr)
{
	char **targets;
	size_t n;
	if (users_aliases(s->conf, addr, &targets, &n) < 0)
		return -1;
	users_free_targets(&targets, n);
	return n > 0;
}

/* The local sender's mailboxes (itself, or the local users its alias
 * names) get the notice from <>. None is no error: nobody to tell. */
static int
notice_local(struct smtp *s, struct mailbox_txn **txn, int fd, uint64_t len)
{
	char me[ADDR_PATH_MAX + 1] = "";
	struct targets t = { 0 };
	size_t i, added = 0;
	for (i = 0; s->sender[i] && i < ADDR_PATH_MAX; i++)
		me[i] = (char)tolower((unsigned char)s->sender[i]);
	int rc = targets_add_rcpt(s->conf, &t, me, 0, NULL) < 0 ? -1 : 0;
	for (i = 0; rc == 0 && i < t.n_local; i++) {
		int known = users_exists(s->conf, t.local[i]);
		if (known < 0)
			rc = -1;
		else if (known == 0)
			continue;
		else if (!*txn && !(*txn = mailbox_txn_new(s->conf)))
			rc = -1;
		else if ((rc = mailbox_txn_add(*txn, t.local[i], "", fd, len)) == 0)
			added++;
	}
	targets_free(&t);
	if (rc == 0 && added == 0)
		log_info("no success notice id=%s: the sender has no local mailbox", s->msg_id);
	return rc;
}

/* A remote sender's notice: a spool file from <>, prepared, not yet
 * published. */
static int
notice_remote(struct smtp *s, struct smtp_notices *n, int fd, uint64_t len, int has_8bit)
{
	struct spool_rcpt r = { .addr = s->sender };
	struct spool_envelope e = { .sender = "", .rcpts = &r, .n_rcpts = 1 };
	e.body_8bit = has_8bit;
	e.smtputf8 = !ascii_only(s->sender);   /* needed on the way back */
	e.arrival = e.next_attempt = time(NULL);
	if (spool_prepare(s->conf->spool, &e, fd, len, &n->pending[n->n_pending]) < 0)
		return -1;
	n->n_pending++;
	return 0;
}

/* Writes the notice of kind for the recipients in env and stores it. */
static int
notice_store(struct smtp *s, struct mailbox_txn **txn, struct smtp_notices *n,
    const struct spool_envelope *env, const size_t *idx, enum dsn_kind kind)
{
	int has_8bit = s->body_8bit || s->smtputf8;
	struct dsn_msg m = { env, s->msg_id, s->msg_fd, 0, s->msg_len, has_8bit, kind, 0, NULL, NULL };
	int fd = memfd_create("notice", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = dsn_write(fd, s->conf, &m, idx, env->n_rcpts);
	off_t len = lseek(fd, 0, SEEK_END);
	if (rc == 0 && len < 0)
		rc = -1;
	if (rc == 0) {
		const char *at = strrchr(s->sender, '@');
		if (at && conf_is_local_domain(s->conf, at + 1))
			rc = notice_local(s, txn, fd, (uint64_t)len);
		else
			rc = notice_remote(s, n, fd, (uint64_t)len, has_8bit);
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* The notice of one kind, if any recipient wants it. */
static int
notice_kind(struct smtp *s, struct mailbox_txn **txn, struct smtp_notices *n,
    enum dsn_kind kind, struct spool_rcpt *rcpts, size_t *idx)
{
	struct spool_envelope env = { .sender = s->sender, .envid = s->envid, .ret = s->ret };
	env.arrival = time(NULL);
	env.rcpts = rcpts;
	for (size_t i = 0; i < s->n_rcpts; i++) {
		struct smtp_rcpt *r = &s->rcpts[i];
		struct spool_rcpt want = { .addr = r->addr, .orcpt = r->orcpt, .notify = r->notify };
		if (!r->local || !dsn_success_wanted(&want))
			continue;
		int alias = is_alias(s, r->addr);
		if (alias < 0)
			return -1;
		if (alias != (kind == DSN_EXPANDED))
			continue;
		want.state = SPOOL_RCPT_DELIVERED;
		want.diagnostic = alias ? "alias expanded" : "delivered to mailbox";
		idx[env.n_rcpts] = env.n_rcpts;
		rcpts[env.n_rcpts++] = want;
	}
	if (env.n_rcpts == 0)
		return 0;
	return notice_store(s, txn, n, &env, idx, kind);
}

int
smtp_notices_prepare(struct smtp *s, struct mailbox_txn **txn, struct smtp_notices *n)
{
	memset(n, 0, sizeof *n);
	if (!s->sender[0] || s->n_rcpts == 0)
		return 0;            /* never a notice for mail from <> (S70) */
	struct spool_rcpt *rcpts = calloc(s->n_rcpts, sizeof *rcpts);
	size_t *idx = calloc(s->n_rcpts, sizeof *idx);
	int rc = rcpts && idx ? 0 : -1;
	if (rc == 0)
		rc = notice_kind(s, txn, n, DSN_DELIVERED, rcpts, idx);
	if (rc == 0)
		rc = notice_kind(s, txn, n, DSN_EXPANDED, rcpts, idx);
	int saved = errno;
	free(rcpts);
	free(idx);
	errno = saved;
	return rc;
}

int
smtp_notices_commit(struct smtp_notices *n)
{
	for (; n->n_published < n->n_pending; n->n_published++) {
		if (spool_commit(&n->pending[n->n_published]) == 0)
			continue;
		int saved = errno;
		smtp_notices_withdraw(n);
		errno = saved;
		return -1;
	}
	return 0;
}

void
smtp_notices_withdraw(struct smtp_notices *n)
{
	for (size_t i = 0; i < n->n_published; i++)
		if (spool_withdraw(&n->pending[i]) < 0)
			log_err("success notice %s could not be withdrawn: %s", n->pending[i].id,
			    strerror(errno));
	n->n_published = 0;
}

void
smtp_notices_abort(struct smtp_notices *n)
{
	for (size_t i = 0; i < n->n_pending; i++)
		spool_abort(&n->pending[i]);
	n->n_pending = n->n_published = 0;
}
