/*
 * sha256.h — SHA-256 (FIPS 180-4), for mbox UIDLs: a digest an attacker
 * cannot make collide, so one crafted message cannot take another's UIDL
 * and hide it from clients that skip ids they have seen.
 */
#ifndef YUBIN_SHA256_H
#define YUBIN_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
void sha256_final(struct sha256 *s, unsigned char out[32]);

#endif
