/* Unit tests for pop3-session's pure parts: the command parser (S41, S42),
 * the CRLF/stuffing/>From converter fed one byte at a time, and SHA-256
 * (lib/digest) against FIPS 180-4 vectors. Linked with pop3-session's objects. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "msgconv.h"
#include "pop3-session/pop3-parse.h"
#include "digest.h"

static int
parse(const char *s, struct pop3_command *c)
{
	static char buf[1024];
	snprintf(buf, sizeof buf, "%s", s);
	return pop3_parse_line(buf, strlen(buf), c);
}

static void
test_parse(void)
{
	struct pop3_command c;
	CHECK(parse("retr 12\r\n", &c) == POP3_PARSE_OK && strcmp(c.keyword, "RETR") == 0 &&
	    c.argc == 1 && strcmp(c.argv[0], "12") == 0, "keyword upper-cased, one argument");
	CHECK(parse("TOP 1 5\n", &c) == POP3_PARSE_OK && c.argc == 2 && strcmp(c.argv[1], "5") == 0,
	    "two arguments, bare LF accepted");
	CHECK(parse("QUIT", &c) == POP3_PARSE_OK && c.argc == 0 && c.rest[0] == '\0', "no arguments");
	CHECK(parse("RETR  1\r\n", &c) == POP3_PARSE_BAD_ARGS, "two spaces: empty argument (S42)");
	CHECK(parse("RETR 1 \r\n", &c) == POP3_PARSE_BAD_ARGS, "trailing space");
	CHECK(parse("TOP 1 2 3\r\n", &c) == POP3_PARSE_BAD_ARGS, "three arguments");
	CHECK(parse("RETR \r\n", &c) == POP3_PARSE_BAD_ARGS, "keyword and space only");
	CHECK(parse("PASS two words  here\r\n", &c) == POP3_PARSE_OK &&
	    strcmp(c.rest, "two words  here") == 0 && c.argc == 0, "PASS takes its rest whole");
	CHECK(parse("AUTH PLAIN AGE=\r\n", &c) == POP3_PARSE_OK && strcmp(c.rest, "PLAIN AGE=") == 0,
	    "AUTH takes its rest whole");
	CHECK(parse("\r\n", &c) == POP3_PARSE_EMPTY, "empty line");
	CHECK(parse("NO\r\n", &c) == POP3_PARSE_BAD_KEYWORD, "two-letter keyword");
	CHECK(parse("NOOPS\r\n", &c) == POP3_PARSE_BAD_KEYWORD, "five-letter keyword");
	CHECK(parse("NO0P\r\n", &c) == POP3_PARSE_BAD_KEYWORD, "digit in keyword");
	CHECK(parse("USER a\rb\r\n", &c) == POP3_PARSE_BAD_BYTE, "bare CR");
	char nul[] = "NOOP\0x\r\n";
	CHECK(pop3_parse_line(nul, sizeof nul - 1, &c) == POP3_PARSE_BAD_BYTE, "NUL byte");
	char arg[400];
	memset(arg, 'a', sizeof arg);
	memcpy(arg, "USER ", 5);
	arg[sizeof arg - 1] = '\0';
	CHECK(parse(arg, &c) == POP3_PARSE_BAD_ARGS, "argument over POP3_ARG_MAX");
}

static void
test_numbers(void)
{
	unsigned long n;
	CHECK(pop3_parse_number("1", 10, &n) == 0 && n == 1, "1");
	CHECK(pop3_parse_number("0010", 10, &n) == 0 && n == 10, "leading zeros, at max");
	CHECK(pop3_parse_number("11", 10, &n) < 0, "over max");
	CHECK(pop3_parse_number("-1", 10, &n) < 0, "negative (S42)");
	CHECK(pop3_parse_number("+1", 10, &n) < 0, "plus sign (S42)");
	CHECK(pop3_parse_number("1x", 10, &n) < 0, "trailing junk (S42)");
	CHECK(pop3_parse_number("", 10, &n) < 0, "empty");
	CHECK(pop3_parse_number(" 1", 10, &n) < 0, "leading space");
	CHECK(pop3_parse_number("18446744073709551616", (unsigned long)-1, &n) < 0, "2^64 overflows");
	CHECK(pop3_parse_number("18446744073709551615", (unsigned long)-1, &n) == 0 &&
	    n == (unsigned long)-1, "2^64-1 fits");
	CHECK(pop3_parse_count("99999999999999999999999", &n) == 0 && n == (unsigned long)-1,
	    "huge count saturates (TOP 1 99999999999, S42)");
	CHECK(pop3_parse_count("-1", &n) < 0, "negative count (TOP n -1, S42)");
	CHECK(pop3_parse_count("0", &n) == 0 && n == 0, "count 0");
}

struct sink {
	char buf[4096];
	size_t len;
};

static int
sink_emit(void *ctx, const char *p, size_t n)
{
	struct sink *s = ctx;
	if (s->len + n > sizeof s->buf)
		return 1;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* Converts in one byte at a time; the output and the counted size. */
static const char *
conv(const char *in, int mbox, long top, uint64_t *size_r)
{
	static struct sink s;
	struct msgconv c, count;
	s.len = 0;
	msgconv_init(&c, mbox, 1, sink_emit, &s);
	msgconv_init(&count, mbox, 0, NULL, NULL);
	if (top >= 0)
		msgconv_set_top(&c, (unsigned long)top);
	for (size_t i = 0; in[i]; i++) {
		msgconv_feed(&c, in + i, 1);
		msgconv_feed(&count, in + i, 1);
	}
	msgconv_finish(&c);
	msgconv_finish(&count);
	s.buf[s.len] = '\0';
	*size_r = count.out_bytes;
	return s.buf;
}

static void
test_conv(void)
{
	uint64_t size;
	CHECK(strcmp(conv("a\nb\n", 0, -1, &size), "a\r\nb\r\n") == 0 && size == 6, "LF to CRLF");
	CHECK(strcmp(conv("a\r\nb\r\n", 0, -1, &size), "a\r\nb\r\n") == 0 && size == 6, "CRLF kept");
	CHECK(strcmp(conv("a\nb", 0, -1, &size), "a\r\nb\r\n") == 0 && size == 6,
	    "unterminated last line ended, and counted");
	CHECK(strcmp(conv(".\n..x\n.y\n", 0, -1, &size), "..\r\n...x\r\n..y\r\n") == 0 && size == 12,
	    "dots stuffed on the wire, not counted");
	CHECK(strcmp(conv(">From a\n>>From b\n>Fro\n>x\n>\n", 1, -1, &size),
	    "From a\r\n>From b\r\n>Fro\r\n>x\r\n>\r\n") == 0 && size == 30, "mboxrd unquoting");
	CHECK(strcmp(conv(">From a\n", 0, -1, &size), ">From a\r\n") == 0, "Maildir: >From kept");
	CHECK(strcmp(conv("a\r\rb\n", 0, -1, &size), "a\r\rb\r\n") == 0 && size == 6, "bare CR passes");
	const char *m = "H: 1\nH: 2\n\nl1\nl2\nl3\n";
	CHECK(strcmp(conv(m, 0, 0, &size), "H: 1\r\nH: 2\r\n\r\n") == 0, "TOP n 0");
	CHECK(strcmp(conv(m, 0, 2, &size), "H: 1\r\nH: 2\r\n\r\nl1\r\nl2\r\n") == 0, "TOP n 2");
	CHECK(strcmp(conv("H: 1\r\n\r\nl1\r\n", 0, 0, &size), "H: 1\r\n\r\n") == 0, "TOP, CRLF storage");
	CHECK(strcmp(conv(m, 0, 99, &size), "H: 1\r\nH: 2\r\n\r\nl1\r\nl2\r\nl3\r\n") == 0, "TOP past the end");
	CHECK(strcmp(conv("", 0, -1, &size), "") == 0 && size == 0, "empty message");
}

static void
test_sha256(void)
{
	static const struct { const char *in, *hex; } v[] = {
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct digest s;
		unsigned char d[DIGEST_SHA256_LEN];
		char h[65];
		digest_sha256_init(&s);
		for (const char *p = v[i].in; *p; p++)
			digest_update(&s, p, 1);
		digest_final(&s, d);
		for (int k = 0; k < 32; k++)
			snprintf(h + 2 * k, 3, "%02x", d[k]);
		CHECK(strcmp(h, v[i].hex) == 0, "SHA-256 FIPS 180-4 vector");
	}
}

int
main(void)
{
	test_parse();
	test_numbers();
	test_conv();
	test_sha256();
	return unit_done();
}
