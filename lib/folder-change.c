/*
 * folder-change.c — a folder's changes going out and coming in: commit
 * (what this session changed, durable before the reader says it is done)
 * and watch (what tells the reader that others changed it: IDLE).
 */
#include "folder.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/inotify.h>

#include "folder-int.h"
#include "path.h"

int
folder_commit(struct folder *f)
{
	if (f->ops->commit(f) != 0)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++)
		n += f->m[i].ms_dirty;
	if (n == 0)
		return 0;
	uint32_t *uids = malloc(n * sizeof *uids);
	for (size_t i = 0, k = 0; i < f->n; i++)
		if (f->m[i].ms_dirty) {
			f->m[i].ms_dirty = 0;
			if (uids != NULL)
				uids[k++] = f->m[i].uid;
		}
	/* best effort (folder-modseq.c): the flags are saved either way */
	if (uids != NULL)
		(void)folder_modseq_bump(f, uids, n);
	free(uids);
	return 0;
}

int
folder_watch(const struct folder *f, int fd)
{
	return f->ops->watch(f, fd);
}

/* Maildir: the renames of folder_set_flags, one fsync per directory. */
int
mdf_commit(struct folder *f)
{
	return folder_flags_durable(f);
}

/* Maildir: deliveries and moves land in new/ and cur/. */
int
mdf_watch(const struct folder *f, int fd)
{
	static const char *const subs[] = { "new", "cur" };
	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX];
		if (path_join(path, sizeof path, f->dir, subs[i], NULL) != 0 ||
		    inotify_add_watch(fd, path, IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
		    IN_ONLYDIR) < 0)
			return -1;
	}
	return 0;
}
