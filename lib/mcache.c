/*
 * mcache.c — a folder's message cache file (format and rules: mcache.h).
 */
#include "mcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"

#define MCACHE_MAGIC 0x31524359u
static const char file_magic[8] = { 'Y', 'B', 'C', 'A', 'C', 'H', 'E', '2' };
#define FILE_HEAD_LEN sizeof file_magic

/* Reads of the file: the scan's chunk and the lookup window. Records of a
 * folder read in UID order mostly follow each other, so one window read
 * serves many lookups. */
#define SCAN_CHUNK (1024u * 1024)
#define WINDOW_LEN (64u * 1024)
/* Lock attempts when another writer keeps replacing the file. */
#define LOCK_TRIES 4

struct slot {
	uint32_t uid;    /* 0: empty (IMAP UIDs start at 1) */
	uint32_t off;
};

struct mcache {
	char *path;
	int fd;               /* -1: no file, every lookup misses */
	dev_t dev;
	ino_t ino;
	uint64_t end;         /* the file's good records end here */
	size_t nrec;          /* good records in the file, replaced ones too */
	struct slot *tab;     /* open addressing on uid, power of two */
	size_t cap, used;
	unsigned char *win;   /* lookup window: file bytes [win_off, +win_len) */
	uint64_t win_off;
	size_t win_len, win_cap;
	unsigned char *pend;  /* records not yet written */
	size_t pend_len, pend_cap;
};

/* ---- bytes ---- */

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- checksum: eight bytes a step, each mixed by a multiply and a
 * rotation, so any flipped or moved byte changes the result; not meant
 * to resist forgery (the file is the user's own, like the mail). ---- */

#define MIX1 0x9e3779b97f4a7c15ULL
#define MIX2 0xc2b2ae3d27d4eb4fULL

static uint64_t
rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

uint64_t
mcache_check(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h = seed * MIX1 ^ (uint64_t)n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = rotl(h ^ (w * MIX2), 31) * MIX1;
		b += 8;
		n -= 8;
	}
	uint64_t w = 0;
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)b[i] << (8 * i);
	h = rotl(h ^ (w * MIX2), 31) * MIX1;
	h ^= h >> 33;
	h *= MIX2;
	h ^= h >> 29;
	return h;
}

/* ---- records ---- */

unsigned char *
mcache_record_build(const struct mcache_rec *r, size_t *len_r)
{
	uint64_t len = MCACHE_HEAD_LEN + (uint64_t)r->id_len;
	if (r->id_len > MCACHE_ID_MAX || r->items >= 1u << MCACHE_ITEMS) {
		errno = E2BIG;
		return NULL;
	}
	for (int i = 0; i < MCACHE_ITEMS; i++)
		if (r->items & (1u << i))
			len += 4 + (uint64_t)r->item[i].len;
	if (len > MCACHE_RECORD_MAX) {
		errno = E2BIG;
		return NULL;
	}
	unsigned char *b = malloc((size_t)len);
	if (b == NULL)
		return NULL;
	put32(b, MCACHE_MAGIC);
	put32(b + 4, (uint32_t)len);
	put32(b + 16, r->validity);
	put32(b + 20, r->uid);
	put64(b + 24, r->size);
	put64(b + 32, (uint64_t)r->date);
	put16(b + 40, (uint16_t)r->id_len);
	put16(b + 42, (uint16_t)r->items);
	size_t o = MCACHE_HEAD_LEN;
	if (r->id_len)
		memcpy(b + o, r->id, r->id_len);
	o += r->id_len;
	for (int i = 0; i < MCACHE_ITEMS; i++) {
		if (!(r->items & (1u << i)))
			continue;
		put32(b + o, r->item[i].len);
		if (r->item[i].len)
			memcpy(b + o + 4, r->item[i].p, r->item[i].len);
		o += 4 + r->item[i].len;
	}
	put64(b + 8, mcache_check(b + 16, (size_t)len - 16, len));
	*len_r = (size_t)len;
	return b;
}

/* The layout after the fixed head: id and items fill len exactly. */
static int
record_layout(const unsigned char *p, size_t len, struct mcache_rec *r)
{
	r->validity = get32(p + 16);
	r->uid = get32(p + 20);
	r->size = get64(p + 24);
	r->date = (int64_t)get64(p + 32);
	r->id_len = get16(p + 40);
	r->items = get16(p + 42);
	if (r->uid == 0 || r->id_len > MCACHE_ID_MAX || r->items >= 1u << MCACHE_ITEMS)
		return -1;
	size_t o = MCACHE_HEAD_LEN;
	if (r->id_len > len - o)
		return -1;
	r->id = p + o;
	o += r->id_len;
	for (int i = 0; i < MCACHE_ITEMS; i++) {
		r->item[i].p = NULL;
		r->item[i].len = 0;
		if (!(r->items & (1u << i)))
			continue;
		if (len - o < 4)
			return -1;
		uint32_t n = get32(p + o);
		o += 4;
		if (n > len - o)
			return -1;
		r->item[i].p = p + o;
		r->item[i].len = n;
		o += n;
	}
	return o == len ? 0 : -1;
}

int
mcache_record_parse(const unsigned char *p, size_t n, struct mcache_rec *r, size_t *len_r)
{
	*len_r = 0;
	if (n < 8)
		return n >= 4 && get32(p) != MCACHE_MAGIC ? -1 : 0;
	uint32_t len = get32(p + 4);
	if (get32(p) != MCACHE_MAGIC || len < MCACHE_RECORD_MIN || len > MCACHE_RECORD_MAX)
		return -1;
	*len_r = len;
	if (n < len)
		return 0;
	if (get64(p + 8) != mcache_check(p + 16, len - 16, len) || record_layout(p, len, r) != 0)
		return -1;
	return 1;
}

/* ---- the index: uid → offset of its latest record ---- */

static size_t
slot_of(const struct mcache *c, uint32_t uid)
{
	size_t i = (size_t)(uid * 2654435761u) & (c->cap - 1);
	while (c->tab[i].uid != 0 && c->tab[i].uid != uid)
		i = (i + 1) & (c->cap - 1);
	return i;
}

static int
index_set(struct mcache *c, uint32_t uid, uint32_t off)
{
	if (2 * (c->used + 1) > c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		struct slot *old = c->tab;
		size_t ocap = c->cap;
		if ((c->tab = calloc(cap, sizeof *c->tab)) == NULL) {
			c->tab = old;
			return -1;
		}
		c->cap = cap;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].uid != 0)
				c->tab[slot_of(c, old[i].uid)] = old[i];
		free(old);
	}
	size_t i = slot_of(c, uid);
	if (c->tab[i].uid == 0)
		c->used++;
	c->tab[i].uid = uid;
	c->tab[i].off = off;
	return 0;
}

/* Forgets uid: the following entries of its run are put back in place. */
static void
index_drop(struct mcache *c, uint32_t uid)
{
	if (c->cap == 0)
		return;
	size_t i = slot_of(c, uid);
	if (c->tab[i].uid == 0)
		return;
	c->tab[i].uid = 0;
	c->used--;
	for (size_t j = (i + 1) & (c->cap - 1); c->tab[j].uid != 0; j = (j + 1) & (c->cap - 1)) {
		struct slot s = c->tab[j];
		c->tab[j].uid = 0;
		c->tab[slot_of(c, s.uid)] = s;
	}
}

static void
index_clear(struct mcache *c)
{
	if (c->tab)
		memset(c->tab, 0, c->cap * sizeof *c->tab);
	c->used = 0;
	c->nrec = 0;
	c->win_len = 0;
}

/* ---- reading the file ---- */

static ssize_t
pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Indexes the good records from c->end up to the file's end (size) and
 * moves c->end past them; a bad or torn record stops it there. A file
 * that does not start with the header has no good record. 0 or -1. */
static int
scan(struct mcache *c, uint64_t size)
{
	if (c->end == 0) {
		unsigned char h[FILE_HEAD_LEN];
		if (size < FILE_HEAD_LEN || pread_full(c->fd, h, sizeof h, 0) != (ssize_t)sizeof h ||
		    memcmp(h, file_magic, sizeof h) != 0)
			return 0;
		c->end = FILE_HEAD_LEN;
	}
	size_t cap = SCAN_CHUNK;
	unsigned char *buf = malloc(cap);
	if (buf == NULL)
		return -1;
	uint64_t pos = c->end;     /* file offset of buf[0] */
	size_t have = 0, at = 0;
	for (;;) {
		struct mcache_rec r;
		size_t need;
		int k = mcache_record_parse(buf + at, have - at, &r, &need);
		if (k == 1) {
			if (index_set(c, r.uid, (uint32_t)(pos + at)) != 0)
				break;
			at += need;
			c->end = pos + at;
			c->nrec++;
			continue;
		}
		if (k < 0 || pos + at >= size)
			break;
		/* more bytes: keep the partial record at the buffer's start */
		memmove(buf, buf + at, have - at);
		pos += at;
		have -= at;
		at = 0;
		if (need > cap) {
			unsigned char *nb = realloc(buf, need);
			if (nb == NULL)
				break;
			buf = nb;
			cap = need;
		}
		uint64_t left = size - pos - have;
		size_t want = cap - have < left ? cap - have : (size_t)left;
		ssize_t got = want ? pread_full(c->fd, buf + have, want, pos + have) : 0;
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	free(buf);
	return 0;
}

static int
open_file(struct mcache *c)
{
	struct stat st;
	c->fd = open(c->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	/* a folder this user may only read: its cache still answers */
	if (c->fd < 0 && (errno == EACCES || errno == EROFS))
		c->fd = open(c->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (c->fd < 0)
		return -1;
	if (fstat(c->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->end = 0;
	index_clear(c);
	return scan(c, (uint64_t)st.st_size);
}

struct mcache *
mcache_open(const char *path)
{
	struct mcache *c = calloc(1, sizeof *c);
	if (c == NULL || (c->path = strdup(path)) == NULL) {
		free(c);
		return NULL;
	}
	if (open_file(c) != 0 && c->fd >= 0) {
		/* out of memory while indexing: an empty cache */
		close(c->fd);
		c->fd = -1;
	}
	return c;
}

void
mcache_close(struct mcache **cp)
{
	struct mcache *c = *cp;
	if (c == NULL)
		return;
	(void)mcache_flush(c);
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	free(c->tab);
	free(c->win);
	free(c->pend);
	free(c);
	*cp = NULL;
}

/* Bytes [off, off + len) of the file into the window: a pointer to them,
 * or NULL (short file, error). */
static const unsigned char *
window(struct mcache *c, uint64_t off, size_t len)
{
	if (c->win_len && off >= c->win_off && off + len <= c->win_off + c->win_len)
		return c->win + (off - c->win_off);
	size_t want = len > WINDOW_LEN ? len : WINDOW_LEN;
	if (want > c->win_cap) {
		unsigned char *w = realloc(c->win, want);
		if (w == NULL)
			return NULL;
		c->win = w;
		c->win_cap = want;
	}
	c->win_len = 0;
	ssize_t got = pread_full(c->fd, c->win, want, off);
	if (got < (ssize_t)len)
		return NULL;
	c->win_off = off;
	c->win_len = (size_t)got;
	return c->win;
}

int
mcache_get(struct mcache *c, uint32_t validity, uint32_t uid, const void *id, size_t id_len,
    struct mcache_rec *r)
{
	if (c == NULL || c->fd < 0 || c->cap == 0 || uid == 0)
		return 0;
	size_t i = slot_of(c, uid);
	if (c->tab[i].uid != uid)
		return 0;
	uint64_t off = c->tab[i].off;
	const unsigned char *p = window(c, off, 8);
	size_t len;
	if (p == NULL || mcache_record_parse(p, 8, r, &len) < 0 || len == 0 ||
	    (p = window(c, off, len)) == NULL || mcache_record_parse(p, len, r, &len) != 1 ||
	    r->uid != uid) {
		/* cut or overwritten since the scan: never an answer */
		c->win_len = 0;
		index_drop(c, uid);
		return 0;
	}
	return r->validity == validity && r->id_len == id_len &&
	    (id_len == 0 || memcmp(r->id, id, id_len) == 0);
}

/* ---- writing ---- */

int
mcache_put(struct mcache *c, const struct mcache_rec *r)
{
	if (c == NULL || c->fd < 0)
		return 0;
	size_t len;
	unsigned char *b = mcache_record_build(r, &len);
	if (b == NULL)
		return -1;
	if (c->pend_len + len > c->pend_cap) {
		size_t cap = c->pend_len + len > MCACHE_PENDING_MAX ? c->pend_len + len
		    : MCACHE_PENDING_MAX;
		unsigned char *p = realloc(c->pend, cap);
		if (p == NULL) {
			free(b);
			return -1;
		}
		c->pend = p;
		c->pend_cap = cap;
	}
	memcpy(c->pend + c->pend_len, b, len);
	c->pend_len += len;
	free(b);
	return c->pend_len >= MCACHE_PENDING_MAX ? mcache_flush(c) : 0;
}

/* Under the lock: the file as it is now, c->end its good end. Another
 * writer's replacement is followed (then 1: lock again). 0, 1 or -1. */
static int
catch_up(struct mcache *c)
{
	struct stat now, mine;
	if (fstat(c->fd, &mine) != 0)
		return -1;
	if (stat(c->path, &now) != 0 || now.st_dev != c->dev || now.st_ino != c->ino) {
		close(c->fd);
		return open_file(c) == 0 ? 1 : -1;
	}
	uint64_t size = (uint64_t)mine.st_size;
	if (size < c->end) {
		/* cut by someone else: everything known is in doubt */
		c->end = 0;
		index_clear(c);
	}
	if (scan(c, size) != 0)
		return -1;
	/* no header (a new or foreign file): it starts again */
	if (c->end == 0) {
		if (pwrite(c->fd, file_magic, sizeof file_magic, 0) != (ssize_t)sizeof file_magic)
			return -1;
		c->end = FILE_HEAD_LEN;
	}
	/* a torn or corrupt tail: cut back to the good end */
	if (size != c->end && ftruncate(c->fd, (off_t)c->end) != 0)
		return -1;
	return 0;
}

/* A new file beside the cache, to be renamed over it, at tmp (size
 * bytes): <path>.<pid>, made with O_EXCL so that nothing planted at that
 * name is written through (S34); a file already there is one this pid
 * left, or a planted link, and only its name is removed. An fd or -1. */
static int
tmp_create(const struct mcache *c, char *tmp, size_t size)
{
	if (path_printf(tmp, size, "%s.%ld", c->path, (long)getpid()) != 0)
		return -1;
	int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = open(tmp, flags, 0600);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, flags, 0600);
	return fd;
}

/* Starts the file again, holding only the pending records: a new file
 * renamed over the old one, so a reader of the old keeps what it read. */
static int
restart(struct mcache *c)
{
	char tmp[PATH_MAX];
	int fd = tmp_create(c, tmp, sizeof tmp);
	if (fd < 0)
		return -1;
	struct stat st;
	/* locked before it has its name, so no one writes there before us */
	if (flock(fd, LOCK_EX) != 0 ||
	    pwrite(fd, file_magic, sizeof file_magic, 0) != (ssize_t)sizeof file_magic ||
	    fstat(fd, &st) != 0 || rename(tmp, c->path) != 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(c->fd);   /* its lock goes with it */
	c->fd = fd;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->end = FILE_HEAD_LEN;
	index_clear(c);
	return 0;
}

/* Appends the pending records at c->end and indexes them. */
static int
append(struct mcache *c)
{
	if (c->end + c->pend_len > MCACHE_FILE_MAX && restart(c) != 0)
		return -1;
	size_t done = 0;
	while (done < c->pend_len) {
		ssize_t w = pwrite(c->fd, c->pend + done, c->pend_len - done, (off_t)(c->end + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* a partial record is cut off by the next writer */
			if (ftruncate(c->fd, (off_t)c->end) != 0) {
				/* the next writer's scan stops at it */
			}
			return -1;
		}
		done += (size_t)w;
	}
	struct mcache_rec r;
	size_t at = 0, len;
	while (at < c->pend_len && mcache_record_parse(c->pend + at, c->pend_len - at, &r, &len) == 1) {
		if (index_set(c, r.uid, (uint32_t)(c->end + at)) != 0)
			break;
		at += len;
		c->nrec++;
	}
	c->end += c->pend_len;
	return 0;
}

int
mcache_flush(struct mcache *c)
{
	if (c == NULL || c->fd < 0 || c->pend_len == 0) {
		if (c)
			c->pend_len = 0;
		return 0;
	}
	int rc = -1;
	for (int tries = 0; tries < LOCK_TRIES && c->fd >= 0; tries++) {
		if (flock(c->fd, LOCK_EX) != 0)
			break;
		int k = catch_up(c);
		if (k == 1)
			continue;   /* replaced: the new file's lock */
		if (k == 0)
			rc = append(c);
		if (c->fd >= 0)
			(void)flock(c->fd, LOCK_UN);
		break;
	}
	c->pend_len = 0;
	c->win_len = 0;
	return rc;
}

/* ---- compaction ---- */

/* Records a file may hold beyond twice the live ones before it is
 * rewritten: a small folder is not rewritten for a few replaced records. */
#define COMPACT_SLACK 1024

static int
slot_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct slot *)a)->uid, y = ((const struct slot *)b)->uid;
	return x < y ? -1 : x > y;
}

/* Copies the record of live[k] (checked again) to out at *pos, flushing
 * out (obuf/olen) to fd when full. 1 copied, 0 dropped (bad), -1 error. */
static int
copy_record(struct mcache *c, struct slot *s, int fd, unsigned char *obuf, size_t *olen,
    uint64_t *pos)
{
	struct mcache_rec r;
	size_t len;
	const unsigned char *p = window(c, s->off, 8);
	if (p == NULL || mcache_record_parse(p, 8, &r, &len) < 0 || len == 0 ||
	    (p = window(c, s->off, len)) == NULL || mcache_record_parse(p, len, &r, &len) != 1 ||
	    r.uid != s->uid)
		return 0;
	if (*olen + len > MCACHE_PENDING_MAX) {
		if (pwrite(fd, obuf, *olen, (off_t)(*pos - *olen)) != (ssize_t)*olen)
			return -1;
		*olen = 0;
	}
	if (len > MCACHE_PENDING_MAX) {
		if (pwrite(fd, p, len, (off_t)*pos) != (ssize_t)len)
			return -1;
	} else {
		memcpy(obuf + *olen, p, len);
		*olen += len;
	}
	s->off = (uint32_t)*pos;
	*pos += len;
	return 1;
}

/* Writes the latest record of every UID keep() wants, in UID order, to a
 * new file (locked before it has its name) renamed over the old one,
 * which c then reads. Called with the old file locked. 0 or -1. */
static int
rewrite(struct mcache *c, int (*keep)(void *, uint32_t), void *ctx)
{
	char tmp[PATH_MAX];
	struct slot *live = malloc((c->used ? c->used : 1) * sizeof *live);
	unsigned char *obuf = malloc(MCACHE_PENDING_MAX);
	int fd = -1, rc = -1;
	size_t n = 0, olen = 0;
	uint64_t pos = FILE_HEAD_LEN;
	if (live == NULL || obuf == NULL)
		goto out;
	for (size_t i = 0; i < c->cap; i++)
		if (c->tab[i].uid != 0 && keep(ctx, c->tab[i].uid))
			live[n++] = c->tab[i];
	qsort(live, n, sizeof *live, slot_cmp);
	fd = tmp_create(c, tmp, sizeof tmp);
	if (fd < 0 || flock(fd, LOCK_EX) != 0 ||
	    pwrite(fd, file_magic, sizeof file_magic, 0) != (ssize_t)sizeof file_magic)
		goto out;
	for (size_t k = 0; k < n; k++) {
		int got = copy_record(c, &live[k], fd, obuf, &olen, &pos);
		if (got < 0)
			goto out;
		if (got == 0)
			live[k].uid = 0;
	}
	struct stat st;
	if ((olen && pwrite(fd, obuf, olen, (off_t)(pos - olen)) != (ssize_t)olen) ||
	    fstat(fd, &st) != 0 || rename(tmp, c->path) != 0)
		goto out;
	close(c->fd);   /* its lock goes with it */
	c->fd = fd;
	fd = -1;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->end = pos;
	index_clear(c);
	for (size_t k = 0; k < n; k++)
		if (live[k].uid != 0 && index_set(c, live[k].uid, live[k].off) == 0)
			c->nrec++;
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(live);
	free(obuf);
	return rc;
}

int
mcache_compact(struct mcache *c, int (*keep)(void *ctx, uint32_t uid), void *ctx)
{
	if (c == NULL || c->fd < 0)
		return 0;
	(void)mcache_flush(c);
	size_t live = 0;
	for (size_t i = 0; i < c->cap; i++)
		live += c->tab[i].uid != 0 && keep(ctx, c->tab[i].uid);
	if (c->nrec <= 2 * live + COMPACT_SLACK)
		return 0;
	int rc = -1;
	for (int tries = 0; tries < LOCK_TRIES && c->fd >= 0; tries++) {
		if (flock(c->fd, LOCK_EX) != 0)
			break;
		int k = catch_up(c);
		if (k == 1)
			continue;
		if (k == 0)
			rc = rewrite(c, keep, ctx);
		if (c->fd >= 0)
			(void)flock(c->fd, LOCK_UN);
		break;
	}
	c->win_len = 0;
	return rc;
}
