/*
 * imap-session — an IMAP4rev2/IMAP4rev1 server for one connection on
 * stdin/stdout (RFC 9051, RFC 3501).
 *
 * main() reads top to bottom: flags, session start (config, peer, logging,
 * privilege drop), optional implicit TLS, greeting, command loop. The loop
 * feeds input to the framer (parser.h), tokenizes a whole command, finds
 * its handler in the table below, and writes the tagged reply.
 *
 * Exit codes: 0 after LOGOUT or EOF, 1 on a session error, 100 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap.h"
#include "log.h"
#include "mailbox.h"
#include "mailname.h"
#include "sasl.h"
#include "search-update.h"
#include "sort.h"
#include "tls.h"
#include "users.h"

#define IMAP_EXIT_USAGE 100

static const char CAPS_COMMON[] =
	"IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE "
	"MULTIAPPEND CATENATE "
	"CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH SEARCHRES STATUS=SIZE BINARY "
	"UTF8=ACCEPT "
	"CONDSTORE SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT PREVIEW";

/* ---- capability, state ---- */

static int
plaintext_auth_allowed(const struct imap *im)
{
	return im->tls_active || !im->s.conf.auth_requires_tls;
}

static void
out_capabilities(struct imap *im)
{
	io_puts(&im->io, CAPS_COMMON);
	io_printf(&im->io, " APPENDLIMIT=%llu", (unsigned long long)im->s.conf.max_message_size);
	if (imap_quota_offered(im))
		io_puts(&im->io, " QUOTA QUOTA=RES-STORAGE");
	if (im->state == STATE_NOT_AUTH) {
		if (!im->tls_active && tls_configured(&im->s.conf))
			io_puts(&im->io, " STARTTLS");
		if (plaintext_auth_allowed(im))
			io_puts(&im->io, " AUTH=PLAIN AUTH=LOGIN");
		else
			io_puts(&im->io, " LOGINDISABLED");
	} else if (im->deflate == NULL) {
		io_puts(&im->io, " COMPRESS=DEFLATE");
	}
}

static enum verdict
cmd_capability(struct imap *im, struct imap_command *c)
{
	if (c->n != 0)
		return verdict(im, V_BAD, "CAPABILITY takes no arguments");
	io_puts(&im->io, "* CAPABILITY ");
	out_capabilities(im);
	io_puts(&im->io, "\r\n");
	return verdict(im, V_OK, "Capability completed");
}

static enum verdict
cmd_noop(struct imap *im, struct imap_command *c)
{
	if (c->n != 0)
		return verdict(im, V_BAD, "%s takes no arguments", c->name);
	imap_report(im, 1);
	return verdict(im, V_OK, "%s completed", c->name);
}

static enum verdict
cmd_logout(struct imap *im, struct imap_command *c)
{
	if (c->n != 0)
		return verdict(im, V_BAD, "LOGOUT takes no arguments");
	io_puts(&im->io, "* BYE Logging out\r\n");
	im->state = STATE_LOGOUT;
	return verdict(im, V_OK, "Logout completed");
}

static enum verdict
cmd_id(struct imap *im, struct imap_command *c)
{
	if (c->n != 1 || (!arg_is_nil(&c->args[0]) && c->args[0].type != ARG_LIST))
		return verdict(im, V_BAD, "ID takes a list or NIL");
	io_puts(&im->io, "* ID (\"name\" \"yubin\" \"version\" \"" YUBIN_VERSION "\")\r\n");
	return verdict(im, V_OK, "ID completed");
}

static enum verdict
cmd_enable(struct imap *im, struct imap_command *c)
{
	if (c->n == 0)
		return verdict(im, V_BAD, "ENABLE needs capabilities");
	int condstore = 0;
	io_puts(&im->io, "* ENABLED");
	for (size_t i = 0; i < c->n; i++) {
		if (arg_is(&c->args[i], "IMAP4rev2")) {
			if (!im->rev2)
				io_puts(&im->io, " IMAP4rev2");
			im->rev2 = im->utf8 = 1;
		} else if (arg_is(&c->args[i], "UTF8=ACCEPT")) {
			if (!im->utf8)
				io_puts(&im->io, " UTF8=ACCEPT");
			im->utf8 = 1;
		} else if (arg_is(&c->args[i], "CONDSTORE")) {
			if (!im->condstore && !condstore)
				io_puts(&im->io, " CONDSTORE");
			condstore = 1;
		}
	}
	io_puts(&im->io, "\r\n");
	if (condstore)
		condstore_enable(im);
	return verdict(im, V_OK, "ENABLE completed");
}

static enum verdict
cmd_starttls(struct imap *im, struct imap_command *c)
{
	char err[256];
	if (c->n != 0)
		return verdict(im, V_BAD, "STARTTLS takes no arguments");
	if (im->tls_active)
		return verdict(im, V_BAD, "TLS is already active");
	if (!tls_configured(&im->s.conf))
		return verdict(im, V_BAD, "TLS not available");
	im->tls = tls_server_new(&im->s.conf, err, sizeof err);
	if (im->tls == NULL) {
		log_err("STARTTLS: %s", err);
		return verdict(im, V_NO, "TLS not available right now");
	}
	io_printf(&im->io, "%s OK Begin TLS negotiation now\r\n", c->tag);
	io_flush(&im->io);
	/* Nothing sent before the handshake may run afterwards (S13). */
	framer_reset(&im->fr);
	if (tls_handshake(im->tls, &im->io, err, sizeof err) != 0) {
		log_warn("TLS handshake failed: %s", err);
		return V_CLOSE;
	}
	im->tls_active = 1;
	return V_DONE;
}

/* ---- authentication ---- */

static enum verdict
auth_failed(struct imap *im, const char *method, const char *login, const char *reason)
{
	im->auth_failures++;
	log_auth_failure("imap", method, login, reason, im->auth_failures);
	session_sleep_ms((unsigned)(im->s.conf.auth_fail_delay_ms * im->auth_failures));
	return verdict(im, V_NO, "[AUTHENTICATIONFAILED] Authentication failed");
}

static enum verdict
auth_login(struct imap *im, const char *method, const char *login, const char *password)
{
	char canon[320];
	if (users_canonical(&im->s.conf, login, canon, sizeof canon) != 0)
		return auth_failed(im, method, login, "too-long");
	int r = users_verify(&im->s.conf, canon, password);
	if (r < 0) {
		log_err("users file: %s", strerror(errno));
		return verdict(im, V_NO, "[UNAVAILABLE] Authentication temporarily unavailable");
	}
	if (r == 0)
		return auth_failed(im, method, login, "password");
	snprintf(im->user, sizeof im->user, "%s", canon);
	if (mailbox_user_dir(&im->s.conf, canon, im->root, sizeof im->root) != 0 ||
	    imap_user_setup(im) != 0) {
		log_err("user=%s mailbox setup failed: %s", canon, strerror(errno));
		im->user[0] = '\0';
		return verdict(im, V_NO, "[SERVERBUG] Mailbox not available");
	}
	im->state = STATE_AUTH;
	session_set_deadline(&im->s, &im->io, 1);
	log_info("login user=%s peer=%s%s", canon, im->s.peer, im->tls_active ? " tls" : "");
	im->fr.literal_max = IMAP_LINE_MAX;
	im->fr.append_max = im->s.conf.max_message_size;
	im->fr.preauth = 0;
	return verdict(im, V_OK, "Logged in");
}

static void
reply_logged_in(struct imap *im, const char *tag)
{
	io_printf(&im->io, "%s OK [CAPABILITY ", tag);
	out_capabilities(im);
	io_printf(&im->io, "] %s\r\n", im->text);
}

/* After AUTH_FAILURES_MAX failures the session ends (S35, S53). */
static enum verdict
auth_end(struct imap *im, const char *tag, enum verdict v)
{
	if (im->auth_failures < AUTH_FAILURES_MAX)
		return v;
	io_printf(&im->io, "%s NO %s\r\n* BYE Too many authentication failures\r\n", tag,
	    im->text);
	return V_CLOSE;
}

static enum verdict
cmd_login(struct imap *im, struct imap_command *c)
{
	if (c->n != 2 || !arg_is_string(&c->args[0]) || !arg_is_string(&c->args[1]))
		return verdict(im, V_BAD, "LOGIN needs user name and password");
	if (!plaintext_auth_allowed(im))
		return verdict(im, V_NO, "[PRIVACYREQUIRED] Use STARTTLS first");
	enum verdict v = auth_login(im, "LOGIN", c->args[0].str, c->args[1].str);
	explicit_bzero(c->args[1].str, c->args[1].len);
	if (v == V_OK) {
		reply_logged_in(im, c->tag);
		return V_DONE;
	}
	return auth_end(im, c->tag, v);
}

static enum verdict
cmd_authenticate(struct imap *im, struct imap_command *c)
{
	enum sasl_mech mech;
	char challenge[SASL_RESPONSE_MAX], line[SASL_RESPONSE_MAX + 4];
	struct sasl s;
	if (c->n < 1 || c->n > 2 || c->args[0].type != ARG_ATOM ||
	    (c->n == 2 && c->args[1].type != ARG_ATOM))
		return verdict(im, V_BAD, "AUTHENTICATE needs a mechanism");
	if (!plaintext_auth_allowed(im))
		return verdict(im, V_NO, "[PRIVACYREQUIRED] Use STARTTLS first");
	if (sasl_mech_parse(c->args[0].str, &mech) != 0)
		return verdict(im, V_NO, "Unsupported mechanism");
	enum sasl_status st = sasl_start(&s, mech, c->n == 2 ? c->args[1].str : NULL,
	    challenge, sizeof challenge);
	while (st == SASL_CONTINUE) {
		size_t len;
		io_printf(&im->io, "+ %s\r\n", challenge);
		io_flush(&im->io);
		int r = io_getline(&im->io, line, sizeof line, &len);
		if (r == IO_TOOLONG) {
			io_skipline(&im->io, IMAP_LINE_MAX);
			sasl_clear(&s);
			return verdict(im, V_BAD, "Response too long");
		}
		if (r != IO_OK) {
			sasl_clear(&s);
			return V_CLOSE;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (memchr(line, '\0', len) != NULL) {
			sasl_clear(&s);
			return verdict(im, V_BAD, "NULs not allowed");
		}
		st = sasl_step(&s, line, challenge, sizeof challenge);
		explicit_bzero(line, sizeof line);
	}
	enum verdict v;
	const char *method = mech == SASL_PLAIN ? "PLAIN" : "LOGIN";
	if (st == SASL_CANCELLED)
		v = verdict(im, V_BAD, "Authentication cancelled");
	else if (st != SASL_DONE)
		v = verdict(im, V_BAD, "Invalid SASL response");
	else if (s.authzid[0] && strcmp(s.authzid, s.authcid) != 0)
		v = auth_failed(im, method, s.authcid, "authzid");
	else
		v = auth_login(im, method, s.authcid, s.password);
	sasl_clear(&s);
	if (v == V_OK) {
		reply_logged_in(im, c->tag);
		return V_DONE;
	}
	return auth_end(im, c->tag, v);
}

/* ---- command table ---- */

#define S_ANY (STATE_NOT_AUTH | STATE_AUTH | STATE_SELECTED)
#define S_AUTHD (STATE_AUTH | STATE_SELECTED)

static const struct command {
	const char *name;
	imap_handler handler;
	unsigned states;
	int uid;          /* has a UID variant */
	int seq_numbers;  /* uses sequence numbers: no EXPUNGE responses after */
} commands[] = {
	{ "CAPABILITY", cmd_capability, S_ANY, 0, 0 },
	{ "NOOP", cmd_noop, S_ANY, 0, 0 },
	{ "LOGOUT", cmd_logout, S_ANY, 0, 0 },
	{ "ID", cmd_id, S_ANY, 0, 0 },
	{ "STARTTLS", cmd_starttls, STATE_NOT_AUTH, 0, 0 },
	{ "LOGIN", cmd_login, STATE_NOT_AUTH, 0, 0 },
	{ "AUTHENTICATE", cmd_authenticate, STATE_NOT_AUTH, 0, 0 },
	{ "ENABLE", cmd_enable, S_AUTHD, 0, 0 },
	{ "SELECT", cmd_select, S_AUTHD, 0, 0 },
	{ "EXAMINE", cmd_examine, S_AUTHD, 0, 0 },
	{ "CREATE", cmd_create, S_AUTHD, 0, 0 },
	{ "DELETE", cmd_delete, S_AUTHD, 0, 0 },
	{ "RENAME", cmd_rename, S_AUTHD, 0, 0 },
	{ "SUBSCRIBE", cmd_subscribe, S_AUTHD, 0, 0 },
	{ "UNSUBSCRIBE", cmd_unsubscribe, S_AUTHD, 0, 0 },
	{ "LIST", cmd_list, S_AUTHD, 0, 0 },
	{ "LSUB", cmd_lsub, S_AUTHD, 0, 0 },
	{ "NAMESPACE", cmd_namespace, S_AUTHD, 0, 0 },
	{ "STATUS", cmd_status, S_AUTHD, 0, 0 },
	{ "APPEND", cmd_append, S_AUTHD, 0, 0 },
	{ "GETQUOTAROOT", cmd_getquotaroot, S_AUTHD, 0, 0 },
	{ "GETQUOTA", cmd_getquota, S_AUTHD, 0, 0 },
	{ "SETQUOTA", cmd_setquota, S_AUTHD, 0, 0 },
	{ "IDLE", cmd_idle, S_AUTHD, 0, 0 },
	{ "COMPRESS", cmd_compress, S_AUTHD, 0, 0 },
	{ "CHECK", cmd_noop, STATE_SELECTED, 0, 0 },
	{ "CLOSE", cmd_close, STATE_SELECTED, 0, 0 },
	{ "UNSELECT", cmd_unselect, STATE_SELECTED, 0, 0 },
	{ "EXPUNGE", cmd_expunge, STATE_SELECTED, 1, 0 },
	{ "SEARCH", cmd_search, STATE_SELECTED, 1, 1 },
	{ "SORT", cmd_sort, STATE_SELECTED, 1, 1 },
	{ "CANCELUPDATE", cmd_cancelupdate, STATE_SELECTED, 0, 0 },
	{ "THREAD", cmd_thread, STATE_SELECTED, 1, 1 },
	{ "FETCH", cmd_fetch, STATE_SELECTED, 1, 1 },
	{ "STORE", cmd_store, STATE_SELECTED, 1, 1 },
	{ "COPY", cmd_copy, STATE_SELECTED, 1, 1 },
	{ "MOVE", cmd_move, STATE_SELECTED, 1, 1 },
};

static const struct command *
command_find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Runs one tokenized command; returns the verdict after replying. */
static enum verdict
command_run(struct imap *im, struct imap_command *c)
{
	const struct command *cmd = command_find(c->name);
	struct imap_command sub = *c;
	im->uid_command = 0;
	im->text[0] = '\0';
	if (cmd == NULL && strcmp(c->name, "UID") == 0 && c->n > 0 &&
	    c->args[0].type == ARG_ATOM) {
		char name[32];
		snprintf(name, sizeof name, "%s", c->args[0].str);
		for (char *p = name; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		cmd = command_find(name);
		if (cmd && !cmd->uid)
			cmd = NULL;
		strf(sub.name, sizeof sub.name, "UID %s", name);
		sub.args = c->args + 1;
		sub.n = c->n - 1;
		im->uid_command = 1;
	}
	enum verdict v;
	if (cmd == NULL)
		v = verdict(im, V_BAD, "Unknown command");
	else if (!(cmd->states & im->state))
		v = verdict(im, im->state == STATE_NOT_AUTH ? V_BAD : V_NO,
		    "Command not allowed in this state");
	else {
		/* leaving the folder ends its UPDATE contexts (RFC 5267 §4.3) */
		if (cmd->handler == cmd_select || cmd->handler == cmd_examine ||
		    cmd->handler == cmd_close || cmd->handler == cmd_unselect)
			search_update_clear(im);
		v = cmd->handler(im, &sub);
	}
	/* flag changes are durable before the tagged reply */
	if (im->sel && folder_commit(im->sel) != 0 && v == V_OK)
		v = verdict(im, V_NO, "[SERVERBUG] Cannot save the flags");
	/* Untagged updates after a command, unless more commands are already
	 * waiting (pipelining) or the command just looked (SELECT, NOOP). */
	if (v == V_OK && im->sel && im->state == STATE_SELECTED && cmd->handler != cmd_select &&
	    cmd->handler != cmd_examine && cmd->handler != cmd_noop && !io_buffered(&im->io))
		imap_report(im, !(cmd->seq_numbers && !im->uid_command));
	/* The selected folder's directory went away under this session
	 * (another one deleted or renamed it or a parent): no command can
	 * work on it any more, and the client must not take a NO for every
	 * one of them as a passing fault. As Dovecot: BYE, disconnect. */
	if (im->sel && im->sel->vanished) {
		log_warn("user=%s selected folder %s vanished", im->user, im->sel->name);
		io_puts(&im->io, "* BYE Selected mailbox was deleted or renamed, "
		    "please log in again\r\n");
		return V_CLOSE;
	}
	static const char *const words[] = { "OK", "NO", "BAD" };
	if (v <= V_BAD)
		io_printf(&im->io, "%s %s %s\r\n", c->tag, words[v], im->text);
	return v;
}

/* ---- the loop ---- */

static int
too_many_errors(struct imap *im)
{
	if (++im->bad_commands < im->s.conf.max_bad_commands)
		return 0;
	io_puts(&im->io, "* BYE Too many invalid IMAP commands\r\n");
	log_warn("too many invalid commands peer=%s", im->s.peer);
	return 1;
}

static const char *
frame_tag(struct imap *im)
{
	return im->fr.tag[0] ? im->fr.tag : "*";
}

/* One framed command. Returns 0 to go on, -1 to end the session. */
static int
command_handle(struct imap *im)
{
	struct imap_command c;
	const char *err;
	int depth = im->state == STATE_NOT_AUTH ? IMAP_PREAUTH_DEPTH : IMAP_DEPTH_MAX;
	enum tok_status ts = imap_tokenize(im->fr.buf, im->fr.len, depth, im->fr.is_append, &c,
	    &err);
	if (ts == TOK_NOMEM) {
		io_printf(&im->io, "* BYE Out of memory\r\n");
		return -1;
	}
	if (ts == TOK_BAD) {
		if (im->fr.len == 0)
			return 0; /* empty line: ignored, as Dovecot does */
		io_printf(&im->io, "%s BAD %s\r\n", c.tag[0] ? c.tag : "*", err);
		imap_command_free(&c);
		return too_many_errors(im) ? -1 : 0;
	}
	enum verdict v = command_run(im, &c);
	imap_command_free(&c);
	if (v == V_CLOSE)
		return -1;
	if (v == V_BAD && too_many_errors(im))
		return -1;
	return im->state == STATE_LOGOUT ? -1 : 0;
}

/* login_deadline or session_deadline has passed, however the client
 * trickled its input (S49): say so before the session ends. */
static void
deadline_bye(struct imap *im)
{
	int login = im->state == STATE_NOT_AUTH;
	log_info("%s deadline passed%s%s", login ? "login" : "session", im->user[0] ? " user=" : "",
	    im->user);
	io_printf(&im->io, "* BYE %s deadline passed\r\n", login ? "Login" : "Session");
}

static void
command_loop(struct imap *im)
{
	for (;;) {
		io_set_timeout(&im->io, im->state == STATE_NOT_AUTH ? IMAP_PREAUTH_TIMEOUT_SEC
		    : (int)im->s.conf.imap_timeout);
		if (io_buffered(&im->io) == 0 && io_flush(&im->io) != 0)
			return;
		const unsigned char *data;
		size_t len, used;
		int st = io_peek(&im->io, &data, &len);
		if (st == IO_TIMEOUT && io_deadline_passed(&im->io)) {
			deadline_bye(im);
			break;
		}
		if (st == IO_TIMEOUT) {
			io_puts(&im->io, "* BYE Autologout; idle for too long\r\n");
			break;
		}
		if (st != IO_OK)
			break;
		enum frame_status fs = framer_feed(&im->fr, data, len, &used);
		io_consume(&im->io, used);
		int end = 0;
		switch (fs) {
		case FRAME_NEED_MORE:
			continue;
		case FRAME_CONTINUE:
			io_puts(&im->io, "+ Ready for literal data\r\n");
			io_flush(&im->io);
			continue;
		case FRAME_TOOBIG:
			io_printf(&im->io, "%s %s [TOOBIG] Literal too big\r\n", frame_tag(im),
			    im->fr.is_append && !im->fr.preauth ? "NO" : "BAD");
			end = too_many_errors(im);
			break;
		case FRAME_TOOBIG_CLOSE:
			io_printf(&im->io, "%s BAD [TOOBIG] Literal too big\r\n* BYE Literal too big\r\n",
			    frame_tag(im));
			end = 1;
			break;
		case FRAME_BAD_LITERAL:
			io_printf(&im->io, "%s BAD Invalid literal\r\n", frame_tag(im));
			end = too_many_errors(im);
			break;
		case FRAME_TOOLONG:
			io_puts(&im->io, "* BYE Command line too long\r\n");
			end = 1;
			break;
		case FRAME_DONE:
			end = command_handle(im) != 0;
			/* A command that waited for more input (AUTHENTICATE,
			 * IDLE) ends the session silently at the deadline. */
			if (end && im->state != STATE_LOGOUT && io_deadline_passed(&im->io))
				deadline_bye(im);
			break;
		}
		framer_reset(&im->fr);
		if (end)
			break;
	}
	/* Here too after IDLE or a literal: input that did not inflate. */
	compress_bye(im);
	io_flush(&im->io);
}

static void
usage(void)
{
	fprintf(stderr, "usage: imap-session [-c FILE] [-V] [--implicit-tls]\n");
	exit(IMAP_EXIT_USAGE);
}

int
main(int argc, char **argv)
{
	const char *conf_path = NULL;
	int implicit_tls = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf_path = argv[++i];
		else if (strcmp(argv[i], "-V") == 0) {
			printf("imap-session %s\n", YUBIN_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--implicit-tls") == 0)
			implicit_tls = 1;
		else
			usage();
	}

#ifdef M_MMAP_THRESHOLD
	/* A fixed threshold: glibc otherwise raises it to the size of the
	 * first large block freed (a 100,000-message folder's scan arrays),
	 * and the next such temporaries, put on the heap, stay resident
	 * after SELECT (9 MB of free heap there; see bench/README.md). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
	static struct imap im;
	if (session_start(&im.s, "imap-session", conf_path) != 0)
		return 1;
	io_init(&im.io, 0, 1);
	/* However slowly a client trickles, it logs in within login_deadline
	 * and leaves within session_deadline (S49). */
	session_set_deadline(&im.s, &im.io, 0);
	framer_init(&im.fr);
	im.fr.line_max = IMAP_LINE_MAX;
	im.fr.literal_max = IMAP_PREAUTH_LITERAL_MAX;
	im.fr.append_max = IMAP_PREAUTH_LITERAL_MAX;
	im.fr.preauth = 1;
	im.state = STATE_NOT_AUTH;

	if (implicit_tls) {
		char err[256];
		im.tls = tls_server_new(&im.s.conf, err, sizeof err);
		if (im.tls == NULL || tls_handshake(im.tls, &im.io, err, sizeof err) != 0) {
			log_warn("implicit TLS failed: %s", err);
			tls_free(&im.tls);
			return 1;
		}
		im.tls_active = 1;
	}

	/* Never PREAUTH: a socket session always logs in (S14). */
	io_puts(&im.io, "* OK [CAPABILITY ");
	out_capabilities(&im);
	io_printf(&im.io, "] %s IMAP server ready\r\n", im.s.conf.hostname);
	command_loop(&im);

	folder_close(&im.sel);
	framer_free(&im.fr);
	free(im.searchres);
	search_update_clear(&im);
	if (im.tls)
		tls_free(&im.tls);
	compress_end(&im);
	if (im.user[0])
		log_info("logout user=%s", im.user);
	return 0;
}
