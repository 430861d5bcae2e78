/*
 * msgconv.c — see msgconv.h. A byte-level state machine, because stored
 * lines have no length limit: nothing is ever buffered beyond a count of
 * '>' characters and the five bytes of "From ".
 */
#include "msgconv.h"

#include <string.h>

static const char from_[] = "From ";

void
msgconv_init(struct msgconv *c, int mbox, int stuff, msgconv_emit_fn emit, void *ctx)
{
	memset(c, 0, sizeof *c);
	c->mbox = mbox;
	c->stuff = stuff;
	c->emit = emit;
	c->ctx = ctx;
	c->line_start = 1;
	c->out_line_start = 1;
}

void
msgconv_set_top(struct msgconv *c, unsigned long body_lines)
{
	c->limit = 1;
	c->body_lines = body_lines;
}

/* Emits n bytes holding no LF except possibly the last. */
static int
put(struct msgconv *c, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (c->stuff && c->out_line_start && p[0] == '.' && c->emit) {
		int r = c->emit(c->ctx, ".", 1);
		if (r)
			return r;
	}
	c->out_line_start = p[n - 1] == '\n';
	c->out_bytes += n;
	return c->emit ? c->emit(c->ctx, p, n) : 0;
}

static int
put_repeat(struct msgconv *c, char ch, uint64_t n)
{
	char buf[256];
	memset(buf, ch, sizeof buf);
	while (n > 0) {
		size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
		int r = put(c, buf, k);
		if (r)
			return r;
		n -= k;
	}
	return 0;
}

/* Releases held '>'s and the matched part of "From " unchanged. */
static int
release_held(struct msgconv *c, int unquote)
{
	uint64_t gt = c->gt - (unquote ? 1 : 0);
	int r = put_repeat(c, '>', gt);
	if (!r)
		r = put(c, from_, c->from_match);
	c->line_len += c->gt + c->from_match;
	c->last_cr = 0;
	c->holding = 0;
	c->gt = 0;
	c->from_match = 0;
	return r;
}

/* The header ends at the first empty line; TOP counts body lines after it. */
static void
line_ended(struct msgconv *c)
{
	int empty = c->line_len == 0 || (c->line_len == 1 && c->last_cr);
	if (!c->in_body) {
		if (empty) {
			c->in_body = 1;
			if (c->limit && c->body_lines == 0)
				c->done = 1;
		}
	} else if (c->limit && ++c->body_seen >= c->body_lines) {
		c->done = 1;
	}
	c->line_start = 1;
	c->line_len = 0;
	c->last_cr = 0;
}

static int
end_line(struct msgconv *c)
{
	int r = c->last_cr ? put(c, "\n", 1) : put(c, "\r\n", 2);
	line_ended(c);
	return r;
}

/* One byte while '>'s are held at a line start. Returns 1 if consumed. */
static int
hold_byte(struct msgconv *c, char b, int *r)
{
	if (c->from_match == 0 && b == '>') {
		c->gt++;
		return 1;
	}
	if (b == from_[c->from_match]) {
		if (++c->from_match == sizeof from_ - 1)
			*r = release_held(c, 1);
		return 1;
	}
	*r = release_held(c, 0);
	return 0;
}

int
msgconv_feed(struct msgconv *c, const char *p, size_t n)
{
	const char *end = p + n;
	int r = 0;
	while (p < end && !c->done && !r) {
		if (c->holding) {
			if (hold_byte(c, *p, &r))
				p++;
			continue;
		}
		if (c->line_start) {
			c->line_start = 0;
			if (c->mbox && *p == '>') {
				c->holding = 1;
				c->gt = 1;
				p++;
				continue;
			}
		}
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		const char *stop = lf ? lf : end;
		if (stop > p) {
			r = put(c, p, (size_t)(stop - p));
			c->line_len += (uint64_t)(stop - p);
			c->last_cr = stop[-1] == '\r';
			p = stop;
		}
		if (lf && !r) {
			r = end_line(c);
			p = lf + 1;
		}
	}
	return r;
}

int
msgconv_finish(struct msgconv *c)
{
	int r = 0;
	if (c->done)
		return 0;
	if (c->holding)
		r = release_held(c, 0);
	if (!r && !c->line_start)
		r = end_line(c);
	c->done = 1;
	return r;
}
