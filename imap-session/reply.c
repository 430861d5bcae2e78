/*
 * reply.c — what every command of imap-session shares: the tagged reply's
 * text (verdict), strings, flags and mailbox names written for the client,
 * and a mailbox-name argument turned into a name and a directory. It
 * calls nothing above it: the command files, the untagged updates
 * (report.c) and the command loop (imap-session.c) call down to it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap.h"
#include "mailname.h"
#include "path.h"
#include "render.h"

int
strf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

enum verdict
verdict(struct imap *im, enum verdict v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(im->text, sizeof im->text, fmt, ap);
	va_end(ap);
	return v;
}

/* ---- output ---- */

/* Quoted or literal by render_string's rule, the one for every IMAP
 * string imap-session sends. */
void
out_string(struct io *io, const char *s, size_t len)
{
	/* room for the escapes or the literal's header: it always fits */
	struct buf b = BUF_INIT(len < SIZE_MAX / 2 - 32 ? 2 * len + 32 : SIZE_MAX);
	render_string(&b, s, len);
	if (b.err != 0)
		io->write_failed = 1; /* no reply rather than a malformed one */
	else
		io_write(io, b.s, b.len);
	buf_free(&b);
}

void
out_nstring(struct io *io, const char *s, size_t len)
{
	if (s == NULL)
		io_puts(io, "NIL");
	else
		out_string(io, s, len);
}

void
out_astring(struct io *io, const char *s)
{
	size_t n = strlen(s);
	int atom = n > 0 && strcasecmp(s, "NIL") != 0;
	for (size_t i = 0; atom && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			atom = 0;
	}
	if (atom)
		io_puts(io, s);
	else
		out_string(io, s, n);
}

void
out_mailbox(struct imap *im, const char *name)
{
	char buf[MAILNAME_MAX * 3];
	if (mailname_to_client(name, im->utf8, buf, sizeof buf) != 0)
		snprintf(buf, sizeof buf, "%s", name);
	out_astring(&im->io, buf);
}

void
out_flags(struct imap *im, unsigned flags, uint32_t keywords)
{
	static const struct { unsigned f; const char *name; } names[] = {
		{ FL_ANSWERED, "\\Answered" }, { FL_FLAGGED, "\\Flagged" },
		{ FL_DELETED, "\\Deleted" }, { FL_SEEN, "\\Seen" }, { FL_DRAFT, "\\Draft" },
		{ FL_RECENT, "\\Recent" },
	};
	const char *sep = "";
	io_puts(&im->io, "(");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!(flags & names[i].f) || (names[i].f == FL_RECENT && im->rev2))
			continue;
		io_printf(&im->io, "%s%s", sep, names[i].name);
		sep = " ";
	}
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		if ((keywords & (1u << i)) && im->sel && im->sel->kw[i]) {
			io_printf(&im->io, "%s%s", sep, im->sel->kw[i]);
			sep = " ";
		}
	io_puts(&im->io, ")");
}

/* ---- mailbox names ---- */

int
imap_mailbox_dir(struct imap *im, const char *name, char *dir, size_t dsize)
{
	char disk[MAILNAME_MAX * 3];
	if (mailname_to_disk(name, disk, sizeof disk) != 0)
		return -1;
	return disk[0] ? path_join(dir, dsize, im->root, disk, NULL)
		       : path_printf(dir, dsize, "%s", im->root);
}

int
imap_mailbox_arg(struct imap *im, const struct imap_arg *a, char *name, size_t nsize,
    char *dir, size_t dsize)
{
	if (!arg_is_string(a) ||
	    mailname_from_client(a->str, a->len, im->utf8, name, nsize) != 0 ||
	    imap_mailbox_dir(im, name, dir, dsize) != 0) {
		verdict(im, V_NO, "[CANNOT] Invalid mailbox name");
		return -1;
	}
	return 0;
}
