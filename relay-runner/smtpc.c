/*
 * smtpc.c — the SMTP client: connect, greeting, EHLO (HELO fallback),
 * STARTTLS, AUTH, MAIL/RCPT/DATA with PIPELINING, QUIT.
 *
 * Every wait has the RFC 5321 §4.5.3.2 timeout of its stage, cut to what
 * is left of relay_timeout for the whole connection. Replies go through
 * the bounded parser in reply.c (S58); bytes after the STARTTLS go-ahead
 * fail the connection (S56); credentials go only over verified TLS (S61);
 * the body goes out with CRLF line ends, stray CRs as spaces and leading
 * dots doubled (S8, S9).
 */
#include "smtpc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "base64.h"
#include "io.h"
#include "reply.h"
#include "tls.h"

/* Commands sent in one PIPELINING batch before reading their replies, so
 * neither side's socket buffer fills up with unread data (RFC 2920 §3.2). */
#define PIPELINE_BATCH 50

struct caps {
	int pipelining, eightbit, smtputf8, starttls, dsn;
	int auth_plain, auth_login;
	uint64_t size;       /* 0: not announced */
};

struct smtpc {
	const struct conf *conf;
	struct smtpc_target target;
	const struct smtpc_target *t;   /* &target */
	int broken;          /* the connection cannot carry another command */
	struct io *io;
	int fd;
	struct tls *tls;
	int tls_on;
	struct caps caps;
	time_t deadline;
	int timed_out;       /* the last failure was a wait that ran out */
	char diag[RELAY_DIAGNOSTIC_MAX + 1];
	struct reply reply;
};

static void
fail(struct smtpc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(struct smtpc *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->diag, sizeof c->diag, fmt, ap);
	va_end(ap);
}

/* The last reply as diagnostic text, printable ASCII only (S59). */
static void
fail_reply(struct smtpc *c, const char *stage)
{
	char text[RELAY_DIAGNOSTIC_MAX + 1];
	reply_sanitize(&c->reply, text, sizeof text);
	fail(c, "%s (in reply to %s)", text, stage);
}

int
smtpc_addr_ok(const char *addr)
{
	return addr_smtp_safe(addr);
}

/* xtext values (ENVID, ORCPT) are stored as received; pass them on only
 * when they are still plain xtext characters. */
static int
xtext_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < '!' || *p > '~' || *p == '=')
			return 0;
	return 1;
}

/* Seconds to wait at a stage: its own timeout, cut to what is left of the
 * connection's budget; 0 when the budget is spent. */
static int
timeout_for(struct smtpc *c, int stage_sec)
{
	time_t left = c->deadline - time(NULL);
	if (left <= 0)
		return 0;
	return left < stage_sec ? (int)left : stage_sec;
}

/* The same for writes, which need a positive timeout to fail at all. */
static int
write_timeout(struct smtpc *c, int stage_sec)
{
	int t = timeout_for(c, stage_sec);
	return t > 0 ? t : 1;
}

/* ---- connection --------------------------------------------------------- */

static int
connect_to(struct smtpc *c)
{
	const struct smtpc_target *t = c->t;
	int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		fail(c, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS) {
		fail(c, "connect to %s[%s]: %s", t->host, t->addr_text, strerror(errno));
		close(fd);
		return -1;
	}
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	uint64_t cto = c->conf->relay_connect_timeout;
	int wait = timeout_for(c, cto == 0 ? 1 : cto > INT_MAX / 1000 ? INT_MAX / 1000 : (int)cto);
	int err = 0;
	socklen_t len = sizeof err;
	int r = poll(&pfd, 1, wait * 1000);
	if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		fail(c, "connect to %s[%s]: %s", t->host, t->addr_text,
		    r == 0 ? "timed out" : strerror(err ? err : errno));
		c->timed_out = r == 0;
		close(fd);
		return -1;
	}
	/* Commands leave in whole batches (io flushes them): no need for Nagle
	 * to hold back the next small write. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		fail(c, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	c->fd = fd;
	io_init(c->io, fd, fd);
	return 0;
}

/* Reads one reply. Returns its code, or -1 (connection trouble or a
 * malformed reply: c->diag says which). */
static int
read_reply(struct smtpc *c, int stage_sec, const char *stage)
{
	reply_init(&c->reply);
	for (;;) {
		int wait = timeout_for(c, stage_sec);
		if (wait <= 0) {
			fail(c, "conversation with %s[%s] timed out (relay_timeout) while waiting for reply to %s",
			    c->t->host, c->t->addr_text, stage);
			c->broken = 1;
			c->timed_out = 1;
			return -1;
		}
		io_set_timeout(c->io, wait);
		const unsigned char *data;
		size_t len, used;
		int st = io_peek(c->io, &data, &len);
		if (st != IO_OK) {
			fail(c, "%s with %s[%s] while waiting for reply to %s",
			    st == IO_EOF ? "lost connection" : st == IO_TIMEOUT ? "conversation timed out" :
			    "read error", c->t->host, c->t->addr_text, stage);
			c->broken = 1;
			c->timed_out = st == IO_TIMEOUT;
			return -1;
		}
		enum reply_status rs = reply_feed(&c->reply, data, len, &used);
		io_consume(c->io, used);
		if (rs == REPLY_DONE) {
			if (c->reply.code == 421)      /* the server is closing */
				c->broken = 1;
			return c->reply.code;
		}
		if (rs == REPLY_BAD) {
			fail(c, "bad reply from %s[%s] to %s: %s", c->t->host, c->t->addr_text,
			    stage, c->reply.error);
			c->broken = 1;
			return -1;
		}
	}
}

static int
send_line(struct smtpc *c, int flush, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
send_line(struct smtpc *c, int flush, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int st = io_vprintf(c->io, fmt, ap);
	va_end(ap);
	if (st == IO_OK)
		st = io_write(c->io, "\r\n", 2);
	if (st == IO_OK && flush) {
		io_set_timeout(c->io, write_timeout(c, RELAY_COMMAND_TIMEOUT_SEC));
		st = io_flush(c->io);
	}
	if (st != IO_OK) {
		fail(c, "lost connection with %s[%s] while sending a command", c->t->host,
		    c->t->addr_text);
		c->broken = 1;
		return -1;
	}
	return 0;
}

static int
flush_out(struct smtpc *c)
{
	io_set_timeout(c->io, write_timeout(c, RELAY_COMMAND_TIMEOUT_SEC));
	if (io_flush(c->io) != IO_OK) {
		fail(c, "lost connection with %s[%s] while sending commands", c->t->host,
		    c->t->addr_text);
		c->broken = 1;
		return -1;
	}
	return 0;
}

/* ---- EHLO, STARTTLS, AUTH ------------------------------------------------ */

static void
caps_parse(struct caps *caps, const struct reply *r)
{
	memset(caps, 0, sizeof *caps);
	const char *p = r->text, *end = r->text + r->text_len;
	/* The first line is the server's name; keywords follow, one a line. */
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	p = nl ? nl + 1 : end;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/* Each line whole (reply.c bounds it): a cut one could end in a
		 * keyword the server never offered ("... PLAINTEXT" cut after
		 * PLAIN). A NUL would cut it as well: such a line names nothing. */
		char line[SMTP_REPLY_LINE_MAX + 1];
		if (len >= sizeof line || memchr(p, '\0', len)) {
			p = nl ? nl + 1 : end;
			continue;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		if (!strcasecmp(line, "PIPELINING"))
			caps->pipelining = 1;
		else if (!strcasecmp(line, "8BITMIME"))
			caps->eightbit = 1;
		else if (!strcasecmp(line, "SMTPUTF8"))
			caps->smtputf8 = 1;
		else if (!strcasecmp(line, "STARTTLS"))
			caps->starttls = 1;
		else if (!strcasecmp(line, "DSN"))
			caps->dsn = 1;
		else if (!strncasecmp(line, "SIZE", 4) && (line[4] == ' ' || !line[4]))
			caps->size = strtoull(line + 4, NULL, 10);
		else if (!strncasecmp(line, "AUTH", 4) && (line[4] == ' ' || line[4] == '=')) {
			char *save = NULL;
			for (char *m = strtok_r(line + 5, " ", &save); m; m = strtok_r(NULL, " ", &save)) {
				if (!strcasecmp(m, "PLAIN"))
					caps->auth_plain = 1;
				else if (!strcasecmp(m, "LOGIN"))
					caps->auth_login = 1;
			}
		}
		p = nl ? nl + 1 : end;
	}
}

static int
ehlo(struct smtpc *c)
{
	if (send_line(c, 1, "EHLO %s", c->conf->hostname) < 0)
		return -1;
	int code = read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "EHLO");
	if (code < 0)
		return -1;
	if (code / 100 == 2) {
		caps_parse(&c->caps, &c->reply);
		return 0;
	}
	if (code / 100 != 5) {
		fail_reply(c, "EHLO");
		return -1;
	}
	/* An RFC 821 server: HELO, and no extensions at all. */
	memset(&c->caps, 0, sizeof c->caps);
	if (send_line(c, 1, "HELO %s", c->conf->hostname) < 0)
		return -1;
	code = read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "HELO");
	if (code < 0)
		return -1;
	if (code / 100 != 2) {
		fail_reply(c, "HELO");
		return -1;
	}
	return 0;
}

/* Returns 0 (TLS on, or plaintext allowed), -1 host failure, -2 when an
 * opportunistic handshake failed (retry in plaintext). */
static int
starttls(struct smtpc *c)
{
	const struct smtpc_target *t = c->t;
	int required = t->tls != TLS_POLICY_MAY;
	if (t->no_tls)
		return 0;
	if (!c->caps.starttls) {
		if (!required)
			return 0;
		fail(c, "4.7.0 TLS is required, but was not offered by host %s[%s]", t->host,
		    t->addr_text);
		return -1;
	}
	if (send_line(c, 1, "STARTTLS") < 0)
		return -1;
	int code = read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "STARTTLS");
	if (code < 0)
		return -1;
	if (code != 220) {
		if (!required)
			return 0;
		fail_reply(c, "STARTTLS");
		return -1;
	}
	/* Anything the server sent after its go-ahead arrived in plaintext
	 * and could be an injected EHLO reply (S56): never use it. */
	if (io_buffered(c->io) > 0) {
		fail(c, "4.7.0 host %s[%s] sent data after its STARTTLS reply (possible injection)",
		    t->host, t->addr_text);
		return -1;
	}
	char err[256];
	c->tls = tls_client_new(t->host, t->tls == TLS_POLICY_VERIFY, t->ca_file,
	    c->conf->tls_priority, err, sizeof err);
	if (!c->tls) {
		fail(c, "4.7.5 TLS setup for %s: %s", t->host, err);
		return -1;
	}
	tls_set_handshake_timeout(c->tls, write_timeout(c, TLS_HANDSHAKE_TIMEOUT_SEC));
	if (tls_handshake(c->tls, c->io, err, sizeof err) < 0) {
		fail(c, "4.7.5 TLS handshake with %s[%s] failed: %s", t->host, t->addr_text, err);
		return required ? -1 : -2;
	}
	c->tls_on = 1;
	/* RFC 3207 §4.2: forget what was learnt before TLS, ask again. */
	return ehlo(c);
}

static int
auth(struct smtpc *c)
{
	const struct smtpc_target *t = c->t;
	if (!t->auth_user)
		return 0;
	/* Credentials never travel in plaintext or to an unverified host (S61);
	 * TLS_POLICY_VERIFY made the handshake check chain and name. */
	if (!c->tls_on || t->tls != TLS_POLICY_VERIFY) {
		fail(c, "4.7.0 not sending credentials to %s[%s] without verified TLS",
		    t->host, t->addr_text);
		return -1;
	}
	size_t ul = strlen(t->auth_user), pl = strlen(t->auth_pass);
	if (ul > 255 || pl > 255) {
		fail(c, "4.7.0 relay_auth credentials too long");
		return -1;
	}
	unsigned char raw[520];
	char b64[720];
	int code;
	if (c->caps.auth_plain) {
		raw[0] = '\0';
		memcpy(raw + 1, t->auth_user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, t->auth_pass, pl);
		base64_encode(raw, 2 + ul + pl, b64, sizeof b64);
		if (send_line(c, 1, "AUTH PLAIN %s", b64) < 0)
			return -1;
		code = read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "AUTH");
	} else if (c->caps.auth_login) {
		if (send_line(c, 1, "AUTH LOGIN") < 0)
			return -1;
		code = read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "AUTH");
		if (code == 334) {
			base64_encode((const unsigned char *)t->auth_user, ul, b64, sizeof b64);
			if (send_line(c, 1, "%s", b64) < 0)
				return -1;
			code = read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "AUTH");
		}
		if (code == 334) {
			base64_encode((const unsigned char *)t->auth_pass, pl, b64, sizeof b64);
			if (send_line(c, 1, "%s", b64) < 0)
				return -1;
			code = read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "AUTH");
		}
	} else {
		fail(c, "4.7.0 host %s[%s] offers no AUTH PLAIN or LOGIN", t->host, t->addr_text);
		return -1;
	}
	explicit_bzero(raw, sizeof raw);
	explicit_bzero(b64, sizeof b64);
	if (code < 0)
		return -1;
	if (code != 235) {
		fail_reply(c, "AUTH");
		return -1;
	}
	return 0;
}

/* ---- the transaction ----------------------------------------------------- */

static void
set_result(struct smtpc_rcpt *r, enum rcpt_result res, const char *diag)
{
	r->result = res;
	snprintf(r->diag, sizeof r->diag, "%s", diag);
}

/* Every recipient without a result yet gets res. */
static void
set_open(struct smtpc_rcpt *rcpts, size_t n, enum rcpt_result res, const char *diag)
{
	for (size_t i = 0; i < n; i++)
		if (rcpts[i].result == RCPT_NONE)
			set_result(&rcpts[i], res, diag);
}

/* The verdict on a refusal: only a 5xx is permanent. A reply the command
 * cannot have (a 3xx to MAIL, RCPT or the end of data, a 2xx or 3xx other
 * than 354 to DATA) is temporary, and ends the session: what the peer
 * expects next is unknown, so nothing more is sent on it. */
static enum rcpt_result
refusal(struct smtpc *c, int code, const char *stage)
{
	if (code / 100 == 5)
		return RCPT_PERM;
	if (code / 100 != 4) {
		fail_reply(c, stage);
		c->broken = 1;
	}
	return RCPT_TEMP;
}

static enum rcpt_result
verdict(struct smtpc *c, int code, const char *stage)
{
	return code / 100 == 2 ? RCPT_OK : refusal(c, code, stage);
}

static int
send_mail(struct smtpc *c, const struct smtpc_msg *m, int flush)
{
	const struct spool_envelope *e = m->env;
	char params[512] = "";
	size_t o = 0;
	if (c->caps.size)
		o += (size_t)snprintf(params + o, sizeof params - o, " SIZE=%llu",
		    (unsigned long long)m->wire_size);
	/* Declared 8BITMIME is passed on even when the bytes happen to be
	 * 7-bit; 8-bit bytes need it either way. */
	if ((m->has_8bit || m->env->body_8bit) && c->caps.eightbit)
		o += (size_t)snprintf(params + o, sizeof params - o, " BODY=8BITMIME");
	if (m->need_utf8 && c->caps.smtputf8)
		o += (size_t)snprintf(params + o, sizeof params - o, " SMTPUTF8");
	if (c->caps.dsn && e->ret != SPOOL_RET_DEFAULT)
		o += (size_t)snprintf(params + o, sizeof params - o, " RET=%s",
		    e->ret == SPOOL_RET_FULL ? "FULL" : "HDRS");
	if (c->caps.dsn && xtext_ok(e->envid) && strlen(e->envid) <= DSN_ENVID_MAX)
		snprintf(params + o, sizeof params - o, " ENVID=%s", e->envid);
	return send_line(c, flush, "MAIL FROM:<%s>%s", e->sender, params);
}

static int
send_rcpt(struct smtpc *c, const struct spool_rcpt *r, int flush)
{
	char params[700] = "";
	size_t o = 0;
	if (c->caps.dsn && r->notify) {
		if (r->notify & SPOOL_NOTIFY_NEVER) {
			o += (size_t)snprintf(params, sizeof params, " NOTIFY=NEVER");
		} else {
			o += (size_t)snprintf(params, sizeof params, " NOTIFY=%s%s%s",
			    r->notify & SPOOL_NOTIFY_SUCCESS ? "SUCCESS," : "",
			    r->notify & SPOOL_NOTIFY_FAILURE ? "FAILURE," : "",
			    r->notify & SPOOL_NOTIFY_DELAY ? "DELAY," : "");
			params[--o] = '\0';   /* the last comma */
		}
	}
	if (c->caps.dsn && xtext_ok(r->orcpt) && strlen(r->orcpt) <= DSN_ORCPT_MAX)
		snprintf(params + o, sizeof params - o, " ORCPT=%s", r->orcpt);
	return send_line(c, flush, "RCPT TO:<%s>%s", r->addr, params);
}

/* Writes the message: LF → CRLF, a CR not before LF → space (S8), a dot
 * at the start of a line doubled (S9), a missing final line end added,
 * then the terminator. */
static int
send_body(struct smtpc *c, const struct smtpc_msg *m)
{
	unsigned char in[16384], out[2 * sizeof in + 8];
	uint64_t off = m->offset, left = m->length;
	int bol = 1, cr = 0;
	while (left > 0) {
		size_t want = left < sizeof in ? (size_t)left : sizeof in;
		ssize_t got = pread(m->fd, in, want, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			fail(c, "4.3.0 cannot read the queued message: %s",
			    got < 0 ? strerror(errno) : "short file");
			return -1;
		}
		size_t o = 0;
		for (ssize_t i = 0; i < got; i++) {
			unsigned char b = in[i];
			if (cr) {
				cr = 0;
				if (b == '\n') {
					out[o++] = '\r';
					out[o++] = '\n';
					bol = 1;
					continue;
				}
				out[o++] = ' ';
				bol = 0;
			}
			if (b == '\r') {
				cr = 1;
			} else if (b == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				bol = 1;
			} else {
				if (bol && b == '.')
					out[o++] = '.';
				out[o++] = b;
				bol = 0;
			}
		}
		io_set_timeout(c->io, write_timeout(c, RELAY_DATA_BLOCK_TIMEOUT_SEC));
		if (io_write(c->io, out, o) != IO_OK)
			goto lost;
		off += (uint64_t)got;
		left -= (uint64_t)got;
	}
	if (cr) {
		if (io_write(c->io, " ", 1) != IO_OK)
			goto lost;
		bol = 0;
	}
	if (!bol && io_write(c->io, "\r\n", 2) != IO_OK)
		goto lost;
	if (io_write(c->io, ".\r\n", 3) != IO_OK || io_flush(c->io) != IO_OK)
		goto lost;
	return 0;
lost:
	fail(c, "lost connection with %s[%s] while sending message content", c->t->host,
	    c->t->addr_text);
	c->broken = 1;
	return -1;
}

/* Reads the replies to the RCPTs first..last sent since the last read.
 * mail_ok: whether MAIL was accepted (else the replies are read and
 * ignored: the MAIL verdict decides). Returns 0, or -1 on a broken
 * connection. */
static int
read_rcpt_replies(struct smtpc *c, struct smtpc_rcpt *rcpts, size_t first, size_t last,
    int mail_ok, size_t *accepted_r)
{
	char text[RELAY_DIAGNOSTIC_MAX + 1], full[RELAY_DIAGNOSTIC_MAX + 1];
	for (size_t i = first; i < last; i++) {
		if (rcpts[i].result != RCPT_NONE)
			continue;          /* refused locally, never sent */
		int code = read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "RCPT TO");
		if (code < 0)
			return -1;
		if (!mail_ok)
			continue;
		if (code / 100 == 2) {
			(*accepted_r)++;
			continue;
		}
		reply_sanitize(&c->reply, text, sizeof text);
		snprintf(full, sizeof full, "%.900s (in reply to RCPT TO)", text);
		/* RFC 5321 §4.5.3.1.10: 552 to RCPT means "too many recipients". */
		set_result(&rcpts[i], code == 552 ? RCPT_TEMP : refusal(c, code, "RCPT TO"), full);
	}
	return 0;
}

/* MAIL, RCPT (pipelined in batches when offered), DATA. Returns 1 when DATA
 * got 354, 0 when the transaction ended without data (results set), -1 on
 * a broken connection. */
static int
envelope(struct smtpc *c, const struct smtpc_msg *m, struct smtpc_rcpt *rcpts, size_t n)
{
	int pipe = c->caps.pipelining, mail_code = 0;
	size_t accepted = 0, batch = pipe ? PIPELINE_BATCH : 1;
	char mail_diag[RELAY_DIAGNOSTIC_MAX + 1] = "";
	if (send_mail(c, m, !pipe) < 0)
		return -1;
	for (size_t first = 0; first < n || (pipe && first == 0); first += batch) {
		size_t last = first + batch < n ? first + batch : n;
		if (first == 0 && !pipe) {
			/* Without pipelining, MAIL is answered before any RCPT. */
			if ((mail_code = read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "MAIL FROM")) < 0)
				return -1;
			if (mail_code / 100 != 2)
				break;
		}
		for (size_t i = first; i < last; i++) {
			const struct spool_rcpt *r = &m->env->rcpts[rcpts[i].index];
			if (!smtpc_addr_ok(r->addr)) {
				set_result(&rcpts[i], RCPT_PERM, "5.1.3 bad recipient address syntax");
				continue;
			}
			if (send_rcpt(c, r, !pipe) < 0)
				return -1;
		}
		if (pipe && flush_out(c) < 0)
			return -1;
		if (first == 0 && pipe &&
		    (mail_code = read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "MAIL FROM")) < 0)
			return -1;
		if (first == 0 && mail_code / 100 != 2) {
			fail_reply(c, "MAIL FROM");
			snprintf(mail_diag, sizeof mail_diag, "%s", c->diag);
		}
		if (read_rcpt_replies(c, rcpts, first, last, mail_code / 100 == 2, &accepted) < 0)
			return -1;
	}
	if (mail_code / 100 != 2) {
		if (!mail_diag[0]) {
			fail_reply(c, "MAIL FROM");
			snprintf(mail_diag, sizeof mail_diag, "%s", c->diag);
		}
		set_open(rcpts, n, refusal(c, mail_code, "MAIL FROM"), mail_diag);
		return 0;
	}
	/* A RCPT reply that makes no sense: no DATA on this session. */
	if (c->broken)
		return -1;
	if (accepted == 0) {
		if (send_line(c, 1, "RSET") == 0)
			read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "RSET");
		return 0;
	}
	if (send_line(c, 1, "DATA") < 0)
		return -1;
	int code = read_reply(c, RELAY_DATA_INIT_TIMEOUT_SEC, "DATA");
	if (code < 0)
		return -1;
	if (code != 354) {
		fail_reply(c, "DATA");
		set_open(rcpts, n, refusal(c, code, "DATA"), c->diag);
		return 0;
	}
	/* Nothing may follow the 354 before our data: a reply waiting here
	 * would be taken for the verdict on the message (S58). */
	if (io_buffered(c->io) > 0) {
		fail(c, "host %s[%s] sent data after its 354 reply", c->t->host, c->t->addr_text);
		c->broken = 1;
		return -1;
	}
	return 1;
}

static void
transaction(struct smtpc *c, const struct smtpc_msg *m, struct smtpc_rcpt *rcpts, size_t n)
{
	int st = envelope(c, m, rcpts, n);
	if (st < 0) {
		set_open(rcpts, n, RCPT_TEMP, c->diag);
		return;
	}
	if (st == 0)
		return;
	if (send_body(c, m) < 0) {
		set_open(rcpts, n, RCPT_TEMP, c->diag);
		return;
	}
	int code = read_reply(c, RELAY_DATA_END_TIMEOUT_SEC, "end of DATA");
	if (code < 0) {
		/* The peer may have stored it: resending risks a duplicate, which
		 * at-least-once accepts (S68, RFC 1047). */
		set_open(rcpts, n, RCPT_TEMP, c->diag);
		return;
	}
	char text[RELAY_DIAGNOSTIC_MAX + 1], full[RELAY_DIAGNOSTIC_MAX + 1];
	reply_sanitize(&c->reply, text, sizeof text);
	snprintf(full, sizeof full, "%.900s (in reply to end of DATA)", text);
	set_open(rcpts, n, verdict(c, code, "end of DATA"), code / 100 == 2 ? text : full);
}

/* Checks that need the peer's extensions but no command: size, 8-bit,
 * SMTPUTF8, sender syntax. Returns 0, or -1 with every recipient failed. */
static int
precheck(struct smtpc *c, const struct smtpc_msg *m, struct smtpc_rcpt *rcpts, size_t n)
{
	char why[RELAY_DIAGNOSTIC_MAX + 1];
	if (!smtpc_addr_ok(m->env->sender))
		snprintf(why, sizeof why, "5.1.7 bad sender address syntax");
	else if (c->caps.size && m->wire_size > c->caps.size)
		snprintf(why, sizeof why, "5.3.4 message size %llu exceeds the limit of %s[%s] (%llu)",
		    (unsigned long long)m->wire_size, c->t->host, c->t->addr_text,
		    (unsigned long long)c->caps.size);
	/* RFC 6152 §3 allows conversion or a bounce; yubin bounces rather
	 * than rewrite MIME structure it might break. */
	else if (m->has_8bit && !c->caps.eightbit)
		snprintf(why, sizeof why, "5.6.3 %s[%s] does not support 8BITMIME and the "
		    "message has 8-bit content", c->t->host, c->t->addr_text);
	else if (m->need_utf8 && !c->caps.smtputf8)
		snprintf(why, sizeof why, "5.6.7 %s[%s] does not support SMTPUTF8, which the "
		    "message needs", c->t->host, c->t->addr_text);
	else
		return 0;
	set_open(rcpts, n, RCPT_PERM, why);
	return -1;
}

/* Says goodbye, best effort; keeps the diagnostic of what went before. */
static void
quit(struct smtpc *c)
{
	char saved[sizeof c->diag];
	memcpy(saved, c->diag, sizeof saved);
	if (send_line(c, 1, "QUIT") == 0) {
		time_t cap = time(NULL) + 10;
		if (cap < c->deadline)
			c->deadline = cap;
		read_reply(c, RELAY_COMMAND_TIMEOUT_SEC, "QUIT");
	}
	memcpy(c->diag, saved, sizeof saved);
}

static enum smtpc_status
session_open(struct smtpc *c)
{
	/* No answer in time, before the greeting: the host may be unreachable
	 * (a black hole after an outage), which the caller remembers (S72). */
	if (connect_to(c) < 0)
		return c->timed_out ? SMTPC_HOST_TIMEOUT : SMTPC_HOST_FAILED;
	int code = read_reply(c, RELAY_GREETING_TIMEOUT_SEC, "initial greeting");
	if (code < 0)
		return c->timed_out ? SMTPC_HOST_TIMEOUT : SMTPC_HOST_FAILED;
	if (code != 220) {
		fail_reply(c, "initial greeting");
		quit(c);
		return SMTPC_HOST_FAILED;
	}
	if (ehlo(c) < 0) {
		quit(c);
		return SMTPC_HOST_FAILED;
	}
	int st = starttls(c);
	if (st == -2)
		return SMTPC_TLS_RETRY;
	if (st < 0 || auth(c) < 0) {
		quit(c);
		return SMTPC_HOST_FAILED;
	}
	return SMTPC_DONE;
}

static void
smtpc_free(struct smtpc *c)
{
	if (c->tls)
		tls_free(&c->tls);
	if (c->fd >= 0)
		close(c->fd);
	free(c->io);
	free(c);
}

struct smtpc *
smtpc_open(const struct conf *conf, const struct smtpc_target *t, enum smtpc_status *st_r,
    char *diag, size_t diagsize, char *tls_r, size_t tlssize)
{
	struct smtpc *c = calloc(1, sizeof *c);
	struct io *io = calloc(1, sizeof *io);
	snprintf(tls_r, tlssize, "none");
	if (!c || !io) {
		free(c);
		free(io);
		snprintf(diag, diagsize, "4.3.0 out of memory");
		*st_r = SMTPC_HOST_FAILED;
		return NULL;
	}
	c->conf = conf;
	c->target = *t;
	c->t = &c->target;
	c->io = io;
	c->fd = -1;
	c->deadline = time(NULL) + (time_t)(conf->relay_timeout ? conf->relay_timeout : 1);
	*st_r = session_open(c);
	snprintf(tls_r, tlssize, "%s", c->tls_on ? tls_describe(c->tls) : "none");
	snprintf(diag, diagsize, "%s", c->diag);
	if (*st_r != SMTPC_DONE) {
		smtpc_free(c);
		return NULL;
	}
	return c;
}

void
smtpc_send(struct smtpc *c, const struct smtpc_msg *m, struct smtpc_rcpt *rcpts, size_t n)
{
	/* relay_timeout bounds each message on a reused connection. */
	c->deadline = time(NULL) + (time_t)(c->conf->relay_timeout ? c->conf->relay_timeout : 1);
	c->diag[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		rcpts[i].result = RCPT_NONE;
		rcpts[i].dsn_passed = c->caps.dsn;
		rcpts[i].diag[0] = '\0';
	}
	if (!c->broken && precheck(c, m, rcpts, n) == 0)
		transaction(c, m, rcpts, n);
	set_open(rcpts, n, RCPT_TEMP, c->diag[0] ? c->diag : "4.4.2 connection unusable");
}

int
smtpc_reusable(struct smtpc *c)
{
	if (c->broken)
		return 0;
	c->deadline = time(NULL) + RELAY_REUSE_CHECK_SEC;
	if (send_line(c, 1, "RSET") < 0 || read_reply(c, RELAY_REUSE_CHECK_SEC, "RSET") != 250)
		c->broken = 1;
	return !c->broken;
}

const char *
smtpc_tls(const struct smtpc *c)
{
	return c->tls_on ? tls_describe(c->tls) : "none";
}

void
smtpc_close(struct smtpc **cp)
{
	struct smtpc *c = *cp;
	if (!c)
		return;
	if (!c->broken) {
		c->deadline = time(NULL) + 10;
		quit(c);
	}
	smtpc_free(c);
	*cp = NULL;
}
