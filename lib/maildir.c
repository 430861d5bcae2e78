/*
 * maildir.c — Maildir delivery (tmp → fsync → link into new/ → fsync new/)
 * and reading (open, flag renames, removal; the listing is maildir-scan.c's)
 * per cr.yp.to/proto/maildir.html.
 *
 * File names: <unique>,S=<size>,W=<crlf size>[:2,<flags>]. Readers take the
 * sizes from the name and never open a message to list it. A message that
 * moved between a scan and an open (another session renamed it) is found
 * again by its unique part (S64). tmp/, new/ and cur/ are opened with
 * O_NOFOLLOW and message files with O_NOFOLLOW + S_ISREG, so nothing is
 * ever written or read through a planted symlink (S34).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "durable.h"
#include "maildir.h"
#include "maildir-internal.h"
#include "path.h"
#include "quota-file.h"

/* Times we follow a message that keeps moving before giving up. */
#define MAILDIR_FOLLOW_TRIES 5
/* Room left in a file name for ",S=<20 digits>,W=<20 digits>:2,<31 flags>". */
#define MAILDIR_INFO_RESERVE 96

/* renameat2 between subdirectories opened with O_NOFOLLOW (S34). */
static int
rename_sub(const char *from_dir, const char *from_sub, const char *from_name,
    const char *to_dir, const char *to_sub, const char *to_name, unsigned flags)
{
	int fd1 = maildir_open_sub(from_dir, from_sub);
	if (fd1 < 0)
		return -1;
	int fd2 = maildir_open_sub(to_dir, to_sub);
	if (fd2 < 0) {
		maildir_close_keep_errno(fd1);
		return -1;
	}
	int r = renameat2(fd1, from_name, fd2, to_name, flags);
	maildir_close_keep_errno(fd1);
	maildir_close_keep_errno(fd2);
	return r;
}

int
maildir_create(const char *dir)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char path[PATH_MAX];
	if (durable_mkdirs(dir, 0700) != 0)
		return -1;
	int created = 0;
	for (size_t i = 0; i < 3; i++) {
		if (path_join(path, sizeof path, dir, sub[i], NULL) != 0)
			return -1;
		if (mkdir(path, 0700) == 0)
			created = 1;
		else if (errno != EEXIST)
			return -1;
	}
	/* New subdirectories must survive a crash with what lands in them. */
	return created ? durable_fsync_dir(dir) : 0;
}

/* Counts LF bytes not preceded by CR; *prev carries the last byte over. */
static uint64_t
count_bare_lf(const char *p, size_t n, char *prev)
{
	uint64_t bare = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && *prev != '\r')
			bare++;
		*prev = p[i];
	}
	return bare;
}

/* Writes prefix and message, counting size and bare LFs as it goes. */
static int
write_message(int fd, const char *prefix, size_t prefix_len, int msg_fd,
    uint64_t msg_len, uint64_t *size_r, uint64_t *vsize_r)
{
	struct durable_reader r;
	const char *p;
	ssize_t n;
	char prev = '\0';
	uint64_t bare = count_bare_lf(prefix, prefix_len, &prev);
	if (prefix_len > 0 && durable_write_all(fd, prefix, prefix_len) != 0)
		return -1;
	durable_reader_init(&r, msg_fd, 0, msg_len);
	while ((n = durable_reader_next(&r, &p)) > 0) {
		bare += count_bare_lf(p, (size_t)n, &prev);
		if (durable_write_all(fd, p, (size_t)n) != 0)
			return -1;
	}
	if (n < 0)
		return -1;  /* EIO: message shorter than msg_len */
	*size_r = prefix_len + msg_len;
	*vsize_r = *size_r + bare;
	return 0;
}

int
maildir_prepare_at(int tmp_fd, const char *dir, const char *prefix, size_t prefix_len,
    int msg_fd, uint64_t msg_len, struct maildir_delivery *d)
{
	char name[NAME_MAX + 1];
	uint64_t size, vsize;
	d->tmp_path[0] = d->new_path[0] = '\0';
	int fd = durable_create_unique(tmp_fd, name, sizeof name - MAILDIR_INFO_RESERVE);
	if (fd < 0)
		return -1;
	int r = write_message(fd, prefix, prefix_len, msg_fd, msg_len, &size, &vsize) == 0 &&
	    fsync(fd) == 0 ? 0 : -1;
	int saved = errno;
	/* close() can report a deferred write error (NFS): it counts too. */
	if (close(fd) != 0 && r == 0) {
		r = -1;
		saved = errno;
	}
	if (r == 0 && path_join(d->tmp_path, sizeof d->tmp_path, dir, "tmp", name) != 0) {
		r = -1;
		saved = errno;
	}
	if (r == 0) {
		if (path_printf(d->new_path, sizeof d->new_path, "%s/new/%s,S=%" PRIu64 ",W=%" PRIu64,
		    dir, name, size, vsize) != 0) {
			r = -1;
			saved = ENAMETOOLONG;
		}
	}
	if (r != 0) {
		unlinkat(tmp_fd, name, 0);
		d->tmp_path[0] = d->new_path[0] = '\0';
		errno = saved;
		return -1;
	}
	return 0;
}

int
maildir_prepare(const char *dir, const char *prefix, size_t prefix_len,
    int msg_fd, uint64_t msg_len, struct maildir_delivery *d)
{
	d->tmp_path[0] = d->new_path[0] = '\0';
	int tfd = maildir_open_sub(dir, "tmp");
	if (tfd < 0)
		return -1;
	int r = maildir_prepare_at(tfd, dir, prefix, prefix_len, msg_fd, msg_len, d);
	maildir_close_keep_errno(tfd);
	return r;
}

/* Replaces the unique part of the name in path (after the last '/', up to
 * the first ',') with a fresh one: only needed if another host on a shared
 * file system picked the same name. */
static int
renew_name(char *path, size_t size)
{
	char *base = strrchr(path, '/');
	char rest[256], uniq[NAME_MAX + 1];
	if (base == NULL)
		return -1;
	base++;
	const char *comma = strchr(base, ',');
	snprintf(rest, sizeof rest, "%s", comma ? comma : "");
	if (durable_unique_name(uniq, sizeof uniq - MAILDIR_INFO_RESERVE) != 0)
		return -1;
	size_t used = (size_t)(base - path);
	int n = snprintf(base, size - used, "%s%s", uniq, rest);
	if (n < 0 || (size_t)n >= size - used) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The name after the last '/' of path. */
static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* The user's usage file (quota-file.h) for a change to the message file
 * at path (<folder>/new/<name> or cur/): begins the note and returns the
 * message's size (its S=) as a signed delta. */
static int64_t
note_file(const char *path, struct quota_note *qn)
{
	char folder[PATH_MAX];
	struct maildir_entry e = { .name = (char *)base_name(path) };
	size_t len = (size_t)(e.name - path);
	len = len > 5 && len - 5 < sizeof folder ? len - 5 : 0; /* "/new/" */
	memcpy(folder, path, len);
	folder[len] = '\0';
	if (len == 0) {
		qn->fd = -1;
		qn->missing = 0;
		return 0;
	}
	quota_note_begin(folder, qn);
	return maildir_parse_name(&e) ? (int64_t)e.size : 0;
}

/* Publishes d (tmp → new, never overwriting, renewing a taken name) by
 * paths, or on the held directory fds when tmp_fd >= 0. */
static int
commit_with(struct maildir_delivery *d, int tmp_fd, int new_fd)
{
	if (d->tmp_path[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	/* Counted before it is seen, so a crash leaves the count high. */
	struct quota_note qn;
	int64_t size = note_file(d->new_path, &qn);
	quota_note_add(&qn, size, 1);
	int r = -1;
	for (int tries = 0; tries < DURABLE_CREATE_TRIES; tries++) {
		r = tmp_fd >= 0 ? durable_publish_at(tmp_fd, base_name(d->tmp_path), new_fd,
		    base_name(d->new_path)) : durable_publish(d->tmp_path, d->new_path);
		if (r == 0 || errno != EEXIST)
			break;
		if (renew_name(d->new_path, sizeof d->new_path) != 0)
			break;
	}
	if (r != 0) {
		int saved = errno;
		if (tmp_fd >= 0)
			unlinkat(tmp_fd, base_name(d->tmp_path), 0);
		else
			unlink(d->tmp_path);
		quota_note_add(&qn, -size, -1);
		errno = saved;
	}
	quota_note_end(&qn);
	d->tmp_path[0] = '\0';
	return r;
}

int
maildir_commit(struct maildir_delivery *d)
{
	return commit_with(d, -1, -1);
}

int
maildir_commit_at(const struct maildir_dirs *m, struct maildir_delivery *d)
{
	return commit_with(d, m->tmp_fd, m->new_fd);
}

void
maildir_abort(struct maildir_delivery *d)
{
	if (d->tmp_path[0] != '\0')
		unlink(d->tmp_path);
	d->tmp_path[0] = d->new_path[0] = '\0';
}

int
maildir_uncommit(const struct maildir_delivery *d)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(d->new_path, '/');
	if (slash == NULL || (size_t)(slash - d->new_path) >= sizeof dir) {
		errno = EINVAL;
		return -1;
	}
	memcpy(dir, d->new_path, (size_t)(slash - d->new_path));
	dir[slash - d->new_path] = '\0';
	struct quota_note qn;
	int64_t size = note_file(d->new_path, &qn);
	int r = unlink(d->new_path);
	if (r == 0)
		quota_note_add(&qn, -size, -1);
	quota_note_end(&qn);
	return r != 0 ? -1 : durable_fsync_dir(dir);
}

int
maildir_uncommit_at(const struct maildir_dirs *m, const struct maildir_delivery *d)
{
	struct quota_note qn;
	int64_t size = note_file(d->new_path, &qn);
	int r = unlinkat(m->new_fd, base_name(d->new_path), 0);
	if (r == 0)
		quota_note_add(&qn, -size, -1);
	quota_note_end(&qn);
	return r != 0 ? -1 : fsync(m->new_fd);
}

/* ---- reading (listing: maildir-scan.c) ---- */

/* One pass over new/ then cur/ looking for the unique part of e. */
static int
find_once(const char *dir, struct maildir_entry *e)
{
	static const char *const sub[] = { "new", "cur" };
	for (int i = 0; i < 2; i++) {
		int dfd = maildir_open_sub(dir, sub[i]);
		if (dfd < 0 && errno == ENOENT)
			continue;
		DIR *dp = dfd < 0 ? NULL : fdopendir(dfd);
		if (dp == NULL) {
			maildir_close_keep_errno(dfd);
			return -1;
		}
		struct dirent *de;
		while ((de = readdir(dp)) != NULL) {
			const char *n = de->d_name;
			if (strncmp(n, e->name, e->base_len) != 0 ||
			    (n[e->base_len] != ',' && n[e->base_len] != ':' && n[e->base_len] != '\0'))
				continue;
			char *copy = strdup(n);
			closedir(dp);
			if (copy == NULL)
				return -1;
			maildir_entry_set_name(e, copy);
			e->in_new = i == 0;
			uint64_t size = e->size, vsize = e->vsize;
			int have_size = maildir_parse_name(e);
			if (!have_size)
				e->size = size;
			if (e->vsize == 0)
				e->vsize = vsize;
			return 0;
		}
		closedir(dp);
	}
	errno = ENOENT;
	return -1;
}

/* Looks up the unique part of e in new/ and cur/ and updates e's name,
 * in_new and flags. A file renamed while a directory is read can be
 * missed by readdir(), so "not found" is only believed after several
 * passes. 0, or -1 with ENOENT if it is gone. */
static int
maildir_find(const char *dir, struct maildir_entry *e)
{
	for (int pass = 0; pass < MAILDIR_SCAN_ROUNDS; pass++) {
		if (find_once(dir, e) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
	}
	errno = ENOENT;
	return -1;
}

static int
entry_path(char *out, size_t size, const char *dir, const struct maildir_entry *e)
{
	return path_join(out, size, dir, e->in_new ? "new" : "cur", e->name);
}

int
maildir_open(const char *dir, struct maildir_entry *e)
{
	for (int tries = 0; tries < MAILDIR_FOLLOW_TRIES; tries++) {
		int dfd = maildir_open_sub(dir, e->in_new ? "new" : "cur");
		if (dfd < 0)
			return -1;
		/* O_NONBLOCK: a planted FIFO must not hang the reader. */
		int fd = openat(dfd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		maildir_close_keep_errno(dfd);
		if (fd >= 0) {
			struct stat st;
			if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
				close(fd);
				errno = EINVAL;
				return -1;
			}
			return fd;
		}
		if (errno != ENOENT)
			return -1;
		if (maildir_find(dir, e) != 0)
			return -1;
	}
	errno = ENOENT;
	return -1;
}

int
maildir_count_vsize(int fd, uint64_t *vsize_r)
{
	struct durable_reader r;
	const char *p;
	ssize_t n;
	char prev = '\0';
	uint64_t bare = 0;
	durable_reader_init(&r, fd, 0, DURABLE_TO_EOF);
	while ((n = durable_reader_next(&r, &p)) > 0)
		bare += count_bare_lf(p, (size_t)n, &prev);
	if (n < 0)
		return -1;
	*vsize_r = r.off + bare;
	return 0;
}

/* Sorted, deduplicated letters of flags into out; -1 (EINVAL) on others. */
static int
flags_normalize(const char *flags, char *out)
{
	unsigned char seen[128] = { 0 };
	for (const char *p = flags; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 128 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
			errno = EINVAL;
			return -1;
		}
		seen[c] = 1;
	}
	size_t n = 0;
	for (int c = 0; c < 128; c++) {
		if (!seen[c])
			continue;
		if (n + 1 >= MAILDIR_FLAGS_MAX) {
			errno = EINVAL;
			return -1;
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

int
maildir_set_flags(const char *dir, struct maildir_entry *e, const char *flags)
{
	char sorted[MAILDIR_FLAGS_MAX], name[NAME_MAX + 1];
	if (flags_normalize(flags, sorted) != 0)
		return -1;
	for (int tries = 0; tries < MAILDIR_FOLLOW_TRIES; tries++) {
		/* Keep the unique part and the ,S=,W= sizes; replace the info. */
		size_t info = strcspn(e->name, ":");
		int n = snprintf(name, sizeof name, "%.*s:2,%s", (int)info, e->name, sorted);
		if (n < 0 || (size_t)n >= sizeof name) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (!e->in_new && strcmp(name, e->name) == 0)
			return 0;
		if (rename_sub(dir, e->in_new ? "new" : "cur", e->name, dir, "cur", name, 0) == 0) {
			char *copy = strdup(name);
			if (copy == NULL)
				return -1;
			maildir_entry_set_name(e, copy);
			e->in_new = 0;
			return 0;
		}
		if (errno != ENOENT || maildir_find(dir, e) != 0)
			return -1;
	}
	errno = ENOENT;
	return -1;
}

/* unlinks e, following moves; maildir_remove counts it out. */
static int
remove_entry(const char *dir, struct maildir_entry *e)
{
	for (int tries = 0; tries < MAILDIR_FOLLOW_TRIES; tries++) {
		int dfd = maildir_open_sub(dir, e->in_new ? "new" : "cur");
		if (dfd < 0)
			return -1;
		int r = unlinkat(dfd, e->name, 0);
		maildir_close_keep_errno(dfd);
		if (r == 0)
			return 0;
		if (errno != ENOENT || maildir_find(dir, e) != 0)
			return -1;
	}
	errno = ENOENT;
	return -1;
}

int
maildir_remove(const char *dir, struct maildir_entry *e)
{
	/* Counted out once it is gone, so a crash leaves the count high. */
	struct quota_note qn;
	quota_note_begin(dir, &qn);
	int r = remove_entry(dir, e);
	if (r == 0)
		quota_note_add(&qn, -(int64_t)e->size, -1);
	quota_note_end(&qn);
	return r;
}

/* ---- IMAP: APPEND with flags and date, COPY, MOVE ---- */

/* Sets a tmp file's mtime (INTERNALDATE) and makes it durable. The
 * atime stays current: a tmp/ cleaner (maildir_clean_tmp_at) takes a
 * file whose both times are old for litter, and would remove this one
 * before its rename to cur/. */
static int
set_mtime(const char *path, time_t mtime)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct timespec ts[2] = { { 0, UTIME_NOW }, { mtime, 0 } };
	int r = futimens(fd, ts) == 0 && fsync(fd) == 0 ? 0 : -1;
	maildir_close_keep_errno(fd);
	return r;
}

int
maildir_commit_flags(struct maildir_delivery *d, const char *flags, time_t mtime)
{
	char sorted[MAILDIR_FLAGS_MAX];
	if (d->tmp_path[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	char *slash = strrchr(d->new_path, '/');
	size_t len = strlen(d->new_path);
	if (flags_normalize(flags ? flags : "", sorted) != 0)
		goto fail;
	if (slash == NULL || slash - d->new_path < 4 || memcmp(slash - 4, "/new", 4) != 0) {
		errno = EINVAL;
		goto fail;
	}
	int n = snprintf(d->new_path + len, sizeof d->new_path - len, ":2,%s", sorted);
	if (n < 0 || (size_t)n >= sizeof d->new_path - len) {
		d->new_path[len] = '\0';
		errno = ENAMETOOLONG;
		goto fail;
	}
	memcpy(slash - 3, "cur", 3);
	if (mtime > 0 && set_mtime(d->tmp_path, mtime) != 0)
		goto fail;
	return maildir_commit(d);
fail:
	{
		int saved = errno;
		maildir_abort(d);
		errno = saved;
	}
	return -1;
}

/* Copies what name_path's last component is into name_r. */
static int
name_out(const char *path, char *name_r, size_t size)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (name_r == NULL)
		return 0;
	if (strlen(base) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(name_r, base, strlen(base) + 1);
	return 0;
}

/* Hard-links an open message into dst/cur under a fresh unique name.
 * Returns 0, 1 if linking is not possible here (copy instead), -1. */
static int
copy_by_link(const char *src_path, uint64_t size, uint64_t vsize, const char *dst_dir,
    const char *flags, char *name_r, size_t name_size)
{
	char path[PATH_MAX], uniq[NAME_MAX + 1], name[NAME_MAX + 1];
	if (path_join(path, sizeof path, dst_dir, "cur", NULL) != 0)
		return -1;
	int dfd = durable_open_dir(path);
	if (dfd < 0)
		return -1;
	struct quota_note qn;
	quota_note_begin(dst_dir, &qn);
	quota_note_add(&qn, (int64_t)size, 1);
	int r = -1;
	for (int tries = 0; tries < DURABLE_CREATE_TRIES; tries++) {
		if (durable_unique_name(uniq, sizeof uniq - MAILDIR_INFO_RESERVE) != 0)
			break;
		int n = snprintf(name, sizeof name, "%s,S=%" PRIu64 ",W=%" PRIu64 ":2,%s",
		    uniq, size, vsize, flags);
		if (n < 0 || (size_t)n >= sizeof name) {
			errno = ENAMETOOLONG;
			break;
		}
		if (linkat(AT_FDCWD, src_path, dfd, name, 0) == 0) {
			r = fsync(dfd) == 0 ? name_out(name, name_r, name_size) : -1;
			if (r != 0)
				unlinkat(dfd, name, 0);
			break;
		}
		if (errno == EEXIST)
			continue;
		/* No hard links here, or the source moved meanwhile: copy. */
		if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOSYS ||
		    errno == EOPNOTSUPP || errno == ENOENT)
			r = 1;
		break;
	}
	if (r != 0)
		quota_note_add(&qn, -(int64_t)size, -1);
	quota_note_end(&qn);
	maildir_close_keep_errno(dfd);
	return r;
}

int
maildir_copy(const char *src_dir, struct maildir_entry *e, const char *dst_dir,
    const char *flags, char *name_r, size_t name_size)
{
	char sorted[MAILDIR_FLAGS_MAX], src[PATH_MAX], own[MAILDIR_FLAGS_MAX];
	struct stat st;
	uint64_t vsize;
	if (flags_normalize(flags ? flags : maildir_entry_flags(e, own), sorted) != 0)
		return -1;
	int fd = maildir_open(src_dir, e);
	if (fd < 0)
		return -1;
	int r = -1;
	vsize = e->vsize;
	if (fstat(fd, &st) != 0 || (vsize == 0 && maildir_count_vsize(fd, &vsize) != 0) ||
	    entry_path(src, sizeof src, src_dir, e) != 0)
		goto out;
	r = copy_by_link(src, (uint64_t)st.st_size, vsize, dst_dir, sorted, name_r, name_size);
	if (r == 1) {
		struct maildir_delivery d;
		r = maildir_prepare(dst_dir, "", 0, fd, (uint64_t)st.st_size, &d);
		if (r == 0)
			r = maildir_commit_flags(&d, sorted, st.st_mtime);
		if (r == 0)
			r = name_out(d.new_path, name_r, name_size);
	}
out:
	maildir_close_keep_errno(fd);
	return r;
}

int
maildir_move(const char *src_dir, struct maildir_entry *e, const char *dst_dir,
    const char *flags, char *name_r, size_t name_size)
{
	char sorted[MAILDIR_FLAGS_MAX], name[NAME_MAX + 1], own[MAILDIR_FLAGS_MAX];
	if (flags_normalize(flags ? flags : maildir_entry_flags(e, own), sorted) != 0)
		return -1;
	for (int tries = 0; tries < MAILDIR_FOLLOW_TRIES; tries++) {
		/* Same unique part and sizes in the new folder; fresh flags. */
		size_t info = strcspn(e->name, ":");
		int n = snprintf(name, sizeof name, "%.*s:2,%s", (int)info, e->name, sorted);
		if (n < 0 || (size_t)n >= sizeof name) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (rename_sub(src_dir, e->in_new ? "new" : "cur", e->name, dst_dir, "cur", name,
		    RENAME_NOREPLACE) == 0) {
			char dir[PATH_MAX];
			if (path_join(dir, sizeof dir, dst_dir, "cur", NULL) != 0 ||
			    durable_fsync_dir(dir) != 0 ||
			    path_join(dir, sizeof dir, src_dir, e->in_new ? "new" : "cur", NULL) != 0 ||
			    durable_fsync_dir(dir) != 0)
				return -1;
			return name_out(name, name_r, name_size);
		}
		if (errno == EXDEV) {
			/* Folders on different file systems: copy, then remove. */
			if (maildir_copy(src_dir, e, dst_dir, sorted, name_r, name_size) != 0)
				return -1;
			return maildir_remove(src_dir, e);
		}
		if (errno != ENOENT || maildir_find(src_dir, e) != 0)
			return -1;
	}
	errno = ENOENT;
	return -1;
}
