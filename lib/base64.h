/*
 * base64.h — the RFC 4648 alphabet, shared by the strict SASL decoder and
 * the lenient MIME body decoder (each keeps its own policy on padding and
 * stray bytes), and the one encoder.
 */
#ifndef YUBIN_BASE64_H
#define YUBIN_BASE64_H

#include <stddef.h>

/* Encodes len bytes of in into out (size bytes, room for the NUL
 * included), padded, on one line. The length written, or -1 if out is
 * too small ((len + 2) / 3 * 4 + 1 bytes are needed). */
long base64_encode(const unsigned char *in, size_t len, char *out, size_t size);

/* Value of a base64 digit, or -1 for any other byte (including '='). */
static inline int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

#endif
