/*
 * Unit tests for lib/mcache-keys (the SORT and THREAD keys kept in the
 * message cache) and mime_header_next (one field at a time, as the
 * parser splits them): keys worked out from headers read back from their
 * item bytes; missing fields give empty keys and no date; the thread
 * chain is References:'s ids (comments skipped, the last
 * IMAP_THREAD_REFS_MAX), else In-Reply-To:'s first; every cut of an item
 * short of its seven strings and every bad flag is refused; and
 * mime_header_next gives the same fields as mime_message_parse on every
 * message of t/fixtures/mime.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "mcache-keys.h"
#include "mime.h"
#include "unit.h"

/* The keys of header text h, in *k; the item bytes (to free) returned. */
static char *
keys_of(const char *h, struct mkeys *k, size_t *n)
{
	struct mime_message *mm = mime_message_parse((const unsigned char *)h, strlen(h));
	char *s = mm ? mkeys_render(mm, n) : NULL;
	mime_message_free(&mm);
	if (s == NULL || mkeys_parse(s, *n, k) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static void
test_keys(void)
{
	struct mkeys k;
	size_t n;
	char *s = keys_of("From: =?UTF-8?Q?=C3=89mile?= <Emile@Example.org>\r\n"
	    "To: group:;, <second@x.example>\r\nCc: c (comment) @ x.example\r\n"
	    "Subject: Re: [list] Fwd: Hello World (fwd)\r\n"
	    "Date: Tue, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: (c) <id1@x> <id2@x>\r\n"
	    "References: <a@x> (c <no@x>) <noat> \"<q@x>\"\r\n <b@x>\r\nIn-Reply-To: <c@x>\r\n\r\n", &k, &n);
	CHECK(s != NULL, "keys of a full header render and parse");
	if (s == NULL)
		return;
	CHECK(k.has_date && k.date == 1793696400, "the Date: as time_t");
	CHECK(k.reply, "Re: makes it a reply");
	CHECK(strcmp(k.subject, "HELLO WORLD") == 0, "the base subject, casemapped");
	CHECK(strcmp(k.from, "EMILE") == 0, "FROM: the first mailbox, casemapped");
	CHECK(strcmp(k.dfrom, "E\xcc\x81MILE") == 0,
	    "DISPLAYFROM: the display name decoded, casemapped (decomposed)");
	CHECK(strcmp(k.to, "GROUP") == 0 && strcmp(k.dto, "GROUP") == 0,
	    "TO: a group's name is its first mailbox");
	CHECK(strcmp(k.cc, "C") == 0, "CC: the mailbox without its comment");
	CHECK(strcmp(k.msgid, "id1@x") == 0, "the first Message-ID, comments skipped");
	CHECK(k.nrefs == 2 && strcmp(k.refs, "a@x") == 0 &&
	    strcmp(k.refs + 4, "b@x") == 0, "References: ids, comments, quotes and no-@ skipped");
	free(s);

	s = keys_of("In-Reply-To: <p@x> <q@x>\r\nFrom: bare@x.example\r\n\r\n", &k, &n);
	CHECK(s != NULL && !k.has_date && !k.reply && k.subject[0] == '\0' && k.msgid[0] == '\0',
	    "no Date, Subject or Message-ID: empty keys, no date");
	CHECK(s != NULL && k.nrefs == 1 && strcmp(k.refs, "p@x") == 0,
	    "no References: the first id of In-Reply-To");
	CHECK(s != NULL && strcmp(k.dfrom, "BARE@X.EXAMPLE") == 0,
	    "DISPLAYFROM without a name: mailbox@domain");
	free(s);

	char *none = mkeys_render(NULL, &n);
	CHECK(none != NULL && mkeys_parse(none, n, &k) == 0 && k.nrefs == 0 && !k.has_date,
	    "a message without a header has empty keys");
	free(none);
}

static void
test_many_refs(void)
{
	size_t cap = 64 + 16 * (IMAP_THREAD_REFS_MAX + 10), o = 0, n;
	char *h = malloc(cap);
	struct mkeys k;
	if (h == NULL)
		return;
	o += (size_t)snprintf(h + o, cap - o, "References:");
	for (int i = 0; i < IMAP_THREAD_REFS_MAX + 10; i++)
		o += (size_t)snprintf(h + o, cap - o, " <r%d@x>", i);
	snprintf(h + o, cap - o, "\r\n\r\n");
	char *s = keys_of(h, &k, &n);
	CHECK(s != NULL && k.nrefs == IMAP_THREAD_REFS_MAX && strcmp(k.refs, "r10@x") == 0,
	    "of a long References: the last IMAP_THREAD_REFS_MAX ids");
	free(s);
	free(h);
}

static void
test_refused(void)
{
	struct mkeys k;
	size_t n;
	char *s = keys_of("Subject: s\r\nFrom: f@x\r\nMessage-ID: <m@x>\r\n"
	    "References: <r@x>\r\n\r\n", &k, &n);
	if (s == NULL) {
		CHECK(0, "the item for the cuts");
		return;
	}
	int ok = 1;
	/* 9 head bytes, then subject, from, to, cc, dfrom, dto, msgid */
	size_t strings_end = 9;
	for (int i = 0; i < 7; i++)
		strings_end += strlen(s + strings_end) + 1;
	for (size_t cut = 0; cut < strings_end; cut++)
		ok &= mkeys_parse(s, cut, &k) != 0;
	ok &= mkeys_parse(s, strings_end, &k) == 0 && k.nrefs == 0;
	CHECK(ok, "every cut before the end of the seven strings is refused, one at it has no ids");
	CHECK(mkeys_parse(s, n - 1, &k) != 0, "an item not ending in NUL is refused");
	s[8] |= 4;
	CHECK(mkeys_parse(s, n, &k) != 0, "an unknown flag is refused");
	s[8] &= ~4;
	char *t = malloc(n + 1);
	if (t != NULL) {
		memcpy(t, s, n);
		t[n] = '\0';
		CHECK(mkeys_parse(t, n + 1, &k) != 0, "an empty id is refused");
	}
	free(t);
	free(s);
}

static unsigned char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	unsigned char *b = NULL;
	if (fp != NULL && fstat(fileno(fp), &st) == 0 && (b = malloc((size_t)st.st_size + 1)) != NULL)
		*len = fread(b, 1, (size_t)st.st_size, fp);
	if (fp != NULL)
		fclose(fp);
	return b;
}

/* The fields mime_header_next gives are those of the parse, byte for byte. */
static int
same_fields(const unsigned char *d, size_t len)
{
	struct mime_message *m = mime_message_parse(d, len);
	if (m == NULL)
		return 0;
	const struct mime_part *p = m->root;
	struct mime_header h;
	size_t pos = 0, i = 0;
	int ok = 1;
	while (ok && mime_header_next(d, p->hdr_len, &pos, &h) == 1) {
		ok = i < p->hdr_count && h.name == p->headers[i].name &&
		    h.name_len == p->headers[i].name_len && h.value == p->headers[i].value &&
		    h.value_len == p->headers[i].value_len;
		i++;
	}
	ok &= i == p->hdr_count || p->hdr_count == MIME_HEADERS_MAX;
	mime_message_free(&m);
	return ok;
}

static void
test_header_next(const char *fixtures)
{
	DIR *dir = opendir(fixtures);
	struct dirent *de;
	size_t files = 0, same = 0;
	CHECK(dir != NULL, "the MIME fixtures open");
	while (dir != NULL && (de = readdir(dir)) != NULL) {
		size_t l = strlen(de->d_name), len = 0;
		char path[4096];
		if (l < 5 || strcmp(de->d_name + l - 4, ".eml") != 0)
			continue;
		snprintf(path, sizeof path, "%.3000s/%.900s", fixtures, de->d_name);
		unsigned char *d = read_file(path, &len);
		files++;
		if (d != NULL && same_fields(d, len))
			same++;
		else
			printf("# fields differ: %s\n", de->d_name);
		free(d);
	}
	if (dir != NULL)
		closedir(dir);
	CHECK(files >= 30 && same == files, "mime_header_next splits as the parser (fixtures)");
	static const char *const odd[] = { "", "\r\n", "no colon\r\n\r\n", " lead: x\r\nA:\r\n\tb\r\n\r\n",
		"A: 1\nB:2\n\nbody", "A:  \r\n  x\r\n\r\n", "X: unterminated" };
	int ok = 1;
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
		ok &= same_fields((const unsigned char *)odd[i], strlen(odd[i]));
	CHECK(ok, "mime_header_next splits as the parser (odd headers)");
}

int
main(void)
{
	char fixtures[2200], exe[2048];
	const char *top = getenv("T_TOP");
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	struct stat st;
	if (top != NULL) {
		snprintf(fixtures, sizeof fixtures, "%.2000s/t/fixtures/mime", top);
	} else if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash != NULL)
			*slash = '\0';
		snprintf(fixtures, sizeof fixtures, "%.2000s/../../../../t/fixtures/mime", exe);
		if (stat(fixtures, &st) < 0)
			snprintf(fixtures, sizeof fixtures, "t/fixtures/mime");
	} else {
		snprintf(fixtures, sizeof fixtures, "t/fixtures/mime");
	}
	test_keys();
	test_many_refs();
	test_refused();
	test_header_next(fixtures);
	return unit_done();
}
