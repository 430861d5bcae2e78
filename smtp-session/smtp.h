/*
 * smtp.h — state of one SMTP session, shared by the files of smtp-session.
 */
#ifndef SMTP_SMTP_H
#define SMTP_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bounds.h"
#include "io.h"
#include "session.h"
#include "spool.h"
#include "targets.h"

struct tls;
struct mailbox_txn;
struct smtp_milters;

enum smtp_state {
	SMTP_STATE_START,     /* greeted, no HELO/EHLO yet */
	SMTP_STATE_READY,     /* HELO/EHLO done, no transaction */
	SMTP_STATE_MAIL,      /* MAIL accepted */
	SMTP_STATE_RCPT,      /* at least one RCPT accepted */
	SMTP_STATE_BDAT,      /* BDAT chunks arriving */
};

/* Verdict of a command handler: go on, or end the session. */
enum smtp_verdict { SMTP_CONTINUE, SMTP_CLOSE };

struct smtp_rcpt {
	char addr[ADDR_PATH_MAX + 1];
	int local;                 /* in local_domains */
	unsigned notify;           /* SPOOL_NOTIFY_* */
	char *orcpt;               /* xtext as received, or NULL */
};

struct smtp {
	struct session session;
	struct conf *conf;         /* &session.conf */
	struct io io;
	enum smtp_state state;
	int submission;            /* --submission: AUTH before MAIL */
	int implicit_tls;
	int esmtp;
	int strict_sync;           /* enforce RFC 2920 grouping (not on pipes) */
	char helo[HELO_NAME_MAX + 1];
	struct tls *tls;
	char tls_info[160];
	char auth_user[ADDR_PATH_MAX + 1];
	char auth_mech[8];         /* SASL mechanism of that login ({auth_type}) */

	/* Transaction. */
	char sender[ADDR_PATH_MAX + 1];
	int smtputf8, body_8bit;
	uint64_t declared_size;    /* MAIL SIZE=, or 0 */
	struct targets space_targets;  /* the copies so far, for SIZE= */
	int quota_full;            /* the last store failed on a quota: 1 full, 2 too big */
	enum spool_ret ret;
	char *envid;
	struct smtp_rcpt *rcpts;
	size_t n_rcpts;
	int msg_fd;                /* BDAT content so far, or -1 */
	uint64_t msg_len;
	uint64_t msg_trace_len;    /* our Received: at the start of msg_fd */
	uint64_t msg_seen;         /* content bytes received, stored or not */
	int msg_too_big;
	char msg_id[32];
	struct smtp_milters *milters;   /* milter.c; NULL until the first MAIL */

	/* Counters (S35, S49, S50, S53). */
	unsigned bad_commands, junk_commands, transactions, unknown_rcpts;
	unsigned auth_failures, messages;
};

/* command.c: reads and runs commands until QUIT, an error or EOF. */
void smtp_loop(struct smtp *s);

/* reply.c */
/* One reply line ("250", "2.1.0", text). Multi-line replies use reply_more
 * for every line but the last. */
void smtp_reply(struct smtp *s, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void smtp_reply_more(struct smtp *s, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Input arrived that the client should have waited for (S6): 554, close. */
enum smtp_verdict smtp_sync_error(struct smtp *s, const char *after);

/* envelope.c */
/* Ends the transaction (RSET, after delivery, EHLO, STARTTLS). */
void smtp_reset(struct smtp *s);
enum smtp_verdict smtp_cmd_mail(struct smtp *s, char *args);
enum smtp_verdict smtp_cmd_rcpt(struct smtp *s, char *args);
/* xtext (RFC 3461 §4): decodes into out; -1 if malformed or it decodes to
 * anything but printable ASCII (S26). */
int smtp_xtext_decode(const char *in, char *out, size_t size);
/* rcpt.c */
/* Is a local recipient known? 1 yes, 0 no, -1 lookup failed, -2 an alias
 * that loops or names a local target that is no user. */
int smtp_rcpt_known(struct smtp *s, const char *addr);
/* Lower-cases the ASCII letters of a local address in place. */
void smtp_lower_case(char *p);
int smtp_rcpt_is_duplicate(const struct smtp *s, const char *addr);
/* Adds r (taking its ORCPT) unless the address is there already. 0 or -1. */
int smtp_rcpt_add(struct smtp *s, struct smtp_rcpt *r);
/* A recipient added by a milter: checked as at RCPT (syntax, a known
 * local user or alias, the recipient limit) and added. 0 or -1. */
int smtp_rcpt_add_checked(struct smtp *s, const char *path);
/* Takes a recipient out of the transaction (a milter's DELRCPT). */
void smtp_rcpt_remove(struct smtp *s, const char *addr);

/* message.c */
enum smtp_verdict smtp_cmd_data(struct smtp *s, char *args);
enum smtp_verdict smtp_cmd_bdat(struct smtp *s, char *args);

/* msgfile.c */
/* A new, nameless content file in the spool's tmp/. fd or -1 (errno). */
int smtp_msg_file_open(struct smtp *s);
/* A file for a message of size bytes: in memory (memfd) while it is at
 * most SMTP_MSG_MEMORY_MAX, else smtp_msg_file_open's. -1 (errno). */
int smtp_msg_file_for(struct smtp *s, uint64_t size);
/* Moves a message that outgrew memory into a file under the spool. */
int smtp_msg_spill(struct smtp *s);
/* Puts len bytes of text (whole header fields) into the message right
 * under our Received: (the trace fields stay on top, RFC 5321 §4.4), in a
 * new content file. 0 or -1 (errno; the message is unchanged). */
int smtp_msg_insert(struct smtp *s, const char *text, size_t len);

/* space.c */
/* Whether the spool and mail_root file systems hold every copy of a
 * message of size bytes for targets t, plus the margin kept free (S54):
 * 0 yes, 1 not now (452), 2 never, even on empty file systems (552). */
int smtp_space_check(const struct smtp *s, const struct targets *t, uint64_t size);

/* quota.c: whether a copy of size bytes would pass the storage quota of
 * a local target of t (its own limit, else quota_storage): 0 no, 1 yes
 * (*who its index), 2 it would even in that target's empty mailbox (*who),
 * -1 limit or usage unreadable (errno; *who the index). */
int smtp_quota_over(const struct smtp *s, const struct targets *t, uint64_t size,
    size_t *who);

/* notice.c: success notices (NOTIFY=SUCCESS) for local recipients, one
 * for mailboxes ("delivered") and one for aliases ("expanded"). */
struct smtp_notices {
	struct spool_pending pending[2];   /* a remote sender's, in the spool */
	size_t n_pending, n_published;
};
/* Builds the notices the transaction's local recipients asked for and
 * adds them to the transaction: copies in *txn (created when NULL) for a
 * local sender, prepared spool files in n for a remote one. Call after
 * the message is complete. 0 or -1 (errno); n is always initialised. */
int smtp_notices_prepare(struct smtp *s, struct mailbox_txn **txn, struct smtp_notices *n);
/* Publishes the spool notices; on failure none stays published. 0 or -1. */
int smtp_notices_commit(struct smtp_notices *n);
/* Takes published notices back: the message's own publish failed. */
void smtp_notices_withdraw(struct smtp_notices *n);
/* Removes notices not published; safe after commit and twice. */
void smtp_notices_abort(struct smtp_notices *n);

/* submit.c */
/* For an authenticated submitter, adds Date: and Message-ID: when the
 * message has none (RFC 6409 §8), rewriting msg_fd and msg_len. 0 or -1. */
int smtp_submission_headers(struct smtp *s);

/* sign.c */
/* For an authenticated submitter whose From: domain has keys in
 * dkim_key_dir, adds one DKIM-Signature per key under our Received:,
 * rewriting msg_fd and msg_len. Call after smtp_submission_headers.
 * 0 (signed, or nothing to sign) or -1 (errno; logged). */
int smtp_dkim_sign(struct smtp *s);

/* auth.c */
enum smtp_verdict smtp_cmd_starttls(struct smtp *s, char *args);
enum smtp_verdict smtp_cmd_auth(struct smtp *s, char *args);
int smtp_auth_offered(const struct smtp *s);
/* Implicit TLS (465): handshake before the greeting. 0 or -1. */
int smtp_tls_implicit(struct smtp *s);

#endif
