/*
 * quota.c — quota_storage for local recipients (RFC 9208's STORAGE, the
 * same count as IMAP's, lib/quota.c). A full mailbox is 452 4.2.2 (RFC
 * 3463 X.2.2 "mailbox full"): transient, since the user can delete mail
 * and the sender's retry then succeeds — the permanent 552 5.2.2 would
 * bounce mail over a condition that may last minutes.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "mailbox.h"
#include "quota.h"
#include "smtp.h"

/* What a stored copy adds to the message: Return-Path:, Delivered-To:
 * and an mbox From_ line; counted so a copy that fits is never over. */
#define QUOTA_COPY_EXTRA (2 * ADDR_PATH_MAX + 128)

int
smtp_quota_over(const struct smtp *s, const struct targets *t, uint64_t size,
    size_t *who)
{
	if (s->conf->quota_storage == 0)
		return 0;
	for (size_t i = 0; i < t->n_local; i++) {
		char dir[PATH_MAX];
		if (mailbox_user_dir(s->conf, t->local[i], dir, sizeof dir) != 0)
			continue; /* not a mailbox name: delivery refuses it */
		int r = quota_would_exceed(s->conf, dir, size + QUOTA_COPY_EXTRA);
		if (r != 0) {
			*who = i;
			return r;
		}
	}
	return 0;
}
