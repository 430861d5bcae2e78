/* test-basesubj — lib/basesubj.c: RFC 5256 §2.1's base subject on the
 * RFC's rules and the cases imaptest's sort/thread groups use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basesubj.h"
#include "unit.h"

static void
check(const char *in, const char *want, int want_reply)
{
	size_t n;
	int reply = -1;
	char name[200];
	char *b = base_subject((const unsigned char *)in, strlen(in), &n, &reply);
	snprintf(name, sizeof name, "\"%s\" -> \"%s\"", in, want);
	CHECK(b != NULL && strcmp(b, want) == 0 && n == strlen(want) && reply == want_reply, name);
	if (b != NULL && (strcmp(b, want) != 0 || reply != want_reply))
		printf("# got \"%s\" reply %d\n", b, reply);
	free(b);
}

int
main(void)
{
	check("Re: [fwd: foo] (fwd)", "foo", 1);
	check("foo", "foo", 0);
	check("  foo   bar  ", "foo bar", 0);
	check("foo\r\n\tbar", "foo bar", 0);
	check("Re: foo", "foo", 1);
	check("RE: Re: re: foo", "foo", 1);
	check("Fw: foo", "foo", 1);
	check("FWD: foo", "foo", 1);
	check("Re [list]: foo", "foo", 1);
	check("Re[2]: foo", "foo", 1);
	check("[list] Re: foo", "foo", 1);
	check("[list] foo", "foo", 0);
	check("[list]", "[list]", 0);
	check("[a][b]", "[b]", 0);
	check("[fwd: foo]", "foo", 1);
	check("[fwd: Re: foo (fwd)]", "foo", 1);
	check("foo (fwd) (FWD)", "foo", 1);
	check("Re:", "", 1);
	check("", "", 0);
	check("Reply: foo", "Reply: foo", 0);
	check("re foo", "re foo", 0);
	check("=?utf-8?q?Re=3A_caf=C3=A9?=", "caf\xc3\xa9", 1);
	check("[fwd: unclosed", "[fwd: unclosed", 0);
	check("[x: re: foo]", "[x: re: foo]", 0);
	return unit_done();
}
