/*
 * store.c — the front of the mail store (store.h): the backend is chosen
 * here once, every other call goes through its table.
 */
#include "store.h"

#include <errno.h>
#include <string.h>

#include "conf.h"
#include "path.h"
#include "store-pop3.h"

enum store_format
store_format_of(const struct conf *conf)
{
	return conf->mailbox_format == MAILBOX_MBOX ? STORE_MBOX : STORE_MAILDIR;
}

int
store_init(struct store *s, const char *root, enum store_format fmt)
{
	memset(s, 0, sizeof *s);
	s->ops = fmt == STORE_MBOX ? &store_mbox_ops : &store_maildir_ops;
	s->pop3 = fmt == STORE_MBOX ? &store_mbox_pop3 : &store_maildir_pop3;
	return path_printf(s->root, sizeof s->root, "%s", root);
}

int
store_setup(struct store *s)
{
	return s->ops->setup(s);
}

int
store_exists(const struct store *s, const char *name)
{
	return strcmp(name, "INBOX") == 0 || s->ops->exists(s, name);
}

int
store_create(struct store *s, const char *name)
{
	if (store_exists(s, name)) {
		errno = EEXIST;
		return -1;
	}
	return s->ops->create(s, name);
}

int
store_delete(struct store *s, const char *name, store_moving_fn moving, void *arg)
{
	if (strcmp(name, "INBOX") == 0) {
		errno = EPERM;
		return -1;
	}
	if (!s->ops->exists(s, name)) {
		errno = ENOENT;
		return -1;
	}
	if (moving)
		moving(arg, name);
	return s->ops->remove(s, name);
}

int
store_rename(struct store *s, const char *from, const char *to, store_moving_fn moving,
    void *arg)
{
	return s->ops->rename(s, from, to, moving, arg);
}

int
store_list(const struct store *s, store_name_fn add, void *arg)
{
	return s->ops->list(s, add, arg);
}

int
store_open(struct store *s, const char *name, int readonly, struct folder **f_r)
{
	if (s->ops->open(s, name, readonly, f_r) != 0)
		return -1;
	(*f_r)->render = s->render;
	return 0;
}

int
store_counts(struct store *s, const char *name, struct store_counts *k)
{
	memset(k, 0, sizeof *k);
	return s->ops->counts(s, name, k);
}

int
store_append(struct store *s, const char *name, struct folder *open,
    const struct store_new *v, size_t n, uint32_t *uids_r, uint32_t *validity_r)
{
	memset(uids_r, 0, n * sizeof *uids_r);
	*validity_r = 0;
	if (!store_exists(s, name)) {
		errno = ENOENT;
		return -1;
	}
	return s->ops->append(s, name, open, v, n, uids_r, validity_r);
}

int
store_copy(struct store *s, struct folder *f, const size_t *idx, size_t n,
    const char *name, int move, struct store_copied *out)
{
	out->done = 0;
	out->validity = 0;
	if (!store_exists(s, name)) {
		errno = ENOENT;
		return -1;
	}
	int r = s->ops->copy(s, f, idx, n, name, move, out), e = errno;
	/* the moved ones left f: an expunge there (HIGHESTMODSEQ rises) */
	if (move && out->done > 0)
		(void)folder_modseq_bump(f, out->src, out->done);
	errno = e;
	return r;
}

void
folder_counts(struct folder *f, struct store_counts *k)
{
	memset(k, 0, sizeof *k);
	for (size_t i = 0; i < f->n; i++) {
		if (f->m[i].gone)
			continue;
		k->messages++;
		k->unseen += !(f->m[i].flags & FL_SEEN);
		k->deleted += !!(f->m[i].flags & FL_DELETED);
		k->recent += !!(f->m[i].flags & FL_RECENT);
		k->size += folder_size(f, i);
	}
	k->uidnext = f->uidnext;
	k->uidvalidity = f->uidvalidity;
	k->highestmodseq = folder_highestmodseq(f);
}
