/*
 * quarantine.h — the quarantine file: a message a milter asked to hold,
 * kept in the Maildir spool/quarantine until an admin releases or deletes
 * it (relay-runner --quarantine, --release, --delete).
 *
 * The file is the message with a block of lines on top, written by
 * smtp-session and read back by relay-runner:
 *
 *     X-Yubin-Quarantine-Envelope: <N>            always the first line
 *     X-Yubin-Quarantine: <reason>
 *     X-Yubin-Quarantine-Id: <queue id>
 *     X-Yubin-Quarantine-From: [ENVID=x] [RET=FULL|HDRS] [BODY=8BITMIME] [SMTPUTF8] <sender>
 *     X-Yubin-Quarantine-To: [NOTIFY=n] [ORCPT=x] <recipient>    one per recipient
 *     <the message as it would have been stored>
 *
 * N is the byte count of the lines after the first, up to the message.
 * Only those N bytes are the envelope: a field of the same name in the
 * message (a client's header, a milter's inserted one) lies past them and
 * is never read as ours. Addresses are addr_smtp_safe (no space, '<', '>'
 * or control), parameter values printable ASCII without spaces, the
 * reason printable ASCII: no value can end a line or start a token.
 * NOTIFY is the SPOOL_NOTIFY_* bits in decimal. Mail readers see the
 * block as header fields, so the Maildir can also be read as is.
 */
#ifndef YUBIN_QUARANTINE_H
#define YUBIN_QUARANTINE_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

#define QUARANTINE_ID_MAX 63
#define QUARANTINE_REASON_MAX 1023

struct quarantine_info {
	char id[QUARANTINE_ID_MAX + 1];
	char reason[QUARANTINE_REASON_MAX + 1];
	struct spool_envelope env;   /* sender, DSN parameters, recipients */
	uint64_t msg_off, msg_len;   /* the message within the file */
};

/* 1 if id could name a quarantined message (letters, digits, '.', '_',
 * '-'; 1 to QUARANTINE_ID_MAX bytes), else 0. */
int quarantine_id_valid(const char *id);

/* The block for a message with this id, reason and envelope (of env only
 * sender, envid, ret, body_8bit, smtputf8 and each recipient's addr,
 * notify and orcpt are used). Controls in the reason become '?'. Returns
 * a malloc'd string (length in *len_r), or NULL with errno (EINVAL: an
 * id, address or parameter the format cannot carry; E2BIG: too long). */
char *quarantine_envelope(const char *id, const char *reason,
    const struct spool_envelope *env, size_t *len_r);

/* Reads the block of an open quarantine file into q (recipients pending,
 * arrival the file's mtime). 0, or -1 with errno (EBADMSG: not a
 * quarantine file, or a malformed one; nothing is then left in q). */
int quarantine_read(int fd, struct quarantine_info *q);
void quarantine_info_free(struct quarantine_info *q);

#endif
