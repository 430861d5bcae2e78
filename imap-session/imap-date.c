/*
 * imap-date.c — IMAP dates and the day of a Date: header (see imap-date.h).
 *
 * Hand-written scanners rather than sscanf: "%2d" skips white space and
 * takes signs, "%3[A-Za-z]" takes "Febr" as "Feb", and nothing told a
 * trailing character apart; each field here is exactly what RFC 9051 §9
 * allows. Day numbers come from the civil calendar directly, not timegm(),
 * so an impossible date cannot be normalised into another one.
 */
#include "imap-date.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char imap_date_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

int
imap_date_month(const char *s, size_t len)
{
	if (len != 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s, imap_date_months[i], 3) == 0)
			return i;
	return -1;
}

static int
is_leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
imap_date_days_in_month(long year, int mon)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (mon < 0 || mon > 11)
		return 0;
	return days[mon] + (mon == 1 && is_leap(year));
}

/* Days from 1970-01-01: years counted from March, so the leap day is the
 * last day of a year, in 400-year eras of 146097 days. */
long long
imap_date_day_number(long year, int mon, int mday)
{
	long y = year - (mon < 2);
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;                    /* 0..399 */
	long doy = (153L * ((mon + 10) % 12) + 2) / 5 + mday - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (long long)era * 146097 + doe - 719468;
}

long long
imap_date_day_of(time_t t)
{
	long long d = (long long)(t / 86400);
	return t % 86400 < 0 ? d - 1 : d;
}

/* n digits exactly at *p, advanced past them; -1 if not. */
static long
digits(const char **p, int n)
{
	long v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/* "d-Mon-yyyy" or "dd-Mon-yyyy" at *p (lead: the day may start with a
 * space, as date-day-fixed does). */
static int
date_text(const char **p, int lead_space, long long *day_r)
{
	const char *s = *p;
	long d;
	if (lead_space && s[0] == ' ' && s[1] >= '0' && s[1] <= '9') {
		s++;
		d = digits(&s, 1);
	} else if (s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9') {
		d = digits(&s, 2);
	} else {
		d = digits(&s, 1);
	}
	if (d < 1 || *s != '-')
		return -1;
	s++;
	int m = imap_date_month(s, strnlen(s, 3) == 3 && s[3] == '-' ? 3 : 0);
	if (m < 0)
		return -1;
	s += 4;
	long y = digits(&s, 4);
	if (y < 1 || d > imap_date_days_in_month(y, m))
		return -1;
	*day_r = imap_date_day_number(y, m, (int)d);
	*p = s;
	return 0;
}

int
imap_date_parse(const char *s, long long *day_r)
{
	long long day;
	if (date_text(&s, 0, &day) != 0 || *s != '\0')
		return -1;
	*day_r = day;
	return 0;
}

int
imap_date_time_parse(const char *s, time_t *t_r)
{
	long long day;
	if (date_text(&s, 1, &day) != 0 || *s++ != ' ')
		return -1;
	long hh = digits(&s, 2);
	if (hh < 0 || hh > 23 || *s++ != ':')
		return -1;
	long mm = digits(&s, 2);
	if (mm < 0 || mm > 59 || *s++ != ':')
		return -1;
	long ss = digits(&s, 2);
	if (ss < 0 || ss > 60 || *s++ != ' ')
		return -1;
	char sign = *s;
	if (sign != '+' && sign != '-')
		return -1; /* never past the NUL */
	s++;
	long zone = digits(&s, 4);
	if (zone < 0 || zone % 100 > 59 || *s != '\0')
		return -1;
	long long off = (zone / 100) * 3600 + (zone % 100) * 60;
	long long t = day * 86400 + hh * 3600 + mm * 60 + ss - (sign == '+' ? off : -off);
	*t_r = (time_t)t;
	return 0;
}

int
imap_date_time_format(time_t t, char *out, size_t size)
{
	struct tm tm;
	if (size > 0)
		out[0] = '\0';
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	int n = snprintf(out, size, "%02d-%s-%04lld %02d:%02d:%02d +0000", tm.tm_mday,
	    imap_date_months[tm.tm_mon], (long long)tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

/* ---- Date: header ---- */

struct hscan {
	const unsigned char *p, *end;
};

/* White space, line ends, commas and (nested, quoted-pair) comments: what
 * lib's mime_parse_date skips between the parts of a date. */
static void
hs_skip(struct hscan *h)
{
	while (h->p < h->end) {
		unsigned char c = *h->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') {
			h->p++;
		} else if (c == '(') {
			int level = 0;
			for (; h->p < h->end; h->p++) {
				if (*h->p == '\\' && h->p + 1 < h->end)
					h->p++;
				else if (*h->p == '(')
					level++;
				else if (*h->p == ')' && --level == 0) {
					h->p++;
					break;
				}
			}
		} else {
			break;
		}
	}
}

static int
hs_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Up to max digits; -1 if none. */
static long
hs_num(struct hscan *h, int max, int *n_r)
{
	long v = 0;
	int n = 0;
	while (h->p < h->end && n < max && *h->p >= '0' && *h->p <= '9') {
		v = v * 10 + (*h->p++ - '0');
		n++;
	}
	*n_r = n;
	return n ? v : -1;
}

int
imap_date_header_day(const unsigned char *s, size_t len, long long *day_r)
{
	struct hscan h = { s, s + len };
	int n;
	hs_skip(&h);
	if (h.p < h.end && hs_alpha(*h.p)) { /* day of the week */
		while (h.p < h.end && hs_alpha(*h.p))
			h.p++;
		hs_skip(&h);
	}
	long d = hs_num(&h, 2, &n);
	hs_skip(&h);
	if (h.p < h.end && *h.p == '-')
		h.p++;
	const unsigned char *w = h.p;
	while (h.p < h.end && hs_alpha(*h.p))
		h.p++;
	/* "Feb" or "February": the first three letters name the month */
	int m = h.p - w >= 3 ? imap_date_month((const char *)w, 3) : -1;
	hs_skip(&h);
	if (h.p < h.end && *h.p == '-')
		h.p++;
	long y = hs_num(&h, 4, &n);
	if (n == 2)
		y += y < 50 ? 2000 : 1900; /* RFC 5322 §4.3 */
	else if (n == 3)
		y += 1900;
	if (d < 1 || m < 0 || y < 1 || d > imap_date_days_in_month(y, m))
		return -1;
	*day_r = imap_date_day_number(y, m, (int)d);
	return 0;
}
