/*
 * test-log.c — log lines stay one line each, whatever the text; a
 * client-supplied field value cannot make another field; the one
 * auth-failure line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

/* Runs f with stderr sent to a temporary file; returns what it wrote. */
static void
capture(void (*f)(void), char *buf, size_t size)
{
	char path[] = "/tmp/yubin-test-log-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	f();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, buf, size - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
}

/* A value logged as a field cannot end early or start another field
 * (issue 11, defect 13). */
static void
test_fields(void)
{
	char out[128];
	const char *forged = "x peer=203.0.113.9";
	log_field(out, sizeof out, forged, strlen(forged));
	CHECK(strcmp(out, "x\\x20peer\\x3d203.0.113.9") == 0, "log_field: blank and '=' escaped");
	const char *nasty = "a\"b'c\\d\te\x1b[0m\xc3\xa9";
	log_field(out, sizeof out, nasty, strlen(nasty));
	CHECK(strcmp(out, "a\\x22b\\x27c\\x5cd\\x09e\\x1b[0m\\xc3\\xa9") == 0,
	    "log_field: quotes, backslash, tab, ESC, 8-bit escaped");
	log_field(out, sizeof out, "alice@example.org", 17);
	CHECK(strcmp(out, "alice@example.org") == 0, "log_field: an ordinary address unchanged");
	log_escape(out, sizeof out, forged, strlen(forged));
	CHECK(strcmp(out, forged) == 0, "log_escape (free text) keeps blanks and '='");
	log_field(out, 8, "ab c", 4);
	CHECK(strcmp(out, "ab\\x20c") == 0, "log_field: fits exactly");
	log_field(out, 6, "ab c", 4);
	CHECK(strcmp(out, "ab") == 0, "log_field: an escape that does not fit is left out whole");
	log_field(out, sizeof out, "", 0);
	CHECK(out[0] == '\0', "log_field: empty value");
}

static void
log_two_failures(void)
{
	log_auth_failure("imap", "LOGIN", "x peer=203.0.113.9", "password", 1);
	log_auth_failure("pop3", "PLAIN", NULL, "malformed", 2);
}

/* The one auth-failure line, after the peer prefix. */
static void
test_auth_failure(void)
{
	char buf[1024];
	log_set_prefix("peer=192.0.2.66");
	capture(log_two_failures, buf, sizeof buf);
	log_set_prefix(NULL);
	char want[512];
	snprintf(want, sizeof want,
	    "test-log[%ld]: warning: peer=192.0.2.66 auth failure: proto=imap method=LOGIN "
	    "user=x\\x20peer\\x3d203.0.113.9 reason=password failures=1\n"
	    "test-log[%ld]: warning: peer=192.0.2.66 auth failure: proto=pop3 method=PLAIN "
	    "user=- reason=malformed failures=2\n", (long)getpid(), (long)getpid());
	CHECK(strcmp(buf, want) == 0, "log_auth_failure: one line, the forged name one field");
	if (strcmp(buf, want) != 0)
		printf("# got:  %s# want: %s", buf, want);
}

int
main(void)
{
	char path[] = "/tmp/yubin-test-log-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0, "temporary file");
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	unsetenv("JOURNAL_STREAM");
	log_init("test-log");
	log_info("user=%s done", "evil\n<0>forged\r\nline");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char buf[512] = "";
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	char *nl = strchr(buf, '\n');
	CHECK(nl != NULL && nl[1] == '\0', "one line written");
	CHECK(strstr(buf, "user=evil <0>forged  line done") != NULL, "line breaks became spaces");
	char esc[64];
	log_escape(esc, sizeof esc, "a\nb\\", 4);
	CHECK(strcmp(esc, "a\\x0ab\\x5c") == 0, "log_escape escapes LF and backslash");
	test_fields();
	test_auth_failure();
	return unit_done();
}
