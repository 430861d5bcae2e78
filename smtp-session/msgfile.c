/*
 * msgfile.c — the content file of a transaction: a nameless file in the
 * spool's tmp/, and text put in under our Received: (milters, DKIM,
 * submission headers).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bounds.h"
#include "durable.h"
#include "path.h"
#include "smtp.h"

/* The temporary file lives in the spool: no name, gone if we crash. */
int
smtp_msg_file_open(struct smtp *s)
{
	char dir[PATH_MAX];
	if (path_join(dir, sizeof dir, s->conf->spool, "tmp", NULL) != 0 ||
	    durable_mkdirs(dir, 0700) < 0)
		return -1;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	char path[PATH_MAX];
	if (path_join(path, sizeof path, dir, "smtp.XXXXXX", NULL) != 0)
		return -1;
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* A file for a message of size bytes: in memory while it is small
 * (SMTP_MSG_MEMORY_MAX), else smtp_msg_file_open's. */
int
smtp_msg_file_for(struct smtp *s, uint64_t size)
{
	if (size <= SMTP_MSG_MEMORY_MAX) {
		int fd = memfd_create("smtp-message", MFD_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return smtp_msg_file_open(s);
}

int
smtp_msg_spill(struct smtp *s)
{
	int fd = smtp_msg_file_open(s);
	if (fd < 0)
		return -1;
	if (durable_copy_range(fd, s->msg_fd, 0, s->msg_len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(s->msg_fd);
	s->msg_fd = fd;
	return 0;
}

int
smtp_msg_insert(struct smtp *s, const char *text, size_t len)
{
	int fd = smtp_msg_file_for(s, s->msg_len + len);
	if (fd < 0)
		return -1;
	if (durable_copy_range(fd, s->msg_fd, 0, s->msg_trace_len) < 0 ||
	    durable_write_all(fd, text, len) < 0 ||
	    durable_copy_range(fd, s->msg_fd, s->msg_trace_len, s->msg_len - s->msg_trace_len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(s->msg_fd);
	s->msg_fd = fd;
	s->msg_len += len;
	return 0;
}
