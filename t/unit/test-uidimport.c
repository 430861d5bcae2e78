/* test-uidimport — lib/uidimport.c: Dovecot's dovecot-uidlist (versions 3
 * and 1) and dovecot-keywords, Courier's courierimapuiddb; every malformed
 * line refuses the whole list (never a wrong UID); then the files as
 * uidimport_read finds them. The lists are written from the formats the
 * two servers document; t/0475 checks one Dovecot itself wrote. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "uidimport.h"
#include "unit.h"

static char dir[] = "/tmp/yubin-unit-uidimport-XXXXXX";

/* Feeds text line by line (each LF ends one), then finishes. 0 or -1. */
static int
feed(struct uidimport *u, enum uidimport_kind kind, const char *text, const char *keywords)
{
	uidimport_init(u, kind);
	char line[UIDIMPORT_LINE_MAX + 1];
	for (int pass = 0; pass < 2; pass++) {
		const char *p = pass == 0 ? text : keywords;
		while (p && *p) {
			size_t len = strcspn(p, "\n");
			if (len >= sizeof line)
				return -1;
			memcpy(line, p, len);
			line[len] = '\0';
			int r = pass == 0 ? uidimport_line(u, line, len) :
			    uidimport_keyword_line(u, line, len);
			if (r != 0)
				return -1;
			p += len + (p[len] == '\n');
		}
	}
	return uidimport_finish(u);
}

/* 1 if text is refused as a list of this kind (with EINVAL). */
static int
refused(enum uidimport_kind kind, const char *text)
{
	struct uidimport u;
	int r = feed(&u, kind, text, NULL);
	int e = errno;
	uidimport_free(&u);
	return r == -1 && e == EINVAL;
}

static int
kw_refused(const char *keywords)
{
	struct uidimport u;
	int r = feed(&u, UIDIMPORT_DOVECOT, "3 V1 N1\n", keywords);
	uidimport_free(&u);
	return r == -1;
}

static uint32_t
uid_of(const struct uidimport *u, const char *base)
{
	return uidimport_uid(u, base, strlen(base));
}

static void
test_dovecot_v3(void)
{
	struct uidimport u;
	/* the example of Dovecot's documentation, with a third record */
	int r = feed(&u, UIDIMPORT_DOVECOT,
	    "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n"
	    "25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n"
	    "25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n"
	    "25020 G0123456789abcdef0123456789abcdef P1a2b3c:x   W12 :1276533099.M1P2.kurkku\n",
	    "0 $Junk\n1 $NonJunk\n25 last\n");
	CHECK(r == 0, "Dovecot v3 list read");
	CHECK(u.validity == 1275660208 && u.next == 25022, "UIDVALIDITY and next UID");
	CHECK(u.n == 3, "three records");
	CHECK(uid_of(&u, "1276528487.M364837P9451.kurkku") == 25006, "UID by base (S=, W=, info cut)");
	CHECK(uid_of(&u, "1276533073.M242911P3632.kurkku") == 25017, "UID after an extension field");
	CHECK(uid_of(&u, "1276533099.M1P2.kurkku") == 25020, "UID after fields with ':' in a value");
	CHECK(uid_of(&u, "1276533073.M242911P3632") == 0 && uid_of(&u, "x") == 0,
	    "no UID for a prefix or another name");
	CHECK(u.kw[0] && strcmp(u.kw[0], "$Junk") == 0 && u.kw[1] &&
	    strcmp(u.kw[1], "$NonJunk") == 0 && u.kw[25] && strcmp(u.kw[25], "last") == 0 &&
	    u.kw[2] == NULL, "keywords by letter");
	uidimport_free(&u);

	r = feed(&u, UIDIMPORT_DOVECOT, "3 N3 X7 V5\n1 :a\n7 :b:2,S\n", NULL);
	CHECK(r == 0 && u.validity == 5 && u.next == 8,
	    "fields in any order; an appended record past N moves next");
	uidimport_free(&u);
	r = feed(&u, UIDIMPORT_DOVECOT, "3 V9 N4\n", NULL);
	CHECK(r == 0 && u.n == 0 && u.next == 4, "an empty folder keeps its next UID");
	uidimport_free(&u);
	r = feed(&u, UIDIMPORT_DOVECOT, "3 V4294967295 N4294967295\n4294967294 :m\n", NULL);
	CHECK(r == 0 && u.validity == UINT32_MAX && u.next == UINT32_MAX, "largest values");
	uidimport_free(&u);
}

static void
test_version1(void)
{
	struct uidimport u;
	int r = feed(&u, UIDIMPORT_COURIER, "1 1100000 10\n3 a,S=1\n4 b\n9 c.host\n", NULL);
	CHECK(r == 0 && u.validity == 1100000 && u.next == 10 && uid_of(&u, "a") == 3 &&
	    uid_of(&u, "b") == 4 && uid_of(&u, "c.host") == 9, "Courier list read");
	uidimport_free(&u);
	r = feed(&u, UIDIMPORT_DOVECOT, "1 7 3\n1 a\n2 b\n", NULL);
	CHECK(r == 0 && u.next == 3 && uid_of(&u, "b") == 2, "Dovecot 1.0 list read");
	uidimport_free(&u);
	CHECK(refused(UIDIMPORT_COURIER, "1 7 3\n3 a\n"), "v1: UID at next refused");
	CHECK(refused(UIDIMPORT_COURIER, "3 V1 N2\n"), "Courier: only version 1");
	CHECK(refused(UIDIMPORT_COURIER, "1 7 3 x\n"), "v1: extra header field");
	CHECK(refused(UIDIMPORT_COURIER, "1  7 3\n"), "v1: two spaces in the header");
	CHECK(refused(UIDIMPORT_COURIER, "1 7 9\n1  a\n"), "v1: two spaces before the name");
	CHECK(refused(UIDIMPORT_COURIER, "1 7 9\n1 a b\n"), "v1: a space in the name");
	CHECK(refused(UIDIMPORT_COURIER, "1 -7 9\n"), "v1: a sign");
}

static void
test_refused(void)
{
	static const char *const bad[] = {
		"", "\n", "3\n", "3 \n", "2 V1 N2\n", "4 V1 N2\n", " 3 V1 N2\n",
		"3 N2\n", "3 V1\n", "3 V0 N2\n", "3 V1 N0\n", "3 V1 V1 N2\n", "3 V1 N2 N3\n",
		"3 V1x N2\n", "3 V N2\n", "3 V4294967296 N2\n", "3 V99999999999 N2\n",
		"3 V1 N2 Gabc\n", "3 V1 N2 G3085f01b7f11094c501100008c4a11cz\n", "3 V1 N2 x5\n",
		"3 V1 N9\n0 :a\n", "3 V1 N9\n4294967295 :a\n", "3 V1 N9\n2 :a\n2 :b\n",
		"3 V1 N9\n3 :a\n2 :b\n", "3 V1 N9\n1:a\n", "3 V1 N9\n1 a\n", "3 V1 N9\n1 w5 :a\n",
		"3 V1 N9\n1 W5\n", "3 V1 N9\n1 W5:a\n", "3 V1 N9\n1 :\n", "3 V1 N9\n1 :,S=5\n",
		"3 V1 N9\n1 ::2,S\n", "3 V1 N9\n1 :a/b\n", "3 V1 N9\n1 :../x\n", "3 V1 N9\n1 :.a\n",
		"3 V1 N9\n1 :a b\n", "3 V1 N9\n1 :a\tb\n", "3 V1 N9\n1 :a\x7f\n",
		"3 V1 N9\nx :a\n", "3 V1 N9\n+1 :a\n", "3 V1 N9\n \n", "3 V1 N9\n\n",
		"3 V1 N9\n1 :a,S=1\n2 :a,S=2\n", "3 V1 N9\n1 :a:2,S\n2 :a\n",
	};
	char name[64];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(name, sizeof name, "malformed list %zu refused", i);
		CHECK(refused(UIDIMPORT_DOVECOT, bad[i]), name);
	}
	char longname[300];
	snprintf(longname, sizeof longname, "3 V1 N9\n1 :%0256d\n", 7);
	CHECK(refused(UIDIMPORT_DOVECOT, longname), "a name past NAME_MAX refused");
	struct uidimport u;
	uidimport_init(&u, UIDIMPORT_DOVECOT);
	CHECK(uidimport_line(&u, "3 V1 N2\0x", 9) == -1 && errno == EINVAL, "a NUL in a line refused");
	uidimport_free(&u);
	CHECK(!refused(UIDIMPORT_DOVECOT, "3 V1 N2\n1 :a\xc3\xa9\n"),
	    "a name with bytes past ASCII is taken");
}

static void
test_keywords(void)
{
	CHECK(!kw_refused("0 $Junk\n3 NonJunk\n"), "keywords with gaps taken");
	CHECK(kw_refused("26 x\n"), "index past z refused");
	CHECK(kw_refused("0 a\n0 b\n"), "an index twice refused");
	CHECK(kw_refused("0 a\n1 A\n"), "a keyword twice (any case) refused");
	CHECK(kw_refused("0 bad]\n"), "']' in a keyword refused");
	CHECK(kw_refused("0 \\Seen\n"), "a system flag refused");
	CHECK(kw_refused("0  x\n"), "two spaces refused");
	CHECK(kw_refused("0 a b\n"), "a space in a keyword refused");
	CHECK(kw_refused("0 caf\xc3\xa9\n"), "8-bit keyword refused");
	CHECK(kw_refused("a x\n"), "a letter for an index refused");
	CHECK(kw_refused("0\n"), "no keyword refused");
	char line[IMAP_KEYWORD_MAX + 8];
	snprintf(line, sizeof line, "0 %0*d\n", IMAP_KEYWORD_MAX, 1);
	CHECK(!kw_refused(line), "keyword of IMAP_KEYWORD_MAX bytes taken");
	snprintf(line, sizeof line, "0 %0*d\n", IMAP_KEYWORD_MAX + 1, 1);
	CHECK(kw_refused(line), "one byte longer refused");
}

static void
put(const char *name, const char *data)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(data, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
drop(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
	rmdir(path);
}

static int
read_dir(struct uidimport *u)
{
	return uidimport_read(dir, u);
}

static void
test_files(void)
{
	struct uidimport u;
	CHECK(read_dir(&u) == 1 && errno == ENOENT, "no list: nothing to take");
	put("courierimapuiddb", "1 1200000 6\n2 c1\n5 c2\n");
	CHECK(read_dir(&u) == 0 && u.kind == UIDIMPORT_COURIER && u.validity == 1200000 &&
	    uid_of(&u, "c2") == 5, "courierimapuiddb read");
	uidimport_free(&u);
	put("dovecot-uidlist", "3 V77 N9\n4 :d1,S=3:2,S\n");
	put("dovecot-keywords", "0 $Label1\n");
	CHECK(read_dir(&u) == 0 && u.kind == UIDIMPORT_DOVECOT && u.validity == 77 &&
	    uid_of(&u, "d1") == 4 && uid_of(&u, "c2") == 0 && u.kw[0] &&
	    strcmp(u.kw[0], "$Label1") == 0, "both: Dovecot's list and keywords read");
	uidimport_free(&u);

	put("dovecot-keywords", "0 $Label1\n0 $Label2\n");
	CHECK(read_dir(&u) == 1 && errno == EINVAL, "bad keywords: nothing taken");
	drop("dovecot-keywords");
	put("dovecot-uidlist", "3 V77 N9\n4 :d1\n5 :d2");
	CHECK(read_dir(&u) == 1 && errno == EINVAL, "last line cut short: nothing taken");
	{
		char path[512];
		snprintf(path, sizeof path, "%s/dovecot-uidlist", dir);
		FILE *f = fopen(path, "w");
		fwrite("3 V77 N9\n4 :d\0x\n", 1, 16, f);
		fclose(f);
	}
	CHECK(read_dir(&u) == 1 && errno == EINVAL, "a NUL byte: nothing taken");
	char big[UIDIMPORT_LINE_MAX + 64];
	snprintf(big, sizeof big, "3 V77 N9 X%0*d\n", UIDIMPORT_LINE_MAX, 0);
	put("dovecot-uidlist", big);
	CHECK(read_dir(&u) == 1 && errno == EINVAL, "an over-long line: nothing taken");
	put("dovecot-uidlist", "3 V77 N9\n5 :x\n4 :y\n");
	CHECK(read_dir(&u) == 1 && u.n == 0, "a corrupt Dovecot list: Courier's not taken instead");
	CHECK(u.validity == 77 && u.stamp >= 1000000000,
	    "a refused list leaves its UIDVALIDITY and mtime");
	put("dovecot-keywords", "0 $Label1\n");
	CHECK(read_dir(&u) == 1 && u.n == 0 && u.kw[0] && strcmp(u.kw[0], "$Label1") == 0,
	    "a refused list: the keyword letters are still named");
	uidimport_free(&u);
	drop("dovecot-keywords");
	put("dovecot-uidlist", "3 Vx N9\n");
	CHECK(read_dir(&u) == 1 && u.validity == 0 && u.stamp >= 1000000000,
	    "an unreadable header leaves the mtime alone");
	drop("dovecot-uidlist");

	char path[512], target[512];
	snprintf(path, sizeof path, "%s/dovecot-uidlist", dir);
	snprintf(target, sizeof target, "%s/courierimapuiddb", dir);
	CHECK(symlink(target, path) == 0 && read_dir(&u) == 1, "a symlink is not followed");
	drop("dovecot-uidlist");
	CHECK(mkfifo(path, 0600) == 0 && read_dir(&u) == 1 && errno == EINVAL,
	    "a FIFO is no list (and does not block)");
	drop("dovecot-uidlist");
	CHECK(mkdir(path, 0700) == 0 && read_dir(&u) == 1, "a directory is no list");
	drop("dovecot-uidlist");
	drop("courierimapuiddb");

	CHECK(uidimport_check(dir) == 0, "check: nothing there is fine");
	put("dovecot-uidlist", "3 V1 N2\n");
	CHECK(uidimport_check(dir) == 0, "check: a readable list is fine");
	if (geteuid() != 0) {
		char p2[512];
		snprintf(p2, sizeof p2, "%s/dovecot-uidlist", dir);
		chmod(p2, 0);
		CHECK(uidimport_check(dir) == -1 && errno == EACCES, "check: an unreadable list");
	}
	drop("dovecot-uidlist");
	CHECK(uidimport_dovecot_last(dir) == 0, "no dovecot-uidvalidity: 0");
	put("dovecot-uidvalidity", "6b171f67");
	CHECK(uidimport_dovecot_last(dir) == 0x6b171f67, "Dovecot's last UIDVALIDITY (hex)");
	put("dovecot-uidvalidity", "6b171f67\n");
	CHECK(uidimport_dovecot_last(dir) == 0x6b171f67, "... with an LF");
	put("dovecot-uidvalidity", "16b171f67");
	CHECK(uidimport_dovecot_last(dir) == 0, "nine digits: 0");
	put("dovecot-uidvalidity", "6b17 1f67");
	CHECK(uidimport_dovecot_last(dir) == 0, "not hex: 0");
	drop("dovecot-uidvalidity");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_dovecot_v3();
	test_version1();
	test_refused();
	test_keywords();
	test_files();
	rmdir(dir);
	return unit_done();
}
