/*
 * Unit tests for lib/quarantine: the envelope block round-trips (sender,
 * recipients, DSN parameters), only the counted bytes are read as the
 * envelope (a field of the same name in the message is message), and a
 * block that is truncated, miscounted or malformed is refused (EBADMSG).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "quarantine.h"
#include "unit.h"

static int
fd_with(const char *a, size_t alen, const char *b)
{
	int fd = memfd_create("q", 0);
	if (fd < 0 || write(fd, a, alen) != (ssize_t)alen ||
	    write(fd, b, strlen(b)) != (ssize_t)strlen(b))
		abort();
	return fd;
}

/* 0 if text (a whole file) reads as a quarantine file, else errno. */
static int
read_err(const char *text)
{
	struct quarantine_info q;
	int fd = fd_with(text, strlen(text), "");
	int rc = quarantine_read(fd, &q) == 0 ? 0 : errno;
	if (rc == 0)
		quarantine_info_free(&q);
	close(fd);
	return rc;
}

static void
round_trip(void)
{
	struct spool_rcpt r[2] = {
		{ "bob@example.org", NULL, 0, SPOOL_RCPT_PENDING, NULL },
		{ "dave@example.net", "rfc822;dave@example.net", SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY,
		  SPOOL_RCPT_PENDING, NULL },
	};
	struct spool_envelope env = { .sender = "alice@example.org", .envid = "q+2B1",
		.ret = SPOOL_RET_HDRS, .body_8bit = 1, .smtputf8 = 1, .rcpts = r, .n_rcpts = 2 };
	size_t len;
	char *block = quarantine_envelope("ABC123", "virus\r\nfound", &env, &len);
	CHECK(block != NULL, "envelope made");
	const char *msg = "Received: x\nX-Yubin-Quarantine-To: <mallory@example.net>\n\nbody\n";
	int fd = fd_with(block, len, msg);
	struct quarantine_info q;
	int rc = quarantine_read(fd, &q);
	CHECK(rc == 0, "read back");
	if (rc == 0) {
		CHECK(!strcmp(q.id, "ABC123") && !strcmp(q.reason, "virus??found"),
		    "id, and the reason with controls replaced");
		CHECK(!strcmp(q.env.sender, "alice@example.org") && !strcmp(q.env.envid, "q+2B1") &&
		    q.env.ret == SPOOL_RET_HDRS && q.env.body_8bit && q.env.smtputf8,
		    "sender, ENVID, RET, BODY, SMTPUTF8");
		CHECK(q.env.n_rcpts == 2 && !strcmp(q.env.rcpts[0].addr, "bob@example.org") &&
		    !q.env.rcpts[0].orcpt && q.env.rcpts[0].notify == 0 &&
		    !strcmp(q.env.rcpts[1].addr, "dave@example.net") &&
		    !strcmp(q.env.rcpts[1].orcpt, "rfc822;dave@example.net") &&
		    q.env.rcpts[1].notify == (SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY),
		    "recipients with NOTIFY and ORCPT; the message's field is not one");
		CHECK(q.msg_off == len && q.msg_len == strlen(msg), "the message is what follows");
		quarantine_info_free(&q);
	}
	close(fd);
	free(block);
	/* The format cannot carry these: refused, not mangled. */
	r[0].addr = "a b@example.org";
	CHECK(quarantine_envelope("ABC123", "", &env, &len) == NULL && errno == EINVAL,
	    "an address with a space is refused");
	r[0].addr = "bob@example.org";
	CHECK(quarantine_envelope("../x", "", &env, &len) == NULL && errno == EINVAL,
	    "a bad id is refused");
	env.envid = "a b";
	CHECK(quarantine_envelope("ABC123", "", &env, &len) == NULL && errno == EINVAL,
	    "an ENVID with a space is refused");
}

static void
forgeries(void)
{
	const char *good = "X-Yubin-Quarantine-Envelope: 108\n"
	    "X-Yubin-Quarantine: r\nX-Yubin-Quarantine-Id: A1\n"
	    "X-Yubin-Quarantine-From: <a@b>\nX-Yubin-Quarantine-To: <c@d>\n";
	CHECK(read_err(good) == 0, "a hand-made block reads");
	CHECK(read_err("X-Yubin-Quarantine: r\nX-Yubin-Quarantine-Id: A1\n"
	    "X-Yubin-Quarantine-From: <a@b>\nX-Yubin-Quarantine-To: <c@d>\n\nbody\n") == EBADMSG,
	    "without the count line: not a quarantine file");
	CHECK(read_err("Received: x\nX-Yubin-Quarantine-Envelope: 10\n") == EBADMSG,
	    "the count line only counts first");
	CHECK(read_err("X-Yubin-Quarantine-Envelope: 500\nX-Yubin-Quarantine: r\n") == EBADMSG,
	    "a count past the end of the file");
	CHECK(read_err("X-Yubin-Quarantine-Envelope: 022\nX-Yubin-Quarantine: r\n") == EBADMSG,
	    "a count with a leading zero");
	CHECK(read_err("X-Yubin-Quarantine-Envelope: 22\nX-Yubin-Quarantine: r\n") == EBADMSG,
	    "no Id, From or To: refused");
	CHECK(read_err("X-Yubin-Quarantine-Envelope: 90\nX-Yubin-Quarantine: r\n"
	    "X-Yubin-Quarantine-Id: A1\nX-Yubin-Quarantine-From: <a@b>\nX-Other: 1\n") == EBADMSG,
	    "an unknown line in the block");
	CHECK(read_err("X-Yubin-Quarantine-Envelope: 107\n"
	    "X-Yubin-Quarantine: r\nX-Yubin-Quarantine-Id: A1\n"
	    "X-Yubin-Quarantine-From: <a@b>\nX-Yubin-Quarantine-To: <c@d>") == EBADMSG,
	    "a count that cuts a line");
	CHECK(read_err("X-Yubin-Quarantine-Envelope: 110\n"
	    "X-Yubin-Quarantine: r\nX-Yubin-Quarantine-Id: A1\n"
	    "X-Yubin-Quarantine-From: <a@b>\nX-Yubin-Quarantine-To: <c d@e>\n") == EBADMSG,
	    "an address with a space");
	CHECK(read_err("X-Yubin-Quarantine-Envelope: 114\n"
	    "X-Yubin-Quarantine: r\nX-Yubin-Quarantine-Id: A1\n"
	    "X-Yubin-Quarantine-From: <a@b>\nX-Yubin-Quarantine-To: BAD=1 <c@d>\n") == EBADMSG,
	    "an unknown parameter");
	CHECK(read_err("X-Yubin-Quarantine-Envelope: 105\n"
	    "X-Yubin-Quarantine: r\nX-Yubin-Quarantine-Id: A1\n"
	    "X-Yubin-Quarantine-From: <a@b>\nX-Yubin-Quarantine-To: <>\n") == EBADMSG,
	    "a null recipient");
	CHECK(read_err("X-Yubin-Quarantine-Envelope: 105\n"
	    "X-Yubin-Quarantine: r\nX-Yubin-Quarantine-Id: A1\n"
	    "X-Yubin-Quarantine-From: <>\nX-Yubin-Quarantine-To: <c@d>\n") == 0,
	    "a null sender");
}

int
main(void)
{
	CHECK(quarantine_id_valid("6B170B245D5040E1") && !quarantine_id_valid("") &&
	    !quarantine_id_valid("a/b") && !quarantine_id_valid("..x/") &&
	    !quarantine_id_valid("0123456789012345678901234567890123456789012345678901234567890123"),
	    "ids: letters, digits, . _ -, at most 63 bytes");
	round_trip();
	forgeries();
	return unit_done();
}
