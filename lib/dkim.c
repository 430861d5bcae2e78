/*
 * dkim.c — DKIM keys and the DKIM-Signature field (RFC 6376 §3.5, §5;
 * RFC 8463 for Ed25519). Canonical forms are in dkim-canon.c.
 *
 * What is signed: the fields RFC 6376 §5.4.1 recommends, each instance
 * present (verifiers take instances from the bottom up, §5.4.2), and From
 * once more than it occurs, so a From: added later breaks the signature.
 * No l= (a signature covering part of the body lets anyone append to it);
 * t= so a receiver can tell a signature's age; no x=.
 */
#include "dkim.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "bounds.h"
#include "mime.h"
#include "tlslib.h"

struct dkim_key {
	gnutls_privkey_t pk;
	enum dkim_alg alg;
};

/* RFC 6376 §5.4.1's list; List-* fields are added by prefix below. */
static const char *const signed_names[] = {
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding", "Reply-To", "In-Reply-To",
	"References",
};

/* --- keys --- */

struct dkim_key *
dkim_key_import(const char *pem, size_t len, char *err, size_t errsize)
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)len };
	unsigned bits = 0;
	int r;
	if (tlslib_load(err, errsize) < 0)
		return NULL;
	struct dkim_key *k = calloc(1, sizeof *k);
	if (!k || gnutls_privkey_init(&k->pk) < 0) {
		snprintf(err, errsize, "out of memory");
		free(k);
		return NULL;
	}
	r = gnutls_privkey_import_x509_raw(k->pk, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r < 0) {
		snprintf(err, errsize, "not a PEM private key: %s", gnutls_strerror(r));
		goto fail;
	}
	switch (gnutls_privkey_get_pk_algorithm(k->pk, &bits)) {
	case GNUTLS_PK_RSA:
		if (bits < DKIM_RSA_BITS_MIN) {
			snprintf(err, errsize, "RSA key of %u bits: at least %u wanted", bits,
			    DKIM_RSA_BITS_MIN);
			goto fail;
		}
		k->alg = DKIM_RSA_SHA256;
		break;
	case GNUTLS_PK_EDDSA_ED25519:
		k->alg = DKIM_ED25519_SHA256;
		break;
	default:
		snprintf(err, errsize, "neither an RSA nor an Ed25519 key");
		goto fail;
	}
	return k;
fail:
	dkim_key_free(&k);
	return NULL;
}

struct dkim_key *
dkim_key_load(const char *path, char *err, size_t errsize)
{
	char buf[DKIM_KEY_FILE_MAX];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errsize, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size >= (off_t)sizeof buf) {
		snprintf(err, errsize, "not a regular file under %u bytes", DKIM_KEY_FILE_MAX);
		close(fd);
		return NULL;
	}
	while (len < sizeof buf && (n = read(fd, buf + len, sizeof buf - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errsize, "%s", strerror(errno));
			close(fd);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	struct dkim_key *k = dkim_key_import(buf, len, err, errsize);
	explicit_bzero(buf, sizeof buf);
	return k;
}

enum dkim_alg
dkim_key_alg(const struct dkim_key *key)
{
	return key->alg;
}

void
dkim_key_free(struct dkim_key **key)
{
	if (!*key)
		return;
	if ((*key)->pk)
		gnutls_privkey_deinit((*key)->pk);
	free(*key);
	*key = NULL;
}

/* --- From: --- */

/* A host name d= can carry: LDH labels, no empty label, at most 253. */
static int
domain_ok(const char *d)
{
	size_t len = strlen(d), label = 0;
	if (len == 0 || len > 253)
		return 0;
	for (const char *p = d; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*p) || *p == '-') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0;
}

static int
name_is(const struct dkim_headers *h, const struct dkim_field *f, const char *name)
{
	return f->name_len == strlen(name) && !strncasecmp(h->buf + f->off, name, f->name_len);
}

int
dkim_from_domain(const struct dkim_headers *h, char *out, size_t size)
{
	const struct dkim_field *from = NULL;
	for (size_t i = 0; i < h->n_fields; i++) {
		if (!name_is(h, &h->fields[i], "From"))
			continue;
		if (from)
			return -1;       /* two From: fields: whose domain? */
		from = &h->fields[i];
	}
	if (!from || from->name_len == from->len)
		return -1;
	struct mime_pool *pool = mime_pool_new();
	struct mime_address *a = NULL;
	const char *value = h->buf + from->off + from->name_len + 1;
	int rc = -1;
	if (!pool)
		return -1;
	if (mime_address_parse(pool, (const unsigned char *)value,
	    from->len - from->name_len - 1, &a) < 0)
		goto out;
	errno = 0;
	if (a && !a->next && a->domain && a->mailbox && domain_ok(a->domain) &&
	    strlen(a->domain) < size) {
		for (size_t i = 0; a->domain[i]; i++)
			out[i] = (char)tolower((unsigned char)a->domain[i]);
		out[strlen(a->domain)] = '\0';
		rc = 0;
	}
out:
	mime_pool_free(&pool);
	return rc;
}

/* --- the signature --- */

/* A growing text for the field; a failed append sticks. */
struct text {
	char *p;
	size_t len, cap, col;   /* col: bytes since the last fold */
	int failed;
};

static void
text_add(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->len + n + 1) * 2;
		char *p = realloc(t->p, cap);
		if (!p) {
			t->failed = 1;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
	const char *nl = memrchr(s, '\n', n);
	t->col = nl ? (size_t)(s + n - nl - 1) : t->col + n;
}

static void
text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* Folds first when the next n bytes would pass the line length. */
static void
text_fold(struct text *t, size_t n)
{
	if (t->col + n > DKIM_FOLD_COLUMN)
		text_str(t, "\n\t");
}

/* A List-* name yubin may put in h=: letters, digits and '-' only, so no
 * ';' or '=' can end up in the tag list. */
static int
list_name_ok(const struct dkim_headers *h, const struct dkim_field *f)
{
	if (f->name_len <= 5 || f->name_len > 64 || strncasecmp(h->buf + f->off, "List-", 5))
		return 0;
	for (size_t i = 0; i < f->name_len; i++)
		if (!isalnum((unsigned char)h->buf[f->off + i]) && h->buf[f->off + i] != '-')
			return 0;
	return 1;
}

/* The fields to sign, gathered into h= and their canonical forms. */
struct pick {
	const struct dkim_headers *h;
	struct text *names;     /* the h= value */
	struct text *canon;     /* canonical fields, in h= order */
	size_t count;
};

static void
pick_add_name(struct pick *pk, const char *name, size_t len)
{
	text_fold(pk->names, len + 1);
	if (pk->count++)
		text_str(pk->names, ":");
	text_add(pk->names, name, len);
}

/* Every instance of the fields called name, bottom up (§5.4.2), then
 * over more names with no field left for them (over-signing). */
static void
pick_name(struct pick *pk, const char *name, size_t len, size_t over)
{
	const struct dkim_headers *h = pk->h;
	for (size_t i = h->n_fields; i-- > 0 && pk->count < DKIM_SIGNED_FIELDS_MAX;) {
		const struct dkim_field *f = &h->fields[i];
		if (f->name_len != len || strncasecmp(h->buf + f->off, name, len))
			continue;
		/* canon holds every field once (pick_fields sized it). */
		pk->canon->len += dkim_canon_header(h->buf + f->off, f->len,
		    pk->canon->p + pk->canon->len);
		pick_add_name(pk, name, len);
	}
	for (; over > 0 && pk->count < DKIM_SIGNED_FIELDS_MAX; over--)
		pick_add_name(pk, name, len);
}

/* The h= value and the canonical fields it names. */
static int
pick_fields(const struct dkim_headers *h, struct text *names, struct text *canon)
{
	struct pick pk = { h, names, canon, 0 };
	size_t total = 0;
	for (size_t i = 0; i < h->n_fields; i++)
		total += h->fields[i].len + 2;
	if (!(canon->p = malloc(total + 1)))
		return -1;
	canon->cap = total + 1;
	for (size_t i = 0; i < sizeof signed_names / sizeof signed_names[0]; i++)
		pick_name(&pk, signed_names[i], strlen(signed_names[i]), i == 0);
	/* Each List-* name once; compared with the names taken so far, at
	 * most DKIM_SIGNED_FIELDS_MAX, so the work stays linear. */
	const struct dkim_field *lists[DKIM_SIGNED_FIELDS_MAX];
	size_t n_lists = 0;
	for (size_t i = 0; i < h->n_fields && pk.count < DKIM_SIGNED_FIELDS_MAX; i++) {
		const struct dkim_field *f = &h->fields[i];
		int first = list_name_ok(h, f);
		for (size_t j = 0; j < n_lists && first; j++)
			if (lists[j]->name_len == f->name_len &&
			    !strncasecmp(h->buf + lists[j]->off, h->buf + f->off, f->name_len))
				first = 0;
		if (!first)
			continue;
		lists[n_lists++] = f;
		pick_name(&pk, h->buf + f->off, f->name_len, 0);
	}
	return names->failed || canon->failed ? -1 : 0;
}

/* " tag=value;", or the same on a new line when it would pass the fold
 * column. */
static void
text_tag(struct text *t, const char *tag, const char *value)
{
	size_t n = strlen(tag) + strlen(value) + 3;
	if (t->col + n > DKIM_FOLD_COLUMN)
		text_str(t, "\n\t");
	else
		text_str(t, " ");
	text_str(t, tag);
	text_str(t, "=");
	text_str(t, value);
	text_str(t, ";");
}

/* The field up to "b=" (b= value empty, RFC 6376 §3.5). */
static void
sig_head(struct text *t, const struct dkim_key *key, const char *d, const char *s,
    const struct text *names, const unsigned char *bh, time_t now)
{
	char b64[DKIM_HASH_LEN * 2], num[32];
	snprintf(num, sizeof num, "%lld", (long long)now);
	base64_encode(bh, DKIM_HASH_LEN, b64, sizeof b64);
	text_str(t, "DKIM-Signature: v=1;");
	text_tag(t, "a", key->alg == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256");
	text_tag(t, "c", "relaxed/relaxed");
	text_tag(t, "d", d);
	text_tag(t, "s", s);
	text_tag(t, "t", num);
	text_str(t, "\n\th=");
	text_add(t, names->p, names->len);
	text_str(t, ";");
	text_tag(t, "bh", b64);
	text_str(t, "\n\tb=");
}

/* Signs data (the canonical fields and the field itself) with key. */
static int
sign_data(const struct dkim_key *key, const struct text *data, gnutls_datum_t *sig)
{
	gnutls_datum_t in = { (unsigned char *)data->p, (unsigned)data->len };
	if (key->alg == DKIM_RSA_SHA256)
		return gnutls_privkey_sign_data2(key->pk, GNUTLS_SIGN_RSA_SHA256, 0, &in, sig);
	/* RFC 8463 §3: Ed25519 (PureEdDSA) over the SHA-256 hash. */
	unsigned char hash[DKIM_HASH_LEN];
	struct digest dg;
	if (digest_sha256_init(&dg) < 0)
		return -1;
	digest_update(&dg, data->p, data->len);
	digest_final(&dg, hash);
	gnutls_datum_t hd = { hash, sizeof hash };
	return gnutls_privkey_sign_data2(key->pk, GNUTLS_SIGN_EDDSA_ED25519, 0, &hd, sig);
}

/* Appends the b= value, folded. */
static void
sig_value(struct text *t, const gnutls_datum_t *sig)
{
	size_t size = (sig->size + 2) / 3 * 4 + 1;
	char *b64 = malloc(size);
	long encoded = b64 ? base64_encode(sig->data, sig->size, b64, size) : -1;
	if (encoded < 0) {
		free(b64);
		t->failed = 1;
		return;
	}
	size_t n = (size_t)encoded;
	for (size_t i = 0; i < n;) {
		size_t room = t->col < DKIM_FOLD_COLUMN ? DKIM_FOLD_COLUMN - t->col : 0;
		if (room == 0) {
			text_str(t, "\n\t");
			continue;
		}
		size_t take = n - i < room ? n - i : room;
		text_add(t, b64 + i, take);
		i += take;
	}
	free(b64);
}

char *
dkim_sign(const struct dkim_key *key, const char *d, const char *s,
    const struct dkim_headers *h, const unsigned char *bh, time_t now)
{
	struct text names = { 0 }, canon = { 0 }, field = { 0 };
	gnutls_datum_t sig = { NULL, 0 };
	char *out = NULL;
	int err = ENOMEM;
	names.col = 3;   /* after "\th=" */
	if (pick_fields(h, &names, &canon) < 0)
		goto out;
	sig_head(&field, key, d, s, &names, bh, now);
	if (field.failed)
		goto out;
	/* The field itself, last and without its line end (§3.7). */
	char *tail = malloc(field.len + 3);
	if (!tail)
		goto out;
	size_t n = dkim_canon_header(field.p, field.len, tail);
	text_add(&canon, tail, n - 2);
	free(tail);
	if (canon.failed)
		goto out;
	if (sign_data(key, &canon, &sig) < 0) {
		err = EINVAL;
		goto out;
	}
	sig_value(&field, &sig);
	text_str(&field, "\n");
	if (!field.failed) {
		out = field.p;
		field.p = NULL;
	}
out:
	gnutls_free(sig.data);
	free(names.p);
	free(canon.p);
	free(field.p);
	if (!out)
		errno = err;
	return out;
}
