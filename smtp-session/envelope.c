/*
 * envelope.c — MAIL FROM and RCPT TO: paths, ESMTP parameters, the relay
 * decision and recipient checks; smtp_reset() ends the transaction.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "smtp-milter.h"
#include "users.h"

#define PARAMS_MAX 8

struct smtp_param {
	char *key;
	char *value;   /* NULL when the keyword has no "=value" */
};

/* Splits "K=V K2" in place. Returns the count, or -1 on syntax errors. */
static int
params_split(char *s, struct smtp_param *p, size_t max)
{
	size_t n = 0;
	while (*s == ' ')
		s++;
	while (*s) {
		if (n == max)
			return -1;
		char *end = s + strcspn(s, " ");
		if (*end)
			*end++ = '\0';
		char *eq = strchr(s, '=');
		if (eq)
			*eq = '\0';
		if (*s == '\0')
			return -1;
		p[n].key = s;
		p[n].value = eq ? eq + 1 : NULL;
		n++;
		s = end;
		while (*s == ' ')
			s++;
	}
	return (int)n;
}

static int
params_duplicate(const struct smtp_param *p, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcasecmp(p[i].key, p[j].key) == 0)
				return 1;
	return 0;
}

int
smtp_xtext_decode(const char *in, char *out, size_t size)
{
	size_t o = 0;
	for (const char *p = in; *p; p++) {
		unsigned c = (unsigned char)*p;
		if (c == '+') {
			if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
				return -1;
			char hex[3] = { p[1], p[2], 0 };
			c = (unsigned)strtoul(hex, NULL, 16);
			p += 2;
		} else if (c < 0x21 || c > 0x7e || c == '=') {
			return -1;
		}
		if (c < 0x20 || c > 0x7e || o + 1 >= size)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* SIZE=digits: no sign; overflow is reported apart (S23). */
static int
parse_size(const char *v, uint64_t *r)
{
	uint64_t n = 0;
	int overflow = 0;
	if (!v || !*v)
		return -1;
	for (; *v; v++) {
		if (!isdigit((unsigned char)*v))
			return -1;
		if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, (uint64_t)(*v - '0'), &n))
			overflow = 1;  /* too large: answered as over the limit */
	}
	if (overflow)
		return -2;
	*r = n;
	return 0;
}

/* Applies MAIL parameters. Replies and returns -1 on error. */
static int
mail_params(struct smtp *s, char *text)
{
	struct smtp_param p[PARAMS_MAX];
	int n = params_split(text, p, PARAMS_MAX);
	if (n < 0 || params_duplicate(p, n)) {
		smtp_reply(s, 501, "5.5.4", "Error: bad MAIL parameters");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *k = p[i].key, *v = p[i].value;
		char buf[DSN_ENVID_MAX + 1], auth[ADDR_PATH_MAX + 1];
		uint64_t size;
		if (!strcasecmp(k, "SIZE")) {
			int r = parse_size(v, &size);
			if (r == -1) {
				smtp_reply(s, 501, "5.5.4", "Error: bad SIZE parameter");
				return -1;
			}
			if (r == -2 || size > s->conf->max_message_size) {
				smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
				return -1;
			}
			s->declared_size = size;
		} else if (!strcasecmp(k, "BODY") && v && !strcasecmp(v, "8BITMIME")) {
			s->body_8bit = 1;
		} else if (!strcasecmp(k, "BODY") && v && !strcasecmp(v, "7BIT")) {
			s->body_8bit = 0;
		} else if (!strcasecmp(k, "SMTPUTF8") && !v) {
			s->smtputf8 = 1;
		} else if (!strcasecmp(k, "RET") && v && (!strcasecmp(v, "FULL") || !strcasecmp(v, "HDRS"))) {
			s->ret = !strcasecmp(v, "FULL") ? SPOOL_RET_FULL : SPOOL_RET_HDRS;
		} else if (!strcasecmp(k, "ENVID") && v && strlen(v) <= DSN_ENVID_MAX * 3 &&
		    smtp_xtext_decode(v, buf, sizeof buf) == 0) {
			free(s->envid);
			s->envid = strdup(v);
		} else if (!strcasecmp(k, "AUTH") && v && strlen(v) <= ADDR_PATH_MAX * 3 &&
		    smtp_xtext_decode(v, auth, sizeof auth) == 0) {
			/* RFC 4954 §5: the submitter's identity; we keep our own and
			 * never store this one, but still refuse control bytes (S26). */
		} else if (!strcasecmp(k, "ENVID") || !strcasecmp(k, "RET") || !strcasecmp(k, "AUTH") ||
		    !strcasecmp(k, "SMTPUTF8") || (!strcasecmp(k, "BODY") && v && !strcasecmp(v, "BINARYMIME"))) {
			smtp_reply(s, 501, "5.5.4", "Error: bad %s parameter", !strcasecmp(k, "BODY") ? "BODY" : k);
			return -1;
		} else {
			smtp_reply(s, 555, "5.5.4", "Error: unsupported parameter");
			return -1;
		}
	}
	return 0;
}

/* Free space under the reserve: refuse before the client sends (S54). */
static int
storage_low(const struct smtp *s)
{
	const char *dirs[] = { s->conf->spool, s->conf->mail_root };
	for (size_t i = 0; i < 2; i++) {
		struct statvfs vfs;
		if (!dirs[i] || statvfs(dirs[i], &vfs) < 0)
			continue;
		unsigned long long free_bytes = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
		if (free_bytes < s->conf->max_message_size + s->conf->max_message_size / 2)
			return 1;
	}
	return 0;
}

static int
addr_has_8bit(const struct addr *a)
{
	for (const char *p = a->local; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	for (const char *p = a->domain; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

/* Replies for an unusable path; context is "Sender" or "Recipient". */
static void
reply_addr_error(struct smtp *s, enum addr_error e, int sender)
{
	const char *enh = sender ? "5.1.7" : "5.1.3";
	switch (e) {
	case ADDR_TOO_LONG:
		smtp_reply(s, 501, enh, "Error: address too long");
		break;
	case ADDR_UTF8:
		smtp_reply(s, 553, "5.6.7", "Error: non-ASCII address requires SMTPUTF8");
		break;
	case ADDR_ROUTING:
		smtp_reply(s, 553, enh, "Error: routing syntax in address not allowed");
		break;
	default:
		smtp_reply(s, sender ? 553 : 501, enh, "Error: %s address syntax error",
		    sender ? "sender" : "recipient");
		break;
	}
}

/* May a MAIL command start a transaction now? 0 yes, -1 replied, -2
 * replied and the session ends. */
static int
mail_allowed(struct smtp *s, const char *args)
{
	if (s->state == SMTP_STATE_START) {
		smtp_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return -1;
	}
	if (s->state != SMTP_STATE_READY) {
		smtp_reply(s, 503, "5.5.1", "Error: nested MAIL command");
		return -1;
	}
	if (s->submission && !s->auth_user[0]) {
		smtp_reply(s, 530, "5.7.0", "Authentication required");
		return -1;
	}
	if (strncasecmp(args, "FROM:", 5) != 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		return -1;
	}
	if (s->transactions >= s->conf->smtp_max_transactions) {
		smtp_reply(s, 421, "4.7.0", "%s Error: too many transactions", s->conf->hostname);
		return -2;
	}
	return 0;
}

/* Checks that need the parameters: SMTPUTF8 for an 8-bit path, the
 * submitter's right to the address, free space (S54). 0 or -1 (replied). */
static int
mail_sender_ok(struct smtp *s, const struct addr *a)
{
	if (!s->smtputf8 && addr_has_8bit(a)) {
		reply_addr_error(s, ADDR_UTF8, 1);
		return -1;
	}
	addr_format(a, s->sender, sizeof s->sender);
	/* The null sender belongs to nobody: a submitter may send bounces and
	 * auto-replies with it (as Postfix's reject_sender_login_mismatch). */
	if (s->auth_user[0] && s->sender[0] &&
	    users_may_send_as(s->conf, s->auth_user, s->sender) != 1) {
		smtp_reply(s, 553, "5.7.1", "<%s>: Sender address rejected: not owned by user %s",
		    s->sender, s->auth_user);
		return -1;
	}
	if (storage_low(s)) {
		smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
		return -1;
	}
	return 0;
}

enum smtp_verdict
smtp_cmd_mail(struct smtp *s, char *args)
{
	int allowed = mail_allowed(s, args);
	if (allowed < 0)
		return allowed == -2 ? SMTP_CLOSE : SMTP_CONTINUE;
	/* SMTPUTF8 decides whether an 8-bit path is legal, and it comes after
	 * the path: parse leniently, judge once the parameters are known. */
	struct addr a;
	const char *end;
	enum addr_error e = addr_parse_path(args + 5, 1, &a, &end);
	if (e != ADDR_OK && e != ADDR_LITERAL) {
		reply_addr_error(s, e, 1);
		return SMTP_CONTINUE;
	}
	if (*end && *end != ' ') {
		smtp_reply(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		return SMTP_CONTINUE;
	}
	char text[SMTP_COMMAND_LINE_MAX];
	snprintf(text, sizeof text, "%s", end);
	if (mail_params(s, text) < 0 || mail_sender_ok(s, &a) < 0) {
		smtp_reset(s);
		return SMTP_CONTINUE;
	}
	if (smtp_milter_mail(s) < 0) {
		smtp_reset(s);
		return SMTP_CONTINUE;
	}
	s->transactions++;
	s->state = SMTP_STATE_MAIL;
	smtp_reply(s, 250, "2.1.0", "Ok");
	return SMTP_CONTINUE;
}

/* NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1). */
static int
parse_notify(const char *v, unsigned *r)
{
	char copy[64], *save = NULL;
	if (!v || strlen(v) >= sizeof copy)
		return -1;
	snprintf(copy, sizeof copy, "%s", v);
	*r = 0;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcasecmp(w, "NEVER"))
			*r |= SPOOL_NOTIFY_NEVER;
		else if (!strcasecmp(w, "SUCCESS"))
			*r |= SPOOL_NOTIFY_SUCCESS;
		else if (!strcasecmp(w, "FAILURE"))
			*r |= SPOOL_NOTIFY_FAILURE;
		else if (!strcasecmp(w, "DELAY"))
			*r |= SPOOL_NOTIFY_DELAY;
		else
			return -1;
	}
	if (*r == 0 || ((*r & SPOOL_NOTIFY_NEVER) && *r != SPOOL_NOTIFY_NEVER))
		return -1;
	return 0;
}

/* ORCPT=addr-type;xtext, at most DSN_ORCPT_MAX (RFC 3461 §4.2, S26). */
static int
valid_orcpt(const char *v)
{
	char decoded[DSN_ORCPT_MAX + 1];
	const char *semi = v ? strchr(v, ';') : NULL;
	if (!semi || semi == v || strlen(v) > DSN_ORCPT_MAX)
		return 0;
	return smtp_xtext_decode(semi + 1, decoded, sizeof decoded) == 0;
}

static int
rcpt_params(struct smtp *s, char *text, struct smtp_rcpt *r)
{
	struct smtp_param p[PARAMS_MAX];
	int n = params_split(text, p, PARAMS_MAX);
	if (n < 0 || params_duplicate(p, n)) {
		smtp_reply(s, 501, "5.5.4", "Error: bad RCPT parameters");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (!strcasecmp(p[i].key, "NOTIFY")) {
			if (parse_notify(p[i].value, &r->notify) < 0) {
				smtp_reply(s, 501, "5.5.4", "Error: bad NOTIFY parameter");
				return -1;
			}
		} else if (!strcasecmp(p[i].key, "ORCPT")) {
			if (!valid_orcpt(p[i].value)) {
				smtp_reply(s, 501, "5.5.4", "Error: bad ORCPT parameter");
				return -1;
			}
			r->orcpt = strdup(p[i].value);
		} else {
			smtp_reply(s, 555, "5.5.4", "Error: unsupported parameter");
			return -1;
		}
	}
	return 0;
}

/* Address checks at RCPT time. Returns 0 (accept, r filled) or -1 (replied). */
/* One line per refused recipient, for the operator and for fail2ban-style
 * watchers (relay probes, address harvesting). */
static void
log_rcpt_refused(const struct smtp *s, const char *rcpt, const char *why)
{
	char from[4 * ADDR_PATH_MAX + 1], to[4 * ADDR_PATH_MAX + 1];
	log_field(from, sizeof from, s->sender, strlen(s->sender));
	log_field(to, sizeof to, rcpt, strlen(rcpt));
	log_info("rejected RCPT from=<%s> to=<%s>: %s", from, to, why);
}

static int
rcpt_check(struct smtp *s, struct addr *a, enum addr_error e, struct smtp_rcpt *r)
{
	if (e == ADDR_NO_DOMAIN && !strcasecmp(a->local, "postmaster")) {
		/* RFC 5321 §4.5.1: <Postmaster> without a domain must work. */
		snprintf(a->domain, sizeof a->domain, "%s", s->conf->local_domains[0]);
		e = ADDR_OK;
	}
	if (e == ADDR_LITERAL) {
		smtp_reply(s, 554, "5.7.1", "<%s@%s>: Relay access denied", a->local, a->domain);
		return -1;
	}
	if (e != ADDR_OK || a->null) {
		reply_addr_error(s, a->null ? ADDR_SYNTAX : e, 0);
		return -1;
	}
	addr_format(a, r->addr, sizeof r->addr);
	r->local = conf_is_local_domain(s->conf, a->domain);
	if (!r->local) {
		if (s->auth_user[0])
			return 0;
		log_rcpt_refused(s, r->addr, "relay access denied");
		smtp_reply(s, 554, "5.7.1", "<%s>: Relay access denied", r->addr);
		return -1;
	}
	smtp_lower_case(r->addr);
	int known = smtp_rcpt_known(s, r->addr);
	if (known == -2) {
		smtp_reply(s, 451, "4.3.5", "<%s>: Recipient alias misconfigured", r->addr);
		return -1;
	}
	if (known < 0) {
		log_err("recipient lookup failed for %s: %s", r->addr, strerror(errno));
		smtp_reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", r->addr);
		return -1;
	}
	if (!known) {
		s->unknown_rcpts++;
		/* Slow down address harvesting over the network (S50); a local
		 * submitter on a pipe is not probing. */
		if (s->strict_sync)
			session_sleep_ms(100u * (s->unknown_rcpts < 10 ? s->unknown_rcpts : 10));
		log_rcpt_refused(s, r->addr, "user unknown");
		smtp_reply(s, 550, "5.1.1", "<%s>: Recipient address rejected: User unknown", r->addr);
		return -1;
	}
	return 0;
}

/* With SIZE= declared: does the message still fit once it also goes to
 * the new recipient r (its alias targets)? Replies 452 or 552 and returns
 * -1 when not. A failed alias lookup is left to the end of data. */
static int
rcpt_space_ok(struct smtp *s, const struct smtp_rcpt *r)
{
	if (s->declared_size == 0)
		return 0;
	struct targets *t = &s->space_targets;
	if (targets_add_rcpt(s->conf, t, r->addr, r->notify, r->orcpt) < 0)
		return 0;
	int space = smtp_space_check(s, t, s->declared_size);
	if (space == 0)
		return 0;
	/* Take the refused recipient's copies back out of the count. */
	targets_free(t);
	for (size_t i = 0; i < s->n_rcpts; i++)
		if (targets_add_rcpt(s->conf, t, s->rcpts[i].addr, s->rcpts[i].notify,
		    s->rcpts[i].orcpt) < 0)
			break;
	log_rcpt_refused(s, r->addr, "insufficient storage for every copy");
	if (space == 2)
		smtp_reply(s, 552, "5.3.4", "Message too big for system");
	else
		smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
	return -1;
}

/* Is the mailbox of every target of r still below its quota, and with
 * SIZE= declared, does the message fit? Refusing here refuses r alone,
 * so the other recipients still get the mail. Replies 452 4.2.2 (full
 * now) or 552 5.2.2 (the declared size passes the whole limit) and
 * returns -1 when not; a limit or usage that cannot be read is left to
 * the end of data. */
static int
rcpt_quota_ok(struct smtp *s, const struct smtp_rcpt *r)
{
	struct targets t = { 0 };
	size_t who = 0;
	if (targets_add_rcpt(s->conf, &t, r->addr, r->notify, r->orcpt) < 0)
		return 0;
	int over = smtp_quota_over(s, &t, s->declared_size, &who);
	targets_free(&t);
	if (over <= 0)
		return 0;
	log_rcpt_refused(s, r->addr, over == 2 ? "message larger than the quota" : "mailbox full");
	if (over == 2)
		smtp_reply(s, 552, "5.2.2", "<%s>: Message exceeds the mailbox's quota", r->addr);
	else
		smtp_reply(s, 452, "4.2.2", "<%s>: Mailbox full", r->addr);
	return -1;
}

enum smtp_verdict
smtp_cmd_rcpt(struct smtp *s, char *args)
{
	if (s->state != SMTP_STATE_MAIL && s->state != SMTP_STATE_RCPT) {
		smtp_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return SMTP_CONTINUE;
	}
	if (strncasecmp(args, "TO:", 3) != 0) {
		smtp_reply(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		return SMTP_CONTINUE;
	}
	if (s->n_rcpts >= s->conf->smtp_max_recipients) {
		smtp_reply(s, 452, "4.5.3", "Error: too many recipients");
		return SMTP_CONTINUE;
	}
	struct addr a;
	const char *end;
	struct smtp_rcpt r = { .notify = 0 };
	enum addr_error e = addr_parse_path(args + 3, s->smtputf8, &a, &end);
	if (e == ADDR_OK || e == ADDR_LITERAL || e == ADDR_NO_DOMAIN) {
		if (e != ADDR_NO_DOMAIN && *end && *end != ' ') {
			smtp_reply(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
			return SMTP_CONTINUE;
		}
	}
	if (rcpt_check(s, &a, e, &r) < 0) {
		if (s->unknown_rcpts > SMTP_UNKNOWN_RCPT_MAX) {
			smtp_reply(s, 421, "4.7.0", "%s Error: too many unknown recipients", s->conf->hostname);
			return SMTP_CLOSE;
		}
		return SMTP_CONTINUE;
	}
	char text[SMTP_COMMAND_LINE_MAX];
	snprintf(text, sizeof text, "%s", e == ADDR_NO_DOMAIN ? "" : end);
	if (rcpt_params(s, text, &r) < 0) {
		free(r.orcpt);
		return SMTP_CONTINUE;
	}
	if (!smtp_rcpt_is_duplicate(s, r.addr) &&
	    (rcpt_space_ok(s, &r) < 0 || rcpt_quota_ok(s, &r) < 0)) {
		free(r.orcpt);
		return SMTP_CONTINUE;
	}
	if (!smtp_rcpt_is_duplicate(s, r.addr) && smtp_milter_rcpt(s, &r) < 0) {
		free(r.orcpt);
		return SMTP_CONTINUE;
	}
	if (smtp_rcpt_add(s, &r) < 0) {
		smtp_reply(s, 452, "4.3.0", "Error: out of memory");
		return SMTP_CONTINUE;
	}
	s->state = SMTP_STATE_RCPT;
	smtp_reply(s, 250, "2.1.5", "Ok");
	return SMTP_CONTINUE;
}

void
smtp_reset(struct smtp *s)
{
	for (size_t i = 0; i < s->n_rcpts; i++)
		free(s->rcpts[i].orcpt);
	free(s->rcpts);
	s->rcpts = NULL;
	s->n_rcpts = 0;
	free(s->envid);
	s->envid = NULL;
	s->sender[0] = '\0';
	s->smtputf8 = s->body_8bit = 0;
	s->declared_size = 0;
	targets_free(&s->space_targets);
	s->ret = SPOOL_RET_DEFAULT;
	smtp_milter_abort(s);
	if (s->msg_fd >= 0)
		close(s->msg_fd);
	s->msg_fd = -1;
	s->msg_len = 0;
	s->msg_seen = 0;
	s->msg_too_big = 0;
	if (s->state > SMTP_STATE_READY)
		s->state = SMTP_STATE_READY;
}
