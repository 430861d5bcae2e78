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
#include <inttypes.h>
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
#include "path.h"
#include "render.h"

#define INIT_MARKER "yubin-imap-init"

static const char *const special_folders[] = { "Sent", "Drafts", "Trash", "Junk", "Archive" };

/* ---- the user's store ---- */

int
mailbox_exists(struct imap *im, const char *name)
{
	return store_exists(&im->store, name);
}

/* The selected folder is about to move or go (RENAME, DELETE): this
 * session lets it go first (another session's sees it vanish, BYE). */
static void
unselect_if(void *arg, const char *name)
{
	struct imap *im = arg;
	if (im->sel && strcmp(im->sel->name, name) == 0) {
		folder_close(&im->sel);
		im->state = STATE_AUTH;
	}
}

int
imap_user_setup(struct imap *im)
{
	char path[PATH_MAX];
	if (store_init(&im->store, im->root, store_format_of(&im->s.conf)) != 0)
		return -1;
	im->store.render = imap_view_render;
	if (store_setup(&im->store) != 0 ||
	    path_join(path, sizeof path, im->root, INIT_MARKER, NULL) != 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	/* First login: the special-use folders (RFC 6154), subscribed. */
	for (size_t i = 0; i < sizeof special_folders / sizeof special_folders[0]; i++) {
		if (store_create(&im->store, special_folders[i]) != 0 && errno != EEXIST)
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

enum verdict
mailbox_open(struct imap *im, const char *name, const char *dir, int readonly, const char *what,
    struct folder **f_r)
{
	(void)dir;
	if (store_open(&im->store, name, readonly, f_r) != 0) {
		/* A folder that is there is not said not to exist (a client
		 * may drop its cache of it): the reason instead. Giving new
		 * messages UIDs writes the UID list, even for EXAMINE. */
		int e = errno;
		if (e == ENOENT || e == EINVAL)
			return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
		log_err("user=%s %s %s: %s", im->user, what, name, strerror(e));
		if (e == ENOSPC || e == EDQUOT)
			return verdict(im, V_NO, "[OVERQUOTA] Not enough disk space to open the mailbox");
		if (e == EBUSY)
			return verdict(im, V_NO, "[UNAVAILABLE] Mailbox is busy or unreadable");
		return verdict(im, V_NO, "[SERVERBUG] Cannot open the mailbox");
	}
	return V_OK;
}

static enum verdict
select_common(struct imap *im, struct imap_command *c, int readonly)
{
	char name[MAILNAME_MAX], dir[PATH_MAX];
	if (c->n < 1 || c->n > 2)
		return verdict(im, V_BAD, "%s needs a mailbox name", c->name);
	/* a BAD leaves the selected folder as it was */
	if (c->n == 2 && condstore_select_params(im, &c->args[1]) != 0)
		return verdict(im, V_BAD, "Unknown %s parameter", c->name);
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
	if (mailbox_open(im, name, dir, readonly, c->name, &im->sel) != V_OK)
		return V_NO;
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
	/* RFC 7162 §3.1.2: after a CONDSTORE enabling command (as Dovecot
	 * for a mailbox no client enabled it on) */
	if (im->condstore)
		condstore_select_ok(im);
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

/* What imap_do_expunge passes through folder_expunge. */
struct expunge_ctx {
	struct imap *im;
	const struct seqset *uids;
	int report;
	int updated;     /* search_update_expunged ran */
};

static int
expunge_pick(void *arg, uint32_t uid)
{
	const struct expunge_ctx *x = arg;
	return x->uids == NULL || seqset_contains(x->uids, uid);
}

static void
expunge_gone(void *arg, size_t idx)
{
	struct expunge_ctx *x = arg;
	/* every message gone is marked before the first call */
	if (x->report && !x->updated) {
		search_update_expunged(x->im);
		x->updated = 1;
	}
	if (x->report && idx < x->im->sel->reported)
		io_printf(&x->im->io, "* %zu EXPUNGE\r\n", idx + 1);
}

int
imap_do_expunge(struct imap *im, const struct seqset *uids, int report)
{
	struct expunge_ctx x = { im, uids, report, 0 };
	/* every message \Deleted now, also by another session since this
	 * one last looked (RFC 9051 §6.4.3), as Dovecot; what else the look
	 * finds is reported after the command */
	if (folder_sync(im->sel) != 0)
		log_warn("user=%s expunge: sync: %s", im->user, strerror(errno));
	if (folder_expunge(im->sel, expunge_pick, expunge_gone, &x) == 0)
		return 0;
	log_err("user=%s expunge: %s", im->user, strerror(errno));
	return -1;
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
	if (store_create(&im->store, name) == 0)
		return verdict(im, V_OK, "CREATE completed");
	if (errno == EEXIST)
		return verdict(im, V_NO, "[ALREADYEXISTS] Mailbox exists");
	if (errno == EINVAL)
		return verdict(im, V_NO, "[CANNOT] Invalid mailbox name");
	log_err("user=%s CREATE %s: %s", im->user, name, strerror(errno));
	return verdict(im, V_NO, "[SERVERBUG] Cannot create mailbox");
}

enum verdict
cmd_delete(struct imap *im, struct imap_command *c)
{
	char name[MAILNAME_MAX], dir[PATH_MAX];
	if (c->n != 1)
		return verdict(im, V_BAD, "DELETE needs a mailbox name");
	if (imap_mailbox_arg(im, &c->args[0], name, sizeof name, dir, sizeof dir) != 0)
		return V_NO;
	/* The subscription stays: a server MUST NOT remove a name from the
	 * list on its own (RFC 3501 §6.3.6, RFC 9051 §6.3.7); LIST
	 * (SUBSCRIBED) shows it \NonExistent, LSUB \Noselect. */
	if (store_delete(&im->store, name, unselect_if, im) == 0)
		return verdict(im, V_OK, "DELETE completed");
	if (errno == EPERM)
		return verdict(im, V_NO, "[CANNOT] INBOX cannot be deleted");
	if (errno == ENOENT || errno == EINVAL)
		return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
	if (errno == EBUSY)
		return verdict(im, V_NO, "[INUSE] Mailbox is locked");
	return verdict(im, V_NO, "[SERVERBUG] Cannot delete mailbox");
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
	if (store_rename(&im->store, from, to, unselect_if, im) != 0) {
		switch (errno) {
		case EEXIST:
			return verdict(im, V_NO, "[ALREADYEXISTS] Target mailbox exists");
		case ENOENT:
			return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
		case ELOOP:
			return verdict(im, V_NO, "[CANNOT] Cannot rename a mailbox into itself");
		case EINVAL:
			return verdict(im, V_NO, "[CANNOT] Invalid mailbox name");
		case EIO:
			return verdict(im, V_NO, "[SERVERBUG] Some messages could not be moved");
		default:
			return verdict(im, V_NO, "[SERVERBUG] Cannot rename mailbox");
		}
	}
	if (strcmp(from, "INBOX") != 0)
		subs_change(im, from, 0);
	return verdict(im, V_OK, "RENAME completed");
}

/* ---- STATUS ---- */

/* The counts of folder name: the selected folder's as this session sees
 * it, any other's from the store. */
static int
folder_status(struct imap *im, const char *name, struct store_counts *k, int modseq)
{
	if (im->sel && strcmp(im->sel->name, name) == 0) {
		folder_sync(im->sel);
		folder_counts(im->sel, k);
		return 0;
	}
	if (!modseq)
		return store_counts(&im->store, name, k);
	/* HIGHESTMODSEQ needs the folder's modseqs: a read-only look */
	struct folder *f;
	if (store_open(&im->store, name, 1, &f) != 0)
		return -1;
	folder_counts(f, k);
	folder_close(&f);
	return 0;
}

/* Writes "* STATUS name (items)"; -1 if an item is unknown. */
int
status_write(struct imap *im, const char *name, const struct imap_arg *items)
{
	struct store_counts k;
	int modseq = 0;
	for (size_t i = 0; i < items->n; i++) {
		static const char *const known[] = { "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
			"DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ" };
		int ok = 0;
		for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
			ok |= arg_is(&items->list[i], known[j]);
		if (!ok)
			return -1;
		modseq |= arg_is(&items->list[i], "HIGHESTMODSEQ");
	}
	if (modseq)
		condstore_enable(im);
	if (folder_status(im, name, &k, modseq) != 0)
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
		else if (arg_is(a, "HIGHESTMODSEQ"))
			io_printf(&im->io, "%sHIGHESTMODSEQ %" PRIu64, sp, k.highestmodseq);
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
	if (!mailbox_exists(im, name))
		return verdict(im, V_NO, "[NONEXISTENT] Mailbox doesn't exist");
	int r = status_write(im, name, &c->args[1]);
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
	if (add && !mailbox_exists(im, name))
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
