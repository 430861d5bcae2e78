/*
 * catenate.c — CATENATE (RFC 4469): an APPEND's message made of TEXT
 * literals and URLs (imapurl.h) of messages, or parts of them, that the
 * user already has, in any of the user's mailboxes, selected or not.
 *
 * The messages are built in memory while the command is checked, before
 * anything is stored: cmd_append then stores them as it stores literals,
 * all or none, so a URL that fails (NO [BADURL url]) or a message too
 * large (NO [TOOBIG]) leaves nothing stored, within MULTIAPPEND too.
 * Bounds: each message at most max_message_size bytes, as a literal; and
 * the bytes all URLs of one command add, at most max_message_size more,
 * so memory stays within twice the APPEND limit whatever the client asks.
 * A URL names a mailbox of the logged-in user on this server: an
 * absolute URL with another user or host, or with URLAUTH parts, is
 * refused.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap.h"
#include "imapurl.h"
#include "mailboxes.h"
#include "mailname.h"
#include "render.h"

/* The URL as a BADURL response code shows it: url-resp-text is any
 * TEXT-CHAR but ']' (RFC 4469 §6 with erratum 2002), cut to fit the
 * reply. */
#define BADURL_SHOWN_MAX 300

struct cat {
	struct imap *im;
	struct folder *f;    /* a mailbox opened for URLs (not the selected one) */
	uint64_t url_left;   /* bytes URLs may still add in this command */
};

int
catenate_check(const struct imap_arg *list)
{
	if (list->type != ARG_LIST || list->n == 0 || list->n % 2 != 0)
		return -1;
	for (size_t i = 0; i < list->n; i += 2) {
		const struct imap_arg *k = &list->list[i], *v = &list->list[i + 1];
		if (arg_is(k, "TEXT") && v->type == ARG_LITERAL)
			continue;
		if (arg_is(k, "URL") && v->type != ARG_LIST && arg_is_string(v))
			continue;
		return -1;
	}
	return 0;
}

static enum verdict
badurl(struct imap *im, const struct imap_arg *url, const char *why)
{
	char shown[BADURL_SHOWN_MAX + 1];
	size_t n = 0;
	for (size_t i = 0; i < url->len && n < BADURL_SHOWN_MAX; i++) {
		unsigned char ch = (unsigned char)url->str[i];
		shown[n++] = ch < 0x20 || ch >= 0x7f || ch == ']' ? '?' : (char)ch;
	}
	if (n == 0)
		shown[n++] = '?';
	shown[n] = '\0';
	return verdict(im, V_NO, "[BADURL %s] %s", shown, why);
}

/* An absolute URL must name this server and the logged-in user. */
static int
url_ours(const struct imap *im, const struct imapurl *u)
{
	if (!u->absolute)
		return 1;
	const char *host = im->s.conf.hostname;
	return host != NULL && strcasecmp(u->host, host) == 0 && strcmp(u->user, im->user) == 0;
}

/* The folder and index of the message u names: in the selected mailbox
 * if it is that one and knows the UID, else in a view of the mailbox
 * opened now (a message appended since the last look is found too).
 * 0, or -1 (no such mailbox or message: why set). */
static int
url_message(struct cat *cx, const char *name, uint32_t uid, struct folder **f_r, size_t *idx_r,
    const char **why)
{
	struct imap *im = cx->im;
	*why = "No such message";
	if (im->sel && strcmp(im->sel->name, name) == 0 &&
	    (*idx_r = folder_index_of(im->sel, uid)) != SIZE_MAX) {
		*f_r = im->sel;
		return 0;
	}
	if (cx->f == NULL || strcmp(cx->f->name, name) != 0) {
		char dir[PATH_MAX];
		folder_close(&cx->f);
		/* a refused name (S33) is told as other commands tell it, not
		 * as one that could exist */
		if (imap_mailbox_dir(im, name, dir, sizeof dir) != 0) {
			*why = "Invalid mailbox name";
			return -1;
		}
		if (mailbox_open(im, name, dir, 1, "CATENATE", &cx->f) != V_OK) {
			*why = "No such mailbox";
			return -1;
		}
	}
	*f_r = cx->f;
	*idx_r = folder_index_of(cx->f, uid);
	return *idx_r == SIZE_MAX ? -1 : 0;
}

/* Appends what u names of message idx to b. 0; 1: no such section; -1
 * (errno: ENOENT unreadable, ENOMEM). */
static int
url_bytes(struct folder *f, size_t idx, const struct imapurl *u, struct buf *b)
{
	const unsigned char *data;
	unsigned char *made = NULL;
	size_t len;
	if (f->m[idx].gone) {
		errno = ENOENT;
		return -1;
	}
	if (!u->has_section) {
		if (folder_message(f, idx, &data, &len) != 0)
			return -1;
	} else {
		const struct mime_message *mm = folder_mime(f, idx);
		if (mm == NULL)
			return -1;
		int r = render_section(mm, u->section, &made, &len);
		if (r != 0)
			return r;
		data = made;
	}
	/* a range past the end is empty (RFC 5092 §5: as FETCH's partial) */
	size_t off = !u->has_partial ? 0 : u->partial_off < len ? u->partial_off : len;
	size_t n = len - off;
	if (u->has_partial && u->partial_len != 0 && u->partial_len < n)
		n = u->partial_len;
	buf_add(b, data + off, n);
	free(made);
	return 0;
}

/* One URL part of a message into b. */
static enum verdict
url_add(struct cat *cx, const struct imap_arg *url, struct buf *b)
{
	struct imap *im = cx->im;
	struct imapurl u;
	char name[MAILNAME_MAX];
	struct folder *f;
	size_t idx;
	const char *why;
	if (imapurl_parse(url->str, url->len, &u) != IMAPURL_OK)
		return badurl(im, url, "Invalid IMAP URL");
	if (!url_ours(im, &u))
		return badurl(im, url, "URL of another user or server");
	if (u.urlauth)
		return badurl(im, url, "URLAUTH is not supported");
	if (mailname_from_client(u.mailbox, strlen(u.mailbox), 1, name, sizeof name) != 0)
		return badurl(im, url, "Invalid mailbox name");
	if (url_message(cx, name, u.uid, &f, &idx, &why) != 0)
		return badurl(im, url, why);
	if (u.uidvalidity != 0 && u.uidvalidity != f->uidvalidity)
		return badurl(im, url, "UIDVALIDITY mismatch");
	size_t before = b->len;
	int r = url_bytes(f, idx, &u, b);
	if (r == 1)
		return badurl(im, url, "No such section");
	if (r < 0 && errno == ENOMEM)
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	if (r < 0)
		return badurl(im, url, "Message cannot be read");
	if (b->err == 0 && b->len - before > cx->url_left)
		buf_fail(b, E2BIG);
	cx->url_left -= b->err == 0 ? b->len - before : 0;
	return V_OK;
}

/* Message m from its parts x->cat: x->built, m->data and m->len set. */
static enum verdict
build_one(struct cat *cx, struct store_new *m, struct append_cat *x)
{
	struct imap *im = cx->im;
	struct buf b = BUF_INIT(im->s.conf.max_message_size);
	const struct imap_arg *parts = x->cat;
	int literal8 = 0;
	enum verdict vd = V_OK;
	for (size_t k = 0; vd == V_OK && b.err == 0 && k < parts->n; k += 2) {
		const struct imap_arg *val = &parts->list[k + 1];
		if (arg_is(&parts->list[k], "TEXT")) {
			literal8 |= val->literal8;
			buf_add(&b, val->str, val->len);
		} else {
			vd = url_add(cx, val, &b);
		}
	}
	struct imap_arg msg = { .type = ARG_LITERAL, .literal8 = literal8 };
	msg.str = buf_finish(&b, &msg.len);
	if (vd != V_OK) {
		free(msg.str);
		return vd;
	}
	if (msg.str == NULL)
		return errno == E2BIG ? verdict(im, V_NO, "[TOOBIG] Message too big")
		    : verdict(im, V_NO, "[SERVERBUG] Out of memory");
	/* RFC 3516 §4.4 through TEXT ~{n}: as a literal8 APPEND's message */
	if (msg.len == 0 || (literal8 && append8_store_form(&msg) != 0)) {
		free(msg.str);
		return msg.len == 0 ? verdict(im, V_NO, "Empty message")
		    : verdict(im, V_NO, "[SERVERBUG] Cannot store message");
	}
	x->built = msg.str;
	m->data = msg.str;
	m->len = msg.len;
	return V_OK;
}

enum verdict
catenate_build(struct imap *im, const char *name, struct store_new *v, struct append_cat *x,
    size_t n)
{
	size_t i;
	for (i = 0; i < n && x[i].cat == NULL; i++)
		;
	if (i == n)
		return V_OK;
	/* as for a literal: the target is checked before the message */
	if (!mailbox_exists(im, name))
		return verdict(im, V_NO, "[TRYCREATE] Mailbox doesn't exist");
	struct cat cx = { im, NULL, im->s.conf.max_message_size };
	enum verdict vd = V_OK;
	for (; vd == V_OK && i < n; i++)
		if (x[i].cat != NULL)
			vd = build_one(&cx, &v[i], &x[i]);
	folder_close(&cx.f);
	return vd;
}
