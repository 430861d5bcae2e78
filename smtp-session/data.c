/*
 * data.c — SMTP content decoding: dot-unstuffing, the exact end-of-data
 * sequence, line-end normalisation and the hop count.
 */
#include "data.h"

#include <string.h>

static const char received[] = "received:";

void
data_init(struct data_reader *d, int chunking)
{
	memset(d, 0, sizeof *d);
	d->state = DATA_BOL;
	d->chunking = chunking;
	d->bol_after_crlf = 1;
	d->in_header = 1;
	d->header_match = 0;
	d->line_empty = 1;
}

/* Tracks header lines starting with "Received:" and the end of the header. */
static void
data_track_header(struct data_reader *d, unsigned char c)
{
	if (!d->in_header || d->header_match < 0)
		return;
	if (d->header_match < (int)sizeof received - 1) {
		unsigned char want = (unsigned char)received[d->header_match];
		if ((c | 0x20) == want || c == want) {
			if (++d->header_match == (int)sizeof received - 1)
				d->hops++;
		} else {
			d->header_match = -1;
		}
	}
}

static void
data_line_end(struct data_reader *d, int was_crlf)
{
	if (d->line_empty)
		d->in_header = 0;
	d->line_empty = 1;
	d->lines++;
	d->state = DATA_BOL;
	d->bol_after_crlf = was_crlf;
	d->header_match = 0;
}

/* One content byte in the middle of a line (state DATA_TEXT). */
static void
data_text(struct data_reader *d, unsigned char c, unsigned char *out, size_t *o)
{
	if (c == '\r') {
		d->state = DATA_CR;
		return;
	}
	if (c == '\n') {
		d->bare_lf++;
		out[(*o)++] = '\n';
		data_line_end(d, 0);
		return;
	}
	if (c == '\0')
		d->nul++;
	if (d->in_header)
		d->header_bytes++;
	data_track_header(d, c);
	out[(*o)++] = c;
	d->line_empty = 0;
	d->state = DATA_TEXT;
}

size_t
data_feed(struct data_reader *d, const unsigned char *in, size_t len,
    unsigned char *out, size_t *out_len_r)
{
	size_t i, o = 0;
	for (i = 0; i < len && !d->done; i++) {
		unsigned char c = in[i];
		switch (d->state) {
		case DATA_BOL:
			if (c == '.' && !d->chunking) {
				d->state = DATA_DOT;
				break;
			}
			data_text(d, c, out, &o);
			break;
		case DATA_DOT:
			/* The stuffed dot is dropped whatever follows it. */
			if (c == '\r' && d->bol_after_crlf) {
				d->state = DATA_DOT_CR;
				break;
			}
			d->state = DATA_TEXT;
			data_text(d, c, out, &o);
			break;
		case DATA_DOT_CR:
			if (c == '\n') {
				d->done = 1;
				break;
			}
			/* ".\r" then something else: the CR was bare. */
			d->bare_cr++;
			out[o++] = ' ';
			d->line_empty = 0;
			d->state = DATA_TEXT;
			data_text(d, c, out, &o);
			break;
		case DATA_CR:
			if (c == '\n') {
				out[o++] = '\n';
				data_line_end(d, 1);
				break;
			}
			d->bare_cr++;
			out[o++] = ' ';
			d->line_empty = 0;
			d->state = DATA_TEXT;
			data_text(d, c, out, &o);
			break;
		case DATA_TEXT:
			data_text(d, c, out, &o);
			break;
		}
	}
	*out_len_r = o;
	return i;
}

size_t
data_finish(struct data_reader *d, unsigned char *out)
{
	if (d->state == DATA_CR) {
		d->bare_cr++;
		out[0] = ' ';
		d->state = DATA_TEXT;
		return 1;
	}
	return 0;
}
