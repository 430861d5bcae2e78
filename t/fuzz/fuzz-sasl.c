/* Fuzz target: lib/sasl's base64 decoder and PLAIN/LOGIN exchanges (S36).
 * The input is split at LF into lines: the first byte picks the mechanism
 * and whether the first line is an initial response; each line is fed as one
 * response. Checks: the decoder never writes past its buffer (ASan), a
 * decoded result re-encodes to exactly its input (strictness), and DONE
 * always leaves NUL-free, bounded fields with authzid empty or = authcid. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_base64(const uint8_t *data, size_t size)
{
	/* Exactly-sized heap buffers so ASan sees any overrun. */
	size_t cap = size / 4 * 3;
	unsigned char *out = malloc(cap ? cap : 1);
	char *in = malloc(size ? size : 1);
	if (!out || !in)
		abort();
	memcpy(in, data, size);
	long n = sasl_base64_decode(in, size, out, cap);
	if (n >= 0) {
		char *back = malloc(size + 1);
		if (!back)
			abort();
		if (sasl_base64_encode(out, (size_t)n, back, size + 1) != (long)size ||
		    memcmp(back, in, size) != 0)
			abort();
		free(back);
	}
	free(in);
	free(out);
}

static void
fuzz_check_done(const struct sasl *s)
{
	if (strnlen(s->authcid, SASL_FIELD_MAX) >= SASL_FIELD_MAX ||
	    strnlen(s->authzid, SASL_FIELD_MAX) >= SASL_FIELD_MAX ||
	    strnlen(s->password, SASL_FIELD_MAX) >= SASL_FIELD_MAX || s->authcid[0] == '\0')
		abort();
	if (s->authzid[0] && strcmp(s->authzid, s->authcid) != 0)
		abort();
}

static void
fuzz_exchange(const uint8_t *data, size_t size)
{
	if (size == 0)
		return;
	enum sasl_mech mech = (data[0] & 1) ? SASL_LOGIN : SASL_PLAIN;
	int initial = (data[0] & 2) != 0;
	char *copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	struct sasl s;
	char challenge[64];
	char *line = copy, *end = copy + size - 1;
	char *lf = memchr(line, '\n', (size_t)(end - line));
	if (lf)
		*lf = '\0';
	enum sasl_status st = sasl_start(&s, mech, initial ? line : NULL, challenge, sizeof challenge);
	if (initial)
		line = lf ? lf + 1 : end;
	for (int steps = 0; st == SASL_CONTINUE && line < end && steps < 8; steps++) {
		lf = memchr(line, '\n', (size_t)(end - line));
		if (lf)
			*lf = '\0';
		st = sasl_step(&s, line, challenge, sizeof challenge);
		line = lf ? lf + 1 : end;
	}
	if (st == SASL_DONE)
		fuzz_check_done(&s);
	sasl_clear(&s);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_base64(data, size);
	fuzz_exchange(data, size);
	return 0;
}
