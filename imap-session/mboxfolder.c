/*
 * mboxfolder.c — the folder state (folder.h) of an mbox file: INBOX with
 * mailbox_format = mbox.
 *
 * The file is locked with mbox_lock() (fcntl, then dotlock: the same locks
 * as delivery) only while it is read or rewritten, never for the session,
 * so deliveries go on. Each read takes the whole file: UIDs from X-UID
 * headers checked against X-IMAPbase in the first message (UIDVALIDITY
 * UIDNEXT); a message without a trustworthy X-UID (a new delivery) gets
 * the next UID, which is written back at once so every session sees the
 * same UIDs. Flag changes and expunges are applied under the lock to the
 * file as it is then (other sessions' changes to other messages are kept),
 * written to a temporary file in the same directory, fsync'd, renamed over
 * the mbox, and the directory fsync'd.
 *
 * The session keeps a descriptor of the file as it last read it: message
 * content comes from there, so a rewrite by another session (a new inode)
 * or an append (past the end) never changes what this session's offsets
 * mean. Closing a descriptor drops the process's fcntl locks on that
 * inode, so an old descriptor is closed only after mbox_unlock().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "durable.h"
#include "folder.h"
#include "mbox.h"
#include "mime.h"

/* A rewrite goes out in pieces of about this size. */
#define REWRITE_CHUNK (1024 * 1024)
/* Largest mbox served: the file is mapped whole on each change. */
#define MBOXF_FILE_MAX (1024ULL * 1024 * 1024)
/* An mbox changes by growing (delivery), shrinking (pop3-session's
 * removal in place) or being replaced (a rewrite: new inode), so the same
 * inode, size and mtime mean the same file at once, with no quiet period
 * as for Maildir directories. Only an edit in place that keeps the size
 * within one mtime tick would go unseen until the next change. */
/* Ceiling of a buffer holding a message or a rewrite's piece of the file:
 * the file's ceiling, a chunk, and the headers we add. */
#define MBOXF_BUF_MAX (MBOXF_FILE_MAX + REWRITE_CHUNK + 65536)
/* Our Status, X-Status and X-Keywords lines for one appended message. */
#define MBOXF_META_MAX 65536

/* ---- one message's headers ---- */

/* Headers yubin keeps in the mbox and hides from clients. */
static int
is_ours(const char *line, size_t len)
{
	static const char *const names[] = { "X-UID", "X-IMAPbase", "X-IMAP", "Status",
		"X-Status", "X-Keywords", "Content-Length" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t n = strlen(names[i]);
		if (len > n && line[n] == ':' && strncasecmp(line, names[i], n) == 0)
			return 1;
	}
	return 0;
}

/* Splits message bytes m[0..len) at its empty line: *hdr_len bytes of
 * header lines, the body after the empty line from *body_off (len if
 * none). */
static void
split(const char *m, size_t len, size_t *hdr_len, size_t *body_off)
{
	if (len > 0 && m[0] == '\n') {
		*hdr_len = 0;
		*body_off = 1;
		return;
	}
	for (size_t i = 0; i + 1 < len; i++)
		if (m[i] == '\n' && m[i + 1] == '\n') {
			*hdr_len = i + 1;
			*body_off = i + 2;
			return;
		}
	*hdr_len = len;
	*body_off = len;
}

/* End of the header field starting at i (continuation lines included). */
static size_t
field_end(const char *h, size_t len, size_t i)
{
	for (;;) {
		const char *nl = memchr(h + i, '\n', len - i);
		if (nl == NULL)
			return len;
		i = (size_t)(nl - h) + 1;
		if (i >= len || (h[i] != ' ' && h[i] != '\t'))
			return i;
	}
}

struct meta {
	int has_uid, has_base;
	uint32_t uid, validity, next;
	unsigned flags;
	int old;
	/* the X-Keywords value, in the header it was parsed from (valid as
	 * long as that is: a scan holds it per message, not a copy) */
	const char *keywords;
	size_t keywords_len;
};

static uint32_t
parse_u32(const char *s, size_t len, const char **end)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	size_t start = i;
	while (i < len && s[i] >= '0' && s[i] <= '9' && v <= 0xffffffffULL)
		v = v * 10 + (uint64_t)(s[i++] - '0');
	if (end)
		*end = i > start && v <= 0xffffffffULL ? s + i : NULL;
	return i > start && v <= 0xffffffffULL ? (uint32_t)v : 0;
}

/* Reads our headers; the first occurrence of each counts. */
static void
meta_parse(const char *h, size_t len, struct meta *mt)
{
	int seen_status = 0, seen_xstatus = 0, seen_kw = 0;
	memset(mt, 0, sizeof *mt);
	for (size_t i = 0; i < len;) {
		size_t e = field_end(h, len, i);
		const char *f = h + i, *colon = memchr(f, ':', e - i);
		if (colon != NULL && is_ours(f, e - i)) {
			size_t nlen = (size_t)(colon - f);
			const char *v = colon + 1;
			size_t vlen = (size_t)(h + e - v);
			const char *end;
			if (nlen == 5 && strncasecmp(f, "X-UID", 5) == 0 && !mt->has_uid) {
				mt->uid = parse_u32(v, vlen, &end);
				mt->has_uid = end != NULL && mt->uid != 0;
			} else if (nlen == 10 && strncasecmp(f, "X-IMAPbase", 10) == 0 && !mt->has_base) {
				mt->validity = parse_u32(v, vlen, &end);
				if (end != NULL) {
					mt->next = parse_u32(end, (size_t)(h + e - end), &end);
					mt->has_base = end != NULL && mt->validity != 0 && mt->next != 0;
				}
			} else if (nlen == 6 && strncasecmp(f, "Status", 6) == 0 && !seen_status) {
				seen_status = 1;
				for (size_t k = 0; k < vlen; k++) {
					if (v[k] == 'R')
						mt->flags |= FL_SEEN;
					else if (v[k] == 'O')
						mt->old = 1;
				}
			} else if (nlen == 8 && strncasecmp(f, "X-Status", 8) == 0 && !seen_xstatus) {
				seen_xstatus = 1;
				for (size_t k = 0; k < vlen; k++)
					mt->flags |= v[k] == 'A' ? FL_ANSWERED : v[k] == 'F' ? FL_FLAGGED :
					    v[k] == 'T' ? FL_DRAFT : v[k] == 'D' ? FL_DELETED : 0;
			} else if (nlen == 10 && strncasecmp(f, "X-Keywords", 10) == 0 && !seen_kw) {
				seen_kw = 1;
				mt->keywords = v;
				mt->keywords_len = vlen;
			}
		}
		i = e;
	}
}

/* X-Keywords names → keyword bits (new names join the folder's table). */
static int
is_keyword_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '\0';
}

static uint32_t
keywords_bits(struct folder *f, const char *s, size_t len)
{
	uint32_t bits = 0;
	char word[IMAP_KEYWORD_MAX + 1];
	if (s == NULL)
		return 0;
	const char *end = s + len;
	while (s < end) {
		while (s < end && is_keyword_sep(*s))
			s++;
		size_t n = 0, all = 0;
		while (s < end && !is_keyword_sep(*s)) {
			if (n + 1 < sizeof word)
				word[n++] = *s;
			all++;
			s++;
		}
		word[n] = '\0';
		/* longer than a keyword may be: skipped, never cut to one */
		if (n == 0 || all != n)
			continue;
		int k = mboxf_keyword(f, word, 1);
		if (k >= 0)
			bits |= 1u << k;
	}
	return bits;
}

int
mboxf_keyword(struct folder *f, const char *name, int create)
{
	int free_slot = -1;
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++) {
		if (f->kw[i] && strcasecmp(f->kw[i], name) == 0)
			return i;
		if (!f->kw[i] && free_slot < 0)
			free_slot = i;
	}
	if (!create || free_slot < 0)
		return -1;
	/* kept in each message's X-Keywords: the table is this session's */
	f->kw[free_slot] = strdup(name);
	return f->kw[free_slot] ? free_slot : -1;
}

/* Our headers for a message, written after its other header lines. */
static int
meta_write(struct folder *f, struct buf *b, int first, uint32_t uid, unsigned flags,
    uint32_t keywords, int old)
{
	char line[256];
	if (first) {
		snprintf(line, sizeof line, "X-IMAPbase: %u %u\n", f->uidvalidity, f->uidnext);
		if (buf_addstr(b, line) != 0)
			return -1;
	}
	snprintf(line, sizeof line, "X-UID: %u\nStatus: %s%s\nX-Status: %s%s%s%s\n", uid,
	    flags & FL_SEEN ? "R" : "", old ? "O" : "", flags & FL_ANSWERED ? "A" : "",
	    flags & FL_FLAGGED ? "F" : "", flags & FL_DRAFT ? "T" : "",
	    flags & FL_DELETED ? "D" : "");
	if (buf_addstr(b, line) != 0)
		return -1;
	if (keywords == 0)
		return 0;
	if (buf_addstr(b, "X-Keywords:") != 0)
		return -1;
	for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
		if ((keywords & (1u << i)) && f->kw[i] &&
		    (buf_addstr(b, " ") != 0 || buf_addstr(b, f->kw[i]) != 0))
			return -1;
	return buf_addstr(b, "\n");
}

/* Header lines of h[0..len) without ours. */
static int
headers_copy(struct buf *b, const char *h, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t e = field_end(h, len, i);
		if (!is_ours(h + i, e - i) && (buf_add(b, h + i, e - i) != 0 ||
		    (h[e - 1] != '\n' && buf_add(b, "\n", 1) != 0)))
			return -1; /* a last line without its newline gets one */
		i = e;
	}
	return 0;
}

static int update(struct folder *f, int apply);

/* ---- reading and rewriting the file ---- */

struct scanned {
	struct meta mt;
	uint64_t from_off, off, len; /* From_ line, message after it, its length */
	time_t when;
	uint64_t vsize;              /* for messages new to the session */
	uint32_t uid;                /* decided */
	unsigned flags;
	uint32_t keywords;
	int old, drop;
	int fresh;                   /* got its UID now: its headers are not ours */
};

/* Maps the whole file read-only (under the lock nobody changes it).
 * *len_r 0: *data_r is "" and nothing is mapped. */
static int
map_all(int fd, const char **data_r, size_t *len_r)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	if ((uint64_t)st.st_size > MBOXF_FILE_MAX) {
		errno = EFBIG;
		return -1;
	}
	*len_r = (size_t)st.st_size;
	if (*len_r == 0) {
		*data_r = "";
		return 0;
	}
	void *p = mmap(NULL, *len_r, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	*data_r = p;
	return 0;
}

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
	*validity = parse_u32(line, (size_t)r, &end);
	if (end == NULL || *validity == 0)
		return -1;
	*next = parse_u32(end, strlen(end), &end);
	if (end == NULL || *next == 0)
		return -1;
	*last = parse_u32(end, strlen(end), &end);
	if (end == NULL || *last >= *next)
		*last = *next - 1;
	return 0;
}

static void
sidecar_write(const struct folder *f, uint32_t last)
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
static int
decide_uids(struct folder *f, struct scanned *s, size_t n)
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

/* The session's own changes for the message with this UID. */
static struct fmsg *
session_msg(struct folder *f, uint32_t uid)
{
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (f->m[mid].uid < uid)
			lo = mid + 1;
		else if (f->m[mid].uid > uid)
			hi = mid;
		else
			return &f->m[mid];
	}
	return NULL;
}

/* Writes the messages not dropped to a new file renamed over the mbox
 * (mbox_rewrite_begin: old or new file whole at every instant); offsets
 * in s are updated to the new file; *fd_r is it, open. */
static int
rewrite(struct folder *f, struct mbox_lock *lk, const char *data, struct scanned *s, size_t n,
    int *fd_r)
{
	struct mbox_rewrite rw;
	if (mbox_rewrite_begin(lk, &rw) != 0)
		return -1;
	int fd = rw.fd;
	/* written in pieces of about REWRITE_CHUNK: memory stays small */
	struct buf b = BUF_INIT(MBOXF_BUF_MAX);
	uint64_t base = 0;
	int first = 1;
	for (size_t i = 0; i < n; i++) {
		if (s[i].drop)
			continue;
		const char *m = data + s[i].off;
		size_t hl, bo;
		split(m, s[i].len, &hl, &bo);
		uint64_t from_off = base + b.len;
		if (buf_add(&b, data + s[i].from_off, s[i].off - s[i].from_off) != 0 ||
		    (b.s[b.len - 1] != '\n' && buf_add(&b, "\n", 1) != 0))
			goto fail; /* a From_ line cut by EOF ends here */
		size_t off = b.len;
		if (headers_copy(&b, m, hl) != 0 ||
		    meta_write(f, &b, first, s[i].uid, s[i].flags, s[i].keywords, s[i].old) != 0 ||
		    (bo > hl && buf_add(&b, "\n", 1) != 0) ||
		    buf_add(&b, m + bo, s[i].len - bo) != 0)
			goto fail;
		if (b.len > off && b.s[b.len - 1] != '\n' && buf_add(&b, "\n", 1) != 0)
			goto fail;
		s[i].from_off = from_off;
		s[i].off = base + off;
		s[i].len = b.len - off;
		if (buf_add(&b, "\n", 1) != 0)
			goto fail;
		first = 0;
		if (b.len >= REWRITE_CHUNK) {
			if (durable_write_all(fd, b.s, b.len) != 0)
				goto fail;
			base += b.len;
			b.len = 0;
		}
	}
	if (b.len > 0 && durable_write_all(fd, b.s, b.len) != 0)
		goto fail;
	buf_free(&b);
	/* fsync'd and the directory too: the flags reach the disk before the
	 * tagged OK (mboxf_flush) */
	return mbox_rewrite_commit(lk, &rw, fd_r);
fail:;
	int e = errno;
	buf_free(&b);
	mbox_rewrite_abort(&rw);
	errno = e;
	return -1;
}

/* Merges the file's messages (sorted by UID) into the session's list. */
static int
merge(struct folder *f, const struct scanned *s, size_t n, int grow)
{
	size_t i = 0, old_n = f->n;
	uint32_t max_uid = old_n ? f->m[old_n - 1].uid : 0;
	for (size_t j = 0; j < n; j++) {
		if (s[j].drop)
			continue;
		while (i < old_n && f->m[i].uid < s[j].uid)
			f->m[i++].gone = 1;
		if (i < old_n && f->m[i].uid == s[j].uid && !f->m[i].gone) {
			struct fmsg *m = &f->m[i++];
			if ((m->flags & ~FL_RECENT) != s[j].flags || m->keywords != s[j].keywords)
				m->changed = 1;
			m->flags = (m->flags & FL_RECENT) | s[j].flags;
			m->keywords = s[j].keywords;
			m->mb_off = s[j].off;
			m->mb_len = s[j].len;
			m->mb_old = (unsigned)s[j].old;
			continue;
		}
		if (s[j].uid <= max_uid)
			continue;
		if (!grow) {
			/* f->m must not move now; the next sync reads again */
			f->mb_skipped = 1;
			continue;
		}
		if (f->n == f->cap) {
			size_t cap = f->cap ? f->cap * 2 : 64;
			struct fmsg *p = realloc(f->m, cap * sizeof *p);
			if (p == NULL)
				return -1;
			f->m = p;
			f->cap = cap;
		}
		struct fmsg *m = &f->m[f->n++];
		memset(m, 0, sizeof *m);
		m->uid = s[j].uid;
		m->flags = s[j].flags;
		m->keywords = s[j].keywords;
		m->mb_off = s[j].off;
		m->mb_len = s[j].len;
		m->mb_old = (unsigned)s[j].old;
		m->mtime_known = 1;
		m->e.mtime = s[j].when;
		m->e.size = s[j].len;
		/* RFC822.SIZE: what FETCH sends (CRLF, our headers hidden) */
		m->e.vsize = s[j].vsize ? s[j].vsize : 1;
		/* read-only (EXAMINE, STATUS): shown, not taken (no O written) */
		if (!s[j].mt.old) {
			m->flags |= FL_RECENT;
			f->recent++;
		}
		f->new_messages = 1;
	}
	while (i < old_n)
		f->m[i++].gone = 1;
	return 0;
}

/* The message view of raw bytes: our headers out, mboxrd quoting undone,
 * CRLF line ends. malloc'd. */
static int
message_view(const char *raw, size_t len, unsigned char **out, size_t *out_len)
{
	size_t hl, bo;
	split(raw, len, &hl, &bo);
	struct buf b = BUF_INIT(MBOXF_BUF_MAX);
	/* the empty line only if the message has one: a message that ends
	 * in its header reads back as it came (RFC822.SIZE included) */
	if (headers_copy(&b, raw, hl) != 0 || (bo > hl && buf_add(&b, "\n", 1) != 0))
		goto fail;
	size_t body_at = b.len;
	if (buf_add(&b, raw + bo, len - bo) != 0)
		goto fail;
	b.len = body_at + mbox_unquote(b.s + body_at, b.len - body_at);
	size_t bare = 0;
	for (size_t i = 0; i < b.len; i++)
		bare += b.s[i] == '\n' && (i == 0 || b.s[i - 1] != '\r');
	unsigned char *o = malloc(b.len + bare + 1);
	if (o == NULL)
		goto fail;
	size_t k = 0;
	for (size_t i = 0; i < b.len; i++) {
		if (b.s[i] == '\n' && (i == 0 || b.s[i - 1] != '\r'))
			o[k++] = '\r';
		o[k++] = (unsigned char)b.s[i];
	}
	o[k] = '\0';
	buf_free(&b);
	*out = o;
	*out_len = k;
	return 0;
fail:
	buf_free(&b);
	return -1;
}

/* Under the lock: reads the file, decides UIDs, applies the session's
 * changes (if apply), writes it back when anything changed, and merges
 * the result into f. */
static int
update_locked(struct folder *f, struct mbox_lock *lk, int apply, const struct scanned *app,
    int *new_fd)
{
	const char *data = NULL;
	size_t len = 0, n = 0;
	struct mbox_entry *e = NULL;
	struct scanned *s = NULL;
	int rc = -1, fd = -1;
	if (map_all(lk->fd, &data, &len) != 0 || mbox_scan(lk->fd, &e, &n) != 0)
		goto out;
	s = calloc(n ? n : 1, sizeof *s);
	if (s == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((uint64_t)e[i].offset + (uint64_t)e[i].length > len) {
			errno = EIO;
			goto out;
		}
		s[i].from_off = (uint64_t)e[i].from_offset;
		s[i].off = (uint64_t)e[i].offset;
		s[i].len = (uint64_t)e[i].length;
		s[i].when = e[i].when;
		size_t hl, bo;
		split(data + s[i].off, s[i].len, &hl, &bo);
		meta_parse(data + s[i].off, hl, &s[i].mt);
		s[i].flags = s[i].mt.flags;
		s[i].old = s[i].mt.old;
		s[i].keywords = keywords_bits(f, s[i].mt.keywords, s[i].mt.keywords_len);
	}
	uint32_t old_validity = f->uidvalidity;
	int write = decide_uids(f, s, n);
	/* A new message's Status, X-Status and X-Keywords came with it (a
	 * sender could mark it \Deleted): none. An APPEND's are the client's. */
	for (size_t i = 0; i < n; i++)
		if (s[i].fresh) {
			int mine = app != NULL && i == n - 1;
			s[i].flags = mine ? app->flags : 0;
			s[i].keywords = mine ? app->keywords : 0;
			if (!mine)
				s[i].old = s[i].mt.old = 0;
		}
	for (size_t i = 0; i < n; i++) {
		struct fmsg *m = apply && f->uidvalidity == old_validity ? session_msg(f, s[i].uid) : NULL;
		if (m != NULL && m->gone && (m->flags & FL_DELETED)) {
			s[i].drop = 1;
			write = 1;
		} else if (m != NULL && m->mb_dirty) {
			s[i].flags = m->flags & ~FL_RECENT;
			s[i].keywords = m->keywords;
			write = 1;
		}
		if (!s[i].old && !f->readonly) {
			/* \Recent for this session only, as the first to see it */
			write = 1;
		}
	}
	uint32_t known = f->n ? f->m[f->n - 1].uid : 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char *v;
		size_t vl;
		if (s[i].uid > known && !s[i].drop &&
		    message_view(data + s[i].off, s[i].len, &v, &vl) == 0) {
			s[i].vsize = vl;
			free(v);
		}
	}
	if (write) {
		/* the Recent decision is taken from mt.old (merge), the file says O */
		for (size_t i = 0; i < n; i++)
			if (!f->readonly)
				s[i].old = 1;
		if (rewrite(f, lk, data, s, n, &fd) != 0)
			goto out;
		uint32_t last = 0;
		for (size_t i = 0; i < n; i++)
			if (!s[i].drop && s[i].uid > last)
				last = s[i].uid;
		sidecar_write(f, last);
	} else {
		fd = dup(lk->fd);
		if (fd < 0)
			goto out;
	}
	if (apply) {
		for (size_t i = 0; i < f->n; i++)
			f->m[i].mb_dirty = 0;
		f->mb_dirty = 0;
	}
	if (merge(f, s, n, f->mb_grow) != 0)
		goto out;
	struct stat st;
	if (fstat(fd, &st) == 0) {
		f->mb_ino = (uint64_t)st.st_ino;
		f->mb_size = (uint64_t)st.st_size;
		f->mb_mtime = st.st_mtim;
	}
	*new_fd = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		*new_fd = fd; /* closed by the caller after unlocking */
	free(s);
	free(e);
	if (data != NULL && len > 0)
		munmap((void *)data, len);
	return rc;
}

/* Locks, updates, unlocks; the previous descriptor is closed after the
 * lock is gone (closing it drops fcntl locks on the same inode). */
static int
update(struct folder *f, int apply)
{
	struct mbox_lock lk;
	if (mbox_lock(f->mb_path, &lk) != 0)
		return -1;
	int fd = -1;
	int rc = update_locked(f, &lk, apply, NULL, &fd);
	int e = errno;
	mbox_unlock(&lk);
	if (rc == 0) {
		if (f->mb_fd >= 0)
			close(f->mb_fd);
		f->mb_fd = fd;
		f->cache_uid = 0;
		f->scanned = !f->mb_skipped;
		f->mb_skipped = 0;
	} else if (fd >= 0) {
		close(fd);
	}
	errno = e;
	return rc;
}

/* 1 if another process holds the mbox lock (fcntl or dotlock) now: e.g.
 * pop3-session, which keeps it for its whole session. */
static int
lock_busy(const char *path)
{
	char dot[4300];
	struct stat st;
	int n = snprintf(dot, sizeof dot, "%s.lock", path);
	if (n > 0 && (size_t)n < sizeof dot && lstat(dot, &st) == 0)
		return 1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int busy = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd); /* no lock of ours on this inode now: nothing dropped */
	return busy;
}

int
mboxf_sync(struct folder *f)
{
	struct stat st;
	if (f->scanned && !f->mb_dirty && stat(f->mb_path, &st) == 0 &&
	    (uint64_t)st.st_ino == f->mb_ino && (uint64_t)st.st_size == f->mb_size &&
	    st.st_mtim.tv_sec == f->mb_mtime.tv_sec && st.st_mtim.tv_nsec == f->mb_mtime.tv_nsec)
		return 0;
	/* A look (NOOP, IDLE, after each command) does not wait for a lock
	 * held elsewhere: the next look tries again. Writes do wait. */
	if (!f->mb_dirty && lock_busy(f->mb_path)) {
		f->scanned = 0;
		return 0;
	}
	return update(f, 1);
}

int
mboxf_flush(struct folder *f)
{
	int any = f->mb_dirty;
	for (size_t i = 0; !any && i < f->n; i++)
		any = f->m[i].gone;
	return any ? update(f, 1) : 0;
}

int
mboxf_open(struct folder **f_r, const char *path, const char *name, int readonly)
{
	struct folder *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	f->mbox = 1;
	f->mb_fd = -1;
	f->mb_grow = 1;
	f->readonly = readonly;
	snprintf(f->mb_path, sizeof f->mb_path, "%s", path);
	snprintf(f->name, sizeof f->name, "%s", name);
	snprintf(f->dir, sizeof f->dir, "%s", path);
	char *slash = strrchr(f->dir, '/');
	if (slash != NULL)
		*slash = '\0';
	if (update(f, 0) != 0) {
		int e = errno;
		folder_close(&f);
		errno = e;
		return -1;
	}
	f->reported = f->n;
	f->new_messages = 0;
	*f_r = f;
	return 0;
}

/* Takes raw (got of its m->mb_len bytes) as message idx into the cache; 1
 * if the bytes are not that message (the file was rewritten in place, as
 * pop3-session does). */
static int
message_take(struct folder *f, size_t idx, const char *raw, size_t got)
{
	struct fmsg *m = &f->m[idx];
	size_t hl, bo;
	struct meta mt;
	split(raw, got, &hl, &bo);
	meta_parse(raw, hl, &mt);
	if (got != m->mb_len || !mt.has_uid || mt.uid != m->uid)
		return 1;
	if (message_view(raw, got, &f->cache_data, &f->cache_len) != 0)
		return -1;
	f->cache_uid = m->uid;
	m->e.vsize = f->cache_len;
	return 0;
}

/* Reads message idx; 1 if the bytes there are not that message. */
static int
message_read(struct folder *f, size_t idx)
{
	struct fmsg *m = &f->m[idx];
	if (f->mb_fd < 0 || m->mb_len > MBOXF_FILE_MAX) {
		errno = f->mb_fd < 0 ? ENOENT : EFBIG;
		return -1;
	}
	char *raw = malloc(m->mb_len + 1);
	if (raw == NULL)
		return -1;
	size_t got = 0;
	while (got < m->mb_len) {
		ssize_t r = pread(f->mb_fd, raw + got, m->mb_len - got, (off_t)(m->mb_off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	int rc = message_take(f, idx, raw, got);
	free(raw);
	return rc;
}

/* The header part of message_view(): our headers out, then the empty
 * line. The whole view starts with these bytes, and its first empty line
 * is this one, unless no header line is left (then the view starts with
 * the empty line, and RFC822.HEADER runs on into the body). */
int
mboxf_header(struct folder *f, size_t idx)
{
	struct fmsg *m = &f->m[idx];
	if (f->mb_fd < 0)
		return 1;
	unsigned char *raw;
	size_t got, cut;
	int r = folder_read_head(f->mb_fd, m->mb_off, m->mb_len, 1, &raw, &got, &cut);
	if (r != 0)
		return 1; /* the whole message's read says what is wrong */
	const char *h = (const char *)raw;
	if (cut == 0) {
		r = message_take(f, idx, h, got);
		free(raw);
		return r;
	}
	size_t hl, bo;
	struct meta mt;
	struct buf b = BUF_INIT(MBOXF_BUF_MAX);
	split(h, cut, &hl, &bo);
	meta_parse(h, hl, &mt);
	r = 1;
	if (mt.has_uid && mt.uid == m->uid) {
		r = headers_copy(&b, h, hl) != 0 || buf_add(&b, "\n", 1) != 0 ? -1 : 0;
		if (r == 0 && b.len == 1)
			r = 1;
		if (r == 0)
			r = folder_crlf((const unsigned char *)b.s, b.len, &f->cache_data, &f->cache_len);
	}
	buf_free(&b);
	free(raw);
	if (r != 0)
		return r;
	f->cache_uid = m->uid;
	f->cache_head = 1;
	return 0;
}

int
mboxf_message(struct folder *f, size_t idx)
{
	uint32_t uid = f->m[idx].uid;
	int r = message_read(f, idx);
	if (r != 1)
		return r;
	/* read the file again: offsets change, indexes do not */
	/* callers hold pointers into f->m: no new messages now */
	f->mb_grow = 0;
	int ur = update(f, 1);
	f->mb_grow = 1;
	if (ur != 0)
		return -1;
	if (f->m[idx].uid != uid || f->m[idx].gone || (r = message_read(f, idx)) == 1) {
		errno = ENOENT;
		return -1;
	}
	return r;
}

int
mboxf_append(struct folder *f, const char *data, size_t len, time_t when, unsigned flags,
    uint32_t keywords, uint32_t *uid_r)
{
	/* mboxrd quoting is mbox_append's; it reads from a descriptor */
	char tmpl[4300];
	snprintf(tmpl, sizeof tmpl, "%s/.yubin-append.XXXXXX", f->dir);
	int tfd = mkstemp(tmpl);
	if (tfd < 0)
		return -1;
	unlink(tmpl);
	struct buf lf = BUF_INIT(MBOXF_BUF_MAX), b = BUF_INIT(MBOXF_BUF_MAX);
	int rc = -1;
	for (size_t i = 0; i < len; i++)
		if (!(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') &&
		    buf_add(&lf, data + i, 1) != 0)
			goto out;
	/* a client's X-UID or Status must not pass for ours */
	size_t hl, bo;
	split(lf.s ? lf.s : "", lf.len, &hl, &bo);
	if (headers_copy(&b, lf.s ? lf.s : "", hl) != 0 ||
	    (bo > hl && buf_add(&b, "\n", 1) != 0) || buf_add(&b, lf.s + bo, lf.len - bo) != 0)
		goto out;
	if (durable_write_all(tfd, b.s ? b.s : "", b.len) != 0 || lseek(tfd, 0, SEEK_SET) != 0)
		goto out;
	char prefix[1200];
	struct buf pb = BUF_INIT(MBOXF_META_MAX);
	/* no O (old): \Recent for the next session that looks, as a delivery */
	snprintf(prefix, sizeof prefix, "Status: %s\nX-Status: %s%s%s%s\n",
	    flags & FL_SEEN ? "R" : "", flags & FL_ANSWERED ? "A" : "",
	    flags & FL_FLAGGED ? "F" : "", flags & FL_DRAFT ? "T" : "",
	    flags & FL_DELETED ? "D" : "");
	if (buf_addstr(&pb, prefix) != 0)
		goto out;
	if (keywords) {
		if (buf_addstr(&pb, "X-Keywords:") != 0)
			goto out_pb;
		for (int i = 0; i < FOLDER_KEYWORDS_MAX; i++)
			if ((keywords & (1u << i)) && f->kw[i] &&
			    (buf_addstr(&pb, " ") != 0 || buf_addstr(&pb, f->kw[i]) != 0))
				goto out_pb;
		if (buf_addstr(&pb, "\n") != 0)
			goto out_pb;
	}
	struct scanned app;
	memset(&app, 0, sizeof app);
	app.flags = flags & ~FL_RECENT;
	app.keywords = keywords;
	struct mbox_lock lk;
	if (mbox_lock(f->mb_path, &lk) != 0)
		goto out_pb;
	off_t old;
	int fd = -1;
	if (mbox_append(&lk, "MAILER-DAEMON", when, pb.s, pb.len, tfd, b.len, &old) == 0 &&
	    update_locked(f, &lk, 1, &app, &fd) == 0) {
		rc = 0;
		*uid_r = f->uidnext - 1;
	}
	int e = errno;
	mbox_unlock(&lk);
	if (rc == 0) {
		if (f->mb_fd >= 0)
			close(f->mb_fd);
		f->mb_fd = fd;
		f->cache_uid = 0;
	} else if (fd >= 0) {
		close(fd);
	}
	errno = e;
out_pb:
	buf_free(&pb);
out:
	buf_free(&lf);
	buf_free(&b);
	close(tfd);
	return rc;
}
