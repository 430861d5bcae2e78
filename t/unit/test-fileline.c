/* test-fileline — lib/fileline.c: whole lines, LF and CRLF, the ceiling
 * (a line's tail never read as a line), NUL bytes, EOF and read errors;
 * then the files read through it: yubin.conf (lib/conf.c), users and
 * aliases (lib/users.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "conf.h"
#include "fileline.h"
#include "users.h"
#include "unit.h"

static char dir[] = "/tmp/yubin-unit-fileline-XXXXXX";

/* A stream reading the n bytes at data (NUL bytes included). */
static FILE *
open_bytes(const char *data, size_t n)
{
	FILE *f = fmemopen((void *)data, n, "r");
	if (f == NULL) {
		perror("fmemopen");
		exit(1);
	}
	return f;
}

/* The next line is want (status FILELINE_OK, length included). */
static int
next_is(FILE *f, char *buf, size_t size, const char *want)
{
	size_t len = 99;
	return fileline_read(f, buf, size, &len) == FILELINE_OK && len == strlen(want) &&
	    strcmp(buf, want) == 0;
}

static void
test_lines(void)
{
	char buf[8];
	static const char text[] = "a\nbb\r\n\n\r\nc\rd\nlast";
	FILE *f = open_bytes(text, sizeof text - 1);
	CHECK(next_is(f, buf, sizeof buf, "a"), "LF line");
	CHECK(next_is(f, buf, sizeof buf, "bb"), "CRLF line: CR dropped");
	CHECK(next_is(f, buf, sizeof buf, ""), "empty LF line");
	CHECK(next_is(f, buf, sizeof buf, ""), "empty CRLF line");
	CHECK(next_is(f, buf, sizeof buf, "c\rd") && !feof(f), "CR inside a line kept; no feof after LF");
	CHECK(next_is(f, buf, sizeof buf, "last") && feof(f), "last line without LF, feof already set");
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_EOF, "then EOF");
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_EOF, "and EOF again");
	fclose(f);

	f = open_bytes("", 0);
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_EOF, "empty file: EOF");
	fclose(f);
	f = open_bytes("x\r", 2);
	CHECK(next_is(f, buf, sizeof buf, "x\r"), "CR before EOF is content");
	fclose(f);
}

/* size - 1 bytes fit, CR or not; one more is too long, and the rest of
 * that line (which looks like a line) is never returned. */
static void
test_ceiling(void)
{
	char buf[8];
	static const char text[] = "1234567\n1234567\r\n12345678\n"
	    "1234567\rtail\n123456789012345tail\nnext\n12345678";
	FILE *f = open_bytes(text, sizeof text - 1);
	CHECK(next_is(f, buf, sizeof buf, "1234567"), "size - 1 bytes and LF fit");
	CHECK(next_is(f, buf, sizeof buf, "1234567"), "size - 1 bytes and CRLF fit");
	size_t len = 0;
	CHECK(fileline_read(f, buf, sizeof buf, &len) == FILELINE_TOOLONG && len == 7 &&
	    strcmp(buf, "1234567") == 0, "size bytes: too long, buf holds the start");
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_TOOLONG,
	    "a CR not before LF counts toward the ceiling");
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_TOOLONG,
	    "twice the ceiling: one line too long");
	CHECK(next_is(f, buf, sizeof buf, "next"), "the line after a long one, whole");
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_TOOLONG,
	    "too long at EOF without LF");
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_EOF, "then EOF");
	fclose(f);

	char one[1];
	f = open_bytes("\nx\n", 3);
	CHECK(next_is(f, one, sizeof one, ""), "size 1: an empty line fits");
	CHECK(fileline_read(f, one, sizeof one, NULL) == FILELINE_TOOLONG && one[0] == '\0',
	    "size 1: any byte is too long");
	fclose(f);
}

static void
test_nul(void)
{
	char buf[16];
	static const char text[] = "a\0b\nnext\n\0\n";
	FILE *f = open_bytes(text, sizeof text - 1);
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_NUL, "NUL inside a line: FILELINE_NUL");
	CHECK(next_is(f, buf, sizeof buf, "next"), "the line after it, whole (fgets lost it)");
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_NUL, "a lone NUL");
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_EOF, "then EOF");
	fclose(f);
}

static void
test_error(void)
{
	char buf[16];
	FILE *f = fopen(dir, "r"); /* a directory: open works, read fails */
	if (f == NULL) {
		CHECK(0, "fopen of a directory");
		return;
	}
	errno = 0;
	CHECK(fileline_read(f, buf, sizeof buf, NULL) == FILELINE_ERROR && errno == EISDIR,
	    "read error: FILELINE_ERROR with errno");
	fclose(f);
}

static void
write_bytes(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Loads a yubin.conf of n bytes; returns conf_load's result, err in err. */
static int
load_conf(const char *data, size_t n, char *err, size_t errsize)
{
	char path[128];
	snprintf(path, sizeof path, "%s/yubin.conf", dir);
	write_bytes(path, data, n);
	struct conf conf;
	conf_defaults(&conf);
	err[0] = '\0';
	int rc = conf_load(&conf, path, err, errsize);
	conf_free(&conf);
	return rc;
}

static void
test_conf(void)
{
	static char text[3 * CONF_LINE_MAX];
	char err[256];
	/* yubin.conf(5): a line may be at most 4095 bytes long (CONF_LINE_MAX
	 * less the NUL), its line end not counted. */
	memset(text, 'x', CONF_LINE_MAX - 1);
	text[0] = '#';
	memcpy(text + CONF_LINE_MAX - 1, "\r\nhostname = a.example\n", 23);
	CHECK(load_conf(text, CONF_LINE_MAX - 1 + 23, err, sizeof err) == 0,
	    "conf: a line of 4095 bytes and CRLF is read");
	/* One byte more, and a tail that would set a key if read as a line. */
	memset(text, 'x', CONF_LINE_MAX);
	text[0] = '#';
	int n = snprintf(text + CONF_LINE_MAX, 64, "bogus_key = 1\n");
	CHECK(load_conf(text, (size_t)(CONF_LINE_MAX + n), err, sizeof err) < 0 &&
	    strstr(err, "yubin.conf:1: line too long") != NULL, "conf: 4096 bytes: line too long, line 1");
	static const char nul[] = "hostname = a.example\nhostname = b\0evil\n";
	CHECK(load_conf(nul, sizeof nul - 1, err, sizeof err) < 0 &&
	    strstr(err, "yubin.conf:2: NUL byte in line") != NULL, "conf: NUL byte refused with its line number");
}

/* Loads a configuration naming users and aliases files with these bytes. */
static void
load_users(struct conf *conf, const char *users, size_t nu, const char *aliases, size_t na)
{
	char path_conf[128], path_users[128], path_aliases[128], text[512], err[256];
	snprintf(path_conf, sizeof path_conf, "%s/users.conf", dir);
	snprintf(path_users, sizeof path_users, "%s/users", dir);
	snprintf(path_aliases, sizeof path_aliases, "%s/aliases", dir);
	write_bytes(path_users, users, nu);
	write_bytes(path_aliases, aliases, na);
	int n = snprintf(text, sizeof text, "local_domains = example.org\nusers = %s\naliases = %s\n",
	    path_users, path_aliases);
	write_bytes(path_conf, text, (size_t)n);
	conf_defaults(conf);
	if (conf_load(conf, path_conf, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
}

static void
test_users(void)
{
	static char users[8192], aliases[8192];
	size_t nu = 0, na = 0;
	/* A NUL line, then a user: fgets stopped its newline search at the
	 * NUL, took the line for an over-long one and skipped the next. */
	static const char nul_user[] = "bad\0line:{PLAIN}x\nsix@example.org:{PLAIN}pw-six\n";
	memcpy(users, nul_user, sizeof nul_user - 1);
	nu += sizeof nul_user - 1;
	/* An over-long line whose tail, past 4095 bytes, looks like a user. */
	memset(users + nu, 'y', 4095);
	nu += 4095;
	nu += (size_t)snprintf(users + nu, 200, "ghost@example.org:{PLAIN}pw\nfive@example.org:{PLAIN}pw-five\n");
	static const char nul_alias[] = "x@example.org\0: far@example.net\nteam@example.org: six\n";
	memcpy(aliases, nul_alias, sizeof nul_alias - 1);
	na += sizeof nul_alias - 1;
	memset(aliases + na, 'z', 4095);
	na += 4095;
	na += (size_t)snprintf(aliases + na, 200, "tail@example.org: far@example.net\nlast@example.org: five\n");

	struct conf conf;
	load_users(&conf, users, nu, aliases, na);
	CHECK(users_exists(&conf, "six@example.org") == 1, "users: the user after a NUL line exists");
	CHECK(users_verify(&conf, "six@example.org", "pw-six") == 1, "users: and logs in");
	CHECK(users_exists(&conf, "ghost@example.org") == 0, "users: an over-long line's tail is no user");
	CHECK(users_exists(&conf, "five@example.org") == 1, "users: the user after the long line exists");
	char **t = NULL;
	size_t n = 0;
	CHECK(users_aliases(&conf, "team@example.org", &t, &n) == 0 && n == 1 &&
	    strcmp(t[0], "six@example.org") == 0, "aliases: the alias after a NUL line expands");
	users_free_targets(&t, n);
	CHECK(users_aliases(&conf, "tail@example.org", &t, &n) == 0 && n == 0,
	    "aliases: an over-long line's tail is no alias");
	users_free_targets(&t, n);
	CHECK(users_aliases(&conf, "last@example.org", &t, &n) == 0 && n == 1 &&
	    strcmp(t[0], "five@example.org") == 0, "aliases: the alias after the long line expands");
	users_free_targets(&t, n);
	conf_free(&conf);
}

static void
remove_dir(void)
{
	static const char *names[] = { "yubin.conf", "users.conf", "users", "aliases" };
	char path[128];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_lines();
	test_ceiling();
	test_nul();
	test_error();
	test_conf();
	test_users();
	remove_dir();
	return unit_done();
}
