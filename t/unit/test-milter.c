/*
 * Unit tests for the milter codec (lib/milter.c): packets built to the
 * wire format, replies fed one byte at a time and whole, every length
 * bounded, malformed replies refused.
 */
#include <stdlib.h>
#include <string.h>

#include "milter.h"
#include "unit.h"

static struct milter_parser p;

/* Feeds len bytes one at a time; returns the status and bytes used. */
static enum milter_status
bytewise(const void *in, size_t len, size_t *used_r)
{
	const unsigned char *s = in;
	enum milter_status st = MILTER_MORE;
	size_t pos = 0, used;
	while (pos < len && st == MILTER_MORE) {
		st = milter_parser_feed(&p, s + pos, 1, &used);
		pos += used;
	}
	*used_r = pos;
	return st;
}

static enum milter_status
whole(const void *in, size_t len, size_t *used_r)
{
	milter_parser_free(&p);
	milter_parser_init(&p);
	return milter_parser_feed(&p, in, len, used_r);
}

static int
decodes(const void *in, size_t len, struct milter_msg *m)
{
	size_t used;
	return whole(in, len, &used) == MILTER_DONE && used == len && milter_reply_decode(&p, m) == 0;
}

int
main(void)
{
	struct buf b = BUF_INIT(MILTER_PACKET_MAX + 4);
	milter_pkt_begin(&b, MILTER_CMD_HELO);
	milter_pkt_str(&b, "client.example");
	CHECK(milter_pkt_end(&b) == 0 && b.len == 4 + 1 + 15 &&
	    !memcmp(b.s, "\0\0\0\x10HCLIENT", 5) && b.s[4] == 'H' && b.s[19] == '\0',
	    "HELO packet: length, command, NUL-terminated name");
	buf_free(&b);
	milter_pkt_begin(&b, MILTER_CMD_OPTNEG);
	milter_pkt_u32(&b, 6);
	milter_pkt_u32(&b, MILTER_ACT_ALL);
	milter_pkt_u32(&b, MILTER_P_OFFER);
	CHECK(milter_pkt_end(&b) == 0 && b.len == 17 && b.s[3] == 13 && b.s[8] == 6,
	    "OPTNEG packet: version 6 in network order");
	buf_free(&b);
	milter_pkt_begin(&b, MILTER_CMD_CONNECT);
	milter_pkt_str(&b, "host");
	milter_pkt_byte(&b, MILTER_FAMILY_INET);
	milter_pkt_u16(&b, 25);
	milter_pkt_str(&b, "192.0.2.1");
	CHECK(milter_pkt_end(&b) == 0 && b.s[10] == '4' && b.s[11] == 0 && b.s[12] == 25,
	    "CONNECT packet: family and port in network order");
	buf_free(&b);
	char *big = calloc(1, MILTER_PACKET_MAX + 10);
	memset(big, 'x', MILTER_PACKET_MAX + 9);
	milter_pkt_begin(&b, MILTER_CMD_BODY);
	milter_pkt_bytes(&b, big, MILTER_PACKET_MAX);
	CHECK(milter_pkt_end(&b) < 0, "a packet over MILTER_PACKET_MAX is refused");
	buf_free(&b);

	size_t used;
	struct milter_msg m;
	milter_parser_init(&p);
	const char cont[] = "\0\0\0\1cleftover";
	CHECK(bytewise(cont, sizeof cont - 1, &used) == MILTER_DONE && used == 5 && p.cmd == 'c',
	    "CONTINUE fed one byte at a time stops at the packet's end");
	const char optneg[] = "\0\0\0\x0dO\0\0\0\6\0\0\0\x01\0\0\0\x10";
	CHECK(bytewise(optneg, sizeof optneg - 1, &used) == MILTER_DONE &&
	    milter_reply_decode(&p, &m) == 0 && m.version == 6 && m.actions == 1 &&
	    m.protocol == 0x10, "OPTNEG answer decoded after an earlier packet, bytewise");
	CHECK(whole("\0\0\0\0", 4, &used) == MILTER_BAD, "zero length refused");
	CHECK(whole("\0\x10\0\x03" "a", 5, &used) == MILTER_BAD, "length over the bound refused at once");
	CHECK(whole("\x7f\xff\xff\xff", 4, &used) == MILTER_BAD, "huge length refused before any allocation");
	CHECK(whole("\0\0\0\1Z", 5, &used) == MILTER_BAD, "unknown reply code refused");
	CHECK(whole("\0\0\0\5cab", 7, &used) == MILTER_MORE, "a short packet needs more");

	const char addh[] = "\0\0\0\x0chX-Spam\0yes\0";
	CHECK(decodes(addh, sizeof addh - 1, &m) && !strcmp(m.s1, "X-Spam") && !strcmp(m.s2, "yes"),
	    "ADDHEADER name and value");
	const char badname[] = "\0\0\0\x0chX Spam\0yes\0";
	CHECK(!decodes(badname, sizeof badname - 1, &m), "header name with a space refused");
	const char noval[] = "\0\0\0\x08hX-Spam\0";
	CHECK(!decodes(noval, sizeof noval - 1, &m), "header without value refused");
	const char chg[] = "\0\0\0\x0em\0\0\0\2Subject\0\0";
	CHECK(decodes(chg, sizeof chg - 1, &m) && m.index == 2 && !strcmp(m.s1, "Subject") &&
	    !*m.s2, "CHGHEADER with index, empty value (delete)");
	const char shortidx[] = "\0\0\0\x03m\0\0";
	CHECK(!decodes(shortidx, sizeof shortidx - 1, &m), "CHGHEADER without a whole index refused");
	const char from[] = "\0\0\0\x12" "e<a@example.org>\0\0";
	CHECK(decodes(from, sizeof from - 1, &m) && !strcmp(m.s1, "<a@example.org>") && m.s2 && !*m.s2,
	    "CHGFROM with empty arguments");
	const char unterminated[] = "\0\0\0\x05+<a@b";
	CHECK(!decodes(unterminated, sizeof unterminated - 1, &m), "unterminated address refused");
	const char trailing[] = "\0\0\0\x07-<a@b>\0x";
	CHECK(!decodes(trailing, sizeof trailing - 1, &m), "bytes after the address refused");
	const char body[] = "\0\0\0\x04" "bhi\n";
	CHECK(decodes(body, sizeof body - 1, &m) && m.body_len == 3 && !memcmp(m.body, "hi\n", 3),
	    "REPLBODY bytes");

	int code;
	char enh[16], text[MILTER_REPLY_TEXT_MAX];
	CHECK(milter_replycode_parse("554 5.7.1 Spam\x01 here\r\n554 more", &code, enh, sizeof enh,
	    text, sizeof text) == 0 && code == 554 && !strcmp(enh, "5.7.1") &&
	    !strcmp(text, "Spam? here"), "REPLYCODE split, first line only, controls replaced");
	CHECK(milter_replycode_parse("451 try later", &code, enh, sizeof enh, text, sizeof text) == 0 &&
	    code == 451 && !*enh && !strcmp(text, "try later"), "REPLYCODE without enhanced code");
	CHECK(milter_replycode_parse("250 ok", &code, enh, sizeof enh, text, sizeof text) < 0,
	    "a 2xx REPLYCODE is refused");
	CHECK(milter_replycode_parse("5", &code, enh, sizeof enh, text, sizeof text) < 0,
	    "a cut REPLYCODE is refused");

	int is_unix;
	char where[256], port[8];
	CHECK(milter_endpoint_parse("unix:/run/f.sock", &is_unix, where, sizeof where, port, sizeof port) == 0 &&
	    is_unix && !strcmp(where, "/run/f.sock"), "unix: endpoint");
	CHECK(milter_endpoint_parse("inet:127.0.0.1:8891", &is_unix, where, sizeof where, port, sizeof port) == 0 &&
	    !is_unix && !strcmp(where, "127.0.0.1") && !strcmp(port, "8891"), "inet: endpoint");
	CHECK(milter_endpoint_parse("inet:[::1]:11332", &is_unix, where, sizeof where, port, sizeof port) == 0 &&
	    !strcmp(where, "::1") && !strcmp(port, "11332"), "inet: IPv6 endpoint");
	CHECK(milter_endpoint_parse("inet:host:99999", &is_unix, where, sizeof where, port, sizeof port) < 0 &&
	    milter_endpoint_parse("tcp:x:1", &is_unix, where, sizeof where, port, sizeof port) < 0 &&
	    milter_endpoint_parse("inet:host", &is_unix, where, sizeof where, port, sizeof port) < 0,
	    "bad endpoints refused");
	milter_parser_free(&p);
	free(big);
	return unit_done();
}
