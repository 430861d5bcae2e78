/*
 * targets.c — a message's local and remote targets (see targets.h).
 */
#include "targets.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "users.h"

static int
is_local(const struct conf *conf, const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at && conf_is_local_domain(conf, at + 1);
}

/* One spelling per mailbox: ASCII folded, UTF-8 bytes kept. */
static int
local_add(struct targets *t, const char *addr)
{
	char lower[ADDR_PATH_MAX + 1];
	size_t i;
	for (i = 0; addr[i] && i < ADDR_PATH_MAX; i++)
		lower[i] = (unsigned char)addr[i] < 0x80 ? (char)tolower((unsigned char)addr[i]) :
		    addr[i];
	if (addr[i]) {
		errno = ENAMETOOLONG;
		return -1;
	}
	lower[i] = '\0';
	for (i = 0; i < t->n_local; i++)
		if (strcmp(t->local[i], lower) == 0)
			return 0;
	char **grown = realloc(t->local, (t->n_local + 1) * sizeof *grown);
	if (!grown)
		return -1;
	t->local = grown;
	if (!(grown[t->n_local] = strdup(lower)))
		return -1;
	t->n_local++;
	return 0;
}

/* A remote target once; the DSN parameters of the recipient that named
 * it itself win over an alias that named it too (own, nonzero). */
static int
remote_add(struct targets *t, const char *addr, int own, unsigned notify, const char *orcpt)
{
	struct spool_rcpt *r = NULL;
	for (size_t i = 0; i < t->n_remote && !r; i++)
		if (strcasecmp(t->remote[i].addr, addr) == 0)
			r = &t->remote[i];
	if (!r) {
		struct spool_rcpt *grown = realloc(t->remote, (t->n_remote + 1) * sizeof *grown);
		if (!grown)
			return -1;
		t->remote = grown;
		r = &grown[t->n_remote];
		memset(r, 0, sizeof *r);
		if (!(r->addr = strdup(addr)))
			return -1;
		t->n_remote++;
	}
	if (!own)
		return 0;
	char *copy = orcpt ? strdup(orcpt) : NULL;
	if (orcpt && !copy)
		return -1;
	free(r->orcpt);
	r->orcpt = copy;
	r->notify = notify;
	return 0;
}

static int
target_add(const struct conf *conf, struct targets *t, const char *addr)
{
	return is_local(conf, addr) ? local_add(t, addr) : remote_add(t, addr, 0, 0, NULL);
}

int
targets_add_rcpt(const struct conf *conf, struct targets *t, const char *addr,
    unsigned notify, const char *orcpt)
{
	if (!is_local(conf, addr))
		return remote_add(t, addr, 1, notify, orcpt);
	char **aliases;
	size_t n;
	if (users_aliases(conf, addr, &aliases, &n) < 0)
		return -1;
	int rc = 0;
	for (size_t j = 0; j < n && rc == 0; j++)
		rc = target_add(conf, t, aliases[j]);
	if (n == 0)
		rc = local_add(t, addr);
	users_free_targets(&aliases, n);
	return rc < 0 ? -1 : n > 0;
}

void
targets_free(struct targets *t)
{
	users_free_targets(&t->local, t->n_local);
	for (size_t i = 0; i < t->n_remote; i++) {
		free(t->remote[i].addr);
		free(t->remote[i].orcpt);
	}
	free(t->remote);
	t->remote = NULL;
	t->n_local = t->n_remote = 0;
}
