/*
 * mboxuid.c — UIDs of an mbox folder (mboxuid.h): X-UIDs are believed
 * while they rise and stay below both the X-IMAPbase UIDNEXT and the last
 * UID the sidecar file recorded; a message without one gets the next UID.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "durable.h"
#include "folder.h"
#include "mboxuid.h"

/* In the user's root (every mbox folder's directory), the last
 * UIDVALIDITY handed out to any folder: "<uidvalidity>\n", the file
 * Maildir folders keep there too; flock()ed through the lock file while
 * read and replaced. Names starting "yubin-" are never folders. */
#define VALIDITY_NAME "yubin-uidvalidity"
#define VALIDITY_LOCK_NAME "yubin-uidvalidity.lock"

/* The user directory's ".<mbox>.yubin-uids": "<uidvalidity> <uidnext>
 * <last UID in the file>\n", rewritten with the file, so an emptied mbox
 * (or one whose first message was deleted by a POP3 client) keeps its
 * UIDVALIDITY and never reuses a UID, and an X-UID above the last one
 * written (a delivered message carrying its own) is not believed. A
 * dotfile: pop3-session skips those. */
static void
sidecar_path(const struct folder *f, char *out, size_t size)
{
	const char *base = strrchr(f->mb_path, '/');
	int n = snprintf(out, size, "%s/.%s.yubin-uids", f->dir, base ? base + 1 : f->mb_path);
	if (n < 0 || (size_t)n >= size)
		out[0] = '\0'; /* open("") fails: no sidecar */
}

static int
sidecar_read(const struct folder *f, uint32_t *validity, uint32_t *next, uint32_t *last)
{
	char path[4400], line[64];
	sidecar_path(f, path, sizeof path);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, line, sizeof line - 1);
	close(fd);
	if (r <= 0)
		return -1;
	line[r] = '\0';
	const char *end;
	*validity = mboxmsg_parse_u32(line, (size_t)r, &end);
	if (end == NULL || *validity == 0)
		return -1;
	*next = mboxmsg_parse_u32(end, strlen(end), &end);
	if (end == NULL || *next == 0)
		return -1;
	*last = mboxmsg_parse_u32(end, strlen(end), &end);
	if (end == NULL || *last >= *next)
		*last = *next - 1;
	return 0;
}

/* Writes f's UIDVALIDITY and UIDNEXT and last to the sidecar; durable:
 * the directory too, before it returns. 0 or -1 (errno). */
static int
sidecar_put(const struct folder *f, uint32_t last, int durable)
{
	char path[4400], tmp[4500], line[64];
	sidecar_path(f, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
	int n = snprintf(line, sizeof line, "%u %u %u\n", f->uidvalidity, f->uidnext, last);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int ok = durable_write_all(fd, line, (size_t)n) == 0 && fsync(fd) == 0 &&
	    rename(tmp, path) == 0;
	int e = errno;
	if (!ok)
		unlink(tmp);
	close(fd);
	if (ok && durable && durable_fsync_dir(f->dir) != 0)
		return -1;
	errno = e;
	return ok ? 0 : -1;
}

void
mboxuid_sidecar_write(const struct folder *f, uint32_t last)
{
	(void)sidecar_put(f, last, 0);
}

int
mboxuid_reserve(struct folder *f, size_t n, uint32_t *uid_r, struct mboxuid_undo *undo)
{
	uint32_t sv, sn, slast, uid = f->uidnext;
	if (uid == 0 || n == 0 || n > 0xffffffffU - uid) {
		errno = EOVERFLOW; /* no UID left under this UIDVALIDITY */
		return -1;
	}
	undo->had = sidecar_read(f, &sv, &sn, &slast) == 0 && sv == f->uidvalidity;
	undo->last = undo->had ? slast : 0;
	f->uidnext = uid + (uint32_t)n;
	if (sidecar_put(f, uid + (uint32_t)(n - 1), 1) != 0) {
		int e = errno;
		f->uidnext = uid;
		errno = e;
		return -1;
	}
	*uid_r = uid;
	return 0;
}

void
mboxuid_release(struct folder *f, const struct mboxuid_undo *undo)
{
	char path[4400];
	/* the UID stays used (UIDNEXT stays past it): it was never shown,
	 * but an X-UID of it must not be believed again */
	if (undo->had) {
		(void)sidecar_put(f, undo->last, 1);
	} else {
		sidecar_path(f, path, sizeof path);
		unlink(path);
	}
}

/* A UIDVALIDITY never handed out before in this account, no less than least:
 * max(now, least, the last one + 1), the last one recorded durably before
 * it is returned. A folder deleted and made again within the second
 * (whose sidecar went with it) thus never gets its old UIDVALIDITY back
 * (RFC 9051 2.3.1.1). 0 (errno) if it cannot be recorded. */
static uint32_t
new_validity(const struct folder *f, uint32_t least)
{
	char path[4300], tmp[4400], line[32];
	snprintf(path, sizeof path, "%s/%s", f->dir, VALIDITY_LOCK_NAME);
	int lock = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lock < 0)
		return 0;
	while (flock(lock, LOCK_EX) != 0)
		if (errno != EINTR) {
			close(lock);
			return 0;
		}
	snprintf(path, sizeof path, "%s/%s", f->dir, VALIDITY_NAME);
	uint32_t last = 0, v = (uint32_t)time(NULL);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, line, sizeof line - 1);
		close(fd);
		const char *end;
		if (r > 0)
			last = mboxmsg_parse_u32(line, (size_t)r, &end);
	}
	if (v < least)
		v = least;
	if (v <= last)
		v = last + 1;
	if (v == 0) /* past 2^32 - 1 (a forged X-IMAPbase): start again */
		v = (uint32_t)time(NULL);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	int n = snprintf(line, sizeof line, "%u\n", v);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ok = fd >= 0 && durable_write_all(fd, line, (size_t)n) == 0 && fsync(fd) == 0 &&
	    rename(tmp, path) == 0 && durable_fsync_dir(f->dir) == 0;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (!ok)
		unlink(tmp);
	close(lock);
	errno = e;
	return ok ? v : 0;
}

/* Decides UIDs: X-UIDs are trusted while they rise and stay under the
 * X-IMAPbase UIDNEXT; others get new ones. If a trusted one follows a new
 * one, order is lost: all are numbered again under a new UIDVALIDITY.
 * Returns 1 if the file needs writing, -1 (errno) if a new UIDVALIDITY
 * could not be recorded (then f is as it was). */
int
mboxuid_decide(struct folder *f, struct scanned *s, size_t n)
{
	uint32_t validity = n && s[0].mt.has_base ? s[0].mt.validity : 0;
	uint32_t next = n && s[0].mt.has_base ? s[0].mt.next : 1;
	uint32_t sv = 0, sn, slast, limit = 0xffffffffU;
	int renumber = 0, assigned = 0;
	if (sidecar_read(f, &sv, &sn, &slast) == 0) {
		if (validity == 0 || sv == validity) {
			validity = sv;
			if (sn > next)
				next = sn;
			limit = slast;
		} else {
			/* the file's X-IMAPbase is not what yubin wrote last (another
			 * program, or a forged header): believe neither */
			renumber = 1;
		}
	}
	renumber |= validity == 0;
	if (!renumber) {
		uint32_t prev = 0;
		for (size_t i = 0; i < n && !renumber; i++) {
			if (s[i].mt.has_uid && s[i].mt.uid > prev && s[i].mt.uid < next &&
			    s[i].mt.uid <= limit) {
				if (assigned)
					renumber = 1;
				s[i].uid = prev = s[i].mt.uid;
			} else {
				assigned = 1;
				s[i].fresh = 1;
				s[i].uid = next++;
				prev = s[i].uid;
			}
		}
	}
	if (renumber) {
		uint32_t least = f->uidvalidity + 1;
		if (least <= sv)
			least = sv + 1;
		if (least <= validity)
			least = validity + 1;
		/* least 0: past 2^32 - 1 (a forged X-IMAPbase), no least */
		uint32_t v = new_validity(f, least);
		if (v == 0)
			return -1;
		validity = v;
		next = 1;
		for (size_t i = 0; i < n; i++)
			s[i].uid = next++;
		assigned = n > 0;
	}
	int changed = f->uidvalidity != 0 && f->uidvalidity != validity;
	f->uidvalidity = validity;
	f->uidnext = next;
	if (changed) {
		/* a new UIDVALIDITY: nothing this session knew holds */
		for (size_t i = 0; i < f->n; i++)
			f->m[i].gone = 1;
	}
	return renumber || assigned;
}
