/*
 * dsn.c — failure reports. Layout (RFC 6522, RFC 3464):
 *
 *   multipart/report; report-type=delivery-status
 *     1. text/plain            what happened, for people
 *     2. message/delivery-status
 *          Reporting-MTA, [Original-Envelope-Id], Arrival-Date
 *          per recipient: Final-Recipient, [Original-Recipient], Action,
 *          Status, Diagnostic-Code, Last-Attempt-Date
 *     3. message/rfc822 (RET=FULL or default, up to DSN_RETURN_FULL_MAX)
 *        or text/rfc822-headers (RET=HDRS, or a larger message)
 *
 * Everything taken from the queue file or a remote server is reduced to
 * printable ASCII (S59) before it lands in a header-like line.
 */
#include "dsn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bounds.h"
#include "date.h"
#include "mailbox.h"
#include "users.h"

/* Longest header section returned with RET=HDRS. */
#define DSN_HEADERS_MAX (1024u * 1024)

int
dsn_wanted(const struct spool_rcpt *r)
{
	if (r->notify == 0)
		return 1;        /* RFC 3461 §4.1: FAILURE is the default */
	if (r->notify & SPOOL_NOTIFY_NEVER)
		return 0;
	return (r->notify & SPOOL_NOTIFY_FAILURE) != 0;
}

/* Printable ASCII only, other bytes as \xHH, at most max characters. */
int
dsn_delay_wanted(const struct spool_rcpt *r)
{
	if (r->notify == 0)
		return 1;        /* RFC 3461 §4.1: FAILURE,DELAY may be the default */
	return (r->notify & SPOOL_NOTIFY_DELAY) != 0 && !(r->notify & SPOOL_NOTIFY_NEVER);
}

int
dsn_success_wanted(const struct spool_rcpt *r)
{
	return (r->notify & SPOOL_NOTIFY_SUCCESS) && !(r->notify & SPOOL_NOTIFY_NEVER);
}

static const struct {
	const char *action, *subject;
	char cls;
} dsn_kinds[] = {
	[DSN_FAILED] = { "failed", "Undelivered Mail Returned to Sender", '5' },
	[DSN_DELAYED] = { "delayed", "Delayed Mail (still being retried)", '4' },
	[DSN_RELAYED] = { "relayed", "Successful Mail Delivery Report", '2' },
	[DSN_DELIVERED] = { "delivered", "Successful Mail Delivery Report", '2' },
	[DSN_EXPANDED] = { "expanded", "Successful Mail Delivery Report", '2' },
};

static void
sanitize(const char *in, char *out, size_t size, size_t max)
{
	size_t o = 0;
	if (size > max + 1)
		size = max + 1;
	for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p && o + 1 < size; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
			out[o++] = (char)*p;
		} else {
			if (o + 5 > size)
				break;
			snprintf(out + o, 5, "\\x%02x", *p);
			o += 4;
		}
	}
	out[o] = '\0';
}

static int
is_status(const char *s, size_t *len_r)
{
	size_t i = 0, part = 0, digits = 0;
	if ((s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	for (i = 0; s[i] && s[i] != ' '; i++) {
		if (s[i] == '.') {
			if (digits == 0 || ++part > 2)
				return 0;
			digits = 0;
		} else if (s[i] >= '0' && s[i] <= '9') {
			if (++digits > 3)
				return 0;
		} else {
			return 0;
		}
	}
	if (part != 2 || digits == 0 || i > 11)
		return 0;
	*len_r = i;
	return 1;
}

void
dsn_status(const char *diag, char cls, char *out, size_t size)
{
	size_t len;
	const char *s = diag ? diag : "";
	snprintf(out, size, "%c.0.0", cls);
	/* "550 5.1.1 ..." (a reply) or "5.1.10 ..." (our own text) */
	if (s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
	    s[2] <= '9' && s[3] == ' ')
		s += 4;
	if (is_status(s, &len) && len < size) {
		memcpy(out, s, len);
		out[len] = '\0';
		out[0] = cls;
	}
}

/* Copies len bytes of fd at off to f. */
static int
copy_to(FILE *f, int fd, uint64_t off, uint64_t len)
{
	char buf[65536];
	while (len > 0) {
		size_t want = len < sizeof buf ? (size_t)len : sizeof buf;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		if (fwrite(buf, 1, (size_t)n, f) != (size_t)n)
			return -1;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Length of the header section (through the blank line, or the whole
 * message when it has no body), cut to DSN_HEADERS_MAX at a line end. */
static uint64_t
header_length(int fd, uint64_t off, uint64_t len)
{
	char buf[8192];
	uint64_t pos = 0, last_line = 0;
	int prev_lf = 1;
	while (pos < len && pos < DSN_HEADERS_MAX) {
		size_t want = len - pos < sizeof buf ? (size_t)(len - pos) : sizeof buf;
		ssize_t n = pread(fd, buf, want, (off_t)(off + pos));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (prev_lf)
					return pos + (uint64_t)i;   /* keep the headers' last LF only */
				prev_lf = 1;
				last_line = pos + (uint64_t)i + 1;
			} else {
				prev_lf = 0;
			}
		}
		pos += (uint64_t)n;
	}
	return pos >= len ? len : last_line;
}

/* Decodes xtext (RFC 3461 §4) for display; the caller sanitises. */
static void
xtext_decode(const char *in, char *out, size_t size)
{
	size_t o = 0;
	for (const char *p = in; *p && o + 1 < size; p++) {
		unsigned v;
		if (*p == '+' && sscanf(p + 1, "%2x", &v) == 1 && p[1] && p[2]) {
			out[o++] = (char)(v ? v : '?');
			p += 2;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static int
ascii_only(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x80)
			return 0;
	return 1;
}

/* 8-bit content: the original's, or a UTF-8 address shown in the report. */
static int
report_8bit(const struct dsn_msg *m, const size_t *idx, size_t n)
{
	int eight = m->has_8bit || !ascii_only(m->env->sender);
	for (size_t i = 0; i < n && !eight; i++)
		eight = !ascii_only(m->env->rcpts[idx[i]].addr);
	return eight;
}

/* Length of diag without the " (in reply to COMMAND)" that smtpc adds
 * after a remote reply. */
static size_t
reply_only_len(const char *diag)
{
	static const char mark[] = " (in reply to ";
	size_t len = strlen(diag);
	const char *last = NULL;
	if (len == 0 || diag[len - 1] != ')')
		return len;
	for (const char *p = strstr(diag, mark); p; p = strstr(p + 1, mark))
		last = p;
	return last ? (size_t)(last - diag) : len;
}

static void
write_recipient_fields(FILE *f, const struct dsn_msg *m, size_t index, const char *date)
{
	const struct spool_rcpt *r = &m->env->rcpts[index];
	char addr[2 * ADDR_PATH_MAX], buf[RELAY_DIAGNOSTIC_MAX + 1], status[16];
	char orcpt[DSN_ORCPT_MAX + 1];
	/* RFC 6533: a UTF-8 address is reported with the utf-8 type. */
	int utf8 = !ascii_only(r->addr) && addr_smtp_safe(r->addr);
	if (utf8)
		snprintf(addr, sizeof addr, "%.*s", ADDR_PATH_MAX, r->addr);
	else
		sanitize(r->addr, addr, sizeof addr, 2 * ADDR_PATH_MAX - 1);
	fprintf(f, "\nFinal-Recipient: %s; %s\n", utf8 ? "utf-8" : "rfc822", addr);
	if (r->orcpt) {
		char decoded[DSN_ORCPT_MAX + 1];
		xtext_decode(r->orcpt, decoded, sizeof decoded);
		sanitize(decoded, orcpt, sizeof orcpt, 500);
		if (strchr(orcpt, ';'))
			fprintf(f, "Original-Recipient: %s\n", orcpt);
	}
	dsn_status(r->diagnostic, dsn_kinds[m->kind].cls, status, sizeof status);
	fprintf(f, "Action: %s\nStatus: %s\n", dsn_kinds[m->kind].action, status);
	if (m->remote_mta && m->remote_mta[index]) {
		char mta[300];
		sanitize(m->remote_mta[index], mta, sizeof mta, sizeof mta - 1);
		fprintf(f, "Remote-MTA: dns; %s\n", mta);
	}
	/* S59: printable ASCII, at most RELAY_DIAGNOSTIC_MAX characters. The
	 * field holds the reply alone (RFC 3464 §2.3.6): which command it
	 * answered is told in the human-readable part. */
	const char *diag = r->diagnostic ? r->diagnostic : "unknown error";
	char reply[RELAY_DIAGNOSTIC_MAX + 1];
	snprintf(reply, sizeof reply, "%.*s", (int)reply_only_len(diag), diag);
	sanitize(reply, buf, sizeof buf, RELAY_DIAGNOSTIC_MAX - 40);
	int smtp = buf[0] >= '2' && buf[0] <= '5' && buf[1] >= '0' && buf[1] <= '9' &&
	    buf[2] >= '0' && buf[2] <= '9' && (buf[3] == ' ' || !buf[3]);
	fprintf(f, "Diagnostic-Code: %s; %s\n", smtp ? "smtp" : "X-yubin", buf);
	fprintf(f, "Last-Attempt-Date: %s\n", date);
	if (m->kind == DSN_DELAYED) {
		char until[DATE_RFC5322_SIZE];
		date_rfc5322(m->retry_until, until, sizeof until);
		fprintf(f, "Will-Retry-Until: %s\n", until);
	}
}

static void
boundary_make(char *out, size_t size)
{
	unsigned char rnd[12];
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		memset(rnd, 0x5a, sizeof rnd);
	size_t o = (size_t)snprintf(out, size, "=_yubin_");
	for (size_t i = 0; i < sizeof rnd && o + 3 < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%02x", rnd[i]);
}

static void
write_human(FILE *f, const struct conf *conf, const struct dsn_msg *m, const size_t *idx, size_t n)
{
	char addr[2 * ADDR_PATH_MAX], diag[RELAY_DIAGNOSTIC_MAX + 1];
	if (m->kind == DSN_DELIVERED || m->kind == DSN_EXPANDED) {
		fprintf(f, "This is the mail system at host %s.\n\n"
		    "Your message was successfully delivered to the destinations below\n"
		    "(a mailbox, or the addresses an alias stands for).\n\n"
		    "The mail system\n", conf->hostname);
	} else if (m->kind == DSN_RELAYED) {
		fprintf(f, "This is the mail system at host %s.\n\n"
		    "Your message was successfully relayed to the destinations below.\n"
		    "They do not offer delivery status notifications, so you will get\n"
		    "no further notice of its delivery from them.\n\n"
		    "The mail system\n", conf->hostname);
	} else if (m->kind == DSN_DELAYED) {
		char until[DATE_RFC5322_SIZE];
		date_rfc5322(m->retry_until, until, sizeof until);
		fprintf(f, "This is the mail system at host %s.\n\n"
		    "####################################################################\n"
		    "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
		    "####################################################################\n\n"
		    "Your message could not be delivered for %lld hours.\n"
		    "It will be retried until %s.\n\n"
		    "The mail system\n", conf->hostname,
		    (long long)((time(NULL) - m->env->arrival) / 3600), until);
	} else {
		fprintf(f, "This is the mail system at host %s.\n\n"
		    "I'm sorry to have to inform you that your message could not\n"
		    "be delivered to one or more recipients. It's attached below.\n\n"
		    "The mail system\n", conf->hostname);
	}
	if (m->notify_to) {
		sanitize(m->env->sender, addr, sizeof addr, sizeof addr - 1);
		fprintf(f, "\nThis report could not be returned to the sender <%s>:\n"
		    "this copy goes to the postmaster.\n", addr);
	}
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *r = &m->env->rcpts[idx[i]];
		sanitize(r->addr, addr, sizeof addr, sizeof addr - 1);
		/* Address and reason on lines of their own: each stays within
		 * RFC 5322's 998 characters. */
		sanitize(r->diagnostic ? r->diagnostic : "unknown error", diag, sizeof diag, 900);
		fprintf(f, "\n<%s>:\n    %s\n", addr, diag);
	}
}

int
dsn_write(int out_fd, const struct conf *conf, const struct dsn_msg *m,
    const size_t *idx, size_t n)
{
	int dupfd = dup(out_fd);
	FILE *f = dupfd >= 0 ? fdopen(dupfd, "w") : NULL;
	if (!f) {
		if (dupfd >= 0)
			close(dupfd);
		return -1;
	}
	char boundary[64], date[DATE_RFC5322_SIZE], arrival[DATE_RFC5322_SIZE];
	char sender[2 * ADDR_PATH_MAX], to[2 * ADDR_PATH_MAX], qid[200];
	time_t now = time(NULL);
	boundary_make(boundary, sizeof boundary);
	date_rfc5322(now, date, sizeof date);
	date_rfc5322(m->env->arrival, arrival, sizeof arrival);
	sanitize(m->env->sender, sender, sizeof sender, sizeof sender - 1);
	sanitize(m->notify_to ? m->notify_to : m->env->sender, to, sizeof to, sizeof to - 1);
	sanitize(m->queue_id, qid, sizeof qid, sizeof qid - 1);
	unsigned char rnd[8] = { 0 };
	if (getrandom(rnd, sizeof rnd, 0) < 0)
		memset(rnd, 0, sizeof rnd);
	fprintf(f, "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
	    "To: <%s>\n"
	    "Subject: %s\n"
	    "Date: %s\n"
	    "Message-ID: <%lld.%02x%02x%02x%02x%02x%02x%02x%02x@%s>\n"
	    "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n"
	    "Content-Transfer-Encoding: %s\n\n"
	    "This is a MIME-encapsulated message.\n\n",
	    conf->hostname, to,
	    dsn_kinds[m->kind].subject,
	    date, (long long)now, rnd[0], rnd[1], rnd[2], rnd[3],
	    rnd[4], rnd[5], rnd[6], rnd[7], conf->hostname, boundary,
	    report_8bit(m, idx, n) ? "8bit" : "7bit");
	fprintf(f, "--%s\nContent-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n", boundary);
	write_human(f, conf, m, idx, n);
	fprintf(f, "\n--%s\nContent-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n", boundary);
	fprintf(f, "Reporting-MTA: dns; %s\nX-Yubin-Queue-ID: %s\n", conf->hostname, qid);
	if (m->env->envid) {
		char envid[DSN_ENVID_MAX + 1], decoded[DSN_ENVID_MAX + 1];
		xtext_decode(m->env->envid, decoded, sizeof decoded);
		sanitize(decoded, envid, sizeof envid, DSN_ENVID_MAX);
		fprintf(f, "Original-Envelope-Id: %s\n", envid);
	}
	fprintf(f, "X-Yubin-Sender: rfc822; %s\nArrival-Date: %s\n", sender, arrival);
	for (size_t i = 0; i < n; i++)
		write_recipient_fields(f, m, idx[i], date);
	/* Delay and success notices carry the header only: the message is
	 * still on its way, or has arrived. */
	int full = m->kind == DSN_FAILED && m->env->ret != SPOOL_RET_HDRS &&
	    m->length <= DSN_RETURN_FULL_MAX;
	uint64_t len = full ? m->length : header_length(m->fd, m->offset, m->length);
	fprintf(f, "\n--%s\nContent-Description: %s\nContent-Type: %s\n\n", boundary,
	    full ? "Undelivered Message" : dsn_kinds[m->kind].cls == '2' ? "Message Headers" :
	    "Undelivered Message Headers",
	    full ? "message/rfc822" : "text/rfc822-headers");
	int rc = 0;
	if (fflush(f) != 0 || copy_to(f, m->fd, m->offset, len) < 0)
		rc = -1;
	/* The closing boundary starts a line of its own. */
	char last = '\n';
	if (len > 0 && pread(m->fd, &last, 1, (off_t)(m->offset + len - 1)) != 1)
		rc = -1;
	fprintf(f, "%s\n--%s--\n", last == '\n' ? "" : "\n", boundary);
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* The local users addr stands for: itself, or the targets of its alias
 * (remote alias targets get no copy of a report). Returns 0 with the
 * list in *targets_r (NULL: addr itself), -1 (cannot tell now) or -2
 * (no such local user or alias). */
static int
local_targets(const struct conf *conf, const char *addr, char ***targets_r, size_t *n_r,
    char *err, size_t errsize)
{
	*targets_r = NULL;
	*n_r = 0;
	int exists = users_exists(conf, addr);
	if (exists == 1)
		return 0;
	if (exists < 0 || users_aliases(conf, addr, targets_r, n_r) < 0) {
		snprintf(err, errsize, "cannot read the users or aliases file: %s", strerror(errno));
		return -1;
	}
	if (*n_r == 0) {
		snprintf(err, errsize, "bounce recipient is no local user");
		return -2;
	}
	return 0;
}

/* Local recipient: its mailbox, or the local users its alias names.
 * Returns 0 (stored), -1 (not now: locked, disk full, I/O error) or -2
 * (no local mailbox takes it). */
static int
deliver_local(const struct conf *conf, const char *to, int fd, uint64_t len,
    char *err, size_t errsize)
{
	char **targets = NULL;
	size_t n = 1;
	int rc = local_targets(conf, to, &targets, &n, err, errsize);
	if (rc < 0)
		return rc;
	const char *const *list = targets ? (const char *const *)targets : &to;
	if (!targets)
		n = 1;
	struct mailbox_txn *txn = mailbox_txn_new(conf);
	int added = 0;
	rc = txn ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *at = strrchr(list[i], '@');
		if (!at || !conf_is_local_domain(conf, at + 1) || users_exists(conf, list[i]) != 1)
			continue;    /* remote alias targets get no copy of a bounce */
		rc = mailbox_txn_add(txn, list[i], "", fd, len);
		added++;
	}
	if (rc == 0 && added == 0) {
		snprintf(err, errsize, "bounce recipient has no local mailbox");
		rc = -2;
	} else if (rc == 0) {
		rc = mailbox_txn_commit(txn);
	}
	if (rc == -1) {
		int e = errno;
		snprintf(err, errsize, "local delivery of the bounce failed: %s", strerror(e));
		/* A name the mailbox refuses never gets better. */
		if (e == EINVAL || e == ENAMETOOLONG)
			rc = -2;
	}
	mailbox_txn_free(&txn);
	if (targets)
		users_free_targets(&targets, n);
	return rc;
}

static int
queue_remote(const struct conf *conf, const char *sender, int has_8bit, int fd, uint64_t len,
    char *err, size_t errsize)
{
	/* A UTF-8 sender address needs SMTPUTF8 on the way back. */
	struct spool_rcpt r = { (char *)sender, NULL, 0, SPOOL_RCPT_PENDING, NULL };
	struct spool_envelope e = { .sender = "", .rcpts = &r, .n_rcpts = 1 };
	e.body_8bit = has_8bit;
	e.smtputf8 = !ascii_only(sender);
	e.arrival = e.next_attempt = time(NULL);
	struct spool_pending p;
	if (spool_prepare(conf->spool, &e, fd, len, &p) < 0 || spool_commit(&p) < 0) {
		snprintf(err, errsize, "queueing the bounce failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
dsn_send(const struct conf *conf, const struct dsn_msg *m, const size_t *idx, size_t n,
    char *err, size_t errsize)
{
	const char *to = m->notify_to ? m->notify_to : m->env->sender;
	if (!to[0] || n == 0)
		return 1;            /* never bounce a bounce (S70) */
	if (!addr_smtp_safe(to) || !strchr(to, '@')) {
		snprintf(err, errsize, "address unusable for a bounce");
		return -2;
	}
	int fd = memfd_create("dsn", MFD_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errsize, "memfd: %s", strerror(errno));
		return -1;
	}
	int rc = dsn_write(fd, conf, m, idx, n);
	off_t len = lseek(fd, 0, SEEK_END);
	if (rc < 0 || len < 0) {
		snprintf(err, errsize, "writing the bounce failed: %s", strerror(errno));
		close(fd);
		return -1;
	}
	const char *at = strrchr(to, '@');
	if (conf_is_local_domain(conf, at + 1))
		rc = deliver_local(conf, to, fd, (uint64_t)len, err, errsize);
	else
		rc = queue_remote(conf, to, report_8bit(m, idx, n), fd, (uint64_t)len, err, errsize);
	close(fd);
	return rc;
}
