/*
 * pop3-session — a POP3 server for one connection on stdin/stdout
 * (RFC 1939, CAPA and response codes RFC 2449, AUTH RFC 5034, STLS RFC 2595,
 * AUTH-RESP-CODE RFC 3206).
 *
 * main() reads top to bottom: flags, session_start (config, peer, logging,
 * privilege drop), implicit TLS, greeting, then the command loop. A table
 * maps each keyword to its handler and the states it is valid in; a handler
 * checks, acts and returns a verdict with its reply text, and reply() writes
 * the status line. Multi-line answers are written by their handler.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bounds.h"
#include "io.h"
#include "log.h"
#include "maildrop.h"
#include "msgconv.h"
#include "pop3-parse.h"
#include "sasl.h"
#include "session.h"
#include "tls.h"
#include "users.h"

enum pop3_state {
	STATE_AUTHORIZATION = 1 << 0,
	STATE_TRANSACTION = 1 << 1,
};
#define STATE_ANY (STATE_AUTHORIZATION | STATE_TRANSACTION)

enum verdict {
	V_OK,       /* "+OK text" */
	V_ERR,      /* "-ERR text", not the client's fault ([IN-USE], [SYS/TEMP]) */
	V_BAD,      /* "-ERR text", counted towards max_bad_commands */
	V_SENT,     /* the handler wrote the whole reply */
	V_CLOSE,    /* reply written if text is set; end the session */
};

struct pop3 {
	struct session s;
	struct io io;
	struct tls *tls;
	enum pop3_state state;
	char user[ADDR_PATH_MAX + 1];   /* from USER, waiting for PASS */
	char login[ADDR_PATH_MAX + 1];  /* authenticated user */
	unsigned auth_failures;
	uint64_t bad_commands;
	struct maildrop drop;
	int drop_open;
	size_t n_retrieved;
	char text[256];                 /* reply text for V_OK/V_ERR/V_BAD */
	int close_ok;                   /* V_CLOSE reply is +OK, not -ERR */
};

static enum verdict
say(struct pop3 *p, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum verdict
say(struct pop3 *p, enum verdict v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->text, sizeof p->text, fmt, ap);
	va_end(ap);
	return v;
}

/* The one place status lines are written. */
static void
reply(struct pop3 *p, enum verdict v)
{
	if (v == V_SENT || (v == V_CLOSE && p->text[0] == '\0'))
		return;
	int ok = v == V_OK || (v == V_CLOSE && p->close_ok);
	io_printf(&p->io, "%s %s\r\n", ok ? "+OK" : "-ERR", p->text);
}

/* Plaintext passwords (USER/PASS, AUTH PLAIN/LOGIN) only inside TLS, unless
 * auth_requires_tls is off (S46); the same rule as smtp-session and
 * yubin.conf(5), which recommends "no" only for loopback and pipes. */
static int
plaintext_allowed(const struct pop3 *p)
{
	return p->tls != NULL || !p->s.conf.auth_requires_tls;
}

static int
stls_offered(const struct pop3 *p)
{
	return p->tls == NULL && tls_configured(&p->s.conf);
}

/* ---- authorization ---- */

/* Checks the password, then locks and scans the maildrop. */
static enum verdict
login(struct pop3 *p, const char *user, const char *password, const char *method)
{
	p->user[0] = '\0';
	int r = users_verify(&p->s.conf, user, password);
	if (r < 0) {
		log_err("users file %s: %s", p->s.conf.users, strerror(errno));
		return say(p, V_ERR, "[SYS/TEMP] authentication unavailable");
	}
	if (r == 0) {
		p->auth_failures++;
		log_auth_failure("pop3", method, user, "password", p->auth_failures);
		/* Each failure waits longer (S53); the third ends the session. */
		session_sleep_ms((unsigned)(p->s.conf.auth_fail_delay_ms * p->auth_failures));
		if (p->auth_failures >= AUTH_FAILURES_MAX)
			return say(p, V_CLOSE, "[AUTH] Authentication failed, closing");
		return say(p, V_ERR, "[AUTH] Authentication failed");
	}
	if (users_canonical(&p->s.conf, user, p->login, sizeof p->login) < 0)
		return say(p, V_ERR, "[AUTH] Authentication failed");
	/* The users file matches names without regard to case: so do mailboxes. */
	for (char *c = p->login; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	int st = maildrop_open(&p->drop, &p->s.conf, p->login);
	if (st == MAILDROP_IN_USE) {
		log_warn("login refused: user=%s maildrop in use", p->login);
		return say(p, V_ERR, "[IN-USE] Maildrop is in use by another session");
	}
	if (st != MAILDROP_OK) {
		log_err("login refused: user=%s cannot open maildrop: %s", p->login, strerror(errno));
		return say(p, V_ERR, "[SYS/TEMP] Cannot open maildrop");
	}
	p->drop_open = 1;
	if (p->drop.snap.sizes_errno)
		log_warn("cannot write the size cache of user=%s: %s", p->login,
		    strerror(p->drop.snap.sizes_errno));
	p->state = STATE_TRANSACTION;
	session_set_deadline(&p->s, &p->io, 1);
	uint64_t octets = 0;
	for (size_t i = 0; i < p->drop.snap.n; i++)
		octets += p->drop.snap.msg[i].size;
	log_info("login: user=%s method=%s%s messages=%zu octets=%llu", p->login, method,
	    p->tls ? " tls=yes" : "", p->drop.snap.n, (unsigned long long)octets);
	return say(p, V_OK, "Logged in, %zu messages (%llu octets)", p->drop.snap.n,
	    (unsigned long long)octets);
}

static enum verdict
plaintext_refused(struct pop3 *p)
{
	return say(p, V_BAD, "[AUTH] Plaintext authentication disallowed without TLS%s",
	    stls_offered(p) ? " (use STLS)" : "");
}

static enum verdict
cmd_user(struct pop3 *p, const struct pop3_command *c)
{
	if (!plaintext_allowed(p))
		return plaintext_refused(p);
	snprintf(p->user, sizeof p->user, "%s", c->argv[0]);
	return say(p, V_OK, "Send your password");
}

static enum verdict
cmd_pass(struct pop3 *p, const struct pop3_command *c)
{
	if (!plaintext_allowed(p))
		return plaintext_refused(p);
	if (p->user[0] == '\0')
		return say(p, V_BAD, "USER first");
	char user[sizeof p->user];
	memcpy(user, p->user, sizeof user);
	return login(p, user, c->rest, "USER");
}

static enum verdict
cmd_apop(struct pop3 *p, const struct pop3_command *c)
{
	/* APOP needs plaintext-equivalent secrets and rests on MD5 (S44). */
	return say(p, V_BAD, "[AUTH] APOP not supported");
}

/* The idle timer or a deadline ran out: the session ends (S49), nothing
 * is removed. */
static enum verdict
timed_out(struct pop3 *p)
{
	const char *user = p->login[0] ? p->login : "-";
	if (io_deadline_passed(&p->io)) {
		const char *which = p->state == STATE_AUTHORIZATION ? "login" : "session";
		log_info("%s deadline passed: user=%s", which, user);
		return say(p, V_CLOSE, "%s deadline passed, closing",
		    p->state == STATE_AUTHORIZATION ? "Login" : "Session");
	}
	log_info("timeout: user=%s", user);
	return say(p, V_CLOSE, "Autologout; idle for too long");
}

/* Reads one SASL response line into buf (CRLF removed). 0, or the
 * io_status that ends the session (EOF, timeout, IO_TOOLONG for a response
 * past SASL_RESPONSE_MAX). */
static int
sasl_read(struct pop3 *p, char *buf, size_t size)
{
	size_t len;
	io_flush(&p->io);
	int st = io_getline(&p->io, buf, size, &len);
	if (st != IO_OK)
		return st;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return 0;
}

static enum verdict
sasl_exchange(struct pop3 *p, struct sasl *sasl, enum sasl_mech mech, const char *initial)
{
	char chal[SASL_RESPONSE_MAX], resp[SASL_RESPONSE_MAX + 3];
	enum sasl_status st = sasl_start(sasl, mech, initial, chal, sizeof chal);
	while (st == SASL_CONTINUE) {
		io_printf(&p->io, "+ %s\r\n", chal);
		int rd = sasl_read(p, resp, sizeof resp);
		if (rd != IO_OK) {
			explicit_bzero(resp, sizeof resp);
			if (rd == IO_TOOLONG)
				return say(p, V_CLOSE, "[AUTH] Response too long, closing");
			if (rd == IO_TIMEOUT)
				return timed_out(p);
			return say(p, V_CLOSE, "%s", "");
		}
		st = sasl_step(sasl, resp, chal, sizeof chal);
		explicit_bzero(resp, sizeof resp);
	}
	if (st == SASL_CANCELLED)
		return say(p, V_BAD, "Authentication cancelled");
	if (st != SASL_DONE) {
		p->auth_failures++;
		log_auth_failure("pop3", mech == SASL_PLAIN ? "PLAIN" : "LOGIN", NULL, "malformed",
		    p->auth_failures);
		if (p->auth_failures >= AUTH_FAILURES_MAX)
			return say(p, V_CLOSE, "[AUTH] Invalid SASL response, closing");
		return say(p, V_BAD, "[AUTH] Invalid SASL response");
	}
	return V_OK;
}

static enum verdict
auth_list(struct pop3 *p)
{
	io_puts(&p->io, "+OK SASL mechanisms follow\r\nPLAIN\r\nLOGIN\r\n.\r\n");
	return V_SENT;
}

static enum verdict
cmd_auth(struct pop3 *p, const struct pop3_command *c)
{
	/* Before TLS (when required) not even the list: nothing may suggest
	 * that a password could be sent (S46). */
	if (!plaintext_allowed(p))
		return plaintext_refused(p);
	if (c->rest[0] == '\0')
		return auth_list(p);
	char name[32];
	const char *sp = strchr(c->rest, ' ');
	size_t n = sp ? (size_t)(sp - c->rest) : strlen(c->rest);
	enum sasl_mech mech;
	if (n >= sizeof name)
		return say(p, V_BAD, "Unsupported mechanism");
	memcpy(name, c->rest, n);
	name[n] = '\0';
	if (sasl_mech_parse(name, &mech) < 0)
		return say(p, V_BAD, "Unsupported mechanism");
	const char *initial = sp ? sp + 1 : NULL;
	if (initial && (initial[0] == '\0' || strchr(initial, ' ')))
		return say(p, V_BAD, "Invalid initial response");
	struct sasl sasl;
	memset(&sasl, 0, sizeof sasl);
	enum verdict v = sasl_exchange(p, &sasl, mech, initial);
	if (v == V_OK) {
		if (sasl.authzid[0] && strcasecmp(sasl.authzid, sasl.authcid) != 0) {
			sasl_clear(&sasl);
			return say(p, V_BAD, "[AUTH] Authorization identity not allowed");
		}
		v = login(p, sasl.authcid, sasl.password, mech == SASL_PLAIN ? "PLAIN" : "LOGIN");
	}
	sasl_clear(&sasl);
	return v;
}

static enum verdict
cmd_stls(struct pop3 *p, const struct pop3_command *c)
{
	char err[256];
	if (p->tls)
		return say(p, V_BAD, "TLS already active");
	if (!tls_configured(&p->s.conf))
		return say(p, V_BAD, "STLS not available");
	if (p->user[0])
		return say(p, V_BAD, "STLS not allowed after USER");
	p->tls = tls_server_new(&p->s.conf, err, sizeof err);
	if (!p->tls) {
		log_err("STLS: %s", err);
		return say(p, V_ERR, "[SYS/TEMP] TLS not available");
	}
	io_puts(&p->io, "+OK Begin TLS negotiation\r\n");
	if (io_flush(&p->io) != IO_OK)
		return say(p, V_CLOSE, "%s", "");
	/* tls_handshake discards any plaintext sent after STLS (S12). */
	if (tls_handshake(p->tls, &p->io, err, sizeof err) < 0) {
		log_warn("STLS handshake failed: %s", err);
		return say(p, V_CLOSE, "%s", "");
	}
	log_info("STLS: %s", tls_describe(p->tls));
	return V_SENT;
}

/* ---- both states ---- */

static enum verdict
cmd_capa(struct pop3 *p, const struct pop3_command *c)
{
	struct io *io = &p->io;
	io_puts(io, "+OK Capability list follows\r\n"
	    "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (p->state == STATE_AUTHORIZATION) {
		if (plaintext_allowed(p))
			io_puts(io, "USER\r\nSASL PLAIN LOGIN\r\n");
		if (stls_offered(p))
			io_puts(io, "STLS\r\n");
	}
	io_puts(io, "IMPLEMENTATION yubin\r\n.\r\n");
	return V_SENT;
}

static void
totals(const struct pop3 *p, size_t *count_r, uint64_t *octets_r)
{
	*count_r = 0;
	*octets_r = 0;
	for (size_t i = 0; i < p->drop.snap.n; i++) {
		if (p->drop.snap.msg[i].deleted)
			continue;
		(*count_r)++;
		*octets_r += p->drop.snap.msg[i].size;
	}
}

static enum verdict
cmd_quit(struct pop3 *p, const struct pop3_command *c)
{
	p->close_ok = 1;
	if (p->state == STATE_AUTHORIZATION)
		return say(p, V_CLOSE, "%s POP3 server signing off", p->s.conf.hostname);
	/* The UPDATE state: only here is anything removed (RFC 1939 §6). */
	size_t removed = 0, deleted = 0, kept;
	uint64_t octets;
	for (size_t i = 0; i < p->drop.snap.n; i++)
		deleted += p->drop.snap.msg[i].deleted != 0;
	totals(p, &kept, &octets);
	int r = store_pop3_commit(&p->drop.snap, &removed);
	log_info("quit: user=%s retrieved=%zu deleted=%zu removed=%zu kept=%zu%s",
	    p->login, p->n_retrieved, deleted, removed, kept, r < 0 ? " update=failed" : "");
	if (p->drop.snap.seen_failed)
		log_warn("cannot mark %zu retrieved messages seen: user=%s",
		    p->drop.snap.seen_failed, p->login);
	if (r < 0) {
		log_err("update failed: user=%s: %s", p->login, strerror(errno));
		p->close_ok = 0;
		return say(p, V_CLOSE, "[SYS/TEMP] Some deleted messages not removed");
	}
	return say(p, V_CLOSE, "%s POP3 server signing off (%zu messages left)",
	    p->s.conf.hostname, kept);
}

/* ---- transaction ---- */

/* Message number argument → 0-based index of a message not deleted. */
static int
message_arg(struct pop3 *p, const char *arg, size_t *i_r, enum verdict *v_r)
{
	unsigned long n;
	if (pop3_parse_number(arg, (unsigned long)-1, &n) < 0) {
		*v_r = say(p, V_BAD, "Invalid message number");
		return -1;
	}
	if (n == 0 || n > p->drop.snap.n) {
		*v_r = say(p, V_BAD, "No such message");
		return -1;
	}
	if (p->drop.snap.msg[n - 1].deleted) {
		*v_r = say(p, V_BAD, "Message %lu already deleted", n);
		return -1;
	}
	*i_r = n - 1;
	return 0;
}

static enum verdict
cmd_stat(struct pop3 *p, const struct pop3_command *c)
{
	size_t count;
	uint64_t octets;
	totals(p, &count, &octets);
	return say(p, V_OK, "%zu %llu", count, (unsigned long long)octets);
}

static enum verdict
cmd_noop(struct pop3 *p, const struct pop3_command *c)
{
	return say(p, V_OK, "%s", "");
}

/* LIST and UIDL share their shape: one line per message, or one message. */
static enum verdict
listing(struct pop3 *p, const struct pop3_command *c, int uidl)
{
	enum verdict v;
	size_t i;
	if (c->argc == 1) {
		if (message_arg(p, c->argv[0], &i, &v) < 0)
			return v;
		if (uidl)
			return say(p, V_OK, "%zu %s", i + 1, p->drop.snap.msg[i].uidl);
		return say(p, V_OK, "%zu %llu", i + 1, (unsigned long long)p->drop.snap.msg[i].size);
	}
	size_t count;
	uint64_t octets;
	totals(p, &count, &octets);
	if (uidl)
		io_puts(&p->io, "+OK Unique-ID listing follows\r\n");
	else
		io_printf(&p->io, "+OK %zu messages (%llu octets)\r\n", count,
		    (unsigned long long)octets);
	for (i = 0; i < p->drop.snap.n; i++) {
		const struct store_pop3_msg *m = &p->drop.snap.msg[i];
		if (m->deleted)
			continue;
		if (uidl)
			io_printf(&p->io, "%zu %s\r\n", i + 1, m->uidl);
		else
			io_printf(&p->io, "%zu %llu\r\n", i + 1, (unsigned long long)m->size);
	}
	io_puts(&p->io, ".\r\n");
	return V_SENT;
}

static enum verdict
cmd_list(struct pop3 *p, const struct pop3_command *c)
{
	return listing(p, c, 0);
}

static enum verdict
cmd_uidl(struct pop3 *p, const struct pop3_command *c)
{
	return listing(p, c, 1);
}

static int
emit_io(void *ctx, const char *buf, size_t n)
{
	return io_write(ctx, buf, n) != IO_OK;
}

/* RETR and TOP: "+OK", the message in wire form, ".". A read error after
 * the +OK cannot become an -ERR any more: the session ends without the
 * terminating dot, so the client sees an error, never a short message. */
static enum verdict
send_message(struct pop3 *p, size_t i, int top, unsigned long lines)
{
	off_t off;
	uint64_t len;
	int fd = store_pop3_fd(&p->drop.snap, i, &off, &len);
	if (fd < 0) {
		log_err("message %zu of %s: %s", i + 1, p->login, strerror(errno));
		return say(p, V_ERR, "[SYS/TEMP] Cannot read message %zu", i + 1);
	}
	struct msgconv conv;
	msgconv_init(&conv, p->drop.snap.from_quoted, 1, emit_io, &p->io);
	if (top)
		msgconv_set_top(&conv, lines);
	if (top)
		io_puts(&p->io, "+OK Top of message follows\r\n");
	else
		io_printf(&p->io, "+OK %llu octets\r\n", (unsigned long long)p->drop.snap.msg[i].size);
	int r = store_pop3_stream(fd, off, len, &conv);
	int saved = errno;
	close(fd);
	if (r != 0) {
		if (r < 0)
			log_err("message %zu of %s: read error: %s", i + 1, p->login, strerror(saved));
		return say(p, V_CLOSE, "%s", "");
	}
	io_puts(&p->io, ".\r\n");
	return V_SENT;
}

static enum verdict
cmd_retr(struct pop3 *p, const struct pop3_command *c)
{
	enum verdict v;
	size_t i;
	if (message_arg(p, c->argv[0], &i, &v) < 0)
		return v;
	v = send_message(p, i, 0, 0);
	if (v == V_SENT) {
		p->drop.snap.msg[i].retrieved = 1;
		p->n_retrieved++;
	}
	return v;
}

static enum verdict
cmd_top(struct pop3 *p, const struct pop3_command *c)
{
	enum verdict v;
	size_t i;
	unsigned long lines;
	if (message_arg(p, c->argv[0], &i, &v) < 0)
		return v;
	if (pop3_parse_count(c->argv[1], &lines) < 0)
		return say(p, V_BAD, "Invalid line count");
	return send_message(p, i, 1, lines);
}

static enum verdict
cmd_dele(struct pop3 *p, const struct pop3_command *c)
{
	enum verdict v;
	size_t i;
	if (message_arg(p, c->argv[0], &i, &v) < 0)
		return v;
	p->drop.snap.msg[i].deleted = 1;
	return say(p, V_OK, "Message %zu deleted", i + 1);
}

static enum verdict
cmd_rset(struct pop3 *p, const struct pop3_command *c)
{
	for (size_t i = 0; i < p->drop.snap.n; i++)
		p->drop.snap.msg[i].deleted = 0;
	size_t count;
	uint64_t octets;
	totals(p, &count, &octets);
	return say(p, V_OK, "%zu messages (%llu octets)", count, (unsigned long long)octets);
}

/* ---- dispatch ---- */

struct command {
	const char *keyword;
	unsigned states;
	size_t min_args, max_args;   /* for commands that take their rest whole:
	                                1 = rest required, 0 = optional */
	enum verdict (*fn)(struct pop3 *, const struct pop3_command *);
};

static const struct command commands[] = {
	{ "CAPA", STATE_ANY, 0, 0, cmd_capa },
	{ "QUIT", STATE_ANY, 0, 0, cmd_quit },
	{ "USER", STATE_AUTHORIZATION, 1, 1, cmd_user },
	{ "PASS", STATE_AUTHORIZATION, 1, 1, cmd_pass },
	{ "AUTH", STATE_AUTHORIZATION, 0, 1, cmd_auth },
	{ "APOP", STATE_AUTHORIZATION, 0, 2, cmd_apop },
	{ "STLS", STATE_AUTHORIZATION, 0, 0, cmd_stls },
	{ "STAT", STATE_TRANSACTION, 0, 0, cmd_stat },
	{ "LIST", STATE_TRANSACTION, 0, 1, cmd_list },
	{ "UIDL", STATE_TRANSACTION, 0, 1, cmd_uidl },
	{ "RETR", STATE_TRANSACTION, 1, 1, cmd_retr },
	{ "TOP", STATE_TRANSACTION, 2, 2, cmd_top },
	{ "DELE", STATE_TRANSACTION, 1, 1, cmd_dele },
	{ "RSET", STATE_TRANSACTION, 0, 0, cmd_rset },
	{ "NOOP", STATE_TRANSACTION, 0, 0, cmd_noop },
};

static const struct command *
command_find(const char *keyword)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].keyword, keyword) == 0)
			return &commands[i];
	return NULL;
}

static enum verdict
dispatch(struct pop3 *p, char *line, size_t len)
{
	struct pop3_command c;
	int st = pop3_parse_line(line, len, &c);
	const struct command *cmd = st == POP3_PARSE_OK ? command_find(c.keyword) : NULL;
	switch (st) {
	case POP3_PARSE_OK:
		break;
	case POP3_PARSE_EMPTY:
		return say(p, V_BAD, "Empty command");
	case POP3_PARSE_BAD_BYTE:
		return say(p, V_BAD, "Invalid characters in command");
	case POP3_PARSE_BAD_ARGS:
		return say(p, V_BAD, "Invalid arguments");
	default:
		return say(p, V_BAD, "Unknown command");
	}
	if (!cmd)
		return say(p, V_BAD, "Unknown command");
	if (!(cmd->states & p->state))
		return say(p, V_BAD, "%s not valid in this state", cmd->keyword);
	if (pop3_parse_rest_only(cmd->keyword)) {
		if (cmd->min_args > 0 && c.rest[0] == '\0')
			return say(p, V_BAD, "Missing argument");
	} else if (c.argc < cmd->min_args || c.argc > cmd->max_args) {
		return say(p, V_BAD, "Invalid arguments");
	}
	return cmd->fn(p, &c);
}

/* An over-long line gets -ERR and is skipped; one that will not end (no LF
 * within POP3_LINE_SKIP_MAX) ends the session (S41, S47). */
static enum verdict
line_too_long(struct pop3 *p)
{
	if (io_skipline(&p->io, POP3_LINE_SKIP_MAX) != IO_OK) {
		log_warn("line too long without end, closing");
		return say(p, V_CLOSE, "Line too long, closing");
	}
	return say(p, V_BAD, "Line too long");
}

/* Reads and answers commands until QUIT, EOF, timeout or too many errors. */
static void
command_loop(struct pop3 *p)
{
	char line[POP3_COMMAND_LINE_MAX + 1];
	for (;;) {
		size_t len;
		/* PIPELINING: answers go out when no further command is waiting. */
		if (io_buffered(&p->io) == 0 && io_flush(&p->io) != IO_OK)
			return;
		p->text[0] = '\0';
		int st = io_getline(&p->io, line, sizeof line, &len);
		enum verdict v;
		if (st == IO_TOOLONG) {
			v = line_too_long(p);
		} else if (st == IO_TIMEOUT) {
			v = timed_out(p);
		} else if (st != IO_OK) {
			if (p->drop_open)
				log_info("disconnected without QUIT: user=%s retrieved=%zu", p->login,
				    p->n_retrieved);
			return;
		} else {
			if (p->drop_open)
				store_pop3_touch(&p->drop.snap);
			v = dispatch(p, line, len);
			explicit_bzero(line, sizeof line);   /* may hold a password */
		}
		if (v == V_BAD && ++p->bad_commands >= p->s.conf.max_bad_commands) {
			log_warn("too many bad commands, closing");
			snprintf(p->text, sizeof p->text, "Too many bad commands, closing");
			v = V_CLOSE;
		}
		reply(p, v);
		if (v == V_CLOSE)
			return;
	}
}

/* ---- main ---- */

static void
usage(void)
{
	fprintf(stderr, "usage: pop3-session [-c FILE] [--implicit-tls] [-V]\n");
	exit(2);
}

static int
implicit_tls(struct pop3 *p)
{
	char err[256];
	if (!tls_configured(&p->s.conf)) {
		log_err("--implicit-tls: tls_cert and tls_key are not configured");
		return -1;
	}
	p->tls = tls_server_new(&p->s.conf, err, sizeof err);
	if (!p->tls || tls_handshake(p->tls, &p->io, err, sizeof err) < 0) {
		log_warn("TLS: %s", err);
		return -1;
	}
	log_info("TLS: %s", tls_describe(p->tls));
	return 0;
}

int
main(int argc, char **argv)
{
	static struct pop3 p;
	const char *conf_path = NULL;
	int want_tls = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf_path = argv[++i];
		else if (strcmp(argv[i], "--implicit-tls") == 0)
			want_tls = 1;
		else if (strcmp(argv[i], "-V") == 0) {
			printf("pop3-session (yubin) %s\n", YUBIN_VERSION);
			return 0;
		} else
			usage();
	}
	if (session_start(&p.s, "pop3-session", conf_path) < 0)
		return 1;
	p.state = STATE_AUTHORIZATION;
	io_init(&p.io, 0, 1);
	/* io counts milliseconds in an int: a day is plenty for an idle limit. */
	io_set_timeout(&p.io, (int)(p.s.conf.pop3_timeout > 86400 ? 86400 : p.s.conf.pop3_timeout));
	/* However slowly a client trickles, it logs in within login_deadline
	 * and leaves within session_deadline (S49). */
	session_set_deadline(&p.s, &p.io, 0);
	if (want_tls && implicit_tls(&p) < 0)
		return 1;
	/* No APOP timestamp in the greeting: APOP is not offered (S44). */
	io_printf(&p.io, "+OK %s POP3 server ready\r\n", p.s.conf.hostname);
	command_loop(&p);
	io_flush(&p.io);
	/* Whatever ended the session, nothing is removed outside QUIT. */
	if (p.drop_open)
		maildrop_close(&p.drop);
	tls_free(&p.tls);
	return 0;
}
