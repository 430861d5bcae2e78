/*
 * reply.c — writing smtp-session's replies: every other file answers the
 * client through these, and they call nothing but the io layer.
 */
#include <stdarg.h>

#include "log.h"
#include "smtp.h"

static void smtp_vreply(struct smtp *s, char sep, int code, const char *enh, const char *fmt,
    va_list ap) __attribute__((format(printf, 5, 0)));
static void
smtp_vreply(struct smtp *s, char sep, int code, const char *enh, const char *fmt, va_list ap)
{
	io_printf(&s->io, "%d%c%s%s", code, sep, enh ? enh : "", enh ? " " : "");
	io_vprintf(&s->io, fmt, ap);
	io_write(&s->io, "\r\n", 2);
}

void
smtp_reply(struct smtp *s, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	smtp_vreply(s, ' ', code, enh, fmt, ap);
	va_end(ap);
}

void
smtp_reply_more(struct smtp *s, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	smtp_vreply(s, '-', code, enh, fmt, ap);
	va_end(ap);
}

enum smtp_verdict
smtp_sync_error(struct smtp *s, const char *after)
{
	log_warn("improper command pipelining after %s", after);
	smtp_reply(s, 554, "5.5.0", "Error: SMTP protocol synchronization");
	return SMTP_CLOSE;
}
