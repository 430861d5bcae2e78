/*
 * message.c — DATA and BDAT: stream the content into a memory file, moved
 * to a temporary file in the spool once it is large (bounded memory
 * whatever the size), then store it in every local mailbox
 * and the spool in one transaction. 250 only after every copy is fsync'd.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data.h"
#include "date.h"
#include "delivery.h"
#include "durable.h"
#include "log.h"
#include "smtp-milter.h"
#include "spool.h"
#include "users.h"

/* A queue id: time and randomness, unique enough to find a message in logs. */
static void
make_msg_id(struct smtp *s)
{
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
		rnd = (uint32_t)getpid();
	snprintf(s->msg_id, sizeof s->msg_id, "%llX%08X",
	    (unsigned long long)time(NULL), rnd);
}

/* RFC 3848 protocol names: S for TLS, A for an authenticated client. */
static const char *
protocol_name(const struct smtp *s)
{
	static const char *esmtp[2][2] = { { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } };
	static const char *utf8[2][2] = { { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } };
	if (!s->esmtp)
		return "SMTP";
	int tls = s->tls != NULL, auth = s->auth_user[0] != '\0';
	return s->smtputf8 ? utf8[tls][auth] : esmtp[tls][auth];
}

/* Appends to a fixed buffer; a result that does not fit fails later. */
static void
buf_appendf(char *buf, size_t size, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void
buf_appendf(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
	if (*n >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf + *n, size - *n, fmt, ap);
	va_end(ap);
	*n = r < 0 ? size : *n + (size_t)r;
}

/* Keeps a header printable ASCII: control and 8-bit bytes become '?',
 * except the LF-TAB folds we put there ourselves (S29). */
static void
header_sanitise(char *p)
{
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\n' && (p[1] == '\t' || p[1] == '\0'))
			continue;
		if (c == '\t' && p[-1] == '\n')
			continue;
		if (c < 0x20 || c >= 0x7f)
			*p = '?';
	}
}

/* RFC 5321 §4.4 trace header, folded, printable ASCII only (S29). */
static int
write_received(struct smtp *s, int fd)
{
	char date[DATE_RFC5322_SIZE], peer[80], buf[2048];
	size_t n = 0;
	if (date_rfc5322(time(NULL), date, sizeof date) < 0)
		return -1;
	if (!strcmp(s->session.peer, "local"))
		snprintf(peer, sizeof peer, "local");
	else
		snprintf(peer, sizeof peer, "[%s%s]", strchr(s->session.peer, ':') ? "IPv6:" : "",
		    s->session.peer);
	buf_appendf(buf, sizeof buf, &n, "Received: from %s (%s)\n\tby %s (yubin) with %s id %s",
	    s->helo[0] ? s->helo : "unknown", peer, s->conf->hostname, protocol_name(s), s->msg_id);
	if (s->tls_info[0])
		buf_appendf(buf, sizeof buf, &n, "\n\t(%s)", s->tls_info);
	if (s->auth_user[0])
		buf_appendf(buf, sizeof buf, &n, "\n\t(authenticated as %s)", s->auth_user);
	if (s->n_rcpts == 1)
		buf_appendf(buf, sizeof buf, &n, "\n\tfor <%s>", s->rcpts[0].addr);
	buf_appendf(buf, sizeof buf, &n, ";\n\t%s\n", date);
	if (n >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	header_sanitise(buf);
	return durable_write_all(fd, buf, n);
}

/* Starts the content file of a transaction: Received: first. */
static int
message_begin(struct smtp *s)
{
	make_msg_id(s);
	s->msg_fd = smtp_msg_file_for(s, 0);
	if (s->msg_fd < 0)
		return -1;
	if (write_received(s, s->msg_fd) < 0)
		return -1;
	off_t end = lseek(s->msg_fd, 0, SEEK_END);
	s->msg_len = end < 0 ? 0 : (uint64_t)end;
	s->msg_trace_len = s->msg_len;
	return 0;
}

/* Appends decoded content unless the size limit is passed (then it only
 * counts, so the client still gets its one reply at the end, S48). */
static int
message_append(struct smtp *s, const unsigned char *buf, size_t len)
{
	s->msg_seen += len;
	if (s->msg_too_big || len == 0)
		return 0;
	if (s->msg_len + len > s->conf->max_message_size) {
		s->msg_too_big = 1;
		return 0;
	}
	/* Crossing the bound happens once: the fd is still message_begin's
	 * memory file (inserts and milter edits come after the content). */
	if (s->msg_len <= SMTP_MSG_MEMORY_MAX && s->msg_len + len > SMTP_MSG_MEMORY_MAX &&
	    smtp_msg_spill(s) < 0)
		return -1;
	if (durable_write_all(s->msg_fd, buf, len) < 0)
		return -1;
	s->msg_len += len;
	return 0;
}

static int
targets_expand(struct smtp *s, struct targets *t)
{
	for (size_t i = 0; i < s->n_rcpts; i++)
		if (targets_add_rcpt(s->conf, t, s->rcpts[i].addr, s->rcpts[i].notify,
		    s->rcpts[i].orcpt) < 0)
			return -1;
	return 0;
}

/* The spool envelope for the remote targets. */
static void
spool_envelope_for(struct smtp *s, struct spool_envelope *env)
{
	memset(env, 0, sizeof *env);
	env->sender = s->sender;
	env->envid = s->envid;
	env->ret = s->ret;
	env->body_8bit = s->body_8bit;
	env->smtputf8 = s->smtputf8;
	env->auth_user = s->auth_user[0] ? s->auth_user : NULL;
	env->arrival = time(NULL);
	env->next_attempt = env->arrival;
}

/* One log line per accepted message: id, size, sender, recipients. */
static void
log_accepted(const struct smtp *s, const struct targets *t)
{
	char rcpts[1024], shown[ADDR_PATH_MAX * 4 + 1];
	size_t n = 0;
	rcpts[0] = '\0';
	for (size_t i = 0; i < s->n_rcpts && n < sizeof rcpts; i++) {
		log_field(shown, sizeof shown, s->rcpts[i].addr, strlen(s->rcpts[i].addr));
		buf_appendf(rcpts, sizeof rcpts, &n, "%s<%s>", i ? "," : "", shown);
	}
	log_field(shown, sizeof shown, s->sender, strlen(s->sender));
	log_info("accepted id=%s size=%llu from=<%s> to=%s%s local=%zu remote=%zu", s->msg_id,
	    (unsigned long long)s->msg_len, shown, rcpts, n >= sizeof rcpts ? "..." : "",
	    t->n_local, t->n_remote);
}

/* Stores every copy: all written and fsync'd first, then published; all
 * of them or none (README: "all mailboxes and the spool, or none"). */
static int
message_store(struct smtp *s)
{
	struct targets t = { 0 };
	struct delivery d = { 0 };
	struct smtp_notices notices = { .n_pending = 0 };
	int rc = -1;
	if (targets_expand(s, &t) < 0)
		goto out;
	int space = smtp_space_check(s, &t, s->msg_len);
	if (space != 0) {
		log_info("insufficient storage id=%s size=%llu local=%zu remote=%zu", s->msg_id,
		    (unsigned long long)s->msg_len, t.n_local, t.n_remote);
		errno = space == 2 ? EFBIG : ENOSPC;
		goto out;
	}
	/* One reply answers for every recipient, so a mailbox over its quota
	 * refuses the message for all: the sender retries them together. */
	size_t who = 0;
	int over = smtp_quota_over(s, &t, s->msg_len, &who);
	if (over != 0) {
		if (over > 0) {
			log_info("%s id=%s size=%llu rcpt=%s",
			    over == 2 ? "larger than the quota" : "mailbox full", s->msg_id,
			    (unsigned long long)s->msg_len, t.local[who]);
			s->quota_full = over;
			errno = EDQUOT;
		}
		goto out;
	}
	struct spool_envelope env;
	spool_envelope_for(s, &env);
	if (delivery_prepare(&d, s->conf, &t, &env, s->msg_fd, s->msg_len) < 0 ||
	    smtp_notices_prepare(s, &d.txn, &notices) < 0)
		goto out;
	/* The message's spool file is published last (lib/delivery.h); the
	 * success notices just before it, so they are withdrawn if it fails. */
	if (delivery_publish(&d) < 0 || smtp_notices_commit(&notices) < 0)
		goto out;
	if (delivery_commit(&d) < 0) {
		smtp_notices_withdraw(&notices);
		goto out;
	}
	rc = 0;
	log_accepted(s, &t);
out:;
	int saved = errno;
	delivery_abort(&d);
	smtp_notices_abort(&notices);
	targets_free(&t);
	errno = saved;
	return rc;
}

/* message_store with the session deadline (SIGALRM) and a polite stop
 * (SIGTERM, SIGHUP, SIGINT) held back: dying half way through an mbox
 * append would leave half a message behind. They act once it is done. */
static int
message_deliver(struct smtp *s)
{
	sigset_t hold, old;
	sigemptyset(&hold);
	sigaddset(&hold, SIGALRM);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGINT);
	sigprocmask(SIG_BLOCK, &hold, &old);
	int rc = message_store(s);
	int saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return rc;
}

/* A failed write or fsync: 452 when the disk or quota is full (S65);
 * 552 when the message's copies can never fit (S54), or the message is
 * larger than a recipient's whole quota. */
static void
reply_store_error(struct smtp *s, int err)
{
	int quota_full = s->quota_full;
	s->quota_full = 0;
	if (quota_full == 2 && err == EDQUOT)
		smtp_reply(s, 552, "5.2.2", "Message exceeds a mailbox's quota");
	else if (quota_full && err == EDQUOT)
		smtp_reply(s, 452, "4.2.2", "Mailbox full");
	else if (err == ENOSPC || err == EDQUOT)
		smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
	else if (err == EFBIG)    /* more copies than the file systems hold */
		smtp_reply(s, 552, "5.3.4", "Message too big for system");
	else
		smtp_reply(s, 451, "4.3.0", "Error: queue file write error");
}

/* RFC 5321 §4.5.3.2: the end of DATA may take twice a command's wait. */
static int
data_timeout(const struct smtp *s)
{
	return (int)(s->conf->smtp_timeout * 2);
}

/* Far past the limit the rest is not worth reading (S48). */
static int
message_hopeless(const struct smtp *s)
{
	return s->msg_seen / 2 > s->conf->max_message_size;
}

/* Submission headers, the milters (which may change the message and its
 * envelope, refuse, discard or quarantine it), the built-in DKIM signer
 * (last, so it signs what is stored; a quarantined message too, so a
 * release sends what acceptance would have), then storage; replies.
 * NULL after a 250, else what went wrong, for the log. */
static const char *
message_accept(struct smtp *s)
{
	struct milter_result mr;
	enum smtp_milter_outcome o = SMTP_MILTER_DELIVER;
	if (smtp_submission_headers(s) < 0 ||
	    (o = smtp_milter_message(s, &mr)) == SMTP_MILTER_ERROR ||
	    (o == SMTP_MILTER_DELIVER && (smtp_dkim_sign(s) < 0 || message_deliver(s) < 0)) ||
	    (o == SMTP_MILTER_QUARANTINE && (smtp_dkim_sign(s) < 0 ||
	    smtp_quarantine_store(s, mr.text) < 0))) {
		int e = errno;
		log_err("delivery failed id=%s: %s", s->msg_id, strerror(e));
		reply_store_error(s, e);
		return "store";
	}
	if (o == SMTP_MILTER_REFUSE) {
		smtp_reply(s, mr.code, mr.enh, "%s", mr.text);
		return "milter";
	}
	if (o == SMTP_MILTER_DISCARD)
		log_info("discarded id=%s: stored nowhere", s->msg_id);
	s->messages++;
	smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", s->msg_id);
	return NULL;
}

/* The one reply that ends DATA or BDAT LAST. */
static void
message_finish(struct smtp *s, const struct data_reader *d)
{
	const char *problem = NULL;
	if (s->msg_too_big) {
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		problem = "too big";
	} else if (d->nul) {
		smtp_reply(s, 554, "5.6.0", "Error: NUL in message");
		problem = "NUL";
	} else if ((d->bare_lf || d->bare_cr) && s->conf->smtp_bare_newline == BARE_NEWLINE_REJECT) {
		smtp_reply(s, 550, "5.5.2", "Error: bare <%s> received", d->bare_lf ? "LF" : "CR");
		problem = "bare newline";
	} else if (d->header_bytes > SMTP_HEADER_MAX) {
		smtp_reply(s, 552, "5.6.0", "Error: message header too big");
		problem = "header too big";
	} else if (d->hops > HOP_COUNT_MAX) {
		smtp_reply(s, 554, "5.4.6", "Error: too many hops");
		problem = "hop count";
	} else {
		problem = message_accept(s);
	}
	if (problem) {
		char shown[ADDR_PATH_MAX * 4 + 1];
		log_field(shown, sizeof shown, s->sender, strlen(s->sender));
		log_info("rejected id=%s from=<%s>: %s", s->msg_id, shown, problem);
	}
	smtp_reset(s);
}

/* Reads DATA content from the connection until CRLF.CRLF. Returns 0 at the
 * end of data, -1 if the connection ended or timed out (nothing stored). */
static int
data_receive(struct smtp *s, struct data_reader *d, int *write_failed)
{
	unsigned char out[IO_BUFFER_SIZE + 1];  /* + a held-back CR (data.h) */
	io_set_timeout(&s->io, data_timeout(s));
	while (!d->done) {
		const unsigned char *in;
		size_t len, out_len;
		int st = io_peek(&s->io, &in, &len);
		if (st != IO_OK) {
			if (st == IO_TIMEOUT)
				smtp_reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->conf->hostname);
			log_info("connection lost during DATA id=%s", s->msg_id);
			return -1;
		}
		if (len > sizeof out - 1)
			len = sizeof out - 1;
		size_t used = data_feed(d, in, len, out, &out_len);
		io_consume(&s->io, used);
		if (!*write_failed && message_append(s, out, out_len) < 0)
			*write_failed = errno ? errno : EIO;
		if (message_hopeless(s)) {
			smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
			log_info("message far too big id=%s: closing", s->msg_id);
			return -1;
		}
	}
	io_set_timeout(&s->io, (int)s->conf->smtp_timeout);
	return 0;
}

enum smtp_verdict
smtp_cmd_data(struct smtp *s, char *args)
{
	if (*args) {
		smtp_reply(s, 501, "5.5.4", "Syntax: DATA");
		return SMTP_CONTINUE;
	}
	if (s->state == SMTP_STATE_BDAT) {
		smtp_reply(s, 503, "5.5.1", "Error: BDAT in progress");
		return SMTP_CONTINUE;
	}
	if (s->state != SMTP_STATE_RCPT) {
		smtp_reply(s, 503, "5.5.1", s->state == SMTP_STATE_MAIL ?
		    "Error: no valid recipients" : "Error: need RCPT command");
		return SMTP_CONTINUE;
	}
	/* Content sent before our 354 (S6): the client did not wait. */
	if (s->strict_sync && io_buffered(&s->io) > 0)
		return smtp_sync_error(s, "DATA");
	if (message_begin(s) < 0) {
		log_err("cannot open message file: %s", strerror(errno));
		reply_store_error(s, errno);
		smtp_reset(s);
		return SMTP_CONTINUE;
	}
	smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	if (io_flush(&s->io) != IO_OK)
		return SMTP_CLOSE;
	struct data_reader d;
	data_init(&d, 0);
	int write_failed = 0;
	if (data_receive(s, &d, &write_failed) < 0)
		return SMTP_CLOSE;
	if (write_failed) {
		errno = write_failed;
		log_err("message write failed id=%s: %s", s->msg_id, strerror(errno));
		reply_store_error(s, write_failed);
		smtp_reset(s);
		return SMTP_CONTINUE;
	}
	message_finish(s, &d);
	return SMTP_CONTINUE;
}

/* BDAT size: digits only, no overflow (S7). */
static int
bdat_parse(char *args, uint64_t *size_r, int *last_r)
{
	char *sp = strchr(args, ' ');
	*last_r = 0;
	if (sp) {
		*sp = '\0';
		if (strcasecmp(sp + 1, "LAST") != 0)
			return -1;
		*last_r = 1;
	}
	if (!*args || strlen(args) > 20)
		return -1;
	uint64_t n = 0;
	for (char *p = args; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, (uint64_t)(*p - '0'), &n))
			return -1;
	}
	*size_r = n;
	return 0;
}

/* Reads exactly size octets; decoded into the message unless discard.
 * Returns 0, or -1 if the connection ended. */
static int
bdat_receive(struct smtp *s, struct data_reader *d, uint64_t size, int discard, int *write_failed)
{
	unsigned char in[IO_BUFFER_SIZE], out[IO_BUFFER_SIZE + 1];  /* see data.h */
	io_set_timeout(&s->io, data_timeout(s));
	while (size > 0) {
		size_t want = size < sizeof in ? (size_t)size : sizeof in;
		ssize_t n = io_read(&s->io, in, want);
		if (n <= 0)
			return -1;
		size -= (uint64_t)n;
		if (discard)
			continue;
		size_t out_len;
		data_feed(d, in, (size_t)n, out, &out_len);
		if (!*write_failed && message_append(s, out, out_len) < 0)
			*write_failed = errno ? errno : EIO;
	}
	io_set_timeout(&s->io, (int)s->conf->smtp_timeout);
	return 0;
}

/* After the LAST chunk: the one reply for the whole message. */
static void
bdat_last(struct smtp *s, struct data_reader *d, int write_failed)
{
	unsigned char tail[1];
	size_t n = data_finish(d, tail);
	if (!write_failed && message_append(s, tail, n) < 0)
		write_failed = errno ? errno : EIO;
	if (write_failed) {
		log_err("message write failed id=%s: %s", s->msg_id, strerror(write_failed));
		reply_store_error(s, write_failed);
		smtp_reset(s);
		return;
	}
	message_finish(s, d);
}

enum smtp_verdict
smtp_cmd_bdat(struct smtp *s, char *args)
{
	static struct data_reader d;
	static int write_failed;
	uint64_t size;
	int last;
	if (bdat_parse(args, &size, &last) < 0) {
		/* The chunk size is unknown, so the stream cannot be resynchronised. */
		smtp_reply(s, 501, "5.5.4", "Syntax: BDAT size [LAST]");
		return SMTP_CLOSE;
	}
	if (size > s->conf->max_message_size - (s->msg_seen < s->conf->max_message_size ?
	    s->msg_seen : s->conf->max_message_size)) {
		/* Reading it all only to refuse it would take the client's time
		 * and ours; the chunk cannot be skipped any cheaper (S7, S48). */
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		return SMTP_CLOSE;
	}
	if (s->state != SMTP_STATE_RCPT && s->state != SMTP_STATE_BDAT) {
		/* Read and drop the chunk so the next command is found (S7). */
		if (bdat_receive(s, &d, size, 1, &write_failed) < 0)
			return SMTP_CLOSE;
		smtp_reply(s, 503, "5.5.1", s->state == SMTP_STATE_MAIL ?
		    "Error: no valid recipients" : "Error: need RCPT command");
		return SMTP_CONTINUE;
	}
	if (s->state == SMTP_STATE_RCPT) {
		data_init(&d, 1);
		write_failed = 0;
		if (message_begin(s) < 0)
			write_failed = errno ? errno : EIO;
		s->state = SMTP_STATE_BDAT;
	}
	if (bdat_receive(s, &d, size, 0, &write_failed) < 0)
		return SMTP_CLOSE;
	if (!last)
		smtp_reply(s, 250, "2.0.0", "%llu octets received", (unsigned long long)size);
	else
		bdat_last(s, &d, write_failed);
	return SMTP_CONTINUE;
}
