/*
 * buf.c — growable byte string with a ceiling (see buf.h).
 *
 * Capacity doubles from BUF_FIRST_CAP, so n adds cost O(n) copies; it is
 * clamped to the ceiling, so a buffer never holds more than max + 1 bytes
 * however it grew.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Most buffers hold a token or a short IMAP string. */
#define BUF_FIRST_CAP 64

void
buf_init(struct buf *b, size_t max)
{
	b->s = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->err = 0;
}

void
buf_fail(struct buf *b, int err)
{
	if (b->err == 0)
		b->err = err;
}

/* Makes room for n more bytes and the NUL. len <= max always holds, so
 * max - len cannot wrap; n < SIZE_MAX - len keeps len + n + 1 from
 * wrapping when max is SIZE_MAX. */
static int
buf_reserve(struct buf *b, size_t n)
{
	if (b->err != 0) {
		errno = b->err;
		return -1;
	}
	if (n > b->max - b->len || n >= SIZE_MAX - b->len) {
		b->err = errno = E2BIG;
		return -1;
	}
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : BUF_FIRST_CAP;
	while (cap < need)
		cap = cap <= SIZE_MAX / 2 ? cap * 2 : need;
	size_t ceiling = b->max < SIZE_MAX ? b->max + 1 : SIZE_MAX;
	if (cap > ceiling)
		cap = ceiling; /* still >= need: n <= max - len */
	char *s = realloc(b->s, cap);
	if (s == NULL) {
		b->err = errno = ENOMEM;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf_fail(b, errno != 0 ? errno : EINVAL);
		return -1;
	}
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *
buf_str(struct buf *b)
{
	return b->s != NULL ? b->s : "";
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->s[len] = '\0';
	}
}

char *
buf_finish(struct buf *b, size_t *len_r)
{
	if (b->err == 0 && b->s == NULL)
		(void)buf_add(b, "", 0);
	if (b->err != 0) {
		int err = b->err;
		buf_free(b);
		errno = err;
		return NULL;
	}
	char *s = b->s;
	if (len_r != NULL)
		*len_r = b->len;
	buf_init(b, b->max);
	return s;
}

void
buf_free(struct buf *b)
{
	free(b->s);
	buf_init(b, b->max);
}
