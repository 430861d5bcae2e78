/*
 * folder-import.c — switching from Dovecot or Courier keeps what clients
 * know. On the first look at a Maildir folder (no yubin-lock yet, so no
 * yubin state ever), a UID list those servers left there becomes yubin's:
 * the same UIDVALIDITY, the same UID for each message still there, the
 * same next UID, and Dovecot's keyword letters (the letters in the file
 * names are the same scheme as yubin-keywords). Their files are only read,
 * never changed, so switching back stays possible.
 *
 * A list there that is not taken (malformed, say) still raises the user's
 * last UIDVALIDITY to its own, so that the fresh one yubin picks is
 * greater and no client of the other server mistakes the new UIDs for
 * the ones it knows; Dovecot's keyword names are taken all the same (the
 * letters are in the file names), so no keyword is lost or renamed.
 *
 * The user's last UIDVALIDITY is raised past the imported one first, then
 * yubin-keywords, yubin-pop3-uidl (Dovecot's POP3 UIDLs), then
 * yubin-uidlist is written (each durably): a crash
 * between them leaves no yubin-uidlist, and the next look (the lock file
 * now there) starts afresh with a greater UIDVALIDITY, never a wrong UID.
 */
#include "folder-uids.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "durable.h"
#include "path.h"
#include "pop3uidl.h"
#include "uidimport.h"

/* yubin-uidlist of the imported list: a record a line, each a UID, a
 * space, a base name of at most NAME_MAX bytes, an LF. */
#define IMPORT_LIST_MAX ((size_t)UIDIMPORT_RECORDS_MAX * 268 + 64)

static int
write_buf(const char *dir, const char *name, struct buf *b)
{
	size_t len;
	char *s = buf_finish(b, &len);
	if (s == NULL)
		return -1;
	int r = durable_replace(dir, name, s, len, DURABLE_SYNCED);
	free(s);
	return r;
}

static int
import_keywords(const char *dir, const struct uidimport *u)
{
	struct buf b = BUF_INIT(UIDIMPORT_KEYWORDS * (IMAP_KEYWORD_MAX + 3));
	for (int i = 0; i < UIDIMPORT_KEYWORDS; i++)
		if (u->kw[i])
			buf_printf(&b, "%c %s\n", 'a' + i, u->kw[i]);
	if (b.len == 0 && b.err == 0)
		return 0;  /* none: the letters stay free */
	return write_buf(dir, KEYWORDS_NAME, &b);
}

/* Records for messages gone since are written too: the next look drops
 * them, as it does any record without its message. Nothing is \Recent
 * but what comes past the imported next UID (the recent marker). */
static int
import_uidlist(const char *dir, const struct uidimport *u)
{
	struct buf b = BUF_INIT(IMPORT_LIST_MAX);
	buf_printf(&b, "yubin-uidlist 1 %" PRIu32 " %" PRIu32 " %" PRIu32 "\n", u->validity,
	    u->next, u->next);
	for (size_t i = 0; i < u->n; i++)
		buf_printf(&b, "%" PRIu32 " %s\n", u->recs[i].uid, u->recs[i].base);
	return write_buf(dir, UIDLIST_NAME, &b);
}

/* Whether yubin's POP3 served dir before: its clients know the file-name
 * UIDLs. Unsure counts as yes: keeping the UIDLs is the safe side. */
static int
pop3_served(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	if (path_join(path, sizeof path, dir, MAILDROP_LOCK_NAME, NULL) != 0)
		return 1;
	return lstat(path, &st) == 0 || errno != ENOENT;
}

/* The UIDLs Dovecot's or Courier's POP3 gave (folder-uids.h), before
 * yubin-uidlist: a crash between the two leaves a fresh list with a fresh
 * UIDVALIDITY, so the UIDLs made from it are new ones, never another
 * message's. Dovecot's are made from the list taken over (r 0); Courier's
 * pop3d kept its own (pop3uidl.h), taken whatever became of the IMAP
 * list. A folder with a dovecot-uidlist was Dovecot's last. */
static int
import_pop3_uidl(const char *dir, const struct uidimport *u, int r)
{
	static const char scheme[] = "dovecot\n";
	if (pop3_served(dir))
		return 0;
	if (u->kind == UIDIMPORT_DOVECOT)
		return r == 0 ? durable_replace(dir, POP3_UIDL_NAME, scheme, sizeof scheme - 1,
		    DURABLE_SYNCED) : 0;
	struct pop3uidl_map m;
	int c = pop3uidl_courier_read(dir, &m);
	if (c != 0)
		return c < 0 ? -1 : 0;
	c = pop3uidl_write(dir, &m);
	int saved = errno;
	pop3uidl_free(&m);
	errno = saved;
	return c;
}

int
folder_uidl_scheme(const char *dir, enum folder_uidl *scheme_r)
{
	char path[PATH_MAX], buf[16];
	*scheme_r = FOLDER_UIDL_NAME;
	if (path_join(path, sizeof path, dir, POP3_UIDL_NAME, NULL) != 0)
		return -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	ssize_t n = read(fd, buf, sizeof buf);
	int saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return -1;
	}
	if (n == 8 && memcmp(buf, "dovecot\n", 8) == 0) {
		*scheme_r = FOLDER_UIDL_DOVECOT;
		return 0;
	}
	if (n >= 8 && memcmp(buf, "courier\n", 8) == 0) {
		*scheme_r = FOLDER_UIDL_COURIER;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

int
folder_import(const char *dir)
{
	struct uidimport u;
	int r = uidimport_read(dir, &u);
	if (r < 0)
		return -1;
	if (r == 1) {
		/* no list to take: the fresh UIDVALIDITY must pass one its
		 * clients know (Dovecot's last one, or about the list's mtime
		 * if its header is unreadable) */
		char root[PATH_MAX];
		uint32_t floor = folder_root(dir, root, sizeof root) == 0 ?
		    uidimport_dovecot_last(root) : 0;
		if (u.validity > floor)
			floor = u.validity;
		if (u.stamp > floor)
			floor = u.stamp;
		if (floor != 0 && floor != UINT32_MAX && folder_uidvalidity_raise(dir, floor) != 0)
			r = -1;
	} else if (u.validity == UINT32_MAX) {
		r = 1;  /* no UIDVALIDITY could follow this one should the list be lost */
	} else if (folder_uidvalidity_raise(dir, u.validity) != 0) {
		r = -1;
	}
	if (r >= 0 && import_keywords(dir, &u) != 0)
		r = -1;
	if (r >= 0 && import_pop3_uidl(dir, &u, r) != 0)
		r = -1;
	if (r == 0 && import_uidlist(dir, &u) != 0)
		r = -1;
	int saved = errno;
	uidimport_free(&u);
	errno = saved;
	return r;
}
