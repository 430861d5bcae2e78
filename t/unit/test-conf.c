/* Unit tests for lib/conf: sizes, times, keys, errors naming file and line. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "unit.h"

static char *
write_tmp(const char *text)
{
	static char path[] = "/tmp/yubin-conf-XXXXXX";
	strcpy(path, "/tmp/yubin-conf-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

int
main(void)
{
	uint64_t v;
	CHECK(conf_parse_size("35M", &v) == 0 && v == 35ULL * 1024 * 1024, "35M");
	CHECK(conf_parse_size("10k", &v) == 0 && v == 10240, "10k");
	CHECK(conf_parse_size("123", &v) == 0 && v == 123, "plain number");
	CHECK(conf_parse_size("-1", &v) == -1, "negative refused");
	CHECK(conf_parse_size("99999999999999999999", &v) == -1, "overflow refused");
	CHECK(conf_parse_size("999999999999G", &v) == -1, "scaled overflow refused");
	CHECK(conf_parse_size("5x", &v) == -1, "bad unit refused");
	CHECK(conf_parse_time("5d", &v) == 0 && v == 5 * 86400, "5d");
	CHECK(conf_parse_time("30m", &v) == 0 && v == 1800, "30m");

	struct conf c;
	char err[512];
	conf_defaults(&c);
	CHECK(c.max_message_size == 36700160, "default size");
	CHECK(c.auth_requires_tls == 1, "default auth_requires_tls");
	CHECK(conf_is_local_domain(&c, "LOCALHOST"), "default local domain");
	char *p = write_tmp("# comment\nhostname = mx.example.org\n"
	    "local_domains = Example.ORG example.net\nmailbox_format = mbox\n"
	    "max_message_size = 10M # trailing\nqueue_lifetime = 2d\nauth_requires_tls = no\n");
	CHECK(conf_load(&c, p, err, sizeof err) == 0, "loads a good file");
	CHECK(strcmp(c.hostname, "mx.example.org") == 0, "hostname");
	CHECK(c.n_local_domains == 2 && conf_is_local_domain(&c, "example.org"), "domains lower-cased");
	CHECK(c.mailbox_format == MAILBOX_MBOX, "mbox");
	CHECK(c.max_message_size == 10 * 1024 * 1024, "size with comment");
	CHECK(c.queue_lifetime == 2 * 86400, "lifetime");
	CHECK(c.auth_requires_tls == 0, "bool");
	unlink(p);
	conf_free(&c);

	conf_defaults(&c);
	p = write_tmp("hostname = a\n\nfoo = bar\n");
	CHECK(conf_load(&c, p, err, sizeof err) == -1, "unknown key refused");
	CHECK(strstr(err, ":3: unknown key 'foo'") != NULL, "error names line and key");
	unlink(p);
	conf_free(&c);

	conf_defaults(&c);
	p = write_tmp("mailbox_format = maildirx\n");
	CHECK(conf_load(&c, p, err, sizeof err) == -1 && strstr(err, ":1:"), "bad value refused");
	unlink(p);
	conf_free(&c);

	conf_defaults(&c);
	CHECK(!c.milters && c.milter_default_action == MILTER_ACTION_TEMPFAIL &&
	    c.milter_timeout == 30, "milter defaults: none, tempfail, 30s");
	p = write_tmp("milters = unix:/run/a.sock inet:127.0.0.1:8891\n"
	    "milter_default_action = accept\nmilter_timeout = 2s\n");
	CHECK(conf_load(&c, p, err, sizeof err) == 0 && c.milters &&
	    !strcmp(c.milters, "unix:/run/a.sock inet:127.0.0.1:8891") &&
	    c.milter_default_action == MILTER_ACTION_ACCEPT && c.milter_timeout == 2,
	    "milters, milter_default_action, milter_timeout");
	unlink(p);
	conf_free(&c);
	conf_defaults(&c);
	p = write_tmp("milter_default_action = quarantine\n");
	CHECK(conf_load(&c, p, err, sizeof err) == -1, "unknown milter_default_action refused");
	unlink(p);
	conf_free(&c);
	return unit_done();
}
