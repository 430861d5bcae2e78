/*
 * casemap.c — i;unicode-casemap (casemap.h) from a table generated from
 * the Unicode data (casemap-table.h).
 */
#include "casemap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "casemap-table.h"

#define CASEMAP_FACTOR 3
#define CASEMAP_LAST 0x52f

static const struct casemap_entry *
lookup(unsigned cp)
{
	size_t lo = 0, hi = sizeof casemap_table / sizeof casemap_table[0];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (casemap_table[mid].cp == cp)
			return &casemap_table[mid];
		if (casemap_table[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

char *
casemap_utf8(const char *s, size_t n, size_t *len_r)
{
	if (n > (SIZE_MAX - 1) / CASEMAP_FACTOR)
		return NULL;
	char *out = malloc(n * CASEMAP_FACTOR + 1);
	size_t o = 0;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'a' && c <= 'z') {
			out[o++] = (char)(c - 32);
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf && i + 1 < n && ((unsigned char)s[i + 1] & 0xc0) == 0x80) {
			unsigned cp = ((c & 0x1fu) << 6) | ((unsigned char)s[i + 1] & 0x3fu);
			const struct casemap_entry *e = cp <= CASEMAP_LAST ? lookup(cp) : NULL;
			if (e != NULL) {
				memcpy(out + o, e->s, e->len);
				o += e->len;
				i++;
				continue;
			}
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (len_r != NULL)
		*len_r = o;
	return out;
}
