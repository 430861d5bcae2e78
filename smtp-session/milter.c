/*
 * milter.c — smtp-session as a milter client (Postfix's smtpd_milters).
 *
 * Each configured filter gets its own connection, opened at the session's
 * first MAIL (a session that sends no mail costs the filters nothing):
 * option negotiation, then CONNECT and HELO, then per transaction MAIL,
 * RCPT, and at the end of the message DATA, the headers, EOH, the body in
 * chunks and end-of-message. Filters are asked in order; at end of message
 * each filter's modifications are applied (milter-edit.c) before the next
 * one sees the message, so a signer listed last signs the final text.
 *
 * A filter that cannot be reached, does not answer within milter_timeout
 * or breaks the protocol is marked failed for the rest of the session and
 * gets milter_default_action at every step from then on. Every reply is
 * read through the bounded parser of lib/milter.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "durable.h"
#include "smtp-milter.h"

/* Sends one packet built in b, whole, within the timeout. 0 or -1. */
static int
mc_send(struct smtp *s, struct milter_conn *c, struct buf *b)
{
	if (milter_pkt_end(b) < 0)
		return -1;
	size_t off = 0;
	int ms = (int)s->conf->milter_timeout * 1000;
	while (off < b->len) {
		struct pollfd pfd = { c->fd, POLLOUT, 0 };
		int r = poll(&pfd, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			errno = r == 0 ? ETIMEDOUT : errno;
			return -1;
		}
		ssize_t n = send(c->fd, b->s + off, b->len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* Reads one reply packet into c->parser within the timeout. 0, or -1
 * (errno ETIMEDOUT, EPROTO for garbage, ECONNRESET for EOF). */
static int
mc_read(struct smtp *s, struct milter_conn *c)
{
	int ms = (int)s->conf->milter_timeout * 1000;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (c->in_off < c->in_len) {
			size_t used;
			enum milter_status st = milter_parser_feed(&c->parser, c->in + c->in_off,
			    c->in_len - c->in_off, &used);
			c->in_off += used;
			if (st == MILTER_DONE)
				return 0;
			if (st == MILTER_BAD) {
				errno = EPROTO;
				return -1;
			}
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= ms) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = { c->fd, POLLIN, 0 };
		int r = poll(&pfd, 1, (int)(ms - spent));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			errno = r == 0 ? ETIMEDOUT : errno;
			return -1;
		}
		ssize_t n = recv(c->fd, c->in, sizeof c->in, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			errno = n == 0 ? ECONNRESET : errno;
			return -1;
		}
		c->in_off = 0;
		c->in_len = (size_t)n;
	}
}

static void
mc_close(struct milter_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	milter_parser_free(&c->parser);
	c->in_len = c->in_off = 0;
}

/* The filter broke down: logged once, then it gets the default action
 * for the rest of the session. */
static void
mc_fail(struct milter_conn *c, const char *what)
{
	log_warn("milter %s: %s: %s; default action applies", c->spec, what, strerror(errno));
	mc_close(c);
	c->state = MC_FAILED;
}

/* Non-blocking connect with the milter timeout. fd or -1. */
static int
mc_connect_addr(const struct sockaddr *sa, socklen_t len, int ms)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* A step is two small writes (macros, then the command) before the
	 * filter answers: with Nagle the command would wait for the ACK of
	 * the macros, which the filter delays (40 ms a step on Linux). */
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if (connect(fd, sa, len) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		struct pollfd pfd = { fd, POLLOUT, 0 };
		int err = 0;
		socklen_t elen = sizeof err;
		int r;
		while ((r = poll(&pfd, 1, ms)) < 0 && errno == EINTR)
			;
		if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
			return fd;
		errno = r == 0 ? ETIMEDOUT : err ? err : errno;
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
mc_connect(struct smtp *s, struct milter_conn *c)
{
	int is_unix, ms = (int)s->conf->milter_timeout * 1000;
	char where[256], port[8];
	if (milter_endpoint_parse(c->spec, &is_unix, where, sizeof where, port, sizeof port) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (is_unix) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		if (strlen(where) >= sizeof sun.sun_path) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(sun.sun_path, where, strlen(where) + 1);
		return mc_connect_addr((struct sockaddr *)&sun, sizeof sun, ms);
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	if (getaddrinfo(where, port, &hints, &res) != 0) {
		errno = EHOSTUNREACH;
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next)
		fd = mc_connect_addr(a->ai_addr, a->ai_addrlen, ms);
	freeaddrinfo(res);
	return fd;
}

/* Connects and negotiates: version 6, every action we can apply, every
 * step skippable. What the filter asks beyond our offer is a violation. */
static int
mc_open(struct smtp *s, struct milter_conn *c)
{
	struct buf b = BUF_INIT(MILTER_PACKET_MAX + 4);
	struct milter_msg m;
	milter_parser_init(&c->parser);
	if ((c->fd = mc_connect(s, c)) < 0)
		return -1;
	milter_pkt_begin(&b, MILTER_CMD_OPTNEG);
	milter_pkt_u32(&b, MILTER_VERSION);
	milter_pkt_u32(&b, MILTER_ACT_ALL & ~MILTER_ACT_SETSYMLIST);
	milter_pkt_u32(&b, MILTER_P_OFFER);
	int rc = mc_send(s, c, &b);
	buf_free(&b);
	if (rc < 0 || mc_read(s, c) < 0)
		return -1;
	if (c->parser.cmd != MILTER_R_OPTNEG || milter_reply_decode(&c->parser, &m) < 0 ||
	    m.version < 2 || (m.protocol & ~MILTER_P_OFFER) != 0) {
		errno = EPROTO;
		return -1;
	}
	c->actions = m.actions & MILTER_ACT_ALL & ~MILTER_ACT_SETSYMLIST;
	c->protocol = m.protocol;
	c->state = MC_READY;
	return 0;
}

/* Macros for one step (what Postfix's MILTER_README lists, as far as a
 * one-connection server knows them). */
static void
add_macro(struct buf *b, const char *name, const char *value)
{
	if (value && *value) {
		milter_pkt_str(b, name);
		milter_pkt_str(b, value);
	}
}

static void
macros_for(struct smtp *s, char step, struct buf *b)
{
	char addr[ADDR_PATH_MAX + 3];
	milter_pkt_begin(b, MILTER_CMD_MACRO);
	milter_pkt_byte(b, step);
	switch (step) {
	case MILTER_CMD_CONNECT:
		add_macro(b, "j", s->conf->hostname);
		add_macro(b, "{daemon_name}", s->conf->hostname);
		add_macro(b, "{daemon_addr}", NULL);
		add_macro(b, "{client_addr}", s->session.peer);
		add_macro(b, "{client_name}", s->milters->client_name);
		add_macro(b, "_", s->milters->client_name);
		add_macro(b, "v", "yubin");
		break;
	case MILTER_CMD_HELO:
	case MILTER_CMD_MAIL:
		add_macro(b, "{tls_version}", s->milters->tls_version);
		add_macro(b, "{cipher}", s->milters->cipher);
		if (step == MILTER_CMD_HELO)
			break;
		add_macro(b, "{auth_authen}", s->auth_user);
		add_macro(b, "{auth_type}", s->auth_user[0] ? s->auth_mech : NULL);
		snprintf(addr, sizeof addr, "%s", s->sender);
		add_macro(b, "{mail_addr}", addr[0] ? addr : "<>");
		add_macro(b, "{mail_mailer}", s->auth_user[0] ? "esmtp" : "smtp");
		break;
	case MILTER_CMD_RCPT:
		add_macro(b, "{rcpt_addr}", s->milters->rcpt);
		add_macro(b, "{rcpt_mailer}", s->milters->rcpt_local ? "local" : "smtp");
		break;
	default:   /* DATA, EOH, end of message */
		add_macro(b, "i", s->msg_id);
		add_macro(b, "{auth_authen}", s->auth_user);
		break;
	}
}

/* Whether a step is skipped (the filter said so at negotiation) or left
 * unanswered. */
static uint32_t
step_skip_bit(char cmd)
{
	switch (cmd) {
	case MILTER_CMD_CONNECT: return MILTER_P_NOCONNECT;
	case MILTER_CMD_HELO: return MILTER_P_NOHELO;
	case MILTER_CMD_MAIL: return MILTER_P_NOMAIL;
	case MILTER_CMD_RCPT: return MILTER_P_NORCPT;
	case MILTER_CMD_DATA: return MILTER_P_NODATA;
	case MILTER_CMD_HEADER: return MILTER_P_NOHDRS;
	case MILTER_CMD_EOH: return MILTER_P_NOEOH;
	case MILTER_CMD_BODY: return MILTER_P_NOBODY;
	default: return 0;
	}
}

static uint32_t
step_noreply_bit(char cmd)
{
	switch (cmd) {
	case MILTER_CMD_CONNECT: return MILTER_P_NR_CONN;
	case MILTER_CMD_HELO: return MILTER_P_NR_HELO;
	case MILTER_CMD_MAIL: return MILTER_P_NR_MAIL;
	case MILTER_CMD_RCPT: return MILTER_P_NR_RCPT;
	case MILTER_CMD_DATA: return MILTER_P_NR_DATA;
	case MILTER_CMD_HEADER: return MILTER_P_NR_HDR;
	case MILTER_CMD_EOH: return MILTER_P_NR_EOH;
	case MILTER_CMD_BODY: return MILTER_P_NR_BODY;
	default: return 0;
	}
}

/* A decision from a filter reply: the step's verdict, or -1 when the
 * reply does not belong here (a violation). */
static int
verdict_of(const struct milter_parser *p, struct milter_result *r, int at_eom)
{
	struct milter_msg m;
	if (milter_reply_decode(p, &m) < 0)
		return -1;
	switch (m.cmd) {
	case MILTER_R_CONTINUE:
		r->kind = MR_CONTINUE;
		return 0;
	case MILTER_R_ACCEPT:
		r->kind = MR_ACCEPT;
		return 0;
	case MILTER_R_SKIP:
		r->kind = MR_SKIP;
		return 0;
	case MILTER_R_DISCARD:
		r->kind = MR_DISCARD;
		return 0;
	case MILTER_R_REJECT:
		r->kind = MR_REJECT;
		r->code = 550;
		snprintf(r->enh, sizeof r->enh, "5.7.1");
		snprintf(r->text, sizeof r->text, "Command rejected");
		return 0;
	case MILTER_R_TEMPFAIL:
	case MILTER_R_SHUTDOWN:
	case MILTER_R_CONN_FAIL:
		r->kind = MR_TEMPFAIL;
		r->code = 451;
		snprintf(r->enh, sizeof r->enh, "4.7.1");
		snprintf(r->text, sizeof r->text, "Service unavailable - try again later");
		return 0;
	case MILTER_R_REPLYCODE:
		if (milter_replycode_parse(m.s1, &r->code, r->enh, sizeof r->enh, r->text,
		    sizeof r->text) < 0)
			return -1;
		r->kind = r->code >= 500 ? MR_REJECT : MR_TEMPFAIL;
		/* 421 would tell the client the session ends, and it does not. */
		if (r->code == 421)
			r->code = 451;
		if (!r->enh[0])
			snprintf(r->enh, sizeof r->enh, "%s", r->code >= 500 ? "5.7.1" : "4.7.1");
		return 0;
	}
	(void)at_eom;
	return -1;
}

/* One step with one filter: sends the macros and the packet, reads the
 * answer (progress restarts the wait; at end of message the filter's
 * modifications are collected in e). 0 with r filled, or -1: the filter
 * failed (already closed and marked). */
static int
mc_step(struct smtp *s, struct milter_conn *c, struct buf *pkt, struct milter_edits *e,
    struct milter_result *r)
{
	char cmd = pkt->s[4];
	struct buf mb = BUF_INIT(MILTER_PACKET_MAX + 4);
	memset(r, 0, sizeof *r);
	r->kind = MR_CONTINUE;
	if (c->protocol & step_skip_bit(cmd))
		return 0;
	int rc = 0;
	if (cmd != MILTER_CMD_ABORT && cmd != MILTER_CMD_QUIT && cmd != MILTER_CMD_BODY &&
	    cmd != MILTER_CMD_HEADER) {
		macros_for(s, cmd, &mb);
		rc = mc_send(s, c, &mb);
	}
	buf_free(&mb);
	if (rc < 0 || mc_send(s, c, pkt) < 0) {
		mc_fail(c, "write");
		return -1;
	}
	/* ABORT and QUIT are never answered; other steps unless the filter
	 * said it would not. */
	if (cmd == MILTER_CMD_ABORT || cmd == MILTER_CMD_QUIT || (c->protocol & step_noreply_bit(cmd)))
		return 0;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (mc_read(s, c) < 0) {
			mc_fail(c, errno == ETIMEDOUT ? "timeout" : "read");
			return -1;
		}
		unsigned char rcmd = c->parser.cmd;
		/* Progress restarts the wait, but only so often: a filter that
		 * says "progress" forever must not hold the session. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((uint64_t)(now.tv_sec - start.tv_sec) >
		    MILTER_STEP_TIMEOUTS * s->conf->milter_timeout) {
			errno = ETIMEDOUT;
			mc_fail(c, "step too long");
			return -1;
		}
		if (rcmd == MILTER_R_PROGRESS)
			continue;
		if (cmd == MILTER_CMD_BODYEOB && milter_edit_is_mod(rcmd)) {
			if (milter_edit_collect(s, c, e) < 0) {
				mc_fail(c, "modification");
				return -1;
			}
			continue;
		}
		if (verdict_of(&c->parser, r, cmd == MILTER_CMD_BODYEOB) < 0 ||
		    (r->kind == MR_SKIP && cmd != MILTER_CMD_BODY)) {
			errno = EPROTO;
			mc_fail(c, "unexpected reply");
			return -1;
		}
		return 0;
	}
}

/* What a failed filter means for the step: nothing (accept), or the
 * default temporary or permanent refusal. */
static void
default_result(struct smtp *s, struct milter_result *r)
{
	memset(r, 0, sizeof *r);
	switch (s->conf->milter_default_action) {
	case MILTER_ACTION_ACCEPT:
		r->kind = MR_CONTINUE;
		break;
	case MILTER_ACTION_REJECT:
		r->kind = MR_REJECT;
		r->code = 550;
		snprintf(r->enh, sizeof r->enh, "5.7.1");
		snprintf(r->text, sizeof r->text, "Message rejected by content filter");
		break;
	case MILTER_ACTION_TEMPFAIL:
		r->kind = MR_TEMPFAIL;
		r->code = 451;
		snprintf(r->enh, sizeof r->enh, "4.7.1");
		snprintf(r->text, sizeof r->text, "Service unavailable - try again later");
		break;
	}
}

/* Builds a one-string packet (HELO, RCPT, MAIL) and runs the step. */
static int
step_str(struct smtp *s, struct milter_conn *c, char cmd, const char *arg,
    struct milter_result *r)
{
	struct buf b = BUF_INIT(MILTER_PACKET_MAX + 4);
	milter_pkt_begin(&b, cmd);
	if (arg)
		milter_pkt_str(&b, arg);
	int rc = mc_step(s, c, &b, NULL, r);
	buf_free(&b);
	return rc;
}

/* CONNECT: the peer's name, family, port and address. */
static int
step_connect(struct smtp *s, struct milter_conn *c, struct milter_result *r)
{
	struct smtp_milters *ms = s->milters;
	struct buf b = BUF_INIT(MILTER_PACKET_MAX + 4);
	milter_pkt_begin(&b, MILTER_CMD_CONNECT);
	milter_pkt_str(&b, ms->client_name);
	if (ms->family == MILTER_FAMILY_UNKNOWN) {
		milter_pkt_byte(&b, MILTER_FAMILY_UNKNOWN);
	} else {
		milter_pkt_byte(&b, ms->family);
		milter_pkt_u16(&b, ms->port);
		milter_pkt_str(&b, s->session.peer);
	}
	int rc = mc_step(s, c, &b, NULL, r);
	buf_free(&b);
	return rc;
}

/* The peer as CONNECT names it: family and port from the socket when
 * fd 0 is one, else from the address text; a pipe is "unknown". */
static void
peer_describe(struct smtp *s, struct smtp_milters *ms)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	ms->family = MILTER_FAMILY_UNKNOWN;
	ms->port = 0;
	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			ms->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			ms->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (strcmp(s->session.peer, "local") != 0) {
		ms->family = strchr(s->session.peer, ':') ? MILTER_FAMILY_INET6 : MILTER_FAMILY_INET;
		snprintf(ms->client_name, sizeof ms->client_name, "[%s]", s->session.peer);
	} else {
		snprintf(ms->client_name, sizeof ms->client_name, "localhost");
	}
}

/* {tls_version} and {cipher} from the description lib/tls.c gives:
 * "TLSv1.3 with cipher NAME (bits)". */
static void
tls_macros(struct smtp *s, struct smtp_milters *ms)
{
	const char *with = strstr(s->tls_info, " with cipher ");
	ms->tls_version[0] = ms->cipher[0] = '\0';
	if (!s->tls || !with)
		return;
	snprintf(ms->tls_version, sizeof ms->tls_version, "%.*s", (int)(with - s->tls_info), s->tls_info);
	with += strlen(" with cipher ");
	snprintf(ms->cipher, sizeof ms->cipher, "%.*s", (int)strcspn(with, " "), with);
}

/* The session's milters from the configuration; NULL when none. */
static struct smtp_milters *
milters_new(struct smtp *s)
{
	struct smtp_milters *ms = calloc(1, sizeof *ms);
	if (!ms)
		return NULL;
	if (!(ms->specs = strdup(s->conf->milters))) {
		free(ms);
		return NULL;
	}
	char *save = NULL;
	for (char *w = strtok_r(ms->specs, " \t,", &save); w && ms->n < MILTERS_MAX;
	    w = strtok_r(NULL, " \t,", &save)) {
		struct milter_conn *c = &ms->conn[ms->n++];
		c->spec = w;
		c->fd = -1;
		c->state = MC_CLOSED;
	}
	return ms;
}

/* Replies with r; returns -1 so callers can return it. */
static int
reply_result(struct smtp *s, const struct milter_result *r)
{
	smtp_reply(s, r->code, r->enh, "%s", r->text);
	return -1;
}

/* Opens one filter and runs CONNECT and HELO through it. A refusal
 * there holds for the whole session (kept in ms->session_verdict). */
static void
mc_start(struct smtp *s, struct milter_conn *c)
{
	struct smtp_milters *ms = s->milters;
	struct milter_result r;
	if (mc_open(s, c) < 0) {
		mc_fail(c, "connect");
		return;
	}
	if (step_connect(s, c, &r) == 0 && r.kind == MR_CONTINUE)
		step_str(s, c, MILTER_CMD_HELO, s->helo, &r);
	if (c->state == MC_FAILED)
		return;
	if (r.kind == MR_ACCEPT) {
		c->state = MC_DONE;
		mc_close(c);
	} else if (r.kind == MR_REJECT || r.kind == MR_TEMPFAIL) {
		if (!ms->session_verdict.kind)
			ms->session_verdict = r;
	} else if (r.kind == MR_DISCARD) {
		c->discard_all = 1;
	}
	snprintf(c->helo_sent, sizeof c->helo_sent, "%s", s->helo);
}

/* What milter c said at MAIL or RCPT (field names the address, logged
 * escaped): 1 if it refused, the caller then replies with r; else 0, an
 * accept (no more steps for this message) or a discard noted. */
static int
envelope_result(struct smtp *s, struct milter_conn *c, const struct milter_result *r,
    const char *field, const char *addr)
{
	if (r->kind == MR_REJECT || r->kind == MR_TEMPFAIL) {
		char shown[4 * ADDR_PATH_MAX + 1];
		log_field(shown, sizeof shown, addr, strlen(addr));
		log_info("milter %s refused %s=<%s>: %d", c->spec, field, shown, r->code);
		return 1;
	}
	if (r->kind == MR_ACCEPT)
		c->msg_done = 1;
	if (r->kind == MR_DISCARD)
		s->milters->discard = 1;
	return 0;
}

int
smtp_milter_mail(struct smtp *s)
{
	if (!s->conf->milters)
		return 0;
	if (!s->milters) {
		if (!(s->milters = milters_new(s))) {
			smtp_reply(s, 451, "4.3.0", "Error: out of memory");
			return -1;
		}
		peer_describe(s, s->milters);
	}
	struct smtp_milters *ms = s->milters;
	tls_macros(s, ms);
	ms->discard = 0;
	for (size_t i = 0; i < ms->n; i++) {
		struct milter_conn *c = &ms->conn[i];
		struct milter_result r;
		if (c->state == MC_CLOSED)
			mc_start(s, c);
		else if (c->state == MC_READY && strcmp(c->helo_sent, s->helo) != 0) {
			step_str(s, c, MILTER_CMD_HELO, s->helo, &r);
			snprintf(c->helo_sent, sizeof c->helo_sent, "%s", s->helo);
		}
	}
	if (ms->session_verdict.kind) {
		log_info("milter refused the session: %d %s", ms->session_verdict.code, ms->session_verdict.enh);
		return reply_result(s, &ms->session_verdict);
	}
	char path[ADDR_PATH_MAX + 3];
	snprintf(path, sizeof path, "<%s>", s->sender);
	for (size_t i = 0; i < ms->n; i++) {
		struct milter_conn *c = &ms->conn[i];
		struct milter_result r;
		c->msg_done = c->state != MC_READY;
		if (c->discard_all)
			ms->discard = 1;
		if (c->state == MC_FAILED) {
			default_result(s, &r);
		} else if (c->state != MC_READY) {
			continue;
		} else {
			c->in_msg = 1;
			if (step_str(s, c, MILTER_CMD_MAIL, path, &r) < 0)
				default_result(s, &r);
		}
		if (envelope_result(s, c, &r, "MAIL from", s->sender))
			return reply_result(s, &r);
	}
	return 0;
}

int
smtp_milter_rcpt(struct smtp *s, const struct smtp_rcpt *rcpt)
{
	struct smtp_milters *ms = s->milters;
	if (!ms || ms->discard)
		return 0;
	snprintf(ms->rcpt, sizeof ms->rcpt, "%s", rcpt->addr);
	ms->rcpt_local = rcpt->local;
	char path[ADDR_PATH_MAX + 3];
	snprintf(path, sizeof path, "<%s>", rcpt->addr);
	for (size_t i = 0; i < ms->n; i++) {
		struct milter_conn *c = &ms->conn[i];
		struct milter_result r;
		if (c->state == MC_FAILED)
			default_result(s, &r);
		else if (c->state != MC_READY || c->msg_done)
			continue;
		else if (step_str(s, c, MILTER_CMD_RCPT, path, &r) < 0)
			default_result(s, &r);
		if (envelope_result(s, c, &r, "RCPT to", rcpt->addr))
			return reply_result(s, &r);
	}
	return 0;
}

void
smtp_milter_abort(struct smtp *s)
{
	struct smtp_milters *ms = s->milters;
	if (!ms)
		return;
	for (size_t i = 0; i < ms->n; i++) {
		struct milter_conn *c = &ms->conn[i];
		struct milter_result r;
		if (c->state == MC_READY && c->in_msg)
			step_str(s, c, MILTER_CMD_ABORT, NULL, &r);
		c->in_msg = 0;
	}
	ms->discard = 0;
}

void
smtp_milter_end(struct smtp *s)
{
	struct smtp_milters *ms = s->milters;
	if (!ms)
		return;
	for (size_t i = 0; i < ms->n; i++) {
		struct milter_conn *c = &ms->conn[i];
		struct milter_result r;
		if (c->state == MC_READY)
			step_str(s, c, MILTER_CMD_QUIT, NULL, &r);
		mc_close(c);
	}
	free(ms->specs);
	free(ms);
	s->milters = NULL;
}

/* One header field as HEADER: name, and the value after the colon
 * (one space eaten unless the filter wants it, folds kept as LF, like
 * Postfix). */
static int
send_header(struct smtp *s, struct milter_conn *c, const struct msg_header *h,
    struct milter_result *r)
{
	struct buf b = BUF_INIT(MILTER_PACKET_MAX + 4);
	const char *v = h->text + h->name_len + 1;
	size_t vlen = h->len - h->name_len - 1;
	if (!(c->protocol & MILTER_P_HDR_LEADSPC) && vlen && *v == ' ') {
		v++;
		vlen--;
	}
	if (vlen && v[vlen - 1] == '\n')
		vlen--;
	milter_pkt_begin(&b, MILTER_CMD_HEADER);
	milter_pkt_bytes(&b, h->text, h->name_len);
	milter_pkt_byte(&b, '\0');
	milter_pkt_bytes(&b, v, vlen);
	milter_pkt_byte(&b, '\0');
	int rc = mc_step(s, c, &b, NULL, r);
	buf_free(&b);
	return rc;
}

/* The body in chunks of at most MILTER_BODY_CHUNK bytes, LF turned into
 * CR LF as on the wire. Stops early on SKIP or a decision. */
static int
send_body(struct smtp *s, struct milter_conn *c, uint64_t off, struct milter_result *r)
{
	struct durable_reader *rd = malloc(sizeof *rd);
	struct buf b = BUF_INIT(MILTER_PACKET_MAX + 4);
	const char *p;
	ssize_t n;
	size_t chunk = 0;
	int rc = 0;
	if (!rd)
		return -2;
	durable_reader_init(rd, s->msg_fd, off, s->msg_len - off);
	milter_pkt_begin(&b, MILTER_CMD_BODY);
	while (rc == 0 && (n = durable_reader_next(rd, &p)) > 0) {
		for (ssize_t i = 0; i < n && rc == 0; i++) {
			if (p[i] == '\n') {
				milter_pkt_byte(&b, '\r');
				chunk++;
			}
			milter_pkt_byte(&b, p[i]);
			if (++chunk >= MILTER_BODY_CHUNK - 1) {
				rc = mc_step(s, c, &b, NULL, r);
				buf_free(&b);
				milter_pkt_begin(&b, MILTER_CMD_BODY);
				chunk = 0;
				if (rc == 0 && r->kind != MR_CONTINUE)
					goto out;
			}
		}
	}
	if (n < 0)
		rc = -2;
	if (rc == 0 && chunk > 0)
		rc = mc_step(s, c, &b, NULL, r);
out:
	buf_free(&b);
	free(rd);
	if (rc == 0 && r->kind == MR_SKIP)
		r->kind = MR_CONTINUE;
	return rc;
}

/* The message to one filter: DATA, headers, EOH, body, end of message.
 * 0 with r (and e) filled, -1 when the filter failed, -2 on a local
 * error (errno). */
static int
mc_message(struct smtp *s, struct milter_conn *c, struct milter_edits *e,
    struct milter_result *r)
{
	struct buf b = BUF_INIT(MILTER_PACKET_MAX + 4);
	struct msg_headers h;
	int rc;
	if (msg_headers_read(s, &h) < 0)
		return -2;
	milter_pkt_begin(&b, MILTER_CMD_DATA);
	rc = mc_step(s, c, &b, NULL, r);
	buf_free(&b);
	for (size_t i = 0; i < h.n && rc == 0 && r->kind == MR_CONTINUE; i++)
		if (h.v[i].name_len > 0)
			rc = send_header(s, c, &h.v[i], r);
	uint64_t body_off = h.body_off;
	msg_headers_free(&h);
	if (rc == 0 && r->kind == MR_CONTINUE) {
		milter_pkt_begin(&b, MILTER_CMD_EOH);
		rc = mc_step(s, c, &b, NULL, r);
		buf_free(&b);
	}
	if (rc == 0 && r->kind == MR_CONTINUE)
		rc = send_body(s, c, body_off, r);
	if (rc < 0 || r->kind != MR_CONTINUE)
		return rc;
	milter_pkt_begin(&b, MILTER_CMD_BODYEOB);
	rc = mc_step(s, c, &b, e, r);
	buf_free(&b);
	return rc;
}

enum smtp_milter_outcome
smtp_milter_message(struct smtp *s, struct milter_result *out)
{
	struct smtp_milters *ms = s->milters;
	memset(out, 0, sizeof *out);
	if (!ms)
		return SMTP_MILTER_DELIVER;
	if (ms->discard)
		return SMTP_MILTER_DISCARD;
	int quarantine = 0, rc;
	for (size_t i = 0; i < ms->n; i++) {
		struct milter_conn *c = &ms->conn[i];
		struct milter_result r;
		struct milter_edits e;
		milter_edits_init(&e);
		if (c->state == MC_FAILED) {
			default_result(s, &r);
		} else if (c->state != MC_READY || c->msg_done) {
			continue;
		} else if ((rc = mc_message(s, c, &e, &r)) < 0) {
			if (rc == -2)
				return milter_edits_free(&e), SMTP_MILTER_ERROR;
			default_result(s, &r);
		} else if (r.kind == MR_ACCEPT || r.kind == MR_CONTINUE) {
			if (milter_edits_apply(s, c, &e) < 0) {
				if (errno != EPROTO)
					return milter_edits_free(&e), SMTP_MILTER_ERROR;
				mc_fail(c, "modification");
				default_result(s, &r);
			} else if (e.quarantine) {
				/* Only a milter that went on to accept may quarantine. */
				quarantine = 1;
				snprintf(out->text, sizeof out->text, "%s", e.reason);
			}
		}
		c->in_msg = 0;
		milter_edits_free(&e);
		if (r.kind == MR_REJECT || r.kind == MR_TEMPFAIL) {
			*out = r;
			log_info("milter %s refused id=%s: %d %s %s", c->spec, s->msg_id, r.code, r.enh, r.text);
			return SMTP_MILTER_REFUSE;
		}
		if (r.kind == MR_DISCARD) {
			log_info("milter %s discarded id=%s", c->spec, s->msg_id);
			return SMTP_MILTER_DISCARD;
		}
	}
	if (s->n_rcpts == 0) {
		log_info("milters removed every recipient id=%s: discarded", s->msg_id);
		return SMTP_MILTER_DISCARD;
	}
	return quarantine ? SMTP_MILTER_QUARANTINE : SMTP_MILTER_DELIVER;
}
