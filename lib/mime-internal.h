/*
 * mime-internal.h — what lib/mime.c, mime-rfc822.c and mime-addr.c share:
 * the allocation arena of a parsed message, a scratch string buffer, and
 * the RFC 822 tokenizer (Dovecot's rfc822-parser semantics). Not for use
 * outside lib/mime*.c.
 */
#ifndef YUBIN_MIME_INTERNAL_H
#define YUBIN_MIME_INTERNAL_H

#include <stddef.h>

#include "buf.h"
#include "mime.h"

/* A NUL inside a header value, quoted string or comment becomes U+FFFD,
 * as Dovecot. */
#define NUL_REPLACEMENT "\xef\xbf\xbd"

/* Every allocation of a message, freed at once (at most MIME_ARENA_MAX). */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	unsigned char data[];
};

struct arena {
	struct arena_chunk *head;
	size_t total;
};

/* Zeroed memory from the arena, or NULL (ENOMEM). */
void *mime_arena_alloc(struct arena *a, size_t n);
char *mime_arena_strndup(struct arena *a, const void *s, size_t n);
void mime_arena_free(struct arena *a);

/* Tokenizer over [p, end). Functions return 1 when more input follows
 * (after skipping white space and comments), 0 at the end, -1 on a syntax
 * error, as Dovecot's. last_comment, if set, gets the last comment. */
struct mime_rfc822 {
	const unsigned char *p, *end;
	struct buf *last_comment;   /* NULL: comments are skipped */
};
int mime_rfc822_skip_lwsp(struct mime_rfc822 *r);
int mime_rfc822_parse_atom(struct mime_rfc822 *r, struct buf *out);
int mime_rfc822_parse_dot_atom(struct mime_rfc822 *r, struct buf *out);
int mime_rfc822_parse_mime_token(struct mime_rfc822 *r, struct buf *out);
int mime_rfc822_parse_quoted_string(struct mime_rfc822 *r, struct buf *out);
int mime_rfc822_parse_phrase(struct mime_rfc822 *r, struct buf *out);
/* At '@': the domain (dot-atom or [literal]). */
int mime_rfc822_parse_domain(struct mime_rfc822 *r, struct buf *out);
/* "type/subtype" (what could be read stays in out even when broken). */
int mime_rfc822_parse_content_type(struct mime_rfc822 *r, struct buf *out);

/* The ";name=value" parameters after a Content-Type or -Disposition value,
 * RFC 2231 continuations merged as Dovecot does; at most MIME_PARAMS_MAX.
 * Returns 0 or -1 (ENOMEM). */
int mime_params_parse(struct arena *a, struct mime_rfc822 *r, struct mime_param **out,
    size_t *count);

#endif
