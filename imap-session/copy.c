/*
 * copy.c — APPEND, COPY and MOVE: messages into another folder of the
 * user's store (store_append, store_copy: durable before they return, so
 * before the tagged OK), with APPENDUID/COPYUID (RFC 4315).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "imap-date.h"
#include "imap.h"
#include "log.h"
#include "mailname.h"

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

/* One message of an APPEND from c->args[*i]: [flag list] [date-time]
 * literal, or UTF8 (literal) (RFC 6855); *i moves past it. Everything is
 * checked here, before anything is stored. V_OK, or the verdict sent. */
static enum verdict
append_parse_one(struct imap *im, struct imap_command *c, size_t *i,
    struct store_new *m, struct append_cat *x)
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
		x->cat = &c->args[*i + 1];
		*i += 2;
		if (catenate_check(x->cat) != 0)
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

/* The NO to a store_append that stored nothing. */
static enum verdict
append_failed(struct imap *im, const char *name, size_t n)
{
	int e = errno;
	if (e == ENOENT || e == EINVAL)
		return verdict(im, V_NO, "[TRYCREATE] Mailbox doesn't exist");
	log_err("user=%s APPEND to %s: %s", im->user, name, strerror(e));
	if (e == EBUSY)
		return verdict(im, V_NO, "[UNAVAILABLE] Mailbox is busy or unreadable");
	return verdict(im, V_NO, "%s Cannot store message%s",
	    e == ENOSPC || e == EDQUOT ? "[OVERQUOTA]" : "[SERVERBUG]", n > 1 ? "s" : "");
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
	struct store_new *v = calloc(c->n, sizeof *v);
	struct append_cat *x = calloc(c->n, sizeof *x);
	uint32_t *uids = calloc(c->n, sizeof *uids);
	enum verdict vd = V_OK;
	size_t n = 0;
	if (v == NULL || x == NULL || uids == NULL)
		vd = verdict(im, V_NO, "[SERVERBUG] Out of memory");
	for (size_t i = 1; vd == V_OK && i < c->n; n++)
		vd = append_parse_one(im, c, &i, &v[n], &x[n]);
	if (vd == V_OK && imap_mailbox_arg(im, &c->args[0], name, sizeof name, dir, sizeof dir) != 0)
		vd = V_NO;
	if (vd == V_OK)
		vd = catenate_build(im, name, v, x, n);
	uint64_t total = 0;
	for (size_t i = 0; vd == V_OK && i < n; i++)
		total += v[i].len;
	/* RFC 9208 §4.1: a message that would pass the quota is not stored. */
	if (vd == V_OK)
		vd = imap_quota_check(im, total);
	uint32_t validity = 0;
	if (vd == V_OK && store_append(&im->store, name, im->sel, v, n, uids, &validity) != 0)
		vd = append_failed(im, name, n);
	if (vd == V_OK)
		vd = append_ok(im, validity, uids, n);
	for (size_t i = 0; x && i < n; i++)
		free(x[i].built);
	free(x);
	free(uids);
	free(v);
	return vd;
}

/* ---- COPY / MOVE ---- */

/* COPYUID (RFC 4315): in code for the tagged reply when it fits, else
 * (and always for MOVE, RFC 6851) as an untagged OK. */
static void
out_copyuid(struct imap *im, const struct store_copied *k, int untagged, char *code,
    size_t size)
{
	code[0] = '\0';
	if (k->done == 0 || k->validity == 0)
		return;
	for (size_t i = 0; i < k->done; i++)
		if (k->dst[i] == 0)
			return;
	struct buf b = BUF_INIT(size - 1);
	buf_printf(&b, "[COPYUID %u ", k->validity);
	seqset_format(&b, k->src, k->done);
	buf_addc(&b, ' ');
	seqset_format(&b, k->dst, k->done);
	if (!untagged && buf_addstr(&b, "] ") == 0) {
		memcpy(code, b.s, b.len + 1);
	} else {
		io_printf(&im->io, "* OK [COPYUID %u ", k->validity);
		seqset_write(&im->io, k->src, k->done);
		io_puts(&im->io, " ");
		seqset_write(&im->io, k->dst, k->done);
		io_puts(&im->io, "] Copied\r\n");
	}
	buf_free(&b);
}

/* Reports and drops the messages that left the selected folder. */
static void
report_gone(struct imap *im)
{
	struct folder *f = im->sel;
	search_update_expunged(im);
	for (size_t i = f->n; i-- > 0;) {
		if (!f->m[i].gone)
			continue;
		if (i < f->reported)
			io_printf(&im->io, "* %zu EXPUNGE\r\n", i + 1);
		folder_remove_gone(f, i);
	}
}

static enum verdict
copy_common(struct imap *im, struct imap_command *c, int move)
{
	char name[MAILNAME_MAX], dir[PATH_MAX], code[440];
	size_t *idx, n;
	if (c->n != 2 || c->args[0].type != ARG_ATOM)
		return verdict(im, V_BAD, "%s needs a sequence set and a mailbox", c->name);
	if (imap_mailbox_arg(im, &c->args[1], name, sizeof name, dir, sizeof dir) != 0)
		return V_NO;
	if (imap_select_messages(im, c->args[0].str, im->uid_command, &idx, &n) != 0)
		return verdict(im, V_BAD, "Invalid sequence set");
	enum verdict q = V_OK;
	if (!store_exists(&im->store, name))
		q = verdict(im, V_NO, "[TRYCREATE] Mailbox doesn't exist");
	else if (move && im->sel->readonly)
		q = verdict(im, V_NO, "[READ-ONLY] Mailbox is read-only");
	/* COPY adds to the user's storage (RFC 9208 §4.1); MOVE does not. */
	uint64_t add = 0;
	for (size_t i = 0; q == V_OK && !move && i < n; i++)
		add += im->sel->m[idx[i]].e.size;
	if (q == V_OK && !move)
		q = imap_quota_check(im, add);
	struct store_copied k = { calloc(n ? n : 1, sizeof *k.src), calloc(n ? n : 1, sizeof *k.dst),
		0, 0, 0 };
	if (q == V_OK && (k.src == NULL || k.dst == NULL))
		q = verdict(im, V_NO, "[SERVERBUG] Out of memory");
	int r = q == V_OK ? store_copy(&im->store, im->sel, idx, n, name, move, &k) : 0;
	free(idx);
	/* a source another session expunged (or moved) since this one last
	 * looked: NO [EXPUNGEISSUED], as FETCH and STORE answer (RFC 2180
	 * §4.4.1); the next command reports the EXPUNGE */
	if (q == V_OK && r != 0 && k.done == 0 && k.vanished) {
		q = verdict(im, V_NO, "[EXPUNGEISSUED] Some messages were expunged");
	} else if (q == V_OK && r != 0 && k.done == 0) {
		/* nothing copied or moved: a NO is true, a retry doubles nothing */
		log_err("user=%s %s to %s: %s", im->user, c->name, name, strerror(errno));
		q = errno == EBUSY ? verdict(im, V_NO, "[UNAVAILABLE] Mailbox is busy or unreadable")
		    : verdict(im, V_NO, "[SERVERBUG] %s failed", c->name);
	}
	if (q != V_OK) {
		free(k.src);
		free(k.dst);
		return q;
	}
	out_copyuid(im, &k, move, code, sizeof code);
	free(k.src);
	free(k.dst);
	if (move)
		report_gone(im);
	if (r != 0 && k.vanished)
		return verdict(im, V_NO, "[EXPUNGEISSUED] Some messages were expunged");
	if (r != 0) {
		log_err("user=%s %s to %s stopped: %s", im->user, c->name, name, strerror(errno));
		return verdict(im, V_NO, "[SERVERBUG] %s stopped part way", c->name);
	}
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
