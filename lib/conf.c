/*
 * conf.c — the yubin.conf parser. One table lists every key, its type and
 * where it lands in struct conf; unknown keys are errors, not warnings, so a
 * typo never silently leaves a default in place.
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bounds.h"
#include "fileline.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

enum conf_type { T_STRING, T_BOOL, T_SIZE, T_TIME, T_COUNT, T_DOMAINS, T_FORMAT, T_BARE_NL,
	T_MILTER_ACTION };

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t offset;
};

#define K(name, type) { #name, type, offsetof(struct conf, name) }
static const struct conf_key conf_keys[] = {
	K(hostname, T_STRING),
	K(local_domains, T_DOMAINS),
	K(users, T_STRING),
	K(aliases, T_STRING),
	K(mail_root, T_STRING),
	K(mailbox_format, T_FORMAT),
	K(spool, T_STRING),
	K(tls_cert, T_STRING),
	K(tls_key, T_STRING),
	K(tls_priority, T_STRING),
	K(tls_handshake_timeout, T_TIME),
	K(auth_requires_tls, T_BOOL),
	K(max_message_size, T_SIZE),
	K(relay_host, T_STRING),
	K(relay_auth, T_STRING),
	K(routes, T_STRING),
	K(dns_servers, T_STRING),
	K(relay_timeout, T_TIME),
	K(relay_tls_ca, T_STRING),
	K(relay_host_tls, T_STRING),
	K(relay_allow_private, T_BOOL),
	K(relay_mx_port, T_COUNT),
	K(relay_connect_timeout, T_TIME),
	K(relay_pass_budget, T_TIME),
	K(relay_processes, T_COUNT),
	K(relay_backoff_min, T_TIME),
	K(queue_lifetime, T_TIME),
	K(postmaster, T_STRING),
	K(run_as, T_STRING),
	K(dkim_key_dir, T_STRING),
	K(smtp_bare_newline, T_BARE_NL),
	K(smtp_max_recipients, T_COUNT),
	K(smtp_max_transactions, T_COUNT),
	K(smtp_timeout, T_TIME),
	K(pop3_timeout, T_TIME),
	K(imap_timeout, T_TIME),
	K(login_deadline, T_TIME),
	K(session_deadline, T_TIME),
	K(imap_search_budget, T_TIME),
	K(imap_search_max_bytes, T_SIZE),
	K(max_bad_commands, T_COUNT),
	K(auth_fail_delay_ms, T_COUNT),
	K(milters, T_STRING),
	K(milter_default_action, T_MILTER_ACTION),
	K(milter_timeout, T_TIME),
	K(quota_storage, T_SIZE),
};
#undef K

const char *
conf_default_path(void)
{
	const char *env = getenv("YUBIN_CONF");
	return env && *env ? env : SYSCONFDIR "/yubin/yubin.conf";
}

static void
set_string(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? strdup(value) : NULL;
}

void
conf_defaults(struct conf *conf)
{
	char host[256] = "localhost";
	memset(conf, 0, sizeof *conf);
	if (gethostname(host, sizeof host - 1) < 0 || host[0] == '\0')
		strcpy(host, "localhost");
	set_string(&conf->hostname, host);
	conf->local_domains[0] = strdup("localhost");
	conf->n_local_domains = 1;
	set_string(&conf->users, SYSCONFDIR "/yubin/users");
	set_string(&conf->mail_root, "/var/mail/yubin");
	conf->mailbox_format = MAILBOX_MAILDIR;
	set_string(&conf->spool, "/var/spool/yubin");
	/* TLS 1.2 and 1.3 only; AEAD ciphers with forward secrecy (no CBC, no
	 * SHA-1 MACs, no static-RSA key exchange). */
	set_string(&conf->tls_priority, "SECURE192:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"
	    "-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:+AES-256-CCM:+AES-128-CCM:"
	    "-MAC-ALL:+AEAD:-RSA:%PROFILE_MEDIUM");
	conf->tls_handshake_timeout = TLS_HANDSHAKE_TIMEOUT_SEC;
	conf->auth_requires_tls = 1;
	conf->max_message_size = MESSAGE_SIZE_DEFAULT;
	conf->queue_lifetime = 5 * 86400;
	conf->relay_timeout = RELAY_TIMEOUT_SEC;
	conf->relay_mx_port = 25;
	conf->relay_connect_timeout = RELAY_CONNECT_TIMEOUT_SEC;
	conf->relay_pass_budget = RELAY_PASS_BUDGET_SEC;
	conf->relay_processes = RELAY_PROCESSES_DEFAULT;
	conf->relay_backoff_min = RELAY_BACKOFF_MIN_SEC;
	set_string(&conf->run_as, "yubin");
	conf->smtp_bare_newline = BARE_NEWLINE_NORMALIZE;
	conf->smtp_max_recipients = SMTP_RECIPIENTS_DEFAULT;
	conf->smtp_max_transactions = SMTP_TRANSACTIONS_DEFAULT;
	conf->smtp_timeout = SMTP_TIMEOUT_SEC;
	conf->pop3_timeout = POP3_TIMEOUT_SEC;
	conf->imap_timeout = IMAP_TIMEOUT_SEC;
	conf->login_deadline = LOGIN_DEADLINE_SEC;
	conf->session_deadline = POP3_IMAP_SESSION_DEADLINE_SEC;
	conf->imap_search_budget = IMAP_SEARCH_BUDGET_SEC;
	conf->max_bad_commands = BAD_COMMANDS_MAX;
	conf->auth_fail_delay_ms = AUTH_FAIL_DELAY_MS;
	conf->milter_default_action = MILTER_ACTION_TEMPFAIL;
	conf->milter_timeout = MILTER_TIMEOUT_SEC;
}

static int
parse_scaled(const char *s, uint64_t *r, const char *units, const uint64_t *scales)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	uint64_t scale = 1;
	if (*end) {
		const char *u = strchr(units, tolower((unsigned char)*end));
		if (!u || end[1] != '\0')
			return -1;
		scale = scales[u - units];
	}
	if (__builtin_mul_overflow((uint64_t)v, scale, r))
		return -1;
	return 0;
}

int
conf_parse_size(const char *s, uint64_t *r)
{
	static const uint64_t scales[] = { 1, 1024, 1024 * 1024, 1024ULL * 1024 * 1024 };
	return parse_scaled(s, r, "bkmg", scales);
}

int
conf_parse_time(const char *s, uint64_t *r)
{
	static const uint64_t scales[] = { 1, 60, 3600, 86400, 7 * 86400 };
	return parse_scaled(s, r, "smhdw", scales);
}

static int
set_domains(struct conf *conf, const char *value)
{
	for (size_t i = 0; i < conf->n_local_domains; i++)
		free(conf->local_domains[i]);
	conf->n_local_domains = 0;
	char *copy = strdup(value), *save = NULL;
	if (!copy)
		return -1;
	for (char *d = strtok_r(copy, " \t,", &save); d; d = strtok_r(NULL, " \t,", &save)) {
		if (conf->n_local_domains == CONF_DOMAINS_MAX) {
			free(copy);
			return -1;
		}
		for (char *p = d; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		conf->local_domains[conf->n_local_domains++] = strdup(d);
	}
	free(copy);
	return 0;
}

static int
set_bool(int *slot, const char *value)
{
	if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcmp(value, "1"))
		*slot = 1;
	else if (!strcasecmp(value, "no") || !strcasecmp(value, "false") || !strcmp(value, "0"))
		*slot = 0;
	else
		return -1;
	return 0;
}

static const char *
conf_set(struct conf *conf, const struct conf_key *key, const char *value)
{
	void *slot = (char *)conf + key->offset;
	switch (key->type) {
	case T_STRING:
		set_string(slot, *value ? value : NULL);
		return NULL;
	case T_BOOL:
		return set_bool(slot, value) ? "expected yes or no" : NULL;
	case T_SIZE:
		return conf_parse_size(value, slot) ? "expected a size like 35M" : NULL;
	case T_TIME:
		return conf_parse_time(value, slot) ? "expected a time like 5d or 30m" : NULL;
	case T_COUNT:
		return conf_parse_size(value, slot) ? "expected a number" : NULL;
	case T_DOMAINS:
		return set_domains(conf, value) ? "too many domains" : NULL;
	case T_FORMAT:
		if (!strcmp(value, "maildir"))
			conf->mailbox_format = MAILBOX_MAILDIR;
		else if (!strcmp(value, "mbox"))
			conf->mailbox_format = MAILBOX_MBOX;
		else
			return "expected maildir or mbox";
		return NULL;
	case T_BARE_NL:
		if (!strcmp(value, "normalize"))
			conf->smtp_bare_newline = BARE_NEWLINE_NORMALIZE;
		else if (!strcmp(value, "reject"))
			conf->smtp_bare_newline = BARE_NEWLINE_REJECT;
		else
			return "expected normalize or reject";
		return NULL;
	case T_MILTER_ACTION:
		if (!strcmp(value, "tempfail"))
			conf->milter_default_action = MILTER_ACTION_TEMPFAIL;
		else if (!strcmp(value, "accept"))
			conf->milter_default_action = MILTER_ACTION_ACCEPT;
		else if (!strcmp(value, "reject"))
			conf->milter_default_action = MILTER_ACTION_REJECT;
		else
			return "expected tempfail, accept or reject";
		return NULL;
	}
	return "bad key type";
}

static char *
trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
conf_line(struct conf *conf, char *line, const char **why)
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	char *s = trim(line);
	if (*s == '\0')
		return 0;
	char *eq = strchr(s, '=');
	if (!eq) {
		*why = "expected key = value";
		return -1;
	}
	*eq = '\0';
	char *name = trim(s), *value = trim(eq + 1);
	for (size_t i = 0; i < sizeof conf_keys / sizeof conf_keys[0]; i++) {
		if (strcmp(conf_keys[i].name, name) == 0) {
			*why = conf_set(conf, &conf_keys[i], value);
			return *why ? -1 : 0;
		}
	}
	*why = "unknown key";
	return -1;
}

int
conf_load(struct conf *conf, const char *path, char *err, size_t errsize)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	set_string(&conf->path, path);
	char line[CONF_LINE_MAX];
	unsigned lineno = 0;
	int rc = 0;
	enum fileline_status st;
	while ((st = fileline_read(f, line, sizeof line, NULL)) != FILELINE_EOF) {
		lineno++;
		if (st == FILELINE_OK) {
			const char *why = NULL;
			char copy[CONF_LINE_MAX];
			snprintf(copy, sizeof copy, "%s", line);
			if (conf_line(conf, line, &why) == 0)
				continue;
			char *key = trim(copy), *eq = strchr(key, '=');
			if (eq)
				*eq = '\0';
			snprintf(err, errsize, "%s:%u: %s '%s'", path, lineno, why, trim(key));
			rc = -1;
			break;
		}
		if (st == FILELINE_ERROR)
			snprintf(err, errsize, "%s: read error", path);
		else
			snprintf(err, errsize, "%s:%u: %s", path, lineno,
			    st == FILELINE_TOOLONG ? "line too long" : "NUL byte in line");
		rc = -1;
		break;
	}
	fclose(f);
	return rc;
}

void
conf_free(struct conf *conf)
{
	for (size_t i = 0; i < sizeof conf_keys / sizeof conf_keys[0]; i++)
		if (conf_keys[i].type == T_STRING)
			set_string((char **)((char *)conf + conf_keys[i].offset), NULL);
	for (size_t i = 0; i < conf->n_local_domains; i++)
		free(conf->local_domains[i]);
	conf->n_local_domains = 0;
	set_string(&conf->path, NULL);
}

int
conf_is_local_domain(const struct conf *conf, const char *domain)
{
	for (size_t i = 0; i < conf->n_local_domains; i++)
		if (strcasecmp(conf->local_domains[i], domain) == 0)
			return 1;
	return 0;
}
