/* Fuzz target: lib/spool's reader on arbitrary file contents (S26, S67).
 * Whatever it accepts must describe a message that lies inside the file. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0 && (fd = memfd_create("spool", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	struct spool_envelope env;
	uint64_t off, len;
	if (spool_read(fd, &env, &off, &len) == 0) {
		if (off > size || len != size - off || env.n_rcpts == 0 || !env.sender)
			abort();
		spool_envelope_free(&env);
	}
	return 0;
}
