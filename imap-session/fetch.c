/*
 * fetch.c — FETCH (and UID FETCH); STORE is in flags.c.
 *
 * FETCH items are parsed and checked completely before the first response
 * line is written, so a syntax error is a clean BAD. Message content is
 * read only for items that need it; FLAGS, UID, RFC822.SIZE and
 * INTERNALDATE come from the folder state (file names).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bounds.h"
#include "imap-date.h"
#include "imap.h"
#include "log.h"
#include "mime.h"
#include "render.h"

enum item_type {
	IT_FLAGS, IT_UID, IT_INTERNALDATE, IT_SIZE, IT_ENVELOPE, IT_BODYSTRUCTURE, IT_BODY,
	IT_SECTION, IT_BINARY, IT_BINARY_SIZE, IT_RFC822, IT_RFC822_HEADER, IT_RFC822_TEXT,
	IT_PREVIEW, IT_MODSEQ,
};

struct item {
	enum item_type type;
	char section[1024];    /* upper-cased text between [ and ] */
	int peek;
	int lazy;              /* PREVIEW (LAZY): from the cache or NIL */
	int partial;
	uint32_t start, count;
};

#define ITEMS_MAX 64
/* Part numbers in a section: deeper than any MIME tree we parse (S37). */
#define SECTION_PARTS_MAX 100

static int
parse_u32(const char **pp, uint32_t *v)
{
	const char *p = *pp;
	uint64_t n = 0;
	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		n = n * 10 + (uint64_t)(*p++ - '0');
		if (n > 4294967295ULL)
			return -1;
	}
	*pp = p;
	*v = (uint32_t)n;
	return 0;
}

/* Checks section syntax (RFC 9051 section-spec) before anything is sent. */
static int
section_valid(const char *s, int binary)
{
	const char *p = s;
	int parts = 0;
	while (isdigit((unsigned char)*p)) {
		uint32_t v;
		if (*p == '0' || parse_u32(&p, &v) != 0 || ++parts > SECTION_PARTS_MAX)
			return 0;
		if (*p == '\0')
			return 1;
		if (*p != '.')
			return 0;
		p++;
	}
	if (binary)
		return *p == '\0' && (parts > 0 || p == s);
	if (*p == '\0')
		return parts == 0;
	if (strcmp(p, "HEADER") == 0 || strcmp(p, "TEXT") == 0)
		return 1;
	if (strcmp(p, "MIME") == 0)
		return parts > 0;
	const char *list;
	if (strncmp(p, "HEADER.FIELDS.NOT ", 18) == 0)
		list = p + 18;
	else if (strncmp(p, "HEADER.FIELDS ", 14) == 0)
		list = p + 14;
	else
		return 0;
	size_t n = strlen(list);
	if (n < 3 || list[0] != '(' || list[n - 1] != ')' || list[1] == ' ' || list[n - 2] == ' ')
		return 0;
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)list[i];
		if (c == ' ' && list[i + 1] == ' ')
			return 0;
		if (c != ' ' && (c <= 0x20 || c >= 0x7f || strchr("(){:", c)))
			return 0;
	}
	return 1;
}

/* "BODY.PEEK[1.2]<0.100>" → item. Returns 0 or -1. */
static int
parse_section_item(const char *s, struct item *it)
{
	const char *open = strchr(s, '[');
	const char *close = open ? strchr(open, ']') : NULL;
	if (!open || !close || (size_t)(close - open - 1) >= sizeof it->section)
		return -1;
	size_t head = (size_t)(open - s);
	int binary = 0;
	if (head == 4 && strncasecmp(s, "BODY", 4) == 0) {
		it->type = IT_SECTION;
	} else if (head == 9 && strncasecmp(s, "BODY.PEEK", 9) == 0) {
		it->type = IT_SECTION;
		it->peek = 1;
	} else if (head == 6 && strncasecmp(s, "BINARY", 6) == 0) {
		it->type = IT_BINARY;
		binary = 1;
	} else if (head == 11 && strncasecmp(s, "BINARY.PEEK", 11) == 0) {
		it->type = IT_BINARY;
		it->peek = binary = 1;
	} else if (head == 11 && strncasecmp(s, "BINARY.SIZE", 11) == 0) {
		it->type = IT_BINARY_SIZE;
		it->peek = binary = 1;
	} else {
		return -1;
	}
	size_t n = (size_t)(close - open - 1);
	for (size_t i = 0; i < n; i++)
		it->section[i] = (char)toupper((unsigned char)open[1 + i]);
	it->section[n] = '\0';
	if (!section_valid(it->section, binary))
		return -1;
	const char *p = close + 1;
	if (*p == '\0')
		return 0;
	if (*p != '<' || it->type == IT_BINARY_SIZE)
		return -1;
	p++;
	if (parse_u32(&p, &it->start) != 0 || *p != '.')
		return -1;
	p++;
	if (parse_u32(&p, &it->count) != 0 || it->count == 0 || strcmp(p, ">") != 0)
		return -1;
	it->partial = 1;
	return 0;
}

static int
parse_item(const char *s, struct item *items, size_t *n)
{
	static const struct { const char *name; enum item_type t; } simple[] = {
		{ "FLAGS", IT_FLAGS }, { "UID", IT_UID }, { "INTERNALDATE", IT_INTERNALDATE },
		{ "RFC822.SIZE", IT_SIZE }, { "ENVELOPE", IT_ENVELOPE },
		{ "BODYSTRUCTURE", IT_BODYSTRUCTURE }, { "BODY", IT_BODY }, { "RFC822", IT_RFC822 },
		{ "RFC822.HEADER", IT_RFC822_HEADER }, { "RFC822.TEXT", IT_RFC822_TEXT },
		{ "PREVIEW", IT_PREVIEW }, { "MODSEQ", IT_MODSEQ },
	};
	static const struct { const char *name; const char *items[5]; } macros[] = {
		{ "ALL", { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", NULL } },
		{ "FAST", { "FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL } },
		{ "FULL", { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY" } },
	};
	for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
		if (strcasecmp(s, macros[i].name) == 0) {
			for (size_t j = 0; j < 5 && macros[i].items[j]; j++)
				if (parse_item(macros[i].items[j], items, n) != 0)
					return -1;
			return 0;
		}
	if (*n >= ITEMS_MAX)
		return -1;
	struct item *it = &items[*n];
	memset(it, 0, sizeof *it);
	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
		if (strcasecmp(s, simple[i].name) == 0) {
			it->type = simple[i].t;
			(*n)++;
			return 0;
		}
	if (parse_section_item(s, it) != 0)
		return -1;
	(*n)++;
	return 0;
}

static void
out_date(struct io *io, time_t t)
{
	char d[IMAP_DATE_TIME_SIZE];
	imap_date_time_format(t, d, sizeof d);
	io_printf(io, "\"%s\"", d);
}

/* Writes data (with the partial applied) as a literal; literal8 for BINARY
 * content holding NULs. */
static void
out_body(struct io *io, const struct item *it, const unsigned char *data, size_t len,
    int binary)
{
	if (it->partial) {
		io_printf(io, "<%u>", it->start);
		if (it->start >= len) {
			len = 0;
		} else {
			data += it->start;
			len -= it->start;
			if (len > it->count)
				len = it->count;
		}
	}
	io_puts(io, " ");
	if (binary && memchr(data, '\0', len))
		io_printf(io, "~{%zu}\r\n", len);
	else
		io_printf(io, "{%zu}\r\n", len);
	if (binary) {
		io_write(io, data, len);
		return;
	}
	/* A NUL is not allowed in a literal: 0x80, as Dovecot sends. */
	static const unsigned char high = 0x80;
	while (len > 0) {
		const unsigned char *nul = memchr(data, '\0', len);
		size_t run = nul ? (size_t)(nul - data) : len;
		io_write(io, data, run);
		if (nul == NULL)
			break;
		io_write(io, &high, 1);
		data += run + 1;
		len -= run + 1;
	}
}

/* Header or text of the whole message. */
static int
split_message(const unsigned char *data, size_t len, size_t *hdr_len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] == '\n' && (data[i + 1] == '\n' ||
		    (data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n'))) {
			*hdr_len = i + 1 + (data[i + 1] == '\r' ? 2 : 1);
			return 0;
		}
	}
	*hdr_len = len;
	return 0;
}

struct fetch_ctx {
	int unknown_cte;
	int gone;              /* a message's file gone, never held */
	int failed;            /* a message could not be read (EIO, ENOMEM) */
};

/* BODY[section] and BINARY results of one message, rendered before its
 * FETCH line goes out so a refusal or an error sends nothing for it. */
struct rendered {
	int r;                 /* render_section/render_binary result */
	unsigned char *out;
	size_t len;
	int head;              /* every item needs only the header */
};

static int
is_rendered(const struct item *it)
{
	return (it->type == IT_SECTION && it->section[0] != '\0') || it->type == IT_BINARY ||
	    it->type == IT_BINARY_SIZE;
}

static void
rendered_free(struct rendered *rd, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rd[i].out);
		rd[i].out = NULL;
	}
}

/* An item answered from the file name or the top-level header alone:
 * what clients send to list a folder. A section with a part number needs
 * the MIME structure, so the whole message. */
static int
needs_header_only(const struct item *it)
{
	switch (it->type) {
	case IT_FLAGS: case IT_UID: case IT_INTERNALDATE: case IT_SIZE:
	case IT_ENVELOPE: case IT_RFC822_HEADER:
		return 1;
	case IT_SECTION:
		return strncmp(it->section, "HEADER", 6) == 0;
	default:
		return 0;
	}
}

/* BODY[HEADER.FIELDS (...)] naming only fields the cache keeps. */
static int
fields_item(const struct item *it)
{
	if (it->type != IT_SECTION || strncmp(it->section, "HEADER.FIELDS (", 15) != 0)
		return 0;
	const char *p = it->section + 15;
	for (;;) {
		size_t n = strcspn(p, " )");
		if (n == 0 || memchr(p, '"', n) != NULL || !folder_field_cached(p, n))
			return 0;
		p += n;
		if (*p == ')')
			return p[1] == '\0';
		p++;
	}
}

/* The cached view (FOLDER_VIEW_*) that answers it, or -1. */
static int
view_of(const struct item *it)
{
	switch (it->type) {
	case IT_ENVELOPE:
		return FOLDER_VIEW_ENVELOPE;
	case IT_BODY:
		return FOLDER_VIEW_BODY;
	case IT_BODYSTRUCTURE:
		return FOLDER_VIEW_BODYSTRUCTURE;
	case IT_PREVIEW:
		return FOLDER_VIEW_PREVIEW;
	default:
		return fields_item(it) ? FOLDER_VIEW_FIELDS : -1;
	}
}

/* How the items of one message are answered. */
struct plan {
	int file;              /* some item needs the message's bytes */
	int head;              /* ... only its header */
	unsigned cached;       /* views (1 << FOLDER_VIEW_*) from the cache */
};

/* Reads what the items need of message idx, before anything of its FETCH
 * line goes out: views from the folder's cache when it has them all, else
 * its header or whole content and their parse; INTERNALDATE, RFC822.SIZE.
 * They are then in the folder's cache (or the message's file is held:
 * folder.h) for fetch_item. 0, or -1 with errno (ENOENT: another session
 * expunged it and this one never held its file; then nothing at all is
 * sent for it, never made-up values: RFC 2180 §4.1.2). */
static int
fetch_ready(struct imap *im, size_t idx, const struct item *items, size_t nitems,
    struct plan *pl)
{
	unsigned want = 0, stat = 0;
	pl->file = 0;
	pl->head = 1;
	pl->cached = 0;
	for (size_t j = 0; j < nitems; j++) {
		int v = view_of(&items[j]);
		if (items[j].lazy) {
			/* answered from the cache alone (fetch_item) */
		} else if (v >= 0) {
			want |= 1u << v;
		} else if (items[j].type >= IT_ENVELOPE) {
			pl->file = 1;
			pl->head &= needs_header_only(&items[j]);
		}
		stat |= items[j].type == IT_INTERNALDATE ? FOLDER_STAT_DATE
		    : items[j].type == IT_SIZE ? FOLDER_STAT_SIZE : 0;
	}
	if (want && folder_cache_has(im->sel, idx, want))
		pl->cached = want;
	int parse = want && !pl->cached;
	if (parse) {
		pl->file = 1;
		pl->head &= !(want & (1u << FOLDER_VIEW_BODY | 1u << FOLDER_VIEW_BODYSTRUCTURE |
		    1u << FOLDER_VIEW_PREVIEW));
	}
	if (stat && folder_stat(im->sel, idx, stat) != 0)
		return -1;
	if (pl->file) {
		const unsigned char *data;
		size_t len;
		if ((pl->head ? folder_header : folder_message)(im->sel, idx, &data, &len) != 0)
			return -1;
	}
	/* the parse behind the views (only memory fails) */
	if (parse && (pl->head ? folder_mime_header : folder_mime)(im->sel, idx) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Renders the section items of message idx into rd: HEADER.FIELDS of
 * cached fields from the cache when the plan says so, the others from
 * the header or the whole message as planned. Returns 0; 2 if a BINARY
 * item has an unknown encoding; -1 with errno EINVAL (section syntax) or
 * ENOMEM. */
static int
render_items(struct imap *im, size_t idx, const struct item *items, size_t nitems,
    const struct plan *pl, struct rendered *rd)
{
	const struct mime_message *mm = NULL;
	int looked = 0, refused = 0;
	for (size_t j = 0; j < nitems; j++) {
		rd[j].r = 0;
		rd[j].out = NULL;
		rd[j].len = 0;
		rd[j].head = pl->head;
		if (!is_rendered(&items[j]))
			continue;
		const struct mime_message *from;
		if ((pl->cached & 1u << FOLDER_VIEW_FIELDS) && fields_item(&items[j])) {
			from = folder_fields_mime(im->sel, idx);
		} else {
			if (!looked) {
				mm = pl->head ? folder_mime_header(im->sel, idx)
				    : folder_mime(im->sel, idx);
				looked = 1;
			}
			from = mm;
		}
		if (from == NULL)
			rd[j].r = 1;
		else if (items[j].type == IT_SECTION)
			rd[j].r = render_section(from, items[j].section, &rd[j].out, &rd[j].len);
		else
			rd[j].r = render_binary(from, items[j].section, &rd[j].out, &rd[j].len);
		if (rd[j].r < 0) {
			int e = errno;
			rendered_free(rd, j + 1);
			errno = e;
			return -1;
		}
		if (rd[j].r == 2)
			refused = 1;
	}
	if (refused) {
		rendered_free(rd, nitems);
		return 2;
	}
	return 0;
}

/* One item of one message. */
static void
fetch_item(struct imap *im, size_t idx, const struct item *it, const struct rendered *rd,
    struct fetch_ctx *ctx)
{
	struct folder *f = im->sel;
	struct fmsg *m = &f->m[idx];
	struct io *io = &im->io;
	const unsigned char *data = NULL;
	size_t len = 0;
	char *s;
	size_t slen;
	/* what is sent as the message's bytes; views and sections are made */
	int need_data = it->type == IT_RFC822 || it->type == IT_RFC822_HEADER ||
	    it->type == IT_RFC822_TEXT || (it->type == IT_SECTION && it->section[0] == '\0');
	if (need_data && (rd->head ? folder_header(f, idx, &data, &len)
	    : folder_message(f, idx, &data, &len)) != 0) {
		ctx->gone = 1;
		data = (const unsigned char *)"";
		len = 0;
	}
	switch (it->type) {
	case IT_FLAGS:
		io_puts(io, "FLAGS ");
		out_flags(im, m->flags, m->keywords);
		break;
	case IT_UID:
		io_printf(io, "UID %u", m->uid);
		break;
	case IT_MODSEQ:
		condstore_out_modseq(im, m, "");
		break;
	case IT_INTERNALDATE:
		io_puts(io, "INTERNALDATE ");
		out_date(io, folder_internaldate(f, idx));
		break;
	case IT_SIZE:
		io_printf(io, "RFC822.SIZE %llu", (unsigned long long)folder_size(f, idx));
		break;
	case IT_ENVELOPE:
	case IT_BODYSTRUCTURE:
	case IT_BODY:
		io_puts(io, it->type == IT_ENVELOPE ? "ENVELOPE " :
		    it->type == IT_BODY ? "BODY " : "BODYSTRUCTURE ");
		s = folder_view(f, idx, (enum folder_view)view_of(it), &slen);
		if (s) {
			io_write(io, s, slen);
			free(s);
		} else if (it->type == IT_ENVELOPE) {
			io_puts(io, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		} else {
			io_puts(io, "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)");
		}
		break;
	case IT_PREVIEW:
		/* RFC 8970 §3.1: LAZY may answer NIL when the preview is not
		 * cached; the next PREVIEW without LAZY makes and caches it */
		io_puts(io, "PREVIEW ");
		s = NULL;
		if (!it->lazy || folder_cache_has(f, idx, 1u << FOLDER_VIEW_PREVIEW))
			s = folder_view(f, idx, FOLDER_VIEW_PREVIEW, &slen);
		if (s == NULL && !it->lazy) {
			/* unreadable: no preview text (only LAZY answers NIL) */
			s = strdup("");
			slen = 0;
		}
		out_nstring(io, s, slen);
		free(s);
		break;
	case IT_RFC822:
		io_puts(io, "RFC822");
		out_body(io, it, data, len, 0);
		break;
	case IT_RFC822_HEADER:
	case IT_RFC822_TEXT: {
		size_t h;
		split_message(data, len, &h);
		io_puts(io, it->type == IT_RFC822_HEADER ? "RFC822.HEADER" : "RFC822.TEXT");
		if (it->type == IT_RFC822_HEADER)
			out_body(io, it, data, h, 0);
		else
			out_body(io, it, data + h, len - h, 0);
		break;
	}
	case IT_SECTION:
	case IT_BINARY:
	case IT_BINARY_SIZE: {
		const char *word = it->type == IT_SECTION ? "BODY" : it->type == IT_BINARY ? "BINARY"
		    : "BINARY.SIZE";
		if (it->type == IT_SECTION && it->section[0] == '\0') {
			io_printf(io, "BODY[]");
			out_body(io, it, data, len, 0);
			break;
		}
		io_printf(io, "%s[%s]", word, it->section);
		if (it->type == IT_BINARY_SIZE)
			io_printf(io, " %zu", rd->r == 0 ? rd->len : 0);
		else if (rd->r == 0)
			out_body(io, it, rd->out, rd->len, it->type == IT_BINARY);
		else /* no such part: an empty string (Dovecot sends {0}) */
			io_puts(io, it->partial ? "<0> \"\"" : " \"\"");
		break;
	}
	}
}

/* The modifier list after a PREVIEW item (RFC 8970: "(LAZY)"), applied
 * to the last item parsed: 0, or -1 when arg is not one (it is then
 * something else, or an error found by the caller). */
static int
preview_mods(const struct imap_arg *arg, struct item *items, size_t n)
{
	if (n == 0 || items[n - 1].type != IT_PREVIEW || arg->type != ARG_LIST || arg->n == 0)
		return -1;
	for (size_t i = 0; i < arg->n; i++)
		if (arg->list[i].type != ARG_ATOM || strcasecmp(arg->list[i].str, "LAZY") != 0)
			return -1;
	items[n - 1].lazy = 1;
	return 0;
}

/* BODY[] without PEEK (and RFC822, RFC822.TEXT) set \Seen first. */
static int
items_set_seen(const struct item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((items[i].type == IT_SECTION && !items[i].peek) || items[i].type == IT_RFC822 ||
		    items[i].type == IT_RFC822_TEXT || (items[i].type == IT_BINARY && !items[i].peek))
			return 1;
	return 0;
}

enum verdict
cmd_fetch(struct imap *im, struct imap_command *c)
{
	struct item items[ITEMS_MAX];
	size_t nitems = 0;
	if (c->n < 2 || c->args[0].type != ARG_ATOM)
		return verdict(im, V_BAD, "FETCH needs a sequence set and items");
	const struct imap_arg *a = &c->args[1];
	size_t used = 2;
	if (a->type == ARG_LIST) {
		if (a->n == 0)
			return verdict(im, V_BAD, "Empty FETCH item list");
		for (size_t i = 0; i < a->n; i++) {
			if (a->list[i].type != ARG_ATOM || parse_item(a->list[i].str, items, &nitems) != 0)
				return verdict(im, V_BAD, "Invalid FETCH item");
			if (i + 1 < a->n && preview_mods(&a->list[i + 1], items, nitems) == 0)
				i++;
		}
	} else if (a->type != ARG_ATOM || parse_item(a->str, items, &nitems) != 0) {
		return verdict(im, V_BAD, "Invalid FETCH item");
	} else if (c->n > 2 && preview_mods(&c->args[2], items, nitems) == 0) {
		used = 3;
	}
	/* (CHANGEDSINCE n), RFC 7162 §3.1.4: only messages changed since,
	 * with their MODSEQ */
	uint64_t since = 0;
	int has_since = 0;
	if (c->n == used + 1) {
		int r = condstore_modifier(&c->args[used], "CHANGEDSINCE", 1, &since);
		if (r < 0)
			return verdict(im, V_BAD, "Invalid CHANGEDSINCE");
		has_since = r == 0;
		used += has_since;
	}
	if (c->n > used)
		return verdict(im, V_BAD, "Unknown FETCH modifier");
	int has_uid = 0, has_flags = 0, has_modseq = 0;
	for (size_t i = 0; i < nitems; i++) {
		has_uid |= items[i].type == IT_UID;
		has_flags |= items[i].type == IT_FLAGS;
		has_modseq |= items[i].type == IT_MODSEQ;
	}
	if (has_since && !has_modseq) {
		if (nitems == ITEMS_MAX)
			return verdict(im, V_BAD, "Too many FETCH items");
		memset(&items[nitems], 0, sizeof items[nitems]);
		items[nitems++].type = IT_MODSEQ;
		has_modseq = 1;
	}
	if (has_modseq)
		condstore_enable(im);
	size_t *idx, n;
	if (imap_select_messages(im, c->args[0].str, im->uid_command, &idx, &n) != 0)
		return verdict(im, V_BAD, "Invalid sequence set");
	/* FLAGS as they are on disk now, as STORE does, rather than stale
	 * ones followed by an untagged update when another session changed
	 * them (the set above is fixed: a sync adds no message to it). An
	 * implicit \Seen is added to them too: set on stale flags, it would
	 * undo what another session stored meanwhile. */
	int set_seen = items_set_seen(items, nitems) && !im->sel->readonly;
	if ((has_flags || set_seen) && folder_sync(im->sel) != 0)
		log_warn("user=%s sync of %s failed: %s", im->user, im->sel->name, strerror(errno));
	imap_announce_keywords(im, 0);
	/* messages given \Seen here: their MODSEQ is told after the commit
	 * gives them a new one (RFC 7162 §3.1.4) */
	unsigned char *seen_now = calloc(n ? n : 1, 1);
	if (seen_now == NULL) {
		free(idx);
		return verdict(im, V_NO, "[SERVERBUG] Out of memory");
	}
	struct fetch_ctx ctx = { 0, 0, 0 };
	struct rendered rd[ITEMS_MAX];
	for (size_t k = 0; k < n; k++) {
		size_t i = idx[k];
		struct fmsg *m = &im->sel->m[i];
		struct plan pl;
		if (has_since && m->modseq <= since)
			continue;
		if (fetch_ready(im, i, items, nitems, &pl) != 0) {
			if (errno == ENOENT)
				ctx.gone = 1;
			else
				ctx.failed = 1;
			continue;
		}
		int rr = render_items(im, i, items, nitems, &pl, rd);
		if (rr == 2) {
			/* RFC 3516: the tagged NO [UNKNOWN-CTE] alone answers */
			ctx.unknown_cte = 1;
			continue;
		}
		if (rr < 0) {
			int e = errno;
			free(idx);
			free(seen_now);
			if (e == ENOMEM)
				return verdict(im, V_NO, "[SERVERBUG] Out of memory");
			return verdict(im, V_BAD, "Invalid section");
		}
		if (set_seen && !(m->flags & FL_SEEN))
			seen_now[k] = folder_set_flags(im->sel, i, m->flags | FL_SEEN,
			    m->keywords) == 0;
		io_printf(&im->io, "* %zu FETCH (", i + 1);
		const char *sep = "";
		if (im->uid_command && !has_uid) {
			io_printf(&im->io, "UID %u", m->uid);
			sep = " ";
		}
		for (size_t j = 0; j < nitems; j++) {
			if (items[j].type == IT_MODSEQ && seen_now[k])
				continue;   /* its new one follows the commit */
			io_puts(&im->io, sep);
			fetch_item(im, i, &items[j], &rd[j], &ctx);
			sep = " ";
		}
		rendered_free(rd, nitems);
		/* changed: the sync above found new flags; said here, as the
		 * report after the command would (m->changed is cleared below) */
		if ((seen_now[k] || m->changed) && !has_flags) {
			io_printf(&im->io, "%sFLAGS ", sep);
			out_flags(im, m->flags, m->keywords);
			sep = " ";
		}
		/* a flag change told carries its modseq once CONDSTORE is on */
		if (m->changed && !seen_now[k] && im->condstore && !has_modseq)
			condstore_out_modseq(im, m, sep);
		io_puts(&im->io, ")\r\n");
		m->changed = 0;
	}
	folder_cache_flush(im->sel);
	/* \Seen set above is on disk before the tagged reply */
	int commit = folder_commit(im->sel);
	for (size_t k = 0; commit == 0 && im->condstore && k < n; k++)
		if (seen_now[k]) {
			io_printf(&im->io, "* %zu FETCH (", idx[k] + 1);
			if (im->uid_command)
				io_printf(&im->io, "UID %u ", im->sel->m[idx[k]].uid);
			condstore_out_modseq(im, &im->sel->m[idx[k]], "");
			io_puts(&im->io, ")\r\n");
		}
	free(idx);
	free(seen_now);
	if (commit != 0) {
		log_err("user=%s fsync of %s failed: %s", im->user, im->sel->name, strerror(errno));
		return verdict(im, V_NO, "[SERVERBUG] Cannot save the flags");
	}
	if (ctx.unknown_cte)
		return verdict(im, V_NO, "[UNKNOWN-CTE] Unknown or broken content transfer encoding");
	if (ctx.failed)
		return verdict(im, V_NO, "[SERVERBUG] Some messages could not be read");
	if (ctx.gone)
		return verdict(im, V_NO, "[EXPUNGEISSUED] Some messages were expunged");
	return verdict(im, V_OK, "%s completed", c->name);
}
