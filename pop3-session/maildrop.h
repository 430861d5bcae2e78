/*
 * maildrop.h — one user's POP3 maildrop: their store (lib/store.h) and
 * the snapshot of its INBOX (lib/store-pop3.h, which says what the
 * snapshot, its exclusivity, sizes and UIDLs are). Nothing here talks to
 * the client, and nothing here knows the mailbox format.
 */
#ifndef YUBIN_MAILDROP_H
#define YUBIN_MAILDROP_H

#include "conf.h"
#include "store.h"
#include "store-pop3.h"

struct maildrop {
	struct store store;
	struct store_pop3 snap;   /* snap.msg[0..snap.n): the messages */
};

enum maildrop_status {
	MAILDROP_OK = 0,
	MAILDROP_IN_USE,        /* another session holds it */
	MAILDROP_FAIL,          /* errno says why */
};

/* Locks and scans user's INBOX (creating an empty one if missing).
 * Returns a maildrop_status; on MAILDROP_OK the caller must
 * maildrop_close. */
int maildrop_open(struct maildrop *m, const struct conf *conf, const char *user);
/* Unlocks and frees; removes nothing. Safe on a closed drop. */
void maildrop_close(struct maildrop *m);

#endif
