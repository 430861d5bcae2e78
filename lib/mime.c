/*
 * mime.c — MIME structure parser: headers, parts, Content-* fields, RFC 2231
 * parameters and RFC 5322 addresses (see mime.h).
 *
 * The split into parts, their sizes and line counts, and the reading of the
 * Content-* and address headers follow Dovecot's observable behaviour, so
 * that ENVELOPE and BODYSTRUCTURE match it (t/fixtures/mime/ holds Dovecot's
 * own answers). Notably, as Dovecot does:
 *  - a boundary line only has to start with "--boundary"; the longest
 *    active boundary that matches wins, and an outer boundary ends every
 *    inner part;
 *  - the [CR]LF before a boundary line belongs to the boundary, not to the
 *    part before it;
 *  - a part without Content-Type (and no MIME-Version) is text/plain; a
 *    multipart without usable boundary has no children;
 *  - sizes count a bare LF as CRLF.
 * Everything is allocated from one arena per message, so freeing is one
 * walk over a chunk list and an allocation failure cannot leak.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "mime-internal.h"

/* ---- headers ---- */

/* The header value as Dovecot's "full value": continuation lines joined with
 * their line ends (CR dropped) kept. */
static char *
header_full_value(struct arena *a, const struct mime_header *h)
{
	size_t nuls = 0;
	for (const unsigned char *q = h->value; (q = memchr(q, '\0', h->value + h->value_len - q)) != NULL; q++)
		nuls++;
	char *s = mime_arena_alloc(a, h->value_len + nuls * 2 + 1);
	if (s == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < h->value_len; i++) {
		if (h->value[i] == '\r' && i + 1 < h->value_len && h->value[i + 1] == '\n')
			continue;
		if (h->value[i] == '\0') {
			memcpy(s + o, NUL_REPLACEMENT, 3);
			o += 3;
			continue;
		}
		s[o++] = (char)h->value[i];
	}
	s[o] = '\0';
	return s;
}

static int
header_is(const struct mime_header *h, const char *name)
{
	size_t n = strlen(name);
	return h->name_len == n && strncasecmp((const char *)h->name, name, n) == 0;
}

const struct mime_header *
mime_header_find(const struct mime_part *p, const char *name)
{
	for (size_t i = 0; i < p->hdr_count; i++)
		if (header_is(&p->headers[i], name))
			return &p->headers[i];
	return NULL;
}

const struct mime_header *
mime_header_last(const struct mime_part *p, const char *name)
{
	for (size_t i = p->hdr_count; i > 0; i--)
		if (header_is(&p->headers[i - 1], name))
			return &p->headers[i - 1];
	return NULL;
}

/* ---- Content-* fields ---- */

static int
content_type_parse(struct arena *a, struct mime_part *p, const char *value)
{
	struct mime_rfc822 r = {(const unsigned char *)value,
	    (const unsigned char *)value + strlen(value), NULL};
	struct buf t = BUF_INIT(MIME_ARENA_MAX);
	mime_rfc822_skip_lwsp(&r);
	int ret = mime_rfc822_parse_content_type(&r, &t);
	const char *s = buf_str(&t);
	const char *slash = strchr(s, '/');
	int rc = 0;
	if (slash != NULL) {
		p->type = mime_arena_strndup(a, s, slash - s);
		p->subtype = mime_arena_strndup(a, slash + 1, strlen(slash + 1));
	} else {
		p->type = mime_arena_strndup(a, s, strlen(s));
	}
	if (t.err || p->type == NULL || (slash != NULL && p->subtype == NULL))
		rc = -1;
	buf_free(&t);
	if (rc == 0 && ret >= 0)
		rc = mime_params_parse(a, &r, &p->params, &p->param_count);
	return rc;
}

static int
content_disposition_parse(struct arena *a, struct mime_part *p, const char *value)
{
	struct mime_rfc822 r = {(const unsigned char *)value,
	    (const unsigned char *)value + strlen(value), NULL};
	struct buf t = BUF_INIT(MIME_ARENA_MAX);
	mime_rfc822_skip_lwsp(&r);
	if (mime_rfc822_parse_mime_token(&r, &t) < 0) {
		buf_free(&t);
		return 0;
	}
	p->disposition = mime_arena_strndup(a, buf_str(&t), t.len);
	int bad = t.err || p->disposition == NULL;
	buf_free(&t);
	if (bad)
		return -1;
	p->disp_params = NULL;
	p->disp_param_count = 0;
	return mime_params_parse(a, &r, &p->disp_params, &p->disp_param_count);
}

static int
content_encoding_parse(struct arena *a, struct mime_part *p, const char *value)
{
	struct mime_rfc822 r = {(const unsigned char *)value,
	    (const unsigned char *)value + strlen(value), NULL};
	struct buf t = BUF_INIT(MIME_ARENA_MAX);
	int rc = 0;
	mime_rfc822_skip_lwsp(&r);
	if (mime_rfc822_parse_mime_token(&r, &t) >= 0 && mime_rfc822_skip_lwsp(&r) == 0 && t.len > 0) {
		p->encoding = mime_arena_strndup(a, buf_str(&t), t.len);
		if (p->encoding == NULL)
			rc = -1;
	}
	if (t.err)
		rc = -1;
	buf_free(&t);
	return rc;
}

static int
content_language_parse(struct arena *a, struct mime_part *p, const char *value)
{
	struct mime_rfc822 r = {(const unsigned char *)value,
	    (const unsigned char *)value + strlen(value), NULL};
	struct buf t = BUF_INIT(MIME_ARENA_MAX);
	const char *langs[MIME_PARAMS_MAX];
	size_t n = 0;
	int rc = 0;
	mime_rfc822_skip_lwsp(&r);
	while (n < MIME_PARAMS_MAX && mime_rfc822_parse_atom(&r, &t) >= 0) {
		langs[n] = mime_arena_strndup(a, buf_str(&t), t.len);
		if (langs[n] == NULL) {
			rc = -1;
			break;
		}
		n++;
		buf_truncate(&t, 0);
		if (r.p >= r.end || *r.p != ',')
			break;
		r.p++;
		mime_rfc822_skip_lwsp(&r);
	}
	if (t.err)
		rc = -1;
	buf_free(&t);
	if (rc == 0 && n > 0) {
		p->language = mime_arena_alloc(a, n * sizeof(*p->language));
		if (p->language == NULL)
			return -1;
		memcpy(p->language, langs, n * sizeof(*langs));
		p->language_count = n;
	}
	return rc;
}

/* Reads the Content-* headers into the part, as Dovecot: the first of each
 * wins, except Content-Disposition, which a later one replaces while no
 * parameters have been seen. */
static int
part_parse_content(struct arena *a, struct mime_part *p)
{
	int seen_type = 0;
	for (size_t i = 0; i < p->hdr_count; i++) {
		const struct mime_header *h = &p->headers[i];
		if (h->name_len < 8 || strncasecmp((const char *)h->name, "Content-", 8) != 0)
			continue;
		char *v = header_full_value(a, h);
		if (v == NULL)
			return -1;
		int rc = 0;
		if (header_is(h, "Content-ID")) {
			if (p->id == NULL)
				p->id = v;
		} else if (header_is(h, "Content-MD5")) {
			if (p->md5 == NULL)
				p->md5 = v;
		} else if (header_is(h, "Content-Type")) {
			if (!seen_type) {
				seen_type = 1;
				rc = content_type_parse(a, p, v);
			}
		} else if (header_is(h, "Content-Transfer-Encoding")) {
			if (p->encoding == NULL)
				rc = content_encoding_parse(a, p, v);
		} else if (header_is(h, "Content-Language")) {
			if (p->language == NULL)
				rc = content_language_parse(a, p, v);
		} else if (header_is(h, "Content-Location")) {
			if (p->location == NULL)
				p->location = v;
		} else if (header_is(h, "Content-Description")) {
			if (p->description == NULL)
				p->description = v;
		} else if (header_is(h, "Content-Disposition")) {
			if (p->disp_params == NULL)
				rc = content_disposition_parse(a, p, v);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- the part tree ---- */

struct boundary {
	struct boundary *next;
	struct mime_part *part;
	const char *s;
	size_t len;
	int epilogue;
};

struct parser {
	struct arena *a;
	const unsigned char *d;
	size_t n, pos;
	struct mime_part *part;       /* the part being filled */
	struct boundary *bnds;        /* innermost first */
	size_t parts, nested, hdrs;
	int oom;
};

static void
size_add_range(const unsigned char *d, size_t from, size_t to, size_t *phys, size_t *vsize,
    size_t *lines)
{
	*phys += to - from;
	*vsize += to - from;
	const unsigned char *p = d + from, *end = d + to;
	while (p < end) {
		const unsigned char *lf = memchr(p, '\n', end - p);
		if (lf == NULL)
			break;
		(*lines)++;
		if (lf == d || lf[-1] != '\r')
			(*vsize)++;
		p = lf + 1;
	}
}

static void
body_add(struct parser *ps, struct mime_part *p, size_t from, size_t to)
{
	if (to > from)
		size_add_range(ps->d, from, to, &p->body_len, &p->body_vsize, &p->body_lines);
}

/* Adds a finished child's header and body into its parent's body. */
static void
part_close_into_parent(struct mime_part *p)
{
	struct mime_part *par = p->parent;
	par->body_len += p->hdr_len + p->body_len;
	par->body_vsize += p->hdr_vsize + p->body_vsize;
	par->body_lines += p->hdr_lines + p->body_lines;
}

static struct mime_part *
part_append(struct parser *ps, struct mime_part *parent)
{
	struct mime_part *p = mime_arena_alloc(ps->a, sizeof(*p));
	if (p == NULL) {
		ps->oom = 1;
		return NULL;
	}
	p->parent = parent;
	/* Where the parent's bytes so far end (as Dovecot's physical_pos):
	 * normally ps->pos, but a line end a boundary took from the parent's
	 * header may lie in between. */
	p->hdr_off = parent->hdr_off + parent->hdr_len + parent->body_len;
	if (parent->last_child == NULL)
		parent->children = p;
	else
		parent->last_child->next = p;
	parent->last_child = p;
	/* The last part allowed (S38) takes the rest of the message: no
	 * boundary counts any more (as Dovecot). */
	if (++ps->parts >= MIME_PARTS_MAX)
		ps->bnds = NULL;
	return p;
}

/* A line at pos that starts with "--" and one of the active boundaries:
 * the longest match. */
static struct boundary *
boundary_line_find(struct parser *ps, size_t pos)
{
	if (ps->bnds == NULL || ps->n - pos < 2 || ps->d[pos] != '-' || ps->d[pos + 1] != '-')
		return NULL;
	const unsigned char *data = ps->d + pos + 2;
	size_t len = ps->n - pos - 2;
	struct boundary *best = NULL;
	for (struct boundary *b = ps->bnds; b != NULL; b = b->next) {
		if (b->len <= len && memcmp(b->s, data, b->len) == 0 &&
		    (best == NULL || best->len < b->len)) {
			best = b;
			if (best->len == len)
				break;
		}
	}
	if (best != NULL)
		best->epilogue = len >= best->len + 2 && memcmp(data + best->len, "--", 2) == 0;
	return best;
}

static size_t
line_end(const struct parser *ps, size_t pos)
{
	const unsigned char *lf = memchr(ps->d + pos, '\n', ps->n - pos);
	return lf == NULL ? ps->n : (size_t)(lf - ps->d) + 1;
}

static int
headers_add(struct parser *ps, struct mime_part *p, size_t *cap, const unsigned char *name,
    size_t name_len, const unsigned char *value, size_t value_len)
{
	if (p->hdr_count >= MIME_HEADERS_MAX || ps->hdrs >= MIME_HEADERS_TOTAL_MAX)
		return 1;
	ps->hdrs++;
	if (p->hdr_count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct mime_header *h = mime_arena_alloc(ps->a, ncap * sizeof(*h));
		if (h == NULL)
			return -1;
		if (p->hdr_count > 0)
			memcpy(h, p->headers, p->hdr_count * sizeof(*h));
		p->headers = h;
		*cap = ncap;
	}
	struct mime_header *h = &p->headers[p->hdr_count++];
	h->name = name;
	h->name_len = name_len;
	h->value = value;
	h->value_len = value_len;
	return 0;
}

static void
hdr_add_line(struct parser *ps, struct mime_part *p, size_t from, size_t to)
{
	size_add_range(ps->d, from, to, &p->hdr_len, &p->hdr_vsize, &p->hdr_lines);
	/* A header that ends at EOF without a line end: Dovecot's header size
	 * still counts it as it is. */
}

/* Finds the first Content-Type header's boundary parameter (multipart). */
static const char *
part_boundary(struct mime_part *p)
{
	if (p->type == NULL || strcasecmp(p->type, "multipart") != 0 || p->subtype == NULL)
		return NULL;
	const char *b = mime_param_get(p->params, p->param_count, "boundary");
	return b;
}

/* Sets the parser flags from the first Content-Type, as Dovecot's parser:
 * on the raw "type/subtype" it could read. */
static void
part_flags_from_type(struct mime_part *p)
{
	if (p->type == NULL)
		return;
	if (p->subtype != NULL && strcasecmp(p->type, "message") == 0 &&
	    strcasecmp(p->subtype, "rfc822") == 0)
		p->flags |= MIME_PART_RFC822;
	else if (strcasecmp(p->type, "text") == 0)
		p->flags |= MIME_PART_TEXT;
	else if (strcasecmp(p->type, "multipart") == 0 && p->subtype != NULL) {
		p->flags |= MIME_PART_MULTIPART;
		if (strcasecmp(p->subtype, "digest") == 0)
			p->flags |= MIME_PART_DIGEST;
	}
}

enum pstate {
	ST_HEADER,          /* parse ps->part's header */
	ST_BODY_BOUNDARY,   /* body until a boundary line */
	ST_BODY_EOF,        /* body until the end */
	ST_SKIP_BOUNDARY,   /* rest of a boundary line */
	ST_DONE,
};

struct hdr_result {
	struct boundary *found; /* a boundary line ended the header */
	int multipart;          /* our boundary was pushed */
};

/* The line end before a boundary line belongs to the boundary, that is to
 * the parent's body, not to this part's header (as Dovecot). */
static void
line_end_to_parent(struct mime_part *p, size_t nl)
{
	if (nl == 0 || p->parent == NULL)
		return;
	p->hdr_lines--;
	p->hdr_len -= nl;
	p->hdr_vsize -= 2;
	p->parent->body_lines++;
	p->parent->body_len += nl;
	p->parent->body_vsize += 2;
}

/* Splits the field in [pos, vend) (line end excluded, continuation lines
 * included) into name and value as Dovecot does: a line without a colon
 * is all name; the value starts after the white space that follows the
 * colon on the first line (one space kept if that line is all white). */
static void
field_split(const unsigned char *line, size_t len, struct mime_header *h)
{
	const unsigned char *colon = memchr(line, ':', len);
	const unsigned char *lf = memchr(line, '\n', len);
	if (colon != NULL && lf != NULL && lf < colon)
		colon = NULL;
	h->name = line;
	if (colon == NULL) {
		h->name_len = lf != NULL ? (size_t)(lf - line) : len;
		if (h->name_len > 0 && line[h->name_len - 1] == '\r')
			h->name_len--;
		h->value = line + h->name_len;
		h->value_len = 0;
		return;
	}
	h->name_len = colon - line;
	while (h->name_len > 0 && (line[h->name_len - 1] == ' ' || line[h->name_len - 1] == '\t'))
		h->name_len--;
	h->value = colon + 1;
	h->value_len = line + len - h->value;
	size_t first = lf != NULL ? (size_t)(lf - h->value) : h->value_len;
	if (first > 0 && lf != NULL && h->value[first - 1] == '\r')
		first--;
	size_t skip = 0;
	while (skip < first && (h->value[skip] == ' ' || h->value[skip] == '\t'))
		skip++;
	if (skip == first)
		skip = first > 0 && (h->value[0] == ' ' || h->value[0] == '\t') ? 1 : 0;
	h->value += skip;
	h->value_len -= skip;
}

int
mime_header_next(const unsigned char *d, size_t n, size_t *pos, struct mime_header *h)
{
	size_t p = *pos;
	if (p >= n || d[p] == '\n' || (d[p] == '\r' && p + 1 < n && d[p + 1] == '\n'))
		return 0;
	/* as parse_header: the first line and its continuation lines */
	const unsigned char *lf = memchr(d + p, '\n', n - p);
	size_t e = lf == NULL ? n : (size_t)(lf - d) + 1;
	while (e < n && (d[e] == ' ' || d[e] == '\t')) {
		lf = memchr(d + e, '\n', n - e);
		e = lf == NULL ? n : (size_t)(lf - d) + 1;
	}
	*pos = e;
	if (e > p && d[e - 1] == '\n') {
		e--;
		if (e > p && d[e - 1] == '\r')
			e--;
	}
	field_split(d + p, e - p, h);
	return 1;
}

/* MIME-Version and the first Content-Type decide what the part is. */
static int
field_note(struct parser *ps, struct mime_part *p, const struct mime_header *h, int *seen_ct)
{
	if (header_is(h, "MIME-Version")) {
		p->flags |= MIME_PART_IS_MIME;
	} else if (header_is(h, "Content-Type")) {
		p->flags |= MIME_PART_IS_MIME;
		if (*seen_ct)
			return 0;
		*seen_ct = 1;
		struct mime_part tmp = {0};
		char *v = header_full_value(ps->a, h);
		if (v == NULL || content_type_parse(ps->a, &tmp, v) < 0)
			return -1;
		p->type = tmp.type;
		p->subtype = tmp.subtype;
		p->params = tmp.params;
		p->param_count = tmp.param_count;
		part_flags_from_type(p);
	}
	return 0;
}

/* When the next line is the empty one ending a multipart's header, its
 * boundary starts to count already (it may be a prefix of an outer one,
 * which must not take our lines). Past MIME_DEPTH_MAX the part stops
 * being a multipart (S38). */
static int
boundary_push(struct parser *ps, struct mime_part *p, struct hdr_result *res)
{
	size_t q = ps->pos;
	if (q >= ps->n || res->multipart || !(p->flags & MIME_PART_IS_MIME) ||
	    !(p->flags & MIME_PART_MULTIPART))
		return 0;
	int next_eoh = ps->d[q] == '\n' || (ps->d[q] == '\r' && q + 1 < ps->n && ps->d[q + 1] == '\n');
	const char *bs = part_boundary(p);
	if (!next_eoh || bs == NULL)
		return 0;
	if (ps->nested + 1 >= MIME_DEPTH_MAX) {
		p->flags &= ~(unsigned)(MIME_PART_MULTIPART | MIME_PART_DIGEST);
		p->truncated = 1;
		return 0;
	}
	struct boundary *nb = mime_arena_alloc(ps->a, sizeof(*nb));
	if (nb == NULL)
		return -1;
	nb->part = p;
	nb->s = bs;
	nb->len = strlen(bs);
	nb->next = ps->bnds;
	ps->bnds = nb;
	res->multipart = 1;
	return 0;
}

/* Parses the header of ps->part from ps->pos: fields until the empty line,
 * a boundary line of an enclosing multipart, or the end. */
static int
parse_header(struct parser *ps, struct hdr_result *res)
{
	struct mime_part *p = ps->part;
	size_t cap = 0, prev_nl = 0;
	int seen_ct = 0;

	res->found = NULL;
	res->multipart = 0;
	while (ps->pos < ps->n) {
		size_t pos = ps->pos;
		struct boundary *b = boundary_line_find(ps, pos);
		if (b != NULL && b->part != p) {
			line_end_to_parent(p, prev_nl);
			res->found = b;
			break;
		}
		size_t e = line_end(ps, pos);
		if (ps->d[pos] == '\n' || (ps->d[pos] == '\r' && pos + 1 < ps->n && ps->d[pos + 1] == '\n')) {
			hdr_add_line(ps, p, pos, e);
			ps->pos = e;
			/* a boundary right after the empty line takes its
			 * line end, as Dovecot */
			b = e < ps->n ? boundary_line_find(ps, e) : NULL;
			if (b != NULL && b->part != p)
				line_end_to_parent(p, e - pos);
			break;
		}
		/* one field: its first line and the continuation lines */
		while (e < ps->n && (ps->d[e] == ' ' || ps->d[e] == '\t'))
			e = line_end(ps, e);
		hdr_add_line(ps, p, pos, e);
		ps->pos = e;
		size_t vend = e;
		if (vend > pos && ps->d[vend - 1] == '\n') {
			vend--;
			if (vend > pos && ps->d[vend - 1] == '\r')
				vend--;
		}
		prev_nl = e - vend;
		struct mime_header h;
		field_split(ps->d + pos, vend - pos, &h);
		int added = headers_add(ps, p, &cap, h.name, h.name_len, h.value, h.value_len);
		if (added < 0 || (added == 0 && field_note(ps, p, &h, &seen_ct) < 0) ||
		    boundary_push(ps, p, res) < 0)
			return -1;
	}
	p->body_off = p->hdr_off + p->hdr_len;
	/* End of the header. */
	if (!(p->flags & MIME_PART_IS_MIME))
		p->flags = 0;
	if (!seen_ct || !(p->flags & MIME_PART_IS_MIME)) {
		if (p->parent != NULL && (p->parent->flags & MIME_PART_DIGEST))
			p->flags |= MIME_PART_RFC822;
		else
			p->flags |= MIME_PART_TEXT;
	}
	return 0;
}

/* A boundary line was found at pos (after a line end of nl bytes, 0 when
 * the line starts the body): close parts up to the boundary's owner and
 * add the boundary to its body. */
static void
part_finish(struct parser *ps, struct boundary *b, size_t pos)
{
	struct mime_part *p;
	for (p = ps->part; p != b->part; p = p->parent) {
		part_close_into_parent(p);
		if (p->nested_counted)
			ps->nested--;
	}
	ps->part = p;
	ps->bnds = b->epilogue ? b->next : b;
	size_t end = pos;
	if (ps->d[end] == '\r')
		end++;
	if (ps->d[end] == '\n')
		end++;
	end += 2 + b->len + (b->epilogue ? 2 : 0);
	body_add(ps, p, pos, end);
	ps->pos = end;
}

/* Body until a boundary line. Returns the next state. */
static enum pstate
parse_body_to_boundary(struct parser *ps, int first_line)
{
	size_t start = ps->pos;
	struct boundary *b;

	if (first_line && (b = boundary_line_find(ps, start)) != NULL) {
		part_finish(ps, b, start);
		return ST_SKIP_BOUNDARY;
	}
	size_t cur = start;
	while (cur < ps->n) {
		const unsigned char *lf = memchr(ps->d + cur, '\n', ps->n - cur);
		if (lf == NULL)
			break;
		size_t k = lf - ps->d;
		cur = k + 1;
		if ((b = boundary_line_find(ps, cur)) != NULL) {
			size_t bstart = k;
			if (k > start && ps->d[k - 1] == '\r')
				bstart--;
			body_add(ps, ps->part, start, bstart);
			part_finish(ps, b, bstart);
			return ST_SKIP_BOUNDARY;
		}
	}
	body_add(ps, ps->part, start, ps->n);
	ps->pos = ps->n;
	return ST_DONE;
}

static int
parse_run(struct parser *ps)
{
	enum pstate st = ST_HEADER;
	struct hdr_result hr;

	while (st != ST_DONE && !ps->oom) {
		switch (st) {
		case ST_HEADER:
			if (parse_header(ps, &hr) < 0)
				return -1;
			if (hr.found != NULL) {
				/* the header ended at a boundary: empty body */
				st = parse_body_to_boundary(ps, 1);
				break;
			}
			if (hr.multipart) {
				ps->nested++;
				ps->part->nested_counted = 1;
				st = ST_BODY_BOUNDARY;
			} else if (ps->part->flags & MIME_PART_RFC822) {
				if (ps->nested + 1 >= MIME_DEPTH_MAX || ps->parts >= MIME_PARTS_MAX) {
					ps->part->flags &= ~(unsigned)MIME_PART_RFC822;
					ps->part->truncated = 1;
					st = ps->bnds != NULL ? ST_BODY_BOUNDARY : ST_BODY_EOF;
				} else {
					ps->nested++;
					ps->part->nested_counted = 1;
					struct mime_part *c = part_append(ps, ps->part);
					if (c == NULL)
						return -1;
					ps->part = c;
					st = ST_HEADER;
				}
			} else {
				st = ps->bnds != NULL ? ST_BODY_BOUNDARY : ST_BODY_EOF;
			}
			break;
		case ST_BODY_BOUNDARY:
			st = parse_body_to_boundary(ps, 1);
			break;
		case ST_BODY_EOF:
			body_add(ps, ps->part, ps->pos, ps->n);
			ps->pos = ps->n;
			st = ST_DONE;
			break;
		case ST_SKIP_BOUNDARY: {
			size_t e = line_end(ps, ps->pos);
			body_add(ps, ps->part, ps->pos, e);
			ps->pos = e;
			if (ps->bnds == NULL || ps->bnds->part != ps->part) {
				/* epilogue */
				st = ps->bnds != NULL ? ST_BODY_BOUNDARY : ST_BODY_EOF;
			} else {
				struct mime_part *c = part_append(ps, ps->part);
				if (c == NULL)
					return -1;
				c->flags |= MIME_PART_IS_MIME;
				ps->part = c;
				st = ST_HEADER;
			}
			break;
		}
		case ST_DONE:
			break;
		}
	}
	if (ps->oom)
		return -1;
	while (ps->part->parent != NULL) {
		part_close_into_parent(ps->part);
		ps->part = ps->part->parent;
	}
	return 0;
}

/* Fixes the parts' body offsets and reads their Content-* headers. Walks
 * the tree without recursion (depth is bounded anyway). */
static int
tree_finish(struct arena *a, struct mime_part *root)
{
	struct mime_part *p = root;
	while (p != NULL) {
		p->body_off = p->hdr_off + p->hdr_len;
		/* Without MIME (no Content-Type, no MIME-Version, not inside a
		 * multipart) Dovecot ignores every Content-* field. */
		p->type = p->subtype = NULL;
		p->params = NULL;
		p->param_count = 0;
		if ((p->flags & MIME_PART_IS_MIME) && part_parse_content(a, p) < 0)
			return -1;
		/* A multipart or message/rfc822 type the parser did not treat
		 * as one (no subtype, or past the nesting limit) is reported
		 * as application/octet-stream, parameters kept, as Dovecot. */
		if (p->type != NULL &&
		    ((strcasecmp(p->type, "multipart") == 0 && !(p->flags & MIME_PART_MULTIPART)) ||
		     (strcasecmp(p->type, "message") == 0 && p->subtype != NULL &&
		      strcasecmp(p->subtype, "rfc822") == 0 && !(p->flags & MIME_PART_RFC822)))) {
			p->type = "application";
			p->subtype = "octet-stream";
		}
		if (p->children != NULL)
			p = p->children;
		else {
			while (p != NULL && p->next == NULL)
				p = p->parent;
			if (p != NULL)
				p = p->next;
		}
	}
	return 0;
}

struct mime_message *
mime_message_parse(const unsigned char *data, size_t len)
{
	struct arena *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	struct mime_message *m = mime_arena_alloc(a, sizeof(*m));
	struct mime_part *root = mime_arena_alloc(a, sizeof(*root));
	if (m == NULL || root == NULL) {
		mime_arena_free(a);
		return NULL;
	}
	m->data = data;
	m->len = len;
	m->root = root;
	m->arena = a;
	struct parser ps = {.a = a, .d = data, .n = len, .part = root, .parts = 1};
	if (parse_run(&ps) < 0 || tree_finish(a, root) < 0) {
		mime_arena_free(a);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

size_t
mime_message_memory(const struct mime_message *m)
{
	return ((const struct arena *)m->arena)->total;
}

void
mime_message_free(struct mime_message **m)
{
	if (m == NULL || *m == NULL)
		return;
	mime_arena_free((*m)->arena);
	*m = NULL;
}

/* ---- section numbers ---- */

const struct mime_part *
mime_part_find(const struct mime_message *m, const char *section, const char **rest_r)
{
	const struct mime_part *p = m->root;
	const char *s = section;
	int first = 1;
	while (*s >= '0' && *s <= '9') {
		unsigned long n = 0;
		while (*s >= '0' && *s <= '9') {
			n = n * 10 + (unsigned long)(*s - '0');
			if (n > 1000000)
				return NULL;
			s++;
		}
		if (n == 0)
			return NULL;
		if (!first) {
			if (p->flags & MIME_PART_RFC822) {
				/* numbers after a message/rfc822 part address
				 * the enclosed message */
				p = p->children;
				if (p == NULL)
					return NULL;
			} else if (!(p->flags & MIME_PART_MULTIPART) &&
			    (p->parent == NULL || (p->parent->flags & MIME_PART_RFC822))) {
				/* a non-multipart message has only part 1,
				 * and that part has no parts (as Dovecot) */
				return NULL;
			}
		}
		first = 0;
		if (p->flags & MIME_PART_MULTIPART) {
			const struct mime_part *c = p->children;
			for (unsigned long i = 1; c != NULL && i < n; i++)
				c = c->next;
			if (c == NULL)
				return NULL;
			p = c;
		} else if (n != 1) {
			return NULL;
		}
		if (*s == '.' && s[1] >= '0' && s[1] <= '9')
			s++;
		else
			break;
	}
	if (rest_r != NULL)
		*rest_r = s;
	return p;
}

