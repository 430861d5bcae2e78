/*
 * digest.h — SHA-256 through GnuTLS's crypto API (loaded on first use, tlslib.h),
 * for identifiers that must not collide on purpose, such as mbox UIDLs.
 */
#ifndef YUBIN_DIGEST_H
#define YUBIN_DIGEST_H

#include <stddef.h>

#define DIGEST_SHA256_LEN 32

struct digest {
	void *handle;   /* gnutls_hash_hd_t; NULL after a failed init */
};

/* Returns 0, or -1 if the hash could not be set up. */
int digest_sha256_init(struct digest *d);
void digest_update(struct digest *d, const void *p, size_t n);
/* Writes DIGEST_SHA256_LEN bytes and releases d. */
void digest_final(struct digest *d, unsigned char *out);

#endif
