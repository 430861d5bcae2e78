/*
 * Fuzz target: lib/mime (parser) and imap-session/render (ENVELOPE,
 * BODYSTRUCTURE, BODY[section], BINARY, SEARCH, dates) on any input
 * (S38, S39). Checks beyond "no crash": every part lies inside the input,
 * parts and depth stay within MIME_PARTS_MAX / MIME_DEPTH_MAX, and the
 * ENVELOPE and BODYSTRUCTURE strings parse with a strict IMAP parser (no
 * CR, LF, NUL or 8-bit byte outside a literal; escapes only for " and \;
 * balanced lists; literal sizes exact).
 *
 * t/unit/test-mime.c includes this file for the syntax checker.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "imap-session/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict IMAP syntax of a parenthesised value as render_* produce it.
 * Returns 1 if s[0..n) is exactly one well-formed list. */
static int
imap_syntax_ok(const char *s, size_t n)
{
	size_t i = 0;
	int depth = 0;
	if (n == 0 || s[0] != '(')
		return 0;
	while (i < n) {
		char c = s[i];
		if (c == '(') {
			depth++;
			i++;
			if (depth > 2 * MIME_DEPTH_MAX + 10)
				return 0;
			continue;
		}
		if (c == ')') {
			if (--depth < 0)
				return 0;
			i++;
			if (depth == 0)
				return i == n;
			if (i < n && s[i] != ' ' && s[i] != ')' && s[i] != '(')
				return 0;
			continue;
		}
		if (c == ' ') {
			if (i + 1 >= n || s[i + 1] == ' ' || s[i + 1] == ')')
				return 0;
			i++;
			continue;
		}
		if (c == '"') {
			i++;
			while (i < n && s[i] != '"') {
				unsigned char q = (unsigned char)s[i];
				if (q == '\r' || q == '\n' || q == '\0' || q >= 0x80)
					return 0;
				if (q == '\\') {
					if (i + 1 >= n || (s[i + 1] != '"' && s[i + 1] != '\\'))
						return 0;
					i++;
				}
				i++;
			}
			if (i >= n)
				return 0;
			i++;
		} else if (c == '{') {
			size_t len = 0, j = i + 1;
			while (j < n && s[j] >= '0' && s[j] <= '9' && j - i < 12)
				len = len * 10 + (size_t)(s[j++] - '0');
			if (j == i + 1 || j + 2 >= n || s[j] != '}' || s[j + 1] != '\r' || s[j + 2] != '\n')
				return 0;
			j += 3;
			if (len > n - j || memchr(s + j, '\0', len) != NULL)
				return 0;
			i = j + len;
		} else if (c >= '0' && c <= '9') {
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
		} else if (n - i >= 3 && memcmp(s + i, "NIL", 3) == 0) {
			i += 3;
		} else {
			return 0;
		}
		if (i < n && s[i] != ' ' && s[i] != ')')
			return 0;
	}
	return 0;
}

/* Every part inside the input, children after their parent's header,
 * counts and depth within the limits. */
static void
check_tree(const struct mime_message *m)
{
	size_t parts = 0;
	const struct mime_part *p = m->root;
	size_t depth = 0, maxdepth = 0;
	while (p != NULL) {
		parts++;
		if (p->hdr_off > m->len || p->hdr_len > m->len - p->hdr_off ||
		    p->body_off != p->hdr_off + p->hdr_len || p->body_len > m->len - p->body_off ||
		    p->body_vsize < p->body_len || p->hdr_vsize < p->hdr_len)
			abort();
		if (p->parent != NULL && (p->hdr_off < p->parent->body_off ||
		    p->body_off + p->body_len > p->parent->body_off + p->parent->body_len))
			abort();
		if (p->children != NULL) {
			p = p->children;
			depth++;
			if (depth > maxdepth)
				maxdepth = depth;
		} else {
			while (p != NULL && p->next == NULL) {
				p = p->parent;
				depth--;
			}
			if (p != NULL)
				p = p->next;
		}
	}
	if (parts > MIME_PARTS_MAX + 1 || maxdepth > 2 * MIME_DEPTH_MAX)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *sections[] = {"", "HEADER", "TEXT", "1", "1.MIME", "2.1",
	    "1.HEADER", "2.TEXT", "HEADER.FIELDS (FROM TO)", "1.HEADER.FIELDS.NOT (SUBJECT)",
	    "3.2.1", "HEADER.FIELDS ()", "1.FOO"};
	static const char *binaries[] = {"", "1", "2", "1.2", "1.MIME"};
	struct mime_message *m = mime_message_parse(data, size);
	if (m == NULL)
		return 0;
	check_tree(m);
	size_t n;
	char *s = render_envelope(m, &n);
	if (s != NULL && !imap_syntax_ok(s, n))
		abort();
	free(s);
	for (int ext = 0; ext < 2; ext++) {
		s = render_bodystructure(m, ext, &n);
		if (s != NULL && !imap_syntax_ok(s, n))
			abort();
		free(s);
	}
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		unsigned char *out = NULL;
		int rc = render_section(m, sections[i], &out, &n);
		if (rc == 0 && (out == NULL || memchr(out, '\0', n) != NULL))
			abort();
		free(out);
	}
	for (size_t i = 0; i < sizeof(binaries) / sizeof(binaries[0]); i++) {
		unsigned char *out = NULL;
		(void)render_binary(m, binaries[i], &out, &n);
		free(out);
	}
	(void)render_search_header(m, "subject", "a");
	(void)render_search_header(m, "from", "");
	(void)render_search_body(m, "e");
	(void)render_search_text(m, "\xc3\xa9");
	(void)render_date(m);
	mime_message_free(&m);
	return 0;
}
