/*
 * store-pop3.c — the front of the POP3 snapshot (store-pop3.h): the
 * session lock, the UIDLs made unique, and what both backends share.
 */
#include "store-pop3.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "folder-uids.h"
#include "path.h"
#include "store.h"

#define READ_CHUNK 65536

int
store_pop3_read(int fd, off_t off, uint64_t len, store_pop3_chunk_fn fn, void *ctx,
    const int *stop)
{
	char *buf = malloc(READ_CHUNK);
	if (!buf)
		return -1;
	int r = 0;
	while (len > 0 && !(stop && *stop)) {
		size_t want = len < READ_CHUNK ? (size_t)len : READ_CHUNK;
		ssize_t n = pread(fd, buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -1;
			break;
		}
		if (n == 0)
			break;
		r = fn(ctx, buf, (size_t)n);
		if (r)
			break;
		off += n;
		len -= (uint64_t)n;
	}
	int saved = errno;
	free(buf);
	errno = saved;
	return r;
}

int
store_pop3_feed_conv(void *ctx, const char *p, size_t n)
{
	return msgconv_feed(ctx, p, n);
}

void
store_pop3_hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The session lock, without waiting: busy is EAGAIN. */
static int
lock_session(struct store_pop3 *p)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof path, p->s->root, MAILDROP_LOCK_NAME, NULL) != 0)
		return -1;
	p->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (p->lock_fd < 0)
		return -1;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(p->lock_fd, F_SETLK, &fl) < 0) {
		int saved = errno == EACCES ? EAGAIN : errno;
		close(p->lock_fd);
		p->lock_fd = -1;
		errno = saved;
		return -1;
	}
	return 0;
}

static int
uidl_cmp(const void *a, const void *b)
{
	const struct store_pop3_msg *x = *(const struct store_pop3_msg *const *)a;
	const struct store_pop3_msg *y = *(const struct store_pop3_msg *const *)b;
	int c = strcmp(x->uidl, y->uidl);
	/* Equal ids keep message order, so "-2" goes to the later one. */
	return c ? c : (x < y ? -1 : x > y);
}

/* Gives repeated ids a "-N" suffix (RFC 1939 §7: unique in the drop). */
static int
uidl_dedupe(struct store_pop3 *p)
{
	if (p->n < 2)
		return 0;
	struct store_pop3_msg **v = malloc(p->n * sizeof *v);
	if (!v)
		return -1;
	for (size_t i = 0; i < p->n; i++)
		v[i] = &p->msg[i];
	qsort(v, p->n, sizeof *v, uidl_cmp);
	/* Only later members of a run get a suffix: the first stays intact. */
	size_t first = 0;
	for (size_t i = 1; i < p->n; i++) {
		if (strcmp(v[i]->uidl, v[first]->uidl) != 0) {
			first = i;
			continue;
		}
		char suffix[24];
		int k = snprintf(suffix, sizeof suffix, "-%zu", i - first + 1);
		size_t keep = strlen(v[i]->uidl);
		if (keep + (size_t)k > STORE_POP3_UIDL_MAX)
			keep = STORE_POP3_UIDL_MAX - (size_t)k;
		memcpy(v[i]->uidl + keep, suffix, (size_t)k + 1);
	}
	free(v);
	return 0;
}

int
store_pop3_open(struct store *s, struct store_pop3 *p)
{
	memset(p, 0, sizeof *p);
	p->lock_fd = -1;
	p->s = s;
	p->ops = s->pop3;
	p->from_quoted = p->ops->from_quoted;
	/* before the session lock marks the drop as served by yubin's POP3 */
	if (p->ops->prepare && p->ops->prepare(s) != 0)
		return -1;
	if (lock_session(p) != 0)
		return -1;
	if (p->ops->load(p) != 0 || uidl_dedupe(p) != 0) {
		int saved = errno;
		store_pop3_close(p);
		errno = saved == EWOULDBLOCK ? EAGAIN : saved;   /* mbox held by a delivery */
		return -1;
	}
	return 0;
}

int
store_pop3_fd(struct store_pop3 *p, size_t i, off_t *off_r, uint64_t *len_r)
{
	return p->ops->fd(p, i, off_r, len_r);
}

int
store_pop3_stream(int fd, off_t off, uint64_t len, struct msgconv *conv)
{
	int r = store_pop3_read(fd, off, len, store_pop3_feed_conv, conv, &conv->done);
	return r ? r : msgconv_finish(conv);
}

int
store_pop3_commit(struct store_pop3 *p, size_t *removed_r)
{
	*removed_r = 0;
	return p->ops->commit(p, removed_r);
}

void
store_pop3_touch(struct store_pop3 *p)
{
	if (p->ops && p->ops->touch)
		p->ops->touch(p);
}

void
store_pop3_close(struct store_pop3 *p)
{
	if (p->ops)
		p->ops->close(p);
	p->be = NULL;
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	p->lock_fd = -1;
	free(p->msg);
	p->msg = NULL;
	p->n = 0;
}
