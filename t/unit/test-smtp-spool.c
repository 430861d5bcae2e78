/* test-smtp-spool — what smtp-session puts in the spool, read back through
 * lib/spool.h (S26).
 *
 * Without arguments: envelope fields an SMTP client controls (sender,
 * ENVID, ORCPT, AUTH identity) holding every byte a line-oriented format
 * would choke on survive write → read unchanged, and a file cut anywhere is
 * refused rather than half-read.
 * With `--dump FILE`: prints the envelope and message of a spool file, each
 * field in hex, for t/0103-smtp-relay.t to compare bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "unit.h"

static void
print_hex(const char *label, const char *v, size_t len)
{
	printf("%s ", label);
	if (!v) {
		printf("-\n");
		return;
	}
	for (size_t i = 0; i < len; i++)
		printf("%02x", (unsigned char)v[i]);
	printf("\n");
}

static void
print_str(const char *label, const char *v)
{
	print_hex(label, v, v ? strlen(v) : 0);
}

static int
dump(const char *path)
{
	struct spool_envelope env;
	uint64_t off, len;
	int fd = open(path, O_RDONLY);
	if (fd < 0 || spool_read(fd, &env, &off, &len) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	print_str("sender", env.sender);
	print_str("envid", env.envid);
	printf("ret %d\nbody8bit %d\nsmtputf8 %d\n", (int)env.ret, env.body_8bit, env.smtputf8);
	print_str("auth", env.auth_user);
	for (size_t i = 0; i < env.n_rcpts; i++) {
		print_str("rcpt", env.rcpts[i].addr);
		print_str("orcpt", env.rcpts[i].orcpt);
		printf("notify %u\nstate %d\n", env.rcpts[i].notify, (int)env.rcpts[i].state);
	}
	char *msg = malloc(len ? len : 1);
	if (!msg || pread(fd, msg, len, (off_t)off) != (ssize_t)len) {
		fprintf(stderr, "%s: short message\n", path);
		return 1;
	}
	print_hex("message", msg, len);
	free(msg);
	spool_envelope_free(&env);
	close(fd);
	return 0;
}

/* A message file with LF line ends, as smtp-session hands it over. */
static int
message_fd(const char *text)
{
	char path[] = "/tmp/yubin-unit-msg-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -1;
	return fd;
}

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void
test_round_trip(void)
{
	static const char msg[] = "Subject: x\n\nM5:hello\nr3:bad\n";
	char sender[] = "a\nS3:bad\rM1:x@example.com";
	char orcpt[] = "rfc822;a+0AXbad\nr13:evil@example";
	char envid[] = "x\ny\x01z";
	char auth[] = "alice@example.org\nA5:mallory";
	char addr[] = "bob@example.net";
	struct spool_rcpt rcpt = { .addr = addr, .orcpt = orcpt,
	    .notify = SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_FAILURE };
	struct spool_envelope env = { .sender = sender, .envid = envid, .ret = SPOOL_RET_HDRS,
	    .body_8bit = 1, .smtputf8 = 1, .auth_user = auth, .arrival = 1700000000,
	    .next_attempt = 1700000000, .rcpts = &rcpt, .n_rcpts = 1 };
	int mfd = message_fd(msg);
	char path[] = "/tmp/yubin-unit-spool-XXXXXX";
	int fd = mkstemp(path);
	CHECK(mfd >= 0 && fd >= 0, "S26: temp files");
	if (mfd < 0 || fd < 0)
		return;
	unlink(path);
	CHECK(spool_write_fd(fd, &env, mfd, 0, strlen(msg)) == 0, "S26: hostile envelope written");
	struct spool_envelope back;
	uint64_t off, len;
	CHECK(spool_read(fd, &back, &off, &len) == 0, "S26: and read back");
	CHECK(same(back.sender, sender) && same(back.envid, envid) && same(back.auth_user, auth),
	    "S26: sender, ENVID and AUTH identity with CR/LF come back byte for byte");
	CHECK(back.n_rcpts == 1 && same(back.rcpts[0].addr, addr) &&
	    same(back.rcpts[0].orcpt, orcpt) && back.rcpts[0].notify == rcpt.notify,
	    "S26: one recipient, ORCPT with LF intact, no forged second recipient");
	CHECK(back.ret == SPOOL_RET_HDRS && back.body_8bit && back.smtputf8,
	    "S26: RET, BODY and SMTPUTF8 flags survive");
	char got[sizeof msg];
	CHECK(len == strlen(msg) && pread(fd, got, len, (off_t)off) == (ssize_t)len &&
	    memcmp(got, msg, len) == 0, "S26: message bytes that look like records stay message");
	spool_envelope_free(&back);

	/* Every truncation is refused, never half-read (S67). */
	off_t size = lseek(fd, 0, SEEK_END);
	int refused = 1;
	for (off_t cut = 0; cut < size; cut++) {
		if (ftruncate(fd, cut) < 0)
			break;
		if (spool_read(fd, &back, &off, &len) == 0) {
			refused = 0;
			spool_envelope_free(&back);
		}
	}
	CHECK(refused, "S26: a spool file cut at any byte is refused");
	close(fd);
	close(mfd);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--dump") == 0)
		return dump(argv[2]);
	test_round_trip();
	return unit_done();
}
