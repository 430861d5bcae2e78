/*
 * copy.c — APPEND, COPY and MOVE: messages into another folder, durable
 * before the tagged OK (maildir_prepare fsyncs the file, maildir_commit
 * fsyncs new/), with APPENDUID/COPYUID (RFC 4315).
 *
 * MOVE between folders is one rename(2) per message (RENAME_NOREPLACE):
 * the message is in exactly one folder at every instant, never lost and
 * never left behind. The unique part of its name, and so its identity,
 * stays; it gets a new UID in the target folder.
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

#include "durable.h"
#include "bounds.h"
#include "imap-date.h"
#include "imap.h"
#include "log.h"
#include "mailname.h"
#include "maildir.h"
#include "path.h"

static int
folder_exists(const char *dir)
{
	char cur[PATH_MAX];
	struct stat st;
	if (path_join(cur, sizeof cur, dir, "cur", NULL) != 0)
		return 0;
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && lstat(cur, &st) == 0 &&
	    S_ISDIR(st.st_mode);
}

/* A folder handle for keyword letters of the target: the selected
 * folder's, unless that is selected read-only (EXAMINE), which would
 * refuse to name a new keyword and so drop it from the message. */
static struct folder *
target_open(struct imap *im, const char *dir)
{
	if (im->sel && !im->sel->readonly && strcmp(im->sel->dir, dir) == 0)
		return im->sel;
	struct folder *t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	if (path_printf(t->dir, sizeof t->dir, "%s", dir) != 0) {
		free(t);
		return NULL;
	}
	/* folder_keyword() reads the keyword file; a dummy lookup loads it. */
	folder_keyword(t, "", 0);
	return t;
}

static void
target_close(struct imap *im, struct folder **t)
{
	if (*t && *t != im->sel)
		folder_close(t);
	*t = NULL;
}

/* Maildir info letters in the target for flags and source keyword names. */
static void
target_letters(struct folder *t, unsigned flags, char *const *names, size_t nnames,
    char *out)
{
	uint32_t kw = 0;
	for (size_t i = 0; i < nnames; i++) {
		int k = folder_keyword(t, names[i], 1);
		if (k >= 0)
			kw |= 1u << k;
	}
	folder_flag_letters(flags & ~FL_RECENT, kw, out);
}

static size_t
base_len_of(const char *name)
{
	return strcspn(name, ",:");
}

/* UIDs in dir of the messages with these base names. */
static int
uids_of(const char *dir, char **bases, size_t n, uint32_t *uids, uint32_t *validity)
{
	struct maildir_entry *e;
	size_t ne;
	uint32_t next;
	if (maildir_scan(dir, 0, &e, &ne) != 0)
		return -1;
	uint32_t *all = calloc(ne ? ne : 1, sizeof *all);
	int r = all ? folder_assign_uids(dir, e, ne, all, validity, &next) : -1;
	for (size_t i = 0; r == 0 && i < n; i++) {
		uids[i] = 0;
		size_t bl = strlen(bases[i]);
		for (size_t j = 0; j < ne; j++)
			if (e[j].base_len == bl && memcmp(e[j].name, bases[i], bl) == 0)
				uids[i] = all[j];
	}
	free(all);
	maildir_entries_free(&e, ne);
	return r;
}

/* ---- APPEND ---- */

/* An APPEND date-time. A day past the month's end (31-Nov) rolls over as
 * Dovecot does (t/fixtures/imap-clients misc): refusing it would refuse to
 * store a client's message, so this is not imap_date_time_parse(), which
 * is strict for SEARCH. Before 1970 is refused: INTERNALDATE is the file's
 * mtime. */
static int
parse_date_time(const char *s, time_t *t)
{
	int d, y, H, M, S, zone;
	char m[4], sign;
	if (sscanf(s, "%2d-%3s-%4d %2d:%2d:%2d %c%4d", &d, m, &y, &H, &M, &S, &sign, &zone) != 8 ||
	    (sign != '+' && sign != '-'))
		return -1;
	int mon = imap_date_month(m, strlen(m));
	if (mon < 0 || d < 1 || d > 31 || H > 23 || M > 59 || S > 60 || y < 1970)
		return -1;
	struct tm tm = { 0 };
	tm.tm_mday = d;
	tm.tm_mon = mon;
	tm.tm_year = y - 1900;
	tm.tm_hour = H;
	tm.tm_min = M;
	tm.tm_sec = S;
	time_t base = timegm(&tm);
	int off = (zone / 100) * 3600 + (zone % 100) * 60;
	*t = sign == '+' ? base - off : base + off;
	return 0;
}

/* CRLF → LF into a memory file, as Maildir stores messages. */
static int
message_to_fd(const char *data, size_t len, uint64_t *len_r)
{
	int fd = memfd_create("imap-append", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	char *buf = malloc(len ? len : 1);
	if (buf == NULL) {
		close(fd);
		return -1;
	}
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
			continue;
		buf[o++] = data[i];
	}
	int r = durable_write_all(fd, buf, o);
	free(buf);
	if (r != 0 || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	*len_r = o;
	return fd;
}

/* One message of an APPEND from c->args[*i]: [flag list] [date-time]
 * literal, or UTF8 (literal) (RFC 6855); *i moves past it. Everything is
 * checked here, before anything is stored. V_OK, or the verdict sent. */
static enum verdict
append_parse_one(struct imap *im, struct imap_command *c, size_t *i,
    struct append_msg *m)
{
	static const char *const sys[] = { "\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
		"\\Draft" };
	static const unsigned bits[] = { FL_ANSWERED, FL_FLAGGED, FL_DELETED, FL_SEEN, FL_DRAFT };
	const struct imap_arg *flags_arg = NULL, *date_arg = NULL;
	struct imap_arg *msg = NULL;
	memset(m, 0, sizeof *m);
	if (*i < c->n && c->args[*i].type == ARG_LIST)
		flags_arg = &c->args[(*i)++];
	if (*i < c->n && c->args[*i].type == ARG_STRING)
		date_arg = &c->args[(*i)++];
	if (*i < c->n && c->args[*i].type == ARG_LITERAL) {
		msg = &c->args[(*i)++];
	} else if (*i + 1 < c->n && arg_is(&c->args[*i], "UTF8") &&
	    c->args[*i + 1].type == ARG_LIST && c->args[*i + 1].n == 1 &&
	    c->args[*i + 1].list[0].type == ARG_LITERAL) {
		msg = &c->args[*i + 1].list[0];
		*i += 2;
	} else if (*i + 1 < c->n && arg_is(&c->args[*i], "CATENATE")) {
		m->cat = &c->args[*i + 1];
		*i += 2;
		if (catenate_check(m->cat) != 0)
			return verdict(im, V_BAD, "Invalid CATENATE parts");
	} else {
		return verdict(im, V_BAD, "APPEND needs a mailbox and a literal");
	}
	m->when = time(NULL);
	if (date_arg && parse_date_time(date_arg->str, &m->when) != 0)
		return verdict(im, V_BAD, "Invalid date-time");
	for (size_t k = 0; flags_arg && k < flags_arg->n; k++) {
		const struct imap_arg *a = &flags_arg->list[k];
		size_t j;
		if (a->type != ARG_ATOM)
			return verdict(im, V_BAD, "Invalid flag");
		for (j = 0; j < 5 && strcasecmp(a->str, sys[j]) != 0; j++)
			;
		if (j < 5)
			m->flags |= bits[j];
		else if (a->str[0] == '\\' || strpbrk(a->str, "()[]{%*\""))
			return verdict(im, V_BAD, "Invalid flag");
		else if (strlen(a->str) > IMAP_KEYWORD_MAX)
			return verdict(im, V_BAD, "Keyword too long");
		else if (m->nkw < FOLDER_KEYWORDS_MAX)
			m->kwnames[m->nkw++] = a->str;
	}
	if (msg == NULL)
		return V_OK; /* CATENATE: made once the target is known */
	if (msg->len > im->s.conf.max_message_size)
		return verdict(im, V_NO, "[TOOBIG] Message too big");
	if (msg->len == 0)
		return verdict(im, V_NO, "Empty message");
	/* RFC 3516 §4.4: binary content comes back as it was sent. */
	if (msg->literal8 && append8_store_form(msg) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot store message");
	m->data = msg->str;
	m->len = msg->len;
	return V_OK;
}

/* Stores v[0..n) in the Maildir dir, all or none as COPY: every message
 * written and fsync'd in tmp/ first, then each moved into new/; a
 * failure part way takes back the ones moved. bases[i] gets message i's
 * base name (malloc'd). 0, or -1 (errno) with nothing stored. */
static int
append_maildir(struct imap *im, const char *dir, const struct append_msg *v, size_t n,
    char **bases)
{
	struct maildir_delivery *d = calloc(n ? n : 1, sizeof *d);
	if (d == NULL)
		return -1;
	size_t prepared = 0, committed = 0;
	for (; prepared < n; prepared++) {
		uint64_t len;
		int fd = message_to_fd(v[prepared].data, v[prepared].len, &len);
		if (fd < 0)
			break;
		int r = maildir_prepare(dir, NULL, 0, fd, len, &d[prepared]);
		int e = errno;
		close(fd);
		errno = e;
		if (r != 0)
			break; /* maildir_prepare left nothing behind */
	}
	if (prepared < n) {
		int e = errno;
		for (size_t i = 0; i < prepared; i++)
			maildir_abort(&d[i]);
		free(d);
		errno = e;
		return -1;
	}
	struct folder *t = target_open(im, dir);
	for (; committed < n; committed++) {
		char letters[MAILDIR_FLAGS_MAX + 8];
		const struct append_msg *m = &v[committed];
		if (t)
			target_letters(t, m->flags, m->kwnames, m->nkw, letters);
		else
			folder_flag_letters(m->flags, 0, letters);
		if (maildir_commit_flags(&d[committed], letters, m->when) != 0)
			break;
		const char *base = strrchr(d[committed].new_path, '/');
		base = base ? base + 1 : d[committed].new_path;
		if ((bases[committed] = strndup(base, base_len_of(base))) == NULL) {
			committed++;
			break;
		}
	}
	target_close(im, &t);
	if (committed < n || bases[n - 1] == NULL) {
		int e = errno;
		for (size_t i = committed; i < n; i++)
			maildir_abort(&d[i]);
		for (size_t i = 0; i < committed; i++) {
			maildir_uncommit(&d[i]);
			free(bases[i]);
			bases[i] = NULL;
		}
		free(d);
		errno = e;
		return -1;
	}
	free(d);
	return 0;
}

/* The tagged OK with APPENDUID (RFC 4315), a UID set for MULTIAPPEND. */
static enum verdict
append_ok(struct imap *im, uint32_t validity, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (uids[i] == 0)
			return verdict(im, V_OK, "APPEND completed");
	/* A set too long for the reply's text goes without APPENDUID. */
	struct buf b = BUF_INIT(400);
	size_t len;
	char *set = seqset_format(&b, uids, n) == 0 ? buf_finish(&b, &len) : NULL;
	buf_free(&b);
	if (set == NULL)
		return verdict(im, V_OK, "APPEND completed");
	enum verdict v = verdict(im, V_OK, "[APPENDUID %u %s] APPEND completed", validity, set);
	free(set);
	return v;
}

/* APPEND, and MULTIAPPEND (RFC 3502): any number of messages, each with
 * its own flags and date, stored all or none. The framer has the whole
 * command (every literal, at most max_message_size bytes in all) before
 * this runs, so a message refused part way stores none of the others. */
enum verdict
cmd_append(struct imap *im, struct imap_command *c)
{
	char name[MAILNAME_MAX], dir[PATH_MAX];
	if (c->n < 2)
		return verdict(im, V_BAD, "APPEND needs a mailbox and a literal");
	struct append_msg *v = calloc(c->n, sizeof *v);
	char **bases = calloc(c->n, sizeof *bases);
	uint32_t *uids = calloc(c->n, sizeof *uids);
	enum verdict vd = V_OK;
	size_t n = 0;
	if (v == NULL || bases == NULL || uids == NULL)
		vd = verdict(im, V_NO, "[SERVERBUG] Out of memory");
	for (size_t i = 1; vd == V_OK && i < c->n; n++)
		vd = append_parse_one(im, c, &i, &v[n]);
	if (vd == V_OK && imap_mailbox_arg(im, &c->args[0], name, sizeof name, dir, sizeof dir) != 0)
		vd = V_NO;
	if (vd == V_OK)
		vd = catenate_build(im, name, dir, v, n);
	uint64_t total = 0;
	for (size_t i = 0; vd == V_OK && i < n; i++)
		total += v[i].len;
	/* RFC 9208 §4.1: a message that would pass the quota is not stored. */
	if (vd == V_OK)
		vd = imap_quota_check(im, total);
	uint32_t validity = 0;
	if (vd == V_OK && im->mbox) {
		vd = imap_mbox_append(im, name, v, n, uids, &validity);
	} else if (vd == V_OK && !folder_exists(dir)) {
		vd = verdict(im, V_NO, "[TRYCREATE] Mailbox doesn't exist");
	} else if (vd == V_OK) {
		if (folder_uids_init(dir) != 0)
			log_warn("user=%s UID list of %s: %s", im->user, name, strerror(errno));
		if (append_maildir(im, dir, v, n, bases) != 0) {
			int e = errno;
			log_err("user=%s APPEND to %s: %s", im->user, name, strerror(e));
			vd = verdict(im, V_NO, "%s Cannot store message%s",
			    e == ENOSPC || e == EDQUOT ? "[OVERQUOTA]" : "[SERVERBUG]", n > 1 ? "s" : "");
		} else if (uids_of(dir, bases, n, uids, &validity) != 0) {
			memset(uids, 0, n * sizeof *uids);
		}
	}
	if (vd == V_OK)
		vd = append_ok(im, validity, uids, n);
	for (size_t i = 0; bases && i < n; i++)
		free(bases[i]);
	for (size_t i = 0; v && i < n; i++)
		free(v[i].built);
	free(bases);
	free(uids);
	free(v);
	return vd;
}

/* ---- COPY / MOVE ---- */

struct copy_job {
	size_t *idx;
	size_t n;
	char **bases;       /* target base names */
	uint32_t *src_uids;
	size_t done;
	int vanished;       /* a source file is gone: expunged elsewhere */
};

static void
job_free(struct copy_job *j)
{
	for (size_t i = 0; i < j->done; i++)
		free(j->bases[i]);
	free(j->bases);
	free(j->src_uids);
	free(j->idx);
}

static void
source_keywords(struct folder *f, const struct fmsg *m, char **names, size_t *n)
{
	*n = 0;
	for (int k = 0; k < FOLDER_KEYWORDS_MAX; k++)
		if ((m->keywords & (1u << k)) && f->kw[k])
			names[(*n)++] = f->kw[k];
}

/* Takes back the first n committed copies (unlinked, the directory
 * fsync'd by maildir_uncommit), so that a NO to COPY is true: nothing
 * was copied, and the client's retry does not double them. */
static void
uncommit_copies(struct copy_job *j, struct maildir_delivery *d, size_t n)
{
	int e = errno;
	for (size_t i = 0; i < n; i++)
		if (d[i].new_path[0] != '\0')
			maildir_uncommit(&d[i]);
	for (size_t i = 0; i < j->done; i++)
		free(j->bases[i]);
	j->done = 0;
	errno = e;
}

/* Copies every message: all prepared (written, fsync'd) first, then all
 * committed; a failure part way takes back what was committed, so the
 * target is unchanged. */
static int
copy_messages(struct imap *im, const char *dir, struct copy_job *j)
{
	struct folder *f = im->sel;
	struct maildir_delivery *d = calloc(j->n ? j->n : 1, sizeof *d);
	if (d == NULL)
		return -1;
	size_t prepared = 0;
	int r = 0;
	for (; prepared < j->n; prepared++) {
		struct fmsg *m = &f->m[j->idx[prepared]];
		int fd = maildir_open(f->dir, &m->e);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0) {
			if (fd >= 0)
				close(fd);
			else if (errno == ENOENT)
				j->vanished = 1;
			r = -1;
			break;
		}
		r = maildir_prepare(dir, NULL, 0, fd, (uint64_t)st.st_size, &d[prepared]);
		close(fd);
		if (r != 0)
			break;
		/* the source's mtime (INTERNALDATE); atime now, else a tmp/
		 * cleaner may take an old message's copy for litter */
		struct timespec ts[2] = { { 0, UTIME_NOW }, st.st_mtim };
		utimensat(AT_FDCWD, d[prepared].tmp_path, ts, 0);
	}
	if (r != 0) {
		for (size_t i = 0; i < prepared; i++)
			maildir_abort(&d[i]);
		free(d);
		return -1;
	}
	struct folder *t = target_open(im, dir);
	for (size_t i = 0; i < j->n; i++) {
		struct fmsg *m = &f->m[j->idx[i]];
		char *names[FOLDER_KEYWORDS_MAX], letters[MAILDIR_FLAGS_MAX + 8];
		size_t nn;
		source_keywords(f, m, names, &nn);
		if (t)
			target_letters(t, m->flags, names, nn, letters);
		else
			folder_flag_letters(m->flags, 0, letters);
		if (maildir_commit_flags(&d[i], letters, 0) != 0) {
			for (size_t k = i + 1; k < j->n; k++)
				maildir_abort(&d[k]);
			uncommit_copies(j, d, i);
			r = -1;
			break;
		}
		const char *base = strrchr(d[i].new_path, '/');
		base = base ? base + 1 : d[i].new_path;
		j->bases[i] = strndup(base, base_len_of(base));
		j->src_uids[i] = m->uid;
		j->done = i + 1;
		if (j->bases[i] == NULL) {
			j->done = i;
			for (size_t k = i + 1; k < j->n; k++)
				maildir_abort(&d[k]);
			uncommit_copies(j, d, i + 1);
			r = -1;
			break;
		}
	}
	target_close(im, &t);
	free(d);
	return r;
}

/* Moves every message by rename into dir/cur; stops at the first failure
 * (the messages moved so far are reported). */
static int
move_messages(struct imap *im, const char *dir, struct copy_job *j)
{
	struct folder *f = im->sel;
	struct folder *t = target_open(im, dir);
	int r = 0;
	for (size_t i = 0; i < j->n; i++) {
		struct fmsg *m = &f->m[j->idx[i]];
		char *names[FOLDER_KEYWORDS_MAX], letters[MAILDIR_FLAGS_MAX + 8];
		size_t nn;
		source_keywords(f, m, names, &nn);
		if (t)
			target_letters(t, m->flags, names, nn, letters);
		else
			folder_flag_letters(m->flags, 0, letters);
		char newname[512];
		if (maildir_move(f->dir, &m->e, dir, letters, newname, sizeof newname) != 0) {
			j->vanished = errno == ENOENT;
			r = -1;
			break;
		}
		j->bases[i] = strndup(m->e.name, m->e.base_len);
		j->src_uids[i] = m->uid;
		j->done = i + 1;
		m->gone = 1;
		if (j->bases[i] == NULL) {
			r = -1;
			break;
		}
	}
	target_close(im, &t);
	char sub[PATH_MAX];
	if (path_join(sub, sizeof sub, dir, "cur", NULL) != 0 || durable_fsync_dir(sub) != 0)
		r = -1;
	if (path_join(sub, sizeof sub, f->dir, "cur", NULL) == 0)
		durable_fsync_dir(sub);
	if (path_join(sub, sizeof sub, f->dir, "new", NULL) == 0)
		durable_fsync_dir(sub);
	return r;
}

/* COPYUID (RFC 4315): in code for the tagged reply when it fits, else
 * (and always for MOVE, RFC 6851) as an untagged OK. */
static void
out_copyuid(struct imap *im, const char *dir, struct copy_job *j, int untagged, char *code,
    size_t size)
{
	uint32_t validity;
	uint32_t *dst = calloc(j->done ? j->done : 1, sizeof *dst);
	code[0] = '\0';
	if (dst == NULL || j->done == 0 || uids_of(dir, j->bases, j->done, dst, &validity) != 0) {
		free(dst);
		return;
	}
	struct buf b = BUF_INIT(size - 1);
	buf_printf(&b, "[COPYUID %u ", validity);
	seqset_format(&b, j->src_uids, j->done);
	buf_addc(&b, ' ');
	seqset_format(&b, dst, j->done);
	if (!untagged && buf_addstr(&b, "] ") == 0) {
		memcpy(code, b.s, b.len + 1);
	} else {
		io_printf(&im->io, "* OK [COPYUID %u ", validity);
		seqset_write(&im->io, j->src_uids, j->done);
		io_puts(&im->io, " ");
		seqset_write(&im->io, dst, j->done);
		io_puts(&im->io, "] Copied\r\n");
	}
	buf_free(&b);
	free(dst);
}

static enum verdict
copy_common(struct imap *im, struct imap_command *c, int move)
{
	char name[MAILNAME_MAX], dir[PATH_MAX], code[440];
	struct copy_job j = { 0 };
	if (im->mbox)
		return imap_mbox_copy(im, c, move);
	if (c->n != 2 || c->args[0].type != ARG_ATOM)
		return verdict(im, V_BAD, "%s needs a sequence set and a mailbox", c->name);
	if (imap_mailbox_arg(im, &c->args[1], name, sizeof name, dir, sizeof dir) != 0)
		return V_NO;
	if (imap_select_messages(im, c->args[0].str, im->uid_command, &j.idx, &j.n) != 0)
		return verdict(im, V_BAD, "Invalid sequence set");
	if (!folder_exists(dir)) {
		free(j.idx);
		return verdict(im, V_NO, "[TRYCREATE] Mailbox doesn't exist");
	}
	if (move && im->sel->readonly) {
		free(j.idx);
		return verdict(im, V_NO, "[READ-ONLY] Mailbox is read-only");
	}
	/* COPY adds to the user's storage; MOVE within the user does not. */
	uint64_t add = 0;
	for (size_t i = 0; !move && i < j.n; i++)
		add += im->sel->m[j.idx[i]].e.size;
	enum verdict q = move ? V_OK : imap_quota_check(im, add);
	if (q != V_OK) {
		free(j.idx);
		return q;
	}
	j.bases = calloc(j.n ? j.n : 1, sizeof *j.bases);
	j.src_uids = calloc(j.n ? j.n : 1, sizeof *j.src_uids);
	if (j.bases == NULL || j.src_uids == NULL) {
		job_free(&j);
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	}
	int same = strcmp(dir, im->sel->dir) == 0;
	if (folder_uids_init(dir) != 0)
		log_warn("user=%s UID list of %s: %s", im->user, name, strerror(errno));
	int r;
	if (move && !same) {
		r = move_messages(im, dir, &j);
	} else {
		r = copy_messages(im, dir, &j);
		if (r == 0 && move) {
			for (size_t i = 0; i < j.n; i++) {
				struct fmsg *m = &im->sel->m[j.idx[i]];
				if (maildir_remove(im->sel->dir, &m->e) == 0 || errno == ENOENT)
					m->gone = 1;
			}
			/* the unlinks too are durable before OK (imap-session.c) */
			im->sel->flags_pending |= FOLDER_PENDING_CUR | FOLDER_PENDING_NEW;
		}
	}
	/* a source another session expunged (or moved) since this one last
	 * looked: NO [EXPUNGEISSUED], as FETCH and STORE answer (RFC 2180
	 * §4.4.1); the next command reports the EXPUNGE */
	int vanished = j.vanished;
	if (r != 0 && (!move || j.done == 0)) {
		if (!vanished)
			log_err("user=%s %s to %s: %s", im->user, c->name, name, strerror(errno));
		job_free(&j);
		if (vanished)
			return verdict(im, V_NO, "[EXPUNGEISSUED] Some messages were expunged");
		return verdict(im, V_NO, "[SERVERBUG] %s failed", c->name);
	}
	out_copyuid(im, dir, &j, move, code, sizeof code);
	if (move) {
		search_update_expunged(im);
		for (size_t i = im->sel->n; i-- > 0;) {
			if (!im->sel->m[i].gone)
				continue;
			if (i < im->sel->reported)
				io_printf(&im->io, "* %zu EXPUNGE\r\n", i + 1);
			folder_remove_gone(im->sel, i);
		}
	}
	job_free(&j);
	if (r != 0 && vanished)
		return verdict(im, V_NO, "[EXPUNGEISSUED] Some messages were expunged");
	if (r != 0)
		return verdict(im, V_NO, "[SERVERBUG] %s stopped part way", c->name);
	return verdict(im, V_OK, "%s%s completed", code, c->name);
}

enum verdict
cmd_copy(struct imap *im, struct imap_command *c)
{
	return copy_common(im, c, 0);
}

enum verdict
cmd_move(struct imap *im, struct imap_command *c)
{
	return copy_common(im, c, 1);
}
