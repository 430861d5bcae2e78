/*
 * store.h — a user's mail store as readers see it: its folders, and in
 * each folder its messages with UIDs, flags, keywords, sizes and dates.
 * One interface over two backends, Maildir++ (store-maildir*.c) and mbox
 * (store-mbox*.c). The backend is chosen once, by store_init(); from then
 * on every call goes through its ops table (struct store_ops), and an
 * open folder's calls (folder.h) through the one its backend set when it
 * opened it (struct folder_ops, folder-int.h). No caller asks which
 * format it has; the two tables are the only place the format decides.
 *
 * Names are UTF-8 with '/' as the hierarchy separator; "INBOX" is the
 * inbox (lib/mailname.h maps names to disk names, S33). The store never
 * prints and knows no protocol: errors are -1 with errno, and the caller
 * words the reply.
 *
 * ---- Formats on disk ----
 * Maildir (mailbox_format = maildir): the user's root is INBOX's Maildir
 * (tmp/, new/, cur/); folder "a/b" is the Maildir++ directory ".a.b"
 * beside them, with a "maildirfolder" file. Per folder directory:
 * yubin-uidlist, yubin-keywords, yubin-lock and yubin-cache (folder.h);
 * in the root yubin-uidvalidity (folder-uids.h).
 * mbox (mailbox_format = mbox): INBOX is root/INBOX, the file delivery
 * appends to; folder "a/b" is the file root/a.b (no file name starting
 * with '.', none named subscriptions, yubin-*, *.lock). UIDs, flags and
 * keywords are kept in the file's headers and in the index beside it,
 * root/.<file>.yubin-uids (store-mbox-uid.h); one crash-safe rewrite
 * (mbox-rewrite.c).
 * Both: the modseq journal, Maildir dir/yubin-modseq, mbox
 * root/.<file>.yubin-modseq, and its lock yubin-lock / .<file>.yubin-lock
 * (folder-modseq.c).
 *
 * ---- Sequence ----
 *   store_init → store_setup → [store_list / create / delete / rename /
 *   status] → store_open → folder_* (folder.h) → folder_close.
 * An open folder (folder.h): f->m[0..n) in UID order, each with uid,
 * flags, keywords, modseq; folder_size(), folder_internaldate();
 * folder_message() / folder_header() read it; folder_sync() (new: EXISTS,
 * gone: m->gone, changed: m->changed); folder_set_flags(),
 * folder_expunge(), store_append(), store_copy(); folder_commit() makes
 * flag changes durable and gives them new modseqs;
 * folder_highestmodseq().
 *
 * ---- POP3 (a maildrop over the store) ----
 * pop3-session takes its snapshot of INBOX with store_pop3_open()
 * (store-pop3.h), through the backend's table that store_init() sets
 * (struct store's pop3): the messages at that moment, their UIDLs and
 * sizes, streamed as stored, marked deleted in the session and removed
 * at QUIT (UPDATE state) by store_pop3_commit(). Not store_open(): the
 * UIDLs clients already know are not UIDs (Maildir base names, mbox
 * content digests), a snapshot must write no UID list and take no
 * \Recent, RETR sends the message as stored (mbox status headers
 * included), and the mbox stays locked for the whole session. A message
 * delivered meanwhile waits for the next session.
 */
#ifndef YUBIN_STORE_H
#define YUBIN_STORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "folder.h"

enum store_format { STORE_MAILDIR, STORE_MBOX };

struct conf;
struct store;
struct store_pop3_ops;

/* Called with each folder name a store_list() finds (never INBOX). */
typedef int (*store_name_fn)(void *arg, const char *name);
/* Called before the folder name is moved or removed (RENAME and its
 * children, DELETE): the caller closes it if it has it open. */
typedef void (*store_moving_fn)(void *arg, const char *name);

/* What STATUS counts of a folder. */
struct store_counts {
	size_t messages, unseen, deleted, recent;
	uint64_t size;
	uint32_t uidnext, uidvalidity;
	uint64_t highestmodseq;       /* 0: not known (store_counts may not open it) */
};

/* One message to append (APPEND; MULTIAPPEND gives several). */
struct store_new {
	const char *data;             /* the message, CRLF or LF lines */
	size_t len;
	time_t when;                  /* INTERNALDATE */
	unsigned flags;               /* FL_* (FL_RECENT is not stored) */
	char *kwnames[FOLDER_KEYWORDS_MAX]; /* keyword names */
	size_t nkw;
};

/* What a store_copy() did: src[i] (a UID of the source) became dst[i]
 * (of the target), for i < done. src and dst are the caller's, n each. */
struct store_copied {
	uint32_t *src, *dst;
	size_t done;
	uint32_t validity;            /* the target's; 0: its UIDs unknown */
	int vanished;                 /* a source was gone: expunged elsewhere */
};

/* The backend: one table per format (store-maildir-dirs.c,
 * store-mbox-dirs.c). Each returns as the store_* call of its name. */
struct store_ops {
	int (*setup)(struct store *s);
	int (*exists)(const struct store *s, const char *name);
	int (*create)(struct store *s, const char *name);
	int (*remove)(struct store *s, const char *name);
	int (*rename)(struct store *s, const char *from, const char *to, store_moving_fn moving,
	    void *arg);
	int (*list)(const struct store *s, store_name_fn add, void *arg);
	int (*open)(struct store *s, const char *name, int readonly, struct folder **f_r);
	int (*counts)(struct store *s, const char *name, struct store_counts *k);
	int (*append)(struct store *s, const char *name, struct folder *open,
	    const struct store_new *v, size_t n, uint32_t *uids_r, uint32_t *validity_r);
	int (*copy)(struct store *s, struct folder *f, const size_t *idx, size_t n,
	    const char *name, int move, struct store_copied *out);
};

extern const struct store_ops store_maildir_ops, store_mbox_ops;

struct store {
	char root[PATH_MAX];          /* the user's root (see Formats) */
	const struct store_ops *ops;
	/* Renders the views the message cache keeps (folder.h, enum
	 * folder_view); NULL: none kept (POP3). Set by the caller after
	 * store_init. */
	folder_render_fn render;
	/* The POP3 snapshot's backend (store-pop3.h), set by store_init. */
	const struct store_pop3_ops *pop3;
};

/* The store format the configuration's mailbox_format names. */
enum store_format store_format_of(const struct conf *conf);
/* Sets up s for the user's root in format fmt; touches no file. 0, or -1
 * (ENAMETOOLONG). */
int store_init(struct store *s, const char *root, enum store_format fmt);
/* Makes the root (and, for Maildir, INBOX's directories) if missing.
 * 0 or -1. */
int store_setup(struct store *s);
/* 1 if folder name exists (INBOX always does), else 0. */
int store_exists(const struct store *s, const char *name);
/* Creates folder name, and its missing parents (RFC 9051 §6.3.4),
 * durably. 0; -1 with EEXIST (there already), EINVAL (no folder can have
 * that name here), ELOOP (a symlink in the way, S34), or another errno. */
int store_create(struct store *s, const char *name);
/* Removes folder name and its messages (not its children): moving is
 * called first. 0; -1 with ENOENT (no such folder), EPERM (INBOX),
 * EBUSY (locked by a delivery), or another errno. */
int store_delete(struct store *s, const char *name, store_moving_fn moving, void *arg);
/* Renames folder from to to, its children "from/x" following as "to/x";
 * moving is called for each before it moves. INBOX: its messages move
 * to the new folder and INBOX stays, empty. 0; -1 with ENOENT (from does
 * not exist), EEXIST (to does), ELOOP (to is below from), EINVAL (to
 * cannot be a folder name here), EIO (INBOX: some messages did not
 * move), or another errno. */
int store_rename(struct store *s, const char *from, const char *to, store_moving_fn moving,
    void *arg);
/* Calls add(arg, name) for each folder but INBOX, in no order, at most
 * IMAP_FOLDERS_MAX. 0 or -1. */
int store_list(const struct store *s, store_name_fn add, void *arg);
/* Opens folder name (folder.h, folder_open's rules: read-write takes the
 * \Recent messages). 0; -1 with ENOENT (no such folder), ENOSPC/EDQUOT
 * (UIDs could not be written), or another errno. */
int store_open(struct store *s, const char *name, int readonly, struct folder **f_r);
/* Counts folder name as STATUS does, without taking its \Recent
 * messages; for a folder the caller has open use folder_counts(). 0 or
 * -1 (errno). */
int store_counts(struct store *s, const char *name, struct store_counts *k);
/* The counts of the open folder f (after folder_sync). */
void folder_counts(struct folder *f, struct store_counts *k);
/* Appends v[0..n) to folder name, all or none, durably (fsync'd before
 * it returns). open: a folder the caller has open (or NULL), used when
 * it is the target. uids_r[i] gets message i's UID (0 if it could not be
 * learned), *validity_r the folder's UIDVALIDITY. 0; -1 with ENOENT (no
 * such folder), EBUSY (locked or unreadable), ENOSPC/EDQUOT, or another
 * errno, and nothing stored. */
int store_append(struct store *s, const char *name, struct folder *open,
    const struct store_new *v, size_t n, uint32_t *uids_r, uint32_t *validity_r);
/* Copies messages idx[0..n) of the open folder f (from this store) to
 * folder name, durably, keeping flags, keywords and INTERNALDATE; with
 * move they then leave f: marked gone there (the caller reports them
 * and drops them with folder_remove_gone). A copy is all or none; a
 * move may stop part way (out->done say how far; mbox: all copied, the
 * source not yet rewritten). 0; -1 with out->done == 0 and nothing
 * done, errno ENOENT (no target), EBUSY, or another; -1 with
 * out->done > 0: stopped part way. */
int store_copy(struct store *s, struct folder *f, const size_t *idx, size_t n,
    const char *name, int move, struct store_copied *out);

#endif
