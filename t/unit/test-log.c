/*
 * test-log.c — log lines stay one line each, whatever the text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

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
	return unit_done();
}
