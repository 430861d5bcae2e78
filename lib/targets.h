/*
 * targets.h — where one message goes: each recipient's alias targets (or
 * the recipient itself), as local mailboxes and remote addresses, each
 * once: at RCPT time, when an accepted message is stored, when a held one
 * is released, all alike.
 */
#ifndef YUBIN_TARGETS_H
#define YUBIN_TARGETS_H

#include <stddef.h>

#include "conf.h"
#include "spool.h"

/* Local addresses in one spelling per mailbox (ASCII lower case, as at
 * RCPT time); remote ones as given, with the DSN parameters of the
 * recipient that named them itself, ready to be a spool envelope's
 * recipients. Zero-initialise; free with targets_free. */
struct targets {
	char **local;
	size_t n_local;
	struct spool_rcpt *remote;
	size_t n_remote;
};

/* Adds recipient addr: through the aliases file when it is local. notify
 * and orcpt (copied; may be NULL) go with addr when it is remote itself.
 * 1 if addr is a local alias (its targets added), 0 if addr was added
 * itself, -1 with errno (ENAMETOOLONG: a target longer than an address
 * may be; nothing is cut to name some other mailbox). */
int targets_add_rcpt(const struct conf *conf, struct targets *t, const char *addr,
    unsigned notify, const char *orcpt);

/* Frees the lists; t is then empty and may be reused. */
void targets_free(struct targets *t);

#endif
