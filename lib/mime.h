/*
 * mime.h — MIME message parser (RFC 2045-2049, RFC 2231 parameters, RFC 2047
 * encoded words, RFC 5322 addresses and dates) behind IMAP ENVELOPE,
 * BODYSTRUCTURE, BODY[section], BINARY, SEARCH and bounces.
 *
 * mime_message_parse() builds a tree of parts over the caller's bytes; it
 * never copies the message, so the caller keeps data alive until
 * mime_message_free(). The part boundaries, sizes and line counts follow
 * Dovecot's message parser, so IMAP output matches Dovecot byte for byte.
 *
 * Bounded (S38), as Dovecot: past MIME_DEPTH_MAX nesting a multipart or
 * message/rfc822 part becomes one opaque application/octet-stream leaf;
 * past MIME_PARTS_MAX parts the last part takes the rest of the message.
 * Beyond Dovecot: MIME_HEADERS_MAX header fields indexed per part,
 * MIME_PARAMS_MAX parameters per field, MIME_ADDRESSES_MAX addresses per
 * field, MIME_ARENA_MAX bytes of tree. Time is linear in the input.
 *
 * The code: mime.c (part tree, Content-* fields, section numbers),
 * mime-rfc822.c (arena, tokenizer, RFC 2231), mime-addr.c (addresses),
 * mime-decode.c (RFC 2047, transfer encodings, charsets, dates).
 */
#ifndef YUBIN_MIME_H
#define YUBIN_MIME_H

#include <stddef.h>
#include <time.h>

/* One "name=value" of Content-Type or Content-Disposition with RFC 2231
 * continuations merged as Dovecot does ("name*" keeps the charset'lang'
 * prefix and %-encoding). Both strings are NUL-terminated. */
struct mime_param {
	const char *name;
	const char *value;
};

/* One header field. name and value point into the message; value starts
 * after the colon and the white space that follows it, and ends before the
 * final line end; continuation lines are still inside (folded). */
struct mime_header {
	const unsigned char *name;
	size_t name_len;
	const unsigned char *value;
	size_t value_len;
};

enum mime_part_flags {
	MIME_PART_MULTIPART = 1 << 0,
	MIME_PART_RFC822 = 1 << 1,    /* message/rfc822: one child, the message */
	MIME_PART_TEXT = 1 << 2,
	MIME_PART_IS_MIME = 1 << 3,   /* Content-* headers count */
	MIME_PART_DIGEST = 1 << 4,    /* multipart/digest: children default to message/rfc822 */
};

/* A node of the tree. Offsets index the top-level message bytes. "vsize" is
 * the size with every bare LF counted as CRLF (what IMAP reports); "lines"
 * counts LFs. Strings are NUL-terminated, owned by the message, NULL where
 * the header is absent. */
struct mime_part {
	struct mime_part *parent;
	struct mime_part *children;   /* multipart parts, or the message of message/rfc822 */
	struct mime_part *next;       /* next sibling */
	unsigned int flags;           /* enum mime_part_flags */
	unsigned int truncated;       /* past MIME_DEPTH_MAX: an opaque leaf */

	size_t hdr_off, hdr_len, hdr_vsize, hdr_lines; /* header incl. the empty line */
	size_t body_off, body_len, body_vsize, body_lines;

	struct mime_header *headers;  /* in order; at most MIME_HEADERS_MAX */
	size_t hdr_count;

	/* From the Content-* headers, as Dovecot keeps them: type and subtype
	 * as written (NULL: text/plain); the other values raw (folded). */
	const char *type, *subtype;
	struct mime_param *params;
	size_t param_count;
	const char *id, *description, *encoding, *md5, *location;
	const char **language;        /* language_count atoms */
	size_t language_count;
	const char *disposition;
	struct mime_param *disp_params;
	size_t disp_param_count;

	/* private to the parser */
	struct mime_part *last_child;
	unsigned int nested_counted;
};

/* A parsed message. */
struct mime_message {
	const unsigned char *data;
	size_t len;
	struct mime_part *root;
	void *arena;                  /* private: every allocation of the tree */
};

/* Parses data (a whole message, CRLF line ends, bare LF tolerated).
 * Returns the tree, or NULL only on ENOMEM. Keeps pointers into data. */
struct mime_message *mime_message_parse(const unsigned char *data, size_t len);
/* Bytes the tree takes (its arena), for tests of the S38 bounds. */
size_t mime_message_memory(const struct mime_message *m);
/* Frees the tree (not data); safe on NULL; sets *m to NULL. */
void mime_message_free(struct mime_message **m);

/* Part by IMAP section number ("1.2.3"; "" = the message itself): inside a
 * message/rfc822 part numbers continue into the enclosed message, and part
 * 1 of a non-multipart message is its body. Returns NULL if absent. A
 * message/rfc822 part is returned as itself (its child is the message). */
const struct mime_part *mime_part_find(const struct mime_message *m, const char *section,
    const char **rest_r);

/* The next field of a top-level header data[*pos, n) split as the parser
 * splits it (name and value as in struct mime_header): 1 with *h set and
 * *pos past the field, 0 at the empty line or the end. For one look at a
 * field without a whole parse. */
int mime_header_next(const unsigned char *data, size_t n, size_t *pos, struct mime_header *h);
/* First (last: mime_header_last) header field named name (case-insensitive). */
const struct mime_header *mime_header_find(const struct mime_part *p, const char *name);
const struct mime_header *mime_header_last(const struct mime_part *p, const char *name);

/* Parameter lookup (case-insensitive name), or NULL. */
const char *mime_param_get(const struct mime_param *params, size_t n, const char *name);

/* An address of an address-list header, as Dovecot's parser yields it: a
 * group is a start entry (mailbox = group name, domain NULL) then its
 * members, then an end entry (all NULL). Missing parts of a broken address
 * are "MISSING_MAILBOX" / "MISSING_DOMAIN", as Dovecot writes them. */
struct mime_address {
	struct mime_address *next;
	const char *name, *route, *mailbox, *domain;
};
/* Allocation pool for address lists: freed at once. */
struct mime_pool;
struct mime_pool *mime_pool_new(void);
void mime_pool_free(struct mime_pool **pool);
/* Parses an address-list header value (at most MIME_ADDRESSES_MAX entries)
 * into pool. *list_r is NULL for an empty value. Returns 0, or -1 on
 * ENOMEM. */
int mime_address_parse(struct mime_pool *pool, const unsigned char *value, size_t len,
    struct mime_address **list_r);

/* --- lib/mime-decode.c --- */

/* Decodes RFC 2047 encoded words of a header value into UTF-8 (unfolding
 * it; undecodable words stay as written; charsets as mime_charset_to_utf8).
 * Malloc'd, NUL-terminated, *len_r bytes; NULL on ENOMEM. */
char *mime_decode_header(const unsigned char *value, size_t len, size_t *len_r);

/* Content-Transfer-Encoding decoding of body bytes with the encoding named
 * by enc (NULL: 7bit). Returns 0 and a malloc'd buffer in *out (*len_r
 * bytes), 1 when the encoding is unknown or the data is broken (base64
 * outside its alphabet or after padding, quoted-printable '=' not followed
 * by two hex digits or a line end: what Dovecot refuses), -1 on ENOMEM.
 * With strict 0, broken data is decoded as well as it can be (SEARCH).
 * 7bit, 8bit and binary give the bytes unchanged. */
int mime_decode_cte(const char *enc, const unsigned char *in, size_t len, int strict,
    unsigned char **out, size_t *len_r);

/* Text in charset to UTF-8 (utf-8, us-ascii, iso-8859-1, iso-8859-15 and
 * windows-1252 directly, others through iconv; a charset iconv does not
 * know is copied as is). Malloc'd, NUL-terminated; NULL on ENOMEM. */
char *mime_charset_to_utf8(const char *charset, const unsigned char *in, size_t len,
    size_t *len_r);

/* RFC 5322 date (obsolete forms, zone names, missing seconds or weekday) to
 * time_t; -1 if it does not parse. */
time_t mime_parse_date(const unsigned char *s, size_t len);

#endif
