/*
 * mailboxes.c — commands on mailboxes as a whole: SELECT, EXAMINE, CREATE,
 * DELETE, RENAME, STATUS, CLOSE, UNSELECT, EXPUNGE, SUBSCRIBE, UNSUBSCRIBE;
 * and the user's mailbox setup at login (the subscriptions file is in
 * subscriptions.c, LIST in list.c).
 *
 * Every name goes through imap_mailbox_arg() (mailname.c): one mapping to
 * one directory entry under the user's root (S33).
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

#include "durable.h"
#include "fileline.h"
#include "imap.h"
#include "log.h"
#include "mailboxes.h"
#include "mailname.h"
#include "maildir.h"
#include "path.h"
#include "quota-file.h"

#define INIT_MARKER "yubin-imap-init"

static const char *const special_folders[] = { "Sent", "Drafts", "Trash", "Junk", "Archive" };

/* ---- folder directories ---- */

int
is_folder_dir(const char *dir)
{
	char cur[PATH_MAX];
	struct stat st;
	if (path_join(cur, sizeof cur, dir, "cur", NULL) != 0)
		return 0;
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && lstat(cur, &st) == 0 &&
	    S_ISDIR(st.st_mode);
}

/* A folder exists: its Maildir++ directory, or its mbox file. */
int
mailbox_exists(struct imap *im, const char *name, const char *dir)
{
	char path[PATH_MAX];
	if (!im->mbox)
		return is_folder_dir(dir);
	return strcmp(name, "INBOX") == 0 ||
	    (imap_mbox_file(im, name, path, sizeof path) == 0 && imap_mbox_exists(path));
}

static int mbox_user_setup(struct imap *im);

static int
folder_make(const char *dir)
{
	struct stat st;
	/* A symlink planted as ".x" must not lead CREATE elsewhere (S34). */
	if (lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	if (maildir_create(dir) != 0)
		return -1;
	char marker[PATH_MAX];
	if (path_join(marker, sizeof marker, dir, "maildirfolder", NULL) != 0)
		return -1;
	int fd = open(marker, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	return 0;
}

int
imap_user_setup(struct imap *im)
{
	char path[PATH_MAX];
	if (im->mbox) /* the INBOX file is created by delivery or at SELECT */
		return mbox_user_setup(im);
	if (durable_mkdirs(im->root, 0700) != 0 || maildir_create(im->root) != 0 ||
	    path_join(path, sizeof path, im->root, INIT_MARKER, NULL) != 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	/* First login: the special-use folders (RFC 6154), subscribed. */
	for (size_t i = 0; i < sizeof special_folders / sizeof special_folders[0]; i++) {
		char dir[PATH_MAX];
		if (path_printf(dir, sizeof dir, "%s/.%s", im->root, special_folders[i]) != 0 ||
		    folder_make(dir) != 0)
			return -1;
		subs_change(im, special_folders[i], 1);
	}
	subs_change(im, "INBOX", 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* mbox: special-use folders as empty mbox files at the first login. */
static int
mbox_user_setup(struct imap *im)
{
	char path[PATH_MAX];
	if (durable_mkdirs(im->root, 0700) != 0 ||
	    path_join(path, sizeof path, im->root, INIT_MARKER, NULL) != 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	for (size_t i = 0; i < sizeof special_folders / sizeof special_folders[0]; i++) {
		char file[PATH_MAX];
		if (imap_mbox_file(im, special_folders[i], file, sizeof file) != 0 ||
		    (imap_mbox_create(file) != 0 && errno != EEXIST))
			return -1;
		subs_change(im, special_folders[i], 1);
	}
	subs_change(im, "INBOX", 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* ---- SELECT / EXAMINE ---- */

static enum verdict
select_common(struct imap *im, struct imap_command *c, int readonly)
{
	char name[MAILNAME_MAX], dir[PATH_MAX];
	if (c->n < 1 || c->n > 2)
		return verdict(im, V_BAD, "%s needs a mailbox name", c->name);
	if (im->sel) {
		folder_close(&im->sel);
		im->state = STATE_AUTH;
		io_puts(&im->io, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	free(im->searchres);
	im->searchres = NULL;
	im->nsearchres = 0;
	if (imap_mailbox_arg(im, &c->args[0], name, sizeof name, dir, sizeof dir) != 0)
		return V_NO;
	if (im->mbox) {
		char path[PATH_MAX];
		if (imap_mbox_file(im, name, path, sizeof path) != 0 ||
		    (strcmp(name, "INBOX") != 0 && !imap_mbox_exists(path)))
			return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
		if (mboxf_open(&im->sel, path, name, readonly) != 0) {
			log_err("user=%s mbox %s: %s", im->user, path, strerror(errno));
			return verdict(im, V_NO, "[UNAVAILABLE] Mailbox is busy or unreadable");
		}
	} else if (!is_folder_dir(dir)) {
		return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
	} else if (folder_open(&im->sel, dir, name, readonly) != 0) {
		/* The folder is there: say why it cannot be opened (a client
		 * may drop its cache of a mailbox said not to exist). Giving
		 * new messages UIDs writes the UID list, even for EXAMINE. */
		int e = errno;
		log_err("user=%s %s %s: %s", im->user, c->name, dir, strerror(e));
		if (e == ENOENT && !is_folder_dir(dir))
			return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
		if (e == ENOSPC || e == EDQUOT)
			return verdict(im, V_NO, "[OVERQUOTA] Not enough disk space to open the mailbox");
		return verdict(im, V_NO, "[SERVERBUG] Cannot open the mailbox");
	}
	struct folder *f = im->sel;
	im->state = STATE_SELECTED;
	imap_announce_keywords(im, 1);
	io_printf(&im->io, "* %zu EXISTS\r\n", f->n);
	if (!im->rev2) {
		io_printf(&im->io, "* %zu RECENT\r\n", f->recent);
		for (size_t i = 0; i < f->n; i++)
			if (!(f->m[i].flags & FL_SEEN)) {
				io_printf(&im->io, "* OK [UNSEEN %zu] First unseen\r\n", i + 1);
				break;
			}
	}
	io_printf(&im->io, "* OK [UIDVALIDITY %u] UIDs valid\r\n* OK [UIDNEXT %u] Predicted next UID\r\n",
	    f->uidvalidity, f->uidnext);
	if (im->rev2) {
		io_puts(&im->io, "* LIST () \"/\" ");
		out_mailbox(im, name);
		io_puts(&im->io, "\r\n");
	}
	return verdict(im, V_OK, "[%s] %s completed", readonly ? "READ-ONLY" : "READ-WRITE",
	    readonly ? "EXAMINE" : "SELECT");
}

enum verdict
cmd_select(struct imap *im, struct imap_command *c)
{
	return select_common(im, c, 0);
}

enum verdict
cmd_examine(struct imap *im, struct imap_command *c)
{
	return select_common(im, c, 1);
}

enum verdict
cmd_close(struct imap *im, struct imap_command *c)
{
	if (c->n != 0)
		return verdict(im, V_BAD, "CLOSE takes no arguments");
	if (!im->sel->readonly)
		imap_do_expunge(im, NULL, 0);
	folder_close(&im->sel);
	im->state = STATE_AUTH;
	return verdict(im, V_OK, "CLOSE completed");
}

enum verdict
cmd_unselect(struct imap *im, struct imap_command *c)
{
	if (c->n != 0)
		return verdict(im, V_BAD, "UNSELECT takes no arguments");
	folder_close(&im->sel);
	im->state = STATE_AUTH;
	return verdict(im, V_OK, "UNSELECT completed");
}

int
imap_do_expunge(struct imap *im, const struct seqset *uids, int report)
{
	struct folder *f = im->sel;
	int failed = 0;
	if (f->mbox)
		return imap_mbox_expunge(im, uids, report);
	for (size_t i = 0; i < f->n; i++) {
		struct fmsg *m = &f->m[i];
		if (!(m->flags & FL_DELETED) || m->gone || (uids && !seqset_contains(uids, m->uid)))
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
cmd_expunge(struct imap *im, struct imap_command *c)
{
	struct seqset set = { 0 };
	if (im->sel->readonly)
		return verdict(im, V_NO, "[READ-ONLY] Mailbox is read-only");
	if (im->uid_command) {
		if (c->n != 1 || c->args[0].type != ARG_ATOM ||
		    seqset_parse(c->args[0].str, im->sel->n ? im->sel->m[im->sel->n - 1].uid : 1,
		    &set) != 0)
			return verdict(im, V_BAD, "UID EXPUNGE needs a UID set");
	} else if (c->n != 0) {
		return verdict(im, V_BAD, "EXPUNGE takes no arguments");
	}
	int r = imap_do_expunge(im, im->uid_command ? &set : NULL, 1);
	seqset_free(&set);
	if (r != 0)
		return verdict(im, V_NO, "[EXPUNGEISSUED] Some messages could not be expunged");
	return verdict(im, V_OK, "EXPUNGE completed");
}

/* ---- CREATE / DELETE / RENAME ---- */

static int
mailbox_name_arg(struct imap *im, const struct imap_arg *a, char *name, char *dir, int create)
{
	char tmp[MAILNAME_MAX];
	const struct imap_arg *use = a;
	struct imap_arg copy;
	/* CREATE "a/b/" means "a/b" (RFC 9051 §6.3.4). */
	if (create && arg_is_string(a) && a->len > 1 && a->str[a->len - 1] == '/' &&
	    a->len < sizeof tmp) {
		memcpy(tmp, a->str, a->len - 1);
		tmp[a->len - 1] = '\0';
		copy = *a;
		copy.str = tmp;
		copy.len = a->len - 1;
		use = &copy;
	}
	return imap_mailbox_arg(im, use, name, MAILNAME_MAX, dir, PATH_MAX);
}

enum verdict
cmd_create(struct imap *im, struct imap_command *c)
{
	char name[MAILNAME_MAX], dir[PATH_MAX];
	if (c->n < 1 || c->n > 2)
		return verdict(im, V_BAD, "CREATE needs a mailbox name");
	if (mailbox_name_arg(im, &c->args[0], name, dir, 1) != 0)
		return V_NO;
	if (strcmp(name, "INBOX") == 0 || mailbox_exists(im, name, dir))
		return verdict(im, V_NO, "[ALREADYEXISTS] Mailbox exists");
	if (im->mbox) {
		/* "a/b" is the file a.b; parent "a" is made too, as for Maildir */
		char path[PATH_MAX];
		if (imap_mbox_file(im, name, path, sizeof path) != 0)
			return verdict(im, V_NO, "[CANNOT] Invalid mailbox name");
		for (char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
			char parent[MAILNAME_MAX], ppath[PATH_MAX];
			strf(parent, sizeof parent, "%.*s", (int)(p - name), name);
			if (strcmp(parent, "INBOX") != 0 &&
			    imap_mbox_file(im, parent, ppath, sizeof ppath) == 0 &&
			    !imap_mbox_exists(ppath))
				imap_mbox_create(ppath);
		}
		if (imap_mbox_create(path) != 0)
			return verdict(im, V_NO, "[SERVERBUG] Cannot create mailbox");
		return verdict(im, V_OK, "CREATE completed");
	}
	/* Parents first, so the hierarchy is complete (RFC 9051 §6.3.4). */
	for (char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
		char parent[MAILNAME_MAX], pdir[PATH_MAX];
		strf(parent, sizeof parent, "%.*s", (int)(p - name), name);
		if (strcmp(parent, "INBOX") == 0 || imap_mailbox_dir(im, parent, pdir, sizeof pdir) != 0)
			continue;
		if (!is_folder_dir(pdir))
			folder_make(pdir);
	}
	if (folder_make(dir) != 0) {
		log_err("user=%s CREATE %s: %s", im->user, dir, strerror(errno));
		return verdict(im, V_NO, "[SERVERBUG] Cannot create mailbox");
	}
	return verdict(im, V_OK, "CREATE completed");
}

/* Removes a folder directory: its message subdirectories and files. */
static int
remove_tree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char path[PATH_MAX];
		struct stat st;
		if (path_join(path, sizeof path, dir, de->d_name, NULL) != 0 || lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth > 0)
			remove_tree(path, depth - 1);
		else
			unlink(path);
	}
	closedir(d);
	return rmdir(dir);
}

enum verdict
cmd_delete(struct imap *im, struct imap_command *c)
{
	char name[MAILNAME_MAX], dir[PATH_MAX], trash[PATH_MAX], uniq[256];
	if (c->n != 1)
		return verdict(im, V_BAD, "DELETE needs a mailbox name");
	if (imap_mailbox_arg(im, &c->args[0], name, sizeof name, dir, sizeof dir) != 0)
		return V_NO;
	if (strcmp(name, "INBOX") == 0)
		return verdict(im, V_NO, "[CANNOT] INBOX cannot be deleted");
	/* The subscription stays: a server MUST NOT remove a name from the
	 * list on its own (RFC 3501 §6.3.6, RFC 9051 §6.3.7); LIST
	 * (SUBSCRIBED) shows it \NonExistent, LSUB \Noselect. */
	if (im->mbox)
		return imap_mbox_delete(im, name);
	if (!is_folder_dir(dir))
		return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
	if (im->sel && strcmp(im->sel->dir, dir) == 0) {
		folder_close(&im->sel);
		im->state = STATE_AUTH;
	}
	/* Out of sight at once by one rename, then removed. */
	if (durable_unique_name(uniq, sizeof uniq) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot delete mailbox");
	if (path_printf(trash, sizeof trash, "%s/yubin-deleted-%s", im->root, uniq) != 0 ||
	    rename(dir, trash) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot delete mailbox");
	remove_tree(trash, 1);
	quota_file_stale(im->root); /* its messages left without notes */
	return verdict(im, V_OK, "DELETE completed");
}

/* 1 if disk is the directory name of a folder name (mailname.c's
 * mapping both ways: no reserved name, none of another program's files). */
static int
disk_name_valid(const char *disk)
{
	char name[MAILNAME_MAX];
	return mailname_from_disk(disk, name, sizeof name) == 0;
}

/* 1 if the root's entry disk is a folder RENAME may move. */
static int
folder_child(struct imap *im, const char *disk)
{
	char path[PATH_MAX];
	return disk_name_valid(disk) && path_join(path, sizeof path, im->root, disk, NULL) == 0 &&
	    is_folder_dir(path);
}

/* RENAME INBOX: its messages move to the new folder; INBOX stays, empty. */
static enum verdict
rename_inbox(struct imap *im, const char *dir)
{
	struct maildir_entry *e;
	size_t n;
	if (folder_make(dir) != 0 || maildir_scan(im->root, 0, &e, &n) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot rename INBOX");
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		char from[PATH_MAX], to[PATH_MAX];
		if (path_join(from, sizeof from, im->root, e[i].in_new ? "new" : "cur", e[i].name) != 0 ||
		    path_join(to, sizeof to, dir, e[i].in_new ? "new" : "cur", e[i].name) != 0 ||
		    rename(from, to) != 0)
			failed = 1;
	}
	maildir_entries_free(&e, n);
	char sub[PATH_MAX];
	if (path_join(sub, sizeof sub, dir, "cur", NULL) == 0)
		durable_fsync_dir(sub);
	if (path_join(sub, sizeof sub, dir, "new", NULL) == 0)
		durable_fsync_dir(sub);
	if (failed)
		return verdict(im, V_NO, "[SERVERBUG] Some messages could not be moved");
	return verdict(im, V_OK, "RENAME completed");
}

enum verdict
cmd_rename(struct imap *im, struct imap_command *c)
{
	char from[MAILNAME_MAX], to[MAILNAME_MAX], fdir[PATH_MAX], tdir[PATH_MAX];
	if (c->n != 2)
		return verdict(im, V_BAD, "RENAME needs two mailbox names");
	if (imap_mailbox_arg(im, &c->args[0], from, sizeof from, fdir, sizeof fdir) != 0 ||
	    mailbox_name_arg(im, &c->args[1], to, tdir, 1) != 0)
		return V_NO;
	if (im->mbox) {
		size_t fl = strlen(from);
		if (strncmp(to, from, fl) == 0 && to[fl] == '/')
			return verdict(im, V_NO, "[CANNOT] Cannot rename a mailbox into itself");
		enum verdict v = imap_mbox_rename(im, from, to);
		if (v == V_OK && strcmp(from, "INBOX") != 0)
			subs_change(im, from, 0);
		return v;
	}
	if (strcmp(to, "INBOX") == 0 || is_folder_dir(tdir))
		return verdict(im, V_NO, "[ALREADYEXISTS] Target mailbox exists");
	if (strcmp(from, "INBOX") == 0)
		return rename_inbox(im, tdir);
	if (!is_folder_dir(fdir))
		return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
	size_t flen = strlen(from);
	if (strncmp(to, from, flen) == 0 && to[flen] == '/')
		return verdict(im, V_NO, "[CANNOT] Cannot rename a mailbox into itself");
	if (im->sel && strcmp(im->sel->dir, fdir) == 0) {
		folder_close(&im->sel);
		im->state = STATE_AUTH;
	}
	if (rename(fdir, tdir) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot rename mailbox");
	/* Children ".from.x" follow as ".to.x": only folders, whose names
	 * and new names are folder names (never pop3-session's ".pop3.lock"
	 * or another file that merely starts alike), and none over an entry
	 * already there. */
	char fdisk[MAILNAME_MAX * 3], tdisk[MAILNAME_MAX * 3];
	mailname_to_disk(from, fdisk, sizeof fdisk);
	mailname_to_disk(to, tdisk, sizeof tdisk);
	size_t fl = strlen(fdisk);
	DIR *d = opendir(im->root);
	struct names kids = { 0 };
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (strncmp(de->d_name, fdisk, fl) == 0 && de->d_name[fl] == '.' &&
		    folder_child(im, de->d_name))
			names_add(&kids, de->d_name);
	if (d)
		closedir(d);
	for (size_t i = 0; i < kids.n; i++) {
		char a[PATH_MAX], b[PATH_MAX], disk[MAILNAME_MAX * 3];
		if (strf(disk, sizeof disk, "%s%s", tdisk, kids.v[i] + fl) != 0 ||
		    !disk_name_valid(disk) || path_join(a, sizeof a, im->root, kids.v[i], NULL) != 0 ||
		    path_join(b, sizeof b, im->root, disk, NULL) != 0)
			continue;
		/* this session's own selected child moves: unselected, as the
		 * folder itself above (another session's sees it vanish, BYE) */
		if (im->sel && strcmp(im->sel->dir, a) == 0) {
			folder_close(&im->sel);
			im->state = STATE_AUTH;
		}
		renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_NOREPLACE);
	}
	names_free(&kids);
	durable_fsync_dir(im->root);
	subs_change(im, from, 0);
	return verdict(im, V_OK, "RENAME completed");
}

/* ---- STATUS ---- */

struct counts {
	size_t messages, unseen, deleted, recent;
	uint64_t size;
	uint32_t uidnext, uidvalidity;
};

static int
folder_counts(struct imap *im, const char *name, const char *dir, struct counts *k)
{
	memset(k, 0, sizeof *k);
	struct folder *tmp = NULL;
	char path[PATH_MAX];
	if (im->mbox && (imap_mbox_file(im, name, path, sizeof path) != 0 ||
	    (strcmp(name, "INBOX") != 0 && !imap_mbox_exists(path))))
		return -1;
	if (im->mbox && (!im->sel || strcmp(im->sel->mb_path, path) != 0)) {
		if (mboxf_open(&tmp, path, name, 1) != 0)
			return -1;
	}
	/* an mbox folder's dir is the user's root, whichever file it is: the
	 * selected one is known by its path (above), not by dir */
	int selected = im->sel && (im->mbox ? strcmp(im->sel->mb_path, path) == 0
	    : strcmp(im->sel->dir, dir) == 0);
	if (tmp || selected) {
		struct folder *f = tmp ? tmp : im->sel;
		folder_sync(f);
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
		folder_close(&tmp);
		return 0;
	}
	struct maildir_entry *e;
	size_t n;
	if (maildir_scan(dir, 0, &e, &n) != 0)
		return -1;
	uint32_t *uids = calloc(n ? n : 1, sizeof *uids), recent_from = 0;
	int r = uids ? folder_assign_uids_recent(dir, e, n, uids, &k->uidvalidity, &k->uidnext,
	    &recent_from) : -1;
	for (size_t i = 0; i < n; i++) {
		unsigned flags;
		uint32_t kw;
		folder_parse_letters(e[i].flags, &flags, &kw);
		k->messages++;
		k->unseen += !(flags & FL_SEEN);
		k->deleted += !!(flags & FL_DELETED);
		/* APPENDed, COPYed, MOVEd since the last taker are \Recent too */
		k->recent += e[i].in_new || (r == 0 && uids[i] >= recent_from);
		k->size += e[i].vsize ? e[i].vsize : e[i].size;
	}
	free(uids);
	maildir_entries_free(&e, n);
	return r;
}

/* Writes "* STATUS name (items)"; -1 if an item is unknown. */
int
status_write(struct imap *im, const char *name, const char *dir, const struct imap_arg *items)
{
	struct counts k;
	for (size_t i = 0; i < items->n; i++) {
		static const char *const known[] = { "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
			"DELETED", "SIZE", "RECENT" };
		int ok = 0;
		for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
			ok |= arg_is(&items->list[i], known[j]);
		if (!ok)
			return -1;
	}
	if (folder_counts(im, name, dir, &k) != 0)
		return -2;
	io_puts(&im->io, "* STATUS ");
	out_mailbox(im, name);
	io_puts(&im->io, " (");
	for (size_t i = 0; i < items->n; i++) {
		const struct imap_arg *a = &items->list[i];
		const char *sp = i ? " " : "";
		if (arg_is(a, "MESSAGES"))
			io_printf(&im->io, "%sMESSAGES %zu", sp, k.messages);
		else if (arg_is(a, "UIDNEXT"))
			io_printf(&im->io, "%sUIDNEXT %u", sp, k.uidnext);
		else if (arg_is(a, "UIDVALIDITY"))
			io_printf(&im->io, "%sUIDVALIDITY %u", sp, k.uidvalidity);
		else if (arg_is(a, "UNSEEN"))
			io_printf(&im->io, "%sUNSEEN %zu", sp, k.unseen);
		else if (arg_is(a, "DELETED"))
			io_printf(&im->io, "%sDELETED %zu", sp, k.deleted);
		else if (arg_is(a, "SIZE"))
			io_printf(&im->io, "%sSIZE %llu", sp, (unsigned long long)k.size);
		else if (arg_is(a, "RECENT"))
			io_printf(&im->io, "%sRECENT %zu", sp, k.recent);
	}
	io_puts(&im->io, ")\r\n");
	return 0;
}

enum verdict
cmd_status(struct imap *im, struct imap_command *c)
{
	char name[MAILNAME_MAX], dir[PATH_MAX];
	if (c->n != 2 || c->args[1].type != ARG_LIST)
		return verdict(im, V_BAD, "STATUS needs a mailbox and a list of items");
	if (imap_mailbox_arg(im, &c->args[0], name, sizeof name, dir, sizeof dir) != 0)
		return V_NO;
	if (!mailbox_exists(im, name, dir))
		return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
	int r = status_write(im, name, dir, &c->args[1]);
	if (r == -1)
		return verdict(im, V_BAD, "Unknown STATUS item");
	if (r != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot read mailbox");
	return verdict(im, V_OK, "STATUS completed");
}

/* ---- SUBSCRIBE ---- */

static enum verdict
subscribe_common(struct imap *im, struct imap_command *c, int add)
{
	char name[MAILNAME_MAX], dir[PATH_MAX];
	if (c->n != 1)
		return verdict(im, V_BAD, "%s needs a mailbox name", c->name);
	if (imap_mailbox_arg(im, &c->args[0], name, sizeof name, dir, sizeof dir) != 0)
		return V_NO;
	if (add && !mailbox_exists(im, name, dir))
		return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
	if (subs_change(im, name, add) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot update subscriptions");
	return verdict(im, V_OK, "%s completed", c->name);
}

enum verdict
cmd_subscribe(struct imap *im, struct imap_command *c)
{
	return subscribe_common(im, c, 1);
}

enum verdict
cmd_unsubscribe(struct imap *im, struct imap_command *c)
{
	return subscribe_common(im, c, 0);
}
