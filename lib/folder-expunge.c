/*
 * folder-expunge.c — EXPUNGE (IMAP) and UPDATE (POP3): the messages
 * marked \Deleted leave the folder, on disk first, then from the view.
 */
#include "folder.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "durable.h"
#include "folder-int.h"
#include "maildir.h"
#include "path.h"

/* 1 if an expunge takes m, for both backends: marked \Deleted, not
 * already gone from disk (its removal not yet told), and accepted by
 * pick when there is one (UID EXPUNGE's set; NULL: every \Deleted). */
int
folder_picked(const struct fmsg *m, folder_pick_fn pick, void *arg)
{
	return (m->flags & FL_DELETED) && !m->gone && (pick == NULL || pick(arg, m->uid));
}

/* Maildir: each file unlinked, then cur/ and new/ synced once. */
int
mdf_expunge(struct folder *f, folder_pick_fn pick, void *arg)
{
	int failed = 0;
	for (size_t i = 0; i < f->n; i++) {
		struct fmsg *m = &f->m[i];
		if (!folder_picked(m, pick, arg))
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

int
folder_expunge(struct folder *f, folder_pick_fn pick, folder_gone_fn gone, void *arg)
{
	int r = f->ops->expunge(f, pick, arg);
	int e = errno;
	uint32_t *uids = calloc(f->n ? f->n : 1, sizeof *uids);
	size_t n = 0;
	/* also those another session expunged, not yet removed here */
	for (size_t i = f->n; i-- > 0;) {
		if (!f->m[i].gone)
			continue;
		if (uids != NULL)
			uids[n++] = f->m[i].uid;
		if (gone)
			gone(arg, i);
		folder_remove_gone(f, i);
	}
	/* HIGHESTMODSEQ rises with an expunge (best effort, folder-modseq.c) */
	if (uids != NULL)
		(void)folder_modseq_bump(f, uids, n);
	free(uids);
	errno = e;
	return r;
}
