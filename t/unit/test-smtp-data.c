/* test-smtp-data — smtp-session's DATA/BDAT content decoder (S1–S4, S7).
 *
 * Every case is fed whole and one byte at a time and both must give the
 * expected bytes (STYLE.md); the fuzz target's checks (any split gives the
 * same result, DATA ends exactly at the first CRLF.CRLF) run on each case
 * too, through the fuzz target included here. */
#include <stdio.h>
#include <string.h>

#include "../fuzz/fuzz-smtp-data.c"
#include "unit.h"

struct dcase {
	const char *name;
	int chunking;
	const char *in;
	size_t in_len;
	const char *out;        /* decoded */
	size_t out_len;
	size_t used;            /* input consumed */
	int done;
	unsigned bare_lf, bare_cr, nul, hops;
};

#define S(x) x, sizeof(x) - 1

static const struct dcase cases[] = {
	{ "plain message", 0, S("Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n"),
	  S("Subject: x\n\nhi\n"), 21, 1, 0, 0, 0, 0 },
	{ "empty message: '.' right after DATA", 0, S(".\r\nQUIT\r\n"), S(""), 3, 1, 0, 0, 0, 0 },
	{ "dot-unstuffing", 0, S("..\r\n..a\r\n.b\r\na.\r\n.\r\n"), S(".\n.a\nb\na.\n"), 20, 1, 0, 0, 0, 0 },
	{ "S1 <LF>.<CR><LF> is content", 0, S("a\n.\r\nMAIL\r\n.\r\n"), S("a\n\nMAIL\n"),
	  14, 1, 1, 0, 0, 0 },
	{ "S2 <LF>.<LF> is content", 0, S("a\n.\nb\r\n.\r\n"), S("a\n\nb\n"), 10, 1, 2, 0, 0, 0 },
	{ "S3 <CR>.<CR> is content", 0, S("a\r.\rb\r\n.\r\n"), S("a . b\n"), 10, 1, 0, 2, 0, 0 },
	{ "S3 <CR><LF>.<CR>x is content", 0, S("a\r\n.\rb\r\n.\r\n"), S("a\n b\n"), 11, 1, 0, 1, 0, 0 },
	{ "S3 <CR><LF>.<LF> is content", 0, S("a\r\n.\nb\r\n.\r\n"), S("a\n\nb\n"), 11, 1, 1, 0, 0, 0 },
	{ "S3 <CR><CR><LF>.<CR><CR><LF> is content", 0, S("a\r\r\n.\r\r\nb\r\n.\r\n"),
	  S("a \n \nb\n"), 14, 1, 0, 2, 0, 0 },
	{ "S4 NUL before the dot is counted, not the end", 0, S("x\r\n\0.\r\ny\r\n.\r\n"),
	  S("x\n\0.\ny\n"), 13, 1, 0, 0, 1, 0 },
	{ "no terminator: everything consumed, not done", 0, S("abc\r\n.x\r\n"), S("abc\nx\n"),
	  9, 0, 0, 0, 0, 0 },
	{ "hop count from Received: in the header only", 0,
	  S("Received: a\r\nreceived: b\r\nX-Received: c\r\n\r\nReceived: body\r\n.\r\n"),
	  S("Received: a\nreceived: b\nX-Received: c\n\nReceived: body\n"), 62, 1, 0, 0, 0, 2 },
	{ "BDAT: CRLF → LF, dots untouched, never done", 1, S("ab\r\n.\r\n..\r\nRSET\r\n"),
	  S("ab\n.\n..\nRSET\n"), 17, 0, 0, 0, 0, 0 },
	{ "BDAT: bare CR at the very end flushed as a space", 1, S("a\rb\r"), S("a b "), 4, 0, 0, 2, 0, 0 },
	{ "BDAT: bare LF counted", 1, S("a\nb"), S("a\nb"), 3, 0, 1, 0, 0, 0 },
};

static void
run_case(const struct dcase *c, size_t step)
{
	struct decoded r;
	char name[160];
	decode((const uint8_t *)c->in, c->in_len, c->chunking, step, &r);
	size_t want_len = c->out_len;
	snprintf(name, sizeof name, "%s (%s)", c->name, step == 1 ? "byte by byte" : "whole");
	CHECK(r.out_len == want_len && memcmp(r.out, c->out, want_len) == 0 && r.used == c->used &&
	    r.d.done == c->done && r.d.bare_lf == c->bare_lf && r.d.bare_cr == c->bare_cr &&
	    r.d.nul == c->nul && r.d.hops == c->hops, name);
	free(r.out);
}

int
main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		run_case(&cases[i], 0);
		run_case(&cases[i], 1);
		/* The fuzz target's own checks, every split point. */
		uint8_t buf[256];
		for (unsigned step = 0; step < 16; step++) {
			buf[0] = (uint8_t)(cases[i].chunking | step << 1);
			memcpy(buf + 1, cases[i].in, cases[i].in_len);
			LLVMFuzzerTestOneInput(buf, cases[i].in_len + 1);
		}
	}
	CHECK(1, "fuzz checks (split invariance, exact end of DATA) hold for every case");

	/* A header block's size is tracked for the S48 limit. */
	struct decoded r;
	decode((const uint8_t *)"Subject: abc\r\n\r\nbody\r\n.\r\n", 25, 0, 1, &r);
	CHECK(r.d.header_bytes == 12, "header bytes counted up to the empty line");
	free(r.out);
	return unit_done();
}
