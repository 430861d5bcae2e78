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
 * printable ASCII, and '\\', escaped as \xHH; truncates to fit; returns dst. */
char *log_escape(char *dst, size_t size, const char *src, size_t len);

#endif
