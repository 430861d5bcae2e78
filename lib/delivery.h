/*
 * delivery.h — one message stored at all its targets (lib/targets.h) or
 * at none: a copy in each local target's mailbox and one spool file for
 * the remote ones. Every copy is written and fsync'd before any is
 * published, and the spool file is published last: once in new/ a
 * runner may take it at once, so it is the one copy that cannot be taken
 * back, while the mailbox copies can until then. An accepted message is
 * stored this way (its 250 only after delivery_commit), and so is a held
 * one when it is released from the quarantine.
 */
#ifndef YUBIN_DELIVERY_H
#define YUBIN_DELIVERY_H

#include <stdint.h>

#include "conf.h"
#include "mailbox.h"
#include "spool.h"
#include "targets.h"

/* Zero-initialise. txn may take more copies (mailbox_txn_add) between
 * delivery_prepare and delivery_publish; spool.id names the spool file
 * once committed. */
struct delivery {
	struct mailbox_txn *txn;    /* the local copies, or NULL */
	struct spool_pending spool; /* the remote targets' file */
	int spooled;                /* spool prepared, not yet committed */
};

/* Writes and fsyncs the copies of msg_len bytes of msg_fd (from offset
 * 0, LF line ends): one per local target of t, from env->sender, and,
 * when t has remote targets, a spool file with env's fields and t's
 * remote targets as its recipients (env->rcpts is not read). Nothing is
 * visible yet. 0, or -1 with errno (ENOSPC/EDQUOT: disk full). */
int delivery_prepare(struct delivery *d, const struct conf *conf, const struct targets *t,
    const struct spool_envelope *env, int msg_fd, uint64_t msg_len);

/* Publishes the mailbox copies; delivery_abort still takes them back.
 * 0, or -1 with errno and nothing visible. */
int delivery_publish(struct delivery *d);

/* Publishes the spool file, then makes the mailbox copies final. 0, or
 * -1 with errno (delivery_abort then takes the mailbox copies back). */
int delivery_commit(struct delivery *d);

/* Takes back whatever is not committed and frees; safe after commit and
 * twice. */
void delivery_abort(struct delivery *d);

#endif
