/*
 * session.c — the common start of every session program.
 */
#include "session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"

/* A world-writable config or users file lets any local user own the server. */
static int
file_is_safe(const char *path, const char *what)
{
	struct stat st;
	if (!path)
		return 1;
	if (stat(path, &st) < 0)
		return 1;  /* absence is reported where the file is used */
	if (st.st_mode & S_IWOTH) {
		log_err("refusing to run: %s %s is world-writable", what, path);
		return 0;
	}
	return 1;
}

static void
peer_from_sockaddr(struct session *s, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		inet_ntop(AF_INET, &in->sin_addr, s->peer, sizeof s->peer);
		s->peer_is_local = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			struct in_addr v4;
			memcpy(&v4, &in6->sin6_addr.s6_addr[12], 4);
			inet_ntop(AF_INET, &v4, s->peer, sizeof s->peer);
			s->peer_is_local = (ntohl(v4.s_addr) >> 24) == 127;
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, s->peer, sizeof s->peer);
			s->peer_is_local = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		}
	} else {
		snprintf(s->peer, sizeof s->peer, "local");
		s->peer_is_local = 1;
	}
}

/* Only characters an address can hold reach the log and headers. */
static int
peer_text_ok(const char *v)
{
	return v && *v && strlen(v) < 64 && strspn(v, "0123456789abcdefABCDEF.:") == strlen(v);
}

static void
session_find_peer(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	memset(&ss, 0, sizeof ss);
	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0) {
		peer_from_sockaddr(s, &ss);
		return;
	}
	static const char *vars[] = { "REMOTE_ADDR", "TCPREMOTEIP", "REMOTE_HOST" };
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);
		if (peer_text_ok(v)) {
			snprintf(s->peer, sizeof s->peer, "%s", v);
			s->peer_is_local = strncmp(v, "127.", 4) == 0 || strcmp(v, "::1") == 0;
			return;
		}
	}
	snprintf(s->peer, sizeof s->peer, "local");
	s->peer_is_local = 1;
}

/* run_as written "uid:gid" (decimal, both given): the ids, with no
 * NSS lookup (nsswitch.conf, nscd probes, /etc/passwd) per session.
 * Returns 1 and fills pw, or 0 when run_as is a name. */
static int
run_as_numeric(const char *run_as, struct passwd *pw)
{
	unsigned long id[2];
	const char *p = run_as;
	for (int i = 0; i < 2; i++) {
		size_t n = strspn(p, "0123456789");
		if (n == 0 || n > 9 || p[n] != (i == 0 ? ':' : '\0'))
			return 0;
		id[i] = strtoul(p, NULL, 10);
		p += n + 1;
	}
	memset(pw, 0, sizeof *pw);
	pw->pw_uid = (uid_t)id[0];
	pw->pw_gid = (gid_t)id[1];
	return 1;
}

int
session_drop_privileges(const struct conf *conf)
{
	if (geteuid() != 0)
		return 0;
	struct passwd numeric, *pw = NULL;
	if (conf->run_as && run_as_numeric(conf->run_as, &numeric)) {
		pw = &numeric;
		/* A name's primary group may be 0 by the system's choice; a
		 * number written here is refused, as root's uid is. */
		if (pw->pw_gid == 0) {
			log_err("refusing to run as root: run_as group is gid 0");
			return -1;
		}
	} else if (conf->run_as) {
		pw = getpwnam(conf->run_as);
	}
	if (!pw) {
		log_err("refusing to run as root: run_as user '%s' not found",
		    conf->run_as ? conf->run_as : "");
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_err("refusing to run as root: run_as is uid 0");
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		log_err("cannot drop privileges to %s: %s", conf->run_as, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_err("privilege drop did not stick");
		return -1;
	}
	return 0;
}

int
session_start(struct session *s, const char *progname, const char *conf_path)
{
	char err[512], prefix[96];
	memset(s, 0, sizeof *s);
	s->started_ms = io_now_ms();
	s->progname = progname;
	/* A vanished client must give EPIPE on write, not kill the process
	 * in the middle of a delivery. */
	signal(SIGPIPE, SIG_IGN);
	log_init(progname);
	session_find_peer(s);
	snprintf(prefix, sizeof prefix, "peer=%s", s->peer);
	log_set_prefix(prefix);
	conf_defaults(&s->conf);
	if (!conf_path)
		conf_path = conf_default_path();
	if (!file_is_safe(conf_path, "configuration"))
		return -1;
	if (conf_load(&s->conf, conf_path, err, sizeof err) < 0) {
		log_err("configuration: %s", err);
		return -1;
	}
	if (!file_is_safe(s->conf.users, "users file") ||
	    !file_is_safe(s->conf.aliases, "aliases file"))
		return -1;
	/* The key may be readable by root only (certbot's privkey.pem): read
	 * it before the drop. A failure here is reported again, with the
	 * client-visible answer, when TLS is asked for. */
	if (geteuid() == 0 && tls_server_preload(&s->conf, err, sizeof err) < 0)
		log_warn("TLS credentials: %s", err);
	return session_drop_privileges(&s->conf);
}

/* Seconds from the configuration as milliseconds; 0 stays 0 (none). A
 * century is as good as none and keeps the sum from overflowing. */
static int64_t
deadline_ms(uint64_t seconds)
{
	const uint64_t max = 100ULL * 366 * 86400;
	return (int64_t)(seconds > max ? max : seconds) * 1000;
}

void
session_set_deadline(const struct session *s, struct io *io, int logged_in)
{
	int64_t whole = deadline_ms(s->conf.session_deadline);
	int64_t login = deadline_ms(s->conf.login_deadline);
	int64_t after = whole;
	if (!logged_in && login > 0 && (whole == 0 || login < whole))
		after = login;
	io_set_deadline(io, after > 0 ? s->started_ms + after : 0);
}

void
session_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
