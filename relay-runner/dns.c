/*
 * dns.c — MX, A and AAAA queries with libresolv's reentrant API.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A UDP answer is at most 512 bytes without EDNS0; libresolv retries over
 * TCP when truncated, and a TCP answer is at most 64 KiB. */
#define DNS_ANSWER_MAX 65536

struct resolver {
	struct __res_state rs;
	unsigned char answer[DNS_ANSWER_MAX];
};

static int
server_add(struct resolver *r, const char *spec, char *err, size_t errsize)
{
	char host[64];
	unsigned port = 53;
	const char *colon = strchr(spec, ':');
	size_t hlen = colon ? (size_t)(colon - spec) : strlen(spec);
	if (hlen == 0 || hlen >= sizeof host) {
		snprintf(err, errsize, "dns_servers: bad entry '%s'", spec);
		return -1;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (colon) {
		char *end;
		unsigned long p = strtoul(colon + 1, &end, 10);
		if (*end || p == 0 || p > 65535) {
			snprintf(err, errsize, "dns_servers: bad port in '%s'", spec);
			return -1;
		}
		port = (unsigned)p;
	}
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		snprintf(err, errsize, "dns_servers: '%s' is not an IPv4 address", host);
		return -1;
	}
	if (r->rs.nscount >= MAXNS) {
		snprintf(err, errsize, "dns_servers: at most %d servers", MAXNS);
		return -1;
	}
	r->rs.nsaddr_list[r->rs.nscount++] = sin;
	return 0;
}

struct resolver *
dns_new(const char *servers, char *err, size_t errsize)
{
	struct resolver *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	if (res_ninit(&r->rs) != 0) {
		snprintf(err, errsize, "res_ninit failed");
		free(r);
		return NULL;
	}
	/* Names handed to us are fully qualified: no search list. */
	r->rs.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	r->rs.retrans = 2;
	r->rs.retry = 2;
	if (servers && *servers) {
		char buf[512];
		snprintf(buf, sizeof buf, "%s", servers);
		r->rs.nscount = 0;
		for (char *save = NULL, *tok = strtok_r(buf, " \t,", &save); tok;
		     tok = strtok_r(NULL, " \t,", &save)) {
			if (server_add(r, tok, err, errsize) < 0) {
				dns_free(&r);
				return NULL;
			}
		}
		if (r->rs.nscount == 0) {
			snprintf(err, errsize, "dns_servers: no server");
			dns_free(&r);
			return NULL;
		}
	}
	return r;
}

void
dns_free(struct resolver **r)
{
	if (!*r)
		return;
	res_nclose(&(*r)->rs);
	free(*r);
	*r = NULL;
}

/* Runs one query; on success *msg is parsed and ready for ns_parserr. */
static enum dns_result
query(struct resolver *r, const char *name, int type, ns_msg *msg)
{
	int len = res_nquery(&r->rs, name, ns_c_in, type, r->answer, sizeof r->answer);
	if (len < 0) {
		switch (r->rs.res_h_errno) {
		case HOST_NOT_FOUND: return DNS_NXDOMAIN;
		case NO_DATA: return DNS_NODATA;
		default: return DNS_TEMP;
		}
	}
	if (ns_initparse(r->answer, len, msg) < 0)
		return DNS_TEMP;
	return DNS_OK;
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;
	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

enum dns_result
dns_mx(struct resolver *r, const char *domain, struct dns_mx *out, size_t max, size_t *n_r)
{
	ns_msg msg;
	*n_r = 0;
	enum dns_result res = query(r, domain, ns_t_mx, &msg);
	if (res != DNS_OK)
		return res;
	size_t n = 0;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < max; i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return DNS_TEMP;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
			continue;
		const unsigned char *rd = ns_rr_rdata(rr);
		out[n].pref = ns_get16(rd);
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 2, out[n].name,
		    sizeof out[n].name) < 0)
			return DNS_TEMP;
		n++;
	}
	if (n == 0)
		return DNS_NODATA;   /* e.g. only a CNAME chain */
	/* Stable order for equal preferences: qsort is not stable, so sort
	 * on (pref, position) by insertion instead. */
	for (size_t i = 1; i < n; i++) {
		struct dns_mx key = out[i];
		size_t j = i;
		while (j > 0 && mx_cmp(&out[j - 1], &key) > 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = key;
	}
	*n_r = n;
	return DNS_OK;
}

static enum dns_result
addrs_of_type(struct resolver *r, const char *name, int type, struct dns_addr *out,
    size_t max, size_t *n_r)
{
	ns_msg msg;
	enum dns_result res = query(r, name, type, &msg);
	if (res != DNS_OK)
		return res;
	size_t want = type == ns_t_a ? 4 : 16;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && *n_r < max; i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return DNS_TEMP;
		if ((int)ns_rr_type(rr) != type || ns_rr_rdlen(rr) != want)
			continue;
		out[*n_r].family = type == ns_t_a ? AF_INET : AF_INET6;
		memcpy(out[*n_r].a, ns_rr_rdata(rr), want);
		(*n_r)++;
	}
	return DNS_OK;
}

enum dns_result
dns_addrs(struct resolver *r, const char *name, struct dns_addr *out, size_t max, size_t *n_r)
{
	*n_r = 0;
	enum dns_result a = addrs_of_type(r, name, ns_t_a, out, max, n_r);
	if (a == DNS_NXDOMAIN)
		return DNS_NXDOMAIN;
	enum dns_result aaaa = addrs_of_type(r, name, ns_t_aaaa, out, max, n_r);
	if (*n_r > 0)
		return DNS_OK;
	if (a == DNS_TEMP || aaaa == DNS_TEMP)
		return DNS_TEMP;
	return aaaa == DNS_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA;
}

static int
v4_private(const unsigned char *a)
{
	return a[0] == 0 || a[0] == 10 || a[0] == 127 ||
	    (a[0] == 100 && (a[1] & 0xc0) == 64) ||
	    (a[0] == 169 && a[1] == 254) ||
	    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	    (a[0] == 192 && a[1] == 168) || a[0] >= 224;
}

int
dns_addr_private(const struct dns_addr *d)
{
	static const unsigned char v4mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
	static const unsigned char zero[15] = { 0 };
	if (d->family == AF_INET)
		return v4_private(d->a);
	if (memcmp(d->a, v4mapped, 12) == 0)
		return v4_private(d->a + 12);
	if (memcmp(d->a, zero, 15) == 0)
		return 1;                       /* :: and ::1 */
	return (d->a[0] & 0xfe) == 0xfc ||      /* fc00::/7 unique local */
	    (d->a[0] == 0xfe && (d->a[1] & 0xc0) == 0x80) || /* fe80::/10 */
	    d->a[0] == 0xff;                    /* multicast */
}

void
dns_addr_format(const struct dns_addr *a, char *out, size_t size)
{
	if (!inet_ntop(a->family, a->a, out, (socklen_t)size))
		snprintf(out, size, "?");
}
