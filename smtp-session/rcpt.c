/*
 * rcpt.c — the recipients of a transaction: whether a local one is known
 * (users and aliases), adding one once, taking one out. RCPT (envelope.c)
 * and a milter's edits (milter-edit.c) both come here.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtp.h"
#include "users.h"

/* Is a local recipient known? 1 yes, 0 no, -1 lookup failed, -2 it is an
 * alias that loops or names a local target that is no user: a mistake in
 * the aliases file, answered with a temporary error so no mail is lost. */
int
smtp_rcpt_known(struct smtp *s, const char *addr)
{
	char **targets;
	size_t n;
	if (users_aliases(s->conf, addr, &targets, &n) < 0)
		return errno == ELOOP ? -2 : -1;
	int rc = 1;
	for (size_t i = 0; i < n && rc == 1; i++) {
		const char *at = strrchr(targets[i], '@');
		if (at && conf_is_local_domain(s->conf, at + 1)) {
			int known = users_exists(s->conf, targets[i]);
			if (known <= 0) {
				log_err("alias %s: local target %s is no user", addr, targets[i]);
				rc = known < 0 ? -1 : -2;
			}
		}
	}
	users_free_targets(&targets, n);
	if (n > 0)
		return rc;
	return users_exists(s->conf, addr);
}

/* Local parts of local users are case-insensitive, like Dovecot's %Lu:
 * one spelling, one mailbox directory. */
void
smtp_lower_case(char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p < 0x80)
			*p = (char)tolower((unsigned char)*p);
}

int
smtp_rcpt_is_duplicate(const struct smtp *s, const char *addr)
{
	for (size_t i = 0; i < s->n_rcpts; i++)
		if (strcasecmp(s->rcpts[i].addr, addr) == 0)
			return 1;
	return 0;
}

/* Adds r to the transaction (taking its ORCPT), unless the same address
 * is there already: accepted again, delivered once (S28). 0 or -1. */
int
smtp_rcpt_add(struct smtp *s, struct smtp_rcpt *r)
{
	if (smtp_rcpt_is_duplicate(s, r->addr)) {
		free(r->orcpt);
		return 0;
	}
	struct smtp_rcpt *grown = realloc(s->rcpts, (s->n_rcpts + 1) * sizeof *grown);
	if (!grown) {
		free(r->orcpt);
		return -1;
	}
	s->rcpts = grown;
	s->rcpts[s->n_rcpts++] = *r;
	return 0;
}

int
smtp_rcpt_add_checked(struct smtp *s, const char *path)
{
	char quoted[ADDR_PATH_MAX + 3];
	struct smtp_rcpt r = { .notify = 0 };
	struct addr a;
	const char *end;
	if (path[0] != '<') {
		snprintf(quoted, sizeof quoted, "<%s>", path);
		path = quoted;
	}
	if (addr_parse_path(path, 1, &a, &end) != ADDR_OK || a.null || *end ||
	    s->n_rcpts >= s->conf->smtp_max_recipients)
		return -1;
	addr_format(&a, r.addr, sizeof r.addr);
	r.local = conf_is_local_domain(s->conf, a.domain);
	if (r.local) {
		smtp_lower_case(r.addr);
		if (smtp_rcpt_known(s, r.addr) != 1)
			return -1;
	}
	return smtp_rcpt_add(s, &r);
}

void
smtp_rcpt_remove(struct smtp *s, const char *addr)
{
	for (size_t i = 0; i < s->n_rcpts; i++) {
		if (strcasecmp(s->rcpts[i].addr, addr) != 0)
			continue;
		free(s->rcpts[i].orcpt);
		memmove(&s->rcpts[i], &s->rcpts[i + 1], (s->n_rcpts - i - 1) * sizeof *s->rcpts);
		s->n_rcpts--;
		return;
	}
}
