/*
 * delivery.c — a message at all its targets or none (see delivery.h).
 */
#include "delivery.h"

#include <errno.h>
#include <string.h>

int
delivery_prepare(struct delivery *d, const struct conf *conf, const struct targets *t,
    const struct spool_envelope *env, int msg_fd, uint64_t msg_len)
{
	if (t->n_local > 0 && !d->txn && !(d->txn = mailbox_txn_new(conf)))
		return -1;
	for (size_t i = 0; i < t->n_local; i++)
		if (mailbox_txn_add(d->txn, t->local[i], env->sender, msg_fd, msg_len) < 0)
			return -1;
	if (t->n_remote == 0)
		return 0;
	struct spool_envelope remote = *env;
	remote.rcpts = t->remote;
	remote.n_rcpts = t->n_remote;
	if (spool_prepare(conf->spool, &remote, msg_fd, msg_len, &d->spool) < 0)
		return -1;
	d->spooled = 1;
	return 0;
}

int
delivery_publish(struct delivery *d)
{
	return d->txn ? mailbox_txn_publish(d->txn) : 0;
}

int
delivery_commit(struct delivery *d)
{
	if (d->spooled) {
		d->spooled = 0;     /* spool_commit removes its tmp file on failure */
		if (spool_commit(&d->spool) < 0)
			return -1;
	}
	if (d->txn) {
		mailbox_txn_finish(d->txn);
		mailbox_txn_free(&d->txn);
	}
	return 0;
}

void
delivery_abort(struct delivery *d)
{
	int saved = errno;
	if (d->spooled)
		spool_abort(&d->spool);
	d->spooled = 0;
	mailbox_txn_free(&d->txn);
	errno = saved;
}
