/*
 * conf.h — yubin.conf: `key = value` lines, `#` comments, one file for all
 * programs. Every key of DESIGN.md, plus the limits in the table in conf.c.
 */
#ifndef YUBIN_CONF_H
#define YUBIN_CONF_H

#include <stddef.h>
#include <stdint.h>

enum mailbox_format { MAILBOX_MAILDIR, MAILBOX_MBOX };
/* What to do with a bare LF or CR in SMTP DATA (Postfix 3.9's
 * smtpd_forbid_bare_newline): normalise it to a line end, or reject. */
enum bare_newline { BARE_NEWLINE_NORMALIZE, BARE_NEWLINE_REJECT };
/* What a milter that cannot be reached, times out or breaks the protocol
 * gets (Postfix's milter_default_action). */
enum milter_action { MILTER_ACTION_TEMPFAIL, MILTER_ACTION_ACCEPT, MILTER_ACTION_REJECT };

#define CONF_DOMAINS_MAX 64

struct conf {
	char *path;              /* the file it was read from */
	char *hostname;
	char *local_domains[CONF_DOMAINS_MAX];
	size_t n_local_domains;
	char *users;
	char *aliases;           /* NULL: none */
	char *mail_root;
	enum mailbox_format mailbox_format;
	char *spool;
	char *tls_cert, *tls_key; /* NULL: no STARTTLS */
	char *tls_priority;
	uint64_t tls_handshake_timeout; /* seconds (S17) */
	int auth_requires_tls;
	uint64_t max_message_size;
	char *relay_host;
	char *relay_auth;        /* file: `host user password` lines */
	char *routes;
	char *dns_servers;
	uint64_t relay_timeout;  /* seconds: cap on one relay connection */
	char *relay_tls_ca;      /* CA file for relay_host; NULL: system store */
	char *relay_host_tls;    /* "verify" (NULL), "encrypt" or "may" */
	int relay_allow_private; /* MX may point at loopback/private (S60) */
	uint64_t relay_mx_port;  /* port for MX deliveries (25; tests) */
	uint64_t relay_connect_timeout; /* seconds per TCP connect (S72) */
	uint64_t relay_pass_budget;     /* seconds a pass starts deliveries; 0: no limit (S72) */
	uint64_t relay_processes;       /* destinations served at once (S72) */
	uint64_t relay_backoff_min;     /* seconds: first retry delay (S69, S72) */
	uint64_t queue_lifetime; /* seconds */
	char *postmaster;        /* double bounces go here; NULL: postmaster@ a local domain */
	char *run_as;
	char *dkim_key_dir;     /* DOMAIN.SELECTOR.key files; NULL: no signing */
	/* Limits (defaults from bounds.h). */
	enum bare_newline smtp_bare_newline;
	uint64_t smtp_max_recipients;
	uint64_t smtp_max_transactions;
	uint64_t smtp_timeout;   /* seconds */
	uint64_t pop3_timeout;
	uint64_t imap_timeout;
	uint64_t login_deadline;   /* seconds from connect to login, POP3/IMAP; 0: none */
	uint64_t session_deadline; /* seconds a POP3/IMAP session may last; 0: none */
	uint64_t imap_search_budget;    /* CPU seconds per SEARCH; 0: none (S51) */
	uint64_t imap_search_max_bytes; /* message bytes per SEARCH; 0: none */
	uint64_t max_bad_commands;
	uint64_t auth_fail_delay_ms;
	char *milters;           /* space-separated unix:/path, inet:host:port; NULL: none */
	enum milter_action milter_default_action;
	uint64_t milter_timeout; /* seconds per milter reply */
	uint64_t quota_storage;  /* bytes per user, all folders (RFC 9208); 0: none */
};

/* Default path: $YUBIN_CONF, else SYSCONFDIR/yubin/yubin.conf. */
const char *conf_default_path(void);
/* Sets every key to its default. */
void conf_defaults(struct conf *conf);
/* Reads path over the defaults. Returns 0, or -1 with a message naming file
 * and line in err (e.g. "yubin.conf:12: unknown key 'foo'"). */
int conf_load(struct conf *conf, const char *path, char *err, size_t errsize);
/* Frees every string; conf is left with defaults' NULLs. */
void conf_free(struct conf *conf);
/* 1 if domain (case-insensitive) is in local_domains. */
int conf_is_local_domain(const struct conf *conf, const char *domain);

/* "35M", "10k", "1G", "123" → bytes. Returns 0 or -1. */
int conf_parse_size(const char *s, uint64_t *r);
/* "5d", "4h", "30m", "10s", "60" → seconds. Returns 0 or -1. */
int conf_parse_time(const char *s, uint64_t *r);

#endif
