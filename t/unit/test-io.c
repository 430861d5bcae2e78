/* Unit tests for lib/io: bounded lines, too-long reported apart from EOF,
 * timeouts and deadlines, peek/consume, buffered output, pipes as
 * transport. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "unit.h"

static struct io io;

static void
feed(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		_exit(2);
}

static void
test_lines(void)
{
	int p[2];
	char buf[16];
	size_t len;
	if (pipe(p) < 0)
		_exit(2);
	io_init(&io, p[0], -1);
	io_set_timeout(&io, 2);
	feed(p[1], "one\r\ntwo\n0123456789abcdefXYZ\nlast");
	close(p[1]);
	CHECK(io_getline(&io, buf, sizeof buf, &len) == IO_OK && len == 5 && !strcmp(buf, "one\r\n"), "CRLF line");
	CHECK(io_buffered(&io) > 0, "rest stays buffered");
	CHECK(io_getline(&io, buf, sizeof buf, &len) == IO_OK && !strcmp(buf, "two\n"), "LF line returned raw");
	CHECK(io_getline(&io, buf, sizeof buf, &len) == IO_TOOLONG && len == 15, "too long reported with size-1 bytes");
	CHECK(io_skipline(&io, 100) == IO_OK, "rest of the long line skipped");
	CHECK(io_getline(&io, buf, sizeof buf, &len) == IO_OK && !strcmp(buf, "last"), "final line without LF");
	CHECK(io_getline(&io, buf, sizeof buf, &len) == IO_EOF && len == 0, "then EOF");
	close(p[0]);
}

static void
test_nul_and_skip_limit(void)
{
	int p[2];
	char buf[64];
	size_t len;
	if (pipe(p) < 0)
		_exit(2);
	io_init(&io, p[0], -1);
	if (write(p[1], "a\0b\n", 4) != 4)
		_exit(2);
	feed(p[1], "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	close(p[1]);
	CHECK(io_getline(&io, buf, sizeof buf, &len) == IO_OK && len == 4 && buf[1] == '\0', "NUL kept, length counted");
	CHECK(io_skipline(&io, 10) == IO_TOOLONG, "skip gives up at its budget");
	close(p[0]);
}

static void
test_timeout(void)
{
	int p[2];
	char buf[16];
	size_t len;
	if (pipe(p) < 0)
		_exit(2);
	io_init(&io, p[0], -1);
	io_set_timeout(&io, 1);
	CHECK(io_getline(&io, buf, sizeof buf, &len) == IO_TIMEOUT, "timeout when nothing arrives");
	CHECK(io_input_waiting(&io) == 0, "nothing waiting");
	feed(p[1], "x");
	CHECK(io_input_waiting(&io) == 1, "input waiting");
	close(p[0]);
	close(p[1]);
}

/* A deadline ends a wait that input keeps alive: bytes arrive well within
 * the per-wait timeout, yet the line read ends with IO_TIMEOUT once the
 * deadline has passed (issue 11, defect 4). */
static void
test_deadline(void)
{
	int p[2];
	char buf[64];
	size_t len;
	if (pipe(p) < 0)
		_exit(2);
	io_init(&io, p[0], -1);
	io_set_timeout(&io, 30);
	CHECK(io_wait_ms(&io) == 30000 && !io_deadline_passed(&io), "no deadline: the timeout");
	int64_t start = io_now_ms();
	io_set_deadline(&io, start + 300);
	int ms = io_wait_ms(&io);
	CHECK(ms >= 0 && ms <= 300, "a deadline cuts the wait");
	/* a byte every 100 ms, from a child, never a whole line */
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 40; i++) {
			if (write(p[1], "x", 1) != 1)
				_exit(0);
			struct timespec ts = { 0, 100 * 1000000L };
			nanosleep(&ts, NULL);
		}
		_exit(0);
	}
	close(p[1]);
	int st = io_getline(&io, buf, sizeof buf, &len);
	int64_t took = io_now_ms() - start;
	CHECK(st == IO_TIMEOUT && io_deadline_passed(&io) && len > 0,
	    "trickled input: IO_TIMEOUT at the deadline, what came is kept");
	CHECK(took >= 300 && took < 15000, "the read ended at the deadline, not at the 30 s timeout");
	CHECK(io_wait_ms(&io) == 0, "past the deadline every wait is 0");
	io_set_deadline(&io, 0);
	CHECK(!io_deadline_passed(&io) && io_wait_ms(&io) == 30000, "0 removes the deadline");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
}

static void
test_peek_and_output(void)
{
	int in[2], out[2];
	char buf[64];
	if (pipe(in) < 0 || pipe(out) < 0)
		_exit(2);
	io_init(&io, in[0], out[1]);
	feed(in[1], "abcdef");
	const unsigned char *data;
	size_t len;
	CHECK(io_peek(&io, &data, &len) == IO_OK && len == 6, "peek sees the bytes");
	io_consume(&io, 4);
	CHECK(io_buffered(&io) == 2, "consume takes only what was used");
	io_discard_input(&io);
	CHECK(io_buffered(&io) == 0, "discard drops buffered input");
	io_printf(&io, "%d %s", 250, "ok");
	io_puts(&io, "\r\n");
	CHECK(io_flush(&io) == IO_OK, "flush");
	ssize_t n = read(out[0], buf, sizeof buf);
	CHECK(n == 8 && memcmp(buf, "250 ok\r\n", 8) == 0, "output arrives after flush");
	close(out[0]);
	io_puts(&io, "x");
	CHECK(io_flush(&io) == IO_ERROR, "write to a closed pipe fails (EPIPE)");
	CHECK(io_puts(&io, "y") == IO_ERROR, "failure is sticky");
	close(in[0]);
	close(in[1]);
	close(out[1]);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_lines();
	test_nul_and_skip_limit();
	test_timeout();
	test_deadline();
	test_peek_and_output();
	return unit_done();
}
