/*
 * mime-decode.c — decoders behind SEARCH, BINARY and bounces: RFC 2047
 * encoded words, Content-Transfer-Encoding (RFC 2045 §6.7, §6.8), a few
 * charsets to UTF-8, and RFC 5322 dates (see mime.h).
 *
 * All output is malloc'd and at most a small constant factor larger than
 * the input (a Latin-1 byte becomes at most 3 UTF-8 bytes).
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base64.h"
#include "bounds.h"
#include "buf.h"
#include "mime.h"

/* Output is built in a struct buf (lib/buf.h) with MIME_DECODE_MAX as its
 * ceiling. buf_finish(), with the ceiling (E2BIG) reported as ENOMEM, as
 * mime.h promises: both mean the text does not fit in memory we allow. */
static char *
ob_finish(struct buf *b, size_t *len_r)
{
	char *s = buf_finish(b, len_r);
	if (s == NULL)
		errno = ENOMEM;
	return s;
}

/* ---- charsets ---- */

static void
ob_utf8(struct buf *b, unsigned int cp)
{
	unsigned char u[4];
	if (cp < 0x80) {
		buf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 2);
	} else {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 3);
	}
}

/* windows-1252 0x80..0x9f (0 = undefined, kept as U+0080+n). */
static const unsigned short cp1252[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

enum cs { CS_UTF8, CS_LATIN1, CS_LATIN9, CS_CP1252, CS_OTHER };

static enum cs
charset_kind(const char *cs)
{
	if (cs == NULL || *cs == '\0' || strcasecmp(cs, "utf-8") == 0 ||
	    strcasecmp(cs, "utf8") == 0 || strcasecmp(cs, "us-ascii") == 0 ||
	    strcasecmp(cs, "ascii") == 0)
		return CS_UTF8;
	if (strcasecmp(cs, "iso-8859-1") == 0 || strcasecmp(cs, "iso8859-1") == 0 ||
	    strcasecmp(cs, "latin1") == 0 || strcasecmp(cs, "iso_8859-1") == 0 ||
	    strcasecmp(cs, "l1") == 0)
		return CS_LATIN1;
	if (strcasecmp(cs, "iso-8859-15") == 0 || strcasecmp(cs, "latin-9") == 0 ||
	    strcasecmp(cs, "latin9") == 0)
		return CS_LATIN9;
	if (strcasecmp(cs, "windows-1252") == 0 || strcasecmp(cs, "cp1252") == 0)
		return CS_CP1252;
	return CS_OTHER;
}

/* Other charsets through iconv (glibc knows koi8-r, windows-1251,
 * iso-2022-jp, shift_jis, gb2312, big5, ...). A byte iconv cannot read
 * becomes U+FFFD; an unknown charset name is copied as is. Returns 0, or
 * -1 when iconv does not know the charset. */
static int
ob_iconv(struct buf *b, const char *charset, const unsigned char *in, size_t len)
{
	/* only plain names: nothing iconv could read as options */
	size_t n = strlen(charset);
	if (n == 0 || n > 40 || strspn(charset, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.:") != n)
		return -1;
	iconv_t cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return -1;
	char *ip = (char *)(uintptr_t)in;
	size_t left = len;
	char out[4096];
	while (left > 0 && b->err == 0) {
		char *op = out;
		size_t room = sizeof(out);
		size_t r = iconv(cd, &ip, &left, &op, &room);
		buf_add(b, out, sizeof(out) - room);
		if (r == (size_t)-1) {
			if (errno == E2BIG)
				continue;
			/* EILSEQ, or EINVAL at the end: one replacement */
			buf_add(b, "\xef\xbf\xbd", 3);
			ip++;
			left--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	/* flush a pending shift state (iso-2022-*) */
	char *op = out;
	size_t room = sizeof(out);
	iconv(cd, NULL, NULL, &op, &room);
	buf_add(b, out, sizeof(out) - room);
	iconv_close(cd);
	return 0;
}

static void
ob_charset(struct buf *b, const char *charset, const unsigned char *in, size_t len)
{
	enum cs kind = charset_kind(charset);
	if (kind == CS_OTHER && ob_iconv(b, charset, in, len) == 0)
		return;
	if (kind == CS_UTF8 || kind == CS_OTHER) {
		buf_add(b, in, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned int c = in[i];
		if (c < 0x80) {
			buf_addc(b, (char)c);
			continue;
		}
		if (kind == CS_CP1252 && c < 0xa0 && cp1252[c - 0x80] != 0)
			c = cp1252[c - 0x80];
		else if (kind == CS_LATIN9) {
			switch (c) {
			case 0xa4: c = 0x20ac; break;
			case 0xa6: c = 0x0160; break;
			case 0xa8: c = 0x0161; break;
			case 0xb4: c = 0x017d; break;
			case 0xb8: c = 0x017e; break;
			case 0xbc: c = 0x0152; break;
			case 0xbd: c = 0x0153; break;
			case 0xbe: c = 0x0178; break;
			}
		}
		ob_utf8(b, c);
	}
}

char *
mime_charset_to_utf8(const char *charset, const unsigned char *in, size_t len, size_t *len_r)
{
	struct buf b = BUF_INIT(MIME_DECODE_MAX);
	ob_charset(&b, charset, in, len);
	return ob_finish(&b, len_r);
}

/* ---- transfer encodings ---- */

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Quoted-printable; header=1 also maps '_' to space (RFC 2047 "Q"). An
 * invalid '=' sequence is kept as written (lenient, as mail readers), and
 * counted in *bad (Dovecot refuses BINARY of such a part). */
static void
qp_decode(struct buf *b, const unsigned char *in, size_t len, int header, int *bad)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = in[i];
		if (c == '=') {
			if (i + 2 < len + 0 && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
				buf_addc(b, (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2])));
				i += 3;
				continue;
			}
			if (i + 2 == len && hexval(in[i + 1]) >= 0) {
				buf_addc(b, (char)c);
				i++;
				(*bad)++;
				continue;
			}
			/* soft line break: "=" [white space] CRLF */
			size_t j = i + 1;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && in[j] == '\r' && j + 1 < len && in[j + 1] == '\n') {
				i = j + 2;
				continue;
			}
			if (j < len && in[j] == '\n') {
				i = j + 1;
				continue;
			}
			if (j == len) {
				i = j;
				continue;
			}
			buf_addc(b, (char)c);
			i++;
			(*bad)++;
			continue;
		}
		if (header && c == '_') {
			buf_addc(b, ' ');
			i++;
			continue;
		}
		if (!header && (c == ' ' || c == '\t')) {
			/* trailing white space before a line end is padding */
			size_t j = i;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j == len || in[j] == '\n' || (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n')) {
				i = j;
				continue;
			}
		}
		buf_addc(b, (char)c);
		i++;
	}
}

/* Returns 0, or 1 when the input has characters outside the alphabet or
 * data after the padding. White space and line ends are skipped. */
static int
b64_decode(struct buf *b, const unsigned char *in, size_t len, int strict)
{
	unsigned int acc = 0;
	int bits = 0, pad = 0, broken = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = base64_value(c);
		if (v < 0 || pad > 0) {
			broken = 1;
			if (strict)
				return 1;
			continue;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(b, (char)(acc >> bits));
			acc &= (1u << bits) - 1;
		}
	}
	return broken;
}

int
mime_decode_cte(const char *enc, const unsigned char *in, size_t len, int strict,
    unsigned char **out, size_t *len_r)
{
	struct buf b = BUF_INIT(MIME_DECODE_MAX);
	int rc = 0;
	*out = NULL;
	*len_r = 0;
	if (enc == NULL || strcasecmp(enc, "7bit") == 0 || strcasecmp(enc, "8bit") == 0 ||
	    strcasecmp(enc, "binary") == 0) {
		buf_add(&b, in, len);
	} else if (strcasecmp(enc, "quoted-printable") == 0) {
		int bad = 0;
		qp_decode(&b, in, len, 0, &bad);
		rc = strict && bad != 0;
	} else if (strcasecmp(enc, "base64") == 0) {
		rc = b64_decode(&b, in, len, strict);
		if (!strict)
			rc = 0;
	} else {
		rc = 1;
	}
	if (rc != 0) {
		free(b.s);
		return 1;
	}
	*out = (unsigned char *)ob_finish(&b, len_r);
	return *out == NULL ? -1 : 0;
}

/* ---- RFC 2047 ---- */

/* Tries an encoded word at in[0..len): returns its length and appends the
 * decoded UTF-8, or 0 if it is not one. */
static size_t
ew_decode(struct buf *b, const unsigned char *in, size_t len)
{
	if (len < 8 || in[0] != '=' || in[1] != '?')
		return 0;
	size_t i = 2, cs_start = 2;
	while (i < len && in[i] != '?' && in[i] > ' ' && in[i] < 0x7f)
		i++;
	if (i >= len || in[i] != '?' || i == cs_start || i - cs_start > 64)
		return 0;
	char charset[65];
	memcpy(charset, in + cs_start, i - cs_start);
	charset[i - cs_start] = '\0';
	char *star = strchr(charset, '*'); /* RFC 2231 language suffix */
	if (star != NULL)
		*star = '\0';
	i++;
	if (i + 2 > len || in[i + 1] != '?')
		return 0;
	unsigned char enc = (unsigned char)toupper(in[i]);
	if (enc != 'Q' && enc != 'B')
		return 0;
	size_t text = i + 2, e = text;
	while (e + 1 < len && !(in[e] == '?' && in[e + 1] == '=')) {
		if (in[e] == ' ' || in[e] == '\t' || in[e] == '\r' || in[e] == '\n')
			return 0;
		e++;
	}
	if (e + 1 >= len)
		return 0;
	struct buf raw = BUF_INIT(MIME_DECODE_MAX);
	int bad = 0;
	if (enc == 'Q')
		qp_decode(&raw, in + text, e - text, 1, &bad);
	else
		(void)b64_decode(&raw, in + text, e - text, 0);
	if (raw.err != 0) {
		buf_fail(b, raw.err);
		free(raw.s);
		return e + 2;
	}
	ob_charset(b, charset, (const unsigned char *)(raw.s != NULL ? raw.s : ""), raw.len);
	free(raw.s);
	return e + 2;
}

char *
mime_decode_header(const unsigned char *value, size_t len, size_t *len_r)
{
	struct buf b = BUF_INIT(MIME_DECODE_MAX);
	size_t i = 0, pending_ws_start = 0, pending_ws_len = 0;
	int last_was_ew = 0;
	while (i < len) {
		unsigned char c = value[i];
		if (c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			/* white space between two encoded words is dropped */
			size_t j = i;
			while (j < len && (value[j] == ' ' || value[j] == '\t' || value[j] == '\r' ||
			    value[j] == '\n'))
				j++;
			pending_ws_start = i;
			pending_ws_len = j - i;
			i = j;
			if (!last_was_ew) {
				for (size_t k = pending_ws_start; k < j; k++)
					if (value[k] == ' ' || value[k] == '\t')
						buf_addc(&b, (char)value[k]);
				pending_ws_len = 0;
			}
			continue;
		}
		if (c == '=' && i + 1 < len && value[i + 1] == '?') {
			struct buf tmp = BUF_INIT(MIME_DECODE_MAX);
			size_t n = ew_decode(&tmp, value + i, len - i);
			if (n > 0) {
				/* pending white space after an encoded word is
				 * dropped when another word follows */
				buf_add(&b, tmp.s != NULL ? tmp.s : "", tmp.len);
				if (tmp.err != 0)
					buf_fail(&b, tmp.err);
				free(tmp.s);
				i += n;
				last_was_ew = 1;
				pending_ws_len = 0;
				continue;
			}
			free(tmp.s);
		}
		if (last_was_ew && pending_ws_len > 0) {
			for (size_t k = pending_ws_start; k < pending_ws_start + pending_ws_len; k++)
				if (value[k] == ' ' || value[k] == '\t')
					buf_addc(&b, (char)value[k]);
		}
		pending_ws_len = 0;
		last_was_ew = 0;
		buf_addc(&b, (char)c);
		i++;
	}
	if (last_was_ew && pending_ws_len > 0) {
		for (size_t k = pending_ws_start; k < pending_ws_start + pending_ws_len; k++)
			if (value[k] == ' ' || value[k] == '\t')
				buf_addc(&b, (char)value[k]);
	}
	return ob_finish(&b, len_r);
}

/* ---- RFC 5322 dates ---- */

struct dscan {
	const unsigned char *p, *end;
};

static void
ds_skip(struct dscan *d)
{
	for (;;) {
		while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\r' ||
		    *d->p == '\n' || *d->p == ','))
			d->p++;
		if (d->p < d->end && *d->p == '(') {
			int level = 0;
			while (d->p < d->end) {
				if (*d->p == '\\' && d->p + 1 < d->end) {
					d->p += 2;
					continue;
				}
				if (*d->p == '(')
					level++;
				else if (*d->p == ')' && --level == 0) {
					d->p++;
					break;
				}
				d->p++;
			}
			continue;
		}
		break;
	}
}

static int
ds_num(struct dscan *d, int maxdigits, int *digits_r)
{
	int v = 0, n = 0;
	while (d->p < d->end && n < maxdigits && *d->p >= '0' && *d->p <= '9') {
		v = v * 10 + (*d->p - '0');
		d->p++;
		n++;
	}
	*digits_r = n;
	return v;
}

static size_t
ds_word(struct dscan *d, char *out, size_t size)
{
	size_t n = 0;
	while (d->p < d->end && isalpha(*d->p)) {
		if (n + 1 < size)
			out[n++] = (char)tolower(*d->p);
		d->p++;
	}
	out[n] = '\0';
	return n;
}

static int
zone_offset(const char *z, int *min_r)
{
	static const struct {
		const char *name;
		int off;
	} zones[] = {
		{"ut", 0}, {"utc", 0}, {"gmt", 0}, {"z", 0},
		{"est", -300}, {"edt", -240}, {"cst", -360}, {"cdt", -300},
		{"mst", -420}, {"mdt", -360}, {"pst", -480}, {"pdt", -420},
	};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcmp(z, zones[i].name) == 0) {
			*min_r = zones[i].off;
			return 0;
		}
	/* RFC 5322 §4.3: military zones are unreliable; treat as UTC. */
	if (strlen(z) == 1) {
		*min_r = 0;
		return 0;
	}
	return -1;
}

time_t
mime_parse_date(const unsigned char *s, size_t len)
{
	static const char *months[] = {"jan", "feb", "mar", "apr", "may", "jun",
	    "jul", "aug", "sep", "oct", "nov", "dec"};
	struct dscan d = {s, s + len};
	char w[16];
	int n, day, mon = -1, year, hh, mm, ss = 0, off = 0;

	ds_skip(&d);
	if (d.p < d.end && isalpha(*d.p)) {
		ds_word(&d, w, sizeof(w)); /* day of week */
		ds_skip(&d);
	}
	day = ds_num(&d, 2, &n);
	if (n == 0 || day < 1 || day > 31)
		return -1;
	ds_skip(&d);
	if (d.p < d.end && *d.p == '-')
		d.p++;
	if (ds_word(&d, w, sizeof(w)) < 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncmp(w, months[i], 3) == 0)
			mon = i;
	if (mon < 0)
		return -1;
	ds_skip(&d);
	if (d.p < d.end && *d.p == '-')
		d.p++;
	year = ds_num(&d, 4, &n);
	if (n == 0)
		return -1;
	if (n == 2)
		year += year < 50 ? 2000 : 1900;
	else if (n == 3)
		year += 1900;
	ds_skip(&d);
	hh = ds_num(&d, 2, &n);
	if (n == 0 || hh > 23)
		return -1;
	ds_skip(&d);
	if (d.p >= d.end || *d.p != ':')
		return -1;
	d.p++;
	ds_skip(&d);
	mm = ds_num(&d, 2, &n);
	if (n == 0 || mm > 59)
		return -1;
	ds_skip(&d);
	if (d.p < d.end && *d.p == ':') {
		d.p++;
		ds_skip(&d);
		ss = ds_num(&d, 2, &n);
		if (n == 0 || ss > 60)
			return -1;
		ds_skip(&d);
	}
	if (d.p < d.end && (*d.p == '+' || *d.p == '-')) {
		int sign = *d.p == '-' ? -1 : 1;
		d.p++;
		int z = ds_num(&d, 4, &n);
		if (n == 4)
			off = sign * ((z / 100) * 60 + z % 100);
	} else if (d.p < d.end && isalpha(*d.p)) {
		ds_word(&d, w, sizeof(w));
		if (zone_offset(w, &off) < 0)
			off = 0;
	}
	struct tm tm = {0};
	tm.tm_year = year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return t - (time_t)off * 60;
}
