/* Fuzz target: the date scanners of imap-session (imap-session/imap-date.c):
 * SEARCH dates, APPEND date-times and the day of a Date: header (S30).
 *
 * The input is tried as each. Checks: a date SEARCH accepts exists (its
 * day written as an INTERNALDATE and read back is the same day, so no
 * 31-Feb slips through as 3-Mar); a date-time accepted round-trips through
 * imap_date_time_format; a Date: day lies in years 1..9999; nothing reads
 * past the input (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap-session/imap-date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_date(const char *s)
{
	long long day, again;
	char out[IMAP_DATE_TIME_SIZE];
	time_t t;
	if (imap_date_parse(s, &day) != 0)
		return;
	if (imap_date_time_format((time_t)(day * 86400), out, sizeof out) != 0)
		abort();
	if (imap_date_time_parse(out, &t) != 0 || t != (time_t)(day * 86400))
		abort();
	out[11] = '\0'; /* "dd-Mon-yyyy" */
	if (imap_date_parse(out, &again) != 0 || again != day)
		abort();
}

static void
check_date_time(const char *s)
{
	time_t t, again;
	char out[IMAP_DATE_TIME_SIZE];
	struct tm tm;
	if (imap_date_time_parse(s, &t) != 0)
		return;
	/* 1-Jan-0001 east of UTC is in year 0, 31-Dec-9999 west of it in
	 * 10000: instants with no date-time text in UTC */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900LL < 1 || tm.tm_year + 1900LL > 9999)
		return;
	if (imap_date_time_format(t, out, sizeof out) != 0)
		abort();
	if (imap_date_time_parse(out, &again) != 0 || again != t)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_date(s);
	check_date_time(s);
	long long day;
	if (imap_date_header_day(data, size, &day) == 0 &&
	    (day < imap_date_day_number(1, 0, 1) || day > imap_date_day_number(9999, 11, 31)))
		abort();
	free(s);
	return 0;
}
