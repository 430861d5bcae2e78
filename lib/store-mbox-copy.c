/*
 * store-mbox-copy.c — APPEND, COPY and MOVE into an mbox folder (store.h):
 * the messages appended under one lock, all or none (mboxf_append_many),
 * so a failure leaves the file as it was and a retry does not double
 * them. MOVE then drops them from the source by its one rewrite.
 */
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "store-mbox.h"

/* The target: the caller's open folder if it is that file, else opened
 * here (*tmp_r, to be closed). NULL (errno EBUSY) if it cannot be. */
static struct folder *
target_open(struct store *s, const char *name, struct folder *open, struct folder **tmp_r)
{
	char path[PATH_MAX];
	*tmp_r = NULL;
	if (store_mbox_file(s, name, path, sizeof path) != 0)
		return NULL;
	if (open != NULL && strcmp(open->mb_path, path) == 0)
		return open;
	if (mboxf_open(tmp_r, path, name, 1) != 0) {
		errno = EBUSY;
		return NULL;
	}
	return *tmp_r;
}

/* The messages of an APPEND, for mboxf_append_many. */
struct append_source {
	const struct store_new *v;
	const uint32_t *kw;
};

static int
append_source_get(void *ctx, size_t i, struct mboxf_new *m)
{
	const struct append_source *src = ctx;
	m->data = src->v[i].data;
	m->len = src->v[i].len;
	m->when = src->v[i].when;
	m->flags = src->v[i].flags;
	m->keywords = src->kw[i];
	return 0;
}

int
store_mbox_append(struct store *s, const char *name, struct folder *open,
    const struct store_new *v, size_t n, uint32_t *uids_r, uint32_t *validity_r)
{
	uint32_t *kw = calloc(n ? n : 1, sizeof *kw);
	struct folder *tmp, *f;
	if (kw == NULL)
		return -1;
	if ((f = target_open(s, name, open, &tmp)) == NULL) {
		free(kw);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nkw; k++) {
			int x = mboxf_keyword(f, v[i].kwnames[k], 1);
			if (x >= 0)
				kw[i] |= 1u << x;
		}
	struct append_source src = { v, kw };
	int r = mboxf_append_many(f, n, append_source_get, &src, uids_r);
	int e = errno;
	*validity_r = f->uidvalidity;
	folder_close(&tmp);
	free(kw);
	errno = e;
	return r;
}

/* The messages COPY takes from the source, for mboxf_append_many. */
struct copy_source {
	struct folder *src, *dst;
	const size_t *pick; /* indexes into src->m */
};

static int
copy_source_get(void *ctx, size_t i, struct mboxf_new *nm)
{
	struct copy_source *c = ctx;
	struct fmsg *m = &c->src->m[c->pick[i]];
	uint32_t kw = 0;
	for (int k = 0; k < FOLDER_KEYWORDS_MAX; k++)
		if ((m->keywords & (1u << k)) && c->src->kw[k]) {
			int x = mboxf_keyword(c->dst, c->src->kw[k], 1);
			if (x >= 0)
				kw |= 1u << x;
		}
	const unsigned char *data;
	size_t len;
	/* indexes stay while it reads (mboxf_message), so m stays too */
	if (folder_message(c->src, c->pick[i], &data, &len) != 0)
		return -1;
	nm->data = (const char *)data;
	nm->len = len;
	nm->when = m->e.mtime;
	nm->flags = m->flags & ~FL_RECENT;
	nm->keywords = kw;
	return 0;
}

/* MOVE's second half: the copied messages leave the source by one
 * rewrite; if it fails they stay (and are in both: part way). */
static int
drop_moved(struct folder *src, const size_t *pick, size_t n)
{
	unsigned *was = calloc(n, sizeof *was);
	if (was == NULL)
		return -1;
	/* the rewrite drops what is gone and \Deleted (an expunge) */
	for (size_t k = 0; k < n; k++) {
		struct fmsg *m = &src->m[pick[k]];
		was[k] = m->flags;
		m->flags |= FL_DELETED;
		m->gone = 1;
	}
	int r = mboxf_flush(src), e = errno;
	for (size_t k = 0; r != 0 && k < n; k++) {
		src->m[pick[k]].flags = was[k];
		src->m[pick[k]].gone = 0;
	}
	free(was);
	errno = e;
	return r;
}

int
store_mbox_copy(struct store *s, struct folder *f, const size_t *idx, size_t n,
    const char *name, int move, struct store_copied *out)
{
	struct folder *tmp, *dst = target_open(s, name, f, &tmp);
	if (dst == NULL)
		return -1;
	size_t *pick = calloc(n ? n : 1, sizeof *pick), np = 0;
	if (pick == NULL) {
		folder_close(&tmp);
		return -1;
	}
	/* MOVE: a message another session moved or expunged since this one
	 * last looked is gone, not copied again from the old file (it would
	 * land in the target twice); COPY may copy it (RFC 2180 §4.4.1). */
	if (move)
		folder_sync(f);
	for (size_t k = 0; k < n; k++)
		if (!f->m[idx[k]].gone) {
			out->src[np] = f->m[idx[k]].uid;
			pick[np++] = idx[k];
		}
	struct copy_source cs = { f, dst, pick };
	int r = np > 0 ? mboxf_append_many(dst, np, copy_source_get, &cs, out->dst) : 0;
	int e = errno;
	out->validity = dst->uidvalidity;
	folder_close(&tmp);
	if (r == 0) {
		out->done = np;
		if (move && np > 0 && drop_moved(f, pick, np) != 0) {
			e = errno;
			r = -1;
		}
	}
	free(pick);
	errno = e;
	return r;
}
