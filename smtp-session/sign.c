/*
 * sign.c — the built-in DKIM signer (lib/dkim.h) on the way to the store.
 * Mail from an authenticated submitter whose From: domain has keys in
 * dkim_key_dir gets one DKIM-Signature per key, placed under our
 * Received:. It runs after smtp_submission_headers, so the signature
 * covers the Date: and Message-ID: added there, and before the message is
 * stored: the mailbox copies and the spool file hold the signed bytes,
 * which relay-runner sends unchanged. The MX service never signs.
 *
 * A key that cannot be used fails the message (451, logged with the file
 * name): sending it unsigned would go unnoticed until receivers file the
 * domain's mail as spam.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dkim.h"
#include "durable.h"
#include "log.h"
#include "path.h"
#include "smtp.h"

/* One key file of the From: domain. */
struct sign_key {
	char file[300];
	char selector[64];
};

/* A selector as the file name may carry it: letters, digits, '-', '_'
 * (RFC 6376 §3.1 allows dots too, but then DOMAIN.SELECTOR is ambiguous). */
static int
sign_selector_ok(const char *s, size_t len)
{
	if (len == 0 || len >= sizeof ((struct sign_key *)0)->selector)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

static int
sign_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sign_key *)a)->file, ((const struct sign_key *)b)->file);
}

/* The key files DOMAIN.SELECTOR.key of domain, in name order. Returns how
 * many (at most DKIM_KEYS_MAX), or -1 (errno). */
static int
sign_keys_find(const char *dir, const char *domain, struct sign_key *keys)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t dlen = strlen(domain), n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < dlen + 6 || strncasecmp(e->d_name, domain, dlen) || e->d_name[dlen] != '.' ||
		    strcmp(e->d_name + len - 4, ".key"))
			continue;
		const char *sel = e->d_name + dlen + 1;
		size_t sel_len = len - dlen - 5;
		if (!sign_selector_ok(sel, sel_len) || len >= sizeof keys[0].file)
			continue;
		if (n == DKIM_KEYS_MAX) {
			log_warn("dkim: more than %d keys for %s in %s: using %d", DKIM_KEYS_MAX,
			    domain, dir, DKIM_KEYS_MAX);
			break;
		}
		snprintf(keys[n].file, sizeof keys[n].file, "%s", e->d_name);
		memcpy(keys[n].selector, sel, sel_len);
		keys[n].selector[sel_len] = '\0';
		n++;
	}
	closedir(d);
	qsort(keys, n, sizeof keys[0], sign_key_cmp);
	return (int)n;
}

/* Reads the header block of the content file; *body_r is where the body
 * starts. 0, 1 when it is too big to sign, or -1 (errno). */
static int
sign_read_headers(struct smtp *s, struct dkim_headers *h, uint64_t *body_r)
{
	struct durable_reader r;
	const char *p;
	ssize_t n;
	size_t used;
	durable_reader_init(&r, s->msg_fd, 0, s->msg_len);
	while ((n = durable_reader_next(&r, &p)) > 0) {
		enum dkim_parse st = dkim_headers_feed(h, p, (size_t)n, &used);
		if (st == DKIM_PARSE_DONE) {
			*body_r = r.off - (uint64_t)n + used;
			return 0;
		}
		if (st == DKIM_PARSE_TOO_BIG)
			return 1;
		if (st == DKIM_PARSE_ERROR) {
			errno = ENOMEM;
			return -1;
		}
	}
	if (n < 0)
		return -1;
	dkim_headers_end(h);
	*body_r = s->msg_len;
	return 0;
}

/* The body hash, streamed from the file. 0 or -1 (errno). */
static int
sign_hash_body(struct smtp *s, uint64_t off, unsigned char *bh)
{
	struct durable_reader r;
	struct dkim_body b;
	const char *p;
	ssize_t n;
	if (dkim_body_init(&b) < 0) {
		errno = ENOMEM;
		return -1;
	}
	durable_reader_init(&r, s->msg_fd, off, s->msg_len - off);
	while ((n = durable_reader_next(&r, &p)) > 0)
		dkim_body_feed(&b, p, (size_t)n);
	dkim_body_final(&b, bh);
	return n < 0 ? -1 : 0;
}

/* One signature per key, appended to *sigs_r. 0 or -1 (errno, logged). */
static int
sign_with_keys(struct smtp *s, const char *domain, const struct sign_key *keys, int n,
    const struct dkim_headers *h, const unsigned char *bh, char **sigs_r)
{
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], err[256];
		if (path_join(path, sizeof path, s->conf->dkim_key_dir, keys[i].file, NULL) != 0) {
			log_err("dkim: key %s: path too long", keys[i].file);
			errno = EIO;
			return -1;
		}
		struct dkim_key *key = dkim_key_load(path, err, sizeof err);
		if (!key) {
			log_err("dkim: key %s: %s", path, err);
			errno = EIO;
			return -1;
		}
		char *sig = dkim_sign(key, domain, keys[i].selector, h, bh, time(NULL));
		int alg = dkim_key_alg(key);
		dkim_key_free(&key);
		if (!sig) {
			log_err("dkim: signing with %s failed: %s", path, strerror(errno));
			return -1;
		}
		size_t len = strlen(sig);
		char *grown = realloc(*sigs_r, total + len + 1);
		if (!grown) {
			free(sig);
			return -1;
		}
		memcpy(grown + total, sig, len + 1);
		total += len;
		*sigs_r = grown;
		free(sig);
		log_info("dkim-signed id=%s d=%s s=%s a=%s", s->msg_id, domain, keys[i].selector,
		    alg == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256");
	}
	return 0;
}

/* Whether domain is the envelope sender's. The sender is one the user may
 * send as (checked at MAIL), so a user of one domain hosted here cannot get
 * mail signed as another hosted domain by writing its name in From:
 * (rspamd's dkim_signing refuses the same mismatch by default). */
static int
sign_domain_is_senders(const struct smtp *s, const char *domain)
{
	const char *at = strrchr(s->sender, '@');
	return at != NULL && strcasecmp(at + 1, domain) == 0;
}

int
smtp_dkim_sign(struct smtp *s)
{
	if (!s->auth_user[0] || !s->conf->dkim_key_dir)
		return 0;
	struct dkim_headers h;
	struct sign_key keys[DKIM_KEYS_MAX];
	unsigned char bh[DKIM_HASH_LEN];
	char domain[256], *sigs = NULL;
	uint64_t body = 0;
	int rc = -1, n;
	dkim_headers_init(&h);
	int st = sign_read_headers(s, &h, &body);
	if (st != 0) {
		if (st > 0)
			log_warn("dkim: not signed id=%s: header block too big", s->msg_id);
		rc = st > 0 ? 0 : -1;
		goto out;
	}
	if (dkim_from_domain(&h, domain, sizeof domain) < 0) {
		log_info("dkim: not signed id=%s: no single From: address with a domain", s->msg_id);
		rc = 0;
		goto out;
	}
	if (!sign_domain_is_senders(s, domain)) {
		log_info("dkim: not signed id=%s: From: domain is not the envelope sender's", s->msg_id);
		rc = 0;
		goto out;
	}
	if ((n = sign_keys_find(s->conf->dkim_key_dir, domain, keys)) < 0) {
		log_err("dkim: %s: %s", s->conf->dkim_key_dir, strerror(errno));
		goto out;
	}
	if (n == 0) {
		rc = 0;     /* not a domain we sign for */
		goto out;
	}
	if (sign_hash_body(s, body, bh) < 0 || sign_with_keys(s, domain, keys, n, &h, bh, &sigs) < 0 ||
	    smtp_msg_insert(s, sigs, strlen(sigs)) < 0)
		goto out;
	rc = 0;
out:;
	int e = errno;
	free(sigs);
	dkim_headers_free(&h);
	errno = e;
	return rc;
}
