/*
 * folder-expunge.c — EXPUNGE (IMAP) and UPDATE (POP3): the messages
 * marked \Deleted leave the folder, on disk first, then from the view.
 */
#include "folder.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "durable.h"
#include "maildir.h"
#include "path.h"

/* 1 if message m is to go. */
static int
picked(const struct fmsg *m, folder_pick_fn pick, void *arg)
{
	return (m->flags & FL_DELETED) && !m->gone && (pick == NULL || pick(arg, m->uid));
}

/* Maildir: each file unlinked, then cur/ and new/ synced once. */
static int
maildir_expunge(struct folder *f, folder_pick_fn pick, void *arg)
{
	int failed = 0;
	for (size_t i = 0; i < f->n; i++) {
		struct fmsg *m = &f->m[i];
		if (!picked(m, pick, arg))
			continue;
		if (maildir_remove(f->dir, &m->e) == 0 || errno == ENOENT)
			m->gone = 1;
		else
			failed = 1;
	}
	char sub[PATH_MAX];
	if (path_join(sub, sizeof sub, f->dir, "cur", NULL) != 0 || durable_fsync_dir(sub) != 0)
		failed = 1;
	if (path_join(sub, sizeof sub, f->dir, "new", NULL) != 0 || durable_fsync_dir(sub) != 0)
		failed = 1;
	return failed ? -1 : 0;
}

/* mbox: one rewrite drops them all, or none (mboxf_flush). */
static int
mbox_expunge(struct folder *f, folder_pick_fn pick, void *arg)
{
	size_t *marked = calloc(f->n ? f->n : 1, sizeof *marked), nm = 0;
	if (marked == NULL)
		return -1;
	for (size_t i = 0; i < f->n; i++)
		if (picked(&f->m[i], pick, arg)) {
			f->m[i].gone = 1;
			marked[nm++] = i;
		}
	int r = 0;
	if (nm > 0 && mboxf_flush(f) != 0) {
		/* nothing was written: the messages are still there */
		int e = errno;
		for (size_t k = 0; k < nm; k++)
			f->m[marked[k]].gone = 0;
		errno = e;
		r = -1;
	}
	free(marked);
	return r;
}

int
folder_expunge(struct folder *f, folder_pick_fn pick, folder_gone_fn gone, void *arg)
{
	int r = f->mbox ? mbox_expunge(f, pick, arg) : maildir_expunge(f, pick, arg);
	int e = errno;
	/* also those another session expunged, not yet removed here */
	for (size_t i = f->n; i-- > 0;) {
		if (!f->m[i].gone)
			continue;
		if (gone)
			gone(arg, i);
		folder_remove_gone(f, i);
	}
	errno = e;
	return r;
}
