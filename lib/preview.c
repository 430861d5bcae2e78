/*
 * preview.c — RFC 8970 preview text of a message (preview.h).
 */
#include "preview.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The part's type is text/sub (a part without Content-Type is text/plain). */
static int
is_text(const struct mime_part *p, const char *sub)
{
	const char *t = p->type ? p->type : "text";
	const char *s = p->subtype ? p->subtype : "plain";
	return strcasecmp(t, "text") == 0 && strcasecmp(s, sub) == 0;
}

static int
is_attachment(const struct mime_part *p)
{
	return p->disposition != NULL && strncasecmp(p->disposition, "attachment", 10) == 0;
}

/* The first leaf of type text/sub in document order, not an attachment,
 * not inside an enclosed message (message/rfc822 is another message). */
static const struct mime_part *
first_text(const struct mime_part *p, const char *sub)
{
	if (p->flags & MIME_PART_RFC822 || p->truncated)
		return NULL;
	if (p->flags & MIME_PART_MULTIPART) {
		for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
			const struct mime_part *t = first_text(c, sub);
			if (t != NULL)
				return t;
		}
		return NULL;
	}
	return is_text(p, sub) && !is_attachment(p) ? p : NULL;
}

/* Length of the UTF-8 sequence at in[0..n): 1..4, or 0 if not valid. */
static size_t
utf8_len(const unsigned char *in, size_t n)
{
	unsigned char c = in[0];
	size_t k;
	unsigned int cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		k = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((in[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (in[i] & 0x3f);
	}
	/* overlong, surrogates, past U+10FFFF */
	if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

/* An HTML character reference at in[0..n) ('&' first) that preview_text
 * knows: its length with *c set, or 0. */
static size_t
entity(const unsigned char *in, size_t n, char *c)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
		{ "&apos;", '\'' }, { "&nbsp;", ' ' }, { "&#39;", '\'' },
	};
	for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
		size_t l = strlen(ents[i].name);
		if (n >= l && strncasecmp((const char *)in, ents[i].name, l) == 0) {
			*c = ents[i].c;
			return l;
		}
	}
	return 0;
}

/* in[i..n) starts with "<name" followed by a non-name character. */
static int
tag_is(const unsigned char *in, size_t i, size_t n, const char *name)
{
	size_t l = strlen(name);
	return n - i > l + 1 && in[i] == '<' && strncasecmp((const char *)in + i + 1, name, l) == 0 &&
	    (in[i + 1 + l] == '>' || in[i + 1 + l] == ' ' || in[i + 1 + l] == '\t' ||
		in[i + 1 + l] == '\r' || in[i + 1 + l] == '\n');
}

/* The end of the HTML markup at in[i] ('<'): past its '>', or past the
 * matching end tag for <style> and <script>, whose content is not text. */
static size_t
skip_markup(const unsigned char *in, size_t i, size_t n)
{
	const char *end = NULL;
	if (tag_is(in, i, n, "style"))
		end = "</style";
	else if (tag_is(in, i, n, "script"))
		end = "</script";
	else if (n - i >= 4 && memcmp(in + i, "<!--", 4) == 0)
		end = "-->";
	if (end != NULL) {
		size_t l = strlen(end), j = i + 1;
		while (j + l <= n && strncasecmp((const char *)in + j, end, l) != 0)
			j++;
		/* not closed: the rest is markup */
		if (j + l > n)
			return n;
		i = j + l;
		if (strcmp(end, "-->") == 0)
			return i;
	}
	const unsigned char *gt = memchr(in + i, '>', n - i);
	return gt ? (size_t)(gt - in) + 1 : n;
}

size_t
preview_text(const unsigned char *in, size_t len, int html, char *out)
{
	size_t o = 0, chars = 0, i = 0;
	int space = 0;
	while (i < len && chars < PREVIEW_CHARS) {
		unsigned char c = in[i];
		char ec;
		size_t k;
		if (html && c == '<') {
			i = skip_markup(in, i, len);
			space = 1;
			continue;
		}
		if (html && c == '&' && (k = entity(in + i, len - i, &ec)) != 0) {
			i += k;
			if (ec == ' ') {
				space = 1;
				continue;
			}
			c = (unsigned char)ec;
			k = 1;
		} else if (c <= ' ' || c == 0x7f) {
			/* white space and control characters */
			i++;
			space = 1;
			continue;
		} else if ((k = utf8_len(in + i, len - i)) == 0) {
			i++;
			continue;
		} else {
			i += k;
		}
		if (space && o > 0) {
			/* a space as the last character would be a trailing one */
			if (chars + 1 >= PREVIEW_CHARS)
				break;
			out[o++] = ' ';
			chars++;
		}
		space = 0;
		if (k == 1)
			out[o++] = (char)c;
		else
			memcpy(out + o, in + i - k, k), o += k;
		chars++;
	}
	return o;
}

/* in[0..n) cut to at most PREVIEW_INPUT_MAX bytes, at a line end when one
 * is there so that no quoted-printable or base64 unit is split. */
static size_t
input_len(const unsigned char *in, size_t n)
{
	if (n <= PREVIEW_INPUT_MAX)
		return n;
	for (size_t i = PREVIEW_INPUT_MAX; i > PREVIEW_INPUT_MAX / 2; i--)
		if (in[i - 1] == '\n')
			return i;
	return PREVIEW_INPUT_MAX;
}

int
message_preview(const struct mime_message *mm, char **out, size_t *len_r)
{
	*out = NULL;
	*len_r = 0;
	int html = 0;
	const struct mime_part *p = first_text(mm->root, "plain");
	if (p == NULL && (p = first_text(mm->root, "html")) != NULL)
		html = 1;
	if (p == NULL)
		return 0;
	const unsigned char *body = mm->data + p->body_off;
	unsigned char *dec;
	size_t dec_len, utf_len;
	if (mime_decode_cte(p->encoding, body, input_len(body, p->body_len), 0, &dec, &dec_len) < 0)
		return -1;
	if (dec == NULL) {
		/* an encoding not known: no text can be told */
		*out = calloc(1, 1);
		return *out ? 1 : -1;
	}
	const char *cs = mime_param_get(p->params, p->param_count, "charset");
	char *utf = mime_charset_to_utf8(cs ? cs : "us-ascii", dec, dec_len, &utf_len);
	free(dec);
	if (utf == NULL)
		return -1;
	/* at most 4 bytes a character */
	char *res = malloc(PREVIEW_CHARS * 4 + 1);
	if (res == NULL) {
		free(utf);
		return -1;
	}
	size_t n = preview_text((const unsigned char *)utf, utf_len, html, res);
	free(utf);
	/* no trailing space: a cut may leave none, collapsing never does */
	res[n] = '\0';
	*out = res;
	*len_r = n;
	return 1;
}
