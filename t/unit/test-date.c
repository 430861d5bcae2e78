/* test-date — lib/date.c: RFC 5322 date-times in POSIX TZ zones east and
 * west of UTC, half-hour offsets, daylight saving on both sides of a
 * switch, a leap day; agreement with strftime in the C locale over every
 * month of a few years; a buffer too small is ERANGE with "" left. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "unit.h"

static void
zone(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void
check_date(const char *tz, time_t t, const char *want)
{
	char out[DATE_RFC5322_SIZE], name[160];
	zone(tz);
	int rc = date_rfc5322(t, out, sizeof out);
	snprintf(name, sizeof name, "TZ=%s t=%lld: %s", tz, (long long)t, want);
	CHECK(rc == 0 && strcmp(out, want) == 0, name);
	if (rc != 0 || strcmp(out, want) != 0)
		printf("# got %s\n", out);
}

int
main(void)
{
	check_date("UTC0", 0, "Thu, 01 Jan 1970 00:00:00 +0000");
	check_date("UTC0", 951782400, "Tue, 29 Feb 2000 00:00:00 +0000");
	check_date("JST-9", 1795297423, "Sun, 22 Nov 2026 06:43:43 +0900");
	check_date("EST5EDT,M3.2.0,M11.1.0", 1795297423, "Sat, 21 Nov 2026 16:43:43 -0500");
	check_date("EST5EDT,M3.2.0,M11.1.0", 1782000000, "Sat, 20 Jun 2026 20:00:00 -0400");
	check_date("IST-5:30", 0, "Thu, 01 Jan 1970 05:30:00 +0530");
	check_date("NST3:30", 1795297423, "Sat, 21 Nov 2026 18:13:43 -0330");

	/* strftime agrees in the C locale (no setlocale here). */
	zone("CET-1CEST,M3.5.0,M10.5.0/3");
	int same = 1;
	for (time_t t = 946684800; t < 946684800 + 10 * 366 * 86400L; t += 30 * 86400L + 3607) {
		char mine[DATE_RFC5322_SIZE], theirs[64];
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(theirs, sizeof theirs, "%a, %d %b %Y %H:%M:%S %z", &tm);
		if (date_rfc5322(t, mine, sizeof mine) != 0 || strcmp(mine, theirs) != 0) {
			printf("# t=%lld: %s vs strftime %s\n", (long long)t, mine, theirs);
			same = 0;
		}
	}
	CHECK(same, "strftime(\"%a, %d %b %Y %H:%M:%S %z\") agrees over 10 years of a CET/CEST zone");

	char small[31];
	zone("UTC0");
	errno = 0;
	CHECK(date_rfc5322(0, small, sizeof small) == -1 && errno == ERANGE && small[0] == '\0',
	    "30 bytes and the NUL do not fit: ERANGE, out is \"\"");
	char exact[32];
	CHECK(date_rfc5322(0, exact, sizeof exact) == 0 && strlen(exact) == 31, "31 bytes and the NUL fit");
	return unit_done();
}
