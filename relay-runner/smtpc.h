/*
 * smtpc.h — relay-runner's SMTP client (RFC 5321): one call delivers one
 * message to one host over one connection and returns a verdict per
 * recipient (ok / temporary / permanent), as qmail-remote does.
 */
#ifndef RELAY_SMTPC_H
#define RELAY_SMTPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bounds.h"
#include "conf.h"
#include "spool.h"

enum tls_policy {
	TLS_POLICY_MAY,      /* opportunistic: STARTTLS if offered, no verification */
	TLS_POLICY_ENCRYPT,  /* STARTTLS required, certificate not checked */
	TLS_POLICY_VERIFY,   /* STARTTLS required, chain and host name verified */
};

struct smtpc_target {
	char host[256];      /* name for logs, SNI and certificate checks */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char addr_text[64];
	enum tls_policy tls;
	int no_tls;          /* set on the plaintext retry after a failed handshake */
	const char *ca_file; /* NULL: system trust store */
	const char *auth_user, *auth_pass;  /* NULL: no AUTH (S61) */
};

struct smtpc_msg {
	const struct spool_envelope *env;
	int fd;
	uint64_t offset, length;
	uint64_t wire_size;  /* as sent: CRLF, dots stuffed (SIZE=, RFC 1870) */
	int has_8bit;        /* 8-bit bytes in the message */
	int need_utf8;       /* SMTPUTF8 flag or non-ASCII address */
};

enum rcpt_result { RCPT_NONE, RCPT_OK, RCPT_TEMP, RCPT_PERM };

struct smtpc_rcpt {
	size_t index;        /* into env->rcpts */
	enum rcpt_result result;
	int dsn_passed;      /* the peer took NOTIFY/ORCPT (it offers DSN) */
	char diag[RELAY_DIAGNOSTIC_MAX + 1];   /* printable ASCII (S59) */
};

enum smtpc_status {
	SMTPC_DONE,          /* every recipient has a result */
	SMTPC_HOST_FAILED,   /* nothing decided (connect, greeting, TLS...): try another host */
	SMTPC_HOST_TIMEOUT,  /* the same, because connect or greeting timed out */
	SMTPC_TLS_RETRY,     /* opportunistic TLS handshake failed: retry in plaintext */
};

struct smtpc;

/* Opens a session with t: connect, greeting, EHLO (HELO), STARTTLS per
 * t->tls, AUTH when credentials are set. Returns it, or NULL with *st_r
 * SMTPC_HOST_FAILED, SMTPC_HOST_TIMEOUT or SMTPC_TLS_RETRY and the reason
 * in diag. The connect wait is conf->relay_connect_timeout. tls_r
 * describes the TLS in use ("none" without). */
struct smtpc *smtpc_open(const struct conf *conf, const struct smtpc_target *t,
    enum smtpc_status *st_r, char *diag, size_t diagsize, char *tls_r, size_t tlssize);

/* One transaction for m to the n recipients: every recipient gets a
 * result (2xx ok, 5xx permanent, anything else temporary). */
void smtpc_send(struct smtpc *c, const struct smtpc_msg *m, struct smtpc_rcpt *rcpts, size_t n);

/* 1 if the session can carry another message: it is intact and answers
 * RSET with 250 (RFC 5321 §4.1.1.5). */
int smtpc_reusable(struct smtpc *c);

/* TLS description for logs, "none" without TLS. */
const char *smtpc_tls(const struct smtpc *c);

/* QUIT (if the connection is intact), close, free, set *c to NULL. */
void smtpc_close(struct smtpc **c);

/* 1 if an address can go into MAIL FROM/RCPT TO as is: no controls,
 * spaces, '<' or '>' (a forged spool file cannot inject commands). */
int smtpc_addr_ok(const char *addr);

#endif
