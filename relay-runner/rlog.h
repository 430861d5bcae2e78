/*
 * rlog.h — relay-runner's delivery log: one line per attempt and
 * recipient. Under systemd (stderr is the journal, JOURNAL_STREAM) the
 * line also carries structured fields; otherwise it goes through lib/log.
 * Progress is reported with sd_notify when built WITH_SYSTEMD.
 */
#ifndef RELAY_RLOG_H
#define RELAY_RLOG_H

void rlog_init(void);

/* One delivery attempt for one recipient. Every string is escaped here. */
void rlog_attempt(const char *id, const char *rcpt, const char *relay, const char *status,
    const char *tls, const char *diag);

/* sd_notify("STATUS=...") when under systemd; nothing otherwise. */
void rlog_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
