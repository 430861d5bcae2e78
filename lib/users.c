/*
 * users.c — passwd-file lookups, crypt(3) verification, aliases.
 *
 * Timing: an unknown user costs one crypt() at the setting (scheme and
 * cost) most hashes of the file share, so a client cannot tell unknown
 * users from wrong passwords by the time the answer takes; only users
 * whose hash is unusual for the file stand out.
 */
#include "users.h"

#include "bounds.h"
#include "fileline.h"
#include "users-cache.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALIAS_DEPTH_MAX 8

/* Read once per session, checked for changes at each lookup. */
static struct users_cache alias_cache, login_cache;

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
	/* One mailbox per user however the login is spelt: smtp-session
	 * lower-cases local recipients, so logins are lower-cased too (as
	 * Dovecot's %Lu). The users file is matched case-insensitively. */
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* Copies the password field of a users-file line (after "login:"). */
static void
users_copy_field(const char *pw, char *hash, size_t size)
{
	if (hash)
		snprintf(hash, size, "%.*s", (int)strcspn(pw, ":"), pw);
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

/* The part of a crypt(3) hash that fixes what checking it costs: "$id$"
 * plus the cost field where the scheme has one ("$y$j9T$", "$2b$12$",
 * "$6$rounds=9000$"); "des" for a 13-character DES hash. Returns the
 * length written to key, 0 if hash is no crypt hash (locked, {PLAIN},
 * unsupported) or the key does not fit. */
static size_t
users_setting_key(const char *hash, char *key, size_t size)
{
	size_t len = strlen(hash);
	if (len == 0 || len >= CRYPT_OUTPUT_SIZE)
		return 0;
	if (hash[0] != '$') {
		if (len != 13 || strspn(hash, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz") != 13)
			return 0;
		hash = "des";
		len = 3;
	} else {
		const char *id = hash + 1, *field = strchr(id, '$');
		if (!field++)
			return 0;
		size_t id_len = (size_t)(field - 1 - id);
		/* Schemes whose second field is the cost: yescrypt, gost-yescrypt,
		 * bcrypt; SHA-crypt when it names its rounds. */
		int has_cost = (id_len == 1 && *id == 'y') || (id_len == 2 && !strncmp(id, "gy", 2)) ||
		    (id_len == 2 && *id == '2') ||
		    (id_len == 1 && (*id == '5' || *id == '6') && !strncmp(field, "rounds=", 7));
		if (has_cost && (field = strchr(field, '$')) != NULL)
			field++;
		else if (has_cost)
			return 0;
		len = (size_t)(field - hash);
	}
	if (len >= size)
		return 0;
	memcpy(key, hash, len);
	key[len] = '\0';
	return len;
}

/* Counts of the hash settings seen in a users file, each with the first
 * hash that has it: the unknown user is checked against the most common. */
struct users_settings {
	size_t n;
	struct {
		char key[32];
		char sample[CRYPT_OUTPUT_SIZE];
		unsigned long count;
	} s[USERS_SETTINGS_MAX];
};

static void
users_settings_add(struct users_settings *set, const char *field)
{
	int plain;
	char key[sizeof set->s[0].key];
	const char *hash = users_crypt_hash(field, &plain);
	/* users_verify checks these against the dummy hash: they cost that. */
	if (!hash || plain || hash[0] == '\0')
		hash = dummy_hash;
	if (users_setting_key(hash, key, sizeof key) == 0)
		return;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->s[i].key, key) == 0) {
			set->s[i].count++;
			return;
		}
	if (set->n == USERS_SETTINGS_MAX)
		return;
	snprintf(set->s[set->n].key, sizeof set->s[0].key, "%s", key);
	snprintf(set->s[set->n].sample, sizeof set->s[0].sample, "%s", hash);
	set->s[set->n++].count = 1;
}

/* The sample hash of the most common setting (the first seen of equals),
 * or NULL when the file holds no crypt hash. */
static const char *
users_settings_common(const struct users_settings *set)
{
	size_t best = 0;
	for (size_t i = 1; i < set->n; i++)
		if (set->s[i].count > set->s[best].count)
			best = i;
	return set->n ? set->s[best].sample : NULL;
}

/* Finds login in the users file; copies its password field into hash.
 * The whole file is read either way, and when login is absent hash gets
 * a hash of the setting most users' hashes share, so that the caller
 * spends what a typical user costs on an unknown user, whatever the
 * order of the lines. Returns 1 found, 0 not, -1 error. */
static int
users_find(const struct conf *conf, const char *login, char *hash, size_t size)
{
	/* Only existence is asked of the copy: it holds no hashes. */
	FILE *f = hash ? fopen(conf->users, "re") : users_cache_fopen(&login_cache, conf->users);
	if (!f)
		return -1;
	char line[USERS_LINE_MAX];
	size_t login_len = strlen(login);
	int found = 0;
	struct users_settings set = { .n = 0 };
	if (hash && size)
		hash[0] = '\0';
	enum fileline_status st;
	while ((st = fileline_read(f, line, sizeof line, NULL)) != FILELINE_EOF &&
	    st != FILELINE_ERROR) {
		if (st != FILELINE_OK) /* too long or NUL: no user of ours */
			continue;
		line[strcspn(line, "\r")] = '\0';
		char *colon = strchr(line, ':');
		if (line[0] == '#' || !colon)
			continue;
		colon[1 + strcspn(colon + 1, ":")] = '\0';
		/* Every line is counted, found or not, so that the work per
		 * line does not tell where (or whether) the user was found. */
		if (hash)
			users_settings_add(&set, colon + 1);
		if (!found && (size_t)(colon - line) == login_len &&
		    strncasecmp(line, login, login_len) == 0) {
			users_copy_field(colon + 1, hash, size);
			found = 1;
		}
	}
	fclose(f);
	const char *common = users_settings_common(&set);
	if (!found && hash && common)
		users_copy_field(common, hash, size);
	explicit_bzero(line, sizeof line);
	explicit_bzero(&set, sizeof set);
	return st == FILELINE_ERROR ? -1 : found;
}

FILE *
users_logins_fopen(const struct conf *conf, int *copy_r)
{
	users_cache_refresh(&login_cache, conf->users, users_cache_load_logins);
	*copy_r = login_cache.valid;
	return users_cache_fopen(&login_cache, conf->users);
}

int
users_exists(const struct conf *conf, const char *addr)
{
	users_cache_refresh(&login_cache, conf->users, users_cache_load_logins);
	return users_find(conf, addr, NULL, 0);
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

/* crypt(3) of password against hash; 1 if it matches. */
static int
users_crypt_match(const char *password, const char *hash)
{
	struct crypt_data data;
	memset(&data, 0, sizeof data);
	const char *out = crypt_r(password, hash, &data);
	int good = out && out[0] != '*' && equal_constant_time(out, hash);
	explicit_bzero(&data, sizeof data);
	return good;
}

int
users_verify(const struct conf *conf, const char *login, const char *password)
{
	char name[ADDR_PATH_MAX + 1], field[USERS_LINE_MAX];
	if (users_canonical(conf, login, name, sizeof name) < 0)
		name[0] = '\0';
	int found = users_find(conf, name[0] ? name : "\n", field, sizeof field);
	if (found < 0)
		return -1;
	int plain = 0;
	const char *hash = users_crypt_hash(field, &plain);
	/* An unknown user is checked against another user's hash (the
	 * file's most common scheme and cost) and always fails: no timing
	 * difference (issue 2, issue 11). */
	if (!hash || (!plain && hash[0] == '\0') || (plain && !found)) {
		hash = dummy_hash;
		plain = 0;
	}
	if (plain) {
		/* {PLAIN} costs no crypt(); spend one anyway. */
		(void)users_crypt_match(password, dummy_hash);
		return found && equal_constant_time(hash, password);
	}
	int good = users_crypt_match(password, hash);
	return found && good;
}

/* Splits "a, b c" into targets appended to *list; a target without '@'
 * is a local user of the first local domain. */
static int
alias_add_targets(const struct conf *conf, char *value, char ***list, size_t *n)
{
	char *save = NULL, full[ADDR_PATH_MAX + 1];
	for (char *t = strtok_r(value, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
		if (*n >= USERS_ALIAS_TARGETS_MAX || users_canonical(conf, t, full, sizeof full) < 0) {
			errno = E2BIG;
			return -1;
		}
		char **grown = realloc(*list, (*n + 1) * sizeof **list);
		if (!grown)
			return -1;
		*list = grown;
		if (!(grown[*n] = strdup(full)))
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
	FILE *f = users_cache_fopen(&alias_cache, conf->aliases);
	if (!f)
		return -1;
	char line[USERS_LINE_MAX], key_full[ADDR_PATH_MAX + 1];
	int rc = 0;
	enum fileline_status st;
	while ((st = fileline_read(f, line, sizeof line, NULL)) != FILELINE_EOF) {
		if (st == FILELINE_ERROR) {
			rc = -1;
			break;
		}
		if (st != FILELINE_OK) /* too long or NUL: skipped whole */
			continue;
		line[strcspn(line, "#\r")] = '\0';
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *key = line;
		while (isspace((unsigned char)*key))
			key++;
		key[strcspn(key, " \t")] = '\0';
		if (users_canonical(conf, key, key_full, sizeof key_full) < 0 ||
		    strcasecmp(key_full, addr) != 0)
			continue;
		if (alias_add_targets(conf, colon + 1, targets_r, n_r) < 0) {
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
list_append(char ***list, size_t *n, const char *s)
{
	if (list_contains(*list, *n, s))
		return 0;
	if (*n >= USERS_ALIAS_TARGETS_MAX) {
		errno = E2BIG;
		return -1;
	}
	char **grown = realloc(*list, (*n + 1) * sizeof **list);
	if (!grown)
		return -1;
	*list = grown;
	if (!(grown[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

/* The chain of aliases being expanded, to break loops. */
struct alias_path {
	const char *addr[ALIAS_DEPTH_MAX + 1];
	int depth;
};

static int alias_expand(const struct conf *conf, struct alias_path *path, char ***out, size_t *n);

/* One direct target t of path's last alias: itself (a user's own
 * mailbox, "a: a, b"), an ancestor (a loop: dropped), another alias
 * (expanded), or a final address. */
static int
alias_target(const struct conf *conf, struct alias_path *path, const char *t, char ***out, size_t *n)
{
	if (strcasecmp(t, path->addr[path->depth]) == 0)
		return list_append(out, n, t);
	for (int d = 0; d < path->depth; d++)
		if (strcasecmp(t, path->addr[d]) == 0)
			return 0;
	char **sub;
	size_t ns;
	if (alias_lookup(conf, t, &sub, &ns) < 0)
		return -1;
	users_free_targets(&sub, ns);
	if (ns == 0)
		return list_append(out, n, t);
	if (path->depth == ALIAS_DEPTH_MAX) {
		errno = ELOOP;
		return -1;
	}
	path->addr[++path->depth] = t;
	int rc = alias_expand(conf, path, out, n);
	path->depth--;
	return rc;
}

static int
alias_expand(const struct conf *conf, struct alias_path *path, char ***out, size_t *n)
{
	char **direct;
	size_t nd;
	if (alias_lookup(conf, path->addr[path->depth], &direct, &nd) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < nd && rc == 0; i++)
		rc = alias_target(conf, path, direct[i], out, n);
	users_free_targets(&direct, nd);
	return rc;
}

int
users_aliases(const struct conf *conf, const char *addr, char ***targets_r, size_t *n_r)
{
	struct alias_path path = { .addr = { addr }, .depth = 0 };
	char **direct;
	size_t nd;
	*targets_r = NULL;
	*n_r = 0;
	if (conf->aliases)
		users_cache_refresh(&alias_cache, conf->aliases, users_cache_load_raw);
	if (alias_lookup(conf, addr, &direct, &nd) < 0)
		return -1;
	users_free_targets(&direct, nd);
	if (nd == 0)
		return 0;
	int rc = alias_expand(conf, &path, targets_r, n_r);
	if (rc == 0 && *n_r == 0) {
		/* Every target led back into the loop: nowhere to deliver. */
		errno = ELOOP;
		rc = -1;
	}
	if (rc < 0) {
		int saved = errno;
		users_free_targets(targets_r, *n_r);
		*n_r = 0;
		errno = saved;
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
