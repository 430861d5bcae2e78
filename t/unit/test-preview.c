/* test-preview — lib/preview.c: RFC 8970 preview text of plain,
 * quoted-printable, base64, HTML-only, multipart/alternative and no-text
 * messages; the 256-character cut never inside a UTF-8 sequence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preview.h"
#include "unit.h"

/* The preview of message msg: "NIL" when there is none. */
static char *
preview_of(const char *msg)
{
	struct mime_message *mm = mime_message_parse((const unsigned char *)msg, strlen(msg));
	char *out;
	size_t n;
	if (mm == NULL)
		return NULL;
	int rc = message_preview(mm, &out, &n);
	mime_message_free(&mm);
	if (rc == 0)
		return strdup("NIL");
	if (rc < 0 || strlen(out) != n) {
		free(out);
		return NULL;
	}
	return out;
}

static void
check(const char *name, const char *msg, const char *want)
{
	char *got = preview_of(msg);
	CHECK(got != NULL && strcmp(got, want) == 0, name);
	if (got != NULL && strcmp(got, want) != 0)
		printf("# got \"%s\"\n", got);
	free(got);
}

/* Number of characters (UTF-8 lead bytes) of s, -1 if s is not UTF-8. */
static long
utf8_chars(const char *s)
{
	long n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; ) {
		size_t k = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0;
		if (k == 0)
			return -1;
		for (size_t i = 1; i < k; i++)
			if ((p[i] & 0xc0) != 0x80)
				return -1;
		p += k;
		n++;
	}
	return n;
}

static void
check_cut(const char *name, const char *unit, size_t reps, long want)
{
	size_t ul = strlen(unit);
	char *msg = malloc(100 + ul * reps);
	size_t o = (size_t)sprintf(msg, "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
	for (size_t i = 0; i < reps; i++)
		memcpy(msg + o, unit, ul), o += ul;
	msg[o] = '\0';
	char *got = preview_of(msg);
	CHECK(got != NULL && utf8_chars(got) == want, name);
	if (got != NULL && utf8_chars(got) != want)
		printf("# %ld characters\n", utf8_chars(got));
	free(got);
	free(msg);
}

int
main(void)
{
	check("plain", "Subject: a\r\n\r\nHello  world,\r\n\tsecond line.\r\n", "Hello world, second line.");
	check("no Content-Type is text/plain", "Subject: a\r\n\r\n  x  \r\n", "x");
	check("quoted-printable latin1",
	    "Content-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Gr=FC=DFe, soft=\r\nbreak\r\n", "Gr\xc3\xbc\xc3\x9f" "e, softbreak");
	check("base64 utf-8",
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "SGVsbG8g4pyTIHdvcmxk\r\n", "Hello \xe2\x9c\x93 world");
	check("html only",
	    "Content-Type: text/html\r\n\r\n"
	    "<html><head><style>p {color: red}</style><title>T</title></head>"
	    "<body><p>Hi&nbsp;there &amp; <b>you</b></p><!-- c -->!</body></html>\r\n",
	    "T Hi there & you !");
	check("unclosed style at the start is all markup",
	    "Content-Type: text/html\r\n\r\n<style>p {}", "");
	check("unclosed comment", "Content-Type: text/html\r\n\r\nok<!-- x", "ok");
	check("script skipped", "Content-Type: text/html\r\n\r\n<SCRIPT a=1>x<y</script >z", "z");
	check("alternative prefers text/plain",
	    "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--b--\r\n", "plain text");
	check("mixed: html when no plain, attachment skipped",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnot me\r\n"
	    "--b\r\nContent-Type: text/html\r\n\r\n<i>me</i>\r\n--b--\r\n", "me");
	check("no text part is NIL",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n"
	    "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner text\r\n--b--\r\n", "NIL");
	check("empty text is an empty preview", "Subject: a\r\n\r\n", "");
	check("invalid UTF-8 dropped",
	    "Content-Type: text/plain; charset=utf-8\r\n\r\na\xff\xc3(b\r\n", "a(b");
	/* the 256th character is a space: no trailing space, 255 */
	check_cut("cut of ASCII words", "abcdefg ", 100, PREVIEW_CHARS - 1);
	check_cut("cut of 2-byte characters", "\xc3\xa9", 400, PREVIEW_CHARS);
	check_cut("cut of 3-byte characters", "\xe2\x9c\x93", 400, PREVIEW_CHARS);
	check_cut("cut of 4-byte characters", "\xf0\x9f\x98\x80", 400, PREVIEW_CHARS);
	check_cut("cut of mixed widths", "a\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80", 100, PREVIEW_CHARS);
	/* a huge first part: only PREVIEW_INPUT_MAX bytes of it are decoded */
	{
		size_t big = 8u * 1024 * 1024;
		char *msg = malloc(big + 100);
		size_t o = (size_t)sprintf(msg, "Content-Type: text/html\r\n\r\n<");
		memset(msg + o, 'x', big);
		strcpy(msg + o + big, ">tail\r\n");
		check("huge markup: bounded, no text from past the bound", msg, "");
		free(msg);
	}
	return unit_done();
}
