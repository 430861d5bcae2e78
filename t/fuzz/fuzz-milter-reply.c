/* Fuzz target: the milter reply parser and decoder (lib/milter.c).
 *
 * The input is a stream of reply packets, fed whole and then again in
 * uneven chunks; both ways must agree on every packet. A decoded reply's
 * strings lie inside the packet, and a REPLYCODE's text is printable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_decoded(const struct milter_parser *p)
{
	struct milter_msg m;
	if (milter_reply_decode(p, &m) < 0)
		return;
	const char *lo = (const char *)p->data, *hi = lo + p->data_len;
	if ((m.s1 && (m.s1 < lo || m.s1 + strlen(m.s1) >= hi + 1)) ||
	    (m.s2 && (m.s2 < lo || m.s2 + strlen(m.s2) >= hi + 1)))
		abort();
	if (m.cmd == MILTER_R_REPLYCODE) {
		int code;
		char enh[16], text[64];
		if (milter_replycode_parse(m.s1, &code, enh, sizeof enh, text, sizeof text) == 0) {
			if (code < 400 || code > 599)
				abort();
			for (const char *t = text; *t; t++)
				if (*t < 0x20 || *t > 0x7e)
					abort();
		}
	}
}

/* Feeds the stream in steps of step bytes; returns a fingerprint of the
 * packets seen (count, commands, lengths) and the final status. */
static unsigned long
feed(const uint8_t *data, size_t size, size_t step, enum milter_status *st_r)
{
	struct milter_parser p;
	unsigned long print = 0;
	size_t pos = 0;
	enum milter_status st = MILTER_MORE;
	milter_parser_init(&p);
	while (pos < size && st != MILTER_BAD) {
		size_t n = size - pos < step ? size - pos : step, used;
		st = milter_parser_feed(&p, data + pos, n, &used);
		if (used > n || (st == MILTER_MORE && used != n))
			abort();
		pos += used;
		if (st == MILTER_DONE) {
			if (p.data_len >= MILTER_PACKET_MAX)
				abort();
			print = print * 131 + p.cmd * 7 + p.data_len;
			check_decoded(&p);
		}
	}
	milter_parser_free(&p);
	*st_r = st;
	return print;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum milter_status a, b;
	size_t step = size ? (size_t)(data[0] % 7) + 1 : 1;
	unsigned long pa = feed(data, size, size ? size : 1, &a);
	unsigned long pb = feed(data, size, step, &b);
	if (pa != pb || (a == MILTER_BAD) != (b == MILTER_BAD))
		abort();
	return 0;
}
