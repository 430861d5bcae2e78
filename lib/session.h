/*
 * session.h — what every session program does before its first command:
 * read flags common to all (-c FILE, -V), load the configuration, learn the
 * peer address, start logging, and drop to run_as when started as root.
 */
#ifndef YUBIN_SESSION_H
#define YUBIN_SESSION_H

#include "conf.h"
#include "io.h"

struct session {
	struct conf conf;
	const char *progname;
	char peer[64];        /* address text, or "local" over a pipe */
	int peer_is_local;    /* loopback or pipe */
	int64_t started_ms;   /* io_now_ms() at session_start */
};

/* Loads conf_path (NULL: conf_default_path()), starts logging as progname,
 * finds the peer, drops privileges. Returns 0, or -1 after logging why. */
int session_start(struct session *s, const char *progname, const char *conf_path);

/* Drops to conf->run_as if running as root; refuses to go on as root.
 * Returns 0 or -1 (logged). */
int session_drop_privileges(const struct conf *conf);

/* Sets io's deadline (io_set_deadline) from the session's start: before
 * login the earlier of login_deadline and session_deadline, after login
 * session_deadline (0 in the configuration: none). A client that trickles
 * input then meets IO_TIMEOUT with io_deadline_passed() true. */
void session_set_deadline(const struct session *s, struct io *io, int logged_in);

/* Sleeps ms milliseconds (failed-auth delays). */
void session_sleep_ms(unsigned ms);

#endif
