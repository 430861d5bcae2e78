/*
 * path.c — checked path building (see path.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "path.h"

/* The vsnprintf result checked: a cut path is cleared, not returned. */
static int path_vprintf(char *out, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int
path_vprintf(char *out, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(out, size, fmt, ap);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
path_printf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = path_vprintf(out, size, fmt, ap);
	va_end(ap);
	return r;
}

int
path_join(char *out, size_t size, const char *a, const char *b, const char *c)
{
	return c != NULL ? path_printf(out, size, "%s/%s/%s", a, b, c)
	                 : path_printf(out, size, "%s/%s", a, b);
}
