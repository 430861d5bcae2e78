/*
 * route.h — where mail for a domain goes: a `routes` entry, else
 * relay_host, else the domain's MX records (RFC 5321 §5.1), turned into an
 * ordered list of addresses to try.
 */
#ifndef RELAY_ROUTE_H
#define RELAY_ROUTE_H

#include <stddef.h>

#include "conf.h"
#include "dns.h"
#include "smtpc.h"

struct routes;

struct route_dest {
	char key[300];        /* recipients with equal keys share a connection */
	char host[256];       /* route or relay host; the domain for MX */
	unsigned port;
	int mx;               /* look up MX records of host */
	int configured;       /* from routes/relay_host: private addresses allowed */
	enum tls_policy tls;
	const char *ca_file;
	const char *auth_user, *auth_pass;
};

struct route_candidate {
	char host[256];
	struct dns_addr addr;
	unsigned port;
};

enum route_result { ROUTE_OK, ROUTE_TEMP, ROUTE_PERM };

/* Reads the routes and relay_auth files named in conf (each may be NULL).
 * Returns NULL with a reason in err (unreadable or malformed file). */
struct routes *routes_load(const struct conf *conf, char *err, size_t errsize);
void routes_free(struct routes **r);

/* The destination of a recipient domain. Returns 0, or -1 with err set
 * (a malformed relay_host or relay_host_tls). */
int route_dest(const struct routes *r, const char *domain, struct route_dest *d,
    char *err, size_t errsize);

/* The addresses to try for d, best first. ROUTE_PERM and ROUTE_TEMP come
 * with an enhanced status code first in diag ("5.1.10 ...", "4.4.3 ..."). */
enum route_result route_resolve(const struct routes *r, struct resolver *res,
    const struct route_dest *d, struct route_candidate *out, size_t max, size_t *n_r,
    char *diag, size_t diagsize);

#endif
