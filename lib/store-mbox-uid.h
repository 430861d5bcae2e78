/*
 * store-mbox-uid.h — UIDs of an mbox folder: which X-UID headers to believe,
 * which messages get new UIDs, and when the folder needs a new
 * UIDVALIDITY; the index file beside the mbox that remembers them, so
 * that numbering a new message never writes the mbox.
 */
#ifndef IMAP_MBOXUID_H
#define IMAP_MBOXUID_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "folder.h"
#include "store-mbox-msg.h"

/* One message of the file as a read under the lock found it. */
struct scanned {
	struct meta mt;
	uint64_t from_off, off, len; /* From_ line, message after it, its length */
	time_t when;
	uint64_t vsize;              /* for messages new to the session */
	uint64_t key;                /* mboxmsg_key() */
	uint32_t uid;                /* decided */
	unsigned flags;
	uint32_t keywords;
	int old, drop;
	int fresh;                   /* its headers are not ours (a delivery's) */
	int given;                   /* got its UID now */
	int indexed;                 /* its UID is the index's, not an X-UID */
	int trusted;                 /* indexed, its Status/X-Keywords are ours */
	int file_old;                /* the file says O (Status) */
	int hide;                    /* left out: its new UID could not be kept */
	int idx_flags;               /* its flags are the index's (a STORE's) */
};

/* What the index records beside the UIDs of its messages. */
struct mboxuid_hw {
	uint32_t last;               /* highest X-UID written to the file */
	uint32_t over;               /* the file's X-IMAPbase UIDVALIDITY the index
	                              * replaces (0: none) */
};

/* Decides the UIDs of the n messages in s (s[i].uid, fresh, indexed) and
 * f's UIDVALIDITY and UIDNEXT, from the X-UIDs in the file and the index
 * beside it. 0 if every UID was known, MBOXUID_NEW if some message got
 * one now, MBOXUID_RENUMBERED if all did under a new UIDVALIDITY (the
 * index alone records it: the file is not written), -1 (errno) if a new
 * UIDVALIDITY could not be recorded (then f is as it was). */
#define MBOXUID_NEW 1
#define MBOXUID_RENUMBERED 2
int mboxuid_decide(struct folder *f, struct scanned *s, size_t n, struct mboxuid_hw *hw);
/* Records f's UIDVALIDITY and UIDNEXT, hw, and the UID, \Recent claim
 * and flags (idx_flags) of each message of s the file does not say
 * itself, if that
 * differs from what is recorded: a new file, fsync'd, renamed over the
 * index, and with durable the directory fsync'd. Messages marked drop
 * are kept with dropped (they are still in the file until the rewrite
 * that drops them is in place). 0 or -1 (errno). */
int mboxuid_index_write(const struct folder *f, const struct scanned *s, size_t n,
    const struct mboxuid_hw *hw, int durable, int dropped);

/* What mboxuid_release() puts back. */
struct mboxuid_undo {
	int had;       /* the index was there, of f's UIDVALIDITY */
	uint32_t last; /* its last UID */
};
/* Under the lock, with f just read (nothing to write back): takes f's
 * UIDNEXT as *uid_r, the first of n UIDs for n messages about to be
 * appended with those X-UIDs. The index records UIDNEXT past them and
 * the last of them as the last UID, durably, before the messages are
 * there, so every reader believes the X-UIDs and nothing needs numbering
 * after the append. 0, or -1 (errno) with nothing changed. */
int mboxuid_reserve(struct folder *f, size_t n, uint32_t *uid_r, struct mboxuid_undo *undo);
/* The append after mboxuid_reserve() failed: the index's last UID as it
 * was (best effort), so a delivered message's X-UID of that number is
 * not believed. */
void mboxuid_release(struct folder *f, const struct mboxuid_undo *undo);

/* stat() of f's index file. 0 or -1 (errno; ENOENT: none). */
int mboxuid_index_stat(const struct folder *f, struct stat *st);

#endif
