/*
 * dsn.h — delivery status notifications (RFC 3464 inside an RFC 6522
 * multipart/report) for failed, delayed, relayed and delivered
 * recipients, and their delivery: to a local
 * sender's mailbox, or queued for a remote one. Sent from <> with
 * Auto-Submitted: auto-replied (RFC 3834); never for mail from <> (S70).
 */
#ifndef YUBIN_DSN_H
#define YUBIN_DSN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "spool.h"

enum dsn_kind {
	DSN_FAILED,              /* Action: failed: the recipient is given up */
	DSN_DELAYED,             /* Action: delayed: still being retried */
	DSN_RELAYED,             /* Action: relayed: NOTIFY=SUCCESS to a peer without DSN */
	DSN_DELIVERED,           /* Action: delivered: NOTIFY=SUCCESS, stored in a mailbox */
	DSN_EXPANDED,            /* Action: expanded: NOTIFY=SUCCESS to an alias */
};

struct dsn_msg {
	const struct spool_envelope *env;
	const char *queue_id;
	int fd;                  /* the original message */
	uint64_t offset, length;
	int has_8bit;
	enum dsn_kind kind;
	time_t retry_until;      /* for DSN_DELAYED: arrival + queue_lifetime */
	char *const *remote_mta; /* per recipient: host that answered, or NULL */
	const char *notify_to;   /* where the report goes; NULL: the envelope
	                          * sender (a double bounce goes to the postmaster) */
};

/* Whether recipient r wants a failure notice (NOTIFY, RFC 3461 §4.1). */
int dsn_wanted(const struct spool_rcpt *r);
/* Whether r wants a delay notice: NOTIFY=DELAY, or no NOTIFY at all. */
int dsn_delay_wanted(const struct spool_rcpt *r);
/* Whether r asked for NOTIFY=SUCCESS. */
int dsn_success_wanted(const struct spool_rcpt *r);

/* The RFC 3463 status of a diagnostic as "C.x.y" with the class forced to
 * cls ('5' failed, '4' delayed, '2' relayed). out must hold 16 bytes. */
void dsn_status(const char *diag, char cls, char *out, size_t size);

/* Writes the report of m->kind for the recipients idx[0..n) into
 * out_fd, LF line ends. Returns 0 or -1 (errno). */
int dsn_write(int out_fd, const struct conf *conf, const struct dsn_msg *m,
    const size_t *idx, size_t n);

/* Builds the report and delivers it to m->notify_to, else the envelope
 * sender. Returns 0 (durably delivered or queued), 1 (nothing to send:
 * null sender, no recipient), -1 (not now: a locked mailbox, disk full,
 * I/O error; try again later) or -2 (never: the address cannot take
 * mail), with a reason in err for -1 and -2. */
int dsn_send(const struct conf *conf, const struct dsn_msg *m, const size_t *idx, size_t n,
    char *err, size_t errsize);

#endif
