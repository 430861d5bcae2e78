/* Fuzz target: a whole smtp-session conversation (S5, S6, S19–S26, S28,
 * S47), linked with smtp-session's objects (all but main); the fuzz input
 * is what the client sends, read through the real io layer from a memfd,
 * so the command loop, the table dispatch, the MAIL/RCPT parsers (paths,
 * ESMTP parameters, xtext), DATA, BDAT and AUTH all run as they do on a
 * connection.
 *
 * The first byte sets the session: bit 0 RFC 2920 synchronisation (as on a
 * socket), bit 1 --submission, bit 2 already authenticated (relay allowed),
 * bit 3 smtp_bare_newline = reject. Delivery always fails (mail_root is a
 * file, spool/new is a file), so no input leaves files behind; the content
 * file is an unnamed O_TMPFILE.
 *
 * Checks: every reply line is "DDD" + ' ' or '-' + text + CRLF with no
 * other control byte, codes 2xx–5xx; the recipient list never exceeds
 * smtp_max_recipients; no sanitizer report. */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "smtp-session/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];
static struct conf fuzz_conf;
static int fuzz_in = -1, fuzz_out = -1;

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
fuzz_cleanup(void)
{
	if (fuzz_dir[0])
		nftw(fuzz_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
write_file(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

/* A scratch installation where every delivery fails without a trace. */
static void
fuzz_setup(void)
{
	char path[128], err[256];
	snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/yubin-fuzz-smtp-XXXXXX");
	if (!mkdtemp(fuzz_dir))
		abort();
	atexit(fuzz_cleanup);
	write_file("users", "u@example.org:{PLAIN}pw\nv@example.org:{PLAIN}pw\n");
	write_file("aliases", "team@example.org: u@example.org, v, far@example.net\n"
	    "loop@example.org: loop2@example.org\nloop2@example.org: loop@example.org\n");
	write_file("nomail", "mail_root is a file: delivery fails\n");
	snprintf(path, sizeof path, "%s/spool", fuzz_dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/spool/tmp", fuzz_dir);
	mkdir(path, 0700);
	write_file("spool/new", "spool/new is a file: queueing fails\n");
	char conf_text[1024];
	snprintf(conf_text, sizeof conf_text,
	    "hostname = mx.example.org\nlocal_domains = example.org localhost\n"
	    "users = %1$s/users\naliases = %1$s/aliases\nmail_root = %1$s/nomail\n"
	    "spool = %1$s/spool\nauth_requires_tls = no\nmax_message_size = 64k\n"
	    "smtp_max_recipients = 5\nsmtp_timeout = 1\nauth_fail_delay_ms = 0\n", fuzz_dir);
	write_file("yubin.conf", conf_text);
	snprintf(path, sizeof path, "%s/yubin.conf", fuzz_dir);
	conf_defaults(&fuzz_conf);
	if (conf_load(&fuzz_conf, path, err, sizeof err) < 0)
		abort();
	fuzz_in = memfd_create("smtp-in", 0);
	fuzz_out = memfd_create("smtp-out", 0);
	if (fuzz_in < 0 || fuzz_out < 0)
		abort();
}

/* Every reply line well-formed; nothing of the client's leaks unescaped. */
static void
check_replies(void)
{
	off_t len = lseek(fuzz_out, 0, SEEK_END);
	if (len <= 0)
		return;
	char *out = malloc((size_t)len);
	if (!out || pread(fuzz_out, out, (size_t)len, 0) != len)
		abort();
	for (char *p = out, *end = out + len; p < end;) {
		char *lf = memchr(p, '\n', (size_t)(end - p));
		if (!lf || lf - p < 5 || lf[-1] != '\r' || p[0] < '2' || p[0] > '5' ||
		    p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' || (p[3] != ' ' && p[3] != '-'))
			abort();
		for (char *q = p; q < lf - 1; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				abort();
		p = lf + 1;
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp s;
	if (size == 0)
		return 0;
	if (fuzz_in < 0)
		fuzz_setup();
	if (ftruncate(fuzz_in, 0) < 0 || pwrite(fuzz_in, data + 1, size - 1, 0) != (ssize_t)(size - 1) ||
	    lseek(fuzz_in, 0, SEEK_SET) != 0 || ftruncate(fuzz_out, 0) < 0 ||
	    lseek(fuzz_out, 0, SEEK_SET) != 0)
		abort();
	memset(&s, 0, sizeof s);
	s.session.conf = fuzz_conf;
	s.conf = &s.session.conf;
	snprintf(s.session.peer, sizeof s.session.peer, "local");
	s.msg_fd = -1;
	s.strict_sync = data[0] & 1;
	s.submission = (data[0] & 2) != 0;
	if (data[0] & 4)
		snprintf(s.auth_user, sizeof s.auth_user, "u@example.org");
	s.conf->smtp_bare_newline = data[0] & 8 ? BARE_NEWLINE_REJECT : BARE_NEWLINE_NORMALIZE;
	io_init(&s.io, fuzz_in, fuzz_out);
	io_set_timeout(&s.io, 1);
	smtp_reply(&s, 220, NULL, "%s ESMTP yubin", s.conf->hostname);
	smtp_loop(&s);
	if (s.n_rcpts > s.conf->smtp_max_recipients)
		abort();
	smtp_reset(&s);
	check_replies();
	return 0;
}
