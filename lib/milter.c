/*
 * milter.c — the milter protocol codec: packet building, a byte-fed reply
 * parser with every length bounded, and the checks on each reply's shape.
 * What a reply means for a message is the program's business.
 */
#include "milter.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
milter_pkt_begin(struct buf *b, char cmd)
{
	static const char zero[4] = { 0 };
	buf_add(b, zero, 4);
	return buf_addc(b, cmd);
}

int
milter_pkt_u32(struct buf *b, uint32_t v)
{
	unsigned char n[4] = { v >> 24, v >> 16, v >> 8, v };
	return buf_add(b, n, 4);
}

int
milter_pkt_u16(struct buf *b, uint16_t v)
{
	unsigned char n[2] = { v >> 8, v };
	return buf_add(b, n, 2);
}

int
milter_pkt_byte(struct buf *b, char c)
{
	return buf_addc(b, c);
}

int
milter_pkt_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s) + 1);
}

int
milter_pkt_bytes(struct buf *b, const void *p, size_t n)
{
	return buf_add(b, p, n);
}

/* A buffer holds one packet: its length goes at offset 0. */
int
milter_pkt_end(struct buf *b)
{
	if (b->err) {
		errno = b->err;
		return -1;
	}
	if (b->len < 5 || b->len - 4 > MILTER_PACKET_MAX) {
		errno = E2BIG;
		return -1;
	}
	uint32_t n = (uint32_t)(b->len - 4);
	unsigned char *p = (unsigned char *)b->s;
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	return 0;
}

void
milter_parser_init(struct milter_parser *p)
{
	memset(p, 0, sizeof *p);
}

void
milter_parser_free(struct milter_parser *p)
{
	free(p->data);
	memset(p, 0, sizeof *p);
}

static int
reply_code_known(unsigned char c)
{
	return c != '\0' && strchr("+-24abcdefhilmpqrstyO", c) != NULL;
}

/* Header read: checks the length and sizes the data buffer. */
static enum milter_status
parser_head_done(struct milter_parser *p)
{
	p->len = (uint32_t)p->head[0] << 24 | (uint32_t)p->head[1] << 16 |
	    (uint32_t)p->head[2] << 8 | p->head[3];
	if (p->len == 0 || p->len > MILTER_PACKET_MAX)
		return MILTER_BAD;
	/* Grow to what this packet needs, never past the bound: a filter
	 * announcing a megabyte gets the megabyte only once it sends it. */
	if (p->data_cap < p->len) {
		unsigned char *grown = realloc(p->data, p->len);
		if (!grown)
			return MILTER_BAD;
		p->data = grown;
		p->data_cap = p->len;
	}
	p->got = 0;
	return MILTER_MORE;
}

enum milter_status
milter_parser_feed(struct milter_parser *p, const unsigned char *in, size_t len,
    size_t *used_r)
{
	size_t i = 0;
	if (p->done) {
		p->done = 0;
		p->head_got = 0;
		p->data_len = 0;
	}
	*used_r = 0;
	while (p->head_got < 4) {
		if (i == len)
			return MILTER_MORE;
		p->head[p->head_got++] = in[i++];
		*used_r = i;
		if (p->head_got == 4 && parser_head_done(p) == MILTER_BAD)
			return MILTER_BAD;
	}
	/* The command byte first, then data; data[len - 1] holds the NUL
	 * that keeps string scans inside the buffer. */
	while (p->got < p->len && i < len) {
		size_t want = p->len - p->got, have = len - i;
		size_t n = want < have ? want : have;
		if (p->got == 0) {
			p->cmd = in[i];
			if (!reply_code_known(p->cmd))
				return MILTER_BAD;
			i++;
			p->got++;
			continue;
		}
		memcpy(p->data + p->got - 1, in + i, n);
		i += n;
		p->got += n;
	}
	*used_r = i;
	if (p->got < p->len)
		return MILTER_MORE;
	p->data_len = p->len - 1;
	p->data[p->data_len] = '\0';
	p->done = 1;
	return MILTER_DONE;
}

static uint32_t
get_u32(const unsigned char *d)
{
	return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

/* The string at d[*off] ends inside the data; moves *off past its NUL. */
static const char *
take_str(const struct milter_parser *p, size_t *off)
{
	if (*off >= p->data_len)
		return NULL;
	const char *s = (const char *)p->data + *off;
	const char *nul = memchr(s, '\0', p->data_len - *off);
	if (!nul)
		return NULL;
	*off += (size_t)(nul - s) + 1;
	return s;
}

/* RFC 5322 §3.6.8 field name: printable ASCII but ':', at least one. */
static int
header_name_ok(const char *s)
{
	if (!*s || strlen(s) > MILTER_HEADER_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (*s < 33 || *s > 126 || *s == ':')
			return 0;
	return 1;
}

static int
decode_header(const struct milter_parser *p, struct milter_msg *m, int indexed)
{
	size_t off = 0;
	if (indexed) {
		if (p->data_len < 4)
			return -1;
		m->index = get_u32(p->data);
		off = 4;
	}
	m->s1 = take_str(p, &off);
	m->s2 = take_str(p, &off);
	if (!m->s1 || !m->s2 || off != p->data_len || !header_name_ok(m->s1))
		return -1;
	return 0;
}

/* One or two strings: an address (ADDRCPT, DELRCPT, CHGFROM) with
 * optional ESMTP arguments, a REPLYCODE or QUARANTINE text. */
static int
decode_strings(const struct milter_parser *p, struct milter_msg *m, int may_have_args)
{
	size_t off = 0;
	m->s1 = take_str(p, &off);
	if (!m->s1 || !*m->s1 || strlen(m->s1) > MILTER_STRING_MAX)
		return -1;
	if (may_have_args && off < p->data_len) {
		m->s2 = take_str(p, &off);
		if (!m->s2 || strlen(m->s2) > MILTER_STRING_MAX)
			return -1;
	}
	return off == p->data_len ? 0 : -1;
}

int
milter_reply_decode(const struct milter_parser *p, struct milter_msg *m)
{
	memset(m, 0, sizeof *m);
	if (!p->done)
		return -1;
	m->cmd = p->cmd;
	switch (p->cmd) {
	case MILTER_R_OPTNEG:
		/* Macro lists may follow the three numbers: ignored. */
		if (p->data_len < 12)
			return -1;
		m->version = get_u32(p->data);
		m->actions = get_u32(p->data + 4);
		m->protocol = get_u32(p->data + 8);
		return 0;
	case MILTER_R_ADDHEADER:
		return decode_header(p, m, 0);
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
		return decode_header(p, m, 1);
	case MILTER_R_ADDRCPT:
	case MILTER_R_DELRCPT:
		return decode_strings(p, m, 0);
	case MILTER_R_ADDRCPT_PAR:
	case MILTER_R_CHGFROM:
		return decode_strings(p, m, 1);
	case MILTER_R_REPLYCODE:
	case MILTER_R_QUARANTINE:
		return decode_strings(p, m, 0);
	case MILTER_R_REPLBODY:
		m->body = p->data;
		m->body_len = p->data_len;
		return 0;
	case MILTER_R_SETSYMLIST:
		return -1;   /* only valid inside OPTNEG's answer */
	default:
		/* accept, continue, discard, reject, tempfail, skip, progress,
		 * shutdown, conn_fail: no data expected, any ignored. */
		return 0;
	}
}

static void
copy_printable(char *out, size_t size, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (size)
		out[o] = '\0';
}

int
milter_replycode_parse(const char *s, int *code_r, char *enh, size_t enh_size,
    char *text, size_t text_size)
{
	if ((s[0] != '4' && s[0] != '5') || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || (s[3] != ' ' && s[3] != '-' && s[3] != '\0'))
		return -1;
	*code_r = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	const char *p = s[3] ? s + 4 : s + 3;
	size_t line = strcspn(p, "\r\n");
	/* An enhanced code of the same class: "5.7.1 ". */
	size_t e = 0;
	if (p[0] == s[0] && p[1] == '.') {
		e = 2;
		while (isdigit((unsigned char)p[e]) || p[e] == '.')
			e++;
		if (e >= enh_size || (p[e] != ' ' && p[e] != '\0' && p[e] != '\r' && p[e] != '\n'))
			e = 0;
	}
	copy_printable(enh, enh_size, p, e);
	p += e;
	line -= e < line ? e : line;
	while (*p == ' ' && line > 0) {
		p++;
		line--;
	}
	copy_printable(text, text_size, p, line);
	return 0;
}

static int
copy_part(char *out, size_t size, const char *s, size_t n)
{
	if (n == 0 || n >= size)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int
milter_endpoint_parse(const char *spec, int *unix_r, char *where, size_t where_size,
    char *port, size_t port_size)
{
	if (!strncmp(spec, "unix:", 5) || !strncmp(spec, "local:", 6)) {
		const char *path = strchr(spec, ':') + 1;
		*unix_r = 1;
		port[0] = '\0';
		return copy_part(where, where_size, path, strlen(path));
	}
	if (strncmp(spec, "inet:", 5) && strncmp(spec, "inet6:", 6))
		return -1;
	*unix_r = 0;
	const char *h = strchr(spec, ':') + 1, *colon;
	if (*h == '[') {
		const char *close = strchr(h, ']');
		if (!close || close[1] != ':')
			return -1;
		if (copy_part(where, where_size, h + 1, (size_t)(close - h - 1)) < 0)
			return -1;
		colon = close + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon || copy_part(where, where_size, h, (size_t)(colon - h)) < 0)
			return -1;
	}
	const char *ps = colon + 1;
	if (strspn(ps, "0123456789") != strlen(ps) || strlen(ps) > 5 || atoi(ps) < 1 || atoi(ps) > 65535)
		return -1;
	return copy_part(port, port_size, ps, strlen(ps));
}
