/*
 * Unit tests for lib/mime and imap-session/render: the Dovecot corpus in
 * t/fixtures/mime (ENVELOPE, BODYSTRUCTURE and BODY must equal Dovecot's
 * answers byte for byte), sections, BINARY, SEARCH, dates, and the MIME
 * bombs of S38 (bounded time and memory).
 *
 * render.c and render-search.c live in imap-session/ (program-only code):
 * the test links imap-session's objects, and includes the fuzz target
 * t/fuzz/fuzz-mime.c (whose strict IMAP syntax checker the corpus outputs
 * must pass too, and whose seeds are replayed here as well).
 *
 *   test-mime                 run every check
 *   test-mime --dump FILE     print ENVELOPE, BODYSTRUCTURE and BODY of FILE
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../fuzz/fuzz-mime.c"
#include "buf.h"
#include "unit.h"

static char fixtures[4096];

static unsigned char *
read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, len = 0;
	unsigned char *buf = malloc(cap);
	size_t n;
	while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			unsigned char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	*len_r = len;
	return buf;
}

static int
dump(const char *path)
{
	size_t len, n;
	unsigned char *data = read_file(path, &len);
	if (data == NULL) {
		perror(path);
		return 1;
	}
	struct mime_message *m = mime_message_parse(data, len);
	if (m == NULL)
		return 1;
	char *s = render_envelope(m, &n);
	printf("ENVELOPE %.*s\n", (int)n, s);
	free(s);
	s = render_bodystructure(m, 1, &n);
	printf("BODYSTRUCTURE %.*s\n", (int)n, s);
	free(s);
	s = render_bodystructure(m, 0, &n);
	printf("BODY %.*s\n", (int)n, s);
	free(s);
	mime_message_free(&m);
	free(data);
	return 0;
}

static void
fixture_compare(const char *name, const struct mime_message *m, const char *ext,
    const char *got, size_t got_len)
{
	char path[8192];
	size_t want_len;
	snprintf(path, sizeof(path), "%.3000s/%.200s.%.20s", fixtures, name, ext);
	unsigned char *want = read_file(path, &want_len);
	char label[512];
	snprintf(label, sizeof(label), "corpus %s: %s equals Dovecot's", name, ext);
	int same = want != NULL && got != NULL && want_len == got_len &&
	    memcmp(want, got, got_len) == 0;
	CHECK(same, label);
	snprintf(label, sizeof(label), "corpus %s: %s is strict IMAP syntax (S39)", name, ext);
	CHECK(got != NULL && imap_syntax_ok(got, got_len), label);
	if (!same && want != NULL && got != NULL)
		printf("#   want %.*s\n#   got  %.*s\n", (int)want_len, want, (int)got_len, got);
	free(want);
}

/* NAME.sections (NAME.binary): "SECTION\tLEN\n" LEN bytes "\n", or
 * "SECTION\tNIL\n", or "SECTION\tNO\n" (refused) per BODY[SECTION]
 * (BINARY[SECTION]) Dovecot answered; an absent part is an empty string. */
static void
sections_compare(const char *name, const struct mime_message *m, int binary)
{
	char path[8192];
	size_t len;
	snprintf(path, sizeof(path), "%.3000s/%.200s.%s", fixtures, name,
	    binary ? "binary" : "sections");
	unsigned char *want = read_file(path, &len);
	if (want == NULL)
		return;
	size_t pos = 0, bad = 0, total = 0;
	while (pos < len) {
		unsigned char *tab = memchr(want + pos, '\t', len - pos);
		unsigned char *nl = tab != NULL ? memchr(tab, '\n', len - (tab - want)) : NULL;
		if (tab == NULL || nl == NULL)
			break;
		char section[256];
		snprintf(section, sizeof(section), "%.*s", (int)(tab - (want + pos)), want + pos);
		const unsigned char *val = NULL;
		size_t vlen = 0;
		int nil = strncmp((char *)tab + 1, "NIL", 3) == 0;
		/* Dovecot: NO [UNKNOWN-CTE] or NO [PARSE] (broken data) */
		int no = strncmp((char *)tab + 1, "NO", 2) == 0 ||
		    strncmp((char *)tab + 1, "UNKNOWN-CTE", 11) == 0;
		if (!nil && !no) {
			vlen = strtoul((char *)tab + 1, NULL, 10);
			val = nl + 1;
			pos = (nl + 1 - want) + vlen + 1;
		} else {
			pos = nl + 1 - want;
		}
		unsigned char *out = NULL;
		size_t olen = 0;
		int rc = binary ? render_binary(m, section, &out, &olen) :
		    render_section(m, section, &out, &olen);
		int same = rc == 2 ? no : rc == 1 ? (nil || (!no && vlen == 0)) :
		    rc == 0 && !nil && !no && olen == vlen && memcmp(out, val, vlen) == 0;
		if (!same) {
			bad++;
			printf("#   %s %s[%s]: rc %d, %zu bytes, want %zu: %.*s\n", name,
			    binary ? "BINARY" : "BODY", section, rc,
			    olen, vlen, (int)(olen > 200 ? 200 : olen), out != NULL ? (char *)out : "");
		}
		total++;
		free(out);
	}
	char label[512];
	snprintf(label, sizeof(label), "corpus %s: %zu %s[section] answers equal Dovecot's", name,
	    total, binary ? "BINARY" : "BODY");
	CHECK(bad == 0 && total > 0, label);
	free(want);
}

/* search.expected: "KEY\tFIELD\tNEEDLE\tNAME NAME ..." per query, the
 * messages Dovecot's SEARCH found. */
static void
search_compare(char **names, struct mime_message **msgs, size_t count)
{
	char path[8192];
	size_t len;
	snprintf(path, sizeof(path), "%.3000s/search.expected", fixtures);
	char *want = (char *)read_file(path, &len);
	CHECK(want != NULL, "search.expected present");
	if (want == NULL)
		return;
	char *save = NULL;
	want = realloc(want, len + 1);
	want[len] = '\0';
	size_t queries = 0;
	for (char *line = strtok_r(want, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = {line, NULL, NULL, NULL};
		for (int i = 1; i < 4; i++) {
			f[i] = f[i - 1] != NULL ? strchr(f[i - 1], '\t') : NULL;
			if (f[i] != NULL)
				*f[i]++ = '\0';
		}
		if (f[3] == NULL)
			continue;
		char got[16384] = "";
		size_t o = 0;
		for (size_t i = 0; i < count; i++) {
			if (msgs[i] == NULL)
				continue;
			int hit = strcmp(f[0], "HEADER") == 0 ? render_search_header(msgs[i], f[1], f[2]) :
			    strcmp(f[0], "BODY") == 0 ? render_search_body(msgs[i], f[2]) :
			    render_search_text(msgs[i], f[2]);
			if (hit && o + strlen(names[i]) + 2 < sizeof(got))
				o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", o ? " " : "", names[i]);
		}
		char label[512];
		snprintf(label, sizeof(label), "SEARCH %s %s \"%s\" finds what Dovecot finds", f[0], f[1],
		    f[2]);
		CHECK(strcmp(got, f[3]) == 0, label);
		if (strcmp(got, f[3]) != 0)
			printf("#   want %s\n#   got  %s\n", f[3], got);
		queries++;
	}
	CHECK(queries >= 40, "search.expected has at least 40 queries");
	free(want);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_corpus(void)
{
	DIR *dir = opendir(fixtures);
	CHECK(dir != NULL, "fixture directory opens");
	if (dir == NULL)
		return;
	char *names[512];
	size_t count = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL && count < 512) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".eml") == 0)
			names[count++] = strndup(de->d_name, l - 4);
	}
	closedir(dir);
	qsort(names, count, sizeof(names[0]), cmp_names);
	CHECK(count >= 30, "corpus has at least 30 messages");
	static struct mime_message *msgs[512];
	static unsigned char *datas[512];
	for (size_t i = 0; i < count; i++) {
		char path[8192];
		size_t len = 0, n;
		snprintf(path, sizeof(path), "%.3000s/%.200s.eml", fixtures, names[i]);
		unsigned char *data = read_file(path, &len);
		struct mime_message *m = data != NULL ? mime_message_parse(data, len) : NULL;
		CHECK(m != NULL, names[i]);
		if (m != NULL) {
			char *s = render_envelope(m, &n);
			fixture_compare(names[i], m, "envelope", s, n);
			free(s);
			s = render_bodystructure(m, 1, &n);
			fixture_compare(names[i], m, "bodystructure", s, n);
			free(s);
			s = render_bodystructure(m, 0, &n);
			fixture_compare(names[i], m, "body", s, n);
			free(s);
			sections_compare(names[i], m, 0);
			sections_compare(names[i], m, 1);
		}
		mime_message_free(&m);
		free(data);
		/* Dovecot searched the message with "X-Name: NAME" in front */
		size_t nl = strlen(names[i]);
		datas[i] = malloc(len + nl + 10);
		unsigned char *orig = read_file(path, &len);
		if (datas[i] != NULL && orig != NULL) {
			memcpy(datas[i], "X-Name: ", 8);
			memcpy(datas[i] + 8, names[i], nl);
			memcpy(datas[i] + 8 + nl, "\r\n", 2);
			memcpy(datas[i] + 10 + nl, orig, len);
			msgs[i] = mime_message_parse(datas[i], len + nl + 10);
		}
		free(orig);
	}
	search_compare(names, msgs, count);
	for (size_t i = 0; i < count; i++) {
		mime_message_free(&msgs[i]);
		free(datas[i]);
		free(names[i]);
	}
}


static struct mime_message *
parse_str(const char *s)
{
	return mime_message_parse((const unsigned char *)s, strlen(s));
}

static int
section_is(const struct mime_message *m, const char *section, int want_rc, const char *want)
{
	unsigned char *out = NULL;
	size_t n = 0;
	int rc = render_section(m, section, &out, &n);
	int ok = rc == want_rc && (want == NULL || (n == strlen(want) && memcmp(out, want, n) == 0));
	if (!ok)
		printf("#   BODY[%s]: rc %d %.*s\n", section, rc, (int)n, out != NULL ? (char *)out : "");
	free(out);
	return ok;
}

static int
binary_is(const struct mime_message *m, const char *section, int want_rc, const char *want,
    size_t want_len)
{
	unsigned char *out = NULL;
	size_t n = 0;
	int rc = render_binary(m, section, &out, &n);
	int ok = rc == want_rc && (want == NULL || (n == want_len && memcmp(out, want, n) == 0));
	if (!ok)
		printf("#   BINARY[%s]: rc %d %zu bytes\n", section, rc, n);
	free(out);
	return ok;
}

static const char multi[] =
    "From: =?iso-8859-1?q?Andr=E9?= <andre@example.org>\r\n"
    "To: bob@example.org\r\n"
    "Subject: =?utf-8?b?R3LDvMOfZQ==?= aus =?utf-8?q?K=C3=B6ln?=\r\n"
    "Date: Tue, 4 Mar 2025 11:22:33 -0500\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=E9 cr=E8me, soft=\r\n"
    "break\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAw==\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "TmV1ZSBOYWNocmljaHQ=\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "not*base64!\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding: x-uuencode\r\n"
    "\r\n"
    "begin 644 x\r\n"
    "--b--\r\n";

static void
test_sections_binary(void)
{
	struct mime_message *m = parse_str(multi);
	CHECK(m != NULL, "multipart parses");
	if (m == NULL)
		return;
	CHECK(section_is(m, "1", 0, "Caf=E9 cr=E8me, soft=\r\nbreak"), "BODY[1] is the raw part");
	CHECK(section_is(m, "1.mime", 0,
	    "Content-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"), "BODY[1.MIME] (lower case)");
	CHECK(section_is(m, "header.fields (subject \"To\")", 0,
	    "To: bob@example.org\r\nSubject: =?utf-8?b?R3LDvMOfZQ==?= aus =?utf-8?q?K=C3=B6ln?=\r\n\r\n"),
	    "HEADER.FIELDS with quoted and atom names, original order");
	CHECK(section_is(m, "6", 1, NULL), "BODY[6]: no such part");
	CHECK(section_is(m, "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20", 1, NULL),
	    "deep part number: no such part (S37)");
	CHECK(section_is(m, "HEADER.FIELDS ()", -1, NULL), "HEADER.FIELDS () is a syntax error (S37)");
	CHECK(section_is(m, "HEADER.FIELDS", -1, NULL), "HEADER.FIELDS without list");
	CHECK(section_is(m, "FOO", -1, NULL), "unknown section keyword");
	CHECK(section_is(m, "MIME", -1, NULL), "MIME needs a part number");
	CHECK(section_is(m, "1.", -1, NULL), "trailing dot");
	CHECK(section_is(m, "0", 1, NULL) || section_is(m, "0", -1, NULL), "part 0 is refused");

	CHECK(binary_is(m, "1", 0, "Caf\xe9 cr\xe8me, softbreak", 21), "BINARY[1] decodes QP");
	CHECK(binary_is(m, "2", 0, "\x00\x01\x02\x03", 4), "BINARY[2] decodes base64 with NULs");
	CHECK(binary_is(m, "4", 2, NULL, 0), "BINARY[4]: broken base64 is UNKNOWN-CTE (S37)");
	CHECK(binary_is(m, "5", 2, NULL, 0), "BINARY[5]: unknown encoding is UNKNOWN-CTE");
	CHECK(binary_is(m, "7", 1, NULL, 0), "BINARY[7]: no such part");
	CHECK(binary_is(m, "1.MIME", -1, NULL, 0), "BINARY[1.MIME] is a syntax error");

	CHECK(render_search_header(m, "SUBJECT", "grüße") == 1, "SEARCH SUBJECT decodes RFC 2047 (utf-8, case)");
	CHECK(render_search_header(m, "subject", "KÖLN") == 1, "SEARCH SUBJECT folds Latin-1 letters");
	CHECK(render_search_header(m, "from", "andré") == 1, "SEARCH FROM decodes iso-8859-1 words");
	CHECK(render_search_header(m, "subject", "xyz") == 0, "SEARCH SUBJECT no match");
	{
		/* "ПриВЕТ Αθήνα Łódź" against "привет αθήνα łÓDŹ" */
		const char *hay = "\xd0\x9f\xd1\x80\xd0\xb8\xd0\x92\xd0\x95\xd0\xa2 "
		    "\xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1 \xc5\x81\xc3\xb3" "d" "\xc5\xba";
		const char *needle = "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 "
		    "\xce\xb1\xce\xb8\xce\xae\xce\xbd\xce\xb1 \xc5\x82\xc3\x93" "D" "\xc5\xb9";
		CHECK(render_search_contains(hay, strlen(hay), needle) == 1,
		    "SEARCH case folding: Cyrillic, Greek, Latin Extended-A");
	}
	CHECK(render_search_header(m, "cc", "") == 0, "SEARCH HEADER CC \"\" without Cc");
	CHECK(render_search_header(m, "to", "") == 1, "SEARCH HEADER TO \"\" with To");
	CHECK(render_search_body(m, "CRÈME") == 1, "SEARCH BODY: QP + iso-8859-1");
	CHECK(render_search_body(m, "softbreak") == 1, "SEARCH BODY: QP soft line break");
	CHECK(render_search_body(m, "neue nachricht") == 1, "SEARCH BODY: base64 text");
	CHECK(render_search_body(m, "bob@example") == 0, "SEARCH BODY does not see headers");
	CHECK(render_search_text(m, "bob@example") == 1, "SEARCH TEXT sees headers");
	CHECK(render_search_text(m, "neue") == 1, "SEARCH TEXT sees the body");
	CHECK(render_date(m) == 1741105353, "Date: parsed with zone");
	mime_message_free(&m);
}

static void
test_dates(void)
{
	static const struct {
		const char *s;
		time_t t;
	} d[] = {
		{"Tue, 4 Mar 2025 11:22:33 -0500", 1741105353},
		{"4 Mar 2025 16:22:33 +0000", 1741105353},
		{"Tue, 04 Mar 25 16:22:33 GMT", 1741105353},
		{"Tue, 4 Mar 2025 08:22:33 PST", 1741105353},
		{"Tue,  4 Mar 2025 16:22 (UTC)", 1741105320},
		{"Tue, 4 Mar 125 16:22:33 Z", 1741105353},
		{"4 Mar 99 00:00:00 +0000", 920505600},
		{"garbage", -1},
		{"32 Mar 2025 00:00:00 +0000", -1},
		{"", -1},
	};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		char label[128];
		snprintf(label, sizeof(label), "date \"%s\"", d[i].s);
		CHECK(mime_parse_date((const unsigned char *)d[i].s, strlen(d[i].s)) == d[i].t, label);
	}
}

static void
test_quoting(void)
{
	/* S39: an encoded CR LF stays encoded in ENVELOPE; raw 8-bit and
	 * quotes go out as literals or escaped; output is strict syntax. */
	struct mime_message *m = parse_str(
	    "Subject: =?utf-8?q?x=22=0D=0A=2A_1_EXPUNGE?=\r\n"
	    "From: \"a\\\"b\" <x@y>\r\n"
	    "Message-ID: <a\"b\\c@x>\r\n"
	    "In-Reply-To: <\xe9@x>\r\n\r\nbody\r\n");
	size_t n;
	char *s = render_envelope(m, &n);
	CHECK(s != NULL && strstr(s, "\"=?utf-8?q?x=22=0D=0A=2A_1_EXPUNGE?=\"") != NULL,
	    "encoded word stays encoded in ENVELOPE (S39)");
	CHECK(s != NULL && strstr(s, "\"<a\\\"b\\\\c@x>\"") != NULL, "\" and \\ escaped in quoted string");
	CHECK(s != NULL && strstr(s, "{5}\r\n<\xe9@x>") != NULL, "8-bit value as literal");
	CHECK(s != NULL && strstr(s, "{3}\r\na\"b") != NULL, "display name with a quote as literal, as Dovecot");
	CHECK(s != NULL && imap_syntax_ok(s, n), "envelope is strict IMAP (S39)");
	int lines_ok = s != NULL;
	for (size_t i = 0; s != NULL && i < n; i++)
		if (s[i] == '\n' && (i < 2 || s[i - 1] != '\r' || s[i - 2] != '}'))
			lines_ok = 0;
	CHECK(lines_ok, "every line end belongs to a literal header (no injected lines)");
	free(s);
	mime_message_free(&m);
}

/* render_string: the one quoter (ENVELOPE, BODYSTRUCTURE, LIST names,
 * ESEARCH tags) picks quoted or literal by one rule (S39). */
static int
quotes_as(const char *s, size_t n, const char *want)
{
	struct buf b = BUF_INIT(256);
	render_string(&b, s, n);
	int ok = b.err == 0 && b.len == strlen(want) && memcmp(b.s, want, b.len) == 0;
	buf_free(&b);
	return ok;
}

static void
test_render_string(void)
{
	CHECK(quotes_as("INBOX", 5, "\"INBOX\""), "render_string: plain text quoted");
	CHECK(quotes_as("", 0, "\"\""), "render_string: empty string quoted");
	CHECK(quotes_as("a\"b\\c", 5, "\"a\\\"b\\\\c\""), "render_string: \" and \\ escaped");
	CHECK(quotes_as("a\r\nb", 4, "{4}\r\na\r\nb"), "render_string: CR LF as literal (S39)");
	CHECK(quotes_as("caf\xc3\xa9", 5, "{5}\r\ncaf\xc3\xa9"), "render_string: 8-bit as literal");
	CHECK(quotes_as("\"\"\"\"\"", 5, "{5}\r\n\"\"\"\"\""),
	    "render_string: more than 4 quoted-specials as literal");
	CHECK(quotes_as("\"\"\"\"", 4, "\"\\\"\\\"\\\"\\\"\""), "render_string: 4 escapes stay quoted");
	struct buf small = BUF_INIT(4);
	render_string(&small, "INBOX", 5);
	CHECK(small.err == E2BIG, "render_string: the buffer's ceiling is an error, not a cut");
	buf_free(&small);
}

/* A message made of repeated pieces: head, count x body, tail. */
static char *
repeat(const char *head, const char *piece, size_t count, const char *tail, size_t *len_r)
{
	size_t hl = strlen(head), pl = strlen(piece), tl = strlen(tail);
	char *s = malloc(hl + pl * count + tl + 1);
	if (s == NULL)
		abort();
	memcpy(s, head, hl);
	for (size_t i = 0; i < count; i++)
		memcpy(s + hl + i * pl, piece, pl);
	memcpy(s + hl + pl * count, tail, tl + 1);
	*len_r = hl + pl * count + tl;
	return s;
}

static size_t
count_parts(const struct mime_part *p)
{
	size_t n = 0;
	while (p != NULL) {
		n++;
		if (p->children != NULL)
			p = p->children;
		else {
			while (p != NULL && p->next == NULL)
				p = p->parent;
			if (p != NULL)
				p = p->next;
		}
	}
	return n;
}

static double
cpu_now(void)
{
	return (double)clock() / CLOCKS_PER_SEC;
}

/* Parses, renders everything, and checks time and size bounds (S38). */
static void
bomb(const char *label, char *msg, size_t len, size_t max_parts)
{
	double t0 = cpu_now();
	struct mime_message *m = mime_message_parse((unsigned char *)msg, len);
	size_t n1 = 0, n2 = 0, n3 = 0;
	char *e = m ? render_envelope(m, &n1) : NULL;
	char *b = m ? render_bodystructure(m, 1, &n2) : NULL;
	unsigned char *sec = NULL;
	if (m != NULL)
		(void)render_section(m, "1.1.1.1.1.1.1.1.1.1", &sec, &n3);
	int found = m ? render_search_text(m, "needle-not-there") : 1;
	double t = cpu_now() - t0;
	char l[256];
	snprintf(l, sizeof(l), "S38 %s: parsed and rendered", label);
	CHECK(m != NULL && e != NULL && b != NULL && found == 0, l);
	snprintf(l, sizeof(l), "S38 %s: %.2f s CPU (< 2 s)", label, t);
	CHECK(t < 2.0, l);
	if (m != NULL) {
		size_t parts = count_parts(m->root);
		snprintf(l, sizeof(l), "S38 %s: %zu parts (<= %zu)", label, parts, max_parts);
		CHECK(parts <= max_parts, l);
		snprintf(l, sizeof(l), "S38 %s: output strict IMAP, %zu + %zu bytes", label, n1, n2);
		CHECK(imap_syntax_ok(e, n1) && imap_syntax_ok(b, n2), l);
		size_t mem = mime_message_memory(m);
		snprintf(l, sizeof(l), "S38 %s: parser memory %zu KB (< 16 MB)", label, mem / 1024);
		CHECK(mem < 16u << 20, l);
	}
	free(e);
	free(b);
	free(sec);
	mime_message_free(&m);
	free(msg);
}

static void
test_bombs(void)
{
	size_t len;
	char *s;

	/* multipart nested 10,000 deep (CVE-2020-12100) */
	{
		size_t depth = 10000, cap = depth * 80 + 256, o = 0;
		s = malloc(cap);
		o += (size_t)snprintf(s + o, cap - o, "Content-Type: multipart/mixed; boundary=\"=_0\"\r\n\r\n");
		for (size_t i = 1; i <= depth; i++)
			o += (size_t)snprintf(s + o, cap - o,
			    "--=_%zu\r\nContent-Type: multipart/mixed; boundary=\"=_%zu\"\r\n\r\n", i - 1, i);
		bomb("10,000-deep multipart", s, o, MIME_PARTS_MAX + 1);
	}
	/* 20,000 sibling parts, the last ones message/rfc822 (CVE-2020-25275) */
	s = repeat("Content-Type: multipart/mixed; boundary=x\r\n\r\n",
	    "--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nb\r\n", 20000, "--x--\r\n", &len);
	bomb("20,000 parts", s, len, MIME_PARTS_MAX + 1);
	/* message/rfc822 nested 1,000 deep */
	s = repeat("Subject: top\r\n", "Content-Type: message/rfc822\r\n\r\n", 1000, "\r\nend\r\n", &len);
	bomb("1,000-deep message/rfc822", s, len, MIME_DEPTH_MAX + 2);
	/* 100,000 RFC 2231 continuation parameters (CVE-2026-27859) */
	{
		size_t count = 100000, cap = count * 32 + 256, o = 0;
		s = malloc(cap);
		o += (size_t)snprintf(s + o, cap - o, "Content-Type: application/x-bomb");
		for (size_t i = count; i > 0; i--)
			o += (size_t)snprintf(s + o, cap - o, ";\r\n name*%zu*=%%41", i - 1);
		o += (size_t)snprintf(s + o, cap - o, "\r\n\r\nbody\r\n");
		bomb("100,000 RFC 2231 parameters", s, o, 1);
	}
	/* a To: with 1,000,000 addresses (CVE-2026-27852) */
	s = repeat("From: a@b\r\nTo: ", "u@example.org, ", 1000000, "last@example.org\r\n\r\nbody\r\n",
	    &len);
	{
		double t0 = cpu_now();
		struct mime_message *m = mime_message_parse((unsigned char *)s, len);
		size_t n = 0;
		char *e = m ? render_envelope(m, &n) : NULL;
		CHECK(e != NULL && n < (size_t)MIME_ADDRESSES_MAX * 40 + 4096,
		    "S38 1,000,000 addresses: envelope bounded");
		CHECK(cpu_now() - t0 < 2.0, "S38 1,000,000 addresses: < 2 s CPU");
		free(e);
		mime_message_free(&m);
		free(s);
	}
	/* 100,000 To: headers (CVE-2024-23184) */
	s = repeat("From: a@b\r\n", "To: u@example.org\r\n", 100000, "\r\nbody\r\n", &len);
	bomb("100,000 address headers", s, len, 1);
	/* one 20 MB header line (CVE-2024-23185, CVE-2010-0745) */
	s = repeat("From: a@b\r\nSubject: ", "x", 20u << 20, "\r\n\r\nbody\r\n", &len);
	bomb("20 MB header line", s, len, 1);
	/* 70-character boundaries that are prefixes of each other */
	{
		size_t levels = 60, cap = levels * 400 + 256, o = 0;
		char bnd[80];
		memset(bnd, 'b', 70);
		s = malloc(cap);
		o += (size_t)snprintf(s + o, cap - o, "Content-Type: multipart/mixed; boundary=\"%.10s\"\r\n\r\n", bnd);
		for (size_t i = 1; i < levels; i++)
			o += (size_t)snprintf(s + o, cap - o,
			    "--%.*s\r\nContent-Type: multipart/mixed; boundary=\"%.*s\"\r\n\r\n",
			    (int)(i < 60 ? 10 + i - 1 : 70), bnd, (int)(10 + i > 70 ? 70 : 10 + i), bnd);
		o += (size_t)snprintf(s + o, cap - o, "--%.70s--\r\n", bnd);
		bomb("prefix boundaries", s, o, MIME_PARTS_MAX + 1);
	}
}

/* Past MIME_PARTS_MAX the last part takes the rest of the message, as
 * Dovecot 2.3.19 answers for these two messages (checked by hand: their
 * answers are too big for the corpus). */
static void
test_parts_limit(void)
{
	size_t len, n;
	char *s = repeat("Content-Type: multipart/mixed; boundary=x\r\n\r\n", "--x\r\n\r\nb\r\n",
	    10005, "--x--\r\nepi\r\n", &len);
	struct mime_message *m = mime_message_parse((unsigned char *)s, len);
	char *b = m != NULL ? render_bodystructure(m, 1, &n) : NULL;
	const char *tail = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)"
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 75 21 NIL NIL NIL NIL) "
	    "\"mixed\" (\"boundary\" \"x\") NIL NIL NIL)";
	CHECK(m != NULL && count_parts(m->root) == MIME_PARTS_MAX, "S38 10,005 parts: 10,000 kept");
	CHECK(b != NULL && n > strlen(tail) && strcmp(b + n - strlen(tail), tail) == 0,
	    "S38 10,005 parts: the last part takes the rest, as Dovecot");
	free(b);
	mime_message_free(&m);
	free(s);
	s = repeat("Content-Type: multipart/mixed; boundary=x\r\n\r\n",
	    "--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nb\r\n", 5005, "--x--\r\n", &len);
	m = mime_message_parse((unsigned char *)s, len);
	b = m != NULL ? render_bodystructure(m, 1, &n) : NULL;
	tail = "(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 294 NIL NIL NIL NIL) "
	    "\"mixed\" (\"boundary\" \"x\") NIL NIL NIL)";
	CHECK(b != NULL && n > strlen(tail) && strcmp(b + n - strlen(tail), tail) == 0,
	    "S38 5,005 message/rfc822 parts: the last one is opaque and takes the rest, as Dovecot");
	free(b);
	mime_message_free(&m);
	free(s);
}

static void
replay_seeds(void)
{
	char dir[8192];
	snprintf(dir, sizeof(dir), "%.3000s/../../fuzz/seeds/mime", fixtures);
	DIR *d = opendir(dir);
	size_t count = 0;
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[12288];
		size_t len;
		snprintf(path, sizeof(path), "%s/%.255s", dir, de->d_name);
		unsigned char *data = read_file(path, &len);
		if (data == NULL)
			continue;
		LLVMFuzzerTestOneInput(data, len);
		/* and every prefix of it: truncation anywhere */
		for (size_t cut = 0; cut < len; cut += 1 + len / 64)
			LLVMFuzzerTestOneInput(data, cut);
		free(data);
		count++;
	}
	if (d != NULL)
		closedir(d);
	CHECK(count >= 5, "fuzz seeds replay through the fuzz target");
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--dump") == 0)
		return dump(argv[2]);
	/* Fixtures: $T_TOP/t/fixtures/mime, else found from the binary's
	 * place (TOP/build/obj/t/unit/test-mime), else from the cwd. */
	const char *top = getenv("T_TOP");
	struct stat st;
	char exe[2048];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (top != NULL)
		snprintf(fixtures, sizeof(fixtures), "%.2000s/t/fixtures/mime", top);
	else if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash != NULL)
			*slash = '\0';
		snprintf(fixtures, sizeof(fixtures), "%.2000s/../../../../t/fixtures/mime", exe);
		if (stat(fixtures, &st) < 0)
			snprintf(fixtures, sizeof(fixtures), "t/fixtures/mime");
	} else
		snprintf(fixtures, sizeof(fixtures), "t/fixtures/mime");
	test_corpus();
	test_sections_binary();
	test_dates();
	test_quoting();
	test_render_string();
	replay_seeds();
	test_bombs();
	test_parts_limit();
	return unit_done();
}
