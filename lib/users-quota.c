/*
 * users-quota.c — a user's own storage quota, from its users-file line.
 *
 * Dovecot's passwd-file keeps per-user settings in the eighth field, the
 * "extra fields" (space-separated name=value), and a per-user quota is
 * its quota_rule there:
 *
 *   alice@example.org:{SHA512-CRYPT}$6$...::::::userdb_quota_rule=*:storage=2G
 *
 * so a file written for Dovecot gives the same limits here. Only the
 * default rule ("*" or "?") is read, and of it only the byte limit:
 * storage= (KiB unless a unit follows, as Dovecot) or bytes= (bytes);
 * "ignore" or 0 is no limit. messages= is accepted and not enforced
 * (yubin counts bytes only); a rule for one mailbox ("Trash:storage=+10%")
 * is ignored. Anything else in a quota rule is an error, not a guess.
 */
#include "users.h"

#include "bounds.h"
#include "fileline.h"
#include "users-cache.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "N[unit]" with Dovecot's units b, k, M, G, T (any case); unit is the
 * scale when none is given. 0, or -1 (EINVAL). */
static int
parse_limit(const char *v, size_t len, uint64_t unit, uint64_t *r)
{
	static const char units[] = "bkmgt";
	uint64_t n = 0;
	size_t i = 0;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			goto bad;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == 0 || len - i > 1)
		goto bad;
	if (i < len) {
		const char *u = strchr(units, v[i] | 0x20);
		if (!u)
			goto bad;
		unit = 1;
		for (const char *s = units; s < u; s++)
			unit *= 1024;
	}
	if (n > UINT64_MAX / unit)
		goto bad;
	*r = n * unit;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* One limit of a rule, "storage=1G", "bytes=1048576" or "messages=10".
 * Returns 1 with *bytes_r set, 0 for a limit not on bytes, -1 (EINVAL). */
static int
parse_rule_limit(const char *s, size_t len, uint64_t *bytes_r)
{
	if (len > 8 && strncmp(s, "storage=", 8) == 0)
		return parse_limit(s + 8, len - 8, 1024, bytes_r) == 0 ? 1 : -1;
	if (len > 6 && strncmp(s, "bytes=", 6) == 0)
		return parse_limit(s + 6, len - 6, 1, bytes_r) == 0 ? 1 : -1;
	uint64_t ignored;
	if (len > 9 && strncmp(s, "messages=", 9) == 0)
		return parse_limit(s + 9, len - 9, 1, &ignored) == 0 ? 0 : -1;
	errno = EINVAL;
	return -1;
}

/* A quota_rule value, "<mailbox>:<limit>[:<limit>...]" or
 * "<mailbox>:ignore". Returns 1 (a default rule with a byte limit or
 * ignore: *bytes_r, 0 for none), 0 (another mailbox's rule, or no byte
 * limit), -1 (EINVAL). */
static int
parse_rule(const char *v, size_t len, uint64_t *bytes_r)
{
	const char *colon = memchr(v, ':', len);
	if (!colon || colon == v) {
		errno = EINVAL;
		return -1;
	}
	if (!((colon - v == 1 && (v[0] == '*' || v[0] == '?'))))
		return 0;
	const char *p = colon + 1, *end = v + len;
	if (end - p == 6 && strncmp(p, "ignore", 6) == 0) {
		*bytes_r = 0;
		return 1;
	}
	int found = 0;
	while (p < end) {
		const char *q = memchr(p, ':', (size_t)(end - p));
		size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
		int r = parse_rule_limit(p, n, bytes_r);
		if (r < 0)
			return -1;
		found |= r;
		p += n + (q != NULL);
	}
	return found;
}

/* The rule among extra fields ("name=value" separated by blanks). */
static int
parse_extra(const char *extra, uint64_t *bytes_r)
{
	static const char *names[] = { "userdb_quota_rule=", "quota_rule=" };
	int r = 0;
	for (const char *p = extra; *p; ) {
		size_t n = strcspn(p, " \t");
		for (size_t i = 0; i < sizeof names / sizeof names[0] && r >= 0; i++) {
			size_t k = strlen(names[i]);
			if (n > k && strncmp(p, names[i], k) == 0) {
				int one = parse_rule(p + k, n - k, bytes_r);
				r = one != 0 ? one : r;
			}
		}
		if (r < 0)
			return -1;
		p += n;
		p += strspn(p, " \t");
	}
	return r;
}

int
users_quota(const struct conf *conf, const char *addr, uint64_t *bytes_r)
{
	int copy;
	FILE *f = users_logins_fopen(conf, &copy);
	if (!f)
		return -1;
	char line[USERS_LINE_MAX];
	size_t addr_len = strlen(addr);
	int r = 0;
	enum fileline_status st;
	while ((st = fileline_read(f, line, sizeof line, NULL)) != FILELINE_EOF &&
	    st != FILELINE_ERROR) {
		char *colon = strchr(line, ':');
		if (st != FILELINE_OK || line[0] == '#' || !colon)
			continue;
		if ((size_t)(colon - line) != addr_len || strncasecmp(line, addr, addr_len) != 0)
			continue;
		if (!copy) {
			/* The file itself: skip to the eighth field. */
			for (int i = 1; i < USERS_EXTRA_FIELD && colon; i++)
				colon = strchr(colon + 1, ':');
			if (!colon)
				break;
		}
		r = parse_extra(colon + 1, bytes_r);
		break;
	}
	int saved = errno;
	fclose(f);
	explicit_bzero(line, sizeof line);
	errno = saved;
	return st == FILELINE_ERROR ? -1 : r;
}
