/*
 * imap-date.h — the dates of IMAP (RFC 9051 §9: date, date-time) and the
 * calendar day of a Date: header, with the one month-name table of
 * imap-session.
 *
 * Days are counted from 1970-01-01 (day 0) in the proleptic Gregorian
 * calendar, so SEARCH compares days without time_t rounding (a day before
 * 1970 is negative, not rounded towards zero). A date that does not exist
 * (31-Feb, 29-Feb of a common year, day 0) is refused everywhere: never
 * rolled over into the next month as timegm(3) would.
 *
 * Named imap-date rather than date: lib/date.h is a different module
 * (RFC 5322 dates written by smtp-session and relay-runner), and a
 * quoted #include "date.h" here would shadow it.
 */
#ifndef YUBIN_IMAP_DATE_H
#define YUBIN_IMAP_DATE_H

#include <stddef.h>
#include <time.h>

/* "Jan" … "Dec", as IMAP writes them. */
extern const char imap_date_months[12][4];

/* Month 0-11 of a three-letter English name in any case, or -1. */
int imap_date_month(const char *s, size_t len);

/* Days in month mon (0-11) of year, or 0 when mon is out of range. */
int imap_date_days_in_month(long year, int mon);

/* Day number of a date that must exist (mday 1..days in month). */
long long imap_date_day_number(long year, int mon, int mday);

/* The UTC day of t (floor: a second before 1970 is day -1). */
long long imap_date_day_of(time_t t);

/* IMAP date-text "1-Feb-1994" / "01-feb-1994" (the caller has taken the
 * quotes off): 1 or 2 digits of day, a month name in any case, 4 digits of
 * year 0001-9999, nothing more, and a day that exists. Returns 0 and the
 * day number in *day_r, or -1. */
int imap_date_parse(const char *s, long long *day_r);

/* IMAP date-time without its quotes, "17-Jul-1996 02:44:25 -0700" (day
 * " 7" or "07"; "7" accepted too): 0 and the instant in *t_r, or -1. */
int imap_date_time_parse(const char *s, time_t *t_r);

/* INTERNALDATE text of t in UTC, "17-Jul-1996 09:44:25 +0000" (no
 * quotes), into out. Returns 0, or -1 when t has no UTC date or size is
 * too small (out then holds ""). */
#define IMAP_DATE_TIME_SIZE 40
int imap_date_time_format(time_t t, char *out, size_t size);

/* The date of a Date: header value as the sender wrote it (RFC 9051
 * §6.4.4 SENT*: "disregarding time and timezone"): the day, month and year
 * of an RFC 5322 date-time, obsolete forms included (2- and 3-digit years,
 * comments, full month names), a day that exists. Returns 0 and the day
 * number, or -1. The time and zone that follow are not looked at; the
 * caller checks the whole value parses (mime_parse_date). */
int imap_date_header_day(const unsigned char *s, size_t len, long long *day_r);

#endif
