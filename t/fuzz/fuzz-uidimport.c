/* Fuzz target: lib/uidimport's parser of Dovecot's and Courier's UID lists
 * and Dovecot's keywords. The first byte picks the kind (odd: Courier);
 * the rest are lines, a line "%%" switching to dovecot-keywords. Whatever
 * it accepts must be a list a folder can take over: UIDs from 1, below
 * the next UID, one per base name, base names as Maildir cuts them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "uidimport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct uidimport *u)
{
	if (u->validity == 0 || u->next == 0)
		abort();
	for (size_t i = 0; i < u->n; i++) {
		const struct uidimport_rec *r = &u->recs[i];
		size_t len = strlen(r->base);
		if (r->uid == 0 || r->uid >= u->next || len == 0 || strcspn(r->base, ",:/ ") != len)
			abort();
		if (i > 0 && strcmp(u->recs[i - 1].base, r->base) >= 0)
			abort();
		if (uidimport_uid(u, r->base, len) != r->uid)
			abort();
	}
	for (int i = 0; i < UIDIMPORT_KEYWORDS; i++)
		if (u->kw[i] && (u->kw[i][0] == '\0' || strlen(u->kw[i]) > IMAP_KEYWORD_MAX))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct uidimport u;
	uidimport_init(&u, data[0] & 1 ? UIDIMPORT_COURIER : UIDIMPORT_DOVECOT);
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	char line[UIDIMPORT_LINE_MAX + 1];
	int keywords = 0, r = 0;
	while (r == 0 && p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((lf ? lf : end) - p);
		if (len >= sizeof line)
			break;  /* the reader refuses such a line before the parser */
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + 1;
		if (len == 2 && memcmp(line, "%%", 2) == 0)
			keywords = 1;
		else
			r = keywords ? uidimport_keyword_line(&u, line, len) :
			    uidimport_line(&u, line, len);
	}
	if (r == 0 && uidimport_finish(&u) == 0)
		check(&u);
	uidimport_free(&u);
	return 0;
}
