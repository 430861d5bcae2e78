/*
 * date.h — dates as mail headers write them.
 *
 * Received: (smtp-session) and the Date: and Arrival-Date: fields of a DSN
 * (relay-runner) carry an RFC 5322 §3.3 date-time; one function makes it,
 * with English day and month names whatever the locale says.
 */
#ifndef YUBIN_DATE_H
#define YUBIN_DATE_H

#include <stddef.h>
#include <time.h>

/* Enough for any date-time of a year with up to 11 digits. */
#define DATE_RFC5322_SIZE 48

/* Writes t in local time as "Thu, 27 Nov 2026 21:43:43 +0100" into out.
 * Returns 0, or -1 with errno: EOVERFLOW when t has no local time, ERANGE
 * when size is too small (out then holds ""). */
int date_rfc5322(time_t t, char *out, size_t size);

#endif
