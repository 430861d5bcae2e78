/*
 * folder.h — one open folder of a user's store (store.h) as a session
 * sees it: UIDs, flags, keywords, sizes, and what changed since the last
 * look. Opened by store_open(); the Maildir state is store-maildir.c's,
 * the mbox state store-mbox.c's.
 *
 * Protocol-free: the session turns the changes into EXISTS/EXPUNGE/FETCH
 * responses. folder_mime_header() and folder_mime() are what FETCH asks
 * for a message's header and structure; the message cache below
 * (folder-cache.c) keeps what they gave for later sessions.
 *
 * Per folder directory (the Maildir root for INBOX):
 *   yubin-uidlist   "yubin-uidlist 1 <uidvalidity> <uidnext> <recent>\n"
 *                   then "<uid> <unique base name>\n" per message, written
 *                   to a temporary file, fsync'd, renamed. Lost or
 *                   unparsable → a new UIDVALIDITY (never a wrong UID).
 *                   <recent>, the recent marker: messages from that UID up
 *                   are \Recent for the next session that looks
 *                   read-write; it takes them under the lock and moves the
 *                   marker to UIDNEXT, so one session alone has each
 *                   (APPEND, COPY and MOVE land there; a delivery into new/
 *                   is also claimed by its move to cur/). A list without
 *                   it (older yubin) counts as <recent> = <uidnext>.
 *   yubin-keywords  "<letter> <keyword>\n": keyword letters a–z in the
 *                   file names' ":2," info, as Dovecot does.
 *   yubin-lock      flock()ed while the two files are read and rewritten.
 *                   Before it exists yubin never looked at the folder: a
 *                   UID list Dovecot or Courier left there is taken over
 *                   then (lib/folder-import.c), never later.
 * and in the user's root yubin-uidvalidity, the last UIDVALIDITY handed
 * out, so a recreated folder or a lost list always gets a greater one.
 * Opening a folder lists new/ and cur/ only: sizes come from ",W=" in the
 * names.
 *
 * A session keeps each message file it has read open (fmsg.fd), from
 * its first read until the message leaves the session's view: a message
 * another session expunged stays readable until this one has reported
 * the EXPUNGE (RFC 2180 §4.1.1), so FETCH never answers for it from a
 * file that is gone. Past FOLDER_HELD_MAX files the oldest is let go.
 * SELECT and EXAMINE open no message file (a large unchanged folder is
 * selected from its names and cache alone), so a message expunged
 * elsewhere before this session read it is readable only as far as the
 * folder's cache has it; anything else of it is answered NO
 * [EXPUNGEISSUED] with nothing made up (RFC 2180 §4.1.2).
 */
#ifndef YUBIN_FOLDER_H
#define YUBIN_FOLDER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bounds.h"
#include "folder-uids.h"
#include "maildir.h"

/* folder_header() reads a header of up to this many bytes alone: the
 * header limit a message delivered by smtp-session has (S48); a longer
 * one (mail from elsewhere) is read with its message, as before. */
#define FOLDER_HEADER_READ_MAX SMTP_HEADER_MAX

#define FL_ANSWERED 0x01
#define FL_FLAGGED  0x02
#define FL_DELETED  0x04
#define FL_SEEN     0x08
#define FL_DRAFT    0x10
#define FL_RECENT   0x20   /* per session, never on disk */

#define FOLDER_KEYWORDS_MAX 26
/* Message files a session holds open: far below the usual 1024 fds of
 * RLIMIT_NOFILE, far above the messages a client looks at at once. */
#define FOLDER_HELD_MAX 512

struct fmsg {
	/* Ordered to pad as little as possible: one per message of the selected
	 * folder (120 bytes on LP64, was 136). */
	uint32_t uid;
	unsigned flags;          /* FL_* */
	uint32_t keywords;       /* bit i: keyword letter 'a' + i */
	unsigned gone : 1;       /* expunged elsewhere, not yet reported */
	unsigned changed : 1;    /* flags changed elsewhere, not yet reported */
	unsigned mtime_known : 1; /* e.mtime is the file's, not the name's */
	unsigned ms_dirty : 1;   /* flags changed here: a new modseq at commit */
	/* mbox (store-mbox.c): the message after its From_ line in the file
	 * behind folder.mb_fd; mb_dirty: flags changed here, not yet written. */
	unsigned mb_dirty : 1;
	unsigned mb_old : 1;     /* Status: O seen in the file */
	/* which file mb_off is in: 0 folder.mb_fd, k folder.mb_kept[k - 1]
	 * (one replaced since, held for this unreported expunged message),
	 * MBOXF_FILE_NONE: none (unreadable, never made up) */
	unsigned mb_file : 3;
	struct maildir_entry e;
	uint64_t mb_off, mb_len;
	/* its UID is the index's (no X-UID in the file): the content check
	 * (mboxmsg_key) its bytes must pass; 0: the X-UID must match */
	uint64_t mb_key;
	uint64_t modseq;         /* its mod-sequence (folder-modseq.c); 0: none yet */
	int fd;                  /* Maildir: the message file, held (-1: not) */
};

/* Replaced mbox files a session holds for messages expunged elsewhere
 * and not yet reported: a client that takes its time between looks
 * while others rewrite the file keeps at most this many descriptors;
 * past them such a message is answered NO [EXPUNGEISSUED]. */
#define MBOXF_KEPT_MAX 4
#define MBOXF_FILE_NONE 7

struct folder_ops;
struct mime_message;
struct mcache;

/* What the message cache keeps of a message (folder-cache.c): ENVELOPE,
 * BODY, BODYSTRUCTURE as rendered, and BODY[HEADER.FIELDS (...)] of the
 * fields folder_field_cached() names; the RFC 8970 preview text (raw
 * UTF-8, lib/preview.h; empty when the message has no text); the SORT
 * and THREAD keys (lib/mcache-keys.h), made from the header and kept in
 * a small cache file of their own (folder-keys.c). */
enum folder_view {
	FOLDER_VIEW_ENVELOPE, FOLDER_VIEW_BODY, FOLDER_VIEW_BODYSTRUCTURE, FOLDER_VIEW_FIELDS,
	FOLDER_VIEW_PREVIEW, FOLDER_VIEW_SORTKEYS,
	FOLDER_VIEWS
};
#define FOLDER_CACHE_KEY_MAX 320

/* Renders view v of a parse for the cache, in the reader's protocol
 * (imap-session: ENVELOPE, BODYSTRUCTURE, ...); malloc'd (*len_r bytes,
 * NUL-terminated), or NULL. The store knows no protocol: the reader
 * gives it this (store.h, struct store's render). */
typedef char *(*folder_render_fn)(const struct mime_message *mm, enum folder_view v,
    size_t *len_r);

struct folder {
	char name[512];          /* UTF-8 mailbox name */
	char dir[4096];
	int readonly;
	uint32_t uidvalidity, uidnext;
	struct fmsg *m;
	size_t n, cap;
	char *kw[FOLDER_KEYWORDS_MAX];
	/* Keyword slots the client was told of (untagged FLAGS): set by
	 * imap_announce_keywords, never by the folder code. */
	uint32_t kw_announced;
	size_t reported;         /* EXISTS count the client knows */
	size_t recent;
	int new_messages;        /* set by sync: EXISTS to send */
	size_t held;             /* Maildir: messages with fd >= 0 */
	/* Maildir: the folder's directory is gone (DELETE or RENAME of it or
	 * of a parent by another session): this view cannot go on. */
	int vanished;
	size_t held_hint;        /* where the oldest held file is looked for */
	/* Maildir: the file names of the last scan (and of older ones still
	 * named by a message), packed (maildir_scan_packed) */
	struct maildir_names *md_names;
	/* new/ and cur/ as of the last scan: unchanged directories need no
	 * rescan (the cheap path of NOOP and of every command's update).
	 * settled: both times were older than their file system's timestamp
	 * granule when they were taken, so any later change shows as a
	 * different time (store-maildir.c, folder_unchanged). */
	struct timespec new_mtime, cur_mtime;
	int scanned;
	int settled;
	/* One opened message, CRLF line ends; cache_head: only its header
	 * (folder_header), not the whole message. */
	uint32_t cache_uid;
	unsigned char *cache_data;
	size_t cache_len;
	int cache_head;
	struct mime_message *cache_mime;
	/* mod-sequences (folder-modseq.c): the greatest given; the journal
	 * as read so far (its inode, bytes, lines) */
	uint64_t highestmodseq;
	uint64_t ms_ino, ms_off;
	size_t ms_lines;
	/* its backend, set at open (folder-int.h) */
	const struct folder_ops *ops;
	/* mbox folders (store-mbox.c) */
	int mb_fd;               /* the file as last read (-1: none) */
	/* Files replaced since (renamed over by a rewrite, so their bytes
	 * stay as they were while open), held while a message still reads
	 * from them (fmsg.mb_file); mb_kept_refs: how many (-1 fd: free). */
	int mb_kept[MBOXF_KEPT_MAX];
	size_t mb_kept_refs[MBOXF_KEPT_MAX];
	char mb_path[PATH_MAX];
	struct timespec mb_mtime;
	uint64_t mb_size, mb_ino;
	/* the UID index beside it (store-mbox-uid.c) as of the last read */
	struct timespec mb_idx_mtime;
	uint64_t mb_idx_size, mb_idx_ino;
	int mb_dirty;            /* some message has mb_dirty or gone set here */
	int mb_grow;             /* 0: an update may not add messages (m fixed) */
	int mb_skipped;          /* it left some out: read again at the next sync */
	/* Maildir subdirectories with renames (or unlinks) not yet fsync'd
	 * (FOLDER_PENDING_*): folder_set_flags renames, folder_flags_durable
	 * syncs them once per command rather than once per message;
	 * the reader calls it before it reports a change done. */
	unsigned flags_pending;
	/* The message cache (folder-cache.c): the file, opened at first use;
	 * the views rendered from the parse of message view_uid, the one in
	 * cache_data; the parse of one message's cached header fields. */
	struct mcache *mc;
	int mc_opened;
	folder_render_fn render;   /* NULL: no views rendered or recorded */
	struct mcache *mk;       /* the SORT/THREAD keys' file (folder-keys.c) */
	int mk_opened;
	uint32_t view_uid;
	char *view[FOLDER_VIEWS];
	size_t view_len[FOLDER_VIEWS];
	uint32_t fields_uid;
	char fields_key[FOLDER_CACHE_KEY_MAX];
	size_t fields_key_len;
	unsigned char *fields_data;
	struct mime_message *fields_mime;
};

#define FOLDER_PENDING_CUR 0x1
#define FOLDER_PENDING_NEW 0x2

/* Opens the folder in dir: assigns UIDs; unless readonly, moves new/
 * messages into cur/ and takes the messages past the recent marker (they
 * are \Recent for this session); readonly shows both as \Recent and
 * takes nothing. 0 or -1. */
int folder_open(struct folder **f_r, const char *dir, const char *name, int readonly);
void folder_close(struct folder **f);
/* Looks again: new messages appended (new_messages set), gone ones marked,
 * changed flags marked. 0 or -1. */
int folder_sync(struct folder *f);
/* Drops messages marked gone (after EXPUNGE responses were sent). */
void folder_remove_gone(struct folder *f, size_t idx);
/* Index in f->m of the message with this UID (gone ones still count),
 * or SIZE_MAX. A binary search: f->m is in UID order. */
size_t folder_index_of(const struct folder *f, uint32_t uid);
/* Which messages an expunge takes: 1 for uid to go. */
typedef int (*folder_pick_fn)(void *arg, uint32_t uid);
/* Told of message idx (its index until this call returns) as it leaves
 * the view. */
typedef void (*folder_gone_fn)(void *arg, size_t idx);
/* Removes the messages marked \Deleted (and, with pick, picked) from
 * disk, durably, then from the view, and with them those marked gone by
 * a sync; gone(arg, idx) is called for each, highest index first. 0; -1
 * (errno) if some could not be removed: they stay (mbox: all stay). */
int folder_expunge(struct folder *f, folder_pick_fn pick, folder_gone_fn gone, void *arg);

/* folder_assign_uids, folder_assign_uids_recent: lib/folder-uids.h. */
/* Before APPEND, COPY or MOVE into dir: a folder without a UID list gets
 * one now, so that what comes is past the recent marker (a list made
 * later takes every message there as old). 0 or -1. */
int folder_uids_init(const char *dir);

/* Keyword letter index for name (case-insensitive); create adds it. -1 if
 * unknown (or all 26 used). */
int folder_keyword(struct folder *f, const char *name, int create);
/* Sets flags and keywords of message idx on disk. A message another
 * session expunged (its file gone) takes them in this session's view
 * only, until the EXPUNGE is reported. 0 or -1. */
int folder_set_flags(struct folder *f, size_t idx, unsigned flags, uint32_t keywords);
/* Makes the renames of folder_set_flags since the last call durable:
 * one fsync of cur/ (and of new/ if a message left it). Call before the
 * tagged OK of a command that changed flags. 0 or -1 (errno). mbox
 * folders: 0 (mboxf_flush writes and syncs their flags). */
int folder_flags_durable(struct folder *f);
/* ---- mod-sequences (folder-modseq.c; RFC 7162's MODSEQ) ----
 * Each message has one (fmsg.modseq, >= 1 once the folder is open),
 * raised above every other of the folder when its flags or keywords
 * change through folder_set_flags (recorded at folder_commit), when it
 * first comes (append, copy, delivery: recorded when the folder is next
 * opened or synced read-write), and an expunge raises HIGHESTMODSEQ.
 * Persisted in a journal beside the folder's state, for both backends;
 * format there. */
/* The folder's HIGHESTMODSEQ: >= every message's modseq, rising. */
uint64_t folder_highestmodseq(const struct folder *f);
/* Reads what other sessions recorded; gives messages that have none yet
 * their modseqs (recorded unless f is read-only). Called by folder_sync
 * and at open. */
void folder_modseq_sync(struct folder *f);
/* New modseqs for the messages with UIDs uids[0..n) (a UID no longer in
 * f is recorded too: an expunge), recorded durably. 0 or -1 (errno;
 * this view has them all the same). */
int folder_modseq_bump(struct folder *f, const uint32_t *uids, size_t n);

/* Makes what this session changed durable: flag changes (mbox: written
 * to the file by its one rewrite; Maildir: folder_flags_durable). Call
 * before telling the client a change is done. 0 or -1 (errno). */
int folder_commit(struct folder *f);
/* Adds to the inotify instance fd the watches that see another process
 * change f (deliveries, other sessions). 0 or -1 (errno). */
int folder_watch(const struct folder *f, int fd);
/* Maildir info letters for flags/keywords (without unknown letters). */
void folder_flag_letters(unsigned flags, uint32_t keywords, char *out);
/* Parses letters into flags and keywords. */
void folder_parse_letters(const char *letters, unsigned *flags_r, uint32_t *keywords_r);

/* The content of message idx with CRLF line ends (valid until the next
 * call), or -1 (errno ENOENT if it is gone and was never held). */
int folder_message(struct folder *f, size_t idx, const unsigned char **data_r, size_t *len_r);
/* The parsed message, or NULL. */
const struct mime_message *folder_mime(struct folder *f, size_t idx);
/* What ENVELOPE, RFC822.HEADER and BODY[HEADER], BODY[HEADER.FIELDS (..)]
 * and BODY[HEADER.FIELDS.NOT (..)] need: the message's first bytes, CRLF
 * line ends, at least up to and including the empty line that ends its
 * header (the first LF followed by an empty line, as RFC822.HEADER and
 * the MIME parser both cut), possibly the whole message. Unless the cache
 * already holds the message, only those bytes are read (at most
 * FOLDER_HEADER_READ_MAX; a longer header reads the whole message). The
 * results of those items are the same as from folder_message(). Valid
 * until the next call; -1 (errno ENOENT if it is gone). */
int folder_header(struct folder *f, size_t idx, const unsigned char **data_r, size_t *len_r);
/* The parse of folder_header()'s bytes: its top-level header fields are
 * the message's; its parts are not (use folder_mime for those). */
const struct mime_message *folder_mime_header(struct folder *f, size_t idx);
/* 0 if what is asked of message idx (FOLDER_STAT_DATE: INTERNALDATE,
 * FOLDER_STAT_SIZE: RFC822.SIZE) is known: from the name (W=) or from
 * its file, held or opened now; -1 if the file is needed and cannot be
 * opened (errno; ENOENT: gone and never held): the values would only be
 * guesses. */
#define FOLDER_STAT_DATE 0x1
#define FOLDER_STAT_SIZE 0x2
int folder_stat(struct folder *f, size_t idx, unsigned what);
/* INTERNALDATE: the file's mtime. */
time_t folder_internaldate(struct folder *f, size_t idx);
/* RFC822.SIZE: W= from the name, else counted. */
uint64_t folder_size(struct folder *f, size_t idx);

/* ---- the message cache (folder-cache.c) ----
 * A file per folder (Maildir: yubin-cache beside yubin-uidlist; mbox:
 * .<name>.yubin-cache beside its sidecar; format in lib/mcache.h) keeps
 * what a parse of a message gave: its views, RFC822.SIZE, INTERNALDATE.
 * A message is recorded when it is first parsed; later sessions answer
 * from the record without opening the message. Records are keyed so that
 * one made from other bytes is never used; the file is only a cache. */
/* The name of the i-th header field the cache keeps, or NULL past the
 * last. */
const char *folder_cached_field(size_t i);
/* 1 if name (len bytes, any case) is a header field the cache keeps. */
int folder_field_cached(const char *name, size_t len);
/* 1 if the cache holds every view in mask (bit 1 << FOLDER_VIEW_*) of
 * message idx, else 0. */
int folder_cache_has(struct folder *f, size_t idx, unsigned mask);
/* View v of message idx (folder-content.c, the front that asks the cache
 * and on a miss parses), malloc'd (*len_r bytes, NUL-terminated): from
 * the cache, else from the message's parse (header or whole, as v needs).
 * NULL if the message cannot be read or on ENOMEM; NULL for
 * FOLDER_VIEW_FIELDS also when its header cannot be cached. */
char *folder_view(struct folder *f, size_t idx, enum folder_view v, size_t *len_r);
/* The same only if the cache has it (the file, or the views kept of the
 * message's last parse): it never reads the message. */
char *folder_view_cached(struct folder *f, size_t idx, enum folder_view v, size_t *len_r);
/* Records keys (FOLDER_VIEW_SORTKEYS bytes) of message idx that were
 * made from its cached fields rather than a parse of the message. */
void folder_keys_put(struct folder *f, size_t idx, const char *keys, size_t len);
/* The parse of message idx's cached header fields (a message holding
 * just them, in order, and its empty line), or NULL (not cached): the
 * fields folder_field_cached() names answer from it as from the message.
 * Valid until the next call. */
const struct mime_message *folder_fields_mime(struct folder *f, size_t idx);
/* Fills INTERNALDATE and RFC822.SIZE of message idx from the cache when
 * the folder state does not have them. */
void folder_cache_stat(struct folder *f, size_t idx);
/* After a parse of message idx (whole: of all of it, else of its header):
 * its views kept and queued for the cache file. */
void folder_cache_fill(struct folder *f, size_t idx, const struct mime_message *mm, int whole);
/* Writes what was queued: at the end of a command. Errors lose only
 * cache. */
void folder_cache_flush(struct folder *f);
/* Writes what was queued and frees the cache state. */
void folder_cache_close(struct folder *f);

/* Reads a message file fully with LF → CRLF; malloc'd. 0 or -1. */
int folder_read_crlf(int fd, unsigned char **data_r, size_t *len_r);
/* LF → CRLF of raw[0..n) (an LF after a CR gets no second CR);
 * malloc'd and NUL-terminated. The result for a prefix of raw is a prefix
 * of the result for raw. 0 or -1. */
int folder_crlf(const unsigned char *raw, size_t n, unsigned char **data_r, size_t *len_r);
/* Reads bytes [off, off + len) of fd until the end of the header: the
 * first LF followed by an empty line ("\n\n", or with lf_only 0 also
 * "\n\r\n"). Returns 0 with *raw_r malloc'd holding *got_r bytes and
 * *cut_r the header's length including its empty line, or 0 in *cut_r if
 * none came before the end (then *got_r bytes are all there are); 1 if
 * no header end comes within FOLDER_HEADER_READ_MAX bytes; -1 (errno). */
int folder_read_head(int fd, uint64_t off, uint64_t len, int lf_only, unsigned char **raw_r,
    size_t *got_r, size_t *cut_r);

#endif
