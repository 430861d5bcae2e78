/*
 * milter.h — the Sendmail milter protocol (version 6, as libmilter and
 * Postfix speak it), MTA side: building the packets we send and parsing
 * the ones a filter sends back. No I/O here: the caller writes what the
 * builder made and feeds what it read to the parser.
 *
 * A packet is a 4-byte length in network order, then a command byte and
 * length - 1 bytes of data. Strings inside are NUL-terminated.
 *
 *	struct buf b = BUF_INIT(MILTER_PACKET_MAX + 4);
 *	milter_pkt_begin(&b, MILTER_CMD_HELO);
 *	milter_pkt_str(&b, "client.example");
 *	milter_pkt_end(&b);              // b.s, b.len: one whole packet
 *
 *	struct milter_parser p;
 *	milter_parser_init(&p);
 *	st = milter_parser_feed(&p, in, len, &used);   // MORE, DONE or BAD
 *	if (st == MILTER_DONE) milter_reply_decode(&p, &msg);
 */
#ifndef YUBIN_MILTER_H
#define YUBIN_MILTER_H

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "buf.h"

/* Commands, MTA to filter (libmilter's SMFIC_*). */
#define MILTER_CMD_ABORT   'A'
#define MILTER_CMD_BODY    'B'
#define MILTER_CMD_CONNECT 'C'
#define MILTER_CMD_MACRO   'D'
#define MILTER_CMD_BODYEOB 'E'
#define MILTER_CMD_HELO    'H'
#define MILTER_CMD_QUIT_NC 'K'
#define MILTER_CMD_HEADER  'L'
#define MILTER_CMD_MAIL    'M'
#define MILTER_CMD_EOH     'N'
#define MILTER_CMD_OPTNEG  'O'
#define MILTER_CMD_QUIT    'Q'
#define MILTER_CMD_RCPT    'R'
#define MILTER_CMD_DATA    'T'

/* Replies, filter to MTA (SMFIR_*). */
#define MILTER_R_ADDRCPT     '+'
#define MILTER_R_DELRCPT     '-'
#define MILTER_R_ADDRCPT_PAR '2'
#define MILTER_R_SHUTDOWN    '4'
#define MILTER_R_ACCEPT      'a'
#define MILTER_R_REPLBODY    'b'
#define MILTER_R_CONTINUE    'c'
#define MILTER_R_DISCARD     'd'
#define MILTER_R_CHGFROM     'e'
#define MILTER_R_CONN_FAIL   'f'
#define MILTER_R_ADDHEADER   'h'
#define MILTER_R_INSHEADER   'i'
#define MILTER_R_SETSYMLIST  'l'
#define MILTER_R_CHGHEADER   'm'
#define MILTER_R_PROGRESS    'p'
#define MILTER_R_QUARANTINE  'q'
#define MILTER_R_REJECT      'r'
#define MILTER_R_SKIP        's'
#define MILTER_R_TEMPFAIL    't'
#define MILTER_R_REPLYCODE   'y'
/* OPTNEG's answer carries the same command byte as the question. */
#define MILTER_R_OPTNEG      'O'

/* Actions a filter may ask for (SMFIF_*). */
#define MILTER_ACT_ADDHDRS    0x001u
#define MILTER_ACT_CHGBODY    0x002u
#define MILTER_ACT_ADDRCPT    0x004u
#define MILTER_ACT_DELRCPT    0x008u
#define MILTER_ACT_CHGHDRS    0x010u
#define MILTER_ACT_QUARANTINE 0x020u
#define MILTER_ACT_CHGFROM    0x040u
#define MILTER_ACT_ADDRCPT_PAR 0x080u
#define MILTER_ACT_SETSYMLIST 0x100u
#define MILTER_ACT_ALL        0x1ffu

/* Protocol steps a filter may skip or not answer (SMFIP_*). */
#define MILTER_P_NOCONNECT  0x000001u
#define MILTER_P_NOHELO     0x000002u
#define MILTER_P_NOMAIL     0x000004u
#define MILTER_P_NORCPT     0x000008u
#define MILTER_P_NOBODY     0x000010u
#define MILTER_P_NOHDRS     0x000020u
#define MILTER_P_NOEOH      0x000040u
#define MILTER_P_NR_HDR     0x000080u
#define MILTER_P_NOUNKNOWN  0x000100u
#define MILTER_P_NODATA     0x000200u
#define MILTER_P_SKIP       0x000400u
#define MILTER_P_RCPT_REJ   0x000800u
#define MILTER_P_NR_CONN    0x001000u
#define MILTER_P_NR_HELO    0x002000u
#define MILTER_P_NR_MAIL    0x004000u
#define MILTER_P_NR_RCPT    0x008000u
#define MILTER_P_NR_DATA    0x010000u
#define MILTER_P_NR_UNKN    0x020000u
#define MILTER_P_NR_EOH     0x040000u
#define MILTER_P_NR_BODY    0x080000u
#define MILTER_P_HDR_LEADSPC 0x100000u
/* What we offer: every step may be skipped or left unanswered, SKIP and
 * leading spaces are understood; rejected recipients are never sent
 * (no RCPT_REJ), and larger data sizes (MDS_*) are never offered. */
#define MILTER_P_OFFER      0x1ff7ffu

#define MILTER_VERSION 6

/* Address families in CONNECT (SMFIA_*). */
#define MILTER_FAMILY_UNKNOWN 'U'
#define MILTER_FAMILY_UNIX    'L'
#define MILTER_FAMILY_INET    '4'
#define MILTER_FAMILY_INET6   '6'

/* Building a packet into b (a struct buf with a ceiling of at least
 * MILTER_PACKET_MAX + 4). Each returns 0 or -1 with errno (E2BIG past
 * the ceiling); a failure sticks in b, so one check at the end serves. */
int milter_pkt_begin(struct buf *b, char cmd);
int milter_pkt_u32(struct buf *b, uint32_t v);
int milter_pkt_u16(struct buf *b, uint16_t v);
int milter_pkt_byte(struct buf *b, char c);
/* A NUL-terminated string; a string holding a NUL is cut there. */
int milter_pkt_str(struct buf *b, const char *s);
int milter_pkt_bytes(struct buf *b, const void *p, size_t n);
/* Writes the length of the packet begun last; b->len then ends it.
 * -1 (E2BIG) when the packet exceeds MILTER_PACKET_MAX. */
int milter_pkt_end(struct buf *b);

enum milter_status { MILTER_MORE, MILTER_DONE, MILTER_BAD };

/* One reply packet being read. data (malloc'd, NUL-terminated beyond len)
 * is valid from DONE until the next feed or free. */
struct milter_parser {
	unsigned char head[4];
	size_t head_got;
	uint32_t len;          /* command byte + data, from the header */
	size_t got;            /* of len */
	int done;
	unsigned char cmd;
	unsigned char *data;   /* len - 1 bytes once done */
	size_t data_len;
	size_t data_cap;
};

void milter_parser_init(struct milter_parser *p);
void milter_parser_free(struct milter_parser *p);
/* Feeds bytes; *used_r says how many were taken (bytes after a complete
 * packet are left for the next call). MILTER_BAD: a length of zero or
 * over MILTER_PACKET_MAX, an unknown reply code, or no memory; the
 * stream cannot be resynchronised after it. */
enum milter_status milter_parser_feed(struct milter_parser *p, const unsigned char *in,
    size_t len, size_t *used_r);

/* A decoded reply: pointers into the parser's data. */
struct milter_msg {
	unsigned char cmd;
	uint32_t version, actions, protocol;   /* OPTNEG */
	uint32_t index;                        /* INSHEADER, CHGHEADER */
	const char *s1;    /* header name, recipient, sender, REPLYCODE text, reason */
	const char *s2;    /* header value, ESMTP arguments (or NULL) */
	const unsigned char *body;             /* REPLBODY */
	size_t body_len;
};

/* Checks the shape of the reply the parser holds (strings terminated,
 * numbers present, header names legal). 0, or -1 (malformed). */
int milter_reply_decode(const struct milter_parser *p, struct milter_msg *m);

/* A REPLYCODE text "550 5.7.1 text" (first line of a multi-line reply)
 * split and sanitised: code 4xx or 5xx, enh "x.y.z" or "" when absent,
 * text printable ASCII only, cut to size. 0, or -1 (not a 4xx/5xx). */
int milter_replycode_parse(const char *s, int *code_r, char *enh, size_t enh_size,
    char *text, size_t text_size);

/* "unix:/path" or "inet:host:port" (also "inet:[v6addr]:port", and
 * "local:" as unix). Fills the parts; 0, or -1 if malformed. */
int milter_endpoint_parse(const char *spec, int *unix_r, char *where, size_t where_size,
    char *port, size_t port_size);

#endif
