/*
 * imap.h — what the parts of imap-session share: the session, the command
 * table's handler type and the output helpers.
 */
#ifndef IMAP_IMAP_H
#define IMAP_IMAP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "folder.h"
#include "io.h"
#include "parser.h"
#include "session.h"
#include "store.h"

enum imap_state {
	STATE_NOT_AUTH = 1,
	STATE_AUTH = 2,
	STATE_SELECTED = 4,
	STATE_LOGOUT = 8,
};

/* A handler's verdict; the dispatcher writes the tagged line. */
enum verdict { V_OK, V_NO, V_BAD, V_DONE /* handler replied itself */, V_CLOSE };

struct tls;
struct deflate;

struct imap {
	struct session s;
	struct io io;
	struct imap_framer fr;
	struct tls *tls;
	int tls_active;
	struct deflate *deflate;  /* COMPRESS=DEFLATE active (compress.c) */
	enum imap_state state;
	char user[320];
	char root[4096];          /* the user's Maildir root */
	struct store store;       /* the user's mail (lib/store.h) */
	int utf8;                 /* UTF8=ACCEPT or IMAP4rev2 enabled */
	int rev2;
	struct folder *sel;
	unsigned bad_commands;
	unsigned auth_failures;
	char text[512];           /* tagged reply text set by the handler */
	uint32_t *searchres;      /* SEARCHRES "$": UIDs */
	size_t nsearchres;
	int searchres_set;
	struct search_updates *updates; /* RETURN (UPDATE) contexts (search-update.c) */
	int uid_command;          /* current command is a UID command */
	int condstore;            /* CONDSTORE enabled (condstore.c) */
	int search_modseq;        /* the last search program had a MODSEQ key */
};

typedef enum verdict (*imap_handler)(struct imap *im, struct imap_command *c);

/* reply.c */
/* snprintf that reports truncation: 0, or -1 if out did not fit. */
int strf(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sets im->text and returns v. */
enum verdict verdict(struct imap *im, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Output: strings quoted when safe, else as literals (S39). */
void out_string(struct io *io, const char *s, size_t len);
void out_nstring(struct io *io, const char *s, size_t len);
void out_astring(struct io *io, const char *s);
/* A mailbox name (UTF-8) in the client's encoding. */
void out_mailbox(struct imap *im, const char *name);

/* report.c */
/* Untagged updates: EXPUNGE (if allow_expunge), EXISTS, RECENT, FETCH FLAGS,
 * and the ESEARCH of UPDATE contexts. */
void imap_report(struct imap *im, int allow_expunge);
/* search-update.c: called right before "* n EXPUNGE" responses for the
 * messages marked gone (REMOVEFROM goes first, RFC 5267 §4.3.4), and
 * after EXISTS and FETCH updates (ADDTO after EXISTS, §4.3.3). */
void search_update_expunged(struct imap *im);
void search_update_report(struct imap *im);
/* Untagged FLAGS (and PERMANENTFLAGS, read-write) listing every keyword
 * of the selected folder, if it has one the client was not told of yet
 * (another session or this command made it): a keyword must be announced
 * before a FETCH shows it (RFC 9051 §7.3.5). always: write them anyway
 * (SELECT). */
void imap_announce_keywords(struct imap *im, int always);
/* Writes "(\Seen ...)" for a message. */
void out_flags(struct imap *im, unsigned flags, uint32_t keywords);

/* Mailbox name argument → UTF-8 name and folder directory. NO text set on
 * failure. 0 or -1. */
int imap_mailbox_arg(struct imap *im, const struct imap_arg *a, char *name, size_t nsize,
    char *dir, size_t dsize);
/* Directory of a UTF-8 name. */
int imap_mailbox_dir(struct imap *im, const char *name, char *dir, size_t dsize);

/* Sequence sets (seqset.c). */
struct seqset {
	struct seqrange { uint32_t lo, hi; } *r;
	size_t n;
};
/* Parses a set; '*' is star. "$" (SEARCHRES) is resolved by the caller.
 * 0 or -1 (bad syntax, 0, numbers over 2^32-1). */
int seqset_parse(const char *s, uint32_t star, struct seqset *set);
int seqset_contains(const struct seqset *set, uint32_t v);
void seqset_free(struct seqset *set);
/* Appends UIDs (in the given order) to b as a set, runs merged: "1:3,7".
 * 0, or -1 with errno when b failed (its ceiling, E2BIG, or ENOMEM). */
int seqset_format(struct buf *b, const uint32_t *u, size_t n);
/* The same set written to io; 0, or -1 (nothing written: out of memory,
 * or io's write failed). */
int seqset_write(struct io *io, const uint32_t *u, size_t n);
/* Message indexes selected by a set argument (by sequence or by UID,
 * "$" included); malloc'd array of indexes. 0 or -1 (BAD set). */
int imap_select_messages(struct imap *im, const char *arg, int by_uid, size_t **idx_r,
    size_t *n_r);

/* Command handlers, by file. */
enum verdict cmd_select(struct imap *im, struct imap_command *c);
enum verdict cmd_examine(struct imap *im, struct imap_command *c);
enum verdict cmd_create(struct imap *im, struct imap_command *c);
enum verdict cmd_delete(struct imap *im, struct imap_command *c);
enum verdict cmd_rename(struct imap *im, struct imap_command *c);
enum verdict cmd_subscribe(struct imap *im, struct imap_command *c);
enum verdict cmd_unsubscribe(struct imap *im, struct imap_command *c);
enum verdict cmd_list(struct imap *im, struct imap_command *c);
enum verdict cmd_lsub(struct imap *im, struct imap_command *c);
enum verdict cmd_status(struct imap *im, struct imap_command *c);
enum verdict cmd_namespace(struct imap *im, struct imap_command *c);
enum verdict cmd_close(struct imap *im, struct imap_command *c);
enum verdict cmd_unselect(struct imap *im, struct imap_command *c);
enum verdict cmd_expunge(struct imap *im, struct imap_command *c);
enum verdict cmd_fetch(struct imap *im, struct imap_command *c);
enum verdict cmd_store(struct imap *im, struct imap_command *c);
enum verdict cmd_copy(struct imap *im, struct imap_command *c);
enum verdict cmd_move(struct imap *im, struct imap_command *c);
enum verdict cmd_append(struct imap *im, struct imap_command *c);
/* quota.c: QUOTA (RFC 9208); imap_quota_check is V_OK, or NO [OVERQUOTA]
 * (text set) when add more bytes would pass the user's quota_storage. */
enum verdict cmd_getquotaroot(struct imap *im, struct imap_command *c);
enum verdict cmd_getquota(struct imap *im, struct imap_command *c);
enum verdict cmd_setquota(struct imap *im, struct imap_command *c);
enum verdict imap_quota_check(struct imap *im, uint64_t add);
/* Whether CAPABILITY names QUOTA: before login when quota_storage is set,
 * after it when the user has a limit (its own or quota_storage). */
int imap_quota_offered(struct imap *im);
/* append8.c: a literal8 APPEND's message in the form stored, its parts in
 * Content-Transfer-Encoding binary base64-encoded (msg->str replaced when
 * there are some). 0, or -1 (ENOMEM). */
int append8_store_form(struct imap_arg *msg);
enum verdict cmd_search(struct imap *im, struct imap_command *c);
enum verdict cmd_idle(struct imap *im, struct imap_command *c);
/* compress.c: COMPRESS DEFLATE; compress_bye says BYE when input failed
 * to inflate (corrupt, or a bomb: S52); compress_end logs the counts and
 * frees the stream at the end of the session (after the last flush). */
enum verdict cmd_compress(struct imap *im, struct imap_command *c);
void compress_bye(struct imap *im);
void compress_end(struct imap *im);

/* CATENATE (catenate.c) of one APPEND message: its list of parts, and
 * the message made of them (the store_new's data points there;
 * cmd_append frees it). */
struct append_cat {
	const struct imap_arg *cat;
	char *built;
};
/* catenate.c: CATENATE (RFC 4469). catenate_check: 0 if list is a
 * CATENATE's parts ("TEXT" literal / "URL" astring pairs), else -1 (BAD).
 * catenate_build: every message of v[0..n) with parts x[i].cat made, once
 * the target name is known: V_OK, or the NO ([TRYCREATE], [BADURL],
 * [TOOBIG]) with the messages built so far left to cmd_append to free. */
int catenate_check(const struct imap_arg *list);
enum verdict catenate_build(struct imap *im, const char *name, struct store_new *v,
    struct append_cat *x, size_t n);

/* condstore.c: CONDSTORE (RFC 7162 §3.1). */
/* A mod-sequence (1..2^63-1; 0 too if zero_ok): 0 or -1. */
int condstore_parse_modseq(const char *s, int zero_ok, uint64_t *v);
/* Turns CONDSTORE on (the enabling commands), saying HIGHESTMODSEQ if a
 * folder is selected and it was off. */
void condstore_enable(struct imap *im);
/* "* OK [HIGHESTMODSEQ n]" of the selected folder. */
void condstore_select_ok(struct imap *im);
/* Writes sep "MODSEQ (n)" of m. */
void condstore_out_modseq(struct imap *im, const struct fmsg *m, const char *sep);
/* The modifier "(name n)": 0 (*v set), 1 (another), -1 (bad). */
int condstore_modifier(const struct imap_arg *a, const char *name, int zero_ok, uint64_t *v);
/* SELECT/EXAMINE's parameter list "(CONDSTORE)": 0, or -1 (BAD). */
int condstore_select_params(struct imap *im, const struct imap_arg *a);
/* The greatest modseq of the messages idx[0..n) (0 if none). */
uint64_t condstore_highest_of(const struct folder *f, const size_t *idx, size_t n);

/* qsort order of uint32_t. */
int condstore_u32_cmp(const void *a, const void *b);

/* Mailbox setup at login: root and special-use folders. 0 or -1. */
int imap_user_setup(struct imap *im);
/* Runs expunge of \Deleted messages (uids: only those, or NULL). */
int imap_do_expunge(struct imap *im, const struct seqset *uids, int report);

#endif
