/* test-durable-reader — lib/durable.c durable_reader: a range read in
 * chunks of DURABLE_READ_CHUNK, whole and in order; to the end of the file;
 * a file shorter than the range is EIO; read errors pass through. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "unit.h"

#define FILE_SIZE 150000

static char data[FILE_SIZE];

/* Reads [off, off + len) of fd through a reader; returns the last result
 * of durable_reader_next (0 or -1), the bytes in out, their count in
 * *got_r and the number of chunks in *chunks_r. */
static ssize_t
read_range(int fd, uint64_t off, uint64_t len, char *out, size_t *got_r, int *chunks_r)
{
	struct durable_reader r;
	const char *p;
	ssize_t n;
	size_t got = 0;
	int chunks = 0, in_order = 1;
	durable_reader_init(&r, fd, off, len);
	while ((n = durable_reader_next(&r, &p)) > 0) {
		if (r.off - (uint64_t)n != off + got || got + (size_t)n > FILE_SIZE)
			in_order = 0;
		else
			memcpy(out + got, p, (size_t)n);
		got += (size_t)n;
		chunks++;
	}
	*got_r = got;
	*chunks_r = in_order ? chunks : -1;
	return n;
}

int
main(void)
{
	char path[] = "/tmp/yubin-unit-reader-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	unlink(path);
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)(i * 7 + i / 251);
	if (write(fd, data, sizeof data) != (ssize_t)sizeof data) {
		perror("write");
		return 1;
	}
	static char out[FILE_SIZE];
	size_t got;
	int chunks;

	ssize_t n = read_range(fd, 10, 140000, out, &got, &chunks);
	CHECK(n == 0 && got == 140000 && chunks == 3 && memcmp(out, data + 10, got) == 0,
	    "range from offset 10: 140000 bytes in 3 chunks, in order");
	n = read_range(fd, 0, DURABLE_TO_EOF, out, &got, &chunks);
	CHECK(n == 0 && got == FILE_SIZE && chunks == 3 && memcmp(out, data, got) == 0,
	    "DURABLE_TO_EOF: the whole file, then 0");
	n = read_range(fd, 100000, DURABLE_TO_EOF, out, &got, &chunks);
	CHECK(n == 0 && got == FILE_SIZE - 100000 && memcmp(out, data + 100000, got) == 0,
	    "DURABLE_TO_EOF from an offset: the rest of the file");
	n = read_range(fd, 5, 0, out, &got, &chunks);
	CHECK(n == 0 && got == 0, "empty range: 0 at once, nothing read");
	n = read_range(fd, FILE_SIZE, DURABLE_TO_EOF, out, &got, &chunks);
	CHECK(n == 0 && got == 0, "to EOF from the end: 0");

	errno = 0;
	n = read_range(fd, 100000, 50001, out, &got, &chunks);
	CHECK(n == -1 && errno == EIO && got == 50000,
	    "file one byte shorter than the range: its bytes, then EIO");
	errno = 0;
	n = read_range(fd, FILE_SIZE + 10, 1, out, &got, &chunks);
	CHECK(n == -1 && errno == EIO && got == 0, "range past the end: EIO");

	struct durable_reader r;
	const char *p;
	durable_reader_init(&r, fd, 0, 10);
	CHECK(durable_reader_next(&r, &p) == 10 && durable_reader_next(&r, &p) == 0 &&
	    durable_reader_next(&r, &p) == 0, "after the end, 0 again");

	int pfd[2];
	if (pipe(pfd) != 0) {
		perror("pipe");
		return 1;
	}
	errno = 0;
	durable_reader_init(&r, pfd[0], 0, 10);
	CHECK(durable_reader_next(&r, &p) == -1 && errno == ESPIPE, "a read error passes through (ESPIPE)");
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
	return unit_done();
}
