/* Fuzz target: lib/mbox's scanner and reader on arbitrary file contents
 * (S66). Every message found must start with a From_ line and lie inside
 * the file, in order, and read back no longer than its stored length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The rule, stated naively: a message starts at each "From " that opens
 * the file or follows an empty line. */
static size_t
count_from_lines(const uint8_t *d, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i + 5 <= size; i++) {
		int start = i == 0 || (d[i - 1] == '\n' && (i == 1 || d[i - 2] == '\n'));
		if (start && memcmp(d + i, "From ", 5) == 0)
			n++;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0 && (fd = memfd_create("mbox", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	struct mbox_entry *e;
	size_t n;
	if (mbox_scan(fd, &e, &n) != 0)
		abort();
	if (n != count_from_lines(data, size))
		abort();
	off_t prev_end = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].from_offset < prev_end || e[i].offset <= e[i].from_offset ||
		    e[i].length < 0 || e[i].offset + e[i].length > (off_t)size ||
		    memcmp(data + e[i].from_offset, "From ", 5) != 0)
			abort();
		if (e[i].from_offset > 0 && data[e[i].from_offset - 1] != '\n')
			abort();
		prev_end = e[i].offset + e[i].length;
		char *buf;
		size_t len;
		if (mbox_read(fd, &e[i], &buf, &len) != 0 || len > (size_t)e[i].length)
			abort();
		free(buf);
	}
	free(e);
	return 0;
}
