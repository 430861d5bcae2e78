/*
 * quota.c — the storage quota of local recipients (RFC 9208's STORAGE,
 * the same count as IMAP's, lib/quota.c; the limit is the user's own
 * rule in the users file, else quota_storage). A full mailbox is 452
 * 4.2.2 (RFC 3463 X.2.2 "mailbox full"): transient, since the user can
 * delete mail and the sender's retry then succeeds. Only a message that
 * could not fit even in the user's empty mailbox is 552 5.2.2: no retry
 * can deliver it.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "log.h"
#include "mailbox.h"
#include "quota.h"
#include "smtp.h"

/* What a stored copy adds to the message: Return-Path:, Delivered-To:
 * and an mbox From_ line; counted so a copy that fits is never over. */
#define QUOTA_COPY_EXTRA (2 * ADDR_PATH_MAX + 128)

/* One local target: 0 fits, 1 over now, 2 over even when empty, -1. */
static int
target_over(const struct smtp *s, const char *addr, uint64_t size)
{
	char dir[PATH_MAX];
	uint64_t limit;
	if (mailbox_user_dir(s->conf, addr, dir, sizeof dir) != 0)
		return 0; /* not a mailbox name: delivery refuses it */
	if (quota_limit(s->conf, addr, &limit) != 0) {
		log_err("quota rule of %s: %s", addr, strerror(errno));
		return -1;
	}
	if (limit == 0)
		return 0;
	if (size > limit - (limit < QUOTA_COPY_EXTRA ? limit : QUOTA_COPY_EXTRA))
		return 2;
	return quota_would_exceed(s->conf, dir, limit, size + QUOTA_COPY_EXTRA);
}

int
smtp_quota_over(const struct smtp *s, const struct targets *t, uint64_t size,
    size_t *who)
{
	int worst = 0;
	for (size_t i = 0; i < t->n_local; i++) {
		int r = target_over(s, t->local[i], size);
		if (r < 0) {
			*who = i;
			return -1;
		}
		if (r > worst) {
			*who = i;
			worst = r;
		}
	}
	return worst;
}
