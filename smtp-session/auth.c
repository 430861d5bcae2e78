/*
 * auth.c — STARTTLS (RFC 3207) and AUTH (RFC 4954) for smtp-session.
 *
 * AUTH is offered on the submission ports only (--submission, S53), and
 * before TLS only when auth_requires_tls = no. After STARTTLS every piece of
 * state learnt in plaintext is dropped (S10, S11).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "sasl.h"
#include "smtp.h"
#include "tls.h"
#include "users.h"

int
smtp_auth_offered(const struct smtp *s)
{
	if (!s->submission || s->auth_user[0])
		return 0;
	return s->tls || !s->conf->auth_requires_tls;
}

static int
smtp_tls_begin(struct smtp *s, struct tls *tls)
{
	char err[256];
	if (tls_handshake(tls, &s->io, err, sizeof err) < 0) {
		log_warn("TLS handshake failed: %s", err);
		tls_free(&tls);
		return -1;
	}
	s->tls = tls;
	snprintf(s->tls_info, sizeof s->tls_info, "%s", tls_describe(tls));
	log_info("TLS established: %s", s->tls_info);
	return 0;
}

int
smtp_tls_implicit(struct smtp *s)
{
	char err[256];
	struct tls *tls = tls_server_new(s->conf, err, sizeof err);
	if (!tls) {
		log_err("implicit TLS unavailable: %s", err);
		return -1;
	}
	return smtp_tls_begin(s, tls);
}

enum smtp_verdict
smtp_cmd_starttls(struct smtp *s, char *args)
{
	char err[256];
	if (*args) {
		smtp_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		return SMTP_CONTINUE;
	}
	if (s->tls) {
		smtp_reply(s, 554, "5.5.1", "Error: TLS already active");
		return SMTP_CONTINUE;
	}
	if (!tls_configured(s->conf)) {
		smtp_reply(s, 502, "5.5.1", "Error: command not implemented");
		return SMTP_CONTINUE;
	}
	if (s->state == SMTP_STATE_START) {
		smtp_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return SMTP_CONTINUE;
	}
	if (s->state > SMTP_STATE_READY) {
		smtp_reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		return SMTP_CONTINUE;
	}
	/* Plaintext pipelined behind STARTTLS would run inside TLS (S10):
	 * refuse and close rather than guess. */
	if (io_buffered(&s->io) > 0)
		return smtp_sync_error(s, "STARTTLS");
	struct tls *tls = tls_server_new(s->conf, err, sizeof err);
	if (!tls) {
		log_err("STARTTLS unavailable: %s", err);
		smtp_reply(s, 454, "4.7.0", "TLS not available due to temporary reason");
		return SMTP_CONTINUE;
	}
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	if (io_flush(&s->io) != IO_OK || smtp_tls_begin(s, tls) < 0)
		return SMTP_CLOSE;
	/* RFC 3207 §4.2: forget everything learnt before TLS. */
	smtp_reset(s);
	s->state = SMTP_STATE_START;
	s->esmtp = 0;
	s->helo[0] = '\0';
	s->auth_user[0] = '\0';
	s->auth_mech[0] = '\0';
	return SMTP_CONTINUE;
}

/* Reads one SASL response line. Returns 1, 0 (line too long: replied), -1. */
static int
read_response(struct smtp *s, char *buf, size_t size)
{
	size_t len;
	if (io_flush(&s->io) != IO_OK)
		return -1;
	int st = io_getline(&s->io, buf, size, &len);
	if (st == IO_TOOLONG) {
		if (io_skipline(&s->io, SASL_RESPONSE_MAX) != IO_OK)
			return -1;
		smtp_reply(s, 500, "5.5.6", "Authentication exchange line is too long");
		return 0;
	}
	if (st != IO_OK || len == 0 || buf[len - 1] != '\n')
		return -1;
	buf[strcspn(buf, "\r\n")] = '\0';
	return 1;
}

/* Runs the SASL exchange. Returns SASL_DONE or the failure; -1 if the
 * connection ended or a reply was already sent. */
static int
sasl_exchange(struct smtp *s, struct sasl *sasl, enum sasl_mech mech, const char *initial)
{
	char challenge[SASL_RESPONSE_MAX], line[SASL_RESPONSE_MAX + 3];
	enum sasl_status st = sasl_start(sasl, mech, initial, challenge, sizeof challenge);
	while (st == SASL_CONTINUE) {
		smtp_reply(s, 334, NULL, "%s", challenge);
		int r = read_response(s, line, sizeof line);
		if (r <= 0)
			return -1;
		st = sasl_step(sasl, line, challenge, sizeof challenge);
	}
	return (int)st;
}

static const char *
mech_name(enum sasl_mech mech)
{
	return mech == SASL_PLAIN ? "PLAIN" : "LOGIN";
}

/* A failed attempt waits longer each time; after AUTH_FAILURES_MAX the
 * session ends (S53). */
static enum smtp_verdict
auth_failed(struct smtp *s, const struct sasl *sasl, const char *reason)
{
	s->auth_failures++;
	log_auth_failure("smtp", mech_name(sasl->mech),
	    strcmp(reason, "malformed") == 0 ? NULL : sasl->authcid, reason, s->auth_failures);
	session_sleep_ms((unsigned)s->conf->auth_fail_delay_ms * s->auth_failures);
	smtp_reply(s, 535, "5.7.8", "Authentication credentials invalid");
	if (s->auth_failures >= AUTH_FAILURES_MAX) {
		smtp_reply(s, 421, "4.7.0", "%s Error: too many authentication failures", s->conf->hostname);
		return SMTP_CLOSE;
	}
	return SMTP_CONTINUE;
}

static enum smtp_verdict
auth_check(struct smtp *s, struct sasl *sasl)
{
	char user[ADDR_PATH_MAX + 1];
	if (users_canonical(s->conf, sasl->authcid, user, sizeof user) < 0)
		return auth_failed(s, sasl, "too-long");
	int ok = users_verify(s->conf, user, sasl->password);
	sasl_clear(sasl);
	if (ok < 0) {
		log_err("users file unreadable");
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return SMTP_CONTINUE;
	}
	if (!ok)
		return auth_failed(s, sasl, "password");
	snprintf(s->auth_user, sizeof s->auth_user, "%s", user);
	snprintf(s->auth_mech, sizeof s->auth_mech, "%s", mech_name(sasl->mech));
	log_info("authenticated user=%s", user);
	smtp_reply(s, 235, "2.7.0", "Authentication successful");
	return SMTP_CONTINUE;
}

enum smtp_verdict
smtp_cmd_auth(struct smtp *s, char *args)
{
	if (!s->submission) {
		smtp_reply(s, 503, "5.5.1", "Error: authentication not enabled");
		return SMTP_CONTINUE;
	}
	if (s->auth_user[0]) {
		smtp_reply(s, 503, "5.5.1", "Error: already authenticated");
		return SMTP_CONTINUE;
	}
	if (s->state == SMTP_STATE_START) {
		smtp_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return SMTP_CONTINUE;
	}
	if (s->state > SMTP_STATE_READY) {
		smtp_reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		return SMTP_CONTINUE;
	}
	if (!s->tls && s->conf->auth_requires_tls) {
		smtp_reply(s, 538, "5.7.11", "Encryption required for requested authentication mechanism");
		return SMTP_CONTINUE;
	}
	char *initial = strchr(args, ' ');
	if (initial)
		*initial++ = '\0';
	enum sasl_mech mech;
	if (sasl_mech_parse(args, &mech) < 0) {
		smtp_reply(s, 504, "5.5.4", "Unrecognized authentication type");
		return SMTP_CONTINUE;
	}
	struct sasl sasl;
	int st = sasl_exchange(s, &sasl, mech, initial);
	enum smtp_verdict v = SMTP_CONTINUE;
	switch (st) {
	case SASL_DONE:
		v = auth_check(s, &sasl);
		break;
	case SASL_CANCELLED:
		smtp_reply(s, 501, "5.7.0", "Authentication aborted");
		break;
	case SASL_BAD_BASE64:
		smtp_reply(s, 501, "5.5.2", "Cannot decode response");
		break;
	case SASL_MALFORMED:
		v = auth_failed(s, &sasl, "malformed");
		break;
	default:
		/* Connection gone or reply already sent: the loop finds out. */
		break;
	}
	sasl_clear(&sasl);
	return v;
}
