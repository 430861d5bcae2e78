/*
 * quota-file.h — a Maildir user's storage usage, kept in the Maildir++
 * file "maildirsize" in the Maildir root (Courier's README.maildirquota,
 * also read and written by Dovecot's maildir quota):
 *
 *   <limit>S              the limit in force when it was counted
 *   <bytes> <messages>    the count from the store
 *   <bytes> <messages>    one line appended per change ("-5120 -1" ...)
 *
 * The usage is the sum of the lines after the first. Counting the store
 * costs a readdir of every folder; reading this file costs one read.
 *
 * Who writes what, so that the count is never below the truth:
 *   - every addition to a folder appends its line before the message is
 *     published, every removal after it is gone (lib/maildir.c), both under
 *     a shared flock of the file: a crash leaves the count high, never low;
 *   - a recount (quota.c) holds the exclusive flock while it walks the store,
 *     then renames a fresh file over the old one, so no change is lost
 *     between its walk and its rename;
 *   - a reader takes no lock: a line half written is a damaged file.
 * A file that is missing, damaged (any line not two integers and an LF, a
 * negative sum), at least QUOTA_FILE_MAX bytes, or last written before the
 * system booted (appends not yet on disk may have been lost) is recounted.
 */
#ifndef YUBIN_QUOTA_FILE_H
#define YUBIN_QUOTA_FILE_H

#include <stdint.h>
#include <time.h>

#define QUOTA_FILE_NAME "maildirsize"

/* What a valid file says. */
struct quota_file_sum {
	uint64_t bytes, messages;
	unsigned lines;          /* lines after the header */
	time_t mtime;            /* when it was last written */
};

/* Reads the open file fd. 1 valid (*sum), 0 to be recounted, -1 (errno). */
int quota_file_read(int fd, struct quota_file_sum *sum);

/* Opens root's file read-only: an fd, or -1 (errno; ENOENT: none). */
int quota_file_open(const char *root);

/* The recount's side: opens (creating an empty one) and exclusively locks
 * root's file, making sure the lock is on the file the name refers to.
 * An fd, or -1 (errno). */
int quota_file_lock(const char *root);

/* Replaces root's file (fd locked by quota_file_lock) by a fresh one
 * holding limit and the counted bytes and messages, written under a
 * unique name (durable_replace) and renamed over it; closes fd (so
 * unlocks). 0, or -1 (errno; the old file stays, still to be recounted). */
int quota_file_replace(const char *root, int fd, uint64_t limit, uint64_t bytes,
    uint64_t messages);

/* The writers' side, for one change to one Maildir folder (the user's
 * root, or a Maildir++ .Folder in it):
 *	quota_note_begin(folder, &n);
 *	quota_note_add(&n, +size, +1);      before publishing
 *	... publish; on failure quota_note_add(&n, -size, -1) ...
 *	quota_note_end(&n);
 * A removal adds its negative line after the file is gone. Without a file
 * nothing is written, except that an addition made while a recount
 * created one is added to it at the end (counted twice at worst). */
struct quota_note {
	int fd;                  /* the locked file, -1 if none */
	int missing;             /* none at begin */
	int64_t bytes, messages; /* added while missing */
	char root[4096];
};
void quota_note_begin(const char *folder, struct quota_note *n);
void quota_note_add(struct quota_note *n, int64_t bytes, int64_t messages);
void quota_note_end(struct quota_note *n);

/* For changes made without notes (a whole folder removed): marks root's
 * file damaged, so the next reader counts the store again. */
void quota_file_stale(const char *root);

#endif
