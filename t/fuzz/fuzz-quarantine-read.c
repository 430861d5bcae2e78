/* Fuzz target: lib/quarantine's reader on arbitrary file contents. What
 * it accepts must have an id, reason, sender and recipients the format
 * allows, and a message that lies inside the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addr.h"
#include "quarantine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0 && (fd = memfd_create("quarantine", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	struct quarantine_info q;
	if (quarantine_read(fd, &q) == 0) {
		if (q.msg_off > size || q.msg_len != size - q.msg_off || q.env.n_rcpts == 0 ||
		    !q.env.sender || !addr_smtp_safe(q.env.sender) || !quarantine_id_valid(q.id) ||
		    !q.reason[0])
			abort();
		for (size_t i = 0; i < q.env.n_rcpts; i++)
			if (!addr_smtp_safe(q.env.rcpts[i].addr))
				abort();
		quarantine_info_free(&q);
	}
	return 0;
}
