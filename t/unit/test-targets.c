/* test-targets — lib/targets.c: a local recipient through its aliases or
 * itself, in one lower-case spelling; remote targets once, with the DSN
 * parameters of the recipient that named them itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "spool.h"
#include "targets.h"
#include "unit.h"

static char dir[] = "/tmp/yubin-unit-targets-XXXXXX";

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int
main(void)
{
	char conf_path[128], aliases[128], users[128], text[512], err[256];
	struct conf conf;
	if (!mkdtemp(dir))
		return 1;
	snprintf(conf_path, sizeof conf_path, "%s/yubin.conf", dir);
	snprintf(aliases, sizeof aliases, "%s/aliases", dir);
	snprintf(users, sizeof users, "%s/users", dir);
	write_text(users, "ann@example.org:{PLAIN}x\nbob@example.org:{PLAIN}x\n");
	write_text(aliases, "team@example.org: Ann@Example.org, far@example.net, bob\n");
	snprintf(text, sizeof text, "local_domains = example.org\nusers = %s\naliases = %s\n",
	    users, aliases);
	write_text(conf_path, text);
	conf_defaults(&conf);
	if (conf_load(&conf, conf_path, err, sizeof err) < 0) {
		fprintf(stderr, "conf: %s\n", err);
		return 1;
	}
	struct targets t = { 0 };
	CHECK(targets_add_rcpt(&conf, &t, "team@example.org", 0, NULL) == 1, "alias expanded");
	CHECK(targets_add_rcpt(&conf, &t, "ANN@example.org", 0, NULL) == 0, "user added itself");
	CHECK(targets_add_rcpt(&conf, &t, "Far@Example.NET", SPOOL_NOTIFY_SUCCESS, "rfc822;x") == 0,
	    "remote recipient added");
	CHECK(t.n_local == 2 && !strcmp(t.local[0], "ann@example.org") &&
	    !strcmp(t.local[1], "bob@example.org"), "local targets once, lower case");
	CHECK(t.n_remote == 1 && !strcmp(t.remote[0].addr, "far@example.net"),
	    "remote target once, first spelling");
	CHECK(t.remote[0].notify == SPOOL_NOTIFY_SUCCESS && t.remote[0].orcpt &&
	    !strcmp(t.remote[0].orcpt, "rfc822;x"), "the recipient's own DSN parameters kept");
	targets_free(&t);
	CHECK(t.n_local == 0 && t.n_remote == 0 && !t.local && !t.remote, "freed empty");
	char long_addr[400];
	memset(long_addr, 'a', 300);
	snprintf(long_addr + 300, sizeof long_addr - 300, "@example.org");
	CHECK(targets_add_rcpt(&conf, &t, long_addr, 0, NULL) < 0 && t.n_local == 0,
	    "an over-long local address refused, not cut");
	targets_free(&t);
	conf_free(&conf);
	unlink(conf_path);
	unlink(aliases);
	unlink(users);
	rmdir(dir);
	return unit_done();
}
