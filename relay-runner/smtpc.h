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
	int has_8bit;        /* 8-bit bytes in the message */
	int need_utf8;       /* SMTPUTF8 flag or non-ASCII address */
};

enum rcpt_result { RCPT_NONE, RCPT_OK, RCPT_TEMP, RCPT_PERM };

struct smtpc_rcpt {
	size_t index;        /* into env->rcpts */
	enum rcpt_result result;
	char diag[RELAY_DIAGNOSTIC_MAX + 1];   /* printable ASCII (S59) */
};

enum smtpc_status {
	SMTPC_DONE,          /* every recipient has a result */
	SMTPC_HOST_FAILED,   /* nothing decided (connect, greeting, TLS...): try another host */
	SMTPC_TLS_RETRY,     /* opportunistic TLS handshake failed: retry in plaintext */
};

/* Delivers m to the n recipients over one connection to t. diag receives
 * the reason when the host failed; tls_r a description of the TLS used
 * ("none" without). */
enum smtpc_status smtpc_deliver(const struct conf *conf, const struct smtpc_target *t,
    const struct smtpc_msg *m, struct smtpc_rcpt *rcpts, size_t n,
    char *diag, size_t diagsize, char *tls_r, size_t tlssize);

/* 1 if an address can go into MAIL FROM/RCPT TO as is: no controls,
 * spaces, '<' or '>' (a forged spool file cannot inject commands). */
int smtpc_addr_ok(const char *addr);

#endif
