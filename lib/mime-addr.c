/*
 * mime-addr.c — RFC 5322 address lists as Dovecot's message-address parser
 * reads them (groups, routes, comments as names, MISSING_MAILBOX and
 * MISSING_DOMAIN for broken ones), for ENVELOPE (see mime.h).
 */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "mime-internal.h"

struct addr_ctx {
	struct arena *a;
	struct mime_rfc822 r;
	struct buf str, comment;
	struct mime_address *first, *last, cur;
	int invalid;
	size_t count;
	int oom;
};

static const char *
ac_dup(struct addr_ctx *c, struct buf *s)
{
	char *p = mime_arena_strndup(c->a, buf_str(s), s->len);
	if (p == NULL || s->err)
		c->oom = 1;
	return p != NULL ? p : "";
}

static void
addr_add(struct addr_ctx *c)
{
	if (c->count >= MIME_ADDRESSES_MAX) {
		memset(&c->cur, 0, sizeof(c->cur));
		c->invalid = 0;
		return;
	}
	struct mime_address *ad = mime_arena_alloc(c->a, sizeof(*ad));
	if (ad == NULL) {
		c->oom = 1;
		return;
	}
	*ad = c->cur;
	ad->next = NULL;
	memset(&c->cur, 0, sizeof(c->cur));
	c->invalid = 0;
	if (c->first == NULL)
		c->first = ad;
	else
		c->last->next = ad;
	c->last = ad;
	c->count++;
}

static int
parse_nonstrict_dot_atom(struct addr_ctx *c)
{
	int ret = -1;
	do {
		while (*c->r.p == '.') {
			buf_addc(&c->str, '.');
			c->r.p++;
			if (c->r.p == c->r.end)
				return 0;
			ret = 1;
		}
		if (*c->r.p == '@')
			break;
		ret = mime_rfc822_parse_atom(&c->r, &c->str);
	} while (ret > 0 && *c->r.p == '.');
	return ret;
}

static int
addr_local_part(struct addr_ctx *c)
{
	int ret;
	buf_truncate(&c->str, 0);
	if (*c->r.p == '"')
		ret = mime_rfc822_parse_quoted_string(&c->r, &c->str);
	else
		ret = parse_nonstrict_dot_atom(c);
	if (ret < 0)
		return -1;
	c->cur.mailbox = ac_dup(c, &c->str);
	return ret;
}

static int
addr_domain(struct addr_ctx *c)
{
	int ret;
	buf_truncate(&c->str, 0);
	if ((ret = mime_rfc822_parse_domain(&c->r, &c->str)) < 0)
		return -1;
	c->cur.domain = ac_dup(c, &c->str);
	return ret;
}

static int
addr_domain_list(struct addr_ctx *c)
{
	int ret;
	buf_truncate(&c->str, 0);
	for (;;) {
		if (c->r.p >= c->r.end)
			return 0;
		if (*c->r.p != '@')
			break;
		if (c->str.len > 0)
			buf_addc(&c->str, ',');
		buf_addc(&c->str, '@');
		if ((ret = mime_rfc822_parse_domain(&c->r, &c->str)) <= 0)
			return ret;
		while (mime_rfc822_skip_lwsp(&c->r) > 0 && *c->r.p == ',')
			c->r.p++;
	}
	c->cur.route = ac_dup(c, &c->str);
	return 1;
}

static int
addr_angle(struct addr_ctx *c)
{
	c->r.p++;
	if (mime_rfc822_skip_lwsp(&c->r) <= 0)
		return -1;
	if (*c->r.p == '@') {
		if (addr_domain_list(c) > 0 && *c->r.p == ':') {
			c->r.p++;
		} else {
			c->cur.route = "INVALID_ROUTE";
			if (c->r.p >= c->r.end)
				return -1;
		}
		if (mime_rfc822_skip_lwsp(&c->r) <= 0)
			return -1;
	}
	if (*c->r.p != '>') {
		if (addr_local_part(c) <= 0)
			return -1;
		if (*c->r.p == '@') {
			if (addr_domain(c) <= 0)
				return -1;
		}
	}
	if (*c->r.p != '>')
		return -1;
	c->r.p++;
	return mime_rfc822_skip_lwsp(&c->r);
}

static int
addr_name_addr(struct addr_ctx *c)
{
	buf_truncate(&c->str, 0);
	if (mime_rfc822_parse_phrase(&c->r, &c->str) <= 0 || *c->r.p != '<')
		return -1;
	c->cur.name = ac_dup(c, &c->str);
	if (*c->cur.name == '\0')
		c->cur.name = NULL;
	if (addr_angle(c) < 0) {
		c->cur.domain = "SYNTAX_ERROR";
		c->invalid = 1;
	}
	return c->r.p < c->r.end ? 1 : 0;
}

static int
addr_spec(struct addr_ctx *c)
{
	int ret, ret2 = -2;
	buf_truncate(&c->comment, 0);
	int quoted = *c->r.p == '"';
	ret = addr_local_part(c);
	if (ret <= 0)
		c->invalid = 1;
	if (ret != 0 && c->r.p < c->r.end && *c->r.p == '@') {
		ret2 = addr_domain(c);
		if (ret2 <= 0)
			ret = ret2;
	}
	if (c->comment.len > 0) {
		c->cur.name = ac_dup(c, &c->comment);
	} else if (ret2 == -2) {
		buf_addc(&c->str, ' ');
		size_t orig = c->str.len;
		(void)mime_rfc822_parse_phrase(&c->r, &c->str);
		if (c->str.len != orig) {
			c->cur.mailbox = NULL;
			c->cur.name = ac_dup(c, &c->str);
		} else if (!quoted) {
			c->cur.domain = "";
		}
		c->invalid = 1;
		ret = -1;
	}
	return ret;
}

static void
addr_add_fixed(struct addr_ctx *c)
{
	if (c->cur.mailbox == NULL)
		c->cur.mailbox = "MISSING_MAILBOX";
	if (c->cur.domain == NULL || c->cur.domain[0] == '\0')
		c->cur.domain = "MISSING_DOMAIN";
	addr_add(c);
}

static int
addr_mailbox(struct addr_ctx *c)
{
	const unsigned char *start = c->r.p;
	int ret;
	if ((ret = addr_name_addr(c)) < 0) {
		c->r.p = start;
		ret = addr_spec(c);
		if (c->invalid && c->cur.name == NULL && c->cur.mailbox != NULL &&
		    c->cur.domain == NULL) {
			c->cur.name = c->cur.mailbox;
			c->cur.mailbox = NULL;
		}
	}
	addr_add_fixed(c);
	return ret;
}

static int
addr_group(struct addr_ctx *c)
{
	int ret;
	buf_truncate(&c->str, 0);
	if (mime_rfc822_parse_phrase(&c->r, &c->str) <= 0 || *c->r.p != ':')
		return -1;
	c->r.p++;
	ret = mime_rfc822_skip_lwsp(&c->r);
	c->cur.mailbox = ac_dup(c, &c->str);
	addr_add(c);
	if (ret > 0 && *c->r.p != ';') {
		for (;;) {
			(void)addr_mailbox(c);
			if (c->oom || c->r.p >= c->r.end || *c->r.p != ',')
				break;
			c->r.p++;
			if (mime_rfc822_skip_lwsp(&c->r) <= 0) {
				ret = -1;
				break;
			}
		}
	}
	if (ret >= 0) {
		if (c->r.p >= c->r.end || *c->r.p != ';')
			ret = -1;
		else {
			c->r.p++;
			ret = mime_rfc822_skip_lwsp(&c->r);
		}
	}
	addr_add(c);
	return ret == 0 ? 0 : 1;
}

static int
addr_address(struct addr_ctx *c)
{
	const unsigned char *start = c->r.p;
	int ret;
	if ((ret = addr_group(c)) < 0) {
		c->r.p = start;
		memset(&c->cur, 0, sizeof(c->cur));
		c->invalid = 0;
		ret = addr_mailbox(c);
	}
	return ret;
}

struct mime_pool *
mime_pool_new(void)
{
	return (struct mime_pool *)calloc(1, sizeof(struct arena));
}

void
mime_pool_free(struct mime_pool **pool)
{
	if (pool == NULL || *pool == NULL)
		return;
	mime_arena_free((struct arena *)*pool);
	*pool = NULL;
}

int
mime_address_parse(struct mime_pool *pool, const unsigned char *value, size_t len,
    struct mime_address **list_r)
{
	struct addr_ctx c = {0};
	c.a = (struct arena *)pool;
	buf_init(&c.str, MIME_ARENA_MAX);
	buf_init(&c.comment, MIME_ARENA_MAX);
	c.r.p = value;
	c.r.end = value + len;
	c.r.last_comment = &c.comment;
	*list_r = NULL;
	if (mime_rfc822_skip_lwsp(&c.r) > 0) {
		/* Each round consumes input or stops, so this is linear; the
		 * count bound keeps the output bounded too (S38). */
		while (!c.oom && c.count < MIME_ADDRESSES_MAX) {
			int ret = addr_address(&c);
			if (ret == 0)
				break;
			if (c.r.p >= c.r.end || *c.r.p != ',')
				break;
			c.r.p++;
			if ((ret = mime_rfc822_skip_lwsp(&c.r)) <= 0) {
				if (ret < 0)
					addr_add_fixed(&c);
				break;
			}
		}
	}
	buf_free(&c.str);
	buf_free(&c.comment);
	if (c.oom || c.str.err || c.comment.err)
		return -1;
	*list_r = c.first;
	return 0;
}
