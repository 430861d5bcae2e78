/*
 * Unit tests for relay-runner's SMTP reply parser (S58, S59), linked from
 * relay-runner/reply.c: fed one byte at a time and whole, bounded,
 * strict about codes, and it stops exactly at the end of a reply (S56).
 */
#include <stdlib.h>
#include <string.h>

#include "relay-runner/reply.h"
#include "unit.h"

static struct reply r;

/* Feeds s one byte at a time; returns the status and bytes used. */
static enum reply_status
bytewise(const char *s, size_t len, size_t *used_r)
{
	enum reply_status st = REPLY_MORE;
	size_t pos = 0, used;
	reply_init(&r);
	while (pos < len && st == REPLY_MORE) {
		st = reply_feed(&r, s + pos, 1, &used);
		pos += used;
	}
	*used_r = pos;
	return st;
}

static enum reply_status
whole(const char *s, size_t len, size_t *used_r)
{
	reply_init(&r);
	return reply_feed(&r, s, len, used_r);
}

int
main(void)
{
	size_t used;
	const char *g = "220 mx.example.net ESMTP\r\n";
	CHECK(bytewise(g, strlen(g), &used) == REPLY_DONE && r.code == 220 &&
	    used == strlen(g) && !strcmp(r.text, "mx.example.net ESMTP"),
	    "greeting fed one byte at a time (covers S58)");

	const char *e = "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\nleftover";
	CHECK(whole(e, strlen(e), &used) == REPLY_DONE && r.code == 250 && r.n_lines == 3 &&
	    !strcmp(r.text, "mx.example.net\nPIPELINING\n8BITMIME"), "multi-line reply joined");
	CHECK(used == strlen(e) - strlen("leftover"),
	    "parsing stops at the end of the reply: leftover bytes stay visible (covers S56)");
	CHECK(bytewise(e, strlen(e), &used) == REPLY_DONE && used == strlen(e) - 8,
	    "the same one byte at a time");

	CHECK(whole("250-a\r\n550 b\r\n", 14, &used) == REPLY_BAD, "code change between lines refused");
	CHECK(whole("2x0 ok\r\n", 8, &used) == REPLY_BAD, "non-numeric code refused");
	CHECK(whole("600 x\r\n", 7, &used) == REPLY_BAD, "code out of range refused");
	CHECK(whole("250x\r\n", 6, &used) == REPLY_BAD, "bad separator refused");
	CHECK(whole("250\r\n", 5, &used) == REPLY_DONE && r.code == 250 && r.text_len == 0,
	    "'250' without text accepted");
	CHECK(whole("250-a", 5, &used) == REPLY_MORE, "an unterminated line needs more");
	CHECK(whole("250 a\nb\r\n", 9, &used) == REPLY_DONE && used == 6,
	    "a bare LF ends the line; the rest is not part of the reply");

	size_t n = SMTP_REPLY_LINE_MAX + 10;
	char *big = malloc(n);
	memcpy(big, "250-", 4);
	memset(big + 4, 'a', n - 4);
	CHECK(whole(big, n, &used) == REPLY_BAD && strstr(r.error, "line"),
	    "over-long line refused (covers S58)");
	free(big);

	size_t lines = 10000;
	char *many = malloc(lines * 7 + 8);
	for (size_t i = 0; i < lines; i++)
		memcpy(many + i * 7, "250-x\r\n", 7);
	memcpy(many + lines * 7, "250 ok\r\n", 8);
	CHECK(whole(many, lines * 7 + 8, &used) == REPLY_BAD && strstr(r.error, "too long"),
	    "10000 continuation lines exceed the total bound (covers S58)");
	free(many);

	char out[RELAY_DIAGNOSTIC_MAX + 1];
	CHECK(whole("550 5.1.1 x\0y\x1b[31mred\r\n", 24, &used) == REPLY_DONE &&
	    !strcmp(reply_sanitize(&r, out, sizeof out), "550 5.1.1 x\\x00y\\x1b[31mred"),
	    "sanitised text is printable ASCII (covers S59)");
	reply_enhanced(&r, out, sizeof out);
	CHECK(!strcmp(out, "5.1.1"), "enhanced status code found");
	whole("450 5.1.1 mismatch\r\n", 20, &used);
	reply_enhanced(&r, out, sizeof out);
	CHECK(out[0] == '\0', "an enhanced code of another class is ignored");
	return unit_done();
}
