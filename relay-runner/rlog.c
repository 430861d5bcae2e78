/*
 * rlog.c — delivery log lines, plain or structured (journal).
 */
#include "rlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "bounds.h"
#include "log.h"

#if WITH_SYSTEMD
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#endif

static int rlog_journal;

void
rlog_init(void)
{
	log_init("relay-runner");
#if WITH_SYSTEMD
	rlog_journal = log_stderr_is_journal();
#else
	rlog_journal = 0;
#endif
}

static const char *
esc(char *buf, size_t size, const char *s)
{
	return log_escape(buf, size, s ? s : "", s ? strlen(s) : 0);
}

/* A value that came from a client or a remote host and stands in a field
 * (to=<...>, relay=...): it must not look like a further field. */
static const char *
esc_field(char *buf, size_t size, const char *s)
{
	return log_field(buf, size, s ? s : "", s ? strlen(s) : 0);
}

void
rlog_attempt(const char *id, const char *rcpt, const char *relay, const char *status,
    const char *tls, const char *diag)
{
	char e_id[300], e_rcpt[4 * ADDR_PATH_MAX + 1], e_relay[600], e_tls[300];
	char e_diag[4 * RELAY_DIAGNOSTIC_MAX + 1];
	esc(e_id, sizeof e_id, id);
	esc_field(e_rcpt, sizeof e_rcpt, rcpt);
	esc_field(e_relay, sizeof e_relay, relay);
	esc(e_tls, sizeof e_tls, tls);
	esc(e_diag, sizeof e_diag, diag);
#if WITH_SYSTEMD
	if (rlog_journal &&
	    sd_journal_send("MESSAGE=%s: to=<%s>, relay=%s, status=%s, tls=%s (%s)",
		e_id, e_rcpt, e_relay, status, e_tls, e_diag,
		"PRIORITY=%d", strcmp(status, "sent") ? LOG_NOTICE : LOG_INFO,
		"SYSLOG_IDENTIFIER=relay-runner",
		"SYSLOG_FACILITY=%d", LOG_MAIL >> 3,
		"YUBIN_QUEUE_ID=%s", e_id,
		"YUBIN_RECIPIENT=%s", e_rcpt,
		"YUBIN_RELAY=%s", e_relay,
		"YUBIN_STATUS=%s", status,
		"YUBIN_TLS=%s", e_tls,
		"YUBIN_DIAGNOSTIC=%s", e_diag,
		NULL) >= 0)
		return;          /* else the journal is gone: plain stderr */
#endif
	log_info("%s: to=<%s>, relay=%s, status=%s, tls=%s (%s)", e_id, e_rcpt, e_relay, status,
	    e_tls, e_diag);
}

void
rlog_status(const char *fmt, ...)
{
#if WITH_SYSTEMD
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", text);
#else
	(void)fmt;
#endif
}
