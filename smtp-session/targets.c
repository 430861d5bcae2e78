/*
 * targets.c — where a message goes: each recipient's alias targets (or the
 * recipient itself), local mailboxes and remote addresses, each once.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp.h"
#include "users.h"

static int
list_add(char ***list, size_t *n, const char *addr)
{
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp((*list)[i], addr) == 0)
			return 0;
	char **grown = realloc(*list, (*n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	*list = grown;
	if (!(grown[*n] = strdup(addr)))
		return -1;
	(*n)++;
	return 0;
}

static int
target_add(struct smtp *s, struct target_list *t, const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (at && conf_is_local_domain(s->conf, at + 1)) {
		/* One spelling per mailbox, as at RCPT time. */
		char lower[ADDR_PATH_MAX + 1];
		size_t i;
		for (i = 0; addr[i] && i < ADDR_PATH_MAX; i++)
			lower[i] = (unsigned char)addr[i] < 0x80 ? (char)tolower((unsigned char)addr[i]) : addr[i];
		lower[i] = '\0';
		return list_add(&t->local, &t->n_local, lower);
	}
	return list_add(&t->remote, &t->n_remote, addr);
}

int
smtp_targets_add(struct smtp *s, struct target_list *t, const struct smtp_rcpt *r)
{
	if (!r->local)
		return target_add(s, t, r->addr);
	char **aliases;
	size_t n;
	if (users_aliases(s->conf, r->addr, &aliases, &n) < 0)
		return -1;
	int rc = 0;
	for (size_t j = 0; j < n && rc == 0; j++)
		rc = target_add(s, t, aliases[j]);
	if (n == 0)
		rc = target_add(s, t, r->addr);
	users_free_targets(&aliases, n);
	return rc;
}

void
smtp_targets_free(struct target_list *t)
{
	users_free_targets(&t->local, t->n_local);
	users_free_targets(&t->remote, t->n_remote);
	t->n_local = t->n_remote = 0;
}
