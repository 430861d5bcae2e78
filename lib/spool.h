/*
 * spool.h — the outbound queue shared by smtp-session (writer) and
 * relay-runner (reader). The file format is described at the top of spool.c.
 *
 * Layout under conf->spool: tmp/ (being written), new/ (freshly queued);
 * relay-runner adds its own directories for claimed and deferred mail.
 * Envelope fields are length-prefixed records, so no address, DSN parameter
 * or header can forge a record (S26).
 */
#ifndef YUBIN_SPOOL_H
#define YUBIN_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* BOUNCING: failed for good, but the failure notice owed to the sender
 * is not stored yet (relay-runner retries it). */
enum spool_rcpt_state {
	SPOOL_RCPT_PENDING, SPOOL_RCPT_DELIVERED, SPOOL_RCPT_FAILED, SPOOL_RCPT_BOUNCING
};

/* DSN NOTIFY bits (RFC 3461); 0 means not given (default: FAILURE). */
#define SPOOL_NOTIFY_NEVER   1u
#define SPOOL_NOTIFY_SUCCESS 2u
#define SPOOL_NOTIFY_FAILURE 4u
#define SPOOL_NOTIFY_DELAY   8u

enum spool_ret { SPOOL_RET_DEFAULT, SPOOL_RET_FULL, SPOOL_RET_HDRS };

struct spool_rcpt {
	char *addr;
	char *orcpt;              /* ORCPT as received (xtext), or NULL */
	unsigned notify;
	enum spool_rcpt_state state;
	char *diagnostic;         /* last remote reply or error text, or NULL */
};

struct spool_envelope {
	char *sender;             /* "" for the null path */
	char *envid;              /* ENVID as received (xtext), or NULL */
	enum spool_ret ret;
	int body_8bit;            /* BODY=8BITMIME */
	int smtputf8;
	char *auth_user;          /* authenticated submitter, or NULL */
	time_t arrival;
	time_t next_attempt;
	unsigned attempts;
	int delay_warned;         /* relay-runner sent the delay DSN */
	struct spool_rcpt *rcpts;
	size_t n_rcpts;
};

/* Two-step enqueue so smtp-session can store to mailboxes and the spool
 * in one transaction: prepare writes and fsyncs tmp/<id>, commit renames it
 * into new/ and fsyncs new/. The message is msg_len bytes of msg_fd read
 * from offset 0, with LF line ends. */
struct spool_pending {
	char id[128];
	char tmp_path[4096];
	char new_path[4096];
};
/* 0, or -1 with errno (ENOSPC/EDQUOT: disk full; E2BIG: a field longer
 * than the format allows it; EINVAL: no sender or no recipient); on failure
 * nothing is left in tmp/. */
int spool_prepare(const char *spool_dir, const struct spool_envelope *env,
    int msg_fd, uint64_t msg_len, struct spool_pending *p);
/* 0, or -1 with errno (the tmp file is then removed). */
int spool_commit(struct spool_pending *p);
/* Removes the prepared file; safe after commit and twice. */
void spool_abort(struct spool_pending *p);
/* Takes a committed file back out of new/ (unlink, fsync new/), for a
 * caller whose transaction failed after this commit. A runner that
 * claimed it in that instant keeps it. 0, or -1 with errno (ENOENT:
 * claimed already). */
int spool_withdraw(struct spool_pending *p);

/* Reads the envelope of an open spool file. On success *msg_offset_r is
 * where the message starts and *msg_len_r its length; env's strings and
 * recipients are malloc'd, owned by the caller (spool_envelope_free). A
 * truncated or malformed file is an error (EBADMSG) and leaves env empty,
 * never half-parsed. 0 or -1. */
int spool_read(int fd, struct spool_envelope *env, uint64_t *msg_offset_r, uint64_t *msg_len_r);
void spool_envelope_free(struct spool_envelope *env);

/* Creates spool_dir/tmp and spool_dir/new if missing. 0 or -1. */
int spool_dirs(const char *spool_dir);

/* Writes a whole spool file to fd (the envelope, then msg_len bytes of
 * msg_fd from msg_offset) and fsyncs it. 0, or -1 with errno (E2BIG: a
 * field is too long for the format, EINVAL: no sender or no recipient). */
int spool_write_fd(int fd, const struct spool_envelope *env, int msg_fd,
    uint64_t msg_offset, uint64_t msg_len);

/* Atomically replaces final_path by a new spool file with env and the
 * message of src_fd (msg_len bytes at msg_offset): written in
 * spool_dir/tmp, fsync'd, renamed over final_path, directory fsync'd.
 * relay-runner updates per-recipient state this way. 0 or -1 (errno). */
int spool_rewrite(const char *spool_dir, const char *final_path,
    const struct spool_envelope *env, int src_fd, uint64_t msg_offset, uint64_t msg_len);

#endif
