/*
 * log.c — event lines on stderr, or syslog when fd 2 is the client.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static const char *log_ident = "yubin";
static char log_prefix[256];
static int log_to_syslog;
static int log_to_journal;

/* inetd and xinetd hand the socket over as fd 0, 1 and 2. */
static int
stderr_is_client(void)
{
	struct stat in, err;
	if (fstat(0, &in) < 0 || fstat(2, &err) < 0)
		return 0;
	if (!S_ISSOCK(err.st_mode))
		return 0;
	return in.st_dev == err.st_dev && in.st_ino == err.st_ino;
}

/* systemd sets JOURNAL_STREAM to "dev:ino" of the stream it connected to
 * stderr; if fd 2 is still that stream, the journal is listening. */
int
log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *ident)
{
	log_ident = ident;
	log_to_syslog = stderr_is_client();
	log_to_journal = !log_to_syslog && log_stderr_is_journal();
	if (log_to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_prefix(const char *prefix)
{
	snprintf(log_prefix, sizeof log_prefix, "%s", prefix ? prefix : "");
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	static const int prios[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	/* One event, one line: a line break that slipped through unescaped
	 * must not start a forged line (or a "<N>" journal priority). */
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	const char *sep = log_prefix[0] ? " " : "";
	if (log_to_syslog) {
		syslog(prios[level], "%s%s%s", log_prefix, sep, text);
		return;
	}
	if (log_to_journal)
		fprintf(stderr, "<%d>%s: %s%s%s\n", prios[level], names[level],
		    log_prefix, sep, text);
	else
		fprintf(stderr, "%s[%ld]: %s: %s%s%s\n", log_ident, (long)getpid(),
		    names[level], log_prefix, sep, text);
}

/* Copies src escaped: bytes outside printable ASCII, '\\' and every byte
 * in also are written as \xHH; an escape is never cut in half. */
static char *
escape(char *dst, size_t size, const char *src, size_t len, const char *also)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && !strchr(also, c)) {
			if (o + 1 >= size)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= size)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}

char *
log_escape(char *dst, size_t size, const char *src, size_t len)
{
	return escape(dst, size, src, len, "");
}

char *
log_field(char *dst, size_t size, const char *src, size_t len)
{
	return escape(dst, size, src, len, " =\"'");
}

void
log_auth_failure(const char *proto, const char *method, const char *user, const char *reason,
    unsigned failures)
{
	/* A login name is at most a few hundred bytes; 4 per byte escaped. */
	char shown[4 * 320 + 1];
	if (user)
		log_field(shown, sizeof shown, user, strlen(user));
	log_warn("auth failure: proto=%s method=%s user=%s reason=%s failures=%u", proto, method,
	    user ? shown : "-", reason, failures);
}
