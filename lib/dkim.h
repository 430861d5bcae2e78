/*
 * dkim.h — DKIM signing (RFC 6376) with relaxed/relaxed canonicalization,
 * rsa-sha256 and ed25519-sha256 (RFC 8463), through GnuTLS.
 *
 * Messages are stored with LF line ends; a relay sends each LF as CRLF and
 * a CR not before an LF as a space. The canonical forms here are those of
 * the bytes as sent, so a signature made over the stored copy verifies at
 * the receiver. In relaxed form a CR and a space are the same (both are
 * white space that is squeezed or dropped), which is what makes that true.
 *
 * The pieces, in the order a signer uses them:
 *   dkim_headers_feed()  the header block, bounded (DKIM_HEADER_MAX);
 *   dkim_body_feed()     the body, streamed into SHA-256, any size;
 *   dkim_from_domain()   the domain of the single From: address;
 *   dkim_key_load()      a PEM private key;
 *   dkim_sign()          the DKIM-Signature field for one key.
 * The code: dkim-canon.c (parser, canonical forms), dkim.c (keys, signing).
 */
#ifndef YUBIN_DKIM_H
#define YUBIN_DKIM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "digest.h"

#define DKIM_HASH_LEN DIGEST_SHA256_LEN

/* --- the header block (dkim-canon.c) --- */

/* One field: raw bytes at buf + off, len bytes without the final line
 * end (folds inside); the name is the first name_len bytes (before ':';
 * the whole field when it has no colon). */
struct dkim_field {
	size_t off, len, name_len;
};

struct dkim_headers {
	char *buf;                 /* the header block as fed */
	size_t len, cap;
	struct dkim_field *fields;
	size_t n_fields, cap_fields;
	size_t line_len;           /* bytes of the current line so far */
	int line_cr;               /* the current line so far is one CR */
	int done;
};

enum dkim_parse {
	DKIM_PARSE_MORE,           /* feed more, or call dkim_headers_end */
	DKIM_PARSE_DONE,           /* the empty line was seen */
	DKIM_PARSE_TOO_BIG,        /* over DKIM_HEADER_MAX bytes */
	DKIM_PARSE_ERROR,          /* ENOMEM */
};

void dkim_headers_init(struct dkim_headers *h);
/* Takes bytes of the message from its start. *used_r is how many belong
 * to the header block (all of them unless DONE: then the rest is body). */
enum dkim_parse dkim_headers_feed(struct dkim_headers *h, const char *p, size_t n,
    size_t *used_r);
/* The message ended without an empty line: no body. Ends the last field. */
void dkim_headers_end(struct dkim_headers *h);
void dkim_headers_free(struct dkim_headers *h);

/* Relaxed header canonicalization (RFC 6376 §3.4.2) of one raw field:
 * lower-case name, unfolded, white space squeezed, "name:value" CRLF.
 * out must hold len + 2 bytes; returns the bytes written. */
size_t dkim_canon_header(const char *field, size_t len, char *out);

/* --- the body (dkim-canon.c) --- */

/* Relaxed body canonicalization (RFC 6376 §3.4.4) into SHA-256, streamed:
 * memory is constant whatever the body's size. */
struct dkim_body {
	struct digest hash;
	uint64_t empty_lines;      /* held back: dropped if nothing follows */
	int in_line;               /* a byte other than white space on this line */
	int wsp;                   /* white space since the last other byte */
	size_t out_len;
	char out[4096];
};

/* 0, or -1 if the hash could not be set up. */
int dkim_body_init(struct dkim_body *b);
void dkim_body_feed(struct dkim_body *b, const char *p, size_t n);
/* Writes the body hash (the bh= value before base64) and releases b. */
void dkim_body_final(struct dkim_body *b, unsigned char *hash);

/* --- From: and the signature (dkim.c) --- */

/* The domain of the message's From: field, lower-cased, when there is
 * exactly one From: field holding exactly one address whose domain is an
 * ASCII host name. 0, or -1 (none usable; ENOMEM sets errno). */
int dkim_from_domain(const struct dkim_headers *h, char *out, size_t size);

enum dkim_alg { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };
struct dkim_key;

/* A PEM private key (PKCS#8 or PKCS#1): RSA of at least DKIM_RSA_BITS_MIN
 * bits, or Ed25519. NULL with a reason in err when it is unusable. */
struct dkim_key *dkim_key_import(const char *pem, size_t len, char *err, size_t errsize);
/* The same from a file of at most DKIM_KEY_FILE_MAX bytes. */
struct dkim_key *dkim_key_load(const char *path, char *err, size_t errsize);
enum dkim_alg dkim_key_alg(const struct dkim_key *key);
void dkim_key_free(struct dkim_key **key);

/* The DKIM-Signature field signing h's fields of RFC 6376 §5.4.1's list
 * (From once more than it occurs), with body hash bh, for domain d and
 * selector s, t=now. Malloc'd, NUL-terminated, folded with LF-TAB, ending
 * in LF; NULL with errno (EINVAL: the signer failed). */
char *dkim_sign(const struct dkim_key *key, const char *d, const char *s,
    const struct dkim_headers *h, const unsigned char *bh, time_t now);

#endif
