/* Fuzz target: relay-runner's SMTP reply parser (S58, S59), linked from
 * relay-runner's objects (relay-runner/reply.c).
 *
 * The input is fed whole and then again in uneven chunks; both ways must
 * agree on status, code and text. A finished reply has a valid code, text
 * within SMTP_REPLY_TOTAL_MAX, and its sanitised form is printable ASCII. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay-runner/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct reply whole, chunked;

static enum reply_status
feed_all(struct reply *r, const uint8_t *data, size_t size, size_t step, size_t *used_r)
{
	enum reply_status st = REPLY_MORE;
	size_t pos = 0;
	reply_init(r);
	while (pos < size && st == REPLY_MORE) {
		size_t n = size - pos < step ? size - pos : step, used;
		st = reply_feed(r, data + pos, n, &used);
		if (used > n)
			abort();
		pos += used;
		if (st == REPLY_MORE && used != n)
			abort();
	}
	*used_r = pos;
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used1, used2;
	size_t step = size ? (size_t)(data[0] % 7) + 1 : 1;
	enum reply_status a = feed_all(&whole, data, size, size ? size : 1, &used1);
	enum reply_status b = feed_all(&chunked, data, size, step, &used2);
	if (a != b || used1 != used2)
		abort();
	if (a == REPLY_DONE) {
		if (whole.code < 200 || whole.code > 559 || whole.code != chunked.code ||
		    whole.text_len != chunked.text_len ||
		    memcmp(whole.text, chunked.text, whole.text_len) != 0 ||
		    whole.text_len > SMTP_REPLY_TOTAL_MAX)
			abort();
		char out[RELAY_DIAGNOSTIC_MAX + 1], status[16];
		reply_sanitize(&whole, out, sizeof out);
		for (const char *p = out; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
		reply_enhanced(&whole, status, sizeof status);
	}
	return 0;
}
