/*
 * store-mbox-ops.c — an open mbox folder (folder.h): made here, read by
 * store-mbox.c, and its ops table (folder-int.h). Flag changes and
 * expunges stay in the session's view until folder_commit or
 * folder_expunge writes them, by the one rewrite (mboxf_flush).
 */
#include "folder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "folder-int.h"
#include "path.h"
#include "store-mbox.h"

int
mboxf_open(struct folder **f_r, const char *path, const char *name, int readonly)
{
	struct folder *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	f->readonly = readonly;
	f->ops = &folder_mbox_ops;
	snprintf(f->name, sizeof f->name, "%s", name);
	if (mboxf_load(f, path) != 0) {
		int e = errno;
		folder_close(&f);
		errno = e;
		return -1;
	}
	folder_modseq_sync(f);
	f->reported = f->n;
	f->new_messages = 0;
	*f_r = f;
	return 0;
}

/* Written by mboxf_flush() once the command is done (folder_commit). */
static int
mboxf_set_flags(struct folder *f, size_t idx, unsigned flags, uint32_t keywords)
{
	struct fmsg *m = &f->m[idx];
	m->flags = (m->flags & FL_RECENT) | (flags & ~FL_RECENT);
	m->keywords = keywords;
	m->mb_dirty = 1;
	f->mb_dirty = 1;
	return 0;
}

/* Both came with the file's scan. */
static int
mboxf_stat(struct folder *f, size_t idx, unsigned what)
{
	(void)f;
	(void)idx;
	(void)what;
	return 0;
}

/* A message is its place in the file; one read from a file replaced
 * since (mb_file) is not recorded. */
static size_t
mboxf_cache_key(const struct folder *f, size_t idx, char *key, size_t size)
{
	const struct fmsg *m = &f->m[idx];
	if (m->mb_file != 0)
		return 0;
	int n = snprintf(key, size, "mbox %llu %llu", (unsigned long long)m->mb_off,
	    (unsigned long long)m->mb_len);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* Beside the file's index: .<file>.yubin-<what>. */
static int
mboxf_state_path(const struct folder *f, const char *what, char *out, size_t size)
{
	const char *base = strrchr(f->mb_path, '/');
	return path_printf(out, size, "%s/.%s.yubin-%s", f->dir, base ? base + 1 : f->mb_path,
	    what);
}

/* mbox: flag changes reach the file (its one rewrite, or the index). */
int
mboxf_commit(struct folder *f)
{
	return f->mb_dirty ? mboxf_flush(f) : 0;
}

/* mbox: the file grows in place (delivery) or is renamed over (a
 * rewrite): its directory tells both. */
int
mboxf_watch(const struct folder *f, int fd)
{
	return inotify_add_watch(fd, f->dir, IN_MODIFY | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR) < 0
	    ? -1 : 0;
}

/* mbox: one rewrite drops them all, or none (mboxf_flush). */
int
mboxf_expunge(struct folder *f, folder_pick_fn pick, void *arg)
{
	size_t *marked = calloc(f->n ? f->n : 1, sizeof *marked), nm = 0;
	if (marked == NULL)
		return -1;
	for (size_t i = 0; i < f->n; i++)
		if (folder_picked(&f->m[i], pick, arg)) {
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

const struct folder_ops folder_mbox_ops = {
	.sync = mboxf_sync, .set_flags = mboxf_set_flags, .commit = mboxf_commit,
	.expunge = mboxf_expunge, .watch = mboxf_watch, .keyword = mboxf_keyword,
	.message = mboxf_message, .header = mboxf_header, .stat = mboxf_stat,
	.release = mboxf_release, .close = mboxf_close, .cache_key = mboxf_cache_key,
	.state_path = mboxf_state_path,
};
