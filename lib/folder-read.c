/*
 * folder-read.c — the bytes of a message, for both kinds of folder: LF →
 * CRLF, a header read alone, a Maildir message file found again after a
 * rename, and the one cached message dropped. It calls nothing of the
 * folder code: store-maildir.c, folder-content.c and store-mbox.c call
 * down to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "folder-int.h"
#include "mime.h"

/* A message file larger than this is not loaded (max_message_size is far
 * below; a bigger file was not delivered by yubin). */
#define MESSAGE_LOAD_MAX (1024ULL * 1024 * 1024)

/* The views rendered from the cached message's parse go with it. */
void
folder_views_drop(struct folder *f)
{
	for (int v = 0; v < FOLDER_VIEWS; v++) {
		free(f->view[v]);
		f->view[v] = NULL;
	}
	f->view_uid = 0;
}

void
folder_cache_drop(struct folder *f)
{
	folder_views_drop(f);
	mime_message_free(&f->cache_mime);
	free(f->cache_data);
	f->cache_data = NULL;
	f->cache_len = 0;
	f->cache_uid = 0;
	f->cache_head = 0;
}

/* ---- content ---- */

/* The length of raw[0..n) after LF → CRLF. */
size_t
crlf_size(const unsigned char *raw, size_t n)
{
	size_t bare = 0;
	for (const unsigned char *p = raw; (p = memchr(p, '\n', n - (size_t)(p - raw))); p++)
		if (p == raw || p[-1] != '\r')
			bare++;
	return n + bare;
}

int
folder_crlf(const unsigned char *raw, size_t n, unsigned char **data_r, size_t *len_r)
{
	unsigned char *out = malloc(crlf_size(raw, n) + 1);
	if (out == NULL)
		return -1;
	/* whole lines at a time: this runs over every message listed */
	size_t o = 0, i = 0;
	while (i < n) {
		const unsigned char *lf = memchr(raw + i, '\n', n - i);
		size_t run = lf != NULL ? (size_t)(lf - (raw + i)) : n - i;
		memcpy(out + o, raw + i, run);
		o += run;
		i += run;
		if (lf == NULL)
			break;
		if (i == 0 || raw[i - 1] != '\r')
			out[o++] = '\r';
		out[o++] = '\n';
		i++;
	}
	out[o] = '\0';
	*data_r = out;
	*len_r = o;
	return 0;
}

int
folder_read_crlf(int fd, unsigned char **data_r, size_t *len_r)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	if ((uint64_t)st.st_size > MESSAGE_LOAD_MAX) {
		errno = EFBIG;
		return -1;
	}
	size_t size = (size_t)st.st_size;
	unsigned char *raw = malloc(size + 1);
	if (raw == NULL)
		return -1;
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, raw + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	int rc = folder_crlf(raw, got, data_r, len_r);
	free(raw);
	return rc;
}

/* The header's length if raw[0..n) holds its end, else 0. The end is the
 * first LF followed by an empty line, the same place after LF → CRLF:
 * where fetch.c's RFC822.HEADER cuts, never before the MIME parser's
 * end of the top-level header. Only an end whose bytes are all read
 * counts (a "\n\r" at the end may go on with "\n"). */
static size_t
head_end(const unsigned char *raw, size_t n, int lf_only)
{
	for (const unsigned char *p = raw; n > 1 && (p = memchr(p, '\n', n - 1 - (size_t)(p - raw)));
	    p++) {
		size_t i = (size_t)(p - raw);
		if (raw[i + 1] == '\n')
			return i + 2;
		if (!lf_only && raw[i + 1] == '\r' && i + 2 < n && raw[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* First read of a header: most are a few KB (Received: chains); then
 * four times more each time, up to FOLDER_HEADER_READ_MAX. */
#define HEAD_READ_FIRST 8192

int
folder_read_head(int fd, uint64_t off, uint64_t len, int lf_only, unsigned char **raw_r,
    size_t *got_r, size_t *cut_r)
{
	size_t cap = 0, got = 0, cut = 0;
	unsigned char *raw = NULL;
	while ((uint64_t)got < len) {
		if (got == cap) {
			if (cap == FOLDER_HEADER_READ_MAX) {
				free(raw);
				return 1;
			}
			cap = cap ? cap * 4 : HEAD_READ_FIRST;
			if (cap > FOLDER_HEADER_READ_MAX)
				cap = FOLDER_HEADER_READ_MAX;
			unsigned char *p = realloc(raw, cap + 1);
			if (p == NULL) {
				free(raw);
				return -1;
			}
			raw = p;
		}
		size_t want = cap - got;
		if ((uint64_t)want > len - got)
			want = (size_t)(len - got);
		ssize_t r = pread(fd, raw + got, want, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(raw);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		/* a short read is most often the whole small file: done
		 * without another read when the header's end is in it */
		if ((cut = head_end(raw, got, lf_only)) != 0)
			break;
	}
	if (raw == NULL && (raw = malloc(1)) == NULL)
		return -1;
	*raw_r = raw;
	*got_r = got;
	*cut_r = cut;
	return 0;
}

/* maildir_open() looks a moved message up with one readdir() pass; a
 * rename inside the same directory during that pass can hide the entry
 * from it (S64), so a miss is retried before the message counts as gone. */
int
folder_open_message(struct folder *f, struct fmsg *m)
{
	for (int tries = 0;; tries++) {
		int fd = maildir_open(f->dir, &m->e);
		if (fd >= 0 || errno != ENOENT || tries == FOLDER_OPEN_TRIES)
			return fd;
		struct timespec pause = { 0, 2000000L * (tries + 1) };
		nanosleep(&pause, NULL);
	}
}
