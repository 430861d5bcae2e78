/*
 * command.c — smtp-session's command loop: reads a command line, finds its
 * handler in one table and runs it. The handlers of the small commands
 * (HELO, RSET, NOOP, QUIT...) live here; MAIL/RCPT in envelope.c, DATA/BDAT
 * in message.c, STARTTLS/AUTH in auth.c.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtp-milter.h"
#include "tls.h"

static enum smtp_verdict
smtp_cmd_helo(struct smtp *s, char *args, int esmtp)
{
	if (!addr_valid_helo(args)) {
		smtp_reply(s, 501, "5.5.2", "Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return SMTP_CONTINUE;
	}
	smtp_reset(s);
	snprintf(s->helo, sizeof s->helo, "%s", args);
	s->esmtp = esmtp;
	s->state = SMTP_STATE_READY;
	if (!esmtp) {
		smtp_reply(s, 250, NULL, "%s", s->conf->hostname);
		return SMTP_CONTINUE;
	}
	smtp_reply_more(s, 250, NULL, "%s", s->conf->hostname);
	smtp_reply_more(s, 250, NULL, "PIPELINING");
	smtp_reply_more(s, 250, NULL, "SIZE %llu", (unsigned long long)s->conf->max_message_size);
	if (!s->tls && tls_configured(s->conf))
		smtp_reply_more(s, 250, NULL, "STARTTLS");
	if (smtp_auth_offered(s))
		smtp_reply_more(s, 250, NULL, "AUTH PLAIN LOGIN");
	smtp_reply_more(s, 250, NULL, "ENHANCEDSTATUSCODES");
	smtp_reply_more(s, 250, NULL, "8BITMIME");
	smtp_reply_more(s, 250, NULL, "DSN");
	smtp_reply_more(s, 250, NULL, "SMTPUTF8");
	smtp_reply(s, 250, NULL, "CHUNKING");
	return SMTP_CONTINUE;
}

static enum smtp_verdict
cmd_ehlo(struct smtp *s, char *args)
{
	return smtp_cmd_helo(s, args, 1);
}

static enum smtp_verdict
cmd_helo(struct smtp *s, char *args)
{
	return smtp_cmd_helo(s, args, 0);
}

static enum smtp_verdict
cmd_rset(struct smtp *s, char *args)
{
	smtp_reset(s);
	smtp_reply(s, 250, "2.0.0", "Ok");
	return SMTP_CONTINUE;
}

static enum smtp_verdict
cmd_noop(struct smtp *s, char *args)
{
	smtp_reply(s, 250, "2.0.0", "Ok");
	return SMTP_CONTINUE;
}

static enum smtp_verdict
cmd_vrfy(struct smtp *s, char *args)
{
	/* Never confirm or deny an address: it would be a harvesting oracle. */
	smtp_reply(s, 252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
	return SMTP_CONTINUE;
}

static enum smtp_verdict
cmd_expn(struct smtp *s, char *args)
{
	smtp_reply(s, 502, "5.5.1", "Error: command not implemented");
	return SMTP_CONTINUE;
}

static enum smtp_verdict
cmd_help(struct smtp *s, char *args)
{
	smtp_reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
	return SMTP_CONTINUE;
}

static enum smtp_verdict
cmd_quit(struct smtp *s, char *args)
{
	smtp_reply(s, 221, "2.0.0", "Bye");
	return SMTP_CLOSE;
}

/* Flags of a command: where it may stand in a pipelined group (RFC 2920
 * §3.1) and whether it counts against the junk limit. */
#define CMD_LAST_IN_GROUP 1u
#define CMD_JUNK 2u

struct smtp_command {
	const char *verb;
	enum smtp_verdict (*handler)(struct smtp *, char *);
	unsigned flags;
};

static const struct smtp_command commands[] = {
	{ "EHLO", cmd_ehlo, CMD_LAST_IN_GROUP },
	{ "HELO", cmd_helo, CMD_LAST_IN_GROUP },
	{ "MAIL", smtp_cmd_mail, 0 },
	{ "RCPT", smtp_cmd_rcpt, 0 },
	{ "DATA", smtp_cmd_data, CMD_LAST_IN_GROUP },
	{ "BDAT", smtp_cmd_bdat, 0 },
	{ "RSET", cmd_rset, CMD_JUNK },
	{ "NOOP", cmd_noop, CMD_LAST_IN_GROUP | CMD_JUNK },
	{ "QUIT", cmd_quit, CMD_LAST_IN_GROUP },
	{ "VRFY", cmd_vrfy, CMD_LAST_IN_GROUP | CMD_JUNK },
	{ "EXPN", cmd_expn, CMD_LAST_IN_GROUP | CMD_JUNK },
	{ "HELP", cmd_help, CMD_JUNK },
	{ "STARTTLS", smtp_cmd_starttls, CMD_LAST_IN_GROUP },
	{ "AUTH", smtp_cmd_auth, CMD_LAST_IN_GROUP },
};

static const struct smtp_command *
command_find(const char *verb)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcasecmp(commands[i].verb, verb) == 0)
			return &commands[i];
	return NULL;
}

/* Counts a bad command; past the limit the session ends (S35). */
static enum smtp_verdict
smtp_bad_command(struct smtp *s, int code, const char *enh, const char *text)
{
	if (++s->bad_commands > s->conf->max_bad_commands) {
		smtp_reply(s, 421, "4.7.0", "%s Error: too many errors", s->conf->hostname);
		return SMTP_CLOSE;
	}
	smtp_reply(s, code, enh, "%s", text);
	return SMTP_CONTINUE;
}

/* Splits "VERB args" (CRLF already removed) and runs the handler. */
static enum smtp_verdict
smtp_dispatch(struct smtp *s, char *line)
{
	char *args = line + strcspn(line, " ");
	if (*args)
		*args++ = '\0';
	const struct smtp_command *cmd = command_find(line);
	if (!cmd)
		return smtp_bad_command(s, 500, "5.5.2", "Error: command not recognized");
	if ((cmd->flags & CMD_JUNK) && ++s->junk_commands > SMTP_JUNK_COMMANDS_MAX) {
		smtp_reply(s, 421, "4.7.0", "%s Error: too many junk commands", s->conf->hostname);
		return SMTP_CLOSE;
	}
	enum smtp_verdict v = cmd->handler(s, args);
	/* A command that must end a pipelined group, or any command when the
	 * client has not negotiated PIPELINING, must not find more input
	 * already waiting (S6). DATA and STARTTLS check this themselves. */
	if (v == SMTP_CONTINUE && s->strict_sync && cmd->handler != smtp_cmd_data &&
	    cmd->handler != smtp_cmd_bdat &&
	    ((cmd->flags & CMD_LAST_IN_GROUP) || !s->esmtp) &&
	    io_buffered(&s->io) > 0)
		return smtp_sync_error(s, cmd->verb);
	return v;
}

/* Reads one command line. Returns 1 with the line (CRLF removed) in buf,
 * 0 after a protocol error reply (go on), -1 to end the session. */
static int
smtp_read_command(struct smtp *s, char *buf, size_t size)
{
	size_t len;
	if (io_buffered(&s->io) == 0 && io_flush(&s->io) != IO_OK)
		return -1;
	int st = io_getline(&s->io, buf, size, &len);
	if (st == IO_TIMEOUT) {
		smtp_reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->conf->hostname);
		log_info("timeout after %s", s->state == SMTP_STATE_START ? "CONNECT" : "command");
		return -1;
	}
	if (st == IO_TOOLONG) {
		/* The rest of the line must arrive within the limit again (S47). */
		if (io_skipline(&s->io, size) != IO_OK) {
			smtp_reply(s, 500, "5.5.2", "Error: line too long");
			return -1;
		}
		return smtp_bad_command(s, 500, "5.5.2", "Error: line too long") == SMTP_CLOSE ? -1 : 0;
	}
	if (st != IO_OK)
		return -1;
	if (len == 0 || buf[len - 1] != '\n')
		return -1;  /* EOF in the middle of a line */
	/* A bare LF or CR splits this line into two commands for some servers
	 * and not for others (S5): never guess where the next command starts,
	 * answer once and close, as chasquid does. */
	if (len < 2 || buf[len - 2] != '\r' || memchr(buf, '\r', len - 2)) {
		int lf = len < 2 || buf[len - 2] != '\r';
		log_warn("bare <%s> in command line", lf ? "LF" : "CR");
		smtp_reply(s, 521, "5.5.2", "%s Error: bare <%s> received", s->conf->hostname,
		    lf ? "LF" : "CR");
		return -1;
	}
	len -= 2;
	buf[len] = '\0';
	if (strlen(buf) != len)
		return smtp_bad_command(s, 500, "5.5.2", "Error: NUL in command") == SMTP_CLOSE ? -1 : 0;
	return 1;
}

void
smtp_loop(struct smtp *s)
{
	char line[SMTP_COMMAND_LINE_MAX + 1];
	for (;;) {
		int r = smtp_read_command(s, line, sizeof line);
		if (r < 0)
			break;
		if (r == 0)
			continue;
		if (smtp_dispatch(s, line) == SMTP_CLOSE)
			break;
	}
	io_flush(&s->io);
}
