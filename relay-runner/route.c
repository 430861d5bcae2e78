/*
 * route.c — routes file, relay_host, relay_auth and MX resolution.
 *
 * routes: `domain host[:port]` (or `[host]:port`) lines, `#` comments;
 * the host is used as is, without MX lookup; the port defaults to
 * relay_mx_port. relay_host: `host[:port]`
 * looks up the MX of host (as Postfix's relayhost), `[host]:port` does
 * not. relay_auth: `host user password` lines; the password is the rest of
 * the line. Each file line is bounded by CONF_LINE_MAX.
 */
#include "route.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "bounds.h"
#include "fileline.h"

#define ROUTES_MAX 10000

struct route_entry {
	char *domain;
	char *target;
};

struct auth_entry {
	char *host, *user, *pass;
};

struct routes {
	const struct conf *conf;
	struct route_entry *routes;
	size_t n_routes;
	struct auth_entry *auth;
	size_t n_auth;
};

/* Splits a line into up to max fields at blanks; the last field takes the
 * rest of the line (so a password may hold spaces). Returns the count. */
static size_t
split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;
	while (n < max) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		f[n++] = p;
		if (n == max)
			break;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	if (n == max) {     /* trim the tail of the last field */
		char *e = f[n - 1] + strlen(f[n - 1]);
		while (e > f[n - 1] && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
	}
	return n;
}

/* Calls add(r, fields) for each non-comment line of path with nfields
 * fields. Returns 0 or -1 with err. */
static int
read_table(struct routes *r, const char *path, size_t nfields,
    int (*add)(struct routes *, char **), char *err, size_t errsize)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[CONF_LINE_MAX + 1];
	unsigned lineno = 0;
	int rc = 0;
	enum fileline_status st;
	while ((st = fileline_read(f, line, sizeof line, NULL)) != FILELINE_EOF) {
		lineno++;
		if (st != FILELINE_OK) {
			if (st == FILELINE_ERROR)
				snprintf(err, errsize, "%s: read error: %s", path, strerror(errno));
			else
				snprintf(err, errsize, "%s:%u: %s", path, lineno,
				    st == FILELINE_TOOLONG ? "line too long" : "NUL byte in line");
			rc = -1;
			break;
		}
		const char *first = line + strspn(line, " \t");
		if (*first == '\0' || *first == '#')
			continue;
		char *fields[3];
		if (split(line, fields, nfields) != nfields) {
			snprintf(err, errsize, "%s:%u: expected %zu fields", path, lineno, nfields);
			rc = -1;
			break;
		}
		if (add(r, fields) < 0) {
			snprintf(err, errsize, "%s:%u: %s", path, lineno,
			    errno == E2BIG ? "too many entries" : "out of memory");
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int
add_route(struct routes *r, char **f)
{
	if (r->n_routes >= ROUTES_MAX) {
		errno = E2BIG;
		return -1;
	}
	struct route_entry *n = realloc(r->routes, (r->n_routes + 1) * sizeof *n);
	if (!n)
		return -1;
	r->routes = n;
	n[r->n_routes].domain = strdup(f[0]);
	n[r->n_routes].target = strdup(f[1]);
	r->n_routes++;
	return n[r->n_routes - 1].domain && n[r->n_routes - 1].target ? 0 : -1;
}

static int
add_auth(struct routes *r, char **f)
{
	if (r->n_auth >= ROUTES_MAX) {
		errno = E2BIG;
		return -1;
	}
	struct auth_entry *n = realloc(r->auth, (r->n_auth + 1) * sizeof *n);
	if (!n)
		return -1;
	r->auth = n;
	n[r->n_auth] = (struct auth_entry){ strdup(f[0]), strdup(f[1]), strdup(f[2]) };
	r->n_auth++;
	return n[r->n_auth - 1].host && n[r->n_auth - 1].user && n[r->n_auth - 1].pass ? 0 : -1;
}

struct routes *
routes_load(const struct conf *conf, char *err, size_t errsize)
{
	struct routes *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	r->conf = conf;
	if ((conf->routes && read_table(r, conf->routes, 2, add_route, err, errsize) < 0) ||
	    (conf->relay_auth && read_table(r, conf->relay_auth, 3, add_auth, err, errsize) < 0)) {
		routes_free(&r);
		return NULL;
	}
	return r;
}

void
routes_free(struct routes **rp)
{
	struct routes *r = *rp;
	if (!r)
		return;
	for (size_t i = 0; i < r->n_routes; i++) {
		free(r->routes[i].domain);
		free(r->routes[i].target);
	}
	for (size_t i = 0; i < r->n_auth; i++) {
		explicit_bzero(r->auth[i].pass, strlen(r->auth[i].pass));
		free(r->auth[i].host);
		free(r->auth[i].user);
		free(r->auth[i].pass);
	}
	free(r->routes);
	free(r->auth);
	free(r);
	*rp = NULL;
}

/* "host", "host:port", "[host]", "[host]:port", "[v6addr]:port". */
static int
parse_target(const char *s, char *host, size_t size, unsigned *port, unsigned dflt,
    int *bracketed)
{
	const char *end, *colon;
	*bracketed = s[0] == '[';
	if (*bracketed) {
		end = strchr(s, ']');
		if (!end)
			return -1;
		s++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			return -1;
	} else {
		colon = strrchr(s, ':');
		end = colon ? colon : s + strlen(s);
	}
	size_t len = (size_t)(end - s);
	if (len == 0 || len >= size)
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	*port = dflt;
	if (colon) {
		char *e;
		unsigned long p = strtoul(colon + 1, &e, 10);
		if (*e || p == 0 || p > 65535)
			return -1;
		*port = (unsigned)p;
	}
	return 0;
}

static const struct auth_entry *
auth_for(const struct routes *r, const char *host, const char *spec)
{
	for (size_t i = 0; i < r->n_auth; i++)
		if (!strcasecmp(r->auth[i].host, host) || !strcasecmp(r->auth[i].host, spec))
			return &r->auth[i];
	return NULL;
}

int
route_dest(const struct routes *r, const char *domain, struct route_dest *d,
    char *err, size_t errsize)
{
	const struct conf *conf = r->conf;
	int bracketed;
	memset(d, 0, sizeof *d);
	d->tls = TLS_POLICY_MAY;
	for (size_t i = 0; i < r->n_routes; i++) {
		if (strcasecmp(r->routes[i].domain, domain) != 0)
			continue;
		if (parse_target(r->routes[i].target, d->host, sizeof d->host, &d->port,
		    (unsigned)conf->relay_mx_port, &bracketed) < 0) {
			snprintf(err, errsize, "routes: bad target '%s'", r->routes[i].target);
			return -1;
		}
		d->configured = 1;
		snprintf(d->key, sizeof d->key, "route %s:%u", d->host, d->port);
		return 0;
	}
	if (conf->relay_host && *conf->relay_host) {
		if (parse_target(conf->relay_host, d->host, sizeof d->host, &d->port, 25,
		    &bracketed) < 0) {
			snprintf(err, errsize, "relay_host: bad value '%s'", conf->relay_host);
			return -1;
		}
		const char *pol = conf->relay_host_tls ? conf->relay_host_tls : "verify";
		if (!strcmp(pol, "verify"))
			d->tls = TLS_POLICY_VERIFY;
		else if (!strcmp(pol, "encrypt"))
			d->tls = TLS_POLICY_ENCRYPT;
		else if (!strcmp(pol, "may"))
			d->tls = TLS_POLICY_MAY;
		else {
			snprintf(err, errsize, "relay_host_tls: '%s' is not verify, encrypt or may", pol);
			return -1;
		}
		d->mx = !bracketed;
		d->configured = 1;
		d->ca_file = conf->relay_tls_ca;
		const struct auth_entry *a = auth_for(r, d->host, conf->relay_host);
		if (a) {
			d->auth_user = a->user;
			d->auth_pass = a->pass;
		}
		snprintf(d->key, sizeof d->key, "relay %s", conf->relay_host);
		return 0;
	}
	snprintf(d->host, sizeof d->host, "%s", domain);
	d->port = (unsigned)conf->relay_mx_port;
	d->mx = 1;
	snprintf(d->key, sizeof d->key, "mx %s", domain);
	for (char *p = d->key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

static int
literal(const char *host, struct dns_addr *a)
{
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, host, a->a) == 1) {
		a->family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, host, a->a) == 1) {
		a->family = AF_INET6;
		return 1;
	}
	return 0;
}

/* /etc/hosts and the system resolver, for configured names only (routes,
 * relay_host) that our DNS servers do not know, such as "localhost". */
static size_t
system_addrs(const char *host, struct dns_addr *out, size_t max)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	size_t n = 0;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			out[n].family = AF_INET;
			memcpy(out[n].a, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
			n++;
		} else if (ai->ai_family == AF_INET6) {
			out[n].family = AF_INET6;
			memcpy(out[n].a, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
			n++;
		}
	}
	freeaddrinfo(res);
	return n;
}

static int
same_host(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

struct collect {
	struct route_candidate *out;
	size_t max, n;
	int temp, private_only, nx;
};

/* Adds the addresses of one host. */
static void
add_host(struct resolver *res, const struct route_dest *d, int allow_private,
    const char *host, struct collect *c)
{
	struct dns_addr addrs[RELAY_ADDRS_PER_HOST];
	size_t n = 0;
	if (literal(host, &addrs[0])) {
		n = 1;
	} else {
		enum dns_result r = dns_addrs(res, host, addrs, RELAY_ADDRS_PER_HOST, &n);
		if (r == DNS_TEMP)
			c->temp = 1;
		if (r == DNS_NXDOMAIN)
			c->nx = 1;
		if (n == 0 && d->configured && r != DNS_TEMP)
			n = system_addrs(host, addrs, RELAY_ADDRS_PER_HOST);
	}
	for (size_t i = 0; i < n && c->n < c->max; i++) {
		if (!allow_private && dns_addr_private(&addrs[i])) {
			c->private_only = 1;
			continue;
		}
		struct route_candidate *rc = &c->out[c->n++];
		snprintf(rc->host, sizeof rc->host, "%s", host);
		rc->addr = addrs[i];
		rc->port = d->port;
	}
}

static enum route_result
resolve_mx(const struct routes *r, struct resolver *res, const struct route_dest *d,
    struct collect *c, char *diag, size_t diagsize)
{
	struct dns_mx mx[RELAY_MX_MAX];
	size_t n = 0;
	int allow_private = d->configured || r->conf->relay_allow_private;
	enum dns_result dr = dns_mx(res, d->host, mx, RELAY_MX_MAX, &n);
	if (dr == DNS_TEMP) {
		snprintf(diag, diagsize, "4.4.3 Host or domain name not found. Name service error "
		    "for name=%s type=MX: Host not found, try again", d->host);
		return ROUTE_TEMP;
	}
	/* A configured relay_host that DNS does not know (say "localhost") is
	 * looked up as a host; never a reason to bounce mail. */
	if (dr == DNS_NXDOMAIN && !d->configured) {
		snprintf(diag, diagsize, "5.1.2 Host or domain name not found. Name service error "
		    "for name=%s type=MX: Host not found", d->host);
		return ROUTE_PERM;
	}
	if (dr == DNS_NODATA || dr == DNS_NXDOMAIN) {   /* implicit MX: the domain itself */
		snprintf(mx[0].name, sizeof mx[0].name, "%s", d->host);
		mx[0].pref = 0;
		n = 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (mx[i].name[0] == '\0' || !strcmp(mx[i].name, ".")) {
			snprintf(diag, diagsize, "5.1.10 Domain %s does not accept mail (null MX)",
			    d->host);
			return ROUTE_PERM;
		}
	}
	/* RFC 5321 §5.1: if we are one of the MX hosts, only better ones count. */
	for (size_t i = 0; i < n; i++) {
		if (same_host(mx[i].name, r->conf->hostname)) {
			unsigned pref = mx[i].pref;
			size_t keep = 0;
			while (keep < n && mx[keep].pref < pref)
				keep++;
			if (keep == 0) {
				snprintf(diag, diagsize, "5.4.6 mail for %s loops back to myself", d->host);
				return ROUTE_PERM;
			}
			n = keep;
			break;
		}
	}
	for (size_t i = 0; i < n && c->n < c->max; i++)
		add_host(res, d, allow_private, mx[i].name, c);
	if (c->n > 0)
		return ROUTE_OK;
	if (dr == DNS_NODATA && c->nx && !c->temp && !d->configured) {
		snprintf(diag, diagsize, "5.1.2 Host or domain name not found: %s", d->host);
		return ROUTE_PERM;
	}
	if (c->private_only)
		snprintf(diag, diagsize, "4.4.4 MX hosts of %s have only loopback or private "
		    "addresses (relay_allow_private is off)", d->host);
	else
		snprintf(diag, diagsize, "4.4.3 no address found for the mail hosts of %s", d->host);
	return ROUTE_TEMP;
}

enum route_result
route_resolve(const struct routes *r, struct resolver *res, const struct route_dest *d,
    struct route_candidate *out, size_t max, size_t *n_r, char *diag, size_t diagsize)
{
	struct collect c = { out, max, 0, 0, 0, 0 };
	enum route_result rr = ROUTE_OK;
	*n_r = 0;
	if (d->mx) {
		rr = resolve_mx(r, res, d, &c, diag, diagsize);
	} else {
		add_host(res, d, 1, d->host, &c);
		if (c.n == 0) {
			snprintf(diag, diagsize, "4.4.3 no address found for %s%s", d->host,
			    c.temp ? " (name service error)" : "");
			rr = ROUTE_TEMP;
		}
	}
	*n_r = c.n;
	return rr;
}
