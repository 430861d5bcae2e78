/*
 * folder-content.c — what a message holds, read for FETCH and SEARCH:
 * its bytes with CRLF line ends, its header alone (from its backend;
 * Maildir's here), their MIME parse, INTERNALDATE and RFC822.SIZE, one
 * message cached (see folder.h).
 */
#include "folder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folder-int.h"
#include "mime.h"

/* Maildir: the held file, read from its start. */
int
mdf_message(struct folder *f, size_t idx)
{
	struct fmsg *m = &f->m[idx];
	if (folder_hold(f, m) != 0 || lseek(m->fd, 0, SEEK_SET) != 0 ||
	    folder_read_crlf(m->fd, &f->cache_data, &f->cache_len) != 0)
		return -1;
	f->cache_uid = m->uid;
	return 0;
}

int
folder_message(struct folder *f, size_t idx, const unsigned char **data_r, size_t *len_r)
{
	struct fmsg *m = &f->m[idx];
	if (f->cache_uid != m->uid || f->cache_head) {
		folder_cache_drop(f);
		if (f->ops->message(f, idx) != 0)
			return -1;
	}
	*data_r = f->cache_data;
	*len_r = f->cache_len;
	return 0;
}

/* Header of a Maildir message into the cache: 0, 1 (read it whole), -1. */
int
mdf_header(struct folder *f, size_t idx)
{
	struct fmsg *m = &f->m[idx];
	if (folder_hold(f, m) != 0)
		return -1;
	int fd = m->fd;
	unsigned char *raw = NULL;
	size_t got = 0, cut = 0;
	struct stat st;
	/* to the end of the file, as folder_read_crlf: no fstat needed */
	int r = folder_read_head(fd, 0, UINT64_MAX, 0, &raw, &got, &cut);
	/* A small message came whole: its RFC822.SIZE (without W= in the
	 * name) is counted here rather than by a second read (folder_size). */
	if (r == 0 && m->e.vsize == 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == got)
		m->e.vsize = crlf_size(raw, got);
	if (r != 0)
		return r;
	/* Even when a small message came whole with its header, only the
	 * header is converted and parsed: listing a folder is the case. */
	int whole = cut == 0;
	r = folder_crlf(raw, whole ? got : cut, &f->cache_data, &f->cache_len);
	free(raw);
	if (r != 0)
		return -1;
	f->cache_uid = m->uid;
	f->cache_head = !whole;
	return 0;
}

int
folder_header(struct folder *f, size_t idx, const unsigned char **data_r, size_t *len_r)
{
	struct fmsg *m = &f->m[idx];
	if (f->cache_uid != m->uid) {
		folder_cache_drop(f);
		int r = f->ops->header(f, idx);
		if (r < 0)
			return -1;
		if (r == 1)
			return folder_message(f, idx, data_r, len_r);
	}
	*data_r = f->cache_data;
	*len_r = f->cache_len;
	return 0;
}

/* The parse of what read gave, kept until the cache moves to another
 * message or from a header to a whole message (folder_message drops it). */
static const struct mime_message *
mime_cached(struct folder *f, size_t idx,
    int (*read)(struct folder *, size_t, const unsigned char **, size_t *))
{
	const unsigned char *data;
	size_t len;
	if (read(f, idx, &data, &len) != 0)
		return NULL;
	if (f->cache_mime == NULL) {
		f->cache_mime = mime_message_parse(data, len);
		/* a new parse: its views go to the folder's cache file */
		if (f->cache_mime != NULL)
			folder_cache_fill(f, idx, f->cache_mime, !f->cache_head);
	}
	return f->cache_mime;
}

const struct mime_message *
folder_mime(struct folder *f, size_t idx)
{
	return mime_cached(f, idx, folder_message);
}

/* The parse of a header alone ends its top-level header where the whole
 * message's parse does (folder_header), with the same fields: ENVELOPE
 * and the HEADER sections come out the same. Only the parts differ. */
const struct mime_message *
folder_mime_header(struct folder *f, size_t idx)
{
	return mime_cached(f, idx, folder_header);
}

/* The front of the views: the cache answers if it can; on a miss the
 * message is parsed, and the parse fills the cache (mime_cached). */
char *
folder_view(struct folder *f, size_t idx, enum folder_view v, size_t *len_r)
{
	char *s = folder_cache_view(f, idx, v, 0, len_r);
	if (s != NULL)
		return s;
	int whole = v == FOLDER_VIEW_BODY || v == FOLDER_VIEW_BODYSTRUCTURE ||
	    v == FOLDER_VIEW_PREVIEW;
	const struct mime_message *mm = whole ? folder_mime(f, idx) : folder_mime_header(f, idx);
	if (mm == NULL)
		return NULL;
	/* the parse just made recorded it (folder_cache_fill) */
	if ((s = folder_cache_view(f, idx, v, 1, len_r)) != NULL)
		return s;
	return folder_cache_render(f, mm, v, len_r);
}

/* INTERNALDATE from the file (holding it stats it: folder_hold); -1 if
 * the file is gone and was never held. */
static int
mtime_of(struct folder *f, struct fmsg *m)
{
	if (!m->mtime_known)
		folder_cache_stat(f, (size_t)(m - f->m));
	return m->mtime_known || folder_hold(f, m) == 0 ? 0 : -1;
}

/* RFC822.SIZE: W= from the name, else counted; -1 as mtime_of. */
static int
vsize_of(struct folder *f, struct fmsg *m)
{
	uint64_t v;
	if (m->e.vsize == 0)
		folder_cache_stat(f, (size_t)(m - f->m));
	if (m->e.vsize != 0)
		return 0;
	if (folder_hold(f, m) != 0 || maildir_count_vsize(m->fd, &v) != 0)
		return -1;
	m->e.vsize = v;
	return 0;
}

/* Maildir: from the name, the cache, or the file. */
int
mdf_stat(struct folder *f, size_t idx, unsigned what)
{
	struct fmsg *m = &f->m[idx];
	if ((what & FOLDER_STAT_DATE) && mtime_of(f, m) != 0)
		return -1;
	return (what & FOLDER_STAT_SIZE) ? vsize_of(f, m) : 0;
}

int
folder_stat(struct folder *f, size_t idx, unsigned what)
{
	return f->ops->stat(f, idx, what);
}

/* Without the file (gone, never held): the delivery time in its name,
 * which is all SEARCH has then; FETCH asks folder_stat first. */
time_t
folder_internaldate(struct folder *f, size_t idx)
{
	(void)f->ops->stat(f, idx, FOLDER_STAT_DATE);
	return f->m[idx].e.mtime;
}

uint64_t
folder_size(struct folder *f, size_t idx)
{
	(void)f->ops->stat(f, idx, FOLDER_STAT_SIZE);
	return f->m[idx].e.vsize;
}
