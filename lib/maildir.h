/*
 * maildir.h — Maildir and Maildir++ folders: delivery and reading.
 *
 * Delivered file names carry their sizes, as Dovecot does:
 *   <unique>,S=<bytes on disk>,W=<bytes with CRLF line ends>[:2,<flags>]
 * Messages are stored with LF line ends; W= is what POP3 and IMAP report
 * (RFC822.SIZE), so readers never open a message to learn its size.
 * The unique part (before the first ',' or ':') is the stable identity of a
 * message across flag renames and new/ → cur/ moves (POP3 UIDL, IMAP UIDs).
 */
#ifndef YUBIN_MAILDIR_H
#define YUBIN_MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MAILDIR_FLAGS_MAX 32

/* Creates dir/{tmp,new,cur} (and dir itself) if missing, mode 0700.
 * Returns 0 or -1 (errno). */
int maildir_create(const char *dir);

/* A delivery in two steps, so a message to several mailboxes is stored in
 * all or none: prepare writes and fsyncs tmp/ files, commit publishes them. */
struct maildir_delivery {
	char tmp_path[4096];
	char new_path[4096];
};

/* Writes prefix (prefix_len bytes: headers added at delivery, e.g.
 * Return-Path) then msg_len bytes of msg_fd (read from offset 0) into a new
 * file in dir/tmp, fsyncs it, and fills d. The content must already have LF
 * line ends. Returns 0, or -1 with errno (nothing left behind). */
int maildir_prepare(const char *dir, const char *prefix, size_t prefix_len,
    int msg_fd, uint64_t msg_len, struct maildir_delivery *d);
/* Moves the tmp file into new/ under its final name (never overwriting) and
 * fsyncs new/. Returns 0 or -1 (errno; the tmp file is then removed). */
int maildir_commit(struct maildir_delivery *d);
/* Removes the tmp file of a prepared delivery. */
void maildir_abort(struct maildir_delivery *d);

/* Checks that dir/tmp and dir/new are real directories (not symlinks,
 * S34) this process may write. Lets a multi-mailbox delivery fail before
 * anything is published. Returns 0 or -1 (errno: ELOOP/ENOTDIR, EACCES). */
int maildir_check_dirs(const char *dir);
/* Takes back a committed delivery (unlinks d->new_path, fsyncs new/): for
 * a multi-mailbox delivery whose later copy failed. 0 or -1 (errno). */
int maildir_uncommit(const struct maildir_delivery *d);

/* Removes files in dir/tmp older than MAILDIR_TMP_MAX_AGE_SEC (36 h, the
 * maildir spec): leftovers of deliveries killed mid-write (S63). Returns 0
 * or -1 (errno) if tmp/ cannot be read. */
int maildir_clean_tmp(const char *dir);

/* The same steps on a Maildir whose tmp/ and new/ are opened once for the
 * whole delivery (each open costs a path walk; one delivery used to open
 * tmp/ five times and new/ three times). Opened with O_NOFOLLOW (S34). */
struct maildir_dirs {
	int tmp_fd, new_fd;
};
/* Opens dir/tmp and dir/new and checks them as maildir_check_dirs does.
 * 0, or -1 (errno) with both fds -1. */
int maildir_dirs_open(const char *dir, struct maildir_dirs *m);
/* maildir_check_dirs for the open directories, before publishing: they
 * must still be dir/tmp and dir/new (not moved away, not replaced by a
 * symlink: ELOOP, S34) and writable. 0 or -1 (errno). */
int maildir_dirs_check(const char *dir, const struct maildir_dirs *m);
void maildir_dirs_close(struct maildir_dirs *m);
/* maildir_prepare, maildir_commit, maildir_uncommit and maildir_clean_tmp
 * on open directories; dir is still needed for the names in d. */
int maildir_prepare_at(int tmp_fd, const char *dir, const char *prefix, size_t prefix_len,
    int msg_fd, uint64_t msg_len, struct maildir_delivery *d);
int maildir_commit_at(const struct maildir_dirs *m, struct maildir_delivery *d);
int maildir_uncommit_at(const struct maildir_dirs *m, const struct maildir_delivery *d);
int maildir_clean_tmp_at(int tmp_fd);

/* One message as seen by a reader. */
struct maildir_entry {
	/* Ordered widest first, no padding: one per message of a folder
	 * (40 bytes on LP64; imap-session keeps 100,000 of them). The info
	 * letters are read from the name when asked (maildir_entry_flags),
	 * not kept beside it. */
	char *name;          /* file name within its subdirectory */
	uint64_t size;       /* bytes on disk (S=, else stat) */
	uint64_t vsize;      /* bytes with CRLF (W=, else computed on demand; 0 = unknown) */
	time_t mtime;        /* delivery time (INTERNALDATE): stat, else the name's seconds */
	/* unique part: name[0..base_len); a file name is NAME_MAX bytes */
	uint32_t base_len;
	unsigned in_new : 1;      /* 1: new/, 0: cur/ */
	unsigned name_packed : 1; /* name is in a struct maildir_names, not malloc'd */
};

/* The info letters of e's name (after ":2,"; at most MAILDIR_FLAGS_MAX - 1
 * of them) into out; returns out. */
const char *maildir_entry_flags(const struct maildir_entry *e, char out[MAILDIR_FLAGS_MAX]);

/* Lists new/ and cur/ of dir. Entries are sorted by mtime then name.
 * Sizes come from the name; stat() only for names without S= (and for
 * mtime when with_mtime is set). Returns 0 or -1 (errno). */
int maildir_scan(const char *dir, int with_mtime, struct maildir_entry **entries_r, size_t *n_r);
void maildir_entries_free(struct maildir_entry **entries, size_t n);

/* The file names of one scan packed in a few large blocks instead of a
 * malloc each (a folder of 100,000 messages keeps them all): entries
 * from maildir_scan_packed() point into *names_r and have name_packed
 * set. Every function here that renames an entry gives it a malloc'd
 * name of its own; maildir_entry_free_name() frees only such a name. A
 * struct maildir_names links to older ones (next) for its holder. */
struct maildir_names {
	struct maildir_names *next;
	struct maildir_names_block *blocks;
};
int maildir_scan_packed(const char *dir, int with_mtime, struct maildir_entry **entries_r,
    size_t *n_r, struct maildir_names **names_r);
/* Frees names and every one linked from it. */
void maildir_names_free(struct maildir_names *names);
/* Gives e a malloc'd copy of a packed name, so its block can go. 0 or -1. */
int maildir_entry_own_name(struct maildir_entry *e);
void maildir_entry_free_name(struct maildir_entry *e);

/* Parses e->name (any file name: users can create them) into base_len,
 * size and vsize, as maildir_scan does. Returns 1 if the name had
 * an S= size, else 0. */
int maildir_parse_name(struct maildir_entry *e);

/* Opens a message read-only. If it has moved (another session renamed it),
 * rescans new/ and cur/ for the same unique part and updates e->name,
 * e->in_new (S64). Returns an fd or -1 (ENOENT: really gone). */
int maildir_open(const char *dir, struct maildir_entry *e);

/* Counts the CRLF size of an open message (its size plus one per bare LF).
 * Returns 0 or -1. */
int maildir_count_vsize(int fd, uint64_t *vsize_r);

/* Renames the message into cur/ with these flags (letters, any order; they
 * are sorted and deduplicated). Follows a concurrent move as maildir_open
 * does. Returns 0 or -1 (errno). */
int maildir_set_flags(const char *dir, struct maildir_entry *e, const char *flags);

/* Unlinks the message (following moves). Does not fsync; call
 * durable_fsync_dir on dir/cur and dir/new after a batch. 0 or -1. */
int maildir_remove(const char *dir, struct maildir_entry *e);

/* Additions for IMAP APPEND, COPY and MOVE. Flags are letters as for
 * maildir_set_flags (NULL: none for commit_flags, the entry's own for
 * copy and move). name_r (may be NULL) receives the new file name in
 * dst/cur, whose unique part is what the destination's UID list records. */

/* Like maildir_commit, but publishes straight into cur/ with flags, after
 * setting the file's mtime (INTERNALDATE) when mtime > 0. The tmp file is
 * removed on any failure. 0 or -1 (errno). */
int maildir_commit_flags(struct maildir_delivery *d, const char *flags, time_t mtime);

/* Copies message e of src_dir into dst_dir/cur under a new unique name
 * (a hard link where possible, else a durable copy keeping the mtime),
 * then fsyncs dst/cur. Follows a concurrent move of e (S64). 0 or -1. */
int maildir_copy(const char *src_dir, struct maildir_entry *e, const char *dst_dir,
    const char *flags, char *name_r, size_t name_size);

/* Moves message e into dst_dir/cur by one rename (never overwriting; same
 * unique part, new flags), fsyncs both directories. Atomic: the message is
 * in exactly one folder at every instant. Across file systems it falls
 * back to copy + remove. Follows a concurrent move (S64). 0 or -1. */
int maildir_move(const char *src_dir, struct maildir_entry *e, const char *dst_dir,
    const char *flags, char *name_r, size_t name_size);

#endif
