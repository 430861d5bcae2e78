/* test-users — lib/users.c: passwd-file verification with every crypt(3)
 * scheme libxcrypt offers here ($6$, $5$, $y$, $2b$) and {PLAIN}; unknown
 * user and wrong password both 0 and equally costly (one crypt() at the same
 * setting, seen by a spy on crypt_r; wall time compared by minima of
 * alternating runs), also in files mixing costs, where the unknown user
 * costs what most users cost; aliases with
 * recursion, self-reference, loops and depth. Hashes are made at run time
 * with crypt_gensalt, so no tool is needed. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "conf.h"
#include "users.h"
#include "unit.h"

static char dir[] = "/tmp/yubin-unit-users-XXXXXX";
static char path_users[128], path_aliases[128], path_conf[128];

/* A crypt(3) hash of password with the given prefix, or NULL if this
 * libxcrypt does not offer the scheme. */
static const char *
make_hash(const char *prefix, const char *password, char *out, size_t size)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data data;
	memset(&data, 0, sizeof data);
	if (!crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof salt))
		return NULL;
	const char *h = crypt_r(password, salt, &data);
	if (!h || h[0] == '*')
		return NULL;
	snprintf(out, size, "%s", h);
	return out;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static int have_2b;
static char h6[256], hy[256]; /* the $6$ and $y$ users' hashes */

static void
setup(struct conf *conf)
{
	char h5[256], h2b[256], text[8192], err[256];
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path_users, sizeof path_users, "%s/users", dir);
	snprintf(path_aliases, sizeof path_aliases, "%s/aliases", dir);
	snprintf(path_conf, sizeof path_conf, "%s/yubin.conf", dir);
	if (!make_hash("$6$", "pw-six", h6, sizeof h6) || !make_hash("$5$", "pw-five", h5, sizeof h5) ||
	    !make_hash("$y$", "pw-yes", hy, sizeof hy)) {
		fprintf(stderr, "crypt_gensalt failed for $6$/$5$/$y$\n");
		exit(1);
	}
	have_2b = make_hash("$2b$", "pw-blf", h2b, sizeof h2b) != NULL;
	char longline[5000];
	memset(longline, 'x', sizeof longline - 1);
	longline[sizeof longline - 1] = '\0';
	snprintf(text, sizeof text,
	    "# comment line\n"
	    "%s\n"
	    "six@example.org:{SHA512-CRYPT}%s::::\n"
	    "five@example.org:%s\n"
	    "yes@example.org:{CRYPT}%s:1000:1000::/home/yes::\n"
	    "blf@example.org:{BLF-CRYPT}%s\n"
	    "plain@example.org:{PLAIN}pw-plain\n"
	    "empty@example.org:\n"
	    "ssha@example.org:{SSHA}c2VjcmV0\n"
	    "Mixed@Example.org:{PLAIN}pw-mixed\n",
	    longline, h6, h5, hy, have_2b ? h2b : "*");
	write_text(path_users, text);
	char aliases[16384];
	/* An over-long line whose tail, just past what one read of 4095
	 * octets takes, looks like an alias: it must not count. */
	memset(longline, 'y', 4095);
	snprintf(longline + 4095, sizeof longline - 4095, "tail@example.org: far@example.net");
	snprintf(aliases, sizeof aliases, "%s\n"
	    "# aliases\n"
	    "team@example.org: six@example.org, five\n"
	    "nested@example.org: team@example.org,yes@example.org\n"
	    "self@example.org: self@example.org, six\n"
	    "loop1@example.org: loop2@example.org\n"
	    "loop2@example.org: loop1@example.org\n"
	    "halfloop@example.org: loop1@example.org, five@example.org\n"
	    "d0@example.org: d1@example.org\nd1@example.org: d2@example.org\n"
	    "d2@example.org: d3@example.org\nd3@example.org: d4@example.org\n"
	    "d4@example.org: d5@example.org\nd5@example.org: d6@example.org\n"
	    "d6@example.org: d7@example.org\nd7@example.org: d8@example.org\n"
	    "d8@example.org: d9@example.org\nd9@example.org: six@example.org\n"
	    "d5ok@example.org: d5@example.org\n"
	    "dup@example.org: six, six@example.org, team@example.org\n"
	    "remote@example.org: far@example.net  # a comment\n"
	    "multi@example.org: six@example.org\n"
	    "multi@example.org: five@example.org\n", longline);
	write_text(path_aliases, aliases);
	snprintf(text, sizeof text, "local_domains = example.org localhost\nusers = %s\naliases = %s\n",
	    path_users, path_aliases);
	write_text(path_conf, text);
	conf_defaults(conf);
	if (conf_load(conf, path_conf, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
}

static void
test_verify(const struct conf *conf)
{
	CHECK(users_verify(conf, "six@example.org", "pw-six") == 1, "$6$ with {SHA512-CRYPT}: right password");
	CHECK(users_verify(conf, "six@example.org", "pw-sixx") == 0, "$6$: wrong password 0");
	CHECK(users_verify(conf, "five@example.org", "pw-five") == 1, "$5$ without prefix: right password");
	CHECK(users_verify(conf, "five@example.org", "") == 0, "$5$: empty password 0");
	CHECK(users_verify(conf, "yes@example.org", "pw-yes") == 1, "$y$ with {CRYPT}, extra fields: right");
	CHECK(users_verify(conf, "yes@example.org", "pw-six") == 0, "$y$: another user's password 0");
	if (have_2b) {
		CHECK(users_verify(conf, "blf@example.org", "pw-blf") == 1, "$2b$ with {BLF-CRYPT}: right");
		CHECK(users_verify(conf, "blf@example.org", "pw-bl") == 0, "$2b$: wrong 0");
	} else {
		CHECK(users_verify(conf, "blf@example.org", "pw-blf") == 0,
		    "$2b$ not offered by this libxcrypt: a '*' hash never verifies");
	}
	CHECK(users_verify(conf, "plain@example.org", "pw-plain") == 1, "{PLAIN}: right password");
	CHECK(users_verify(conf, "plain@example.org", "pw-plai") == 0, "{PLAIN}: prefix of it 0");
	CHECK(users_verify(conf, "plain@example.org", "pw-plainx") == 0, "{PLAIN}: longer 0");
	CHECK(users_verify(conf, "empty@example.org", "") == 0, "empty hash field never verifies");
	CHECK(users_verify(conf, "ssha@example.org", "secret") == 0, "unsupported scheme {SSHA}: 0");
	CHECK(users_verify(conf, "nobody@example.org", "pw-six") == 0, "unknown user: 0");
	CHECK(users_verify(conf, "six@EXAMPLE.ORG", "pw-six") == 1, "domain is case-insensitive");
	CHECK(users_verify(conf, "six", "pw-six") == 1, "login without domain: first local domain");
	CHECK(users_verify(conf, "mixed@example.org", "pw-mixed") == 1, "local part matched case-insensitively");
	CHECK(users_verify(conf, "six@example.org:", "pw-six") == 0, "login with ':' is no user");
	CHECK(users_verify(conf, "", "pw-six") == 0, "empty login: 0");
	CHECK(users_verify(conf, "xxxx", "x") == 0, "prefix of an over-long line is no user");
}

/* A spy on crypt_r(3). The test is linked with --wrap=crypt_r, so every
 * call of crypt_r (users.c's too) comes here; it counts the calls, keeps
 * the setting (hash) of the last one and hands over to the real crypt_r.
 * How many crypt() runs a check costs, and at what cost setting, is what
 * makes unknown users and wrong passwords take the same time; asserting
 * that needs no clock. */
static int spy_calls;
static char spy_setting[CRYPT_OUTPUT_SIZE];

char *__real_crypt_r(const char *phrase, const char *setting, struct crypt_data *data);
char *__wrap_crypt_r(const char *phrase, const char *setting, struct crypt_data *data);

char *
__wrap_crypt_r(const char *phrase, const char *setting, struct crypt_data *data)
{
	spy_calls++;
	snprintf(spy_setting, sizeof spy_setting, "%s", setting ? setting : "(null)");
	return __real_crypt_r(phrase, setting, data);
}

/* users_verify() of login and pw; 1 if it answered 0 (refused) with
 * exactly one crypt() run, whose setting is then in spy_setting. */
static int
refused_with_one_crypt(const struct conf *conf, const char *login, const char *pw)
{
	spy_calls = 0;
	spy_setting[0] = '\0';
	return users_verify(conf, login, pw) == 0 && spy_calls == 1;
}

static double
seconds_for(const struct conf *conf, const char *login, const char *pw, int n)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		if (users_verify(conf, login, pw) != 0)
			return -1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* Wall time as a second opinion, made so that a loaded machine cannot fail
 * it: unknown-user and wrong-password runs alternate, and only the fastest
 * run of each is compared (load only ever adds time, and minima only
 * shrink as rounds are added). Rounds go on, up to max_rounds, until the
 * two minima are within a factor of 3; a real difference, such as an
 * unknown user costing no crypt(), keeps them apart however many rounds. */
static void
check_timing(const struct conf *conf, const char *user, const char *what, int max_rounds)
{
	double wrong = -1, unknown = -1;
	int round, similar = 0;
	for (round = 1; round <= max_rounds && !similar; round++) {
		double w = seconds_for(conf, user, "nope", 1);
		double u = seconds_for(conf, "ghost@example.org", "nope", 1);
		if (w < 0 || u < 0)
			break;
		wrong = wrong < 0 || w < wrong ? w : wrong;
		unknown = unknown < 0 || u < unknown ? u : unknown;
		similar = round >= 5 && unknown < wrong * 3 && wrong < unknown * 3;
	}
	char name[240];
	snprintf(name, sizeof name, "timing, %s: fastest unknown user %.4f s, fastest wrong password "
	    "%.4f s after %d alternating rounds (within a factor of 3)", what, unknown, wrong, round - 1);
	CHECK(similar, name);
}

/* A file mixing costs (issue 11, defect 8): an unknown user must cost
 * what most users cost, not what the first line costs, in either order.
 * cheap is $5$ at 1000 rounds (the least libxcrypt allows), dear the
 * $5$ default of 5000 rounds and $y$ at its default cost. */
static void
test_mixed_costs(struct conf *conf)
{
	char cheap[256], dear[4][256], text[4096];
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data data;
	memset(&data, 0, sizeof data);
	const char *h = crypt_gensalt_rn("$5$", 1000, NULL, 0, salt, sizeof salt) ?
	    crypt_r("pw-cheap", salt, &data) : NULL;
	CHECK(h && strncmp(h, "$5$rounds=1000$", 15) == 0, "a $5$ hash at 1000 rounds");
	snprintf(cheap, sizeof cheap, "%s", h ? h : "*");
	for (int i = 0; i < 4; i++)
		if (!make_hash("$y$", "pw-dear", dear[i], sizeof dear[i]))
			snprintf(dear[i], sizeof dear[i], "*");

	/* First line cheap, the three others dear: the $y$ cost wins. */
	snprintf(text, sizeof text, "cheap@example.org:{SHA256-CRYPT}%s\nd0@example.org:%s\n"
	    "d1@example.org:{CRYPT}%s\nplain@example.org:{PLAIN}p\nd2@example.org:%s\n",
	    cheap, dear[0], dear[1], dear[2]);
	write_text(path_users, text);
	CHECK(refused_with_one_crypt(conf, "ghost@example.org", "nope") &&
	    strcmp(spy_setting, dear[0]) == 0,
	    "first line cheap, most lines $y$: unknown user costs one $y$ crypt() (the first $y$ hash)");
	CHECK(refused_with_one_crypt(conf, "d1@example.org", "nope") && strcmp(spy_setting, dear[1]) == 0,
	    "mixed file, wrong password: the user's own hash");
	check_timing(conf, "d2@example.org", "first line cheap, most $y$", 20);

	/* Most lines cheap (same setting, different salts), a dear one first. */
	char cheap2[256];
	h = crypt_gensalt_rn("$5$", 1000, NULL, 0, salt, sizeof salt) ?
	    crypt_r("pw-cheap2", salt, &data) : NULL;
	snprintf(cheap2, sizeof cheap2, "%s", h ? h : "*");
	snprintf(text, sizeof text, "d0@example.org:%s\nc0@example.org:%s\nc1@example.org:%s\n"
	    "c2@example.org:%s\n", dear[3], cheap, cheap2, cheap);
	write_text(path_users, text);
	CHECK(refused_with_one_crypt(conf, "ghost@example.org", "nope") && strcmp(spy_setting, cheap) == 0,
	    "first line $y$, most lines $5$ at 1000 rounds: unknown user costs that $5$ crypt()");

	/* The cost is part of the setting: $5$ at 5000 rounds (no rounds=
	 * field) is not $5$ at 1000 rounds. */
	char five[3][256];
	for (int i = 0; i < 3; i++)
		if (!make_hash("$5$", "pw-five", five[i], sizeof five[i]))
			snprintf(five[i], sizeof five[i], "*");
	snprintf(text, sizeof text, "c0@example.org:%s\nc1@example.org:%s\nf0@example.org:%s\n"
	    "f1@example.org:%s\nf2@example.org:%s\n", cheap, cheap2, five[0], five[1], five[2]);
	write_text(path_users, text);
	CHECK(refused_with_one_crypt(conf, "ghost@example.org", "nope") && strcmp(spy_setting, five[0]) == 0,
	    "two $5$ at 1000 rounds, three at the default: the default's cost wins");
	check_timing(conf, "f1@example.org", "$5$ rounds mixed", 20);

	/* yescrypt's cost is its second field ("$y$j9T$" by default): two
	 * users at the cheapest cost outnumber one at the default. */
	char ycheap[2][256];
	for (int i = 0; i < 2; i++) {
		h = crypt_gensalt_rn("$y$", 1, NULL, 0, salt, sizeof salt) ?
		    crypt_r("pw-y", salt, &data) : NULL;
		snprintf(ycheap[i], sizeof ycheap[i], "%s", h ? h : "*");
	}
	CHECK(strncmp(ycheap[0], dear[0], 7) != 0 && strncmp(ycheap[0], ycheap[1], 7) == 0,
	    "$y$ at cost 1 has another setting field than the default");
	snprintf(text, sizeof text, "d0@example.org:%s\ny0@example.org:%s\ny1@example.org:%s\n",
	    dear[0], ycheap[0], ycheap[1]);
	write_text(path_users, text);
	CHECK(refused_with_one_crypt(conf, "ghost@example.org", "nope") &&
	    strcmp(spy_setting, ycheap[0]) == 0,
	    "one $y$ at the default cost, two at cost 1: unknown user costs cost 1");
	if (have_2b) {
		char b[3][256];
		for (int i = 0; i < 3; i++) {
			h = crypt_gensalt_rn("$2b$", i ? 5 : 6, NULL, 0, salt, sizeof salt) ?
			    crypt_r("pw-b", salt, &data) : NULL;
			snprintf(b[i], sizeof b[i], "%s", h ? h : "*");
		}
		snprintf(text, sizeof text, "b6@example.org:{BLF-CRYPT}%s\nb5@example.org:%s\n"
		    "c5@example.org:%s\n", b[0], b[1], b[2]);
		write_text(path_users, text);
		CHECK(refused_with_one_crypt(conf, "ghost@example.org", "nope") &&
		    strcmp(spy_setting, b[1]) == 0,
		    "$2b$: cost 06 first, two at cost 05: unknown user costs 05");
	}
	memset(&data, 0, sizeof data);
}

/* Unknown users cost what a wrong password costs (issue 2): one crypt()
 * each, with the same setting (the first user's hash: same scheme, same
 * cost), so the unknown user follows whatever scheme the file uses. */
static void
test_timing(struct conf *conf)
{
	CHECK(refused_with_one_crypt(conf, "six@example.org", "nope") && strcmp(spy_setting, h6) == 0,
	    "wrong password: one crypt() with the user's $6$ hash");
	CHECK(refused_with_one_crypt(conf, "ghost@example.org", "nope") && strcmp(spy_setting, h6) == 0,
	    "unknown user: one crypt() with the same $6$ hash, so the same cost (user enumeration)");
	char big[400];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK(refused_with_one_crypt(conf, big, "nope") && strcmp(spy_setting, h6) == 0,
	    "login too long for a name: one crypt() with the same $6$ hash");
	CHECK(refused_with_one_crypt(conf, "plain@example.org", "nope") && strncmp(spy_setting, "$6$", 3) == 0,
	    "wrong {PLAIN} password: one crypt() of the $6$ dummy all the same");
	CHECK(refused_with_one_crypt(conf, "ssha@example.org", "secret") && strncmp(spy_setting, "$6$", 3) == 0,
	    "unsupported scheme: one crypt() of the $6$ dummy");
	check_timing(conf, "six@example.org", "$6$ file", 60);

	char text[512];
	snprintf(text, sizeof text, "yes@example.org:%s\nplain@example.org:{PLAIN}p\n", hy);
	write_text(path_users, text);
	CHECK(refused_with_one_crypt(conf, "yes@example.org", "nope") && strcmp(spy_setting, hy) == 0,
	    "$y$ file, wrong password: one crypt() with the user's $y$ hash");
	CHECK(refused_with_one_crypt(conf, "ghost@example.org", "nope") && strcmp(spy_setting, hy) == 0,
	    "$y$ file, unknown user: one crypt() with that $y$ hash (its cost parameters too)");
	check_timing(conf, "yes@example.org", "$y$ file", 20);

	snprintf(text, sizeof text, "plain@example.org:{PLAIN}p\nyes@example.org:%s\n", hy);
	write_text(path_users, text);
	CHECK(refused_with_one_crypt(conf, "ghost@example.org", "nope") && strncmp(spy_setting, "$6$", 3) == 0,
	    "first user {PLAIN}, unknown user: one crypt() of the $6$ dummy");
	test_mixed_costs(conf);
	unlink(path_users);
	errno = 0;
	CHECK(users_verify(conf, "six@example.org", "pw-six") == -1 && errno == ENOENT,
	    "users file missing: -1 with errno");
	CHECK(users_exists(conf, "six@example.org") == -1, "users_exists: missing file -1");
}

/* Expands addr and compares with the expected list (order kept). */
static int
expands_to(const struct conf *conf, const char *addr, const char *const *want, size_t n_want)
{
	char **t;
	size_t n;
	if (users_aliases(conf, addr, &t, &n) < 0)
		return 0;
	int ok = n == n_want;
	for (size_t i = 0; ok && i < n; i++)
		ok = strcmp(t[i], want[i]) == 0;
	users_free_targets(&t, n);
	return ok;
}

static void
test_aliases(const struct conf *conf)
{
	static const char *const team[] = { "six@example.org", "five@example.org" };
	static const char *const nested[] = { "six@example.org", "five@example.org", "yes@example.org" };
	static const char *const self[] = { "self@example.org", "six@example.org" };
	static const char *const five[] = { "five@example.org" };
	static const char *const six[] = { "six@example.org" };
	static const char *const remote[] = { "far@example.net" };
	CHECK(expands_to(conf, "team@example.org", team, 2), "alias: two targets, one without domain");
	CHECK(expands_to(conf, "TEAM@Example.org", team, 2), "alias lookup is case-insensitive");
	CHECK(expands_to(conf, "nested@example.org", nested, 3), "alias: recursion through another alias");
	CHECK(expands_to(conf, "self@example.org", self, 2), "alias naming itself: its own mailbox kept");
	CHECK(expands_to(conf, "halfloop@example.org", five, 1), "alias into a loop: the loop part dropped");
	CHECK(expands_to(conf, "dup@example.org", team, 2), "alias: duplicates delivered once");
	CHECK(expands_to(conf, "remote@example.org", remote, 1), "alias: remote target, comment ignored");
	CHECK(expands_to(conf, "multi@example.org", nested, 2), "alias on two lines: both lines count");
	CHECK(expands_to(conf, "d5ok@example.org", six, 1), "alias chain of 6 levels resolves");
	CHECK(expands_to(conf, "six@example.org", NULL, 0), "a user is no alias: 0 targets");
	CHECK(expands_to(conf, "tail@example.org", NULL, 0), "the tail of an over-long line is no alias");
	char **t;
	size_t n;
	errno = 0;
	CHECK(users_aliases(conf, "loop1@example.org", &t, &n) == -1 && errno == ELOOP && n == 0 && !t,
	    "alias loop a -> b -> a: -1 ELOOP, nothing returned");
	errno = 0;
	CHECK(users_aliases(conf, "d0@example.org", &t, &n) == -1 && errno == ELOOP,
	    "alias chain deeper than 8: -1 ELOOP");
	CHECK(users_may_send_as(conf, "six@example.org", "team@example.org") == 1,
	    "may send as an alias that includes the user");
	CHECK(users_may_send_as(conf, "yes@example.org", "team@example.org") == 0,
	    "may not send as an alias without the user");
	CHECK(users_may_send_as(conf, "six@example.org", "SIX@example.org") == 1, "may send as itself");
	CHECK(users_may_send_as(conf, "six@example.org", "five@example.org") == 0, "not as another user");
	CHECK(users_exists(conf, "five@example.org") == 1 && users_exists(conf, "team@example.org") == 0,
	    "users_exists: users yes, aliases no");
	char out[ADDR_PATH_MAX + 1], big[400];
	CHECK(users_canonical(conf, "bob@EXAMPLE.Org", out, sizeof out) == 0 &&
	    strcmp(out, "bob@example.org") == 0, "canonical: domain lower-cased");
	CHECK(users_canonical(conf, "bob", out, sizeof out) == 0 && strcmp(out, "bob@example.org") == 0,
	    "canonical: first local domain appended");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK(users_canonical(conf, big, out, sizeof out) == -1, "canonical: too long is -1");
}

int
main(void)
{
	struct conf conf;
	setup(&conf);
	test_verify(&conf);
	test_aliases(&conf);
	test_timing(&conf);
	conf_free(&conf);
	unlink(path_aliases);
	unlink(path_conf);
	rmdir(dir);
	return unit_done();
}
