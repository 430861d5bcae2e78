/* Fuzz target: Maildir file names (S64). Users can create any name in their
 * Maildir; parsing must stay inside the name, and a flag rename built from
 * it must keep the unique part and fit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maildir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 255)
		return 0;  /* NAME_MAX: longer names cannot exist */
	char name[256];
	memcpy(name, data, size);
	name[size] = '\0';
	struct maildir_entry e;
	char fl[MAILDIR_FLAGS_MAX];
	memset(&e, 0, sizeof e);
	e.name = name;
	maildir_parse_name(&e);
	size_t len = strlen(name);
	if (e.base_len > len || strlen(maildir_entry_flags(&e, fl)) >= MAILDIR_FLAGS_MAX)
		abort();
	if (e.base_len < len && name[e.base_len] != ',' && name[e.base_len] != ':')
		abort();
	if (memchr(name, ',', e.base_len) || memchr(name, ':', e.base_len))
		abort();
	return 0;
}
