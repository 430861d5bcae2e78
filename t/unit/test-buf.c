/* test-buf — lib/buf.c: contents exact after any mix of adds, growth kept
 * under the ceiling, E2BIG at the ceiling and on size_t wrap-around, ENOMEM
 * from the allocator, the first failure sticky and reported by finish. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "unit.h"

/* The ENOMEM case asks for an impossible size: under ASan that must come
 * back as NULL rather than end the test. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static void
test_empty(void)
{
	struct buf b = BUF_INIT(16);
	size_t len = 99;
	char *s = buf_finish(&b, &len);
	CHECK(s != NULL && len == 0 && s[0] == '\0', "empty buffer finishes as \"\"");
	free(s);
	CHECK(b.s == NULL && b.len == 0 && b.max == 16, "finish leaves b empty, ceiling kept");
}

static void
test_mix(void)
{
	struct buf b;
	buf_init(&b, 1024);
	int rc = buf_addstr(&b, "(");
	rc |= buf_add(&b, "ab\0c", 4);
	rc |= buf_addc(&b, ' ');
	rc |= buf_printf(&b, "{%zu}%s", (size_t)42, "\r\n");
	rc |= buf_addc(&b, ')');
	CHECK(rc == 0, "adds return 0");
	CHECK(b.len == 13 && memcmp(b.s, "(ab\0c {42}\r\n)", 13) == 0,
	    "bytes in order, NUL kept");
	CHECK(b.s[b.len] == '\0', "contents stay NUL-terminated");
	size_t len = 0;
	char *s = buf_finish(&b, &len);
	CHECK(s != NULL && len == 13 && memcmp(s, "(ab\0c {42}\r\n)", 14) == 0,
	    "finish hands over the same bytes");
	free(s);
	s = buf_finish(&b, NULL);
	CHECK(s != NULL && s[0] == '\0', "reusable after finish; len_r may be NULL");
	free(s);
}

static void
test_growth(void)
{
	struct buf b = BUF_INIT(100000);
	int ok = 1;
	for (size_t i = 0; i < 100000 && ok; i++)
		ok = buf_addc(&b, (char)('a' + i % 26)) == 0;
	CHECK(ok && b.len == 100000, "100000 one-byte adds fit a 100000 ceiling");
	int same = 1;
	for (size_t i = 0; i < b.len; i++)
		if (b.s[i] != (char)('a' + i % 26))
			same = 0;
	CHECK(same, "contents survive every reallocation");
	CHECK(b.cap == 100001, "capacity clamped to ceiling + NUL");
	CHECK(buf_addc(&b, 'x') == -1 && errno == E2BIG && b.len == 100000,
	    "one more byte: E2BIG, nothing added");
	buf_free(&b);
	CHECK(b.s == NULL && b.len == 0 && b.err == 0 && b.max == 100000,
	    "buf_free leaves an empty buffer with its ceiling");
	CHECK(buf_addstr(&b, "again") == 0 && b.len == 5, "usable after buf_free");
	buf_free(&b);
}

static void
test_ceiling(void)
{
	struct buf b = BUF_INIT(10);
	CHECK(buf_add(&b, "0123456789", 10) == 0, "exactly the ceiling fits");
	buf_free(&b);
	CHECK(buf_add(&b, "01234", 5) == 0, "five bytes");
	errno = 0;
	CHECK(buf_add(&b, "567890", 6) == -1 && errno == E2BIG, "past the ceiling: E2BIG");
	CHECK(b.len == 5 && memcmp(b.s, "01234", 6) == 0, "contents as before the failed add");
	errno = 0;
	CHECK(buf_addc(&b, 'x') == -1 && errno == E2BIG && b.len == 5,
	    "failure sticks: a later add that would fit is refused");
	errno = 0;
	char *s = buf_finish(&b, NULL);
	CHECK(s == NULL && errno == E2BIG, "finish reports E2BIG");
	CHECK(b.s == NULL && b.err == 0, "finish after failure frees and resets");

	struct buf z = BUF_INIT(0);
	CHECK(buf_add(&z, "", 0) == 0, "ceiling 0: empty add fits");
	CHECK(buf_addc(&z, 'x') == -1 && errno == E2BIG, "ceiling 0: one byte is E2BIG");
	buf_free(&z);
}

static void
test_printf(void)
{
	struct buf b = BUF_INIT(8);
	CHECK(buf_printf(&b, "%d", 1234) == 0 && b.len == 4, "printf appends");
	CHECK(buf_printf(&b, "%s", "56789") == -1 && errno == E2BIG,
	    "printf past the ceiling: E2BIG");
	CHECK(b.len == 4 && strcmp(b.s, "1234") == 0, "failed printf appends nothing");
	buf_free(&b);

	struct buf big = BUF_INIT(1 << 20);
	char word[300];
	memset(word, 'w', sizeof word - 1);
	word[sizeof word - 1] = '\0';
	int ok = 1;
	for (int i = 0; i < 100 && ok; i++)
		ok = buf_printf(&big, "%s%d", word, i % 10) == 0;
	CHECK(ok && big.len == 100 * 300, "printf grows the buffer as needed");
	CHECK(big.s[299] == '0' && big.s[599] == '1' && big.s[big.len] == '\0',
	    "printf output exact across growth");
	buf_free(&big);
}

static void
test_fail(void)
{
	struct buf b = BUF_INIT(64);
	buf_addstr(&b, "partial");
	buf_fail(&b, ENOMEM);
	buf_fail(&b, EIO);
	CHECK(buf_addc(&b, 'x') == -1 && errno == ENOMEM, "buf_fail makes adds fail");
	errno = 0;
	CHECK(buf_finish(&b, NULL) == NULL && errno == ENOMEM,
	    "finish reports the first failure recorded");
}

static void
test_limits(void)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	buf_addstr(&b, "12345");
	errno = 0;
	CHECK(buf_add(&b, "", SIZE_MAX - 2) == -1 && errno == E2BIG,
	    "length that would wrap size_t: E2BIG, no overflow");
	buf_free(&b);
	buf_addstr(&b, "12345");
	errno = 0;
	CHECK(buf_add(&b, "", SIZE_MAX / 4) == -1 && errno == ENOMEM,
	    "allocation refused: ENOMEM, no abort");
	CHECK(b.len == 5 && strcmp(b.s, "12345") == 0, "contents kept after ENOMEM");
	buf_free(&b);
}

/* What lib/mime's sbuf and folder-uidlist's strbuf did, now lib/buf's:
 * contents and length agree even after a failure (sbuf's string went ""
 * while its length stayed, so a copy of len bytes read past it). */
static void
test_scratch(void)
{
	struct buf b = BUF_INIT(8);
	CHECK(strcmp(buf_str(&b), "") == 0 && b.len == 0, "buf_str: \"\" before any add");
	buf_addstr(&b, "abc");
	CHECK(buf_add(&b, "0123456789", 10) == -1 && b.err == E2BIG, "over the ceiling fails");
	CHECK(strlen(buf_str(&b)) == b.len && strcmp(buf_str(&b), "abc") == 0,
	    "buf_str after a failure: the contents before it, as long as len says");
	buf_truncate(&b, 1);
	CHECK(b.len == 1 && strcmp(buf_str(&b), "a") == 0 && b.err == E2BIG,
	    "buf_truncate cuts and keeps the failure");
	buf_free(&b);
	buf_addstr(&b, "abcdef");
	buf_truncate(&b, 0);
	CHECK(b.len == 0 && strcmp(buf_str(&b), "") == 0 && b.cap > 0, "truncate to 0 keeps the memory");
	buf_truncate(&b, 5);
	CHECK(b.len == 0, "truncate never grows");
	CHECK(buf_addstr(&b, "xy") == 0 && strcmp(buf_str(&b), "xy") == 0, "reused after truncate");
	buf_free(&b);
	struct buf none = BUF_INIT(8);
	buf_truncate(&none, 0);
	CHECK(none.s == NULL && none.len == 0, "truncate of an empty buffer allocates nothing");
}

int
main(void)
{
	test_empty();
	test_mix();
	test_growth();
	test_ceiling();
	test_printf();
	test_fail();
	test_limits();
	test_scratch();
	return unit_done();
}
