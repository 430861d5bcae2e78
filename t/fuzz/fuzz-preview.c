/* Fuzz target: RFC 8970 preview text (lib/preview.c) of a message parsed
 * by lib/mime.c. Checks: the preview is valid UTF-8 of at most
 * PREVIEW_CHARS characters, NUL-terminated at its length, with no control
 * character, no leading or trailing space and no two spaces in a row;
 * nothing reads out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const unsigned char *s, size_t n)
{
	size_t chars = 0;
	if (s[n] != '\0' || (n > 0 && (s[0] == ' ' || s[n - 1] == ' ')))
		abort();
	for (size_t i = 0; i < n; chars++) {
		unsigned char c = s[i];
		size_t k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
		if (k == 0 || i + k > n || c < ' ' || c == 0x7f || (c == ' ' && s[i + 1] == ' '))
			abort();
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				abort();
		i += k;
	}
	if (chars > PREVIEW_CHARS)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_message *mm = mime_message_parse(data, size);
	char *out;
	size_t n;
	if (mm == NULL)
		return 0;
	if (message_preview(mm, &out, &n) == 1) {
		check((const unsigned char *)out, n);
		free(out);
	}
	mime_message_free(&mm);
	return 0;
}
