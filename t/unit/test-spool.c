/*
 * Unit tests for lib/spool: every envelope field round-trips byte-exact
 * (S26), every truncation and forgery of a valid file is refused (S67),
 * prepare/commit/abort leave the right files.
 *
 * With arguments this binary is also the relay tests' helper:
 *   test-spool enqueue SPOOL [-f SENDER] [-r RCPT [-n NOTIFY] [-o ORCPT]]...
 *       [-R F|H] [-E ENVID] [-8] [-U] [-A SECONDS_AGO] [-c COUNT] < message
 *     queues the message (LF line ends) COUNT times, prints each id;
 *   test-spool dump FILE
 *     prints the envelope, one "key value" line per field (values escaped).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "spool.h"
#include "unit.h"

static char scratch[] = "/tmp/yubin-spool-XXXXXX";

static int
memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("msg", 0);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	return fd;
}

static int
file_with(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	return fd;
}

static char *
slurp(int fd, size_t *len_r)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		abort();
	char *p = malloc((size_t)st.st_size + 1);
	if (!p || pread(fd, p, (size_t)st.st_size, 0) != st.st_size)
		abort();
	*len_r = (size_t)st.st_size;
	return p;
}

static int
streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Odd bytes an attacker might put in a field to forge a record. */
#define ODD "a\nS5:evil\nr3:x@y\nM0:\n\r\x01\xff:42\\@example.org"

static void
fill_envelope(struct spool_envelope *e, struct spool_rcpt *r)
{
	memset(e, 0, sizeof *e);
	e->sender = ODD;
	e->envid = "env+0Aid\n";
	e->ret = SPOOL_RET_HDRS;
	e->body_8bit = 1;
	e->smtputf8 = 1;
	e->auth_user = "alice@example.org\nA3:bob";
	e->arrival = 1700000000;
	e->next_attempt = 1700000300;
	e->attempts = 7;
	e->delay_warned = 1;
	e->rcpts = r;
	e->n_rcpts = 3;
	r[0] = (struct spool_rcpt){ "bob@example.net", "rfc822;bob+0A@example.net",
	    SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY, SPOOL_RCPT_PENDING, NULL };
	r[1] = (struct spool_rcpt){ ODD, NULL, SPOOL_NOTIFY_NEVER, SPOOL_RCPT_DELIVERED,
	    "250 ok\nd9:forged" };
	r[2] = (struct spool_rcpt){ "\xe7\x94\xa8@\xe4\xbe\x8b.jp", NULL, 0, SPOOL_RCPT_FAILED,
	    "550 5.1.1 no\r\n" };
}

static int
envelopes_equal(const struct spool_envelope *a, const struct spool_envelope *b)
{
	if (!streq(a->sender, b->sender) || !streq(a->envid, b->envid) || a->ret != b->ret ||
	    a->body_8bit != b->body_8bit || a->smtputf8 != b->smtputf8 ||
	    !streq(a->auth_user, b->auth_user) || a->arrival != b->arrival ||
	    a->next_attempt != b->next_attempt || a->attempts != b->attempts ||
	    a->delay_warned != b->delay_warned ||
	    a->n_rcpts != b->n_rcpts)
		return 0;
	for (size_t i = 0; i < a->n_rcpts; i++) {
		const struct spool_rcpt *x = &a->rcpts[i], *y = &b->rcpts[i];
		if (!streq(x->addr, y->addr) || !streq(x->orcpt, y->orcpt) ||
		    x->notify != y->notify || x->state != y->state ||
		    !streq(x->diagnostic, y->diagnostic))
			return 0;
	}
	return 1;
}

static const char message[] = "Subject: t\n\n.\n..\nbinary \x01\x80\xff\nS5:no\nlast";

/* Writes a valid file and returns its bytes. */
static char *
valid_file(size_t *len_r)
{
	struct spool_envelope e;
	struct spool_rcpt r[3];
	fill_envelope(&e, r);
	char path[256];
	snprintf(path, sizeof path, "%s/valid", scratch);
	int fd = file_with(path, "", 0);
	int msg = memfd_with(message, sizeof message - 1);
	if (spool_write_fd(fd, &e, msg, 0, sizeof message - 1) < 0)
		abort();
	char *p = slurp(fd, len_r);
	close(fd);
	close(msg);
	return p;
}

/* 0 if spool_read accepts the bytes, else the errno it failed with. */
static int
read_bytes(const char *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof path, "%s/probe", scratch);
	int fd = file_with(path, data, len);
	struct spool_envelope e;
	uint64_t off, mlen;
	int rc = spool_read(fd, &e, &off, &mlen);
	int err = rc < 0 ? errno : 0;
	if (rc == 0)
		spool_envelope_free(&e);
	close(fd);
	return err;
}

static void
test_round_trip(void)
{
	size_t len;
	char *bytes = valid_file(&len);
	char path[256];
	snprintf(path, sizeof path, "%s/rt", scratch);
	int fd = file_with(path, bytes, len);
	struct spool_envelope want, got;
	struct spool_rcpt r[3];
	uint64_t off = 0, mlen = 0;
	fill_envelope(&want, r);
	CHECK(spool_read(fd, &got, &off, &mlen) == 0, "valid file reads");
	CHECK(envelopes_equal(&want, &got), "every envelope field byte-exact (covers S26)");
	CHECK(mlen == sizeof message - 1 && off + mlen == len, "message length and offset");
	CHECK(off < len && memcmp(bytes + off, message, sizeof message - 1) == 0,
	    "message bytes byte-exact");
	spool_envelope_free(&got);
	CHECK(got.sender == NULL && got.rcpts == NULL, "free clears the envelope");

	/* Minimal envelope: null sender, no optional fields. */
	struct spool_rcpt one = { "x@example.net", NULL, 0, SPOOL_RCPT_PENDING, NULL };
	struct spool_envelope min = { .sender = "", .rcpts = &one, .n_rcpts = 1 };
	int out = file_with(path, "", 0), msg = memfd_with("", 0);
	CHECK(spool_write_fd(out, &min, msg, 0, 0) == 0, "minimal envelope written");
	CHECK(spool_read(out, &got, &off, &mlen) == 0 && envelopes_equal(&min, &got) && mlen == 0,
	    "null sender and empty message round-trip");
	spool_envelope_free(&got);
	close(out);
	close(msg);
	close(fd);
	free(bytes);
}

/* An envelope far larger than the first read (SPOOL_HEAD_MIN): the reader
 * grows its buffer and still gets every field. */
static void
test_big_envelope(void)
{
	enum { N = 300 };
	static struct spool_rcpt r[N];
	static char addrs[N][64], diags[N][400];
	struct spool_envelope e = { .sender = "big@example.org", .rcpts = r, .n_rcpts = N };
	for (size_t i = 0; i < N; i++) {
		snprintf(addrs[i], sizeof addrs[i], "rcpt%zu@example.net", i);
		memset(diags[i], 'd', sizeof diags[i] - 1);
		diags[i][sizeof diags[i] - 1] = '\0';
		r[i] = (struct spool_rcpt){ addrs[i], NULL, 0, SPOOL_RCPT_PENDING, diags[i] };
	}
	char path[256];
	snprintf(path, sizeof path, "%s/big", scratch);
	int fd = file_with(path, "", 0), msg = memfd_with(message, sizeof message - 1);
	struct spool_envelope got;
	uint64_t off, len;
	CHECK(spool_write_fd(fd, &e, msg, 0, sizeof message - 1) == 0, "big envelope written");
	CHECK(spool_read(fd, &got, &off, &len) == 0 && off > 4 * SPOOL_HEAD_MIN &&
	    envelopes_equal(&e, &got) && len == sizeof message - 1,
	    "an envelope larger than the first read comes back whole");
	spool_envelope_free(&got);
	close(fd);
	close(msg);
}

static void
test_truncations(void)
{
	size_t len;
	char *bytes = valid_file(&len);
	size_t bad = 0, wrong_errno = 0;
	for (size_t k = 0; k < len; k++) {
		int err = read_bytes(bytes, k);
		if (err == 0)
			bad++;
		else if (err != EBADMSG)
			wrong_errno++;
	}
	CHECK(bad == 0, "every truncation of a valid file is refused (covers S67)");
	CHECK(wrong_errno == 0, "truncations fail with EBADMSG");
	CHECK(read_bytes(bytes, len) == 0, "the whole file is accepted");
	char *longer = malloc(len + 1);
	memcpy(longer, bytes, len);
	longer[len] = 'x';
	CHECK(read_bytes(longer, len + 1) == EBADMSG, "a trailing byte is refused");
	free(longer);

	/* Flip each structural byte of the envelope (key, length digits, ':'
	 * and LF): every such file must be refused, none half-parsed. */
	size_t head = len - (sizeof message - 1), structural = 0, accepted = 0;
	for (size_t pos = 0; pos < head;) {
		size_t start = pos, vlen = 0;
		pos++;
		while (bytes[pos] >= '0' && bytes[pos] <= '9')
			vlen = vlen * 10 + (size_t)(bytes[pos++] - '0');
		size_t value = pos + 1, lf = value + vlen;
		for (size_t k = start; k <= lf; k++) {
			if (k >= value && k < lf)
				continue;
			char saved = bytes[k];
			bytes[k] = (char)(saved ^ 0x40);
			structural++;
			if (read_bytes(bytes, len) == 0)
				accepted++;
			bytes[k] = saved;
		}
		pos = lf + 1;
	}
	CHECK(structural > 50 && accepted == 0, "every flipped structural byte is refused");
	free(bytes);
}

static void
test_forgeries(void)
{
	static const struct {
		const char *data;
		const char *name;
	} cases[] = {
		{ "", "empty file" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\nM1:0\n", "valid minimal (control)" },
		{ "V1:2\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\nM1:0\n", "unknown version" },
		{ "S0:\na1:0\nn1:0\nt1:0\nr3:a@b\nM1:0\n", "no version record" },
		{ "V1:1\nS0:\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\nM1:0\n", "repeated sender" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nM1:0\n", "no recipient" },
		{ "V1:1\na1:0\nn1:0\nt1:0\nr3:a@b\nM1:0\n", "no sender" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\n", "no end record" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\nM1:1\n", "message shorter than M" },
		{ "V1:1\nS00:\na1:0\nn1:0\nt1:0\nr3:a@b\nM1:0\n", "leading zero in length" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nr3:a@bX1:1\nM1:0\n", "missing LF after value" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\nZ1:1\nM1:0\n", "unknown key" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\ns1:X\nM1:0\n", "unknown state" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\ns1:D\ns1:D\nM1:0\n", "repeated state" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\nN2:99\nM1:0\n", "notify out of range" },
		{ "V1:1\nS0:\na2:-1\nn1:0\nt1:0\nr3:a@b\nM1:0\n", "negative time" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt11:99999999999\nr3:a@b\nM1:0\n", "attempts overflow" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\nM21:999999999999999999999\n", "huge length" },
		{ "V1:1\nS3:a\0b\na1:0\nn1:0\nt1:0\nr3:a@b\nM1:0\n", "NUL in a value" },
		{ "V1:1\nS0:\na1:0\nn1:0\nt1:0\nr3:a@b\nS0:\nM1:0\n", "envelope key after recipient" },
		{ "V1:1\nS0:\nS99999:\n", "record longer than the maximum" },
		{ "V1:1\nS:\na1:0\nn1:0\nt1:0\nr3:a@b\nM1:0\n", "length missing" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *d = cases[i].data;
		size_t len = strlen(d);
		if (strstr(cases[i].name, "NUL"))
			len = strlen(d) + 1 + strlen(d + strlen(d) + 1);
		int err = read_bytes(d, len);
		char name[128];
		if (i == 1) {
			CHECK(err == 0, cases[i].name);
			continue;
		}
		snprintf(name, sizeof name, "refused: %s (covers S26, S67)", cases[i].name);
		CHECK(err == EBADMSG, name);
	}
}

/* A queue file whose field is longer than any writer of ours makes it
 * (and than the buffers that show or send it) is refused, the longest
 * allowed one read whole; the writer refuses the same. */
static void
test_field_limits(void)
{
	static const struct {
		char key;
		size_t max;
		const char *name;
	} f[] = {
		{ 'S', ADDR_PATH_MAX, "sender" },
		{ 'r', ADDR_PATH_MAX, "recipient" },
		{ 'o', DSN_ORCPT_MAX, "ORCPT" },
		{ 'E', 3 * DSN_ENVID_MAX, "ENVID" },
		{ 'd', RELAY_DIAGNOSTIC_MAX, "diagnostic" },
	};
	char *val = malloc(RELAY_DIAGNOSTIC_MAX + 2), *file = malloc(RELAY_DIAGNOSTIC_MAX + 200);
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		for (size_t len = f[i].max; len <= f[i].max + 1; len++) {
			memset(val, 'a', len);
			val[len] = '\0';
			char rec[RELAY_DIAGNOSTIC_MAX + 16];
			snprintf(rec, sizeof rec, "%c%zu:%s\n", f[i].key, len, val);
			char k = f[i].key;
			int n = snprintf(file, RELAY_DIAGNOSTIC_MAX + 200, "V1:1\n%s%sa1:0\nn1:0\nt1:0\n%s%sM1:0\n",
			    k == 'S' ? rec : "S0:\n", k == 'E' ? rec : "", k == 'r' ? rec : "r3:a@b\n",
			    k == 'o' || k == 'd' ? rec : "");
			char name[128];
			snprintf(name, sizeof name, "%s of %zu bytes %s", f[i].name, len,
			    len > f[i].max ? "refused (covers S26)" : "read");
			int err = read_bytes(file, (size_t)n);
			CHECK(len > f[i].max ? err == EBADMSG : err == 0, name);
		}
	}
	memset(val, 'a', ADDR_PATH_MAX + 1);
	val[ADDR_PATH_MAX + 1] = '\0';
	struct spool_rcpt one = { val, NULL, 0, SPOOL_RCPT_PENDING, NULL };
	struct spool_envelope e = { .sender = "", .rcpts = &one, .n_rcpts = 1 };
	char path[256];
	snprintf(path, sizeof path, "%s/long-rcpt", scratch);
	int fd = file_with(path, "", 0), msg = memfd_with("", 0);
	CHECK(spool_write_fd(fd, &e, msg, 0, 0) == -1 && errno == E2BIG,
	    "writer refuses a recipient longer than an address may be");
	close(fd);
	close(msg);
	free(val);
	free(file);
}

static void
test_writer_limits(void)
{
	char *huge = malloc(SPOOL_RECORD_MAX + 2);
	memset(huge, 'a', SPOOL_RECORD_MAX + 1);
	huge[SPOOL_RECORD_MAX + 1] = '\0';
	struct spool_rcpt one = { huge, NULL, 0, SPOOL_RCPT_PENDING, NULL };
	struct spool_envelope e = { .sender = "", .rcpts = &one, .n_rcpts = 1 };
	char path[256];
	snprintf(path, sizeof path, "%s/huge", scratch);
	int fd = file_with(path, "", 0), msg = memfd_with("", 0);
	CHECK(spool_write_fd(fd, &e, msg, 0, 0) == -1 && errno == E2BIG,
	    "writer refuses a field the reader would refuse");
	e.n_rcpts = 0;
	CHECK(spool_write_fd(fd, &e, msg, 0, 0) == -1 && errno == EINVAL, "no recipient refused");
	close(fd);
	close(msg);
	free(huge);
}

static size_t
count_dir(const char *spool, const char *sub)
{
	char path[512], cmd[600];
	snprintf(path, sizeof path, "%s/%s", spool, sub);
	snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null | wc -l", path);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	if (!p || fscanf(p, "%zu", &n) != 1)
		n = (size_t)-1;
	if (p)
		pclose(p);
	return n;
}

static void
test_prepare_commit(void)
{
	char spool[256];
	snprintf(spool, sizeof spool, "%s/spool", scratch);
	struct spool_envelope e;
	struct spool_rcpt r[3];
	fill_envelope(&e, r);
	int msg = memfd_with(message, sizeof message - 1);
	struct spool_pending p;
	CHECK(spool_prepare(spool, &e, msg, sizeof message - 1, &p) == 0, "prepare");
	CHECK(count_dir(spool, "tmp") == 1 && count_dir(spool, "new") == 0,
	    "prepared file in tmp/ only");
	CHECK(p.id[0] && strchr(p.id, '/') == NULL, "id is a plain file name");
	CHECK(spool_commit(&p) == 0, "commit");
	CHECK(count_dir(spool, "tmp") == 0 && count_dir(spool, "new") == 1,
	    "committed file in new/ only");
	int fd = open(p.new_path, O_RDONLY);
	struct spool_envelope got;
	uint64_t off, mlen;
	CHECK(fd >= 0 && spool_read(fd, &got, &off, &mlen) == 0 && envelopes_equal(&e, &got),
	    "committed file reads back");
	spool_envelope_free(&got);

	/* Rewrite with a changed recipient state, as relay-runner does. */
	r[0].state = SPOOL_RCPT_DELIVERED;
	r[0].diagnostic = "250 2.0.0 queued";
	r[2].state = SPOOL_RCPT_BOUNCING;     /* its failure notice still owed */
	e.attempts = 8;
	CHECK(spool_rewrite(spool, p.new_path, &e, fd, off, mlen) == 0, "rewrite");
	close(fd);
	fd = open(p.new_path, O_RDONLY);
	size_t len;
	char *bytes = fd >= 0 ? slurp(fd, &len) : NULL;
	CHECK(fd >= 0 && spool_read(fd, &got, &off, &mlen) == 0 && envelopes_equal(&e, &got) &&
	    mlen == sizeof message - 1 && memcmp(bytes + off, message, mlen) == 0,
	    "rewritten file has the new state and the same message");
	CHECK(count_dir(spool, "tmp") == 0, "rewrite leaves nothing in tmp/");
	spool_envelope_free(&got);
	free(bytes);
	close(fd);

	CHECK(spool_prepare(spool, &e, msg, sizeof message - 1, &p) == 0, "prepare again");
	spool_abort(&p);
	CHECK(count_dir(spool, "tmp") == 0 && count_dir(spool, "new") == 1,
	    "abort removes the tmp file");
	close(msg);
}

/* ---- helper mode for the relay tests ---------------------------------- */

static int
helper_enqueue(int argc, char **argv)
{
	if (argc < 3)
		return 100;
	const char *spool = argv[2];
	struct spool_envelope e = { .sender = "" };
	struct spool_rcpt *r = calloc((size_t)argc, sizeof *r);
	unsigned long count = 1;
	long ago = 0;
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-8")) { e.body_8bit = 1; continue; }
		if (!strcmp(a, "-U")) { e.smtputf8 = 1; continue; }
		if (!v)
			return 100;
		i++;
		if (!strcmp(a, "-f")) e.sender = (char *)v;
		else if (!strcmp(a, "-r")) r[e.n_rcpts++].addr = (char *)v;
		else if (!strcmp(a, "-n") && e.n_rcpts) r[e.n_rcpts - 1].notify = (unsigned)atoi(v);
		else if (!strcmp(a, "-o") && e.n_rcpts) r[e.n_rcpts - 1].orcpt = (char *)v;
		else if (!strcmp(a, "-R")) e.ret = v[0] == 'F' ? SPOOL_RET_FULL : SPOOL_RET_HDRS;
		else if (!strcmp(a, "-E")) e.envid = (char *)v;
		else if (!strcmp(a, "-A")) ago = atol(v);
		else if (!strcmp(a, "-c")) count = strtoul(v, NULL, 10);
		else return 100;
	}
	e.rcpts = r;
	e.arrival = time(NULL) - ago;
	e.next_attempt = e.arrival;
	char *text = NULL;
	size_t len = 0, cap = 0;
	char buf[65536];
	ssize_t n;
	while ((n = read(0, buf, sizeof buf)) > 0) {
		if (len + (size_t)n > cap) {
			cap = (len + (size_t)n) * 2;
			if (!(text = realloc(text, cap)))
				return 111;
		}
		memcpy(text + len, buf, (size_t)n);
		len += (size_t)n;
	}
	/* "@SEQ@" in the message becomes the copy's number, so tests can tell
	 * the copies apart. */
	const char *seq = text ? memmem(text, len, "@SEQ@", 5) : NULL;
	for (unsigned long i = 0; i < count; i++) {
		int msg = memfd_create("msg", 0);
		char num[32];
		size_t pre = seq ? (size_t)(seq - text) : len;
		int nl = snprintf(num, sizeof num, "%lu", i);
		if (msg < 0 || (pre && write(msg, text, pre) != (ssize_t)pre))
			return 111;
		uint64_t mlen = pre;
		if (seq) {
			size_t post = len - pre - 5;
			if (write(msg, num, (size_t)nl) != nl ||
			    (post && write(msg, seq + 5, post) != (ssize_t)post))
				return 111;
			mlen += (uint64_t)nl + post;
		}
		struct spool_pending p;
		if (spool_prepare(spool, &e, msg, mlen, &p) < 0 || spool_commit(&p) < 0) {
			perror("spool");
			return 111;
		}
		close(msg);
		printf("%s\n", p.id);
	}
	free(text);
	free(r);
	return 0;
}

static void
dump_str(const char *key, const char *s)
{
	if (!s)
		return;
	printf("%s ", key);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '\\')
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('\n');
}

static int
helper_dump(const char *path)
{
	int fd = open(path, O_RDONLY);
	struct spool_envelope e;
	uint64_t off, len;
	if (fd < 0 || spool_read(fd, &e, &off, &len) < 0) {
		perror(path);
		return 1;
	}
	dump_str("sender", e.sender);
	dump_str("envid", e.envid);
	printf("ret %d\nbody_8bit %d\nsmtputf8 %d\n", (int)e.ret, e.body_8bit, e.smtputf8);
	printf("arrival %lld\nnext_attempt %lld\nattempts %u\ndelay_warned %d\n",
	    (long long)e.arrival, (long long)e.next_attempt, e.attempts, e.delay_warned);
	for (size_t i = 0; i < e.n_rcpts; i++) {
		dump_str("rcpt", e.rcpts[i].addr);
		printf("state %d\nnotify %u\n", (int)e.rcpts[i].state, e.rcpts[i].notify);
		dump_str("diagnostic", e.rcpts[i].diagnostic);
	}
	printf("message_length %llu\n", (unsigned long long)len);
	spool_envelope_free(&e);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "enqueue"))
		return helper_enqueue(argc, argv);
	if (argc > 2 && !strcmp(argv[1], "dump"))
		return helper_dump(argv[2]);
	if (!mkdtemp(scratch))
		abort();
	test_round_trip();
	test_big_envelope();
	test_truncations();
	test_forgeries();
	test_writer_limits();
	test_field_limits();
	test_prepare_commit();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
	if (system(cmd) != 0)
		CHECK(0, "scratch removed");
	return unit_done();
}
