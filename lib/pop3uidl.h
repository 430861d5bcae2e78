/*
 * pop3uidl.h — the POP3 UIDLs Courier's pop3d gave, kept when a Maildir is
 * taken over from Courier, so its POP3 clients download nothing again.
 *
 * Courier's pop3d numbers messages in its own file, courierpop3dsizelist
 * (not courierimapuiddb), and answers UIDL "UID<n>-<uidv>" from it ("UID<n>"
 * when <uidv> is 0). Format, version 2 and 3:
 *   "/<version> <next n> [<uidv>]" then a line a message:
 *   "<file name> <size> <n>:<uidv>[:<utf8>]"
 * Read strictly (a line not so, two lines for one message, more than
 * UIDIMPORT_RECORDS_MAX: nothing is taken); a message is known by its
 * file name's unique part (before ',' or ':').
 *
 * yubin keeps them in yubin-pop3-uidl (lib/folder-uids.h): "courier\n",
 * then "<unique part> <uidl>\n" a message.
 */
#ifndef YUBIN_POP3UIDL_H
#define YUBIN_POP3UIDL_H

#include <stddef.h>

struct pop3uidl_rec {
	char *base;   /* the file name's unique part */
	char *uidl;
};

struct pop3uidl_map {
	struct pop3uidl_rec *r;  /* sorted by base after a read */
	size_t n, cap;
};

/* Reads courierpop3dsizelist of dir. 0 (*m filled), 1 (none, or not of
 * its format), -1 (errno: cannot be read). pop3uidl_free(m) after 0. */
int pop3uidl_courier_read(const char *dir, struct pop3uidl_map *m);
/* Writes m as yubin-pop3-uidl of dir, durably. 0 or -1 (errno). */
int pop3uidl_write(const char *dir, const struct pop3uidl_map *m);
/* Reads the records of yubin-pop3-uidl of dir (after its "courier" line).
 * 0, or -1 (errno; EINVAL: not of its format). */
int pop3uidl_read(const char *dir, struct pop3uidl_map *m);
/* The UIDL recorded for unique part base[0..len), or NULL. */
const char *pop3uidl_find(const struct pop3uidl_map *m, const char *base, size_t len);
void pop3uidl_free(struct pop3uidl_map *m);

#endif
