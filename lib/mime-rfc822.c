/*
 * mime-rfc822.c — the pieces of lib/mime below the part tree: the arena
 * every parsed message allocates from, a scratch string, the RFC 822
 * tokenizer and the RFC 2231 parameter merger, all with Dovecot's
 * observable behaviour (see mime.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "buf.h"
#include "mime-internal.h"

/* ---- arena ---- */


#define ARENA_CHUNK 16384

void *
mime_arena_alloc(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	struct arena_chunk *c = a->head;
	if (c == NULL || c->size - c->used < n) {
		size_t sz = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		if (a->total + sz > MIME_ARENA_MAX) {
			errno = ENOMEM;
			return NULL;
		}
		c = malloc(sizeof(*c) + sz);
		if (c == NULL)
			return NULL;
		c->size = sz;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		a->total += sz;
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *
mime_arena_strndup(struct arena *a, const void *s, size_t n)
{
	char *p = mime_arena_alloc(a, n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
mime_arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head, *next;
	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

/* ---- RFC 822 tokenizer (Dovecot's rfc822-parser semantics) ---- */

/* 1: atext; 2: alpha, digit or 8-bit; 4: atext that is a MIME tspecial. */
static const unsigned char atext_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 4,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 4, 0, 4,
	0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 1, 1,
	1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 0,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};
#define IS_ATEXT(c) (atext_class[(unsigned char)(c)] != 0)
#define IS_TOKEN(c) ((atext_class[(unsigned char)(c)] & 3) != 0 || (c) == '.')



static int
mime_rfc822_skip_comment(struct mime_rfc822 *r)
{
	const unsigned char *start;
	int level = 1;

	if (r->last_comment != NULL)
		buf_truncate(r->last_comment, 0);
	start = ++r->p;
	for (; r->p < r->end; r->p++) {
		switch (*r->p) {
		case '\0':
			if (r->last_comment != NULL) {
				buf_add(r->last_comment, start, r->p - start);
				buf_add(r->last_comment, NUL_REPLACEMENT, 3);
				start = r->p + 1;
			}
			break;
		case '(':
			level++;
			break;
		case ')':
			if (--level == 0) {
				if (r->last_comment != NULL)
					buf_add(r->last_comment, start, r->p - start);
				r->p++;
				return r->p < r->end ? 1 : 0;
			}
			break;
		case '\n':
			if (r->last_comment == NULL)
				break;
			{
				size_t len = r->p - start;
				if (len > 0 && start[len - 1] == '\r')
					len--;
				buf_add(r->last_comment, start, len);
				start = r->p + 1;
			}
			break;
		case '\\':
			r->p++;
			if (r->p >= r->end)
				return -1;
			if (*r->p == '\r' || *r->p == '\n' || *r->p == '\0') {
				r->p--;
				break;
			}
			if (r->last_comment != NULL)
				buf_add(r->last_comment, start, r->p - start - 1);
			start = r->p;
			break;
		}
	}
	return -1;
}

int
mime_rfc822_skip_lwsp(struct mime_rfc822 *r)
{
	while (r->p < r->end) {
		if (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n') {
			r->p++;
			continue;
		}
		if (*r->p != '(')
			break;
		if (mime_rfc822_skip_comment(r) < 0)
			return -1;
	}
	return r->p < r->end ? 1 : 0;
}

int
mime_rfc822_parse_atom(struct mime_rfc822 *r, struct buf *out)
{
	const unsigned char *start;
	if (r->p >= r->end || !IS_ATEXT(*r->p))
		return -1;
	for (start = r->p++; r->p < r->end; r->p++) {
		if (IS_ATEXT(*r->p))
			continue;
		buf_add(out, start, r->p - start);
		return mime_rfc822_skip_lwsp(r);
	}
	buf_add(out, start, r->p - start);
	return 0;
}

int
mime_rfc822_parse_dot_atom(struct mime_rfc822 *r, struct buf *out)
{
	const unsigned char *start;
	int ret;
	if (r->p >= r->end || !IS_ATEXT(*r->p))
		return -1;
	for (start = r->p++; r->p < r->end;) {
		if (IS_ATEXT(*r->p)) {
			r->p++;
			continue;
		}
		if (start == r->p)
			return -1;
		buf_add(out, start, r->p - start);
		if ((ret = mime_rfc822_skip_lwsp(r)) <= 0)
			return ret;
		if (*r->p != '.')
			return 1;
		r->p++;
		buf_addc(out, '.');
		if (mime_rfc822_skip_lwsp(r) <= 0)
			return -1;
		start = r->p;
	}
	buf_add(out, start, r->p - start);
	return 0;
}

int
mime_rfc822_parse_mime_token(struct mime_rfc822 *r, struct buf *out)
{
	const unsigned char *start;
	for (start = r->p; r->p < r->end; r->p++) {
		if (IS_TOKEN(*r->p))
			continue;
		buf_add(out, start, r->p - start);
		return mime_rfc822_skip_lwsp(r);
	}
	buf_add(out, start, r->p - start);
	return 0;
}

int
mime_rfc822_parse_quoted_string(struct mime_rfc822 *r, struct buf *out)
{
	const unsigned char *start;
	size_t len;
	r->p++;
	for (start = r->p; r->p < r->end; r->p++) {
		switch (*r->p) {
		case '\0':
			buf_add(out, start, r->p - start);
			buf_add(out, NUL_REPLACEMENT, 3);
			start = r->p + 1;
			break;
		case '"':
			buf_add(out, start, r->p - start);
			r->p++;
			return mime_rfc822_skip_lwsp(r);
		case '\n':
			len = r->p - start;
			if (len > 0 && start[len - 1] == '\r')
				len--;
			buf_add(out, start, len);
			start = r->p + 1;
			break;
		case '\\':
			r->p++;
			if (r->p >= r->end)
				return -1;
			if (*r->p == '\r' || *r->p == '\n' || *r->p == '\0') {
				r->p--;
				break;
			}
			buf_add(out, start, r->p - start - 1);
			start = r->p;
			break;
		}
	}
	return -1;
}

static int
mime_rfc822_parse_atom_or_dot(struct mime_rfc822 *r, struct buf *out)
{
	const unsigned char *start;
	for (start = r->p; r->p < r->end; r->p++) {
		if (IS_ATEXT(*r->p) || *r->p == '.')
			continue;
		buf_add(out, start, r->p - start);
		return mime_rfc822_skip_lwsp(r);
	}
	buf_add(out, start, r->p - start);
	return 0;
}

int
mime_rfc822_parse_phrase(struct mime_rfc822 *r, struct buf *out)
{
	int ret;
	if (r->p >= r->end)
		return 0;
	if (*r->p == '.')
		return -1;
	for (;;) {
		if (*r->p == '"')
			ret = mime_rfc822_parse_quoted_string(r, out);
		else
			ret = mime_rfc822_parse_atom_or_dot(r, out);
		if (ret <= 0)
			return ret;
		if (!IS_ATEXT(*r->p) && *r->p != '"' && *r->p != '.')
			break;
		buf_addc(out, ' ');
	}
	return mime_rfc822_skip_lwsp(r);
}

static int
mime_rfc822_parse_domain_literal(struct mime_rfc822 *r, struct buf *out)
{
	const unsigned char *start;
	size_t len;
	for (start = r->p++; r->p < r->end; r->p++) {
		switch (*r->p) {
		case '\0':
			buf_add(out, start, r->p - start);
			buf_add(out, NUL_REPLACEMENT, 3);
			start = r->p + 1;
			break;
		case '[':
			return -1;
		case ']':
			buf_add(out, start, r->p - start + 1);
			r->p++;
			return mime_rfc822_skip_lwsp(r);
		case '\n':
			len = r->p - start;
			if (len > 0 && start[len - 1] == '\r')
				len--;
			buf_add(out, start, len);
			start = r->p + 1;
			break;
		case '\\':
			r->p++;
			if (r->p >= r->end)
				return -1;
			if (*r->p == '\r' || *r->p == '\n' || *r->p == '\0') {
				buf_add(out, start, r->p - start);
				start = r->p;
				r->p--;
			}
			break;
		}
	}
	return -1;
}

int
mime_rfc822_parse_domain(struct mime_rfc822 *r, struct buf *out)
{
	r->p++; /* '@' */
	if (mime_rfc822_skip_lwsp(r) <= 0)
		return -1;
	if (*r->p == '[')
		return mime_rfc822_parse_domain_literal(r, out);
	return mime_rfc822_parse_dot_atom(r, out);
}

/* "type/subtype" as Dovecot 2.3 reads it: what could be read stays in out
 * even when the rest is broken ("text" alone gives type "text", -1). */
int
mime_rfc822_parse_content_type(struct mime_rfc822 *r, struct buf *out)
{
	if (mime_rfc822_skip_lwsp(r) <= 0)
		return -1;
	if (mime_rfc822_parse_mime_token(r, out) <= 0)
		return -1;
	if (*r->p != '/')
		return -1;
	r->p++;
	if (mime_rfc822_skip_lwsp(r) <= 0)
		return -1;
	buf_addc(out, '/');
	return mime_rfc822_parse_mime_token(r, out);
}

/* One ";key=value". Returns 1 (key in *key, value in *val), 0 at the end,
 * -1 when broken. */
static int
mime_rfc822_parse_content_param(struct mime_rfc822 *r, struct buf *key, struct buf *val)
{
	int ret;
	buf_truncate(key, 0);
	buf_truncate(val, 0);
	if (r->p >= r->end)
		return 0;
	if (*r->p != ';')
		return -1;
	r->p++;
	if (mime_rfc822_skip_lwsp(r) <= 0)
		return -1;
	if (mime_rfc822_parse_mime_token(r, key) <= 0)
		return -1;
	if (*r->p != '=')
		return -1;
	r->p++;
	if ((ret = mime_rfc822_skip_lwsp(r)) <= 0) {
		/* no value */
	} else if (*r->p == '"') {
		ret = mime_rfc822_parse_quoted_string(r, val);
	} else if (*r->p == '=') {
		/* broken senders write name==?utf-8?b?...?= */
		while (r->p < r->end && *r->p != ';' && *r->p != ' ' && *r->p != '\t' &&
		    *r->p != '\r' && *r->p != '\n')
			buf_addc(val, (char)*r->p++);
	} else {
		ret = mime_rfc822_parse_mime_token(r, val);
	}
	return ret < 0 ? -1 : 1;
}

/* ---- parameters with RFC 2231 merging ---- */

struct pending2231 {
	char *key;
	const char *value;
	unsigned int idx;
	int extended;
	size_t order;
};

static int
cmp2231(const void *a, const void *b)
{
	const struct pending2231 *x = a, *y = b;
	int r = strcmp(x->key, y->key);
	if (r != 0)
		return r;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order);
}

static char *
escape_percent(struct arena *a, const char *v, struct buf *tmp)
{
	buf_truncate(tmp, 0);
	for (; *v != '\0'; v++) {
		if (*v == '%')
			buf_add(tmp, "%25", 3);
		else
			buf_addc(tmp, *v);
	}
	return mime_arena_strndup(a, buf_str(tmp), tmp->len);
}

/* Parses the parameters after the value of a Content-Type/-Disposition,
 * merging RFC 2231 continuations as Dovecot does. Stops after
 * MIME_PARAMS_MAX parameters. Returns 0 or -1 on ENOMEM. */
int
mime_params_parse(struct arena *a, struct mime_rfc822 *r, struct mime_param **out, size_t *count)
{
	struct buf key = BUF_INIT(MIME_ARENA_MAX), val = BUF_INIT(MIME_ARENA_MAX),
	    tmp = BUF_INIT(MIME_ARENA_MAX);
	struct mime_param *plain = NULL;
	struct pending2231 *ext = NULL;
	size_t nplain = 0, next = 0, seen = 0;
	unsigned int stale_idx = 0;
	int ret, rc = -1;

	/* not zeroed: each entry is written before it is read (zeroing
	 * 14 KB per Content-Type was a tenth of a header parse) */
	plain = malloc(MIME_PARAMS_MAX * sizeof(*plain));
	ext = malloc(MIME_PARAMS_MAX * sizeof(*ext));
	if (plain == NULL || ext == NULL)
		goto out;
	while (seen < MIME_PARAMS_MAX && (ret = mime_rfc822_parse_content_param(r, &key, &val)) != 0) {
		if (ret < 0) {
			if (r->p >= r->end)
				break;
			r->p++;
			continue;
		}
		seen++;
		const char *k = buf_str(&key), *v = buf_str(&val);
		const char *star = strchr(k, '*');
		int is2231 = 0;
		if (star != NULL) {
			const char *q = star;
			int extended;
			if (q[1] != '\0') {
				/* Dovecot keeps the previous index for a bare
				 * "name*" (the index is not reset); so do we. */
				q++;
				stale_idx = 0;
				for (; *q >= '0' && *q <= '9'; q++)
					stale_idx = stale_idx * 10 + (unsigned)(*q - '0');
			}
			if (*q != '*')
				extended = 0;
			else {
				extended = 1;
				q++;
			}
			if (*q == '\0') {
				is2231 = 1;
				ext[next].key = mime_arena_strndup(a, k, star - k);
				ext[next].value = mime_arena_strndup(a, v, val.len);
				if (ext[next].key == NULL || ext[next].value == NULL)
					goto out;
				ext[next].idx = stale_idx;
				ext[next].extended = extended;
				ext[next].order = next;
				next++;
			}
		}
		if (!is2231) {
			plain[nplain].name = mime_arena_strndup(a, k, key.len);
			plain[nplain].value = mime_arena_strndup(a, v, val.len);
			if (plain[nplain].name == NULL || plain[nplain].value == NULL)
				goto out;
			nplain++;
		}
		if (key.err || val.err)
			goto out;
	}
	qsort(ext, next, sizeof(*ext), cmp2231);
	/* Worst case every extended parameter stays apart. */
	struct mime_param *res = mime_arena_alloc(a, (nplain + next + 1) * sizeof(*res));
	if (res == NULL)
		goto out;
	memcpy(res, plain, nplain * sizeof(*res));
	size_t n = nplain;
	for (size_t i = 0, j; i < next; i = j) {
		int ok = 1, have_ext = 0;
		unsigned int want = 0;
		for (j = i; j < next; j++) {
			if (strcasecmp(ext[i].key, ext[j].key) != 0)
				break;
			if (ext[j].idx != want)
				ok = 0;
			if (ext[j].extended)
				have_ext = 1;
			want++;
		}
		if (!ok) {
			for (size_t k = i; k < j; k++) {
				buf_truncate(&tmp, 0);
				buf_add(&tmp, ext[k].key, strlen(ext[k].key));
				char num[32];
				int l = snprintf(num, sizeof(num), ext[k].extended ? "*%u*" : "*%u",
				    ext[k].idx);
				buf_add(&tmp, num, (size_t)l);
				res[n].name = mime_arena_strndup(a, buf_str(&tmp), tmp.len);
				res[n].value = ext[k].value;
				if (res[n].name == NULL)
					goto out;
				n++;
			}
			continue;
		}
		struct buf v = BUF_INIT(MIME_ARENA_MAX);
		if (!ext[i].extended && have_ext)
			buf_add(&v, "''", 2);
		for (size_t k = i; k < j; k++) {
			if (!ext[k].extended && have_ext) {
				char *e = escape_percent(a, ext[k].value, &tmp);
				if (e == NULL) {
					buf_free(&v);
					goto out;
				}
				buf_add(&v, e, strlen(e));
			} else {
				buf_add(&v, ext[k].value, strlen(ext[k].value));
			}
		}
		buf_truncate(&tmp, 0);
		buf_add(&tmp, ext[i].key, strlen(ext[i].key));
		if (have_ext)
			buf_addc(&tmp, '*');
		res[n].name = mime_arena_strndup(a, buf_str(&tmp), tmp.len);
		res[n].value = mime_arena_strndup(a, buf_str(&v), v.len);
		int bad = v.err;
		buf_free(&v);
		if (bad || res[n].name == NULL || res[n].value == NULL)
			goto out;
		n++;
	}
	*out = n > 0 ? res : NULL;
	*count = n;
	rc = tmp.err ? -1 : 0;
out:
	free(plain);
	free(ext);
	buf_free(&key);
	buf_free(&val);
	buf_free(&tmp);
	return rc;
}

const char *
mime_param_get(const struct mime_param *params, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(params[i].name, name) == 0)
			return params[i].value;
	return NULL;
}

