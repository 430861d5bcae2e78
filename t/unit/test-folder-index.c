/*
 * Unit tests for folder_index_of: the index of a UID in an open
 * folder's messages (in UID order, with gaps), SIZE_MAX for a UID not
 * there (below, between, above, 0) and in an empty folder.
 */
#include <stdint.h>
#include <string.h>

#include "folder.h"
#include "unit.h"

int
main(void)
{
	static const uint32_t uids[] = { 3, 4, 9, 10, 200, 4294967295u };
	struct fmsg m[6];
	struct folder f;
	memset(&f, 0, sizeof f);
	memset(m, 0, sizeof m);
	for (size_t i = 0; i < 6; i++)
		m[i].uid = uids[i];
	f.m = m;
	CHECK(folder_index_of(&f, 3) == SIZE_MAX, "an empty folder has none");
	for (size_t n = 1; n <= 6; n++) {
		f.n = n;
		int all = 1;
		for (size_t i = 0; i < n; i++)
			all &= folder_index_of(&f, uids[i]) == i;
		CHECK(all, "every UID found at its index");
	}
	CHECK(folder_index_of(&f, 0) == SIZE_MAX, "UID 0: none");
	CHECK(folder_index_of(&f, 2) == SIZE_MAX, "below the first: none");
	CHECK(folder_index_of(&f, 5) == SIZE_MAX && folder_index_of(&f, 100) == SIZE_MAX,
	    "between two: none");
	f.n = 5;
	CHECK(folder_index_of(&f, 201) == SIZE_MAX && folder_index_of(&f, 4294967295u) == SIZE_MAX,
	    "above the last: none");
	return unit_done();
}
