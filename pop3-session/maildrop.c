/*
 * maildrop.c — see maildrop.h.
 */
#include "maildrop.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "mailbox.h"

int
maildrop_open(struct maildrop *m, const struct conf *conf, const char *user)
{
	char dir[PATH_MAX];
	memset(m, 0, sizeof *m);
	m->snap.lock_fd = -1;
	if (mailbox_user_dir(conf, user, dir, sizeof dir) < 0 ||
	    store_init(&m->store, dir, store_format_of(conf)) != 0 ||
	    store_setup(&m->store) != 0)
		return MAILDROP_FAIL;
	if (store_pop3_open(&m->store, &m->snap) != 0)
		return errno == EAGAIN ? MAILDROP_IN_USE : MAILDROP_FAIL;
	return MAILDROP_OK;
}

void
maildrop_close(struct maildrop *m)
{
	store_pop3_close(&m->snap);
}
