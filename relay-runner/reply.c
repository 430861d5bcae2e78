/*
 * reply.c — SMTP reply parsing for relay-runner (S58): every line and the
 * whole reply are bounded, every line must carry the same valid code, and
 * anything else is a temporary failure of the connection, never a guess.
 */
#include "reply.h"

#include <stdio.h>
#include <string.h>

void
reply_init(struct reply *r)
{
	r->code = 0;
	r->n_lines = 0;
	r->total = 0;
	r->text_len = 0;
	r->text[0] = '\0';
	r->error = NULL;
	r->line_len = 0;
}

static enum reply_status
bad(struct reply *r, const char *why)
{
	r->error = why;
	return REPLY_BAD;
}

/* A complete line (CR dropped). Returns MORE after a continuation line,
 * DONE after the last line, BAD when malformed. */
static enum reply_status
line_done(struct reply *r)
{
	const char *l = r->line;
	size_t len = r->line_len;
	if (len > 0 && l[len - 1] == '\r')
		len--;
	if (len < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '5' ||
	    l[2] < '0' || l[2] > '9')
		return bad(r, "malformed reply code");
	if (len > 3 && l[3] != ' ' && l[3] != '-')
		return bad(r, "malformed reply separator");
	int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (r->n_lines > 0 && code != r->code)
		return bad(r, "reply code changes between lines");
	r->code = code;
	r->n_lines++;
	size_t tlen = len > 4 ? len - 4 : 0;
	size_t need = tlen + (r->text_len ? 1 : 0);
	/* text grows by at most the bytes consumed, which total bounds. */
	if (need > SMTP_REPLY_TOTAL_MAX - r->text_len)
		return bad(r, "reply too long");
	if (r->text_len)
		r->text[r->text_len++] = '\n';
	if (tlen)
		memcpy(r->text + r->text_len, l + 4, tlen);
	r->text_len += tlen;
	r->text[r->text_len] = '\0';
	r->line_len = 0;
	return len > 3 && l[3] == '-' ? REPLY_MORE : REPLY_DONE;
}

enum reply_status
reply_feed(struct reply *r, const void *data, size_t len, size_t *used_r)
{
	const unsigned char *p = data;
	*used_r = 0;
	if (r->error)
		return REPLY_BAD;
	for (size_t i = 0; i < len; i++) {
		if (++r->total > SMTP_REPLY_TOTAL_MAX)
			return bad(r, "reply too long");
		*used_r = i + 1;
		if (p[i] == '\n') {
			enum reply_status st = line_done(r);
			if (st != REPLY_MORE)
				return st;
			continue;
		}
		if (r->line_len >= sizeof r->line)
			return bad(r, "reply line too long");
		r->line[r->line_len++] = (char)p[i];
	}
	return REPLY_MORE;
}

char *
reply_sanitize(const struct reply *r, char *out, size_t size)
{
	size_t o = 0;
	if (size == 0)
		return out;
	int n = snprintf(out, size, "%03d%s", r->code, r->text_len ? " " : "");
	o = n > 0 && (size_t)n < size ? (size_t)n : 0;
	for (size_t i = 0; i < r->text_len && o + 1 < size; i++) {
		unsigned char c = (unsigned char)r->text[i];
		if (c == '\n')
			c = ' ';
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
		} else {
			if (o + 4 >= size)
				break;
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	out[o] = '\0';
	return out;
}

void
reply_enhanced(const struct reply *r, char *out, size_t size)
{
	const char *t = r->text;
	size_t i = 0, dots = 0, digits = 0;
	out[0] = '\0';
	if (r->text_len < 5 || t[0] != '0' + r->code / 100 || t[1] != '.')
		return;
	/* class "." subject(1-3 digits) "." detail(1-3 digits) */
	for (i = 0; i < r->text_len && i < 11; i++) {
		if (t[i] == '.') {
			if (i > 0 && t[i - 1] == '.')
				return;
			dots++;
			digits = 0;
		} else if (t[i] >= '0' && t[i] <= '9') {
			if (++digits > 3)
				return;
		} else {
			break;
		}
	}
	if (dots != 2 || digits == 0 || (i < r->text_len && t[i] != ' ') || i + 1 > size)
		return;
	memcpy(out, t, i);
	out[i] = '\0';
}
