/*
 * smtp-session — an ESMTP server for one connection on fd 0/1.
 *
 * main() reads top to bottom: flags, configuration and privilege drop,
 * greeting, command loop. Commands map to handlers in one table
 * (command.c); handlers check, act and reply through smtp_reply() (reply.c).
 * Receiving and delivering a message lives in message.c, MAIL/RCPT in
 * envelope.c, STARTTLS/AUTH in auth.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "smtp-milter.h"
#include "tls.h"

#define EXIT_USAGE 100
#define EXIT_TEMP 111

static void
usage(void)
{
	fprintf(stderr, "usage: smtp-session [-c file] [--submission] [--implicit-tls] | -V\n");
	exit(EXIT_USAGE);
}

int
main(int argc, char **argv)
{
	static struct smtp s;
	const char *conf_path = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			conf_path = argv[++i];
		else if (!strcmp(argv[i], "-V")) {
			printf("smtp-session (yubin) %s\n", YUBIN_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--submission"))
			s.submission = 1;
		else if (!strcmp(argv[i], "--implicit-tls"))
			s.implicit_tls = 1;
		else
			usage();
	}
	if (session_start(&s.session, "smtp-session", conf_path) < 0)
		return EXIT_TEMP;
	s.conf = &s.session.conf;
	s.msg_fd = -1;
	io_init(&s.io, 0, 1);
	io_set_timeout(&s.io, (int)s.conf->smtp_timeout);
	/* A hard deadline for the whole session, however slowly it trickles. */
	alarm(SESSION_DEADLINE_SEC);
	log_info("connect%s%s", s.submission ? " submission" : "", s.implicit_tls ? " tls" : "");

	if (s.implicit_tls && smtp_tls_implicit(&s) < 0)
		return EXIT_TEMP;
	/* Synchronisation is enforced on network connections; a local
	 * submitter on a pipe (like sendmail -bs) may send a whole transcript. */
	s.strict_sync = strcmp(s.session.peer, "local") != 0;
	/* An early talker sends before the greeting (S6). */
	if (s.strict_sync && !s.implicit_tls && io_input_waiting(&s.io)) {
		if (io_fill(&s.io) != IO_OK) {
			/* A port probe or health check: gone before the greeting. */
			log_info("disconnect before greeting");
			return 0;
		}
		smtp_sync_error(&s, "CONNECT");
		io_flush(&s.io);
		return 0;
	}
	smtp_reply(&s, 220, NULL, "%s ESMTP yubin", s.conf->hostname);
	smtp_loop(&s);
	smtp_reset(&s);
	smtp_milter_end(&s);
	log_info("disconnect messages=%u bad=%u auth_failures=%u in=%llu out=%llu",
	    s.messages, s.bad_commands, s.auth_failures,
	    (unsigned long long)s.io.bytes_in, (unsigned long long)s.io.bytes_out);
	tls_free(&s.tls);
	conf_free(s.conf);
	return 0;
}
