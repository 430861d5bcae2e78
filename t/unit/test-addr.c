/* test-addr — lib/addr.c: RFC 5321 paths parsed strictly; every relay
 * trick of S19/S20 and every length/syntax case of S22 has its verdict. */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "unit.h"

struct pcase {
	const char *in;
	int utf8;
	enum addr_error want;
	const char *local, *domain;  /* expected when OK or LITERAL */
	const char *rest;            /* what follows '>' on success */
};

static const struct pcase cases[] = {
	/* Plain forms. */
	{ "<alice@example.org>", 0, ADDR_OK, "alice", "example.org", "" },
	{ " <alice@Example.ORG> SIZE=1", 0, ADDR_OK, "alice", "example.org", " SIZE=1" },
	{ "<a.b+c@example.org.>", 0, ADDR_OK, "a.b+c", "example.org", "" },
	{ "<\"a b\"@example.com>", 0, ADDR_OK, "a b", "example.com", "" },
	{ "<\"a\\\"b\"@example.com>", 0, ADDR_OK, "a\"b", "example.com", "" },
	{ "<>", 0, ADDR_OK, "", "", "" },
	{ "<postmaster>", 0, ADDR_NO_DOMAIN, NULL, NULL, NULL },
	{ "<alice>", 0, ADDR_NO_DOMAIN, NULL, NULL, NULL },
	/* S19: the nmap relay probe forms. */
	{ "<relaytest%example.net@[127.0.0.1]>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<relaytest%example.net@mx.example.org>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<\"relaytest@example.net\">", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<\"relaytest%example.net\">", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<relaytest@example.net@[127.0.0.1]>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<\"relaytest@example.net\"@[127.0.0.1]>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<relaytest@example.net@mx.example.org>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<@[127.0.0.1]:relaytest@example.net>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<@mx.example.org:relaytest@example.net>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<example.net!relaytest>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<example.net!relaytest@[127.0.0.1]>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<example.net!relaytest@mx.example.org>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<relaytest@[203.0.113.7]>", 0, ADDR_LITERAL, "relaytest", "[203.0.113.7]", "" },
	/* S20: routing syntax inside local-looking addresses. */
	{ "<\"bob@example.net\"@example.org>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<bob%example.net@example.org>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<example.net!bob@example.org>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<@example.org:bob@example.net>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<@a,@b:bob@example.net>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	/* S22: lengths and syntax. */
	{ "a@example.com", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<a@example.com", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<a@example.com> <b@example.com>", 0, ADDR_OK, "a", "example.com", " <b@example.com>" },
	{ "<a@[300.1.1.1]>", 0, ADDR_LITERAL, "a", "[300.1.1.1]", "" },
	{ "<a@[IPv6:::1]>", 0, ADDR_LITERAL, "a", "[IPv6:::1]", "" },
	{ "<a@[1.2.3.4>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<a@[1.2\\.3.4]>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<a..b@example.com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<.a@example.com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<a.@example.com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<a@-example.com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<a@example-.com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<a@example..com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<a@>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<@>", 0, ADDR_ROUTING, NULL, NULL, NULL },
	{ "<a b@example.com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<a@exa mple.com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<\"a\rb\"@example.com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<\"a\"b@example.com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<\"unterminated@example.com>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<\"@example.com> X=\\\"", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<;sleep 66;>", 0, ADDR_SYNTAX, NULL, NULL, NULL },
	{ "<${run{\x2f" "bin\x2fsh\t-c\t\x22id\x3e\x3e\x2ftmp\x2fid\x22}}@localhost>", 0, ADDR_SYNTAX,
	  NULL, NULL, NULL },
	/* S22: non-ASCII needs SMTPUTF8. */
	{ "<\xc3\xa5lice@example.org>", 0, ADDR_UTF8, NULL, NULL, NULL },
	{ "<\xc3\xa5lice@example.org>", 1, ADDR_OK, "\xc3\xa5lice", "example.org", "" },
	{ "<a@b\xc3\xbc.example>", 0, ADDR_UTF8, NULL, NULL, NULL },
	{ "<a@b\xc3\xbc.example>", 1, ADDR_OK, "a", "b\xc3\xbc.example", "" },
	{ "<\"\xc3\xa5\"@example.org>", 0, ADDR_UTF8, NULL, NULL, NULL },
};

static void
test_cases(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct pcase *c = &cases[i];
		struct addr a;
		const char *end = NULL;
		char name[300];
		enum addr_error e = addr_parse_path(c->in, c->utf8, &a, &end);
		int ok = e == c->want;
		if (ok && c->local) {
			ok = strcmp(a.local, c->local) == 0 && strcmp(a.domain, c->domain) == 0 &&
			    end && strcmp(end, c->rest) == 0;
		}
		snprintf(name, sizeof name, "path %s%s: verdict %d", c->in, c->utf8 ? " (SMTPUTF8)" : "",
		    (int)c->want);
		for (char *p = name; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = '?';
		CHECK(ok, name);
	}
}

/* A domain of len octets in labels of 60. */
static void
make_domain(char *d, size_t len)
{
	for (size_t i = 0; i < len; i++)
		d[i] = i % 61 == 60 ? '.' : 'd';
	d[len] = '\0';
}

static void
test_lengths(void)
{
	char buf[1200], local[80];
	struct addr a;
	const char *end;
	memset(local, 'a', 64);
	local[64] = '\0';
	snprintf(buf, sizeof buf, "<%s@example.org>", local);
	CHECK(addr_parse_path(buf, 0, &a, &end) == ADDR_OK, "S22: 64-octet local part accepted");
	snprintf(buf, sizeof buf, "<%sa@example.org>", local);
	CHECK(addr_parse_path(buf, 0, &a, &end) == ADDR_TOO_LONG, "S22: 65-octet local part too long");
	char longpath[400];
	memset(longpath, 'a', 300);
	longpath[300] = '\0';
	snprintf(buf, sizeof buf, "<%s@example.com>", longpath);
	CHECK(addr_parse_path(buf, 0, &a, &end) == ADDR_TOO_LONG, "S22: 300-octet path too long");
	/* 64 + 1 + 191 = 256: the longest path; one more octet is too long. */
	char dom[260];
	make_domain(dom, 191);
	snprintf(buf, sizeof buf, "<%s@%s>", local, dom);
	CHECK(addr_parse_path(buf, 0, &a, &end) == ADDR_OK, "S22: 256-octet path accepted");
	make_domain(dom, 192);
	snprintf(buf, sizeof buf, "<%s@%s>", local, dom);
	CHECK(addr_parse_path(buf, 0, &a, &end) == ADDR_TOO_LONG, "S22: 257-octet path too long");
	char bigdom[600];
	memset(bigdom, 'b', 500);
	bigdom[500] = '\0';
	snprintf(buf, sizeof buf, "<a@%s>", bigdom);
	CHECK(addr_parse_path(buf, 0, &a, &end) == ADDR_TOO_LONG, "S22: 500-octet domain too long");
	memset(bigdom, 'b', 64);
	memcpy(bigdom + 64, ".org", 5);
	snprintf(buf, sizeof buf, "<a@%s>", bigdom);
	CHECK(addr_parse_path(buf, 0, &a, &end) == ADDR_SYNTAX, "S22: a 64-octet label is refused");
	bigdom[1] = '.';
	snprintf(buf, sizeof buf, "<a@%s>", bigdom);
	CHECK(addr_parse_path(buf, 0, &a, &end) == ADDR_OK, "S22: labels up to 63 octets are fine");
	snprintf(buf, sizeof buf, "<\"%s\"@example.org>", longpath);
	CHECK(addr_parse_path(buf, 0, &a, &end) == ADDR_TOO_LONG, "S22: 300-octet quoted local part too long");
}

static void
test_format(void)
{
	struct addr a;
	const char *end;
	char out[ADDR_PATH_MAX + 8];
	addr_parse_path("<\"a b\"@example.com>", 0, &a, &end);
	addr_format(&a, out, sizeof out);
	CHECK(strcmp(out, "\"a b\"@example.com") == 0, "format quotes a local part with a space");
	addr_parse_path("<\"a\\\"b\\\\c\"@example.com>", 0, &a, &end);
	addr_format(&a, out, sizeof out);
	CHECK(strcmp(out, "\"a\\\"b\\\\c\"@example.com") == 0, "format escapes quote and backslash");
	addr_parse_path("<\"plain\"@Example.COM>", 0, &a, &end);
	addr_format(&a, out, sizeof out);
	CHECK(strcmp(out, "plain@example.com") == 0, "needless quotes dropped, domain lower-cased");
	addr_parse_path("<>", 0, &a, &end);
	addr_format(&a, out, sizeof out);
	CHECK(out[0] == '\0' && a.null, "null path formats as the empty string");
	/* A formatted address parses back to the same thing. */
	addr_parse_path("<\"x..y\"@example.org>", 0, &a, &end);
	addr_format(&a, out, sizeof out);
	char again[ADDR_PATH_MAX + 16];
	snprintf(again, sizeof again, "<%s>", out);
	struct addr b;
	CHECK(addr_parse_path(again, 0, &b, &end) == ADDR_OK && strcmp(a.local, b.local) == 0,
	    "format round-trips a local part that needs quotes");
}

static void
test_helo(void)
{
	char big[300];
	memset(big, 'a', 256);
	big[256] = '\0';
	CHECK(addr_valid_helo("mx.example.org"), "HELO: host name");
	CHECK(addr_valid_helo("[192.0.2.1]"), "HELO: IPv4 literal");
	CHECK(addr_valid_helo("[IPv6:2001:db8::1]"), "HELO: IPv6 literal");
	CHECK(addr_valid_helo("my_host"), "HELO: underscore tolerated (real clients send it)");
	CHECK(!addr_valid_helo(""), "HELO: empty refused");
	CHECK(!addr_valid_helo("a (evil)"), "S29: HELO with blank and parentheses refused");
	CHECK(!addr_valid_helo("a\rBcc: x@example.net"), "S29: HELO with CR refused");
	CHECK(!addr_valid_helo("a\tb"), "S29: HELO with TAB refused");
	CHECK(!addr_valid_helo("a;b"), "S29: HELO with ';' refused");
	CHECK(!addr_valid_helo("[1.2.3.4"), "HELO: unterminated literal refused");
	CHECK(!addr_valid_helo("[1.2.3.4] x"), "HELO: literal with trailing text refused");
	CHECK(!addr_valid_helo(big), "S29: HELO over 255 octets refused");
	big[255] = '\0';
	CHECK(addr_valid_helo(big), "HELO of 255 octets accepted");
}

int
main(void)
{
	test_cases();
	test_lengths();
	test_format();
	test_helo();
	return unit_done();
}
