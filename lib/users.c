/*
 * users.c — passwd-file lookups, crypt(3) verification, aliases.
 *
 * Timing: an unknown user costs one crypt() of a dummy hash of the default
 * scheme, so a client cannot tell unknown users from wrong passwords by the
 * time the answer takes.
 */
#include "users.h"

#include "bounds.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USERS_LINE_MAX 4096
#define ALIAS_DEPTH_MAX 8

/* A $6$ hash of a random string: verifying against it always fails. */
static const char dummy_hash[] =
    "$6$yubinDummySalt$0Xh0w3bT0yPq2rAhCzqmjR0S.jMmw6F2uDkGzRDRw1mO2lYh1zvoaD2e1XkR4dJY4yM5cJ3p5c1x0Vd7lFhQ1";

int
users_canonical(const struct conf *conf, const char *login, char *out, size_t size)
{
	const char *at = strrchr(login, '@');
	int n;
	if (at)
		n = snprintf(out, size, "%s", login);
	else
		n = snprintf(out, size, "%s@%s", login,
		    conf->n_local_domains ? conf->local_domains[0] : "localhost");
	if (n < 0 || (size_t)n >= size)
		return -1;
	/* Domains are case-insensitive; local parts are kept as given. */
	for (char *p = strrchr(out, '@'); p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* Finds login in the users file; copies its password field into hash.
 * Returns 1 found, 0 not, -1 error. */
static int
users_find(const struct conf *conf, const char *login, char *hash, size_t size)
{
	FILE *f = fopen(conf->users, "r");
	if (!f)
		return -1;
	char line[USERS_LINE_MAX];
	size_t login_len = strlen(login);
	int found = 0;
	while (!found && fgets(line, sizeof line, f)) {
		if (!strchr(line, '\n') && !feof(f)) {
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || strncasecmp(line, login, login_len) != 0 ||
		    line[login_len] != ':')
			continue;
		char *pw = line + login_len + 1;
		pw[strcspn(pw, ":")] = '\0';
		if (hash)
			snprintf(hash, size, "%s", pw);
		found = 1;
	}
	int err = ferror(f);
	fclose(f);
	return err ? -1 : found;
}

int
users_exists(const struct conf *conf, const char *addr)
{
	return users_find(conf, addr, NULL, 0);
}

/* Strips a {SCHEME} prefix that crypt(3) understands; NULL for others. */
static const char *
users_crypt_hash(const char *field, int *plain_r)
{
	static const char *crypt_schemes[] = {
		"{SHA512-CRYPT}", "{SHA256-CRYPT}", "{BLF-CRYPT}", "{CRYPT}",
		"{MD5-CRYPT}", "{DES-CRYPT}",
	};
	*plain_r = 0;
	if (field[0] != '{')
		return field;
	for (size_t i = 0; i < sizeof crypt_schemes / sizeof crypt_schemes[0]; i++) {
		size_t n = strlen(crypt_schemes[i]);
		if (strncasecmp(field, crypt_schemes[i], n) == 0)
			return field + n;
	}
	if (strncasecmp(field, "{PLAIN}", 7) == 0) {
		*plain_r = 1;
		return field + 7;
	}
	return NULL;
}

static int
equal_constant_time(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;
	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int
users_verify(const struct conf *conf, const char *login, const char *password)
{
	char name[ADDR_PATH_MAX + 1], field[USERS_LINE_MAX];
	if (users_canonical(conf, login, name, sizeof name) < 0)
		name[0] = '\0';
	int found = name[0] ? users_find(conf, name, field, sizeof field) : 0;
	if (found < 0)
		return -1;
	int plain = 0;
	const char *hash = found ? users_crypt_hash(field, &plain) : NULL;
	if (!hash || (!plain && hash[0] == '\0')) {
		hash = dummy_hash;
		found = 0;
	}
	if (plain)
		return found && equal_constant_time(hash, password);
	struct crypt_data data;
	memset(&data, 0, sizeof data);
	const char *out = crypt_r(password, hash, &data);
	int good = out && out[0] != '*' && equal_constant_time(out, hash);
	explicit_bzero(&data, sizeof data);
	return found && good;
}

/* Splits "a, b c" into targets appended to *list. */
static int
alias_add_targets(char *value, char ***list, size_t *n)
{
	char *save = NULL;
	for (char *t = strtok_r(value, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
		if (*n >= USERS_ALIAS_TARGETS_MAX)
			return -1;
		char **grown = realloc(*list, (*n + 1) * sizeof **list);
		if (!grown)
			return -1;
		*list = grown;
		if (!(grown[*n] = strdup(t)))
			return -1;
		(*n)++;
	}
	return 0;
}

/* Direct targets of one alias. Returns 0 (n_r = 0 if none) or -1. */
static int
alias_lookup(const struct conf *conf, const char *addr, char ***targets_r, size_t *n_r)
{
	*targets_r = NULL;
	*n_r = 0;
	if (!conf->aliases)
		return 0;
	FILE *f = fopen(conf->aliases, "r");
	if (!f)
		return -1;
	char line[USERS_LINE_MAX];
	int rc = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "#\r\n")] = '\0';
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *key = line;
		while (isspace((unsigned char)*key))
			key++;
		key[strcspn(key, " \t")] = '\0';
		if (strcasecmp(key, addr) != 0)
			continue;
		if (alias_add_targets(colon + 1, targets_r, n_r) < 0) {
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int
list_contains(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(list[i], s) == 0)
			return 1;
	return 0;
}

static int
alias_expand(const struct conf *conf, const char *addr, int depth, char ***out, size_t *n)
{
	char **direct;
	size_t nd;
	if (alias_lookup(conf, addr, &direct, &nd) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < nd && rc == 0; i++) {
		char **sub;
		size_t ns;
		if (depth < ALIAS_DEPTH_MAX && alias_lookup(conf, direct[i], &sub, &ns) == 0 && ns > 0) {
			users_free_targets(&sub, ns);
			rc = alias_expand(conf, direct[i], depth + 1, out, n);
			continue;
		}
		if (list_contains(*out, *n, direct[i]))
			continue;
		if (*n >= USERS_ALIAS_TARGETS_MAX) {
			rc = -1;
			break;
		}
		char **grown = realloc(*out, (*n + 1) * sizeof **out);
		if (!grown || !(grown[*n] = strdup(direct[i]))) {
			if (grown)
				*out = grown;
			rc = -1;
			break;
		}
		*out = grown;
		(*n)++;
	}
	users_free_targets(&direct, nd);
	return rc;
}

int
users_aliases(const struct conf *conf, const char *addr, char ***targets_r, size_t *n_r)
{
	*targets_r = NULL;
	*n_r = 0;
	if (alias_expand(conf, addr, 0, targets_r, n_r) < 0) {
		users_free_targets(targets_r, *n_r);
		*n_r = 0;
		return -1;
	}
	return 0;
}

void
users_free_targets(char ***targets, size_t n)
{
	if (!*targets)
		return;
	for (size_t i = 0; i < n; i++)
		free((*targets)[i]);
	free(*targets);
	*targets = NULL;
}

int
users_may_send_as(const struct conf *conf, const char *user, const char *from)
{
	if (strcasecmp(user, from) == 0)
		return 1;
	char **targets;
	size_t n;
	if (users_aliases(conf, from, &targets, &n) < 0)
		return -1;
	int ok = list_contains(targets, n, user);
	users_free_targets(&targets, n);
	return ok;
}
