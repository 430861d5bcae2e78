/*
 * mailname.c — mailbox names: modified UTF-7, validation, Maildir++ paths.
 *
 * Every name from a client passes mailname_from_client() and
 * mailname_to_disk() before it touches the file system, and the result is
 * always one directory entry (".a.b") opened relative to the user's root:
 * no '/' and no ".." can reach a path (S33).
 */
#include "mailname.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64_value(unsigned char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

/* Appends code point cp as UTF-8. */
static int
put_utf8(char *out, size_t size, size_t *o, uint32_t cp)
{
	unsigned char tmp[4];
	size_t n;
	if (cp < 0x80) {
		tmp[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (unsigned char)(0xc0 | (cp >> 6));
		tmp[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (unsigned char)(0xe0 | (cp >> 12));
		tmp[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (unsigned char)(0xf0 | (cp >> 18));
		tmp[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*o + n + 1 > size)
		return -1;
	memcpy(out + *o, tmp, n);
	*o += n;
	return 0;
}

/* Next code point of UTF-8 text, or -1 if malformed. */
static int32_t
next_utf8(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char *p = *pp;
	uint32_t cp;
	int n;
	if (p[0] < 0x80) {
		*pp = p + 1;
		return p[0];
	} else if ((p[0] & 0xe0) == 0xc0) {
		cp = p[0] & 0x1f;
		n = 1;
	} else if ((p[0] & 0xf0) == 0xe0) {
		cp = p[0] & 0x0f;
		n = 2;
	} else if ((p[0] & 0xf8) == 0xf0) {
		cp = p[0] & 0x07;
		n = 3;
	} else {
		return -1;
	}
	if (end - p <= n)
		return -1;
	for (int i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	static const uint32_t min[] = { 0, 0x80, 0x800, 0x10000 };
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*pp = p + n + 1;
	return (int32_t)cp;
}

int
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		int32_t cp = next_utf8(&p, end);
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
			return 0;
	}
	return 1;
}

int
mutf7_decode(const char *in, size_t len, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			if (o + 2 > size)
				return -1;
			out[o++] = (char)c;
			i++;
			continue;
		}
		i++;
		if (i < len && in[i] == '-') {
			if (o + 2 > size)
				return -1;
			out[o++] = '&';
			i++;
			continue;
		}
		uint32_t bits = 0, high = 0;
		int nbits = 0, units = 0;
		while (i < len && in[i] != '-') {
			int v = b64_value((unsigned char)in[i++]);
			if (v < 0)
				return -1;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			uint32_t u = (bits >> nbits) & 0xffff;
			units++;
			if (high) {
				if (u < 0xdc00 || u > 0xdfff)
					return -1;
				u = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
				continue;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return -1;
			}
			/* ASCII must not be encoded: no two spellings, no controls. */
			if (u < 0x80)
				return -1;
			if (put_utf8(out, size, &o, u) != 0)
				return -1;
		}
		if (i == len || units == 0 || high || nbits >= 6 ||
		    (bits & ((1u << nbits) - 1)) != 0)
			return -1;
		i++; /* '-' */
	}
	out[o] = '\0';
	return 0;
}

static int
flush_b64(const uint16_t *units, size_t n, char *out, size_t size, size_t *o)
{
	uint32_t bits = 0;
	int nbits = 0;
	if (*o + 1 >= size)
		return -1;
	out[(*o)++] = '&';
	for (size_t i = 0; i < n; i++) {
		bits = (bits << 16) | units[i];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			if (*o + 1 >= size)
				return -1;
			out[(*o)++] = b64[(bits >> nbits) & 0x3f];
		}
	}
	if (nbits > 0) {
		if (*o + 1 >= size)
			return -1;
		out[(*o)++] = b64[(bits << (6 - nbits)) & 0x3f];
	}
	if (*o + 1 >= size)
		return -1;
	out[(*o)++] = '-';
	return 0;
}

int
mutf7_encode(const char *utf8, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)utf8, *end = p + strlen(utf8);
	uint16_t units[MAILNAME_MAX];
	size_t n = 0, o = 0;
	while (p < end) {
		int32_t cp = next_utf8(&p, end);
		if (cp < 0)
			return -1;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (n > 0 && flush_b64(units, n, out, size, &o) != 0)
				return -1;
			n = 0;
			if (o + 3 > size)
				return -1;
			out[o++] = (char)cp;
			if (cp == '&')
				out[o++] = '-';
			continue;
		}
		if (n + 2 > sizeof units / sizeof units[0])
			return -1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[n++] = (uint16_t)(0xd800 + (cp >> 10));
			units[n++] = (uint16_t)(0xdc00 + (cp & 0x3ff));
		} else {
			units[n++] = (uint16_t)cp;
		}
	}
	if (n > 0 && flush_b64(units, n, out, size, &o) != 0)
		return -1;
	if (o >= size)
		return -1;
	out[o] = '\0';
	return 0;
}

/* "inbox" and "Inbox/x" name the INBOX whatever the case. */
static void
canonical_inbox(char *name)
{
	if (strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/'))
		memcpy(name, "INBOX", 5);
}

int
mailname_from_client(const char *in, size_t len, int utf8, char *out, size_t size)
{
	if (len == 0 || len >= size || memchr(in, '\0', len) != NULL)
		return -1;
	if (utf8) {
		if (!utf8_valid(in, len))
			return -1;
		memcpy(out, in, len);
		out[len] = '\0';
	} else {
		if (mutf7_decode(in, len, out, size) != 0)
			return -1;
		/* Canonical spelling only (S33: no second way to write ".."). */
		char again[MAILNAME_MAX * 2];
		if (mutf7_encode(out, again, sizeof again) != 0 || strlen(again) != len ||
		    memcmp(again, in, len) != 0)
			return -1;
	}
	canonical_inbox(out);
	return 0;
}

int
mailname_to_client(const char *name, int utf8, char *out, size_t size)
{
	if (utf8) {
		size_t n = strlen(name);
		if (n >= size)
			return -1;
		memcpy(out, name, n + 1);
		return 0;
	}
	return mutf7_encode(name, out, size);
}

static int
component_ok(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || strchr(".\\*%", c))
			return 0;
	}
	return 1;
}

int
mailname_to_disk(const char *name, char *out, size_t size)
{
	size_t len = strlen(name);
	if (len == 0 || len >= MAILNAME_MAX || name[0] == '/' || name[0] == '~' ||
	    name[0] == '{' || !utf8_valid(name, len))
		return -1;
	/* Folder names that look like Maildir's own directories are refused
	 * too, although ".tmp" could not collide: no surprises for tools. */
	if (strcmp(name, "tmp") == 0 || strcmp(name, "new") == 0 || strcmp(name, "cur") == 0)
		return -1;
	/* pop3-session keeps its lock and size cache in the Maildir root as
	 * ".pop3.lock" and ".pop3.sizes": a folder "pop3/lock" would be that
	 * very entry. Every name below "pop3" is pop3-session's. */
	if (strncmp(name, MAILNAME_POP3_RESERVED "/", sizeof MAILNAME_POP3_RESERVED) == 0)
		return -1;
	if (strcmp(name, "INBOX") == 0) {
		if (size < 1)
			return -1;
		out[0] = '\0';
		return 0;
	}
	char enc[MAILNAME_MAX * 3];
	size_t o = 0;
	if (size < 2)
		return -1;
	out[o++] = '.';
	const char *p = name;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!component_ok(p, n))
			return -1;
		char comp[MAILNAME_MAX];
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (mutf7_encode(comp, enc, sizeof enc) != 0)
			return -1;
		size_t e = strlen(enc);
		if (o + e + 2 > size)
			return -1;
		memcpy(out + o, enc, e);
		o += e;
		if (!slash)
			break;
		out[o++] = '.';
		p = slash + 1;
	}
	out[o] = '\0';
	/* One directory entry on disk: NAME_MAX. */
	return o > 255 ? -1 : 0;
}

int
mailname_from_disk(const char *dir, char *out, size_t size)
{
	char tmp[MAILNAME_MAX];
	size_t n = strlen(dir);
	if (n < 2 || dir[0] != '.' || n >= sizeof tmp)
		return -1;
	for (size_t i = 1; i <= n; i++)
		tmp[i - 1] = dir[i] == '.' ? '/' : dir[i];
	if (mailname_from_client(tmp, n - 1, 0, out, size) != 0)
		return -1;
	/* Round trip: only names this module could have written. */
	char back[MAILNAME_MAX * 3];
	if (mailname_to_disk(out, back, sizeof back) != 0 || strcmp(back, dir) != 0)
		return -1;
	return 0;
}

const char *
mailname_special_use(const char *name)
{
	static const char *const map[][2] = {
		{ "Sent", "\\Sent" }, { "Drafts", "\\Drafts" }, { "Trash", "\\Trash" },
		{ "Junk", "\\Junk" }, { "Archive", "\\Archive" },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(name, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}
