/*
 * report.c — the untagged updates of the selected folder after a command:
 * EXPUNGE (where the command allows it), EXISTS, RECENT, FLAGS when a
 * keyword is new, FETCH FLAGS of changed messages, and the ESEARCH of
 * UPDATE contexts (search-update.c) in their places among them. It writes
 * with reply.c's helpers, which call nothing above them.
 */
#include <errno.h>
#include <string.h>

#include "imap.h"
#include "log.h"

static void
out_flag_list(struct imap *im, int permanent)
{
	struct folder *f = im->sel;
	io_puts(&im->io, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		if (f->kw[i])
			io_printf(&im->io, " %s", f->kw[i]);
	io_puts(&im->io, permanent ? " \\*)" : ")");
}

void
imap_announce_keywords(struct imap *im, int always)
{
	struct folder *f = im->sel;
	if (f == NULL)
		return;
	uint32_t have = 0;
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		if (f->kw[i])
			have |= 1u << i;
	if (!always && (have & ~f->kw_announced) == 0)
		return;
	f->kw_announced = have;
	io_puts(&im->io, "* FLAGS ");
	out_flag_list(im, 0);
	io_puts(&im->io, "\r\n* OK [PERMANENTFLAGS ");
	if (f->readonly)
		io_puts(&im->io, "()");
	else
		out_flag_list(im, 1);
	io_puts(&im->io, "] Flags permitted\r\n");
}

void
imap_report(struct imap *im, int allow_expunge)
{
	struct folder *f = im->sel;
	if (f == NULL)
		return;
	if (folder_sync(f) != 0)
		log_warn("user=%s sync of %s failed: %s", im->user, f->name, strerror(errno));
	/* Messages that came and went before the client heard of them are
	 * dropped silently: no sequence number of a known message changes. */
	for (size_t i = f->n; i-- > f->reported;)
		if (f->m[i].gone)
			folder_remove_gone(f, i);
	if (allow_expunge) {
		search_update_expunged(im);
		for (size_t i = f->n; i-- > 0;) {
			if (!f->m[i].gone)
				continue;
			io_printf(&im->io, "* %zu EXPUNGE\r\n", i + 1);
			folder_remove_gone(f, i);
		}
	}
	if (f->n != f->reported || f->new_messages) {
		if (f->n >= f->reported) {
			io_printf(&im->io, "* %zu EXISTS\r\n", f->n);
			if (!im->rev2)
				io_printf(&im->io, "* %zu RECENT\r\n", f->recent);
		}
		f->reported = f->n;
		f->new_messages = 0;
	}
	imap_announce_keywords(im, 0);
	for (size_t i = 0; i < f->n; i++) {
		struct fmsg *m = &f->m[i];
		if (!m->changed || m->gone)
			continue;
		m->changed = 0;
		io_printf(&im->io, "* %zu FETCH (", i + 1);
		if (im->uid_command)
			io_printf(&im->io, "UID %u ", m->uid);
		io_puts(&im->io, "FLAGS ");
		out_flags(im, m->flags, m->keywords);
		if (im->condstore)
			condstore_out_modseq(im, m, " ");
		io_puts(&im->io, ")\r\n");
	}
	search_update_report(im);
}
