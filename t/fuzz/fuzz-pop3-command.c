/* Fuzz target: the POP3 command parser and the message converter of
 * pop3-session (S41, S42), linked with pop3-session's objects.
 *
 * The input is one command line for pop3_parse_line (checks: keyword
 * upper-case letters only, 3-4 of them; every argument NUL-free, non-empty,
 * space-free; numbers parse only from digits), and also a stored message for
 * msgconv in both storage modes, fed in uneven chunks. Checks: the wire form
 * is CRLF-only, has no line starting with a single '.', and after removing
 * the stuffing has exactly the size the counting pass reports (LIST/STAT
 * sizes equal what RETR sends). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msgconv.h"
#include "pop3-session/pop3-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_parse(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	if (!line)
		abort();
	memcpy(line, data, size);
	line[size] = '\0';
	struct pop3_command c;
	if (pop3_parse_line(line, size, &c) == POP3_PARSE_OK) {
		size_t k = strlen(c.keyword);
		if (k < 3 || k > 4)
			abort();
		for (size_t i = 0; i < k; i++)
			if (c.keyword[i] < 'A' || c.keyword[i] > 'Z')
				abort();
		for (size_t i = 0; i < c.argc; i++) {
			unsigned long n;
			if (c.argv[i][0] == '\0' || strchr(c.argv[i], ' '))
				abort();
			if (pop3_parse_number(c.argv[i], 1000000, &n) == 0 &&
			    (strspn(c.argv[i], "0123456789") != strlen(c.argv[i]) || n > 1000000))
				abort();
			if (pop3_parse_count(c.argv[i], &n) == 0 &&
			    strspn(c.argv[i], "0123456789") != strlen(c.argv[i]))
				abort();
		}
	}
	free(line);
}

struct wire {
	char *buf;
	size_t len, cap;
};

static int
wire_emit(void *ctx, const char *p, size_t n)
{
	struct wire *w = ctx;
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2;
		w->buf = realloc(w->buf, w->cap);
		if (!w->buf)
			abort();
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

static void
feed_chunks(struct msgconv *c, const uint8_t *data, size_t size)
{
	size_t step = size ? (size_t)data[0] % 7 + 1 : 1;
	for (size_t off = 0; off < size; off += step)
		msgconv_feed(c, (const char *)data + off, size - off < step ? size - off : step);
	msgconv_finish(c);
}

static void
fuzz_conv(const uint8_t *data, size_t size, int mbox)
{
	struct msgconv count, wire;
	struct wire w = { 0 };
	msgconv_init(&count, mbox, 0, NULL, NULL);
	feed_chunks(&count, data, size);
	msgconv_init(&wire, mbox, 1, wire_emit, &w);
	feed_chunks(&wire, data, size);
	if (wire.out_bytes != count.out_bytes)
		abort();
	size_t unstuffed = 0;
	for (size_t i = 0; i < w.len; ) {
		const char *lf = memchr(w.buf + i, '\n', w.len - i);
		if (!lf || lf == w.buf + i || lf[-1] != '\r')
			abort();   /* every line ends in CRLF, including the last */
		size_t n = (size_t)(lf - (w.buf + i)) + 1;
		if (w.buf[i] == '.') {
			if (n < 2 || w.buf[i + 1] != '.')
				abort();
			n--;
			unstuffed++;
		}
		i += n + (w.buf[i] == '.' ? 1 : 0);
	}
	if (w.len - unstuffed != count.out_bytes)
		abort();
	free(w.buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	fuzz_parse(data, size);
	fuzz_conv(data, size, 0);
	fuzz_conv(data, size, 1);
	return 0;
}
