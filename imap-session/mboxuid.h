/*
 * mboxuid.h — UIDs of an mbox folder: which X-UID headers to believe,
 * which messages get new UIDs, and when the folder needs a new
 * UIDVALIDITY; the sidecar file that remembers them across rewrites.
 */
#ifndef IMAP_MBOXUID_H
#define IMAP_MBOXUID_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "folder.h"
#include "mboxmsg.h"

/* One message of the file as a read under the lock found it. */
struct scanned {
	struct meta mt;
	uint64_t from_off, off, len; /* From_ line, message after it, its length */
	time_t when;
	uint64_t vsize;              /* for messages new to the session */
	uint32_t uid;                /* decided */
	unsigned flags;
	uint32_t keywords;
	int old, drop;
	int fresh;                   /* got its UID now: its headers are not ours */
};

/* Decides the UIDs of the n messages in s (s[i].uid, s[i].fresh) and
 * f's UIDVALIDITY and UIDNEXT. Returns 1 if the file needs writing, 0
 * if not, -1 (errno) if a new UIDVALIDITY could not be recorded (then
 * nothing changed). */
int mboxuid_decide(struct folder *f, struct scanned *s, size_t n);
/* Records f's UIDVALIDITY and UIDNEXT and the last UID in the file. */
void mboxuid_sidecar_write(const struct folder *f, uint32_t last);

/* What mboxuid_release() puts back. */
struct mboxuid_undo {
	int had;       /* the sidecar was there, of f's UIDVALIDITY */
	uint32_t last; /* its last UID */
};
/* Under the lock, with f just read (nothing to write back): takes f's
 * UIDNEXT as *uid_r, the first of n UIDs for n messages about to be
 * appended with those X-UIDs. The sidecar records UIDNEXT past them and
 * the last of them as the last UID, durably, before the messages are
 * there, so every reader believes the X-UIDs and nothing needs numbering
 * after the append. 0, or -1 (errno) with nothing changed. */
int mboxuid_reserve(struct folder *f, size_t n, uint32_t *uid_r, struct mboxuid_undo *undo);
/* The append after mboxuid_reserve() failed: the sidecar's last UID as it
 * was (best effort), so a delivered message's X-UID of that number is
 * not believed. */
void mboxuid_release(struct folder *f, const struct mboxuid_undo *undo);

#endif
