/*
 * mailboxes.h — what the mailbox commands share among themselves
 * (mailboxes.c, subscriptions.c, list.c): folder tests, name lists, the
 * subscriptions file, STATUS output.
 */
#ifndef IMAP_MAILBOXES_H
#define IMAP_MAILBOXES_H

#include <stddef.h>

#include "imap.h"

/* A list of UTF-8 mailbox names. */
struct names {
	char **v;
	size_t n, cap;
};

void names_free(struct names *l);
/* Appends a copy of s. 0 or -1. */
int names_add(struct names *l, const char *s);
int names_has(const struct names *l, const char *s);
/* qsort comparison of two names. */
int name_cmp(const void *a, const void *b);

/* 1 if folder name exists in the user's store. */
int mailbox_exists(struct imap *im, const char *name);

/* Opens mailbox name (dir: its directory from imap_mailbox_arg) as a
 * folder of its own in *f_r, whatever the storage: SELECT and EXAMINE,
 * and CATENATE reading another mailbox (readonly). what names the command
 * in log lines. V_OK, or V_NO with the reply's text set ([NONEXISTENT],
 * [UNAVAILABLE], [OVERQUOTA], [SERVERBUG]). */
enum verdict mailbox_open(struct imap *im, const char *name, const char *dir, int readonly,
    const char *what, struct folder **f_r);

/* Reads the subscribed names into l. 0 (also when there is no file), or
 * -1 when a read failed: l then holds the names before the failure. */
int subs_read(struct imap *im, struct names *l);
/* Adds (add) or removes name in the subscriptions file, durably. 0 or -1. */
int subs_change(struct imap *im, const char *name, int add);

/* Writes "* STATUS name (items)": 0; -1 if an item is unknown; -2 if the
 * folder cannot be read. */
int status_write(struct imap *im, const char *name, const struct imap_arg *items);

#endif
