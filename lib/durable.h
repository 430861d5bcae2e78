/*
 * durable.h — the write-then-publish sequence every store uses:
 * create a unique file in tmp/, write, fsync, link or rename into place,
 * fsync the directory. Only then may a program answer 250 / +OK / OK.
 */
#ifndef YUBIN_DURABLE_H
#define YUBIN_DURABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A maildir-style unique name: <sec>.M<usec>P<pid>R<random64hex>.<host>
 * with '/' → \057, ':' → \072 and ',' → \054 in host (S63, S71); the
 * random part comes from getrandom(). Returns 0, or -1 (ENAMETOOLONG if
 * size is too small). */
int durable_unique_name(char *out, size_t size);

/* fsync a directory by path. Returns 0 or -1 (errno). */
int durable_fsync_dir(const char *dir);

/* Writes all of buf to fd, retrying short writes. 0 or -1 (errno). */
int durable_write_all(int fd, const void *buf, size_t len);

/* Copies len bytes from src (starting at offset 0) to the end of dst.
 * Uses copy_file_range where possible. 0 or -1 (errno). */
int durable_copy_fd(int dst, int src, uint64_t len);

/* Reads a file range in chunks, for the loops that copy or scan a message
 * (the copy into a store, a size count, an mbox scan): EINTR is retried
 * and a file that ends inside the range is an error, in one place.
 *
 *	struct durable_reader r;
 *	const char *p;
 *	ssize_t n;
 *	durable_reader_init(&r, fd, 0, msg_len);
 *	while ((n = durable_reader_next(&r, &p)) > 0)
 *		... n bytes at p, read at offset r.off - n ...
 *	if (n < 0) ... errno
 */
#define DURABLE_READ_CHUNK 65536
/* A len that reads to the end of the file, however long. */
#define DURABLE_TO_EOF UINT64_MAX

struct durable_reader {
	int fd;
	uint64_t off;   /* offset just past the last chunk returned */
	uint64_t end;   /* end of the range (UINT64_MAX: end of file) */
	char buf[DURABLE_READ_CHUNK];
};

/* Readies r to read len bytes of fd from offset off (DURABLE_TO_EOF: all
 * of it). Nothing is read yet; fd stays the caller's. */
void durable_reader_init(struct durable_reader *r, int fd, uint64_t off, uint64_t len);

/* The next chunk: returns its size (> 0) with *p_r pointing into r (valid
 * until the next call), 0 at the end of the range, or -1 with errno (EIO
 * when the file ends before the range does). */
ssize_t durable_reader_next(struct durable_reader *r, const char **p_r);

/* Copies len bytes of src from offset off to the current end of dst
 * (through a durable_reader). 0, or -1 with errno (EIO if src is
 * shorter than promised). */
int durable_copy_range(int dst, int src, uint64_t off, uint64_t len);

/* mkdir -p with mode; existing directories are fine. 0 or -1. */
int durable_mkdirs(const char *path, mode_t mode);

/* Publishes tmp_path as final_path without ever overwriting an existing
 * file (link + unlink, or renameat2 RENAME_NOREPLACE), then fsyncs the
 * directory of final_path. 0, or -1 with errno (EEXIST if taken). */
int durable_publish(const char *tmp_path, const char *final_path);

/* Additions for callers that hold directory fds (maildir, spool). */

/* Attempts at a fresh unique name before giving up with EEXIST. */
#define DURABLE_CREATE_TRIES 16

/* Creates a new file under dirfd with a unique name (written to name),
 * O_EXCL | O_NOFOLLOW, mode 0600, retrying on EEXIST (S63, S71).
 * Returns a write-only fd (caller closes) or -1 (errno). */
int durable_create_unique(int dirfd, char *name, size_t size);

/* Opens a state file at path (flags: O_RDONLY or O_RDWR, with O_APPEND,
 * O_CREAT (mode 0600) as the caller needs) as the store's own: never a
 * symlink, and the fd only if it is a regular file with one link (S34), so
 * a FIFO planted there neither hangs the open (O_NONBLOCK, cleared again)
 * nor is read, and a hard link to another's file is not written through.
 * An fd (caller closes) or -1 with errno: ELOOP a symlink, EINVAL not a
 * regular file, EMLINK more than one link, ESTALE none left (renamed over
 * or removed since the open: the path may name a new file). */
int durable_open_own(const char *path, int flags);

/* Opens a directory for *at() calls, refusing a symlink as its last
 * component (S34). Returns an fd (caller closes) or -1 (errno; ELOOP or
 * ENOTDIR for a symlink). */
int durable_open_dir(const char *path);

/* durable_publish on directory fds: links tmp_name (under tmp_dirfd) to
 * name (under dirfd) without overwriting, fsyncs dirfd, unlinks tmp_name.
 * 0, or -1 with errno (EEXIST if taken; then tmp_name is untouched). */
int durable_publish_at(int tmp_dirfd, const char *tmp_name, int dirfd, const char *name);

/* How far durable_replace goes before it returns; each caller names the
 * level its file needs. */
enum durable_level {
	/* Renamed into place, nothing fsync'd: after a crash the old file,
	 * the new one, or an empty or cut one. Only for a cache its reader
	 * checks and rebuilds (pop3-session's sizes). */
	DURABLE_CACHE,
	/* The file fsync'd before the rename: after a crash the old file or
	 * the new one, each whole. For a state whose older copy is still
	 * safe to read (an mbox UID sidecar between two appends). */
	DURABLE_WHOLE,
	/* And the directory fsync'd: the new file survives a crash once this
	 * returns, so an OK may rest on it (UID lists, UIDVALIDITY, keyword
	 * letters, subscriptions). */
	DURABLE_SYNCED,
};

/* Replaces dir/name with len bytes of data, as every small store file is
 * written: a new file in dir under a unique name with a leading dot
 * (O_EXCL, O_NOFOLLOW, mode 0600: nothing planted at a guessable name is
 * followed or reused, and a copy a killed writer left never looks like an
 * mbox folder), written, renamed over name, with the fsyncs level asks for.
 * dir may not be a symlink (S34); a symlink at name is replaced, never
 * followed. 0, or -1 with errno (the new file removed). */
int durable_replace(const char *dir, const char *name, const void *data, size_t len,
    enum durable_level level);

#endif
