/*
 * mime.h — MIME message parser (RFC 2045-2049, RFC 2231 parameters, RFC 2047
 * encoded words) behind IMAP ENVELOPE, BODYSTRUCTURE, BODY[section], BINARY,
 * SEARCH and bounces.
 *
 * mime_message_parse() builds a tree of parts over the caller's bytes; it
 * never copies the message, so the caller keeps data alive until
 * mime_message_free(). Parsing is bounded (S38): MIME_DEPTH_MAX nesting,
 * MIME_PARTS_MAX parts, MIME_HEADERS_MAX header fields per part,
 * MIME_PARAMS_MAX parameters per field; past a limit the rest of the
 * content is one opaque text/plain leaf. Time is linear in the input.
 *
 * Header values returned here are raw (unfolded but not decoded), as
 * ENVELOPE and BODYSTRUCTURE need them; mime_decode_*() decode for SEARCH.
 */
#ifndef YUBIN_MIME_H
#define YUBIN_MIME_H

#include <stddef.h>
#include <time.h>

/* One "name=value" of Content-Type or Content-Disposition, with RFC 2231
 * continuations merged. name is lower-case; value is unquoted. */
struct mime_param {
	const char *name;
	const char *value;
};

/* One header field: name and raw value point into the message bytes (the
 * value still folded, without the final CRLF). */
struct mime_header {
	const unsigned char *name;
	size_t name_len;
	const unsigned char *value;
	size_t value_len;
};

struct mime_message;

/* A node of the tree. Offsets are into the message bytes. Strings are
 * NUL-terminated, owned by the message, NULL where the header is absent. */
struct mime_part {
	struct mime_part *parent;
	struct mime_part *children;   /* multipart: first child */
	struct mime_part *next;       /* next sibling */
	struct mime_message *message; /* message/rfc822 (or global): the enclosed message */

	size_t hdr_off, hdr_len;      /* header block, including the empty line */
	size_t body_off, body_len;    /* body, excluding the CRLF before a boundary */
	size_t body_lines;            /* lines in the body (IMAP "size in lines") */
	size_t hdr_count;
	struct mime_header *headers;  /* hdr_count fields (bounded) */

	const char *type, *subtype;   /* as written, defaults "text" "plain" */
	struct mime_param *params;    /* Content-Type parameters */
	size_t param_count;
	const char *id, *description, *encoding, *md5, *location, *language;
	const char *disposition;
	struct mime_param *disp_params;
	size_t disp_param_count;

	unsigned int is_multipart : 1;
	unsigned int is_message : 1;  /* message/rfc822 with a parsed message */
	unsigned int has_content_type : 1;
	unsigned int truncated : 1;   /* a limit was hit: body is an opaque leaf */
};

/* A message (the top level or one inside message/rfc822): its root part's
 * headers are the message headers. */
struct mime_message {
	const unsigned char *data;    /* the whole top-level message */
	size_t len;
	struct mime_part *root;
	void *arena;                  /* private: allocations of the tree */
};

/* Parses data (whole message, CRLF line ends, bare LF tolerated). Returns
 * the tree, or NULL only on ENOMEM. The result keeps pointers into data. */
struct mime_message *mime_message_parse(const unsigned char *data, size_t len);
/* Frees the tree (not data); safe on NULL; sets *m to NULL. */
void mime_message_free(struct mime_message **m);

/* First header field named name (case-insensitive) of a part, or NULL. */
const struct mime_header *mime_header_find(const struct mime_part *p, const char *name);
/* The value of a header unfolded (CR/LF removed, leading white space
 * trimmed) into a malloc'd NUL-terminated string; NULL on ENOMEM. */
char *mime_header_unfold(const struct mime_header *h);

/* Parameter lookup (case-insensitive name), or NULL. */
const char *mime_param_get(const struct mime_param *params, size_t n, const char *name);

/* Decodes RFC 2047 encoded words of a header value into UTF-8 (charsets
 * utf-8, us-ascii, iso-8859-1, windows-1252, iso-8859-15; others copied
 * as is). Returns a malloc'd NUL-terminated string, *len_r bytes, NULL on
 * ENOMEM. */
char *mime_decode_header(const unsigned char *value, size_t len, size_t *len_r);

/* Content-Transfer-Encoding decoding of a part body. Returns 0 and a
 * malloc'd buffer in *out (*len_r bytes), 1 when the encoding is unknown or
 * the data is broken (base64 with bad characters), -1 on ENOMEM. 7bit,
 * 8bit, binary and absent encodings return the bytes unchanged. */
int mime_decode_body(const struct mime_part *p, const unsigned char *body, size_t len,
    unsigned char **out, size_t *len_r);

/* Converts text in charset to UTF-8 (utf-8, us-ascii, iso-8859-1/-15,
 * windows-1252 known; unknown charsets copied as is). Malloc'd result,
 * NULL on ENOMEM. */
unsigned char *mime_charset_to_utf8(const char *charset, const unsigned char *in, size_t len,
    size_t *len_r);

/* RFC 5322 date (with obsolete forms and zone names) to time_t, or -1. */
time_t mime_parse_date(const unsigned char *s, size_t len);

#endif
