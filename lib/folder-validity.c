/*
 * folder-validity.c — the user's last UIDVALIDITY, so that a fresh one is
 * always greater than every earlier one of a folder (RFC 9051 §2.3.1.1),
 * even when its UID list is lost within the second it was made, and
 * greater than one taken over from Dovecot or Courier (folder-import.c).
 *
 * The user's root keeps the last value handed out or taken over in
 * yubin-uidvalidity ("<decimal>\n"), read and replaced under an flock()
 * of yubin-uidvalidity.lock beside it (the lock mbox folders take too,
 * store-mbox-uid.c): two folders looked at for the first time at once would
 * otherwise each write their own value, and a raise could be undone by a
 * lower one. Maildir++ folders sit directly in the root, so the root is
 * dir itself (INBOX) or its parent.
 */
#include "folder-uids.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "durable.h"
#include "path.h"

#define VALIDITY_LOCK_NAME "yubin-uidvalidity.lock"

int
folder_root(const char *dir, char *root, size_t size)
{
	const char *slash = strrchr(dir, '/');
	if (slash && slash[1] == '.')
		return path_printf(root, size, "%.*s", (int)(slash - dir), dir);
	return path_printf(root, size, "%s", dir);
}

/* Locks the root's record; -1 if the lock cannot be had (errno). */
static int
validity_lock(const char *root)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof path, root, VALIDITY_LOCK_NAME, NULL) != 0)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

static unsigned long
validity_last(const char *root)
{
	char path[PATH_MAX], buf[32];
	unsigned long last = 0;
	if (path_join(path, sizeof path, root, VALIDITY_NAME, NULL) != 0)
		return last;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			last = strtoul(buf, NULL, 10);
		}
	}
	return last;
}

static int
validity_put(const char *root, uint32_t v)
{
	char buf[32];
	int len = snprintf(buf, sizeof buf, "%" PRIu32 "\n", v);
	return durable_replace(root, VALIDITY_NAME, buf, (size_t)len, DURABLE_SYNCED);
}

uint32_t
folder_uidvalidity_new(const char *dir)
{
	char root[PATH_MAX];
	/* too long: a value from the clock alone, recorded nowhere */
	int named = folder_root(dir, root, sizeof root) == 0;
	int lock = named ? validity_lock(root) : -1;
	unsigned long last = named ? validity_last(root) : 0;
	uint32_t v = (uint32_t)time(NULL);
	if (last >= UINT32_MAX)
		last = 0;
	if (v <= last)
		v = (uint32_t)last + 1;
	if (named)
		(void)validity_put(root, v);
	if (lock >= 0)
		close(lock);
	return v;
}

int
folder_uidvalidity_raise(const char *dir, uint32_t v)
{
	char root[PATH_MAX];
	if (folder_root(dir, root, sizeof root) != 0)
		return -1;
	int lock = validity_lock(root);
	if (lock < 0)
		return -1;
	int r = validity_last(root) >= v ? 0 : validity_put(root, v);
	int saved = errno;
	close(lock);
	errno = saved;
	return r;
}
