/*
 * parser.c — framing and tokenizing of IMAP commands (see parser.h).
 *
 * The framer only looks for line ends and for a literal announcement at the
 * end of a line, so it can refuse an over-size literal (S31) before a "+"
 * is sent or a byte of it is stored. The tokenizer then works on the whole
 * command in memory, recursing at most max_depth levels (S32).
 */
#include "parser.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FRAMER_CHUNK 4096

void
framer_init(struct imap_framer *f)
{
	memset(f, 0, sizeof *f);
	f->line_max = 65536;
	f->literal_max = 4096;
	f->append_max = 4096;
}

void
framer_free(struct imap_framer *f)
{
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
	framer_reset(f);
}

void
framer_reset(struct imap_framer *f)
{
	f->len = f->line_start = f->text_bytes = 0;
	f->literal_left = f->literal_total = 0;
	f->in_literal = f->is_append = f->is_login = 0;
	f->tag[0] = '\0';
	/* A huge APPEND buffer is not kept for the next command. */
	if (f->cap > 1024 * 1024) {
		free(f->buf);
		f->buf = NULL;
		f->cap = 0;
	}
}

static int
framer_append(struct imap_framer *f, const unsigned char *data, size_t n)
{
	if (f->len + n + 1 > f->cap) {
		size_t cap = f->cap ? f->cap : FRAMER_CHUNK;
		while (cap < f->len + n + 1)
			cap *= 2;
		unsigned char *p = realloc(f->buf, cap);
		if (p == NULL)
			return -1;
		f->buf = p;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return 0;
}

static int
tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\+", c);
}

/* Remembers the tag and whether the command is APPEND, from line one. */
static void
framer_note_command(struct imap_framer *f)
{
	size_t i = 0, t = 0;
	while (i < f->len && tag_char(f->buf[i]) && t + 1 < sizeof f->tag)
		f->tag[t++] = (char)f->buf[i++];
	f->tag[t] = '\0';
	if (i == 0 || i >= f->len || f->buf[i] != ' ')
		return;
	i++;
	f->is_append = f->len - i >= 7 && strncasecmp((const char *)f->buf + i, "APPEND ", 7) == 0;
	f->is_login = f->len - i >= 6 && strncasecmp((const char *)f->buf + i, "LOGIN ", 6) == 0;
}

/* Literal announcement at the end of line [s, e): 0 none, 1 found (*n_r,
 * *sync_r), -1 malformed. Only "{digits[+]}" opening an argument (after a
 * space, "(" or the "~" of literal8) is one: a '}' ending an atom is an
 * atom character (RFC 9051 §9), "select a}" no broken literal. Numbers
 * are at most 2^32-1, no sign (S31). */
static int
literal_marker(const unsigned char *s, const unsigned char *e, uint64_t *n_r, int *sync_r)
{
	if (e == s || e[-1] != '}')
		return 0;
	const unsigned char *end = e - 1, *p;
	*sync_r = 1;
	if (end > s && end[-1] == '+') {
		*sync_r = 0;
		end--;
	}
	for (p = end; p > s && isdigit(p[-1]) && end - p <= 10; p--)
		;
	if (p == end || p - s < 2 || p[-1] != '{' ||
	    (p[-2] != ' ' && p[-2] != '(' && p[-2] != '~'))
		return 0;
	if (end - p > 10)
		return -1;
	uint64_t n = 0;
	for (; p < end; p++)
		n = n * 10 + (uint64_t)(*p - '0');
	if (n > 4294967295ULL)
		return -1;
	*n_r = n;
	return 1;
}

/* A line has been completed (buffer ends with LF). */
static enum frame_status
framer_line_done(struct imap_framer *f)
{
	size_t end = f->len - 1; /* the LF */
	if (end > f->line_start && f->buf[end - 1] == '\r')
		end--;
	if (f->line_start == 0)
		framer_note_command(f);
	uint64_t n;
	int sync;
	int r = literal_marker(f->buf + f->line_start, f->buf + end, &n, &sync);
	if (r < 0)
		return FRAME_BAD_LITERAL;
	f->len = end;
	if (r == 0)
		return FRAME_DONE;
	uint64_t limit = f->is_append ? f->append_max : f->literal_max;
	if (f->preauth && !f->is_login)
		limit = 0;
	if (n > limit || f->literal_total + n > limit + f->line_max)
		return sync ? FRAME_TOOBIG : FRAME_TOOBIG_CLOSE;
	/* Keep a canonical CRLF after the marker for the tokenizer. */
	if (framer_append(f, (const unsigned char *)"\r\n", 2) != 0)
		return FRAME_TOOBIG_CLOSE;
	f->literal_total += n;
	f->literal_left = n;
	f->in_literal = 1;
	return sync ? FRAME_CONTINUE : FRAME_NEED_MORE;
}

enum frame_status
framer_feed(struct imap_framer *f, const unsigned char *data, size_t len, size_t *used_r)
{
	size_t used = 0;
	while (used < len) {
		if (f->in_literal) {
			size_t n = len - used;
			if (n > f->literal_left)
				n = (size_t)f->literal_left;
			if (framer_append(f, data + used, n) != 0) {
				*used_r = used;
				return FRAME_TOOBIG_CLOSE;
			}
			used += n;
			f->literal_left -= n;
			if (f->literal_left == 0) {
				f->in_literal = 0;
				f->line_start = f->len;
			}
			continue;
		}
		const unsigned char *lf = memchr(data + used, '\n', len - used);
		size_t n = lf ? (size_t)(lf - (data + used)) + 1 : len - used;
		if (f->text_bytes + n > f->line_max) {
			*used_r = used;
			return FRAME_TOOLONG;
		}
		if (framer_append(f, data + used, n) != 0) {
			*used_r = used;
			return FRAME_TOOLONG;
		}
		used += n;
		f->text_bytes += n;
		if (lf == NULL)
			break;
		enum frame_status st = framer_line_done(f);
		if (st != FRAME_NEED_MORE) {
			*used_r = used;
			return st;
		}
		if (f->literal_left == 0 && f->in_literal) {
			f->in_literal = 0;
			f->line_start = f->len;
		}
	}
	*used_r = used;
	/* A {0} literal completes at once; its line goes on. */
	if (f->in_literal && f->literal_left == 0) {
		f->in_literal = 0;
		f->line_start = f->len;
	}
	return FRAME_NEED_MORE;
}

/* ---- tokenizer ---- */

struct tok {
	const unsigned char *p, *end;
	int max_depth;
	int allow_literal8;
	const char *err;
	int nomem;
};

static void
arg_free(struct imap_arg *a)
{
	if (a->type == ARG_LIST) {
		for (size_t i = 0; i < a->n; i++)
			arg_free(&a->list[i]);
		free(a->list);
	}
	free(a->str);
}

void
imap_command_free(struct imap_command *cmd)
{
	for (size_t i = 0; i < cmd->n; i++)
		arg_free(&cmd->args[i]);
	free(cmd->args);
	cmd->args = NULL;
	cmd->n = 0;
}

static int
tok_fail(struct tok *t, const char *why)
{
	if (t->err == NULL)
		t->err = why;
	return -1;
}

static char *
dup_bytes(struct tok *t, const unsigned char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL) {
		t->nomem = 1;
		return NULL;
	}
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static int
atom_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f && !strchr("(){\"", c);
}

/* Whether the atom [s, p) is a fetch-att name whose '[' opens a section:
 * only there (RFC 9051 §9 fetch-att); anywhere else '[' is an atom
 * character ("select x[" names a mailbox). */
static int
opens_section(const unsigned char *s, const unsigned char *p)
{
	static const char *const names[] = { "BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK",
		"BINARY.SIZE" };
	size_t n = (size_t)(p - s);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == n && strncasecmp((const char *)s, names[i], n) == 0)
			return 1;
	return 0;
}

static int
parse_atom(struct tok *t, struct imap_arg *a)
{
	const unsigned char *s = t->p;
	while (t->p < t->end && atom_char(*t->p)) {
		if (*t->p == '[' && opens_section(s, t->p)) {
			/* FETCH sections hold spaces and parentheses: BODY[HEADER.FIELDS (A B)]. */
			while (t->p < t->end && *t->p != ']') {
				if (*t->p < 0x20 || *t->p == 0x7f)
					return tok_fail(t, "Invalid characters in section");
				t->p++;
			}
			if (t->p == t->end)
				return tok_fail(t, "Missing ]");
		}
		t->p++;
	}
	if (t->p == s)
		return tok_fail(t, "Invalid characters in atom");
	a->type = ARG_ATOM;
	a->len = (size_t)(t->p - s);
	a->str = dup_bytes(t, s, a->len);
	return a->str ? 0 : -1;
}

static int
parse_quoted(struct tok *t, struct imap_arg *a)
{
	t->p++; /* the opening quote */
	const unsigned char *s = t->p;
	size_t n = 0;
	for (; t->p < t->end && *t->p != '"'; t->p++, n++) {
		if (*t->p == '\\') {
			t->p++;
			if (t->p == t->end || (*t->p != '"' && *t->p != '\\'))
				return tok_fail(t, "Invalid escape in quoted string");
		}
		if (*t->p == '\0')
			return tok_fail(t, "NULs not allowed in strings");
		if (*t->p == '\r' || *t->p == '\n')
			return tok_fail(t, "CR/LF not allowed in quoted strings");
	}
	if (t->p == t->end)
		return tok_fail(t, "Missing closing quote");
	t->p++;
	char *out = malloc(n + 1);
	if (out == NULL) {
		t->nomem = 1;
		return -1;
	}
	size_t o = 0;
	for (const unsigned char *q = s; o < n; q++) {
		if (*q == '\\')
			q++;
		out[o++] = (char)*q;
	}
	out[o] = '\0';
	a->type = ARG_STRING;
	a->str = out;
	a->len = n;
	return 0;
}

static int
parse_literal(struct tok *t, struct imap_arg *a, int literal8)
{
	t->p++; /* '{' */
	uint64_t n = 0;
	int digits = 0;
	while (t->p < t->end && isdigit(*t->p) && digits < 11) {
		n = n * 10 + (uint64_t)(*t->p++ - '0');
		digits++;
	}
	if (digits == 0 || digits > 10 || n > 4294967295ULL)
		return tok_fail(t, "Invalid literal size");
	if (t->p < t->end && *t->p == '+')
		t->p++;
	if (t->end - t->p < 3 || t->p[0] != '}' || t->p[1] != '\r' || t->p[2] != '\n')
		return tok_fail(t, "Literal size not followed by CRLF");
	t->p += 3;
	if ((uint64_t)(t->end - t->p) < n)
		return tok_fail(t, "Literal too short");
	if (!literal8 && memchr(t->p, '\0', (size_t)n) != NULL)
		return tok_fail(t, "NULs not allowed in strings");
	a->type = ARG_LITERAL;
	a->literal8 = literal8;
	a->len = (size_t)n;
	a->str = dup_bytes(t, t->p, (size_t)n);
	t->p += n;
	return a->str ? 0 : -1;
}

static int parse_list_items(struct tok *t, struct imap_arg **list_r, size_t *n_r, int depth,
    int top);

static int
parse_one(struct tok *t, struct imap_arg *a, int depth)
{
	memset(a, 0, sizeof *a);
	unsigned char c = *t->p;
	if (c == '(') {
		if (depth + 1 > t->max_depth)
			return tok_fail(t, "Too deep nesting");
		t->p++;
		a->type = ARG_LIST;
		if (parse_list_items(t, &a->list, &a->n, depth + 1, 0) != 0)
			return -1;
		if (t->p == t->end || *t->p != ')')
			return tok_fail(t, "Missing )");
		t->p++;
		return 0;
	}
	if (c == '"')
		return parse_quoted(t, a);
	if (c == '{')
		return parse_literal(t, a, 0);
	if (c == '~' && t->end - t->p > 1 && t->p[1] == '{') {
		if (!t->allow_literal8)
			return tok_fail(t, "literal8 not allowed here");
		t->p++;
		return parse_literal(t, a, 1);
	}
	if (c == '\0')
		return tok_fail(t, "NULs not allowed in commands");
	return parse_atom(t, a);
}

/* Items separated by single spaces, up to ')' (lists) or the end (top). */
static int
parse_list_items(struct tok *t, struct imap_arg **list_r, size_t *n_r, int depth, int top)
{
	struct imap_arg *list = NULL;
	size_t n = 0, cap = 0;
	*list_r = NULL;
	*n_r = 0;
	while (t->p < t->end && *t->p != ')') {
		if (n > 0) {
			if (*t->p != ' ')
				return tok_fail(t, "Expected space");
			t->p++;
			if (t->p == t->end || *t->p == ')')
				return tok_fail(t, "Trailing space");
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct imap_arg *p = realloc(list, ncap * sizeof *p);
			if (p == NULL) {
				t->nomem = 1;
				goto fail;
			}
			list = p;
			cap = ncap;
		}
		if (parse_one(t, &list[n], depth) != 0) {
			arg_free(&list[n]);
			goto fail;
		}
		n++;
		*list_r = list;
		*n_r = n;
	}
	if (top && t->p < t->end)
		return tok_fail(t, "Unexpected )");
	*list_r = list;
	*n_r = n;
	return 0;
fail:
	*list_r = list;
	*n_r = n;
	return -1;
}

enum tok_status
imap_tokenize(const unsigned char *buf, size_t len, int max_depth, int allow_literal8,
    struct imap_command *cmd, const char **err)
{
	struct tok t = { buf, buf + len, max_depth, allow_literal8, NULL, 0 };
	memset(cmd, 0, sizeof *cmd);
	*err = NULL;
	size_t i = 0;
	while (i < len && tag_char(buf[i]) && i + 1 < sizeof cmd->tag) {
		cmd->tag[i] = (char)buf[i];
		i++;
	}
	cmd->tag[i] = '\0';
	if (i == 0 || i >= len || buf[i] != ' ') {
		cmd->tag[0] = '\0';
		*err = "Invalid tag";
		return TOK_BAD;
	}
	i++;
	size_t c = 0;
	while (i < len && isalnum(buf[i]) && c + 1 < sizeof cmd->name)
		cmd->name[c++] = (char)toupper(buf[i++]);
	cmd->name[c] = '\0';
	if (c == 0 || (i < len && buf[i] != ' ')) {
		*err = "Invalid command name";
		return TOK_BAD;
	}
	if (i < len)
		i++;
	else {
		return TOK_OK;
	}
	t.p = buf + i;
	if (t.p == t.end) {
		*err = "Trailing space";
		return TOK_BAD;
	}
	if (parse_list_items(&t, &cmd->args, &cmd->n, 0, 1) != 0) {
		imap_command_free(cmd);
		*err = t.err ? t.err : "Out of memory";
		return t.nomem ? TOK_NOMEM : TOK_BAD;
	}
	return TOK_OK;
}

int
arg_is(const struct imap_arg *a, const char *s)
{
	return a->type == ARG_ATOM && strcasecmp(a->str, s) == 0;
}

int
arg_is_string(const struct imap_arg *a)
{
	return a->type == ARG_ATOM || a->type == ARG_STRING || a->type == ARG_LITERAL;
}

int
arg_is_nil(const struct imap_arg *a)
{
	return arg_is(a, "NIL");
}
