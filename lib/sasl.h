/*
 * sasl.h — server side of SASL PLAIN (RFC 4616) and LOGIN, shared by
 * SMTP AUTH (RFC 4954), POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE (with
 * SASL-IR, RFC 4959). Protocol-free: the caller frames challenges ("334 ",
 * "+ ") and checks the password with users_verify().
 */
#ifndef YUBIN_SASL_H
#define YUBIN_SASL_H

#include <stddef.h>

#include "bounds.h"

enum sasl_mech { SASL_PLAIN, SASL_LOGIN };

enum sasl_status {
	SASL_CONTINUE,    /* send the base64 challenge, read one more line */
	SASL_DONE,        /* authcid/password (and authzid) are set */
	SASL_CANCELLED,   /* client sent "*" */
	SASL_BAD_BASE64,  /* undecodable response */
	SASL_MALFORMED,   /* decoded but not a valid message for the mechanism */
};

#define SASL_FIELD_MAX 1024

struct sasl {
	enum sasl_mech mech;
	int step;
	char authzid[SASL_FIELD_MAX];
	char authcid[SASL_FIELD_MAX];
	char password[SASL_FIELD_MAX];
};

/* Case-insensitive mechanism name → mech. Returns 0, or -1 if unknown. */
int sasl_mech_parse(const char *name, enum sasl_mech *mech_r);

/* Starts an exchange. initial is the initial response as sent (base64;
 * "=" means empty) or NULL when none was given. On SASL_CONTINUE the base64
 * challenge (possibly empty) is in challenge (NUL-terminated). */
enum sasl_status sasl_start(struct sasl *s, enum sasl_mech mech, const char *initial,
    char *challenge, size_t size);
/* Feeds one response line (CRLF removed). */
enum sasl_status sasl_step(struct sasl *s, const char *response, char *challenge, size_t size);
/* Wipes the password. */
void sasl_clear(struct sasl *s);

/* Strict base64 (RFC 4648, padding required, no whitespace). Returns the
 * decoded length, or -1 if invalid or longer than size. */
long sasl_base64_decode(const char *in, size_t len, unsigned char *out, size_t size);
/* Returns the encoded length (NUL-terminated), or -1 if it does not fit. */
long sasl_base64_encode(const unsigned char *in, size_t len, char *out, size_t size);

#endif
