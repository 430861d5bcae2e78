/*
 * quarantine.c — the envelope block of a quarantined message (the format
 * is in quarantine.h): written by smtp-session, read by relay-runner.
 */
#include "quarantine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "bounds.h"
#include "buf.h"

#define FIRST "X-Yubin-Quarantine-Envelope: "
#define F_REASON "X-Yubin-Quarantine: "
#define F_ID "X-Yubin-Quarantine-Id: "
#define F_FROM "X-Yubin-Quarantine-From: "
#define F_TO "X-Yubin-Quarantine-To: "
/* The first line: FIRST, at most 10 digits, LF. */
#define FIRST_LINE_MAX (sizeof FIRST - 1 + 10 + 1)

int
quarantine_id_valid(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++)
		if (!(id[n] >= 'a' && id[n] <= 'z') && !(id[n] >= 'A' && id[n] <= 'Z') &&
		    !(id[n] >= '0' && id[n] <= '9') && !strchr("._-", id[n]))
			return 0;
	return n > 0 && n <= QUARANTINE_ID_MAX;
}

/* A parameter value: printable ASCII, no space, bounded like ORCPT. */
static int
param_ok(const char *v)
{
	size_t n = 0;
	for (; v[n]; n++)
		if ((unsigned char)v[n] <= ' ' || (unsigned char)v[n] >= 0x7f)
			return 0;
	return n > 0 && n <= DSN_ORCPT_MAX;
}

static int
envelope_ok(const char *id, const struct spool_envelope *env)
{
	if (!quarantine_id_valid(id) || !addr_smtp_safe(env->sender) || env->n_rcpts == 0 ||
	    (env->envid && !param_ok(env->envid)))
		return 0;
	for (size_t i = 0; i < env->n_rcpts; i++)
		if (!env->rcpts[i].addr[0] || !addr_smtp_safe(env->rcpts[i].addr) ||
		    (env->rcpts[i].orcpt && !param_ok(env->rcpts[i].orcpt)))
			return 0;
	return 1;
}

static void
reason_add(struct buf *b, const char *reason)
{
	size_t n = 0;
	buf_addstr(b, F_REASON);
	for (; reason[n] && n < QUARANTINE_REASON_MAX; n++) {
		unsigned char c = (unsigned char)reason[n];
		buf_addc(b, c >= ' ' && c < 0x7f ? (char)c : '?');
	}
	if (n == 0)
		buf_addstr(b, "quarantined by milter");
	buf_addc(b, '\n');
}

char *
quarantine_envelope(const char *id, const char *reason, const struct spool_envelope *env,
    size_t *len_r)
{
	if (!envelope_ok(id, env)) {
		errno = EINVAL;
		return NULL;
	}
	struct buf b = BUF_INIT(QUARANTINE_ENVELOPE_MAX);
	reason_add(&b, reason);
	buf_printf(&b, F_ID "%s\n" F_FROM, id);
	if (env->envid)
		buf_printf(&b, "ENVID=%s ", env->envid);
	if (env->ret != SPOOL_RET_DEFAULT)
		buf_addstr(&b, env->ret == SPOOL_RET_FULL ? "RET=FULL " : "RET=HDRS ");
	if (env->body_8bit)
		buf_addstr(&b, "BODY=8BITMIME ");
	if (env->smtputf8)
		buf_addstr(&b, "SMTPUTF8 ");
	buf_printf(&b, "<%s>\n", env->sender);
	for (size_t i = 0; i < env->n_rcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		buf_addstr(&b, F_TO);
		if (r->notify)
			buf_printf(&b, "NOTIFY=%u ", r->notify);
		if (r->orcpt)
			buf_printf(&b, "ORCPT=%s ", r->orcpt);
		buf_printf(&b, "<%s>\n", r->addr);
	}
	size_t len;
	char *block = buf_finish(&b, &len);
	if (!block)
		return NULL;
	/* The count line goes on top, outside the count. */
	char first[FIRST_LINE_MAX + 1];
	int fl = snprintf(first, sizeof first, FIRST "%zu\n", len);
	char *out = malloc((size_t)fl + len + 1);
	if (out) {
		memcpy(out, first, (size_t)fl);
		memcpy(out + fl, block, len + 1);
		*len_r = (size_t)fl + len;
	}
	free(block);
	return out;
}

/* ---- reading ---------------------------------------------------------- */

static int
bad(void)
{
	errno = EBADMSG;
	return -1;
}

/* Copies an address "<...>" that ends the line at p (len bytes). */
static int
take_addr(const char *p, size_t len, char **out)
{
	if (len < 2 || p[0] != '<' || p[len - 1] != '>')
		return -1;
	if (!(*out = strndup(p + 1, len - 2)))
		return -1;
	return addr_smtp_safe(*out) ? 0 : -1;
}

/* Splits the tokens before the address off p: *tok_r the next one and
 * its length, or 0 when p is at the address. */
static size_t
next_token(const char **p, size_t *len, const char **tok_r)
{
	if (*len == 0 || **p == '<')
		return 0;
	const char *sp = memchr(*p, ' ', *len);
	if (!sp)
		return 0;
	size_t n = (size_t)(sp - *p);
	*tok_r = *p;
	*p += n + 1;
	*len -= n + 1;
	return n;
}

static int
tok_is(const char *tok, size_t n, const char *key, const char **val_r)
{
	size_t k = strlen(key);
	if (n < k || memcmp(tok, key, k) != 0)
		return 0;
	*val_r = tok + k;
	return 1;
}

static int
dup_param(char **slot, const char *v, size_t n)
{
	if (*slot || n == 0 || n > DSN_ORCPT_MAX || !(*slot = strndup(v, n)))
		return -1;
	return 0;
}

static int
from_parse(struct spool_envelope *env, const char *p, size_t len)
{
	const char *tok, *v;
	size_t n;
	if (env->sender)
		return -1;
	while ((n = next_token(&p, &len, &tok)) > 0) {
		if (tok_is(tok, n, "ENVID=", &v)) {
			if (dup_param(&env->envid, v, n - 6) < 0)
				return -1;
		} else if (n == 8 && !memcmp(tok, "RET=FULL", 8)) {
			env->ret = SPOOL_RET_FULL;
		} else if (n == 8 && !memcmp(tok, "RET=HDRS", 8)) {
			env->ret = SPOOL_RET_HDRS;
		} else if (n == 13 && !memcmp(tok, "BODY=8BITMIME", 13)) {
			env->body_8bit = 1;
		} else if (n == 8 && !memcmp(tok, "SMTPUTF8", 8)) {
			env->smtputf8 = 1;
		} else {
			return -1;
		}
	}
	return take_addr(p, len, &env->sender);
}

static int
to_parse(struct spool_envelope *env, const char *p, size_t len)
{
	if (env->n_rcpts >= SPOOL_RCPTS_MAX)
		return -1;
	if (env->n_rcpts % 16 == 0) {
		struct spool_rcpt *grown = realloc(env->rcpts, (env->n_rcpts + 16) * sizeof *grown);
		if (!grown)
			return -1;
		env->rcpts = grown;
	}
	struct spool_rcpt *r = &env->rcpts[env->n_rcpts++];
	memset(r, 0, sizeof *r);
	const char *tok, *v;
	size_t n;
	while ((n = next_token(&p, &len, &tok)) > 0) {
		if (tok_is(tok, n, "ORCPT=", &v)) {
			if (dup_param(&r->orcpt, v, n - 6) < 0)
				return -1;
		} else if (tok_is(tok, n, "NOTIFY=", &v) && n - 7 >= 1 && n - 7 <= 2) {
			char num[3] = { 0 };
			memcpy(num, v, n - 7);
			char *end;
			unsigned long bits = strtoul(num, &end, 10);
			if (*end || bits > 15 || r->notify)
				return -1;
			r->notify = (unsigned)bits;
		} else {
			return -1;
		}
	}
	/* Only the sender may be the null path. */
	return take_addr(p, len, &r->addr) < 0 || !r->addr[0] ? -1 : 0;
}

static int
text_copy(char *out, size_t size, const char *p, size_t len)
{
	if (out[0] || len == 0 || len >= size)
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < ' ' || (unsigned char)p[i] >= 0x7f)
			return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

static int
line_parse(struct quarantine_info *q, const char *p, size_t len)
{
#define IS(f) (len >= sizeof f - 1 && !memcmp(p, f, sizeof f - 1))
#define VAL(f) p + sizeof f - 1, len - (sizeof f - 1)
	if (IS(F_REASON))
		return text_copy(q->reason, sizeof q->reason, VAL(F_REASON));
	if (IS(F_ID)) {
		if (text_copy(q->id, sizeof q->id, VAL(F_ID)) < 0)
			return -1;
		return quarantine_id_valid(q->id) ? 0 : -1;
	}
	if (IS(F_FROM))
		return from_parse(&q->env, VAL(F_FROM));
	if (IS(F_TO))
		return to_parse(&q->env, VAL(F_TO));
	return -1;
#undef IS
#undef VAL
}

/* The count on the first line, and where the block starts. */
static int
first_line(int fd, size_t *count_r, size_t *start_r)
{
	char line[FIRST_LINE_MAX + 1];
	ssize_t got = pread(fd, line, FIRST_LINE_MAX, 0);
	if (got < 0)
		return -1;
	char *nl = memchr(line, '\n', (size_t)got);
	size_t k = sizeof FIRST - 1;
	if (!nl || (size_t)(nl - line) <= k || memcmp(line, FIRST, k) != 0)
		return bad();
	size_t count = 0;
	for (const char *d = line + k; d < nl; d++) {
		if (*d < '0' || *d > '9' || (d == line + k && *d == '0'))
			return bad();
		count = count * 10 + (size_t)(*d - '0');
	}
	if (count == 0 || count > QUARANTINE_ENVELOPE_MAX)
		return bad();
	*count_r = count;
	*start_r = (size_t)(nl - line) + 1;
	return 0;
}

static int
block_parse(struct quarantine_info *q, const char *b, size_t len)
{
	if (b[len - 1] != '\n' || memchr(b, '\0', len))
		return -1;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(b + off, '\n', len - off);
		if (line_parse(q, b + off, (size_t)(nl - (b + off))) < 0)
			return -1;
		off = (size_t)(nl - b) + 1;
	}
	return q->id[0] && q->reason[0] && q->env.sender && q->env.n_rcpts > 0 ? 0 : -1;
}

int
quarantine_read(int fd, struct quarantine_info *q)
{
	size_t count, start;
	struct stat st;
	memset(q, 0, sizeof *q);
	if (fstat(fd, &st) < 0 || first_line(fd, &count, &start) < 0)
		return -1;
	if ((uint64_t)st.st_size < start + count)
		return bad();
	char *b = malloc(count);
	if (!b)
		return -1;
	ssize_t got = pread(fd, b, count, (off_t)start);
	int rc = got < 0 ? -1 : (size_t)got != count || block_parse(q, b, count) < 0 ? bad() : 0;
	int saved = errno;
	free(b);
	if (rc < 0) {
		quarantine_info_free(q);
		errno = saved;
		return -1;
	}
	q->env.arrival = q->env.next_attempt = st.st_mtime;
	q->msg_off = start + count;
	q->msg_len = (uint64_t)st.st_size - q->msg_off;
	return 0;
}

void
quarantine_info_free(struct quarantine_info *q)
{
	spool_envelope_free(&q->env);
	memset(q, 0, sizeof *q);
}
