/* Fuzz target: lib/mcache-keys and mime_header_next. The input as a keys
 * item: mkeys_parse accepts it only if every string and id it gives lies
 * within the input and ends there with its NUL. The input as a message:
 * the keys of its parse render and parse back, and mime_header_next
 * splits its header into the parse's fields, byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "mcache-keys.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
item_bounds(const char *p, size_t n)
{
	struct mkeys k;
	if (mkeys_parse(p, n, &k) != 0)
		return;
	const char *s[] = { k.subject, k.from, k.to, k.cc, k.dfrom, k.dto, k.msgid };
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
		if (s[i] < p || s[i] >= p + n || s[i] + strlen(s[i]) >= p + n)
			abort();
	const char *id = k.refs;
	for (size_t i = 0; i < k.nrefs; i++, id += strlen(id) + 1)
		if (id < p || id >= p + n || *id == '\0' || id + strlen(id) >= p + n)
			abort();
	if (k.nrefs > IMAP_THREAD_REFS_MAX || id != p + n)
		abort();
}

static void
as_message(const unsigned char *d, size_t n)
{
	struct mime_message *m = mime_message_parse(d, n);
	if (m == NULL)
		return;
	size_t len, pos = 0, i = 0;
	struct mkeys k;
	char *s = mkeys_render(m, &len);
	if (s != NULL && mkeys_parse(s, len, &k) != 0)
		abort();
	free(s);
	const struct mime_part *p = m->root;
	struct mime_header h;
	while (mime_header_next(d, p->hdr_len, &pos, &h) == 1 && i < p->hdr_count) {
		const struct mime_header *w = &p->headers[i++];
		if (h.name != w->name || h.name_len != w->name_len || h.value != w->value ||
		    h.value_len != w->value_len)
			abort();
	}
	if (i != p->hdr_count)
		abort();
	mime_message_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	item_bounds(copy, size);
	free(copy);
	as_message(data, size);
	return 0;
}
