/*
 * data.h — the SMTP DATA and BDAT content decoder. It never reads: the
 * caller feeds bytes and gets back how many were consumed, the decoded
 * content (LF line ends, dot-unstuffed), and whether the end was reached.
 *
 * End of DATA is exactly CRLF "." CRLF, where the first CRLF may be the one
 * that ended the DATA command. A bare LF or bare CR never ends a message and
 * never ends it early (S1–S4); each is counted so the caller can apply its
 * policy. In normalise mode a bare LF is a line end and a bare CR becomes a
 * space, so no stray CR reaches storage or, later, another server (S8).
 */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

enum data_state { DATA_BOL, DATA_TEXT, DATA_CR, DATA_DOT, DATA_DOT_CR };

struct data_reader {
	enum data_state state;
	int chunking;          /* BDAT: no dot handling, no terminator */
	int bol_after_crlf;    /* the current line began after a real CRLF */
	int line_empty;        /* nothing but a line end so far on this line */
	int done;              /* end of DATA consumed */
	int in_header;         /* still in the header block */
	int header_match;      /* chars of "received:" matched on this line; -1 none */
	unsigned hops;         /* Received: headers seen */
	uint64_t bare_lf, bare_cr, nul;
	uint64_t lines;
	uint64_t header_bytes;  /* decoded bytes of the header block */
};

void data_init(struct data_reader *d, int chunking);
/* Decodes up to len bytes of in. Decoded bytes go to out, which must hold
 * at least len + 1 bytes: decoding never grows the data, but a CR held back
 * at the end of the previous call may come out (as a space) with this
 * call's first byte. *out_len_r is set.
 * Returns the number of input bytes consumed: all of them, unless the end
 * of DATA was reached, in which case d->done is set and the bytes after the
 * terminator are left unconsumed (they are the next commands). */
size_t data_feed(struct data_reader *d, const unsigned char *in, size_t len,
    unsigned char *out, size_t *out_len_r);
/* BDAT LAST: flushes a pending CR (a bare CR at the very end). Returns the
 * number of bytes written to out (0 or 1). */
size_t data_finish(struct data_reader *d, unsigned char *out);

#endif
