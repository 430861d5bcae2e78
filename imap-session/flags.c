/*
 * flags.c — STORE (and UID STORE), with CONDSTORE's UNCHANGEDSINCE
 * (RFC 7162 §3.1.3): the flags are changed and committed (on disk, new
 * modseqs given) before the responses tell them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "imap.h"
#include "log.h"

/* Flag list → flags and keywords; new keywords are added to the folder. */
static int
parse_flags(struct imap *im, const struct imap_arg *args, size_t n, unsigned *flags_r,
    uint32_t *kw_r)
{
	static const struct { const char *name; unsigned f; } sys[] = {
		{ "\\Answered", FL_ANSWERED }, { "\\Flagged", FL_FLAGGED },
		{ "\\Deleted", FL_DELETED }, { "\\Seen", FL_SEEN }, { "\\Draft", FL_DRAFT },
	};
	*flags_r = 0;
	*kw_r = 0;
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &args[i];
		if (a->type != ARG_ATOM)
			return verdict(im, V_BAD, "Invalid flag"), -1;
		if (a->str[0] == '\\') {
			size_t j;
			for (j = 0; j < sizeof sys / sizeof sys[0]; j++)
				if (strcasecmp(a->str, sys[j].name) == 0)
					break;
			if (j == sizeof sys / sizeof sys[0])
				return verdict(im, V_BAD, "Invalid system flag %s",
				    strcasecmp(a->str, "\\Recent") == 0 ? "\\Recent" : ""), -1;
			*flags_r |= sys[j].f;
			continue;
		}
		for (const char *p = a->str; *p; p++)
			if (strchr("()[]{%*\"", *p) || (unsigned char)*p >= 0x7f)
				return verdict(im, V_BAD, "Invalid keyword"), -1;
		if (strlen(a->str) > IMAP_KEYWORD_MAX)
			return verdict(im, V_BAD, "Keyword too long"), -1;
		int had = folder_keyword(im->sel, a->str, 0);
		int k = had >= 0 ? had : folder_keyword(im->sel, a->str, 1);
		if (k < 0)
			return verdict(im, V_NO, "[LIMIT] Too many keywords in this mailbox"), -1;
		*kw_r |= 1u << k;
	}
	return 0;
}

/* The untagged FETCH of a STORE: FLAGS unless silent, MODSEQ once
 * CONDSTORE is on (with .SILENT too, when the flags changed: RFC 7162
 * §3.1.3). */
static void
store_reply(struct imap *im, size_t i, int silent, int changed)
{
	struct fmsg *m = &im->sel->m[i];
	if (silent && !(im->condstore && changed))
		return;
	io_printf(&im->io, "* %zu FETCH (", i + 1);
	if (im->uid_command)
		io_printf(&im->io, "UID %u ", m->uid);
	if (!silent) {
		io_puts(&im->io, "FLAGS ");
		out_flags(im, m->flags, m->keywords);
	}
	if (im->condstore)
		condstore_out_modseq(im, m, silent ? "" : " ");
	io_puts(&im->io, ")\r\n");
}

/* The tagged reply of a STORE: OK, with [MODIFIED set] of the messages
 * UNCHANGEDSINCE kept (sequence numbers, or UIDs for UID STORE). A set
 * too long for a verdict's text is written here, after the updates the
 * dispatcher would have sent. */
static enum verdict
store_done(struct imap *im, struct imap_command *c, const uint32_t *mod, size_t nmod)
{
	if (nmod == 0)
		return verdict(im, V_OK, "%s completed", c->name);
	struct buf b = BUF_INIT(sizeof im->text - 64);
	size_t len;
	char *set = seqset_format(&b, mod, nmod) == 0 ? buf_finish(&b, &len) : NULL;
	enum verdict v = V_DONE;
	if (set != NULL) {
		v = verdict(im, V_OK, "[MODIFIED %s] Conditional STORE failed", set);
	} else {
		imap_report(im, im->uid_command);
		io_printf(&im->io, "%s OK [MODIFIED ", c->tag);
		if (seqset_write(&im->io, mod, nmod) != 0)
			io_puts(&im->io, "*");
		io_puts(&im->io, "] Conditional STORE failed\r\n");
	}
	buf_free(&b);
	free(set);
	return v;
}

/* New flags of message m for a STORE of flags/kw in mode (0 replace,
 * 1 add, -1 remove). */
static void
store_apply(const struct fmsg *m, int mode, unsigned flags, uint32_t kw, unsigned *nf,
    uint32_t *nk)
{
	*nf = m->flags & ~FL_RECENT;
	*nk = m->keywords;
	if (mode == 0) {
		*nf = flags;
		*nk = kw;
	} else if (mode > 0) {
		*nf |= flags;
		*nk |= kw;
	} else {
		*nf &= ~flags;
		*nk &= ~kw;
	}
}

enum verdict
cmd_store(struct imap *im, struct imap_command *c)
{
	struct folder *f = im->sel;
	/* STORE set [(UNCHANGEDSINCE n)] item flags (RFC 7162 §3.1.3) */
	uint64_t unch = 0;
	int has_unch = c->n > 1 ? condstore_modifier(&c->args[1], "UNCHANGEDSINCE", 1, &unch)
	    : 1;
	if (has_unch < 0)
		return verdict(im, V_BAD, "Invalid UNCHANGEDSINCE");
	has_unch = has_unch == 0;
	/* args[0] the set, args[1] the item, args[2..] the flags */
	struct imap_arg *args = c->args + has_unch;
	size_t nargs = c->n - (size_t)has_unch;
	if (nargs < 3 || c->args[0].type != ARG_ATOM || args[1].type != ARG_ATOM)
		return verdict(im, V_BAD, "STORE needs a set, an item and flags");
	const char *set = c->args[0].str;
	const char *what = args[1].str;
	int mode = 0; /* 0 replace, 1 add, -1 remove */
	if (*what == '+')
		mode = 1, what++;
	else if (*what == '-')
		mode = -1, what++;
	int silent = 0;
	if (strcasecmp(what, "FLAGS.SILENT") == 0)
		silent = 1;
	else if (strcasecmp(what, "FLAGS") != 0)
		return verdict(im, V_BAD, "Invalid STORE item");
	if (f->readonly)
		return verdict(im, V_NO, "[READ-ONLY] Mailbox is read-only");
	unsigned flags;
	uint32_t kw;
	const struct imap_arg *fl = &args[2];
	if (fl->type == ARG_LIST && nargs == 3) {
		if (parse_flags(im, fl->list, fl->n, &flags, &kw) != 0)
			return im->text[0] && strstr(im->text, "[LIMIT]") ? V_NO : V_BAD;
	} else if (parse_flags(im, &args[2], nargs - 2, &flags, &kw) != 0) {
		return strstr(im->text, "[LIMIT]") ? V_NO : V_BAD;
	}
	size_t *idx, n;
	if (imap_select_messages(im, set, im->uid_command, &idx, &n) != 0)
		return verdict(im, V_BAD, "Invalid sequence set");
	if (has_unch)
		condstore_enable(im);
	/* +FLAGS/-FLAGS apply to the flags on disk now, not to what this
	 * session saw last: another session may have changed them. */
	folder_sync(f);
	/* a keyword made here or by another session, before any FETCH
	 * FLAGS shows it */
	imap_announce_keywords(im, 0);
	/* per message: 0 untouched, 1 same flags, 2 changed, 3 failed or kept */
	unsigned char *st = calloc(n ? n : 1, 1);
	uint32_t *mod = calloc(n ? n : 1, sizeof *mod);
	if (st == NULL || mod == NULL) {
		free(st);
		free(mod);
		free(idx);
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	}
	size_t nmod = 0;
	int failed = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = idx[k];
		struct fmsg *m = &f->m[i];
		unsigned nf;
		uint32_t nk;
		if (has_unch && m->modseq > unch) {
			mod[nmod++] = im->uid_command ? m->uid : (uint32_t)(i + 1);
			st[k] = 3;
			continue;
		}
		store_apply(m, mode, flags, kw, &nf, &nk);
		st[k] = 1;
		if (nf != (m->flags & ~FL_RECENT) || nk != m->keywords) {
			st[k] = 2;
			if (folder_set_flags(f, i, nf | (m->flags & FL_RECENT), nk) != 0) {
				failed = 1;
				st[k] = 3;
			}
		}
	}
	/* the renames are on disk (and the new modseqs given) before the
	 * responses tell them */
	int commit = folder_commit(f);
	for (size_t k = 0; commit == 0 && k < n; k++) {
		if (st[k] == 3)
			continue;
		f->m[idx[k]].changed = 0;
		store_reply(im, idx[k], silent, st[k] == 2);
	}
	free(st);
	free(idx);
	qsort(mod, nmod, sizeof *mod, condstore_u32_cmp);
	enum verdict v;
	if (commit != 0) {
		log_err("user=%s fsync of %s failed: %s", im->user, f->name, strerror(errno));
		v = verdict(im, V_NO, "[SERVERBUG] Cannot save the flags");
	} else if (failed) {
		v = verdict(im, V_NO, "[EXPUNGEISSUED] Some messages could not be changed");
	} else {
		v = store_done(im, c, mod, nmod);
	}
	free(mod);
	return v;
}
