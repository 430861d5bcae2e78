/* Unit tests of imap-session's command parser (framer fed one byte at a
 * time, tokenizer), mailbox-name mapping, sequence sets and SEARCH/SORT
 * RETURN lists (S30-S33, S37). Linked with imap-session's objects. */
#include <errno.h>
#include <string.h>

#include "unit.h"
#include "imap-session/imap.h"
#include "mailname.h"
#include "imap-session/parser.h"
#include "imap-session/search.h"

/* Feeds s one byte at a time; returns the last status and counts '+'. */
static enum frame_status
feed_bytes(struct imap_framer *f, const char *s, size_t len, int *conts, size_t *used_total)
{
	enum frame_status st = FRAME_NEED_MORE;
	*conts = 0;
	*used_total = 0;
	for (size_t i = 0; i < len; i++) {
		size_t used;
		st = framer_feed(f, (const unsigned char *)s + i, 1, &used);
		*used_total += used;
		if (st == FRAME_CONTINUE)
			(*conts)++;
		else if (st != FRAME_NEED_MORE)
			break;
	}
	return st;
}

static void
test_framer(void)
{
	struct imap_framer f;
	int conts;
	size_t used;
	framer_init(&f);
	f.literal_max = 100;
	f.append_max = 1000;
	const char *c1 = "a LOGIN {5}\r\nalice {2+}\r\npw\r\n";
	enum frame_status st = feed_bytes(&f, c1, strlen(c1), &conts, &used);
	CHECK(st == FRAME_DONE && conts == 1 && used == strlen(c1), "framer: sync and non-sync literals");
	struct imap_command c;
	const char *err;
	CHECK(imap_tokenize(f.buf, f.len, 1, 0, &c, &err) == TOK_OK && c.n == 2 &&
	    strcmp(c.name, "LOGIN") == 0 && c.args[0].type == ARG_LITERAL &&
	    strcmp(c.args[0].str, "alice") == 0 && strcmp(c.args[1].str, "pw") == 0,
	    "tokenizer: literals as arguments");
	imap_command_free(&c);
	framer_reset(&f);

	st = feed_bytes(&f, "a LOGIN {101}\r\n", 15, &conts, &used);
	CHECK(st == FRAME_TOOBIG && conts == 0, "framer: {101} over the limit, no continuation (S31)");
	framer_reset(&f);
	st = feed_bytes(&f, "a APPEND x {1000}\r\n", 19, &conts, &used);
	CHECK(st == FRAME_CONTINUE && f.is_append, "framer: APPEND gets the larger limit");
	framer_reset(&f);
	st = feed_bytes(&f, "a LOGIN {999999999+}\r\n", 22, &conts, &used);
	CHECK(st == FRAME_TOOBIG_CLOSE, "framer: huge non-sync literal closes (S31)");
	framer_reset(&f);
	st = feed_bytes(&f, "a LOGIN {4294967296}\r\n", 22, &conts, &used);
	CHECK(st == FRAME_BAD_LITERAL, "framer: literal size over 2^32-1 is BAD (S31)");
	framer_reset(&f);
	st = feed_bytes(&f, "a LOGIN {-1}\r\n", 14, &conts, &used);
	CHECK(st == FRAME_DONE && conts == 0 && imap_tokenize(f.buf, f.len, 1, 0, &c, &err) == TOK_BAD,
	    "framer: {-1} is no literal, the tokenizer says BAD");
	framer_reset(&f);
	/* '}' ending an atom is an atom character, no broken literal (RFC 9051 §9). */
	static const char *const no_literal[] = { "a SELECT abcdefghijklmnopqrstu}\r\n",
		"a SELECT x}\r\n", "a SELECT }\r\n", "a SELECT a{5}\r\n", "a SELECT {}\r\n",
		"a SELECT {5+1}\r\n" };
	for (size_t i = 0; i < sizeof no_literal / sizeof no_literal[0]; i++) {
		st = feed_bytes(&f, no_literal[i], strlen(no_literal[i]), &conts, &used);
		CHECK(st == FRAME_DONE && conts == 0 && used == strlen(no_literal[i]),
		    "framer: a line ending in '}' but not {N} is no literal");
		framer_reset(&f);
	}
	st = feed_bytes(&f, no_literal[0], strlen(no_literal[0]), &conts, &used);
	CHECK(st == FRAME_DONE && imap_tokenize(f.buf, f.len, 1, 0, &c, &err) == TOK_OK && c.n == 1 &&
	    c.args[0].type == ARG_ATOM && strcmp(c.args[0].str, "abcdefghijklmnopqrstu}") == 0,
	    "tokenizer: '}' ends an atom");
	imap_command_free(&c);
	framer_reset(&f);
	const char *c8 = "a APPEND x (\\Seen) ~{3+}\r\nabc\r\n";
	st = feed_bytes(&f, c8, strlen(c8), &conts, &used);
	CHECK(st == FRAME_DONE && conts == 0 && used == strlen(c8), "framer: ~{N+} is a literal");
	framer_reset(&f);
	st = feed_bytes(&f, "a X ({2}\r\nab)\r\n", strlen("a X ({2}\r\nab)\r\n"), &conts, &used);
	CHECK(st == FRAME_DONE && conts == 1, "framer: {N} after ( is a literal");
	framer_reset(&f);
	f.preauth = 1;
	st = feed_bytes(&f, "a ID {3}\r\n", 10, &conts, &used);
	CHECK(st == FRAME_TOOBIG, "framer: before login only LOGIN carries literals (S35)");
	framer_reset(&f);
	f.preauth = 0;
	f.line_max = 10;
	st = feed_bytes(&f, "a NOOP xxxxxxxxxx\r\n", 19, &conts, &used);
	CHECK(st == FRAME_TOOLONG, "framer: line limit");
	framer_free(&f);
}

static int
tok(const char *s, int depth, struct imap_command *c)
{
	const char *err;
	return imap_tokenize((const unsigned char *)s, strlen(s), depth, 0, c, &err);
}

static void
test_tokenizer(void)
{
	struct imap_command c;
	CHECK(tok("a1 fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.10>)", 32, &c) == TOK_OK &&
	    strcmp(c.tag, "a1") == 0 && strcmp(c.name, "FETCH") == 0 && c.n == 2 &&
	    c.args[1].type == ARG_LIST && c.args[1].n == 2 &&
	    strcmp(c.args[1].list[1].str, "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.10>") == 0,
	    "tokenizer: section with spaces and parentheses is one atom");
	imap_command_free(&c);
	/* '[' opens a section only after a fetch-att name; elsewhere it and
	 * ']' are atom characters (RFC 9051 §9). */
	CHECK(tok("a SELECT x[", 32, &c) == TOK_OK && c.n == 1 && strcmp(c.args[0].str, "x[") == 0,
	    "tokenizer: '[' in a mailbox name needs no ']'");
	imap_command_free(&c);
	CHECK(tok("a LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*", 32, &c) == TOK_OK && c.n == 2 &&
	    strcmp(c.args[1].str, "!#$&'+,-.0123456789:;<=>?@^_`|[}%*") == 0,
	    "tokenizer: every atom character of imaptest's atoms group");
	imap_command_free(&c);
	CHECK(tok("a RENAME a[b c]", 32, &c) == TOK_OK && c.n == 2 && strcmp(c.args[0].str, "a[b") == 0 &&
	    strcmp(c.args[1].str, "c]") == 0, "tokenizer: '[' of an atom spans no space");
	imap_command_free(&c);
	CHECK(tok("a FETCH 1 (body.peek[header.fields (A)] BINARY.SIZE[1] binary[2]<0.1>)", 32, &c) ==
	    TOK_OK && c.n == 2 && c.args[1].n == 3 &&
	    strcmp(c.args[1].list[0].str, "body.peek[header.fields (A)]") == 0,
	    "tokenizer: sections of every fetch-att name");
	imap_command_free(&c);
	CHECK(tok("a FETCH 1 BODY[", 32, &c) == TOK_BAD, "tokenizer: a fetch-att section needs ]");
	CHECK(tok("a LOGIN \"a\\\"b\\\\c\" x", 1, &c) == TOK_OK && strcmp(c.args[0].str, "a\"b\\c") == 0,
	    "tokenizer: quoted escapes");
	imap_command_free(&c);
	const char nul[] = "a LOGIN \"us\0er\" pw";
	const char *err;
	CHECK(imap_tokenize((const unsigned char *)nul, sizeof nul - 1, 1, 0, &c, &err) == TOK_BAD,
	    "tokenizer: NUL in quoted string is BAD (S30)");
	const char lit[] = "a LOGIN {5}\r\nus\0er pw";
	CHECK(imap_tokenize((const unsigned char *)lit, sizeof lit - 1, 1, 0, &c, &err) == TOK_BAD,
	    "tokenizer: NUL in a literal is BAD (S30)");
	const char lit8[] = "a APPEND x ~{5}\r\nus\0er";
	CHECK(imap_tokenize((const unsigned char *)lit8, sizeof lit8 - 1, 32, 1, &c, &err) == TOK_OK &&
	    c.args[1].literal8 && c.args[1].len == 5, "tokenizer: NUL allowed in literal8 of APPEND");
	imap_command_free(&c);
	CHECK(tok("a ID ((x))", 1, &c) == TOK_BAD, "tokenizer: depth 2 refused pre-auth (S32)");
	CHECK(tok("a ID (x)", 1, &c) == TOK_OK, "tokenizer: depth 1 allowed pre-auth");
	imap_command_free(&c);
	char deep[200];
	memset(deep, '(', sizeof deep);
	memcpy(deep, "a SEARCH ", 9);
	deep[sizeof deep - 1] = '\0';
	CHECK(tok(deep, 32, &c) == TOK_BAD, "tokenizer: depth over 32 refused (S32)");
	CHECK(tok("a NOOP  x", 32, &c) == TOK_BAD, "tokenizer: double space is BAD");
	CHECK(tok("a+ NOOP", 32, &c) == TOK_BAD, "tokenizer: '+' not allowed in a tag");
	CHECK(tok("a NOOP", 32, &c) == TOK_OK && c.n == 0, "tokenizer: command without arguments");
	imap_command_free(&c);
}

static int
to_disk(const char *client, int utf8, char *disk)
{
	char name[MAILNAME_MAX];
	if (mailname_from_client(client, strlen(client), utf8, name, sizeof name) != 0)
		return -1;
	return mailname_to_disk(name, disk, MAILNAME_MAX * 3);
}

static void
test_mailname(void)
{
	char disk[MAILNAME_MAX * 3], name[MAILNAME_MAX], out[MAILNAME_MAX * 3];
	CHECK(to_disk("INBOX", 0, disk) == 0 && disk[0] == '\0', "INBOX is the root");
	CHECK(to_disk("inbox", 0, disk) == 0 && disk[0] == '\0', "inbox any case");
	CHECK(to_disk("Archive/2024", 0, disk) == 0 && strcmp(disk, ".Archive.2024") == 0,
	    "Archive/2024 is .Archive.2024");
	CHECK(to_disk("&ZeVnLIqe-", 0, disk) == 0 && strcmp(disk, ".&ZeVnLIqe-") == 0 &&
	    mailname_from_disk(disk, name, sizeof name) == 0 &&
	    strcmp(name, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e") == 0, "mUTF-7 decoded and kept on disk");
	CHECK(mailname_to_client(name, 0, out, sizeof out) == 0 && strcmp(out, "&ZeVnLIqe-") == 0,
	    "UTF-8 back to mUTF-7 for rev1");
	CHECK(to_disk("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 1, disk) == 0 &&
	    strcmp(disk, ".&ZeVnLIqe-") == 0, "UTF-8 name after ENABLE maps the same");
	CHECK(to_disk("a&-b", 0, disk) == 0 && strcmp(disk, ".a&-b") == 0, "&- is '&'");
	static const char *const bad[] = { "../x", "/etc", "~root/x", "a/../b", "a/./b", "..", ".",
		".Sent", "a.b", "x\\y", "{host}INBOX", "a//b", "a/", "", "a\x01", "tmp", "a*", "b%" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char msg[80];
		snprintf(msg, sizeof msg, "refused: \"%s\" (S33)", bad[i]);
		CHECK(to_disk(bad[i], 0, disk) != 0 && to_disk(bad[i], 1, disk) != 0, msg);
	}
	/* Modified UTF-7 is decoded strictly: encoded ASCII ("..", "ab"),
	 * unterminated or non-canonical shifts are refused for rev1 clients. */
	static const char *const bad7[] = { "&AC4ALg-", "&AGEAYg-", "&Jjo", "&Jjo-&Jjo-x", "&-&",
		"&AAA-", "caf\xc3\xa9" };
	for (size_t i = 0; i < sizeof bad7 / sizeof bad7[0]; i++) {
		char msg[80];
		snprintf(msg, sizeof msg, "mUTF-7 refused: \"%s\" (S33)", bad7[i]);
		CHECK(to_disk(bad7[i], 0, disk) != 0, msg);
	}
	CHECK(mailname_from_disk(".a..b", name, sizeof name) != 0, "disk name with empty component skipped");
	CHECK(mailname_from_disk("..", name, sizeof name) != 0, "disk '..' skipped");
}

static void
test_seqset(void)
{
	struct seqset s;
	CHECK(seqset_parse("1:3,7,*:5", 10, &s) == 0 && s.n == 2 && s.r[0].lo == 1 && s.r[0].hi == 3 &&
	    s.r[1].lo == 5 && s.r[1].hi == 10, "seqset: ranges merged and sorted, * is max");
	seqset_free(&s);
	CHECK(seqset_parse("0", 10, &s) != 0, "seqset: 0 refused (S37)");
	CHECK(seqset_parse("4294967296", 10, &s) != 0, "seqset: over 2^32-1 refused (S37)");
	CHECK(seqset_parse("1:4294967295", 10, &s) == 0 && s.n == 1 && s.r[0].hi == 4294967295u,
	    "seqset: 1:4294967295 is one range, not a list");
	seqset_free(&s);
	CHECK(seqset_parse("1,,2", 10, &s) != 0 && seqset_parse("1:", 10, &s) != 0 &&
	    seqset_parse("01", 10, &s) != 0 && seqset_parse("", 10, &s) != 0, "seqset: syntax errors");
	CHECK(seqset_parse("1,1,1,1", 10, &s) == 0 && s.n == 1 && seqset_contains(&s, 1) &&
	    !seqset_contains(&s, 2), "seqset: duplicates merged");
	seqset_free(&s);
}

/* The one UID-set writer: runs merged in the given order, the buffer's
 * ceiling refused whole rather than cut (COPYUID, ESEARCH ALL). */
static void
test_seqset_format(void)
{
	uint32_t u[] = { 1, 2, 3, 7, 9, 10, 4294967294u, 4294967295u };
	struct buf b = BUF_INIT(100);
	CHECK(seqset_format(&b, u, 8) == 0 && strcmp(b.s, "1:3,7,9:10,4294967294:4294967295") == 0,
	    "seqset_format: runs merged");
	buf_free(&b);
	uint32_t down[] = { 5, 4, 3 };
	CHECK(seqset_format(&b, down, 3) == 0 && strcmp(b.s, "5,4,3") == 0,
	    "seqset_format: given order kept, no run downwards");
	buf_free(&b);
	CHECK(seqset_format(&b, u, 0) == 0 && b.len == 0, "seqset_format: empty set adds nothing");
	buf_free(&b);
	struct buf small = BUF_INIT(8);
	CHECK(seqset_format(&small, u, 8) == -1 && small.err == E2BIG,
	    "seqset_format: too long for the ceiling is an error");
	buf_free(&small);
	/* The worst case: no two UIDs adjacent, each ten digits. */
	uint32_t wide[4] = { 4000000000u, 4000000002u, 4000000004u, 4000000006u };
	struct buf w = BUF_INIT(4 * 11);
	CHECK(seqset_format(&w, wide, 4) == 0 && w.len == 4 * 11 - 1,
	    "seqset_format: 11 bytes a UID bound any set");
	buf_free(&w);
}

/* RETURN lists as the tokenizer gives them (RFC 4731, RFC 5267 §4.4). */
static int
ret_of(const char *line, struct search_return *r)
{
	struct imap_command c;
	int rc = -2;
	if (tok(line, 32, &c) == TOK_OK && c.n == 1 && c.args[0].type == ARG_LIST)
		rc = search_parse_return(&c.args[0], r);
	if (rc != -2)
		imap_command_free(&c);
	return rc;
}

static void
test_search_return(void)
{
	struct search_return r;
	CHECK(ret_of("a X ()", &r) == 0 && r.opts == RET_ALL, "RETURN (): ALL");
	CHECK(ret_of("a X (context)", &r) == 0 && r.opts == RET_ALL, "RETURN (CONTEXT): ALL");
	CHECK(ret_of("a X (UPDATE)", &r) == 0 && r.opts == RET_UPDATE, "RETURN (UPDATE): no ALL");
	CHECK(ret_of("a X (PARTIAL 500:400 COUNT)", &r) == 0 &&
	    r.opts == (RET_PARTIAL | RET_COUNT) && r.lo == 400 && r.hi == 500,
	    "PARTIAL 500:400 is 400:500");
	CHECK(ret_of("a X (PARTIAL 4294967295:1)", &r) == 0 && r.lo == 1 && r.hi == 4294967295u,
	    "PARTIAL up to 2^32-1");
	static const char *const bad[] = {
		"a X (PARTIAL)", "a X (PARTIAL 1)", "a X (PARTIAL 1:*)", "a X (PARTIAL *:1)",
		"a X (PARTIAL 0:5)", "a X (PARTIAL 1:4294967296)", "a X (PARTIAL :5)",
		"a X (PARTIAL 1:2x)", "a X (PARTIAL 1:2 ALL)", "a X (ALL PARTIAL 1:2)",
		"a X (PARTIAL 1:2 PARTIAL 3:4)", "a X (PARTIAL (1:2))", "a X (BOGUS)",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(ret_of(bad[i], &r) == -1, bad[i]);
}

int
main(void)
{
	test_framer();
	test_tokenizer();
	test_mailname();
	test_seqset();
	test_seqset_format();
	test_search_return();
	return unit_done();
}
