/* Fuzz target: lib/mcache's record parser and file scan. The first byte
 * picks whether the checksums of the records that follow are made right
 * first (so mutations reach the layout checks behind them). A record the
 * parser accepts must build back to the same bytes; the same bytes as a
 * cache file must open, and a lookup must give only what was parsed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The check field of the record at p made right, if its length fits. */
static void
fix_check(unsigned char *p, size_t n)
{
	if (n < 16)
		return;
	uint32_t len = le32(p + 4);
	if (len < 16 || len > n)
		return;
	uint64_t h = mcache_check(p + 16, len - 16, len);
	for (int i = 0; i < 8; i++)
		p[8 + i] = (unsigned char)(h >> (8 * i));
}

static void
as_file(const unsigned char *b, size_t n)
{
	static char path[64];
	if (path[0] == '\0')
		snprintf(path, sizeof path, "/tmp/fuzz-mcache-%ld", (long)getpid());
	FILE *fp = fopen(path, "wb");
	if (fp == NULL)
		return;
	/* the file header, then the records */
	fwrite("YBCACHE2", 1, 8, fp);
	fwrite(b, 1, n, fp);
	fclose(fp);
	struct mcache *c = mcache_open(path);
	struct mcache_rec r;
	for (size_t at = 0; c != NULL && at + 24 <= n; at++) {
		uint32_t uid = le32(b + at + 20), validity = le32(b + at + 16);
		if (mcache_get(c, validity, uid, b + at + 44 < b + n ? b + at + 44 : b, 0, &r) == 1 &&
		    (r.uid != uid || r.validity != validity || r.id_len != 0))
			abort();
	}
	mcache_close(&c);
	unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int fix = data[0] & 1;
	size_t n = size - 1;
	unsigned char *b = malloc(n ? n : 1);
	if (b == NULL)
		abort();
	memcpy(b, data + 1, n);
	size_t at = 0;
	while (at < n) {
		struct mcache_rec r;
		size_t len, blen;
		if (fix)
			fix_check(b + at, n - at);
		if (mcache_record_parse(b + at, n - at, &r, &len) != 1)
			break;
		if (len < MCACHE_RECORD_MIN || len > n - at || r.uid == 0 || r.id_len > MCACHE_ID_MAX)
			abort();
		unsigned char *back = mcache_record_build(&r, &blen);
		if (back == NULL || blen != len || memcmp(back, b + at, len) != 0)
			abort();
		free(back);
		at += len;
	}
	as_file(b, n);
	free(b);
	return 0;
}
