/*
 * sasl.c — server side of SASL PLAIN (RFC 4616) and LOGIN
 * (draft-murchison-sasl-login), and the strict base64 both use.
 *
 * The decoder is the dangerous part (Exim CVE-2018-6789: output sized for
 * well-formed input only, S36), so it checks the whole input before it
 * writes a byte and never writes past size: lengths other than 4n, '='
 * anywhere but the last one or two places, bytes outside the alphabet and
 * non-zero padding bits are all refused.
 *
 * Identities: no NUL (RFC 4616 forbids it) and no control characters (they
 * end up in log lines); each field shorter than SASL_FIELD_MAX. PLAIN's
 * authzid must be empty or equal to authcid: nobody may act as someone else.
 */
#include "sasl.h"

#include <string.h>
#include <strings.h>

#include "base64.h"

/* "Username:" and "Password:" in base64, as every LOGIN client expects. */
#define LOGIN_CHALLENGE_USER "VXNlcm5hbWU6"
#define LOGIN_CHALLENGE_PASS "UGFzc3dvcmQ6"

/* PLAIN carries three fields and two NULs; LOGIN one field. */
#define SASL_DECODED_MAX (3 * SASL_FIELD_MAX)
/* Base64 longer than this cannot decode into SASL_DECODED_MAX bytes. */
#define SASL_ENCODED_MAX ((SASL_DECODED_MAX + 2) / 3 * 4)

/* Number of '=' at the end of a 4n-long input (n >= 1), or -1 if any '='
 * sits elsewhere or any other byte is outside the alphabet. */
static int
b64_padding(const char *in, size_t len)
{
	int pad = 0;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len - (size_t)pad; i++)
		if (base64_value((unsigned char)in[i]) < 0)
			return -1;
	return pad;
}

long
sasl_base64_decode(const char *in, size_t len, unsigned char *out, size_t size)
{
	if (len % 4 != 0)
		return -1;
	if (len == 0)
		return 0;
	int pad = b64_padding(in, len);
	if (pad < 0)
		return -1;
	size_t outlen = len / 4 * 3 - (size_t)pad;
	if (outlen > size)
		return -1;
	/* Padding bits must be zero, so each byte string has one encoding. */
	int last = base64_value((unsigned char)in[len - 1 - (size_t)pad]);
	if ((pad == 1 && (last & 0x03)) || (pad == 2 && (last & 0x0f)))
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		unsigned long v = 0;
		for (int k = 0; k < 4; k++) {
			int d = in[i + k] == '=' ? 0 : base64_value((unsigned char)in[i + k]);
			v = v << 6 | (unsigned long)d;
		}
		unsigned char bytes[3] = { v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff };
		for (int k = 0; k < 3 && o < outlen; k++)
			out[o++] = bytes[k];
	}
	return (long)outlen;
}

long
sasl_base64_encode(const unsigned char *in, size_t len, char *out, size_t size)
{
	return base64_encode(in, len, out, size);
}

int
sasl_mech_parse(const char *name, enum sasl_mech *mech_r)
{
	if (strcasecmp(name, "PLAIN") == 0)
		*mech_r = SASL_PLAIN;
	else if (strcasecmp(name, "LOGIN") == 0)
		*mech_r = SASL_LOGIN;
	else
		return -1;
	return 0;
}

/* Decodes one response; "=" stands for an empty one only where allowed.
 * Returns the length, or -1 (bad base64) / -2 (too long to be valid). */
static long
sasl_decode(const char *response, int eq_is_empty, unsigned char *buf, size_t size)
{
	size_t len = strnlen(response, SASL_ENCODED_MAX + 1);
	if (len > SASL_ENCODED_MAX)
		return -2;
	if (eq_is_empty && len == 1 && response[0] == '=')
		return 0;
	long n = sasl_base64_decode(response, len, buf, size);
	return n < 0 ? -1 : n;
}

/* Copies an identity: no NUL, no control characters, must fit. */
static int
sasl_copy_id(char *dst, const unsigned char *src, size_t len)
{
	if (len >= SASL_FIELD_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (src[i] < 0x20 || src[i] == 0x7f)
			return -1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/* Copies a password: anything but NUL (RFC 4616), must fit. */
static int
sasl_copy_password(char *dst, const unsigned char *src, size_t len)
{
	if (len == 0 || len >= SASL_FIELD_MAX || memchr(src, '\0', len))
		return -1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/* RFC 4616 §2: message = [authzid] NUL authcid NUL passwd. */
static enum sasl_status
sasl_plain_parse(struct sasl *s, const unsigned char *msg, size_t len)
{
	const unsigned char *nul1 = memchr(msg, '\0', len);
	if (!nul1)
		return SASL_MALFORMED;
	size_t zlen = (size_t)(nul1 - msg);
	const unsigned char *cid = nul1 + 1;
	size_t rest = len - zlen - 1;
	const unsigned char *nul2 = memchr(cid, '\0', rest);
	if (!nul2)
		return SASL_MALFORMED;
	size_t clen = (size_t)(nul2 - cid);
	const unsigned char *pw = nul2 + 1;
	size_t plen = rest - clen - 1;
	if (clen == 0 || sasl_copy_id(s->authzid, msg, zlen) < 0 ||
	    sasl_copy_id(s->authcid, cid, clen) < 0 ||
	    sasl_copy_password(s->password, pw, plen) < 0)
		return SASL_MALFORMED;
	if (s->authzid[0] && strcmp(s->authzid, s->authcid) != 0)
		return SASL_MALFORMED;
	return SASL_DONE;
}

static enum sasl_status
sasl_challenge(char *challenge, size_t size, const char *text)
{
	if (strlen(text) >= size)
		return SASL_MALFORMED;
	strcpy(challenge, text);
	return SASL_CONTINUE;
}

/* One decoded response for the current step. */
static enum sasl_status
sasl_feed(struct sasl *s, const unsigned char *msg, size_t len, char *challenge, size_t size)
{
	if (s->mech == SASL_PLAIN) {
		s->step = 2;
		return sasl_plain_parse(s, msg, len);
	}
	if (s->step == 1) {
		if (len == 0 || sasl_copy_id(s->authcid, msg, len) < 0)
			return SASL_MALFORMED;
		s->step = 2;
		return sasl_challenge(challenge, size, LOGIN_CHALLENGE_PASS);
	}
	s->step = 3;
	return sasl_copy_password(s->password, msg, len) < 0 ? SASL_MALFORMED : SASL_DONE;
}

static enum sasl_status
sasl_respond(struct sasl *s, const char *response, int eq_is_empty,
    char *challenge, size_t size)
{
	unsigned char buf[SASL_DECODED_MAX];
	long n = sasl_decode(response, eq_is_empty, buf, sizeof buf);
	if (n == -1)
		return SASL_BAD_BASE64;
	if (n < 0)
		return SASL_MALFORMED;
	enum sasl_status st = sasl_feed(s, buf, (size_t)n, challenge, size);
	explicit_bzero(buf, sizeof buf);
	if (st != SASL_DONE && st != SASL_CONTINUE)
		sasl_clear(s);
	return st;
}

enum sasl_status
sasl_start(struct sasl *s, enum sasl_mech mech, const char *initial,
    char *challenge, size_t size)
{
	memset(s, 0, sizeof *s);
	s->mech = mech;
	s->step = 1;
	if (size > 0)
		challenge[0] = '\0';
	if (initial && strcmp(initial, "*") == 0)
		return SASL_CANCELLED;
	if (initial)
		return sasl_respond(s, initial, 1, challenge, size);
	return sasl_challenge(challenge, size, mech == SASL_LOGIN ? LOGIN_CHALLENGE_USER : "");
}

enum sasl_status
sasl_step(struct sasl *s, const char *response, char *challenge, size_t size)
{
	if (size > 0)
		challenge[0] = '\0';
	if (strcmp(response, "*") == 0)
		return SASL_CANCELLED;
	/* PLAIN takes one response, LOGIN two: anything after is out of turn. */
	if ((s->mech == SASL_PLAIN && s->step != 1) || (s->mech == SASL_LOGIN && s->step > 2))
		return SASL_MALFORMED;
	return sasl_respond(s, response, 0, challenge, size);
}

void
sasl_clear(struct sasl *s)
{
	explicit_bzero(s->password, sizeof s->password);
}
