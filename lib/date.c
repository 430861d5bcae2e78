/*
 * date.c — RFC 5322 dates (see date.h).
 *
 * Written by hand rather than with strftime("%a, %d %b ..."): %a and %b
 * follow LC_TIME, and a header must say "Thu" and "Nov" in any locale. The
 * zone comes from tm_gmtoff, so it is the offset in force at t.
 */
#include "date.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char date_days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char date_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

int
date_rfc5322(time_t t, char *out, size_t size)
{
	struct tm tm;
	if (size > 0)
		out[0] = '\0';
	if (localtime_r(&t, &tm) == NULL) {
		errno = EOVERFLOW;
		return -1;
	}
	long off = tm.tm_gmtoff / 60; /* minutes east of UTC */
	int n = snprintf(out, size, "%s, %02d %s %04lld %02d:%02d:%02d %c%02ld%02ld",
	    date_days[tm.tm_wday], tm.tm_mday, date_months[tm.tm_mon],
	    (long long)tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		errno = ERANGE;
		return -1;
	}
	return 0;
}
