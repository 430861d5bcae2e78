/*
 * log.h — one line per event, never on fd 1.
 *
 * Lines go to standard error (the journal captures it under systemd), except
 * when fd 2 is the client connection itself (inetd/xinetd hand the socket over
 * as fds 0, 1 and 2): then to syslog, facility mail, so no log line can land
 * in the protocol stream. When fd 2 is the journal's stream (systemd), each
 * line starts with a "<N>" priority that journald reads, and without the
 * NAME[PID] journald records itself. Client-supplied text is escaped before it
 * is logged.
 */
#ifndef YUBIN_LOG_H
#define YUBIN_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* ident is the program name; decides stderr or syslog once. */
void log_init(const char *ident);
/* 1 if fd 2 is the stream systemd connected to the journal (JOURNAL_STREAM). */
int log_stderr_is_journal(void);
/* Text put at the start of every line, e.g. "peer=192.0.2.1"; copied. */
void log_set_prefix(const char *prefix);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_err(...)  log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)

/* Copies src (len bytes) into dst (size > 0) with every byte outside
 * printable ASCII, and '\\', escaped as \xHH; truncates to fit (never
 * inside an escape); returns dst. For free text, such as a remote
 * server's reply at the end of a line. */
char *log_escape(char *dst, size_t size, const char *src, size_t len);
/* The same, also escaping blank, '=', '"' and '\'': for a client-supplied
 * value logged as key=value or <value>, which then cannot end early or
 * look like a further field ("x peer=203.0.113.9" becomes
 * "x\x20peer\x3d203.0.113.9"). */
char *log_field(char *dst, size_t size, const char *src, size_t len);

/* The one line every protocol logs for a failed authentication, which the
 * fail2ban filter (units/fail2ban) reads; the peer is the line's prefix
 * (session_start sets "peer=ADDR"), so the line reads
 *   peer=ADDR auth failure: proto=P method=M user=U reason=R failures=N
 * proto: smtp, pop3 or imap. method: the command or SASL mechanism.
 * user: the name the client gave (escaped here with log_field; NULL: -).
 * reason: password (unknown user or wrong password: not told apart),
 * malformed (invalid SASL message), authzid, too-long. failures: this
 * session's count so far. */
void log_auth_failure(const char *proto, const char *method, const char *user,
    const char *reason, unsigned failures);

#endif
