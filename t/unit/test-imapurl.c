/* Unit tests of imap-session's IMAP URL parser (imap-session/imapurl.c):
 * the URLs of RFC 4469's examples and of imaptest's catenate groups, the
 * absolute form of RFC 5092, and what must be refused. Every prefix of
 * each good URL is also parsed from a buffer of exactly its length, so
 * the sanitizer build catches a read past the end. */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "imap-session/imapurl.h"

static enum imapurl_status
parse(const char *s, struct imapurl *u)
{
	return imapurl_parse(s, strlen(s), u);
}

/* Each prefix of s in a heap buffer of its own size: no crash, and a
 * prefix that parses is one the grammar allows (at least "x/;UID=1"). */
static int
prefixes_bounded(const char *s)
{
	size_t n = strlen(s);
	for (size_t k = 0; k <= n; k++) {
		char *p = malloc(k ? k : 1);
		if (p == NULL)
			return 0;
		memcpy(p, s, k);
		struct imapurl u;
		enum imapurl_status st = imapurl_parse(p, k, &u);
		free(p);
		if (st == IMAPURL_OK && (k < 8 || u.uid == 0))
			return 0;
	}
	return 1;
}

static void
test_rfc4469(void)
{
	struct imapurl u;
	CHECK(parse("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER", &u) == IMAPURL_OK &&
	    !u.absolute && strcmp(u.mailbox, "Drafts") == 0 && u.uidvalidity == 385759045 &&
	    u.uid == 20 && u.has_section && strcmp(u.section, "HEADER") == 0 && !u.has_partial,
	    "RFC 4469 A: header of a draft");
	CHECK(parse("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME", &u) == IMAPURL_OK &&
	    strcmp(u.section, "1.MIME") == 0, "RFC 4469 A: a part's MIME header");
	CHECK(parse("/Drafts;UIDVALIDITY=385759045/;UID=30", &u) == IMAPURL_OK && u.uid == 30 &&
	    !u.has_section, "RFC 4469 A: a whole message");
	CHECK(parse("/INBOX;UIDVALIDITY=785799047/;UID=113330/;section=1.5.9", &u) == IMAPURL_OK &&
	    strcmp(u.mailbox, "INBOX") == 0 && u.uid == 113330 && strcmp(u.section, "1.5.9") == 0,
	    "RFC 4469 A: a nested part");
	/* the erratum-4046 form of the failing example: no '/' before section */
	CHECK(parse("/INBOX;UIDVALIDITY=785799047/;UID=113330;section=1.5.9", &u) == IMAPURL_SYNTAX,
	    "RFC 4469 A: ';section' without its '/' is refused");
}

static void
test_imaptest_forms(void)
{
	struct imapurl u;
	CHECK(parse("/box/;uid=3/;section=text", &u) == IMAPURL_OK && strcmp(u.mailbox, "box") == 0 &&
	    u.uidvalidity == 0 && u.uid == 3 && strcmp(u.section, "TEXT") == 0,
	    "lower-case keys, no UIDVALIDITY");
	CHECK(parse("/box/;uid=2/;partial=100000.1", &u) == IMAPURL_OK && u.has_partial &&
	    u.partial_off == 100000 && u.partial_len == 1 && !u.has_section, "partial alone");
	CHECK(parse("/box/;UID=2/;SECTION=1/;PARTIAL=0", &u) == IMAPURL_OK && u.has_partial &&
	    u.partial_off == 0 && u.partial_len == 0 && strcmp(u.section, "1") == 0,
	    "section and partial, no length");
	CHECK(parse("INBOX/;UID=1", &u) == IMAPURL_OK && strcmp(u.mailbox, "INBOX") == 0 &&
	    u.uid == 1 && !u.absolute, "relative path: against the server's root");
	CHECK(parse("/a/b%20c/;UID=1", &u) == IMAPURL_OK && strcmp(u.mailbox, "a/b c") == 0,
	    "hierarchy and percent-decoding in the mailbox");
	CHECK(parse("/%E6%97%A5/;UID=1", &u) == IMAPURL_OK &&
	    strcmp(u.mailbox, "\xe6\x97\xa5") == 0, "UTF-8 mailbox (RFC 5092 §3.2)");
	CHECK(parse("/box/;UID=1/;SECTION=HEADER.FIELDS%20(FROM%20TO)", &u) == IMAPURL_OK &&
	    strcmp(u.section, "HEADER.FIELDS (FROM TO)") == 0, "HEADER.FIELDS section decoded");
	CHECK(parse("/box/;UID=1;URLAUTH=anonymous:internal:0123", &u) == IMAPURL_OK && u.urlauth,
	    "URLAUTH flagged");
}

static void
test_absolute(void)
{
	struct imapurl u;
	CHECK(parse("imap://alice%40example.org;AUTH=*@mail.example.org:143/INBOX/;UID=7", &u) ==
	    IMAPURL_OK && u.absolute && strcmp(u.user, "alice@example.org") == 0 &&
	    strcmp(u.host, "mail.example.org") == 0 && u.port == 143 && u.uid == 7,
	    "absolute: user, auth, host, port");
	CHECK(parse("imap://[::1]/INBOX/;UID=1", &u) == IMAPURL_OK && strcmp(u.host, "[::1]") == 0 &&
	    u.user[0] == '\0', "absolute: IPv6 host, no user");
	CHECK(parse("imap://host:99999/INBOX/;UID=1", &u) == IMAPURL_SYNTAX, "port over 65535");
	CHECK(parse("imap:///INBOX/;UID=1", &u) == IMAPURL_SYNTAX, "empty host");
	CHECK(parse("imap://host", &u) == IMAPURL_SYNTAX, "no path");
}

static void
test_refused(void)
{
	struct imapurl u;
	static const char *const bad[] = {
		"", "/", ";UID=1", "INBOX;UID=1", "/INBOX", "/INBOX/;UID=", "/INBOX/;UID=0",
		"/INBOX/;UID=01", "/INBOX/;UID=4294967296", "/INBOX;UID=1", "//;UID=1",
		"/;UID=1", "/INBOX;UIDVALIDITY=0/;UID=1", "/INBOX;UIDVALIDITY=1;UID=1",
		"/INBOX/;UID=1/;SECTION=", "/INBOX/;UID=1/;SECTION=0", "/INBOX/;UID=1/;SECTION=1.",
		"/INBOX/;UID=1/;SECTION=BODY", "/INBOX/;UID=1/;SECTION=MIME",
		"/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20()", "/INBOX/;UID=1/;PARTIAL=",
		"/INBOX/;UID=1/;PARTIAL=1.0", "/INBOX/;UID=1/;PARTIAL=1.", "/INBOX/;UID=1x",
		"/IN BOX/;UID=1", "/IN%2/;UID=1", "/IN%00BOX/;UID=1", "/IN%zzBOX/;UID=1",
		"/INBOX?SUBJECT%20x", "/INBOX/;UID=1/;SECTION=1/;PARTIAL=1/;UID=2",
	};
	int all = 1;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (parse(bad[i], &u) == IMAPURL_OK) {
			printf("# accepted: %s\n", bad[i]);
			all = 0;
		}
	}
	CHECK(all, "malformed URLs refused");
	CHECK(imapurl_parse("/IN\0BOX/;UID=1", 14, &u) == IMAPURL_SYNTAX, "a NUL refused");
	char big[IMAPURL_MAX + 16];
	memset(big, 'a', sizeof big);
	memcpy(big, "/", 1);
	memcpy(big + sizeof big - 7, "/;UID=1", 7);
	CHECK(imapurl_parse(big, sizeof big, &u) == IMAPURL_TOOLONG, "over IMAPURL_MAX refused");
	char box[IMAPURL_MAILBOX_MAX + 16];
	memset(box, 'b', sizeof box);
	box[0] = '/';
	memcpy(box + sizeof box - 7, "/;UID=1", 7);
	CHECK(imapurl_parse(box, sizeof box, &u) == IMAPURL_TOOLONG && u.uid == 0,
	    "mailbox over its field refused, result cleared");
}

static void
test_prefixes(void)
{
	CHECK(prefixes_bounded("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME/;partial=3.4") &&
	    prefixes_bounded("imap://u;AUTH=*@[::1]:143/a%20b/;UID=9/;SECTION=HEADER.FIELDS%20(A)"),
	    "every prefix parsed within its bytes");
}

int
main(void)
{
	test_rfc4469();
	test_imaptest_forms();
	test_absolute();
	test_refused();
	test_prefixes();
	return unit_done();
}
