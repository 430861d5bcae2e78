/*
 * mboxuid.c — UIDs of an mbox folder (mboxuid.h): X-UIDs are believed
 * while they rise and stay below both the X-IMAPbase UIDNEXT and the last
 * UID the sidecar file recorded; a message without one gets the next UID.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "durable.h"
#include "folder.h"
#include "mboxuid.h"

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

void
mboxuid_sidecar_write(const struct folder *f, uint32_t last)
{
	char path[4400], tmp[4500], line[64];
	sidecar_path(f, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
	int n = snprintf(line, sizeof line, "%u %u %u\n", f->uidvalidity, f->uidnext, last);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (durable_write_all(fd, line, (size_t)n) != 0 || fsync(fd) != 0 || rename(tmp, path) != 0)
		unlink(tmp);
	close(fd);
}

/* Decides UIDs: X-UIDs are trusted while they rise and stay under the
 * X-IMAPbase UIDNEXT; others get new ones. If a trusted one follows a new
 * one, order is lost: all are numbered again under a new UIDVALIDITY.
 * Returns 1 if the file needs writing. */
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
		uint32_t v = (uint32_t)time(NULL);
		if (f->uidvalidity != 0 && v <= f->uidvalidity)
			v = f->uidvalidity + 1;
		if (v <= sv)
			v = sv + 1;
		if (validity != 0 && v <= validity)
			v = validity + 1;
		if (v == 0) /* past 2^32 - 1 (a forged X-IMAPbase): start again */
			v = (uint32_t)time(NULL);
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
