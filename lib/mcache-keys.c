/*
 * mcache-keys.c — a message's sort and thread keys as a cache item
 * (format and meaning: mcache-keys.h).
 */
#include "mcache-keys.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basesubj.h"
#include "bounds.h"
#include "buf.h"
#include "casemap.h"
#include "mime.h"

/* A string key is cut at this many bytes and an id longer than this is
 * no id: keys of a hostile header stay far below a record's bound
 * (mcache.h), 7 keys and IMAP_THREAD_REFS_MAX ids at most. */
#define KEY_MAX 8192
#define ID_MAX 2048
#define ITEM_MAX (7u * (KEY_MAX + 1) + IMAP_THREAD_REFS_MAX * (ID_MAX + 1u) + 9)

#define F_DATE 1
#define F_REPLY 2
#define STRINGS 7

static int
is_id_byte(unsigned char c)
{
	return c != '>' && c != '<' && c != '\0' && !isspace(c);
}

size_t
mkeys_next_id(const unsigned char *s, size_t n, size_t *pos, const char **id_r)
{
	size_t i = *pos;
	while (i < n) {
		if (s[i] == '(' || s[i] == '"') {
			unsigned char close = s[i] == '(' ? ')' : '"';
			for (i++; i < n && s[i] != close; i++)
				if (s[i] == '\\')
					i++;
			i++;
			continue;
		}
		if (s[i] != '<') {
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < n && is_id_byte(s[j]))
			j++;
		/* an id-left "@" id-right (RFC 5322 §3.6.4); Dovecot too
		 * ignores one without "@" */
		if (j < n && s[j] == '>' && j - i - 1 <= ID_MAX &&
		    memchr(s + i + 1, '@', j - i - 1) != NULL) {
			*id_r = (const char *)s + i + 1;
			*pos = j + 1;
			return j - i - 1;
		}
		i = j;
	}
	*pos = n;
	return 0;
}

/* s (taken over; NULL: ENOMEM) folded, cut to KEY_MAX, NUL included. */
static void
add_folded(struct buf *b, char *s)
{
	char *f = s ? casemap_utf8(s, strlen(s), NULL) : NULL;
	free(s);
	if (f == NULL) {
		buf_fail(b, ENOMEM);
		return;
	}
	size_t n = strlen(f);
	buf_add(b, f, n < KEY_MAX ? n + 1 : KEY_MAX);
	if (n >= KEY_MAX)
		buf_addc(b, '\0');
	free(f);
}

/* The header value without CR and NUL, as the address parser wants it. */
static char *
clean_value(const struct mime_header *h, size_t *n_r)
{
	char *v = malloc(h->value_len + 1);
	size_t n = 0;
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < h->value_len; i++)
		if (h->value[i] != '\r' && h->value[i] != '\0')
			v[n++] = (char)h->value[i];
	v[n] = '\0';
	*n_r = n;
	return v;
}

/* The mailbox (display 0) or display key (1) of address a, malloc'd
 * ("" without one); NULL on ENOMEM. */
static char *
address_key(const struct mime_address *a, int display)
{
	size_t dn;
	if (a == NULL)
		return strdup("");
	const char *mbox = a->mailbox ? a->mailbox : "";
	if (!display)
		return strdup(mbox);
	/* RFC 5957 §2: the display name, else mailbox@domain */
	if (a->name != NULL && a->name[0] != '\0')
		return mime_decode_header((const unsigned char *)a->name, strlen(a->name), &dn);
	if (a->domain == NULL)
		return strdup(mbox);
	char *out = malloc(strlen(mbox) + strlen(a->domain) + 2);
	if (out != NULL) {
		strcpy(out, mbox);
		strcat(out, "@");
		strcat(out, a->domain);
	}
	return out;
}

/* The first address of field (From, To, Cc) into a (NULL without one),
 * parsed into pool: 0, or -1 on ENOMEM. */
static int
first_address(const struct mime_message *mm, const char *field, struct mime_pool *pool,
    struct mime_address **a)
{
	const struct mime_header *h = mm ? mime_header_find(mm->root, field) : NULL;
	size_t n;
	char *v;
	*a = NULL;
	if (h == NULL)
		return 0;
	if ((v = clean_value(h, &n)) == NULL)
		return -1;
	int rc = mime_address_parse(pool, (const unsigned char *)v, n, a);
	free(v);
	return rc;
}

/* FROM, TO, CC, DISPLAYFROM, DISPLAYTO in that order. */
static void
add_addresses(struct buf *b, const struct mime_message *mm)
{
	static const char *const field[3] = { "From", "To", "Cc" };
	struct mime_address *a[3];
	struct mime_pool *pool = mime_pool_new();
	int i;
	for (i = 0; i < 3 && pool != NULL; i++)
		if (first_address(mm, field[i], pool, &a[i]) != 0)
			break;
	if (i < 3) {
		buf_fail(b, ENOMEM);
	} else {
		for (i = 0; i < 3; i++)
			add_folded(b, address_key(a[i], 0));
		add_folded(b, address_key(a[0], 1));
		add_folded(b, address_key(a[1], 1));
	}
	mime_pool_free(&pool);
}

/* The thread chain: References:'s last IMAP_THREAD_REFS_MAX ids, else
 * In-Reply-To:'s first. */
static void
add_refs(struct buf *b, const struct mime_message *mm)
{
	const struct mime_header *h = mime_header_find(mm->root, "References");
	const char *id;
	size_t pos = 0, len, count = 0;
	if (h != NULL)
		while (mkeys_next_id(h->value, h->value_len, &pos, &id) > 0)
			count++;
	if (count == 0) {
		h = mime_header_find(mm->root, "In-Reply-To");
		count = h != NULL ? 1 : 0;
	}
	size_t skip = count > IMAP_THREAD_REFS_MAX ? count - IMAP_THREAD_REFS_MAX : 0;
	pos = 0;
	for (size_t k = 0; k < count && (len = mkeys_next_id(h->value, h->value_len, &pos, &id)) > 0;
	    k++) {
		if (k < skip)
			continue;
		buf_add(b, id, len);
		buf_addc(b, '\0');
	}
}

/* Subject and Date: the flags and date head, then the base subject. */
static void
add_head(struct buf *b, const struct mime_message *mm)
{
	const struct mime_header *h = mm ? mime_header_find(mm->root, "Date") : NULL;
	time_t t = h ? mime_parse_date(h->value, h->value_len) : (time_t)-1;
	int reply = 0;
	h = mm ? mime_header_find(mm->root, "Subject") : NULL;
	char *subj = h ? base_subject(h->value, h->value_len, NULL, &reply) : strdup("");
	unsigned char head[9];
	uint64_t d = t != (time_t)-1 ? (uint64_t)(int64_t)t : 0;
	for (int i = 0; i < 8; i++)
		head[i] = (unsigned char)(d >> (8 * i));
	head[8] = (unsigned char)((t != (time_t)-1 ? F_DATE : 0) | (reply ? F_REPLY : 0));
	buf_add(b, head, sizeof head);
	add_folded(b, subj);
}

char *
mkeys_render(const struct mime_message *mm, size_t *len_r)
{
	struct buf b = BUF_INIT(ITEM_MAX);
	add_head(&b, mm);
	add_addresses(&b, mm);
	const struct mime_header *h = mm ? mime_header_find(mm->root, "Message-ID") : NULL;
	const char *id;
	size_t pos = 0, len = 0;
	if (h != NULL)
		len = mkeys_next_id(h->value, h->value_len, &pos, &id);
	if (len > 0)
		buf_add(&b, id, len);
	buf_addc(&b, '\0');
	if (mm != NULL)
		add_refs(&b, mm);
	return buf_finish(&b, len_r);
}

int
mkeys_parse(const char *p, size_t n, struct mkeys *k)
{
	const char **str[STRINGS] = { &k->subject, &k->from, &k->to, &k->cc, &k->dfrom, &k->dto,
		&k->msgid };
	if (n < 9 + STRINGS || p[n - 1] != '\0' || (unsigned char)p[8] > (F_DATE | F_REPLY))
		return -1;
	uint64_t d = 0;
	for (int i = 0; i < 8; i++)
		d |= (uint64_t)(unsigned char)p[i] << (8 * i);
	k->has_date = (p[8] & F_DATE) != 0;
	k->reply = (p[8] & F_REPLY) != 0;
	k->date = k->has_date ? (int64_t)d : 0;
	size_t o = 9;
	for (int i = 0; i < STRINGS; i++) {
		const char *end = memchr(p + o, '\0', n - o);
		if (end == NULL)
			return -1;
		*str[i] = p + o;
		o = (size_t)(end - p) + 1;
	}
	k->refs = p + o;
	k->nrefs = 0;
	/* every id ends with its NUL (p[n - 1] is one) and is not empty */
	for (size_t i = o; i < n; i++) {
		if (p[i] == '\0' && (i == o || p[i - 1] == '\0'))
			return -1;
		k->nrefs += p[i] == '\0';
	}
	return k->nrefs <= IMAP_THREAD_REFS_MAX ? 0 : -1;
}
