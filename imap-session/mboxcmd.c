/*
 * mboxcmd.c — the commands that differ for mailbox_format = mbox: only
 * INBOX exists (mail_root/d/u/INBOX, the file delivery appends to); its
 * state is mboxfolder.c's. EXPUNGE and APPEND rewrite or append to the
 * file under the delivery lock; flag changes are written after each
 * command (imap-session.c calls mboxf_flush before the tagged reply).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "log.h"

void
imap_mbox_path(struct imap *im, char *out, size_t size)
{
	snprintf(out, size, "%s/INBOX", im->root);
}

int
imap_mbox_expunge(struct imap *im, const struct seqset *uids, int report)
{
	struct folder *f = im->sel;
	size_t *marked = calloc(f->n ? f->n : 1, sizeof *marked), nm = 0;
	if (marked == NULL)
		return -1;
	for (size_t i = 0; i < f->n; i++) {
		struct fmsg *m = &f->m[i];
		if (!(m->flags & FL_DELETED) || m->gone || (uids && !seqset_contains(uids, m->uid)))
			continue;
		m->gone = 1;
		marked[nm++] = i;
	}
	int failed = 0;
	if (nm > 0 && mboxf_flush(f) != 0) {
		/* nothing was written: the messages are still there */
		log_err("user=%s mbox expunge: %s", im->user, strerror(errno));
		for (size_t k = 0; k < nm; k++)
			f->m[marked[k]].gone = 0;
		failed = 1;
	}
	free(marked);
	for (size_t i = f->n; i-- > 0;) {
		if (!f->m[i].gone)
			continue;
		if (report && i < f->reported)
			io_printf(&im->io, "* %zu EXPUNGE\r\n", i + 1);
		folder_remove_gone(f, i);
	}
	return failed ? -1 : 0;
}

enum verdict
imap_mbox_append(struct imap *im, const char *name, const char *data, size_t len, time_t when,
    unsigned flags, char *const *kwnames, size_t nkw)
{
	if (strcmp(name, "INBOX") != 0)
		return verdict(im, V_NO, "[TRYCREATE] Only INBOX is served from mbox");
	struct folder *tmp = NULL, *f = im->sel;
	if (f == NULL || !f->mbox) {
		char path[4200];
		imap_mbox_path(im, path, sizeof path);
		if (mboxf_open(&tmp, path, name, 1) != 0)
			return verdict(im, V_NO, "[UNAVAILABLE] Mailbox is busy or unreadable");
		f = tmp;
	}
	uint32_t kw = 0;
	for (size_t i = 0; i < nkw; i++) {
		int k = mboxf_keyword(f, kwnames[i], 1);
		if (k >= 0)
			kw |= 1u << k;
	}
	uint32_t uid;
	int r = mboxf_append(f, data, len, when, flags, kw, &uid);
	int e = errno;
	uint32_t validity = f->uidvalidity;
	folder_close(&tmp);
	if (r != 0) {
		log_err("user=%s APPEND to mbox: %s", im->user, strerror(e));
		return verdict(im, V_NO, "%s Cannot store message",
		    e == ENOSPC || e == EDQUOT ? "[OVERQUOTA]" : "[SERVERBUG]");
	}
	return verdict(im, V_OK, "[APPENDUID %u %u] APPEND completed", validity, uid);
}
