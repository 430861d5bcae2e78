/*
 * mboxcmd.c — the commands that differ for mailbox_format = mbox: only
 * INBOX exists (mail_root/d/u/INBOX, the file delivery appends to); its
 * state is mboxfolder.c's. EXPUNGE and APPEND rewrite or append to the
 * file under the delivery lock; flag changes are written after each
 * command (imap-session.c calls mboxf_flush before the tagged reply).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "durable.h"
#include "imap.h"
#include "log.h"
#include "mailname.h"
#include "mbox.h"
#include "path.h"
#include "store-mbox.h"


/* The messages of an APPEND, for mboxf_append_many. */
struct append_source {
	const struct append_msg *v;
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

enum verdict
imap_mbox_append(struct imap *im, const char *name, const struct append_msg *v, size_t n,
    uint32_t *uids, uint32_t *validity_r)
{
	char path[PATH_MAX];
	if (!store_exists(&im->store, name) ||
	    store_mbox_file(&im->store, name, path, sizeof path) != 0)
		return verdict(im, V_NO, "[TRYCREATE] Mailbox doesn't exist");
	uint32_t *kw = calloc(n ? n : 1, sizeof *kw);
	if (kw == NULL)
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	struct folder *tmp = NULL, *f = im->sel;
	if (f == NULL || !f->mbox || strcmp(f->mb_path, path) != 0) {
		if (mboxf_open(&tmp, path, name, 1) != 0) {
			free(kw);
			return verdict(im, V_NO, "[UNAVAILABLE] Mailbox is busy or unreadable");
		}
		f = tmp;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nkw; k++) {
			int x = mboxf_keyword(f, v[i].kwnames[k], 1);
			if (x >= 0)
				kw[i] |= 1u << x;
		}
	/* one lock, all or none: a NO leaves the file as it was */
	struct append_source src = { v, kw };
	int r = mboxf_append_many(f, n, append_source_get, &src, uids);
	int e = errno;
	*validity_r = f->uidvalidity;
	folder_close(&tmp);
	free(kw);
	if (r != 0) {
		log_err("user=%s APPEND to mbox: %s", im->user, strerror(e));
		return verdict(im, V_NO, "%s Cannot store message%s",
		    e == ENOSPC || e == EDQUOT ? "[OVERQUOTA]" : "[SERVERBUG]", n > 1 ? "s" : "");
	}
	return V_OK;
}

/* The messages COPY takes from the selected folder, for mboxf_append_many. */
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

/* COPY and MOVE between mbox files: the messages appended to the target
 * under one lock, all or none (a NO means nothing was copied, so a retry
 * does not double them); MOVE then expunges them from the source. */
enum verdict
imap_mbox_copy(struct imap *im, struct imap_command *c, int move)
{
	char name[MAILNAME_MAX], dir[PATH_MAX], path[PATH_MAX];
	struct folder *src = im->sel, *t = NULL;
	if (c->n != 2 || c->args[0].type != ARG_ATOM)
		return verdict(im, V_BAD, "%s needs a sequence set and a mailbox", c->name);
	if (imap_mailbox_arg(im, &c->args[1], name, sizeof name, dir, sizeof dir) != 0)
		return V_NO;
	size_t *idx, n;
	if (imap_select_messages(im, c->args[0].str, im->uid_command, &idx, &n) != 0)
		return verdict(im, V_BAD, "Invalid sequence set");
	if (!store_exists(&im->store, name) ||
	    store_mbox_file(&im->store, name, path, sizeof path) != 0) {
		free(idx);
		return verdict(im, V_NO, "[TRYCREATE] Mailbox doesn't exist");
	}
	if (move && src->readonly) {
		free(idx);
		return verdict(im, V_NO, "[READ-ONLY] Mailbox is read-only");
	}
	int same = strcmp(path, src->mb_path) == 0;
	/* MOVE: a message another session moved or expunged since this one
	 * last looked is gone, not copied again from the old file (it would
	 * land in the target twice); COPY may copy it (RFC 2180 §4.4.1). */
	if (move)
		folder_sync(src);
	/* COPY adds to the user's storage (RFC 9208 §4.1); MOVE does not. */
	uint64_t add = 0;
	for (size_t k = 0; !move && k < n; k++)
		add += src->m[idx[k]].e.size;
	enum verdict q = move ? V_OK : imap_quota_check(im, add);
	if (q != V_OK) {
		free(idx);
		return q;
	}
	if (!same && mboxf_open(&t, path, name, 1) != 0) {
		free(idx);
		return verdict(im, V_NO, "[UNAVAILABLE] Mailbox is busy or unreadable");
	}
	struct folder *dst = same ? src : t;
	uint32_t *su = calloc(n ? n : 1, sizeof *su), *du = calloc(n ? n : 1, sizeof *du);
	size_t *pick = calloc(n ? n : 1, sizeof *pick);
	size_t done = 0, np = 0;
	int failed = su == NULL || du == NULL || pick == NULL;
	for (size_t k = 0; k < n && !failed; k++)
		if (!src->m[idx[k]].gone) {
			su[np] = src->m[idx[k]].uid;
			pick[np++] = idx[k];
		}
	struct copy_source cs = { src, dst, pick };
	if (!failed && np > 0) {
		if (mboxf_append_many(dst, np, copy_source_get, &cs, du) != 0)
			failed = 1;
		else
			done = np;
	}
	free(pick);
	uint32_t validity = dst->uidvalidity;
	folder_close(&t);
	char code[400] = "";
	if (done > 0 && !move) {
		/* COPY: COPYUID in the tagged reply when it fits */
		struct buf b = BUF_INIT(sizeof code - 1);
		buf_printf(&b, "[COPYUID %u ", validity);
		seqset_format(&b, su, done);
		buf_addc(&b, ' ');
		seqset_format(&b, du, done);
		if (buf_addstr(&b, "] ") == 0)
			memcpy(code, b.s, b.len + 1);
		buf_free(&b);
	}
	if (done > 0 && (move || code[0] == '\0')) {
		io_printf(&im->io, "* OK [COPYUID %u ", validity);
		seqset_write(&im->io, su, done);
		io_puts(&im->io, " ");
		seqset_write(&im->io, du, done);
		io_puts(&im->io, "] Copied\r\n");
	}
	if (move && done > 0) {
		struct seqset set = { 0 };
		set.r = calloc(done, sizeof *set.r);
		if (set.r != NULL) {
			for (size_t k = 0; k < done; k++) {
				set.r[k].lo = set.r[k].hi = su[k];
				for (size_t i = 0; i < src->n; i++)
					if (src->m[i].uid == su[k])
						src->m[i].flags |= FL_DELETED;
			}
			set.n = done;
			if (imap_do_expunge(im, &set, 1) != 0)
				failed = 1;
			free(set.r);
		} else {
			failed = 1;
		}
	}
	free(su);
	free(du);
	free(idx);
	if (failed && done == 0)
		return verdict(im, V_NO, "[SERVERBUG] %s failed", c->name);
	if (failed)
		return verdict(im, V_NO, "[SERVERBUG] %s stopped part way", c->name);
	return verdict(im, V_OK, "%s%s completed", code, c->name);
}
