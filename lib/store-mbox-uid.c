/*
 * store-mbox-uid.c — UIDs of an mbox folder (store-mbox-uid.h): X-UIDs are
 * believed while they rise and stay below both the X-IMAPbase UIDNEXT and
 * the last UID the index recorded; a message without one takes its UID from
 * the index, found there by its content check (mboxmsg_key), or gets the
 * next UID, which the index records, as it records a STORE's flags. The
 * mbox is never written to number a message or change its flags: the
 * rewrite for an EXPUNGE puts the X-UIDs and flags in the file and empties
 * the index.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "durable.h"
#include "folder.h"
#include "store-mbox.h"
#include "store-mbox-uid.h"
#include "path.h"

/* In the user's root (every mbox folder's directory), the last
 * UIDVALIDITY handed out to any folder: "<uidvalidity>\n", the file
 * Maildir folders keep there too; flock()ed through the lock file while
 * read and replaced. Names starting "yubin-" are never folders. */
#define VALIDITY_NAME "yubin-uidvalidity"
#define VALIDITY_LOCK_NAME "yubin-uidvalidity.lock"

/* The user directory's ".<mbox>.yubin-uids", the index (a dotfile:
 * pop3-session skips those):
 *   "yubin-mbox-index 1 <uidvalidity> <uidnext> <last> <over>\n"
 *   "<uid> <key, 16 hex digits> <bits>[ <flags>[ <keyword>...]]\n" per
 *       message whose UID, \Recent claim or flags the file does not hold,
 *       in file order; <flags> (FL_* of folder.h) and keyword names only
 *       with ENT_FLAGS: a STORE keeps them here until the next rewrite
 *   "end <FNV-1a 64 of all bytes before this line, 16 hex digits>\n"
 * <last>: the highest X-UID yubin wrote into the file, so an X-UID above
 * it (a delivered message carrying its own) is not believed; <over>: the
 * file's X-IMAPbase UIDVALIDITY that <uidvalidity> replaces (0: none).
 * Replaced whole (a new file, fsync'd, renamed over it) under the mbox
 * lock. A file that does not end in its checksum, or does not parse, is
 * no index: messages without an X-UID then get a new UIDVALIDITY, never
 * a guessed UID. An older yubin's "<uidvalidity> <uidnext> <last>\n" is
 * an index without entries (that yubin wrote every UID into the file).
 * An emptied mbox (or one whose first message was deleted by a POP3
 * client) keeps its UIDVALIDITY through it and never reuses a UID. */
#define INDEX_MAGIC "yubin-mbox-index 1 "
#define INDEX_BYTES_MAX (64u * 1024 * 1024)
#define ENT_OLD 1u       /* \Recent taken */
#define ENT_TRUSTED 2u   /* the file's Status and X-Keywords are ours */
#define ENT_INFILE 4u    /* the UID is the file's X-UID: only the claim is here */
#define ENT_FLAGS 8u     /* its flags and keywords are these, not the file's */

struct ient {
	uint32_t uid;
	unsigned bits, flags;
	uint64_t key;
	const char *kw;      /* keyword names (in struct index's data) */
	size_t kw_len;
};

struct index {
	int present;
	uint32_t validity, next, last, over;
	struct ient *e;
	size_t n;
	char *data;          /* the file as read: the entries' keyword names */
};

static void
index_free(struct index *ix)
{
	free(ix->e);
	free(ix->data);
	ix->e = NULL;
	ix->data = NULL;
}

/* The index's name in f->dir. 0, or -1 with errno ENAMETOOLONG. */
static int
index_name(const struct folder *f, char *out, size_t size)
{
	const char *base = strrchr(f->mb_path, '/');
	return path_printf(out, size, ".%s.yubin-uids", base ? base + 1 : f->mb_path);
}

/* 0, or -1 with errno ENAMETOOLONG (out is then "": no index). */
static int
index_path(const struct folder *f, char *out, size_t size)
{
	char name[NAME_MAX + 1];
	if (index_name(f, name, sizeof name) != 0) {
		out[0] = '\0';
		return -1;
	}
	return path_join(out, size, f->dir, name, NULL);
}

static uint64_t
fnv64(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* 16 hex digits at s (len bytes left): the value, *end past them (NULL: none). */
static uint64_t
parse_hex64(const char *s, size_t len, const char **end)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < len && s[i] == ' ')
		i++;
	size_t start = i;
	for (; i < len && i - start < 16; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			break;
		v = v << 4 | (uint64_t)d;
	}
	*end = i - start == 16 ? s + i : NULL;
	return v;
}

/* The whole file into *data_r (malloc'd, NUL-terminated). 0 or -1. */
static int
index_slurp(const struct folder *f, char **data_r, size_t *len_r)
{
	char path[PATH_MAX];
	if (index_path(f, path, sizeof path) != 0)
		return -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t cap = 4096, len = 0;
	char *d = malloc(cap + 1);
	while (d != NULL) {
		if (len == cap) {
			char *p = cap < INDEX_BYTES_MAX ? realloc(d, cap * 2 + 1) : NULL;
			if (p == NULL)
				break;
			d = p;
			cap *= 2;
		}
		ssize_t r = read(fd, d + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (r == 0) {
			close(fd);
			d[len] = '\0';
			*data_r = d;
			*len_r = len;
			return 0;
		}
		len += (size_t)r;
	}
	free(d);
	close(fd);
	return -1;
}

/* An older yubin's sidecar: "<uidvalidity> <uidnext> <last>\n". */
static int
index_parse_old(const char *d, size_t len, struct index *ix)
{
	const char *end;
	ix->validity = mboxmsg_parse_u32(d, len, &end);
	if (end == NULL || ix->validity == 0)
		return -1;
	ix->next = mboxmsg_parse_u32(end, (size_t)(d + len - end), &end);
	if (end == NULL || ix->next == 0)
		return -1;
	ix->last = mboxmsg_parse_u32(end, (size_t)(d + len - end), &end);
	if (end == NULL || ix->last >= ix->next)
		ix->last = ix->next - 1;
	return 0;
}

static int
index_parse(char *d, size_t len, struct index *ix)
{
	size_t ml = strlen(INDEX_MAGIC);
	if (len < ml || memcmp(d, INDEX_MAGIC, ml) != 0)
		return index_parse_old(d, len, ix);
	/* the checksum line: the last one */
	if (len < 21 + ml || d[len - 1] != '\n')
		return -1;
	size_t at = len - 21;
	const char *end;
	if (memcmp(d + at, "end ", 4) != 0 ||
	    parse_hex64(d + at + 4, 17, &end) != fnv64(d, at) || end == NULL)
		return -1;
	uint32_t v[4];
	const char *p = d + ml, *lim = d + at;
	for (int k = 0; k < 4; k++) {
		v[k] = mboxmsg_parse_u32(p, (size_t)(lim - p), &end);
		if (end == NULL)
			return -1;
		p = end;
	}
	if (v[0] == 0 || v[1] == 0 || v[2] >= v[1] || p >= lim || *p++ != '\n')
		return -1;
	ix->validity = v[0];
	ix->next = v[1];
	ix->last = v[2];
	ix->over = v[3];
	size_t cap = 0;
	for (const char *q = p; q < lim; q++)
		cap += *q == '\n';
	ix->e = calloc(cap ? cap : 1, sizeof *ix->e);
	if (ix->e == NULL)
		return -1;
	uint32_t prev = 0;
	while (p < lim) {
		struct ient *e = &ix->e[ix->n];
		e->uid = mboxmsg_parse_u32(p, (size_t)(lim - p), &end);
		if (end == NULL || e->uid <= prev || e->uid >= ix->next)
			return -1;
		e->key = parse_hex64(end, (size_t)(lim - end), &end);
		if (end == NULL)
			return -1;
		e->bits = mboxmsg_parse_u32(end, (size_t)(lim - end), &end);
		if (end != NULL && (e->bits & ENT_FLAGS))
			e->flags = mboxmsg_parse_u32(end, (size_t)(lim - end), &end);
		if (end == NULL || end >= lim)
			return -1;
		const char *nl = memchr(end, '\n', (size_t)(lim - end));
		if (nl == NULL || (nl > end && !(e->bits & ENT_FLAGS)))
			return -1;
		e->kw = end;
		e->kw_len = (size_t)(nl - end);
		end = nl;
		prev = e->uid;
		ix->n++;
		p = end + 1;
	}
	return 0;
}

/* Reads f's index: ix->present 0 if there is none, or none to trust. */
static void
index_load(const struct folder *f, struct index *ix)
{
	char *d;
	size_t len;
	memset(ix, 0, sizeof *ix);
	if (index_slurp(f, &d, &len) != 0)
		return;
	if (index_parse(d, len, ix) == 0) {
		ix->present = 1;
		ix->data = d;
	} else {
		free(ix->e);
		memset(ix, 0, sizeof *ix);
		free(d);
	}
}

static int
index_add(struct buf *b, const char *line, int n)
{
	return n < 0 ? -1 : buf_add(b, line, (size_t)n);
}

/* Writes ix (entries taken as they are) if it is not what the file
 * holds, by durable_replace: the file fsync'd before its rename; durable:
 * the directory too. 0 or -1 (errno). */
static int
index_store(const struct folder *f, const struct index *ix, int durable)
{
	char name[NAME_MAX + 1], hdr[128];
	struct buf b = BUF_INIT(INDEX_BYTES_MAX);
	int n = snprintf(hdr, sizeof hdr, INDEX_MAGIC "%u %u %u %u\n", ix->validity, ix->next,
	    ix->last, ix->over);
	int rc = buf_add(&b, hdr, (size_t)n);
	char line[64];
	for (size_t i = 0; rc == 0 && i < ix->n; i++) {
		const struct ient *e = &ix->e[i];
		if (e->bits & ENT_FLAGS)
			rc = index_add(&b, line, snprintf(line, sizeof line, "%u %016llx %u %u", e->uid,
			    (unsigned long long)e->key, e->bits, e->flags));
		else
			rc = index_add(&b, line, snprintf(line, sizeof line, "%u %016llx %u", e->uid,
			    (unsigned long long)e->key, e->bits));
		if (rc == 0 && e->kw_len > 0)
			rc = buf_add(&b, e->kw, e->kw_len);
		if (rc == 0)
			rc = buf_add(&b, "\n", 1);
	}
	if (rc == 0)
		rc = index_add(&b, line, snprintf(line, sizeof line, "end %016llx\n",
		    (unsigned long long)fnv64(b.s ? b.s : "", b.len)));
	char *old;
	size_t old_len;
	if (rc == 0 && index_slurp(f, &old, &old_len) == 0) {
		int same = old_len == b.len && memcmp(old, b.s, b.len) == 0;
		free(old);
		if (same) {
			buf_free(&b);
			return 0;
		}
	}
	if (rc == 0 && index_name(f, name, sizeof name) != 0)
		rc = -1; /* ENAMETOOLONG */
	if (rc == 0)
		rc = durable_replace(f->dir, name, b.s, b.len, durable ? DURABLE_SYNCED : DURABLE_WHOLE);
	int e = errno;
	buf_free(&b);
	errno = e;
	return rc;
}

int
mboxuid_index_write(const struct folder *f, const struct scanned *s, size_t n,
    const struct mboxuid_hw *hw, int durable, int dropped)
{
	struct index ix = { 1, f->uidvalidity, f->uidnext, hw->last, hw->over, NULL, 0, NULL };
	struct buf names = BUF_INIT(INDEX_BYTES_MAX);
	size_t *at = calloc(n ? n : 1, sizeof *at);
	ix.e = calloc(n ? n : 1, sizeof *ix.e);
	int rc = ix.e != NULL && at != NULL ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if ((s[i].drop && !dropped) || s[i].hide ||
		    !(s[i].indexed || s[i].idx_flags || (s[i].old && !s[i].file_old)))
			continue;
		struct ient *e = &ix.e[ix.n];
		e->uid = s[i].uid;
		e->key = s[i].key;
		e->bits = (s[i].old ? ENT_OLD : 0) | (s[i].indexed && s[i].trusted ? ENT_TRUSTED : 0) |
		    (s[i].indexed ? 0 : ENT_INFILE) | (s[i].idx_flags ? ENT_FLAGS : 0);
		e->flags = s[i].flags & ~FL_RECENT;
		at[ix.n++] = names.len;
		for (int k = 0; rc == 0 && s[i].idx_flags && k < FOLDER_KEYWORDS_MAX; k++)
			if ((s[i].keywords & (1u << k)) && f->kw[k] != NULL &&
			    (buf_add(&names, " ", 1) != 0 || buf_addstr(&names, f->kw[k]) != 0))
				rc = -1;
	}
	/* names' bytes may have moved as it grew: pointed at only now */
	for (size_t i = 0; rc == 0 && i < ix.n; i++) {
		ix.e[i].kw = names.s ? names.s + at[i] : "";
		ix.e[i].kw_len = (i + 1 < ix.n ? at[i + 1] : names.len) - at[i];
	}
	if (rc == 0)
		rc = index_store(f, &ix, durable);
	int e = errno;
	free(ix.e);
	free(at);
	buf_free(&names);
	errno = e;
	return rc;
}

int
mboxuid_index_stat(const struct folder *f, struct stat *st)
{
	char path[PATH_MAX];
	if (index_path(f, path, sizeof path) != 0)
		return -1;
	return lstat(path, st);
}

int
mboxuid_reserve(struct folder *f, size_t n, uint32_t *uid_r, struct mboxuid_undo *undo)
{
	uint32_t uid = f->uidnext;
	if (uid == 0 || n == 0 || n > 0xffffffffU - uid) {
		errno = EOVERFLOW; /* no UID left under this UIDVALIDITY */
		return -1;
	}
	struct index ix;
	index_load(f, &ix);
	undo->had = ix.present && ix.validity == f->uidvalidity;
	undo->last = undo->had ? ix.last : 0;
	if (!undo->had) {
		index_free(&ix);
		memset(&ix, 0, sizeof ix);
	}
	ix.validity = f->uidvalidity;
	ix.next = uid + (uint32_t)n;
	ix.last = uid + (uint32_t)(n - 1);
	int rc = index_store(f, &ix, 1);
	int e = errno;
	index_free(&ix);
	if (rc != 0) {
		errno = e;
		return -1;
	}
	f->uidnext = uid + (uint32_t)n;
	*uid_r = uid;
	return 0;
}

void
mboxuid_release(struct folder *f, const struct mboxuid_undo *undo)
{
	char path[PATH_MAX];
	/* the UID stays used (UIDNEXT stays past it): it was never shown,
	 * but an X-UID of it must not be believed again */
	if (undo->had) {
		struct index ix;
		index_load(f, &ix);
		if (ix.present && ix.validity == f->uidvalidity) {
			ix.last = undo->last;
			(void)index_store(f, &ix, 1);
		}
		index_free(&ix);
	} else {
		if (index_path(f, path, sizeof path) == 0)
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
	char path[PATH_MAX], line[32];
	if (path_join(path, sizeof path, f->dir, VALIDITY_LOCK_NAME, NULL) != 0)
		return 0;
	int lock = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lock < 0)
		return 0;
	while (flock(lock, LOCK_EX) != 0)
		if (errno != EINTR) {
			close(lock);
			return 0;
		}
	if (path_join(path, sizeof path, f->dir, VALIDITY_NAME, NULL) != 0) {
		close(lock);
		return 0;
	}
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
	int n = snprintf(line, sizeof line, "%u\n", v);
	int ok = durable_replace(f->dir, VALIDITY_NAME, line, (size_t)n, DURABLE_SYNCED) == 0;
	int e = errno;
	close(lock);
	errno = e;
	return ok ? v : 0;
}

/* The entry of ix from *j on for a message without a believed X-UID:
 * the first with its content check and a UID above prev. Entries passed
 * over are of messages gone from the file (a POP3 client's removal). */
static const struct ient *
index_find(const struct index *ix, size_t *j, uint64_t key, uint32_t prev)
{
	for (size_t k = *j; k < ix->n; k++)
		if (ix->e[k].key == key && ix->e[k].uid > prev && !(ix->e[k].bits & ENT_INFILE)) {
			*j = k + 1;
			return &ix->e[k];
		}
	return NULL;
}

/* The flags a STORE left in entry e for message s. */
static void
entry_flags(struct folder *f, const struct ient *e, struct scanned *s)
{
	if (!(e->bits & ENT_FLAGS))
		return;
	s->idx_flags = 1;
	s->flags = e->flags & (FL_ANSWERED | FL_FLAGGED | FL_DELETED | FL_SEEN | FL_DRAFT);
	s->keywords = mboxmsg_keywords(f, e->kw, e->kw_len);
}

/* The \Recent claim and flags the index keeps for a message with X-UID uid. */
static void
index_claim(struct folder *f, const struct index *ix, size_t *j, struct scanned *s)
{
	while (*j < ix->n && ix->e[*j].uid < s->uid)
		(*j)++;
	if (*j < ix->n && ix->e[*j].uid == s->uid) {
		if (ix->e[*j].key == s->key) {
			if (ix->e[*j].bits & ENT_OLD)
				s->mt.old = 1;
			entry_flags(f, &ix->e[*j], s);
		}
		(*j)++;
	}
}

static int
key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The content checks of the index's numbered messages, sorted: whether
 * a message is one of them is a binary search, so a message carrying an
 * X-UID it did not get from yubin (a forged one) is still found by its
 * entry. NULL with *n_r 0 if there are none. -1 if out of memory. */
static int
key_set(const struct index *ix, uint64_t **keys_r, size_t *n_r)
{
	*keys_r = NULL;
	*n_r = 0;
	if (ix->n == 0)
		return 0;
	uint64_t *k = malloc(ix->n * sizeof *k);
	if (k == NULL)
		return -1;
	for (size_t i = 0; i < ix->n; i++)
		if (!(ix->e[i].bits & ENT_INFILE))
			k[(*n_r)++] = ix->e[i].key;
	qsort(k, *n_r, sizeof *k, key_cmp);
	*keys_r = k;
	return 0;
}

/* Numbers s in order from the index's entries, the believed X-UIDs and
 * next. 1 if order is lost (a known UID after a new one), or if a
 * message without a believed X-UID is not in an index that is gone; -1
 * if out of memory. */
static int
number(struct folder *f, const struct index *ix, struct scanned *s, size_t n, uint32_t next,
    uint32_t limit, uint32_t *next_r, int *assigned_r)
{
	uint32_t prev = 0;
	size_t j = 0, nk;
	int assigned = 0;
	uint64_t *keys;
	if (key_set(ix, &keys, &nk) != 0)
		return -1;
	int lost = 0;
	for (size_t i = 0; i < n && !lost; i++) {
		const struct ient *e = NULL;
		if (nk > 0 && bsearch(&s[i].key, keys, nk, sizeof *keys, key_cmp) != NULL)
			e = index_find(ix, &j, s[i].key, prev);
		if (e != NULL) {
			if (assigned || e->uid >= next) {
				lost = 1;
				break;
			}
			s[i].uid = prev = e->uid;
			s[i].indexed = 1;
			s[i].trusted = (e->bits & ENT_TRUSTED) != 0;
			s[i].fresh = !s[i].trusted;
			s[i].mt.old = (e->bits & ENT_OLD) || (s[i].trusted && s[i].file_old);
			entry_flags(f, e, &s[i]);
		} else if (s[i].mt.has_uid && s[i].mt.uid > prev && s[i].mt.uid < next &&
		    s[i].mt.uid <= limit) {
			if (assigned) {
				lost = 1;
				break;
			}
			s[i].uid = prev = s[i].mt.uid;
			index_claim(f, ix, &j, &s[i]);
		} else if (!ix->present) {
			/* an index lost: this message may have had a UID there */
			lost = 1;
		} else {
			assigned = 1;
			s[i].fresh = s[i].indexed = s[i].given = 1;
			s[i].mt.old = 0;
			s[i].uid = prev = next++;
		}
	}
	free(keys);
	if (!lost) {
		*next_r = next;
		*assigned_r = assigned;
	}
	return lost;
}

/* All of s numbered again from 1 under a new UIDVALIDITY (the index
 * alone keeps them). 0 or -1 (errno). */
static int
renumber(struct folder *f, const struct index *ix, uint32_t validity, struct scanned *s,
    size_t n, uint32_t *validity_r)
{
	uint32_t least = f->uidvalidity + 1;
	if (ix->present && least <= ix->validity)
		least = ix->validity + 1;
	if (least <= validity)
		least = validity + 1;
	/* least 0: past 2^32 - 1 (a forged X-IMAPbase), no least */
	uint32_t v = new_validity(f, least);
	if (v == 0)
		return -1;
	*validity_r = v;
	for (size_t i = 0; i < n; i++) {
		s[i].uid = (uint32_t)i + 1;
		s[i].indexed = 1;
		/* a file yubin did not number (another mail program's, or one
		 * whose index is gone): its Status and X-Keywords are the user's */
		s[i].trusted = 1;
		s[i].mt.old = s[i].file_old;
	}
	return 0;
}

int
mboxuid_decide(struct folder *f, struct scanned *s, size_t n, struct mboxuid_hw *hw)
{
	uint32_t file_v = n && s[0].mt.has_base ? s[0].mt.validity : 0;
	uint32_t validity = file_v, next = n && s[0].mt.has_base ? s[0].mt.next : 1;
	uint32_t limit = 0xffffffffU;
	int redo = 0, assigned = 0;
	struct index ix;
	index_load(f, &ix);
	hw->over = 0;
	if (ix.present) {
		if (file_v != 0 && file_v == ix.over) {
			/* the index replaced the file's numbering */
			hw->over = ix.over;
			next = 1;
		} else if (file_v != 0 && file_v != ix.validity) {
			/* the file's X-IMAPbase is not what yubin wrote last (another
			 * program, or a forged header): believe neither */
			redo = 1;
		}
		validity = ix.validity;
		if (ix.next > next)
			next = ix.next;
		limit = ix.last;
	}
	redo |= validity == 0;
	for (size_t i = 0; i < n; i++)
		s[i].mt.old = s[i].file_old;
	if (!redo)
		redo = number(f, &ix, s, n, next, limit, &next, &assigned);
	if (redo < 0) {
		index_free(&ix);
		errno = ENOMEM;
		return -1;
	}
	hw->last = ix.present ? ix.last : 0;
	if (!ix.present)
		for (size_t i = 0; i < n; i++)
			if (s[i].uid > hw->last)
				hw->last = s[i].uid;
	if (redo) {
		for (size_t i = 0; i < n; i++)
			s[i].fresh = s[i].indexed = s[i].trusted = s[i].given = s[i].idx_flags = 0;
		if (renumber(f, &ix, validity, s, n, &validity) != 0) {
			int e = errno;
			index_free(&ix);
			errno = e;
			return -1;
		}
		next = (uint32_t)n + 1;
		hw->last = 0; /* no X-UID in the file is believed */
		hw->over = file_v;
	}
	index_free(&ix);
	int changed = f->uidvalidity != 0 && f->uidvalidity != validity;
	f->uidvalidity = validity;
	f->uidnext = next;
	if (changed) {
		/* a new UIDVALIDITY: nothing this session knew holds */
		for (size_t i = 0; i < f->n; i++)
			f->m[i].gone = 1;
	}
	return redo ? MBOXUID_RENUMBERED : assigned ? MBOXUID_NEW : 0;
}
