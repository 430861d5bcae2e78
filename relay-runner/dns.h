/*
 * dns.h — MX and address lookups for relay-runner through libresolv
 * (res_nquery on a private res_state). libresolv ships with glibc, so no
 * extra package; its res_state lets dns_servers (with ports) replace
 * /etc/resolv.conf, and its h_errno separates NXDOMAIN from SERVFAIL,
 * which RFC 5321 §5.1 and S60 need (bounce versus defer).
 */
#ifndef RELAY_DNS_H
#define RELAY_DNS_H

#include <stddef.h>

enum dns_result {
	DNS_OK,        /* records found */
	DNS_NXDOMAIN,  /* the name does not exist: permanent */
	DNS_NODATA,    /* the name exists without records of that type */
	DNS_TEMP,      /* SERVFAIL, timeout, no server: try later */
};

struct dns_mx {
	char name[256];   /* "" for the null MX "." (RFC 7505) */
	unsigned pref;
};

struct dns_addr {
	int family;       /* AF_INET or AF_INET6 */
	unsigned char a[16];
};

struct resolver;

/* servers: NULL for /etc/resolv.conf, else "IP[:port] ..." (IPv4; at most
 * 3 as libresolv). Returns NULL with a reason in err. */
struct resolver *dns_new(const char *servers, char *err, size_t errsize);
void dns_free(struct resolver **r);

/* MX records of domain sorted by preference (stable). At most max. */
enum dns_result dns_mx(struct resolver *r, const char *domain, struct dns_mx *out,
    size_t max, size_t *n_r);

/* A then AAAA records of name, at most max in all. DNS_OK if any found;
 * DNS_TEMP if a query failed temporarily and none were found. */
enum dns_result dns_addrs(struct resolver *r, const char *name, struct dns_addr *out,
    size_t max, size_t *n_r);

/* 1 for loopback, private, link-local, unspecified or CGNAT addresses:
 * never an MX target unless relay_allow_private (S60). */
int dns_addr_private(const struct dns_addr *a);

/* "192.0.2.1" / "2001:db8::1" into out. */
void dns_addr_format(const struct dns_addr *a, char *out, size_t size);

#endif
