/*
 * fileline.c — bounded line reader for configuration-like files (see
 * fileline.h).
 *
 * A byte at a time under one stream lock: these files are small and read
 * rarely, and stdio buffers the reads. A CR is held back until the next
 * byte shows whether it ends the line, so a line that fits only without
 * its CR still fits.
 */
#include "fileline.h"

struct fileline {
	char *buf;
	size_t size, len;
	int toolong, nul;
};

/* Keeps c if it fits, notes what makes the line unusable either way. */
static void
fileline_keep(struct fileline *l, int c)
{
	if (c == '\0')
		l->nul = 1;
	if (l->len < l->size - 1)
		l->buf[l->len++] = (char)c;
	else
		l->toolong = 1;
}

enum fileline_status
fileline_read(FILE *f, char *buf, size_t size, size_t *len_r)
{
	struct fileline l = { buf, size, 0, 0, 0 };
	int c, cr = 0, any = 0;
	flockfile(f);
	while ((c = getc_unlocked(f)) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		if (cr)
			fileline_keep(&l, '\r');
		cr = c == '\r';
		if (!cr)
			fileline_keep(&l, c);
	}
	if (cr && c == EOF) /* a CR just before the end of the file ends no line */
		fileline_keep(&l, '\r');
	int err = c == EOF && ferror_unlocked(f);
	funlockfile(f);
	buf[l.len] = '\0';
	if (len_r != NULL)
		*len_r = l.len;
	if (err)
		return FILELINE_ERROR; /* errno from the failed read */
	if (!any)
		return FILELINE_EOF;
	if (l.toolong)
		return FILELINE_TOOLONG;
	return l.nul ? FILELINE_NUL : FILELINE_OK;
}
