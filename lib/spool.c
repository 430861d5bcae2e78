/*
 * spool.c — the outbound queue file: envelope records, then the message.
 *
 * File format (version 1). A spool file is a sequence of records, each
 *
 *     <key letter><decimal length>:<length bytes>\n
 *
 * where the length has no sign and no leading zeros, is at most
 * SPOOL_RECORD_MAX and the field's own maximum (field_max: an address
 * ADDR_PATH_MAX, ORCPT DSN_ORCPT_MAX, ...), and the value bytes are taken verbatim (they may
 * contain LF or any byte except NUL, so no address, DSN parameter or remote
 * reply can forge a record: S26). The trailing LF is checked, not trusted.
 *
 *     V  format version, "1"; always the first record
 *     S  envelope sender ("" for the null path <>)      exactly once
 *     E  ENVID as received (xtext)                       optional
 *     R  RET: "F" (FULL) or "H" (HDRS)                   optional
 *     B  "1" if BODY=8BITMIME                            optional
 *     U  "1" if SMTPUTF8                                 optional
 *     A  authenticated submitter                         optional
 *     a  arrival time, decimal seconds since the epoch   exactly once
 *     n  next attempt, same unit                         exactly once
 *     t  attempts so far, decimal                        exactly once
 *     W  "1" once a delay notice was sent                optional
 *   then per recipient, in order (at least one):
 *     r  recipient address; starts a new recipient
 *     o  ORCPT as received (xtext)                       optional
 *     N  NOTIFY bits (SPOOL_NOTIFY_*), decimal           optional
 *     s  state: "P" pending, "D" delivered, "F" failed,  optional (P)
 *        "B" failed with its failure notice still owed
 *     d  last diagnostic (remote reply or error text)    optional
 *   and last
 *     M  the message length in decimal; the message bytes (LF line ends)
 *        follow at once and end exactly at the end of the file.
 *
 * Envelope fields come before the first r, recipient fields after their r;
 * a key may appear once per scope. Anything else — an unknown key, a
 * repeated key, a missing LF, a file shorter or longer than M says — makes
 * the whole file EBADMSG: a truncated or forged file is never half-parsed
 * (S67), so relay-runner can quarantine it.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "durable.h"
#include "path.h"

#define SPOOL_VERSION "1"

/* The longest value of a field, as the programs that write it bound it:
 * anything longer is a forged or corrupt file, and would be cut by the
 * fixed buffers of whoever shows or sends it (S26, S67). */
static size_t
field_max(char key)
{
	switch (key) {
	case 'S': case 'r': case 'A':
		return ADDR_PATH_MAX;
	case 'E':
		return 3 * DSN_ENVID_MAX;     /* xtext of DSN_ENVID_MAX octets */
	case 'o':
		return DSN_ORCPT_MAX;
	case 'd':
		return RELAY_DIAGNOSTIC_MAX;
	default:
		return SPOOL_RECORD_MAX;
	}
}

/* ---- writing ---------------------------------------------------------- */

/* One record. A value too long for the reader makes the whole write fail
 * (the buffer keeps the first failure). */
static void
rec_add(struct buf *b, char key, const char *value, size_t len)
{
	if (len > field_max(key)) {
		buf_fail(b, E2BIG);
		return;
	}
	buf_printf(b, "%c%zu:", key, len);
	buf_add(b, value, len);
	buf_addc(b, '\n');
}

static void
rec_str(struct buf *b, char key, const char *value)
{
	if (value)
		rec_add(b, key, value, strlen(value));
}

static void
rec_num(struct buf *b, char key, uint64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
	rec_add(b, key, num, (size_t)n);
}

static const char *
state_code(enum spool_rcpt_state st)
{
	switch (st) {
	case SPOOL_RCPT_DELIVERED: return "D";
	case SPOOL_RCPT_FAILED: return "F";
	case SPOOL_RCPT_BOUNCING: return "B";
	default: return "P";
	}
}

/* Serialises the envelope and the M record for msg_len bytes into b, made
 * with the ceiling SPOOL_HEAD_MAX (the reader refuses longer heads). */
static int
envelope_encode(const struct spool_envelope *env, uint64_t msg_len, struct buf *b)
{
	if (!env->sender || env->n_rcpts == 0 || env->n_rcpts > SPOOL_RCPTS_MAX) {
		errno = EINVAL;
		return -1;
	}
	rec_str(b, 'V', SPOOL_VERSION);
	rec_str(b, 'S', env->sender);
	rec_str(b, 'E', env->envid);
	if (env->ret == SPOOL_RET_FULL)
		rec_str(b, 'R', "F");
	else if (env->ret == SPOOL_RET_HDRS)
		rec_str(b, 'R', "H");
	if (env->body_8bit)
		rec_str(b, 'B', "1");
	if (env->smtputf8)
		rec_str(b, 'U', "1");
	rec_str(b, 'A', env->auth_user);
	rec_num(b, 'a', env->arrival < 0 ? 0 : (uint64_t)env->arrival);
	rec_num(b, 'n', env->next_attempt < 0 ? 0 : (uint64_t)env->next_attempt);
	rec_num(b, 't', env->attempts);
	if (env->delay_warned)
		rec_str(b, 'W', "1");
	for (size_t i = 0; i < env->n_rcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		if (!r->addr) {
			errno = EINVAL;
			return -1;
		}
		rec_str(b, 'r', r->addr);
		rec_str(b, 'o', r->orcpt);
		if (r->notify)
			rec_num(b, 'N', r->notify);
		if (r->state != SPOOL_RCPT_PENDING)
			rec_str(b, 's', state_code(r->state));
		rec_str(b, 'd', r->diagnostic);
	}
	rec_num(b, 'M', msg_len);
	if (b->err != 0) {
		errno = b->err;    /* E2BIG or ENOMEM */
		return -1;
	}
	return 0;
}

int
spool_write_fd(int fd, const struct spool_envelope *env, int msg_fd,
    uint64_t msg_offset, uint64_t msg_len)
{
	struct buf b = BUF_INIT(SPOOL_HEAD_MAX);
	int rc = envelope_encode(env, msg_len, &b);
	if (rc == 0)
		rc = durable_write_all(fd, b.s, b.len);
	buf_free(&b);
	if (rc == 0)
		rc = durable_copy_range(fd, msg_fd, msg_offset, msg_len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -1;
	return rc;
}

int
spool_dirs(const char *spool_dir)
{
	static const char *const subdirs[] = { "tmp", "new", NULL };
	char path[PATH_MAX];
	for (size_t i = 0; subdirs[i]; i++) {
		if (path_join(path, sizeof path, spool_dir, subdirs[i], NULL) < 0)
			return -1;
		if (durable_mkdirs(path, 0700) < 0)
			return -1;
	}
	return 0;
}

int
spool_prepare(const char *spool_dir, const struct spool_envelope *env,
    int msg_fd, uint64_t msg_len, struct spool_pending *p)
{
	char name[sizeof p->id];
	memset(p, 0, sizeof *p);
	if (spool_dirs(spool_dir) < 0)
		return -1;
	if (durable_unique_name(name, sizeof name) < 0)
		return -1;
	if (path_join(p->tmp_path, sizeof p->tmp_path, spool_dir, "tmp", name) < 0 ||
	    path_join(p->new_path, sizeof p->new_path, spool_dir, "new", name) < 0)
		return -1;
	int fd = open(p->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (spool_write_fd(fd, env, msg_fd, 0, msg_len) < 0) {
		int e = errno;
		close(fd);
		unlink(p->tmp_path);
		errno = e;
		return -1;
	}
	if (close(fd) < 0) {
		int e = errno;
		unlink(p->tmp_path);
		errno = e;
		return -1;
	}
	memcpy(p->id, name, sizeof p->id);
	return 0;
}

int
spool_commit(struct spool_pending *p)
{
	if (!p->tmp_path[0]) {
		errno = EINVAL;
		return -1;
	}
	/* durable_publish never overwrites and fsyncs new/ before returning. */
	if (durable_publish(p->tmp_path, p->new_path) < 0) {
		int e = errno;
		unlink(p->tmp_path);
		p->tmp_path[0] = '\0';
		errno = e;
		return -1;
	}
	p->tmp_path[0] = '\0';
	return 0;
}

void
spool_abort(struct spool_pending *p)
{
	if (p && p->tmp_path[0]) {
		unlink(p->tmp_path);
		p->tmp_path[0] = '\0';
	}
}

int
spool_withdraw(struct spool_pending *p)
{
	char dir[sizeof p->new_path];
	if (!p->new_path[0] || p->tmp_path[0]) {
		errno = EINVAL;
		return -1;
	}
	memcpy(dir, p->new_path, sizeof dir);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (unlink(p->new_path) < 0)
		return -1;
	p->new_path[0] = '\0';
	return durable_fsync_dir(slash ? dir : ".");
}

int
spool_rewrite(const char *spool_dir, const char *final_path,
    const struct spool_envelope *env, int src_fd, uint64_t msg_offset, uint64_t msg_len)
{
	char name[128], tmp[PATH_MAX], dir[PATH_MAX];
	if (durable_unique_name(name, sizeof name) < 0 ||
	    path_join(tmp, sizeof tmp, spool_dir, "tmp", name) < 0)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	int rc = spool_write_fd(fd, env, src_fd, msg_offset, msg_len);
	if (close(fd) < 0)
		rc = -1;
	if (rc == 0)
		rc = rename(tmp, final_path);
	if (rc < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	/* The rename is durable only once the directory is synced. */
	size_t n = strlen(final_path);
	if (n >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, final_path, n + 1);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	return durable_fsync_dir(dir);
}

/* ---- reading ---------------------------------------------------------- */

/* A reader over the head of the file: records are small, so the head is
 * read into memory (bounded by SPOOL_HEAD_MAX) and parsed there. */
struct reader {
	const char *p;
	size_t len, pos;
};

static int
bad(void)
{
	errno = EBADMSG;
	return -1;
}

/* Parses one record at r->pos. Returns 0 and sets key, value (pointing into
 * the head buffer) and len; -1 with EBADMSG when malformed or cut short. */
static int
rec_next(struct reader *r, char *key_r, const char **val_r, size_t *len_r)
{
	size_t pos = r->pos, len = 0, digits = 0;
	if (pos >= r->len)
		return bad();
	*key_r = r->p[pos++];
	while (pos < r->len && r->p[pos] >= '0' && r->p[pos] <= '9') {
		len = len * 10 + (size_t)(r->p[pos] - '0');
		if (++digits > 9 || len > SPOOL_RECORD_MAX)
			return bad();
		pos++;
	}
	if (digits > 1 && r->p[pos - digits] == '0')
		return bad();              /* leading zero: one spelling per length */
	if (digits == 0 || pos >= r->len || r->p[pos] != ':')
		return bad();
	pos++;
	if (len > r->len - pos || r->len - pos - len < 1 || r->p[pos + len] != '\n')
		return bad();
	if (memchr(r->p + pos, '\0', len))
		return bad();
	*val_r = r->p + pos;
	*len_r = len;
	r->pos = pos + len + 1;
	return 0;
}

static int
val_dup(char key, char **slot, const char *val, size_t len)
{
	if (*slot || len > field_max(key))
		return bad();              /* repeated key, or too long for it */
	*slot = strndup(val, len);
	return *slot ? 0 : -1;
}

static int
val_num(const char *val, size_t len, uint64_t max, uint64_t *r)
{
	uint64_t v = 0;
	if (len == 0 || len > 20 || (len > 1 && val[0] == '0'))
		return bad();
	for (size_t i = 0; i < len; i++) {
		if (val[i] < '0' || val[i] > '9')
			return bad();
		unsigned d = (unsigned)(val[i] - '0');
		if (v > (max - d) / 10)
			return bad();
		v = v * 10 + d;
	}
	*r = v;
	return 0;
}

static int
val_flag(const char *val, size_t len, int *slot, int *seen)
{
	if (*seen || len != 1 || val[0] != '1')
		return bad();
	*seen = 1;
	*slot = 1;
	return 0;
}

/* Which fields have been seen: a key may appear once per scope. */
struct seen {
	int R, B, U, W, a, n, t;
	int N, s;
};

static int
env_field(struct spool_envelope *env, struct seen *seen, char key, const char *val, size_t len)
{
	uint64_t v;
	switch (key) {
	case 'S': return val_dup(key, &env->sender, val, len);
	case 'E': return val_dup(key, &env->envid, val, len);
	case 'A': return val_dup(key, &env->auth_user, val, len);
	case 'R':
		if (seen->R++ || len != 1 || (val[0] != 'F' && val[0] != 'H'))
			return bad();
		env->ret = val[0] == 'F' ? SPOOL_RET_FULL : SPOOL_RET_HDRS;
		return 0;
	case 'B': return val_flag(val, len, &env->body_8bit, &seen->B);
	case 'U': return val_flag(val, len, &env->smtputf8, &seen->U);
	case 'W': return val_flag(val, len, &env->delay_warned, &seen->W);
	case 'a':
	case 'n':
		if ((key == 'a' ? seen->a++ : seen->n++) || val_num(val, len, INT64_MAX, &v) < 0)
			return bad();
		*(key == 'a' ? &env->arrival : &env->next_attempt) = (time_t)v;
		return 0;
	case 't':
		if (seen->t++ || val_num(val, len, UINT_MAX, &v) < 0)
			return bad();
		env->attempts = (unsigned)v;
		return 0;
	default:
		return bad();
	}
}

static int
rcpt_add(struct spool_envelope *env, const char *val, size_t len)
{
	if (env->n_rcpts >= SPOOL_RCPTS_MAX)
		return bad();
	struct spool_rcpt *nr = realloc(env->rcpts, (env->n_rcpts + 1) * sizeof *nr);
	if (!nr)
		return -1;
	env->rcpts = nr;
	struct spool_rcpt *r = &nr[env->n_rcpts++];
	memset(r, 0, sizeof *r);
	return val_dup('r', &r->addr, val, len);
}

static int
rcpt_field(struct spool_rcpt *r, struct seen *seen, char key, const char *val, size_t len)
{
	uint64_t v;
	switch (key) {
	case 'o': return val_dup(key, &r->orcpt, val, len);
	case 'd': return val_dup(key, &r->diagnostic, val, len);
	case 'N':
		if (seen->N++ || val_num(val, len, 15, &v) < 0 || v == 0)
			return bad();
		r->notify = (unsigned)v;
		return 0;
	case 's':
		if (seen->s++ || len != 1)
			return bad();
		if (val[0] == 'P')
			r->state = SPOOL_RCPT_PENDING;
		else if (val[0] == 'D')
			r->state = SPOOL_RCPT_DELIVERED;
		else if (val[0] == 'F')
			r->state = SPOOL_RCPT_FAILED;
		else if (val[0] == 'B')
			r->state = SPOOL_RCPT_BOUNCING;
		else
			return bad();
		return 0;
	default:
		return bad();
	}
}

/* Parses records up to and including M. Returns 0 with the message length
 * in *msg_len_r and the head length consumed in r->pos. */
static int
envelope_parse(struct reader *r, struct spool_envelope *env, uint64_t *msg_len_r)
{
	struct seen seen = { 0 };
	char key;
	const char *val;
	size_t len;
	if (rec_next(r, &key, &val, &len) < 0 || key != 'V' ||
	    len != strlen(SPOOL_VERSION) || memcmp(val, SPOOL_VERSION, len) != 0)
		return bad();
	for (;;) {
		if (rec_next(r, &key, &val, &len) < 0)
			return -1;
		if (key == 'M') {
			if (!env->sender || env->n_rcpts == 0 || !seen.a || !seen.n || !seen.t)
				return bad();
			return val_num(val, len, UINT64_MAX, msg_len_r);
		}
		if (key == 'r') {
			seen.N = seen.s = 0;
			if (rcpt_add(env, val, len) < 0)
				return -1;
		} else if (env->n_rcpts == 0) {
			if (env_field(env, &seen, key, val, len) < 0)
				return -1;
		} else if (rcpt_field(&env->rcpts[env->n_rcpts - 1], &seen, key, val, len) < 0) {
			return -1;
		}
	}
}

/* Reads up to len bytes from offset 0; fewer only at end of file. */
static int
read_at(int fd, char *buf, size_t len, size_t *got_r)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*got_r = got;
	return 0;
}

int
spool_read(int fd, struct spool_envelope *env, uint64_t *msg_offset_r, uint64_t *msg_len_r)
{
	struct stat st;
	memset(env, 0, sizeof *env);
	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode))
		return bad();
	uint64_t size = (uint64_t)st.st_size;
	/* Most heads are small: read 64 KiB and grow only while the envelope
	 * runs past what was read, up to SPOOL_HEAD_MAX. */
	size_t want = SPOOL_HEAD_MIN;
	struct reader r;
	uint64_t msg_len = 0;
	int rc;
	for (;;) {
		size_t head_len = size < want ? (size_t)size : want;
		char *head = malloc(head_len ? head_len : 1);
		if (!head)
			return -1;
		size_t got = 0;
		if (read_at(fd, head, head_len, &got) < 0) {
			free(head);
			return -1;
		}
		r = (struct reader){ head, got, 0 };
		rc = envelope_parse(&r, env, &msg_len);
		free(head);
		if (rc == 0 || errno != EBADMSG || got < want || want >= SPOOL_HEAD_MAX)
			break;
		spool_envelope_free(env);
		want *= 4;
		if (want > SPOOL_HEAD_MAX)
			want = SPOOL_HEAD_MAX;
	}
	/* The message must end exactly at the end of the file: shorter is a
	 * truncation, longer is garbage nobody wrote. */
	if (rc == 0 && (msg_len > size - r.pos || size - r.pos != msg_len))
		rc = bad();
	if (rc < 0) {
		int e = errno;
		spool_envelope_free(env);
		errno = e;
		return -1;
	}
	*msg_offset_r = r.pos;
	*msg_len_r = msg_len;
	return 0;
}

void
spool_envelope_free(struct spool_envelope *env)
{
	if (!env)
		return;
	for (size_t i = 0; i < env->n_rcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].diagnostic);
	}
	free(env->rcpts);
	free(env->sender);
	free(env->envid);
	free(env->auth_user);
	memset(env, 0, sizeof *env);
}
