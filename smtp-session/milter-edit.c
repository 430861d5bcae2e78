/*
 * milter-edit.c — the message as filters see it and change it.
 *
 * The message file (LF line ends, our Received: first) is split into its
 * header fields and body. A filter's modifications are kept as it sends
 * them and applied once its end-of-message answer accepts the message:
 * header edits in memory, a replaced body in a file of its own, then one
 * new message file replaces the old (the old one is nameless, so nothing
 * half-made is ever visible). Envelope edits change s->sender and
 * s->rcpts; an added recipient is checked like one given at RCPT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "durable.h"
#include "log.h"
#include "maildir.h"
#include "path.h"
#include "quarantine.h"
#include "smtp-milter.h"

/* What a header block may grow to by edits: the received block's bound,
 * twice, so a filter cannot make storage hold an unbounded header. */
#define EDIT_HEADER_MAX (2 * (size_t)SMTP_HEADER_MAX)

void
msg_headers_free(struct msg_headers *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].text);
	free(h->v);
	memset(h, 0, sizeof *h);
}

static int
headers_push(struct msg_headers *h, const char *text, size_t len)
{
	if (h->n % 32 == 0) {
		struct msg_header *grown = realloc(h->v, (h->n + 32) * sizeof *grown);
		if (!grown)
			return -1;
		h->v = grown;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	const char *colon = memchr(copy, ':', len);
	h->v[h->n].text = copy;
	h->v[h->n].len = len;
	h->v[h->n].name_len = colon ? (size_t)(colon - copy) : 0;
	h->n++;
	return 0;
}

/* Where the field starting at p (len bytes left) ends: past the LF of
 * its last line, continuation lines included. */
static size_t
field_end(const char *p, size_t len)
{
	size_t i = 0;
	for (;;) {
		const char *nl = memchr(p + i, '\n', len - i);
		if (!nl)
			return len;
		i = (size_t)(nl - p) + 1;
		if (i >= len || (p[i] != ' ' && p[i] != '\t'))
			return i;
	}
}

static int
is_field_start(const char *p, size_t len)
{
	size_t n = 0;
	while (n < len && p[n] != ':' && p[n] != '\n' && p[n] > 32 && p[n] < 127)
		n++;
	return n > 0 && n < len && p[n] == ':';
}

int
msg_headers_read(const struct smtp *s, struct msg_headers *h)
{
	struct buf b = BUF_INIT(EDIT_HEADER_MAX + 8192);
	struct durable_reader *r = malloc(sizeof *r);
	const char *p;
	ssize_t n;
	memset(h, 0, sizeof *h);
	if (!r)
		return -1;
	/* Read until the end of the header block is in the buffer. */
	durable_reader_init(r, s->msg_fd, 0, s->msg_len);
	while ((n = durable_reader_next(r, &p)) > 0) {
		if (buf_add(&b, p, (size_t)n) < 0)
			break;
		if (memmem(b.s, b.len, "\n\n", 2) || (b.len && b.s[0] == '\n'))
			break;
	}
	free(r);
	/* A full buffer holds more than any header block may be (received
	 * ones are within SMTP_HEADER_MAX): parse what is there. */
	if (n < 0 || (b.err && b.err != E2BIG)) {
		int e = b.err ? b.err : errno;
		buf_free(&b);
		errno = e;
		return -1;
	}
	size_t off = 0;
	while (off < b.len && is_field_start(b.s + off, b.len - off)) {
		size_t len = field_end(b.s + off, b.len - off);
		if (headers_push(h, b.s + off, len) < 0) {
			buf_free(&b);
			msg_headers_free(h);
			return -1;
		}
		off += len;
	}
	h->separator = off < b.len && b.s[off] == '\n';
	h->body_off = off + (h->separator ? 1 : 0);
	buf_free(&b);
	return 0;
}

void
milter_edits_init(struct milter_edits *e)
{
	memset(e, 0, sizeof *e);
	e->body_fd = -1;
}

void
milter_edits_free(struct milter_edits *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].s1);
		free(e->v[i].s2);
	}
	free(e->v);
	if (e->body_fd >= 0)
		close(e->body_fd);
	milter_edits_init(e);
}

int
milter_edit_is_mod(unsigned char cmd)
{
	return cmd && strchr("+-2behimq", cmd) != NULL;
}

/* The action bit a modification needs to have been negotiated. */
static uint32_t
action_needed(unsigned char cmd)
{
	switch (cmd) {
	case MILTER_R_ADDHEADER: return MILTER_ACT_ADDHDRS;
	case MILTER_R_INSHEADER: return MILTER_ACT_ADDHDRS;
	case MILTER_R_CHGHEADER: return MILTER_ACT_CHGHDRS;
	case MILTER_R_REPLBODY: return MILTER_ACT_CHGBODY;
	case MILTER_R_ADDRCPT: return MILTER_ACT_ADDRCPT;
	case MILTER_R_ADDRCPT_PAR: return MILTER_ACT_ADDRCPT_PAR;
	case MILTER_R_DELRCPT: return MILTER_ACT_DELRCPT;
	case MILTER_R_CHGFROM: return MILTER_ACT_CHGFROM;
	case MILTER_R_QUARANTINE: return MILTER_ACT_QUARANTINE;
	}
	return 0xffffffffu;
}

static int
body_flush(struct smtp *s, struct milter_edits *e, const unsigned char *out, size_t o)
{
	if (e->body_len + o > s->conf->max_message_size) {
		errno = EPROTO;
		return -1;
	}
	if (durable_write_all(e->body_fd, out, o) < 0)
		return -1;
	e->body_len += o;
	return 0;
}

/* A replacement body chunk, CRLF to LF; a bare CR becomes a space, as in
 * received data (no stray CR reaches storage). A CR at the end of a
 * chunk waits for the next one's first byte. */
static int
body_append(struct smtp *s, struct milter_edits *e, const unsigned char *p, size_t len)
{
	unsigned char out[8192 + 2];
	size_t o = 0;
	if (e->body_fd < 0 && (e->body_fd = smtp_msg_file_open(s)) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (e->body_cr) {
			e->body_cr = 0;
			if (p[i] != '\n')
				out[o++] = ' ';
		}
		if (p[i] == '\r')
			e->body_cr = 1;
		else
			out[o++] = p[i];
		if (o >= sizeof out - 2) {
			if (body_flush(s, e, out, o) < 0)
				return -1;
			o = 0;
		}
	}
	return body_flush(s, e, out, o);
}

int
milter_edit_collect(struct smtp *s, const struct milter_conn *c, struct milter_edits *e)
{
	struct milter_msg m;
	if (milter_reply_decode(&c->parser, &m) < 0 || !(c->actions & action_needed(m.cmd)) ||
	    e->n >= MILTER_MODS_MAX) {
		errno = EPROTO;
		return -1;
	}
	if (m.cmd == MILTER_R_REPLBODY)
		return body_append(s, e, m.body, m.body_len);
	if (m.cmd == MILTER_R_QUARANTINE) {
		e->quarantine = 1;
		for (size_t i = 0; m.s1[i] && i + 1 < sizeof e->reason; i++)
			e->reason[i] = m.s1[i] >= 0x20 && m.s1[i] < 0x7f ? m.s1[i] : '?';
		e->reason[sizeof e->reason - 1] = '\0';
		return 0;
	}
	size_t add = strlen(m.s1) + (m.s2 ? strlen(m.s2) : 0);
	if (e->bytes + add > EDIT_HEADER_MAX) {
		errno = EPROTO;
		return -1;
	}
	if (e->n % 16 == 0) {
		struct milter_edit *grown = realloc(e->v, (e->n + 16) * sizeof *grown);
		if (!grown)
			return -1;
		e->v = grown;
	}
	struct milter_edit *ed = &e->v[e->n];
	ed->cmd = m.cmd;
	ed->index = m.index;
	ed->s1 = strdup(m.s1);
	ed->s2 = m.s2 ? strdup(m.s2) : NULL;
	if (!ed->s1 || (m.s2 && !ed->s2)) {
		free(ed->s1);
		free(ed->s2);
		return -1;
	}
	e->bytes += add;
	e->n++;
	return 0;
}

/* "Name: value\n" from a filter's name and value: CR LF and bare LF
 * become LF; a line break not followed by white space gets a tab, so a
 * value never starts a header of its own; other controls but tab become
 * '?'. The leading space is ours unless the filter sends its own. */
static char *
field_format(const struct milter_conn *c, const char *name, const char *value, size_t *len_r)
{
	struct buf b = BUF_INIT(EDIT_HEADER_MAX);
	buf_addstr(&b, name);
	buf_addc(&b, ':');
	if (!(c->protocol & MILTER_P_HDR_LEADSPC) || (*value != ' ' && *value != '\t'))
		buf_addc(&b, ' ');
	for (const char *p = value; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '\r' && p[1] == '\n')
			continue;
		if (ch == '\r' || ch == '\n') {
			buf_addc(&b, '\n');
			if (p[1] != ' ' && p[1] != '\t' && p[1] != '\0')
				buf_addc(&b, '\t');
			continue;
		}
		buf_addc(&b, ch < 0x20 && ch != '\t' ? '?' : (char)ch);
	}
	buf_addc(&b, '\n');
	return buf_finish(&b, len_r);
}

static int
headers_insert(struct msg_headers *h, size_t at, char *text, size_t len)
{
	if (headers_push(h, text, len) < 0)
		return -1;
	struct msg_header added = h->v[h->n - 1];
	if (at > h->n - 1)
		at = h->n - 1;
	memmove(&h->v[at + 1], &h->v[at], (h->n - 1 - at) * sizeof *h->v);
	h->v[at] = added;
	return 0;
}

/* The index-th field named name (1-based, as CHGHEADER counts), or -1. */
static long
header_find(const struct msg_headers *h, const char *name, uint32_t index)
{
	size_t nlen = strlen(name);
	uint32_t seen = 0;
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].name_len == nlen && !strncasecmp(h->v[i].text, name, nlen) &&
		    ++seen == (index ? index : 1))
			return (long)i;
	return -1;
}

static int
header_edit(const struct milter_conn *c, struct msg_headers *h, const struct milter_edit *ed)
{
	size_t len;
	if (ed->cmd == MILTER_R_CHGHEADER) {
		long i = header_find(h, ed->s1, ed->index);
		if (i >= 0 && !*ed->s2) {
			free(h->v[i].text);
			memmove(&h->v[i], &h->v[i + 1], (h->n - (size_t)i - 1) * sizeof *h->v);
			h->n--;
			return 0;
		}
		if (!*ed->s2)
			return 0;   /* deleting what is not there */
		char *text = field_format(c, ed->s1, ed->s2, &len);
		if (!text)
			return -1;
		if (i < 0) {    /* changing what is not there adds it (Sendmail) */
			int rc = headers_insert(h, h->n, text, len);
			free(text);
			return rc;
		}
		free(h->v[i].text);
		h->v[i].text = text;
		h->v[i].len = len;
		h->v[i].name_len = strlen(ed->s1);
		return 0;
	}
	char *text = field_format(c, ed->s1, ed->s2, &len);
	if (!text)
		return -1;
	int rc = headers_insert(h, ed->cmd == MILTER_R_INSHEADER ? ed->index : h->n, text, len);
	free(text);
	return rc;
}

static void
envelope_edit(struct smtp *s, const struct milter_conn *c, const struct milter_edit *ed)
{
	if (ed->cmd == MILTER_R_CHGFROM) {
		struct addr a;
		const char *end;
		enum addr_error err = addr_parse_path(ed->s1, 1, &a, &end);
		if ((err != ADDR_OK && !a.null) || *end) {
			log_warn("milter %s: bad CHGFROM address ignored", c->spec);
			return;
		}
		addr_format(&a, s->sender, sizeof s->sender);
		log_info("milter %s changed sender id=%s", c->spec, s->msg_id);
		return;
	}
	if (ed->cmd == MILTER_R_DELRCPT) {
		struct addr a;
		const char *end;
		char addr[ADDR_PATH_MAX + 1];
		if (addr_parse_path(ed->s1, 1, &a, &end) != ADDR_OK)
			return;
		addr_format(&a, addr, sizeof addr);
		smtp_rcpt_remove(s, addr);
		log_info("milter %s removed a recipient id=%s", c->spec, s->msg_id);
		return;
	}
	/* ADDRCPT, ADDRCPT_PAR: checked as at RCPT; a bad one is logged and
	 * left out, like a recipient the client could not have given. */
	if (smtp_rcpt_add_checked(s, ed->s1) < 0)
		log_warn("milter %s: added recipient refused id=%s", c->spec, s->msg_id);
	else
		log_info("milter %s added a recipient id=%s", c->spec, s->msg_id);
}

/* Writes headers and body into a new message file and puts it in place
 * of s->msg_fd. */
static int
message_rewrite(struct smtp *s, const struct msg_headers *h, const struct milter_edits *e)
{
	int fd = smtp_msg_file_open(s);
	if (fd < 0)
		return -1;
	uint64_t len = 0;
	int rc = 0;
	for (size_t i = 0; i < h->n && rc == 0; i++) {
		rc = durable_write_all(fd, h->v[i].text, h->v[i].len);
		len += h->v[i].len;
	}
	if (rc == 0 && (h->separator || e->body_fd >= 0)) {
		rc = durable_write_all(fd, "\n", 1);
		len++;
	}
	uint64_t body_len = e->body_fd >= 0 ? e->body_len : s->msg_len - h->body_off;
	if (rc == 0 && e->body_fd >= 0)
		rc = durable_copy_fd(fd, e->body_fd, e->body_len);
	else if (rc == 0 && body_len > 0) {
		/* durable_copy_fd copies from offset 0: skip the old header. */
		struct durable_reader *r = malloc(sizeof *r);
		const char *p;
		ssize_t n = -1;
		if (r) {
			durable_reader_init(r, s->msg_fd, h->body_off, body_len);
			while ((n = durable_reader_next(r, &p)) > 0 && (rc = durable_write_all(fd, p, (size_t)n)) == 0)
				;
			free(r);
		}
		if (n < 0)
			rc = -1;
	}
	len += body_len;
	if (rc < 0 || len > s->conf->max_message_size + EDIT_HEADER_MAX) {
		int saved = rc < 0 ? errno : EPROTO;
		close(fd);
		errno = saved;
		return -1;
	}
	close(s->msg_fd);
	s->msg_fd = fd;
	s->msg_len = len;
	return 0;
}

static int
is_header_edit(unsigned char cmd)
{
	return cmd == MILTER_R_ADDHEADER || cmd == MILTER_R_INSHEADER || cmd == MILTER_R_CHGHEADER;
}

/* Header and body edits: a new message file, or -1 with nothing changed. */
static int
content_edits_apply(struct smtp *s, const struct milter_conn *c, struct milter_edits *e)
{
	struct msg_headers h;
	if (msg_headers_read(s, &h) < 0)
		return -1;
	int rc = 0;
	size_t total = 0;
	for (size_t i = 0; i < e->n && rc == 0; i++)
		if (is_header_edit(e->v[i].cmd))
			rc = header_edit(c, &h, &e->v[i]);
	for (size_t i = 0; i < h.n; i++)
		total += h.v[i].len;
	if (rc == 0 && total > EDIT_HEADER_MAX) {
		errno = EPROTO;
		rc = -1;
	}
	if (rc == 0)
		rc = message_rewrite(s, &h, e);
	int saved = errno;
	msg_headers_free(&h);
	errno = saved;
	return rc;
}

int
milter_edits_apply(struct smtp *s, const struct milter_conn *c, struct milter_edits *e)
{
	int content = e->body_fd >= 0;
	if (e->body_cr && body_flush(s, e, (const unsigned char *)" ", 1) < 0)
		return -1;
	e->body_cr = 0;
	for (size_t i = 0; i < e->n; i++)
		content |= is_header_edit(e->v[i].cmd);
	/* The content first: if it fails, the envelope is still untouched. */
	if (content && content_edits_apply(s, c, e) < 0)
		return -1;
	for (size_t i = 0; i < e->n; i++)
		if (!is_header_edit(e->v[i].cmd))
			envelope_edit(s, c, &e->v[i]);
	if (e->n || content)
		log_info("milter %s modified id=%s: %zu edits%s", c->spec, s->msg_id, e->n,
		    e->body_fd >= 0 ? ", body replaced" : "");
	return 0;
}

/* The envelope block on top of the quarantined message (the format in
 * lib/quarantine.h: counted, so no header of the message can pass for
 * ours); the DSN parameters go with it, for the release. */
static char *
quarantine_prefix(const struct smtp *s, const char *reason, size_t *len_r)
{
	struct spool_envelope env = { .sender = (char *)s->sender, .envid = s->envid,
		.ret = s->ret, .body_8bit = s->body_8bit, .smtputf8 = s->smtputf8 };
	env.rcpts = calloc(s->n_rcpts ? s->n_rcpts : 1, sizeof *env.rcpts);
	if (!env.rcpts)
		return NULL;
	env.n_rcpts = s->n_rcpts;
	for (size_t i = 0; i < s->n_rcpts; i++) {
		env.rcpts[i].addr = (char *)s->rcpts[i].addr;
		env.rcpts[i].notify = s->rcpts[i].notify;
		env.rcpts[i].orcpt = s->rcpts[i].orcpt;
	}
	char *prefix = quarantine_envelope(s->msg_id, reason, &env, len_r);
	int saved = errno;
	free(env.rcpts);
	errno = saved;
	return prefix;
}

int
smtp_quarantine_store(struct smtp *s, const char *reason)
{
	char dir[PATH_MAX], shown[ADDR_PATH_MAX * 4 + 1];
	if (path_join(dir, sizeof dir, s->conf->spool, "quarantine", NULL) != 0 ||
	    maildir_create(dir) < 0)
		return -1;
	size_t len;
	char *prefix = quarantine_prefix(s, reason, &len);
	if (!prefix)
		return -1;
	struct maildir_delivery d;
	int rc = maildir_prepare(dir, prefix, len, s->msg_fd, s->msg_len, &d);
	free(prefix);
	if (rc == 0)
		rc = maildir_commit(&d);
	if (rc == 0) {
		log_field(shown, sizeof shown, s->sender, strlen(s->sender));
		log_info("quarantined id=%s from=<%s> reason=%s", s->msg_id, shown, reason);
	}
	return rc;
}
