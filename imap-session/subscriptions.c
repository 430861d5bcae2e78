/*
 * subscriptions.c — the file behind SUBSCRIBE and UNSUBSCRIBE (mailboxes.c):
 * the user's root holds "subscriptions", one UTF-8 mailbox name per line.
 * Also the list of names LIST and LSUB build on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "fileline.h"
#include "imap.h"
#include "mailboxes.h"
#include "mailname.h"
#include "path.h"

#define SUBSCRIPTIONS "subscriptions"

void
names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int
names_add(struct names *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		char **p = realloc(l->v, cap * sizeof *p);
		if (p == NULL)
			return -1;
		l->v = p;
		l->cap = cap;
	}
	if ((l->v[l->n] = strdup(s)) == NULL)
		return -1;
	l->n++;
	return 0;
}

int
names_has(const struct names *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the subscribed names into l. A line longer than any name or
 * holding a NUL is skipped whole: read in pieces, its tail would pass for
 * a subscription of its own. Returns 0 (also when there is no file), or
 * -1 when a read failed: l then holds the names before the failure, too
 * few to write back. */
int
subs_read(struct imap *im, struct names *l)
{
	char path[PATH_MAX], line[MAILNAME_MAX + 1];
	if (path_join(path, sizeof path, im->root, SUBSCRIPTIONS, NULL) != 0)
		return -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *fp = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (fp == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	enum fileline_status st;
	size_t len;
	while (l->n < IMAP_FOLDERS_MAX &&
	    (st = fileline_read(fp, line, sizeof line, &len)) != FILELINE_EOF) {
		if (st == FILELINE_ERROR) {
			fclose(fp);
			return -1;
		}
		if (st == FILELINE_OK && len > 0 && utf8_valid(line, len) && !names_has(l, line))
			names_add(l, line);
	}
	fclose(fp);
	return 0;
}

/* Rewrites the file as every store file is written (durable_replace):
 * mode 0600 whatever the umask, a unique temporary name, no symlink
 * followed; SUBSCRIBE answers OK only once the rename survives a crash. */
static int
subs_write(struct imap *im, const struct names *l)
{
	size_t len = 0;
	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 1;
	char *buf = malloc(len + 1), *p = buf;
	if (buf == NULL)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		size_t n = strlen(l->v[i]);
		memcpy(p, l->v[i], n);
		p[n] = '\n';
		p += n + 1;
	}
	int r = durable_replace(im->root, SUBSCRIPTIONS, buf, len, DURABLE_SYNCED);
	free(buf);
	return r;
}

int
subs_change(struct imap *im, const char *name, int add)
{
	struct names l = { 0 };
	if (subs_read(im, &l) != 0) {
		names_free(&l);
		return -1;
	}
	size_t out = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(l.v[i], name) == 0)
			free(l.v[i]);
		else
			l.v[out++] = l.v[i];
	}
	l.n = out;
	int r = 0;
	if (add)
		r = names_add(&l, name);
	if (r == 0)
		r = subs_write(im, &l);
	names_free(&l);
	return r;
}
