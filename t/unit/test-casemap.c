/* test-casemap — lib/casemap.c: i;unicode-casemap (RFC 5051) as SORT and
 * THREAD compare: ASCII in upper case, Latin letters decomposed (É and é
 * both "E" and a combining acute), Greek and Cyrillic titlecase, ß as
 * "SS", bytes that are not UTF-8 kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casemap.h"
#include "unit.h"

static void
check(const char *in, const char *want, const char *name)
{
	size_t n;
	char *m = casemap_utf8(in, strlen(in), &n);
	CHECK(m != NULL && n == strlen(want) && strcmp(m, want) == 0, name);
	free(m);
}

int
main(void)
{
	check("abc XYZ 09", "ABC XYZ 09", "ASCII");
	check("\xc3\xa9t\xc3\xa9", "E\xcc\x81TE\xcc\x81", "été: decomposed, upper");
	check("\xc3\x89T\xc3\x89", "E\xcc\x81TE\xcc\x81", "ÉTÉ the same");
	check("stra\xc3\x9f" "e", "STRASSE", "ß is SS");
	check("\xce\xb1\xce\xb2", "\xce\x91\xce\x92", "Greek");
	check("\xd0\xb4\xd0\xb0", "\xd0\x94\xd0\x90", "Cyrillic");
	check("\xc3(\xff", "\xc3(\xff", "not UTF-8: kept");
	check("\xe2\x82\xac", "\xe2\x82\xac", "beyond the table: kept");
	check("", "", "empty");
	return unit_done();
}
