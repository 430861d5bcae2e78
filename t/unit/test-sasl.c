/* Unit tests for lib/sasl: strict base64 (S36, Exim CVE-2018-6789), PLAIN
 * and LOGIN exchanges, cancel, oversize input; then replays seeds through
 * the fuzz target so CI runs the same code the fuzzer does. */
#include <stdlib.h>
#include <string.h>

#include "sasl.h"
#include "unit.h"

#include "../fuzz/fuzz-sasl.c"

static long
dec(const char *in, unsigned char *out, size_t size)
{
	return sasl_base64_decode(in, strlen(in), out, size);
}

static void
test_base64(void)
{
	unsigned char out[64];
	char enc[64];
	CHECK(dec("", out, sizeof out) == 0, "empty decodes to empty");
	CHECK(dec("YWxpY2U=", out, sizeof out) == 5 && memcmp(out, "alice", 5) == 0, "alice");
	CHECK(dec("YQ==", out, sizeof out) == 1 && out[0] == 'a', "two pads");
	CHECK(dec("YWI=", out, sizeof out) == 2, "one pad");
	CHECK(dec("YWJj", out, sizeof out) == 3, "no pad");
	CHECK(dec("YWJjZ", out, sizeof out) == -1, "length 4n+1 refused (S36)");
	CHECK(dec("YWJjZA", out, sizeof out) == -1, "length 4n+2 refused (missing padding)");
	CHECK(dec("YWJjZGU", out, sizeof out) == -1, "length 4n+3 refused");
	CHECK(dec("YW=jZGVm", out, sizeof out) == -1, "'=' in the middle refused");
	CHECK(dec("YQ==YQ==", out, sizeof out) == -1, "padding then data refused");
	CHECK(dec("Y===", out, sizeof out) == -1, "three pads refused");
	CHECK(dec("====", out, sizeof out) == -1, "only pads refused");
	CHECK(dec("YW=I", out, sizeof out) == -1, "pad before data in the last quantum refused");
	CHECK(dec("YW*j", out, sizeof out) == -1, "non-alphabet byte refused");
	CHECK(dec("YW j", out, sizeof out) == -1, "space refused");
	CHECK(dec("YWJj\r\n", out, sizeof out) == -1, "CRLF refused");
	CHECK(dec("YR==", out, sizeof out) == -1, "non-zero padding bits refused");
	CHECK(sasl_base64_decode("YW\0j", 4, out, sizeof out) == -1, "NUL refused");
	CHECK(dec("YWJj", out, 2) == -1, "output larger than size refused");
	CHECK(dec("YWJj", out, 3) == 3, "output exactly size fits");
	CHECK(dec("YQ==", out, 1) == 1, "padded output exactly size fits");

	size_t big = 65536;
	char *a = malloc(big + 1);
	memset(a, 'A', big);
	a[big] = '\0';
	unsigned char *small = malloc(1024);
	CHECK(sasl_base64_decode(a, big, small, 1024) == -1, "64 KiB of A into 1 KiB refused");
	free(small);
	free(a);

	CHECK(sasl_base64_encode((const unsigned char *)"alice", 5, enc, sizeof enc) == 8 &&
	    strcmp(enc, "YWxpY2U=") == 0, "encode alice");
	CHECK(sasl_base64_encode((const unsigned char *)"", 0, enc, sizeof enc) == 0 &&
	    enc[0] == '\0', "encode empty");
	CHECK(sasl_base64_encode((const unsigned char *)"abc", 3, enc, 4) == -1,
	    "encode needs room for NUL");
	CHECK(sasl_base64_encode((const unsigned char *)"abc", 3, enc, 5) == 4, "encode exact fit");
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	char all64[400];
	unsigned char back[256];
	long n = sasl_base64_encode(all, 256, all64, sizeof all64);
	CHECK(n == 344 && dec(all64, back, sizeof back) == 256 && memcmp(all, back, 256) == 0,
	    "round trip of every byte value");
}

static enum sasl_status
plain(struct sasl *s, const char *msg, size_t len)
{
	char b64[256], ch[64];
	if (sasl_base64_encode((const unsigned char *)msg, len, b64, sizeof b64) < 0)
		abort();
	return sasl_start(s, SASL_PLAIN, b64, ch, sizeof ch);
}

static void
test_plain(void)
{
	struct sasl s;
	char ch[64];
	enum sasl_mech m;
	CHECK(sasl_mech_parse("plain", &m) == 0 && m == SASL_PLAIN, "mech plain");
	CHECK(sasl_mech_parse("LOGIN", &m) == 0 && m == SASL_LOGIN, "mech LOGIN");
	CHECK(sasl_mech_parse("CRAM-MD5", &m) == -1, "unknown mech");

	CHECK(plain(&s, "\0alice@example.org\0secret-pw", 28) == SASL_DONE &&
	    strcmp(s.authcid, "alice@example.org") == 0 && strcmp(s.password, "secret-pw") == 0 &&
	    s.authzid[0] == '\0', "PLAIN initial response");
	sasl_clear(&s);
	CHECK(s.password[0] == '\0', "sasl_clear wipes the password");
	CHECK(plain(&s, "alice\0alice\0pw", 14) == SASL_DONE && strcmp(s.authzid, "alice") == 0,
	    "authzid equal to authcid accepted");
	CHECK(plain(&s, "other\0alice\0pw", 14) == SASL_MALFORMED, "authzid != authcid refused (S36)");
	CHECK(plain(&s, "\0alice", 6) == SASL_MALFORMED, "no password refused");
	CHECK(plain(&s, "\0alice\0", 7) == SASL_MALFORMED, "empty password refused");
	CHECK(plain(&s, "\0\0pw", 4) == SASL_MALFORMED, "empty authcid refused");
	CHECK(plain(&s, "alice\0alice\0pw\0extra", 20) == SASL_MALFORMED, "NUL inside password refused");
	CHECK(plain(&s, "\0al\nice\0pw", 10) == SASL_MALFORMED, "control character in authcid refused");
	CHECK(s.password[0] == '\0', "password wiped after a refusal");

	CHECK(sasl_start(&s, SASL_PLAIN, NULL, ch, sizeof ch) == SASL_CONTINUE && ch[0] == '\0',
	    "PLAIN without initial response: empty challenge");
	CHECK(sasl_step(&s, "AGFsaWNlAHB3", ch, sizeof ch) == SASL_DONE &&
	    strcmp(s.authcid, "alice") == 0 && strcmp(s.password, "pw") == 0, "PLAIN response");
	CHECK(sasl_step(&s, "AGFsaWNlAHB3", ch, sizeof ch) == SASL_MALFORMED, "step after DONE refused");
	sasl_start(&s, SASL_PLAIN, NULL, ch, sizeof ch);
	CHECK(sasl_step(&s, "*", ch, sizeof ch) == SASL_CANCELLED, "'*' cancels");
	sasl_start(&s, SASL_PLAIN, NULL, ch, sizeof ch);
	CHECK(sasl_step(&s, "AGFsaWNlAHB", ch, sizeof ch) == SASL_BAD_BASE64, "bad base64 response");
	CHECK(sasl_start(&s, SASL_PLAIN, "=", ch, sizeof ch) == SASL_MALFORMED,
	    "'=' initial response is empty, which PLAIN refuses");
	CHECK(sasl_start(&s, SASL_PLAIN, "*", ch, sizeof ch) == SASL_CANCELLED, "'*' as initial response");
	CHECK(sasl_start(&s, SASL_PLAIN, "AGFsaWNlAHB3=", ch, sizeof ch) == SASL_BAD_BASE64,
	    "initial response with stray '='");

	/* Fields at the limit and over it. */
	size_t n = SASL_FIELD_MAX;
	char *msg = malloc(2 * n + 8);
	msg[0] = '\0';
	memset(msg + 1, 'u', n);
	msg[n + 1] = '\0';
	memcpy(msg + n + 2, "pw", 2);
	char *b64 = malloc(4 * n);
	sasl_base64_encode((unsigned char *)msg, n + 4, b64, 4 * n);
	CHECK(sasl_start(&s, SASL_PLAIN, b64, ch, sizeof ch) == SASL_MALFORMED,
	    "authcid of SASL_FIELD_MAX bytes refused");
	msg[n] = '\0';
	memcpy(msg + n + 1, "pw", 2);
	sasl_base64_encode((unsigned char *)msg, n + 3, b64, 4 * n);
	CHECK(sasl_start(&s, SASL_PLAIN, b64, ch, sizeof ch) == SASL_DONE &&
	    strlen(s.authcid) == n - 1, "authcid of SASL_FIELD_MAX-1 bytes accepted");
	free(b64);
	free(msg);

	char *huge = malloc(65537);
	memset(huge, 'A', 65536);
	huge[65536] = '\0';
	CHECK(sasl_start(&s, SASL_PLAIN, huge, ch, sizeof ch) == SASL_MALFORMED,
	    "64 KiB response refused cleanly (S36)");
	sasl_start(&s, SASL_LOGIN, NULL, ch, sizeof ch);
	CHECK(sasl_step(&s, huge, ch, sizeof ch) == SASL_MALFORMED, "64 KiB LOGIN username refused");
	memset(huge, 'A', 10240);
	huge[10240] = '\0';
	sasl_start(&s, SASL_LOGIN, NULL, ch, sizeof ch);
	CHECK(sasl_step(&s, huge, ch, sizeof ch) == SASL_MALFORMED, "10 KB LOGIN username refused");
	free(huge);
}

static void
test_login(void)
{
	struct sasl s;
	char ch[64];
	CHECK(sasl_start(&s, SASL_LOGIN, NULL, ch, sizeof ch) == SASL_CONTINUE &&
	    strcmp(ch, "VXNlcm5hbWU6") == 0, "LOGIN asks Username:");
	CHECK(sasl_step(&s, "YWxpY2U=", ch, sizeof ch) == SASL_CONTINUE &&
	    strcmp(ch, "UGFzc3dvcmQ6") == 0, "LOGIN asks Password:");
	CHECK(sasl_step(&s, "c2VjcmV0LXB3", ch, sizeof ch) == SASL_DONE &&
	    strcmp(s.authcid, "alice") == 0 && strcmp(s.password, "secret-pw") == 0, "LOGIN done");
	CHECK(sasl_step(&s, "c2VjcmV0LXB3", ch, sizeof ch) == SASL_MALFORMED, "LOGIN step after DONE");

	CHECK(sasl_start(&s, SASL_LOGIN, "YWxpY2U=", ch, sizeof ch) == SASL_CONTINUE &&
	    strcmp(ch, "UGFzc3dvcmQ6") == 0, "LOGIN with initial response skips Username:");
	CHECK(sasl_step(&s, "*", ch, sizeof ch) == SASL_CANCELLED, "LOGIN cancel at password");
	CHECK(sasl_start(&s, SASL_LOGIN, "=", ch, sizeof ch) == SASL_MALFORMED, "LOGIN empty username");
	sasl_start(&s, SASL_LOGIN, NULL, ch, sizeof ch);
	CHECK(sasl_step(&s, "YQBi", ch, sizeof ch) == SASL_MALFORMED, "NUL in LOGIN username refused");
	sasl_start(&s, SASL_LOGIN, "YWxpY2U=", ch, sizeof ch);
	CHECK(sasl_step(&s, "cABx", ch, sizeof ch) == SASL_MALFORMED, "NUL in LOGIN password refused");
	sasl_start(&s, SASL_LOGIN, "YWxpY2U=", ch, sizeof ch);
	CHECK(sasl_step(&s, "", ch, sizeof ch) == SASL_MALFORMED, "empty LOGIN password refused");
	CHECK(sasl_start(&s, SASL_LOGIN, NULL, ch, 4) == SASL_MALFORMED,
	    "challenge buffer too small is an error, not an overrun");
}

static void
test_fuzz_seeds(void)
{
#define SEED(x) { x, sizeof x - 1 }
	static const struct { const char *data; size_t len; } seeds[] = {
		SEED("\x02" "AGFsaWNlAHB3"),
		SEED("\x00" "AGFsaWNlAHB3\nAGFsaWNlAHB3"),
		SEED("\x01" "YWxpY2U=\nc2VjcmV0LXB3"),
		SEED("\x03" "YWxpY2U=\n*"),
		SEED("\x02" "="),
		SEED("\x02" "YW=jZGVm"),
		SEED("\x01" "\n\n\n\n\n\n\n\n\n\n"),
		SEED("YQ=="),
		SEED("Y==="),
		SEED(""),
	};
#undef SEED
	for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++)
		LLVMFuzzerTestOneInput((const uint8_t *)seeds[i].data, seeds[i].len);
	CHECK(1, "fuzz seeds replayed without a crash");
}

int
main(void)
{
	test_base64();
	test_plain();
	test_login();
	test_fuzz_seeds();
	return unit_done();
}
