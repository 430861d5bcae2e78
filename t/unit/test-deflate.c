/* Unit tests for lib/deflate: round trips inflated one byte at a time, a
 * sync flush makes everything so far readable, the bomb bound (S52),
 * corrupt and trailing input, bounded memory, and the codec under lib/io
 * over pipes (lines, literals and output both ways). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "deflate.h"
#include "unit.h"

/* Deflates in (all of it, sync at the end) into a malloc'd buffer. */
static unsigned char *
squeeze(struct deflate *d, const unsigned char *in, size_t len, int sync, size_t *out_len)
{
	size_t cap = len + 1024, n = 0;
	unsigned char *out = malloc(cap);
	for (;;) {
		size_t used, made;
		if (out == NULL || deflate_deflate(d, in, len, sync, &used, out + n, cap - n, &made) != 0)
			abort();
		in += used;
		len -= used;
		n += made;
		if (n < cap && len == 0)
			break;
		if (n == cap && (out = realloc(out, cap *= 2)) == NULL)
			abort();
	}
	*out_len = n;
	return out;
}

/* Inflates in one byte at a time with an output room of at most cap bytes
 * a call; checks no call writes more than its room. */
static int
trickle(struct deflate *d, const unsigned char *in, size_t len, unsigned char *out,
    size_t out_max, size_t cap, size_t *out_len)
{
	size_t n = 0, i = 0;
	for (;;) {
		size_t give = i < len ? 1 : 0, used, made;
		size_t room = out_max - n < cap ? out_max - n : cap;
		if (deflate_inflate(d, in + i, give, &used, out + n, room, &made) != 0)
			return -1;
		if (made > room)
			abort();
		n += made;
		i += used;
		if (i == len && made == 0)
			break;
		if (used == 0 && made == 0)
			return -1;
	}
	*out_len = n;
	return 0;
}

static void
test_round_trip(void)
{
	struct deflate *srv = deflate_new(6, 0), *cli = deflate_new(1, 0);
	CHECK(srv != NULL && cli != NULL, "two streams made");
	const char *text = "* 1 FETCH (FLAGS (\\Seen) UID 4)\r\n* 2 FETCH (FLAGS () UID 5)\r\n"
	    "a1 OK FETCH completed\r\n";
	size_t zlen, back;
	unsigned char *z = squeeze(srv, (const unsigned char *)text, strlen(text), 1, &zlen);
	unsigned char out[256];
	CHECK(zlen > 0 && z[zlen - 4] == 0 && z[zlen - 3] == 0 && z[zlen - 2] == 0xff &&
	    z[zlen - 1] == 0xff, "sync flush ends with the empty stored block 00 00 ff ff");
	CHECK(trickle(cli, z, zlen, out, sizeof out, 7, &back) == 0 && back == strlen(text) &&
	    memcmp(out, text, back) == 0, "byte-at-a-time inflate gives the text back");
	size_t z2len;
	unsigned char *z2 = squeeze(srv, NULL, 0, 1, &z2len);
	CHECK(z2len == 0, "a second sync flush with nothing new sends nothing");
	free(z2);
	free(z);
	/* Second batch on the same stream: the window carries over. */
	z = squeeze(srv, (const unsigned char *)text, strlen(text), 1, &zlen);
	CHECK(zlen < strlen(text) / 2, "repeated batch compresses against the window");
	CHECK(trickle(cli, z, zlen, out, sizeof out, 256, &back) == 0 && back == strlen(text) &&
	    memcmp(out, text, back) == 0, "second batch inflates");
	free(z);
	deflate_free(&srv);
	deflate_free(&cli);
	CHECK(srv == NULL, "free sets NULL");
}

static void
test_big_no_flush(void)
{
	struct deflate *srv = deflate_new(6, 0), *cli = deflate_new(6, 0);
	size_t len = 3 * IO_BUFFER_SIZE + 123, zlen, back;
	unsigned char *big = malloc(len), *out = malloc(len + 1);
	unsigned s = 1;
	for (size_t i = 0; i < len; i++) {
		s = s * 1103515245 + 12345;
		big[i] = (unsigned char)(i % 61 ? 'a' + (s >> 16) % 26 : '\n');
	}
	unsigned char *z = squeeze(srv, big, len, 0, &zlen);
	size_t z2len;
	unsigned char *z2 = squeeze(srv, NULL, 0, 1, &z2len);
	z = realloc(z, zlen + z2len);
	memcpy(z + zlen, z2, z2len);
	CHECK(trickle(cli, z, zlen + z2len, out, len + 1, 1000, &back) == 0 && back == len &&
	    memcmp(out, big, len) == 0, "48 KiB without flush, then a sync: all inflated");
	free(z2);
	free(z);
	free(big);
	free(out);
	deflate_free(&srv);
	deflate_free(&cli);
}

static void
test_bomb(void)
{
	/* 64 MiB of 'A' deflates to about 64 KiB. */
	struct deflate *bomber = deflate_new(9, 0);
	unsigned char *block = malloc(1 << 20);
	memset(block, 'A', 1 << 20);
	size_t zcap = 1 << 20, zlen = 0;
	unsigned char *z = malloc(zcap);
	for (int i = 0; i < 64; i++) {
		size_t part;
		unsigned char *p = squeeze(bomber, block, 1 << 20, i == 63, &part);
		memcpy(z + zlen, p, part);
		zlen += part;
		free(p);
	}
	uint64_t allowance = 1 << 20;
	struct deflate *srv = deflate_new(6, allowance);
	unsigned char out[IO_BUFFER_SIZE];
	size_t pos = 0, used, made;
	uint64_t total = 0;
	int r = 0;
	while (pos < zlen) {
		r = deflate_inflate(srv, z + pos, 1, &used, out, sizeof out, &made);
		if (r != 0)
			break;
		pos += used;
		total += made;
		if (used == 0 && made == 0)
			break;
	}
	CHECK(r == -1 && errno == E2BIG, "the bomb fails with E2BIG");
	CHECK(total <= DEFLATE_RATIO_MAX * (pos + 1) + allowance,
	    "inflated output stays within ratio and allowance");
	CHECK(pos < zlen / 4, "stopped early in the compressed input");
	CHECK(deflate_inflate(srv, z, 0, &used, out, sizeof out, &made) == -1 && errno == E2BIG &&
	    made == 0, "failure is sticky");
	CHECK(deflate_memory(srv) > 0 && deflate_memory(srv) <= DEFLATE_MEMORY_MAX,
	    "zlib memory within DEFLATE_MEMORY_MAX");
	free(z);
	free(block);
	deflate_free(&bomber);
	deflate_free(&srv);
}

static void
test_corrupt(void)
{
	struct deflate *d = deflate_new(6, 0);
	/* Block type 3 is reserved: a corrupt stream. */
	unsigned char bad[] = { 0x07, 0x00, 0x00 };
	unsigned char out[64];
	size_t used, made;
	CHECK(deflate_inflate(d, bad, sizeof bad, &used, out, sizeof out, &made) == -1 &&
	    errno == EPROTO, "reserved block type: EPROTO");
	deflate_free(&d);

	/* A final block, then more bytes: nothing may follow the end. */
	d = deflate_new(6, 0);
	unsigned char fin[] = { 0x03, 0x00, 'x' }; /* empty final fixed block, then junk */
	CHECK(deflate_inflate(d, fin, 2, &used, out, sizeof out, &made) == 0 && made == 0,
	    "empty final block accepted");
	CHECK(deflate_inflate(d, fin + 2, 1, &used, out, sizeof out, &made) == -1 &&
	    errno == EPROTO, "bytes after the final block: EPROTO");
	deflate_free(&d);
}

static void
test_codec(void)
{
	int to_srv[2], from_srv[2];
	if (pipe(to_srv) < 0 || pipe(from_srv) < 0)
		abort();
	struct io io;
	io_init(&io, to_srv[0], from_srv[1]);
	io_set_timeout(&io, 5);
	struct deflate *srv = deflate_new(6, 1 << 20), *cli = deflate_new(6, 0);
	io_puts(&io, "a OK DEFLATE active\r\n");
	CHECK(deflate_start(srv, &io) == 0, "codec started");
	char plain[32];
	CHECK(read(from_srv[0], plain, sizeof plain) == 21 && memcmp(plain, "a OK", 4) == 0,
	    "the reply before it went out plain");

	const char *cmds = "b NOOP\r\nc APPEND x {5}\r\nhello\r\n";
	size_t zlen, len;
	unsigned char *z = squeeze(cli, (const unsigned char *)cmds, strlen(cmds), 1, &zlen);
	if (write(to_srv[1], z, zlen) != (ssize_t)zlen)
		abort();
	free(z);
	char line[64];
	CHECK(io_input_waiting(&io) == 1, "compressed input counts as waiting");
	CHECK(io_getline(&io, line, sizeof line, &len) == IO_OK && strcmp(line, "b NOOP\r\n") == 0,
	    "first line inflated");
	CHECK(io_getline(&io, line, sizeof line, &len) == IO_OK &&
	    strcmp(line, "c APPEND x {5}\r\n") == 0, "second line");
	CHECK(io_read(&io, line, 5) == 5 && memcmp(line, "hello", 5) == 0, "literal bytes");
	CHECK(io_getline(&io, line, sizeof line, &len) == IO_OK && strcmp(line, "\r\n") == 0,
	    "end of the command");
	CHECK(io_input_waiting(&io) == 0, "then nothing waits");

	io_puts(&io, "* OK one\r\n");
	io_puts(&io, "b OK NOOP completed\r\n");
	CHECK(io_flush(&io) == 0, "flush through the codec");
	unsigned char wire[256], out[256];
	ssize_t n = read(from_srv[0], wire, sizeof wire);
	size_t back;
	CHECK(n > 0 && trickle(cli, wire, (size_t)n, out, sizeof out, 3, &back) == 0 &&
	    back == 31 && memcmp(out, "* OK one\r\nb OK NOOP completed\r\n", 31) == 0,
	    "the flushed batch inflates whole at the client");
	CHECK(io.bytes_out == 21 + (uint64_t)n, "bytes_out counts wire bytes");

	/* Garbage from the client ends the input with an error. */
	if (write(to_srv[1], "\xff\xff\xff\xff", 4) != 4)
		abort();
	CHECK(io_getline(&io, line, sizeof line, &len) == IO_ERROR && errno == EPROTO &&
	    deflate_inflate_error(srv) == EPROTO, "corrupt input: IO_ERROR, EPROTO");
	CHECK(io_getline(&io, line, sizeof line, &len) == IO_ERROR, "and it stays so");
	io_puts(&io, "* BYE bad input\r\n");
	n = io_flush(&io) == 0 ? read(from_srv[0], wire, sizeof wire) : -1;
	CHECK(n > 0 && trickle(cli, wire, (size_t)n, out, sizeof out, 64, &back) == 0 &&
	    back == 17 && memcmp(out, "* BYE bad input\r\n", 17) == 0,
	    "output still works after an input failure (the BYE)");
	close(to_srv[1]);
	close(to_srv[0]);
	close(from_srv[0]);
	close(from_srv[1]);
	io_set_codec(&io, NULL);
	deflate_free(&srv);
	deflate_free(&cli);
}

int
main(void)
{
	test_round_trip();
	test_big_no_flush();
	test_bomb();
	test_corrupt();
	test_codec();
	return unit_done();
}
