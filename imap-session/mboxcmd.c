/*
 * mboxcmd.c — the commands that differ for mailbox_format = mbox: only
 * INBOX exists (mail_root/d/u/INBOX, the file delivery appends to); its
 * state is mboxfolder.c's. EXPUNGE and APPEND rewrite or append to the
 * file under the delivery lock; flag changes are written after each
 * command (imap-session.c calls mboxf_flush before the tagged reply).
 */
#include <dirent.h>
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

void
imap_mbox_path(struct imap *im, char *out, size_t size)
{
	if (imap_mbox_file(im, "INBOX", out, size) != 0 && size > 0)
		out[0] = '\0';
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
	if (imap_mbox_file(im, name, path, sizeof path) != 0 ||
	    (strcmp(name, "INBOX") != 0 && !imap_mbox_exists(path)))
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

/* ---- folders other than INBOX: mbox files in the user's directory ---- */

/* File names that are not folders: INBOX, its dotlock, yubin's and POP3's
 * own files. */
static int
mbox_reserved(const char *f)
{
	size_t n = strlen(f);
	return f[0] == '.' || strcasecmp(f, "INBOX") == 0 || strcmp(f, "subscriptions") == 0 ||
	    strncmp(f, "yubin-", 6) == 0 || (n >= 5 && strcmp(f + n - 5, ".lock") == 0);
}

int
imap_mbox_file(struct imap *im, const char *name, char *out, size_t size)
{
	char disk[MAILNAME_MAX * 3];
	if (strcmp(name, "INBOX") == 0)
		return path_join(out, size, im->root, "INBOX", NULL);
	if (mailname_to_disk(name, disk, sizeof disk) != 0 || disk[0] != '.' ||
	    mbox_reserved(disk + 1))
		return -1;
	return path_join(out, size, im->root, disk + 1, NULL);
}

int
imap_mbox_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
imap_mbox_names(struct imap *im, int (*add)(void *, const char *), void *arg)
{
	DIR *d = opendir(im->root);
	if (d == NULL)
		return -1;
	struct dirent *de;
	size_t count = 0;
	while ((de = readdir(d)) != NULL && count < IMAP_FOLDERS_MAX) {
		char path[PATH_MAX], dot[300], name[MAILNAME_MAX];
		if (mbox_reserved(de->d_name) || strlen(de->d_name) + 2 > sizeof dot)
			continue;
		snprintf(dot, sizeof dot, ".%s", de->d_name);
		if (mailname_from_disk(dot, name, sizeof name) != 0 || strcmp(name, "INBOX") == 0)
			continue;
		if (path_join(path, sizeof path, im->root, de->d_name, NULL) != 0 ||
		    !imap_mbox_exists(path))
			continue;
		add(arg, name);
		count++;
	}
	closedir(d);
	return 0;
}

int
imap_mbox_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	char dir[PATH_MAX];
	if (r != 0 || path_printf(dir, sizeof dir, "%s", path) != 0)
		return -1;
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	return durable_fsync_dir(dir);
}

/* The sidecar of an mbox file (mboxfolder.c): moves or goes with it.
 * 0, or -1 (ENAMETOOLONG). */
static int
sidecar_of(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	return path_printf(out, size, "%.*s/.%s.yubin-uids", (int)(base - path), path, base + 1);
}

enum verdict
imap_mbox_delete(struct imap *im, const char *name)
{
	char path[PATH_MAX], side[PATH_MAX];
	if (imap_mbox_file(im, name, path, sizeof path) != 0 || !imap_mbox_exists(path))
		return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
	if (im->sel && strcmp(im->sel->mb_path, path) == 0) {
		folder_close(&im->sel);
		im->state = STATE_AUTH;
	}
	struct mbox_lock lk;
	if (mbox_lock(path, &lk) != 0)
		return verdict(im, V_NO, "[INUSE] Mailbox is locked");
	int r = unlink(path);
	mbox_unlock(&lk);
	if (r != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot delete mailbox");
	if (sidecar_of(path, side, sizeof side) == 0)
		unlink(side);
	durable_fsync_dir(im->root);
	return verdict(im, V_OK, "DELETE completed");
}

/* Renames one mbox file (and its sidecar) under its lock: a delivery
 * waiting for the lock opens the path again. */
static int
mbox_rename_file(const char *from, const char *to, int keep_sidecar)
{
	struct mbox_lock lk;
	char a[PATH_MAX], b[PATH_MAX];
	if (mbox_lock(from, &lk) != 0)
		return -1;
	/* one atomic step: killed before it, the folder has its old name;
	 * after, its new one (link then unlink left both names, and each
	 * open then refused a file with two links) */
	int r = renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
	mbox_unlock(&lk);
	if (r == 0 && !keep_sidecar && sidecar_of(from, a, sizeof a) == 0 &&
	    sidecar_of(to, b, sizeof b) == 0)
		rename(a, b);
	return r;
}

enum verdict
imap_mbox_rename(struct imap *im, const char *from, const char *to)
{
	char fpath[PATH_MAX], tpath[PATH_MAX];
	if (imap_mbox_file(im, to, tpath, sizeof tpath) != 0)
		return verdict(im, V_NO, "[CANNOT] Invalid mailbox name");
	if (imap_mbox_file(im, from, fpath, sizeof fpath) != 0 || !imap_mbox_exists(fpath))
		return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
	if (strcmp(to, "INBOX") == 0 || imap_mbox_exists(tpath))
		return verdict(im, V_NO, "[ALREADYEXISTS] Target mailbox exists");
	if (im->sel && strcmp(im->sel->mb_path, fpath) == 0) {
		folder_close(&im->sel);
		im->state = STATE_AUTH;
	}
	/* RENAME INBOX moves its messages; INBOX comes back empty. */
	/* INBOX keeps its sidecar: the new INBOX goes on with the same
	 * UIDVALIDITY and UIDs above the old ones */
	if (mbox_rename_file(fpath, tpath, strcmp(from, "INBOX") == 0) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot rename mailbox");
	/* children "from/x" follow as "to/x" */
	char fdisk[MAILNAME_MAX * 3], tdisk[MAILNAME_MAX * 3];
	if (strcmp(from, "INBOX") != 0 && mailname_to_disk(from, fdisk, sizeof fdisk) == 0 &&
	    mailname_to_disk(to, tdisk, sizeof tdisk) == 0) {
		size_t fl = strlen(fdisk + 1);
		DIR *d = opendir(im->root);
		struct dirent *de;
		char kids[64][256];
		size_t nk = 0;
		while (d && (de = readdir(d)) != NULL && nk < 64)
			if (strncmp(de->d_name, fdisk + 1, fl) == 0 && de->d_name[fl] == '.' &&
			    !mbox_reserved(de->d_name) && strlen(de->d_name) < 256)
				snprintf(kids[nk++], 256, "%s", de->d_name);
		if (d)
			closedir(d);
		for (size_t i = 0; i < nk; i++) {
			char a[PATH_MAX], b[PATH_MAX];
			if (path_join(a, sizeof a, im->root, kids[i], NULL) != 0 ||
			    path_printf(b, sizeof b, "%s/%s%s", im->root, tdisk + 1, kids[i] + fl) != 0 ||
			    strlen(tdisk + 1) + strlen(kids[i] + fl) > 255)
				continue;
			/* this session's own selected child moves: unselected,
			 * as the folder itself above (another session's would
			 * see it vanish and end) */
			if (im->sel && strcmp(im->sel->mb_path, a) == 0) {
				folder_close(&im->sel);
				im->state = STATE_AUTH;
			}
			mbox_rename_file(a, b, 0);
		}
	}
	durable_fsync_dir(im->root);
	return verdict(im, V_OK, "RENAME completed");
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
	if (imap_mbox_file(im, name, path, sizeof path) != 0 || !imap_mbox_exists(path)) {
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
			if (imap_mbox_expunge(im, &set, 1) != 0)
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
