/* Unit tests for lib/dkim.c and lib/dkim-canon.c: the header block parser
 * (fed whole and one byte at a time), the relaxed canonical forms against
 * dkimpy's, the From: domain, key checks, and whole signatures with fixed
 * keys against known answers.
 *
 * The body hashes and canonical headers are dkimpy's (dkim.canonicalization
 * .Relaxed) over each input as a relay sends it (LF → CRLF, a lone CR → a
 * space, a final line end added): t/fixtures/dkim/make-vectors.py prints
 * them. The two signatures were made by this signer once and verified by
 * dkimpy and by `opendkim -t` with TestDNSData before they were stored. */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "dkim.h"
#include "unit.h"

/* Test-only keys: never use them for mail. */
static const char RSA_KEY[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDjLuYxy7xsud7m\n"
	"OAxhfIWWchHcfb3a+GKHU/uVG+4VreQ2CrewQjpM3z1sNuJFxXiobVRTSyd23exc\n"
	"MR4jzDFLCd7EPIYwRLep1dLqJ7KotDXtdVEXCaWGEUWQPfqLv7xUWVsonWQy+Xy1\n"
	"PtDOOxFjjmGepoeqzvzvw1RAJHLbVFWamJuMHojAZAtsMC5KiiyHXO7+SlIFK/p7\n"
	"h1TC6wSgT3oRlwIpigm2O3cRto2vziMMj03mZhiKbCsnj1Mqf5v3XnUKOgkoPESA\n"
	"sF71lQ0pyC6KE6HEN91yZrGep2q5LH+77lBdoBXL4Cbq/OfJRKafzB2tCGZWGmgS\n"
	"/+2y2b9BAgMBAAECggEAECDygUsGUc7BWyVUBbDGOCfZikaYDb1wG0z0UcH1nW7m\n"
	"wopwv4/4HSCFNxNPbaYnGogGglJV1yvKvcHT8rUqs7nb6aElYrRiOKnAS1Ttq2n9\n"
	"4SGg0+qgqHu97U9lI/pFB9T/Mos4A6FwP9rZjqalZaTEW/PVMmR3ExuSNeqQh+8a\n"
	"x0JA/tRddsu7vpopvOO1ZUI8kLdVubMHYnKZWT/NGA0htF591VvvdvcauK68yGi0\n"
	"T+w2qLdUAZJ05Epv2lE0j7HDBQZ6jX/XthpqAsk7YjZsM64d9n1FzYPM0eH0pCYU\n"
	"RxT8t23ro4RKkGGjd3xFg34ER/wMamkiFJyLIKkzpQKBgQD/W1mgpNR9KVPlwIuN\n"
	"u9ejgveHUCC9uShWYKmYecP47BwHdMw2vptS4z72Zs6njTdUlVymOjBR+zc5ojkP\n"
	"1EdSqp6MQyWY1pM+dqqRU9IZRKEdLqfbWihOG9x0hybu2A4cyYXVkfHV9kPBqcjN\n"
	"S2R/LsiWiA4P+aSONcKAs9hIZQKBgQDjwWIY3yddobLl0ErT3J/I6ZDlLC4mNhoO\n"
	"vMRaukuhNGbZ2JNgiI90YLQVm6dKzVkhGbqptly36l2ChAMatBGyFFlPeQTA3wsE\n"
	"v8dD7iUoANbE3zh1u8us11NEjQacTwLvWingaSFPCZiYOOzqFHgmds2XkXYrCMGy\n"
	"whgKGRTXrQKBgGeZy1I2rZMeGlDDfpsBU+qd7wkyBCaVIX1x+DzJYi3ytSh9RYEM\n"
	"cf39/oR/j2ZBD+q8MnuqbgJE1tIGM/ptGIa8fFjRwUYyAEk+YdNWW44u3uL1E9sV\n"
	"x/ZwrU+FqdELTSZ2yFquvJwfLrw6wyIvbVWASJdyGap3kUC1JPWMgbpVAoGBAMXb\n"
	"rEL7KhG3ddkcWMUw90btUckl1nmvqnd/Gf3PtgA3q9o4wd+tAyMRF6Fl9bGQL4wH\n"
	"9BeXq3jDC7VkxeWe5XiVIPlfoveDTOk1SgEDlBfqkqm5Wi09ljVzYo09Dq8gHOae\n"
	"p56i9iLZrU0gtwCsA602rGiuH8BG/S80Wvn6zBaJAoGBANujGCy49ERhybqDMEz+\n"
	"Mvg/kePGqM5OwABCEc/3Wbwe52lYQNiUtAjdPCJpU5lvAcEDsR5nCI74kIPjZjYk\n"
	"wBldoNF9s9dTribdaQLOpRCvUunXLhLk9DriiqciXp9QDqxCJ2ZwydCuBvG0cSyP\n"
	"6FlSFo3pVUNuUjxO5soV91rF\n"
	"-----END PRIVATE KEY-----\n";
static const char ED_KEY[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEIAz8PMoQnfpMApTRi1kdLjswqmHRiebc2tXAjoRsXfOS\n"
	"-----END PRIVATE KEY-----\n";
static const char RSA1024_KEY[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAKuFf6e6Ij0IEvYN\n"
	"pHON9ozsmr71npTgERpCzOi0hM7tycFuu/OiYiWatdZSX7Xy+9KAdRiUDblDTASp\n"
	"QiSzKcrGOYg1gubONgodQfK90LJFRYNWzHgHAWfDnjnR/B6j96YMQUu0dUq4EXBO\n"
	"mWyQ7cVPEPG88MzwCip3Ajk5bUvRAgMBAAECgYEAg49WJvSiJmX3BTvZk7ikD9u7\n"
	"phUHmfFzrMzoFuW/qGjDg9bH20wGNAnCx61PNGQ3u3JEXqHRFPUFbd3VmgjCWEAv\n"
	"UEkq1XhCBN1BQwzayU0JoFjXEgjaj7HPaCTqDcp/OY0b/2s+J/JXusxevYiBq1SK\n"
	"iZl5ICpJe8V3/rfKaAECQQDfVQGi+OwWsayC4mhoBGg17srN1y3Va2aEhL15Hh9+\n"
	"OtjgWNkvaqTvDrPLlN8EZFY7g+9Glry1KYotNMN6CP2xAkEAxJxerxU9vdBx5WNZ\n"
	"IPzNNUZQtngyybuGbdB8tlE4d9OjCwBRuf9oM6IXZ+V6TWlpbCJL4PA6iwxu6i7k\n"
	"gTwYIQJAWgE8Q53mJ887IxRz11fPV80A1qwdwKEkE8wbQDCvqIO229Ny0/U6u01F\n"
	"kIpSxsZZKmslh2FAdBJlqYpWLVxqQQJBAL5DSImMN7SBjEbc7nqyye8dPaxnA1cf\n"
	"hwasNJPGY6vp/aT+yRgCpxcYbCgZ9VIGiYOgaOej8jNvc8JiYLUDr6ECQGV7AYZG\n"
	"pGWdqY+6oI9p0pyb6aJ9XbAIghl6gNYSIcpYp2nrKvAfOfAn2tOonFsbvSboWdim\n"
	"ZwvLfTpFwdVWWrU=\n"
	"-----END PRIVATE KEY-----\n";
static const char KAT_MSG[] =
	"Received: from client.example (local)\n"
	"\tby mx.example.org (yubin) with ESMTPA id 1;\n"
	"\tMon, 13 Nov 2023 22:13:20 +0000\n"
	"From: \"Alice A.\" <alice@Example.ORG>\n"
	"To: bob@example.net,\n"
	"  carol@example.net\n"
	"Subject:  hello   world \t\n"
	"Date: Mon, 13 Nov 2023 22:13:20 +0000\n"
	"Message-ID: <kat@example.org>\n"
	"List-Id: <a.b>\n"
	"list-id: <c.d>\n"
	"List-Bad;x=y: z\n"
	"X-Other: not signed\n"
	"\n"
	"body  line \t\n"
	"\n"
	".dot\n"
	"8bit caf\303\251\n"
	"\n"
	"\n";
static const char KAT_RSA[] =
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=rsa1;\n"
	"\tt=1700000000;\n"
	"\th=From:From:To:Subject:Date:Message-ID:List-Id:List-Id;\n"
	"\tbh=Y/AQFiyzZb1D74Juz+iYIUIYx/5SDgYCEXgV7xYD9qA=;\n"
	"\tb=OrMQQHnYoOkCdXeuyQEvCw6flSLbdoswIHFg2ksJohL4ZUaOXS0yg+uQtoa6z8K1oL4cSj0mq\n"
	"\t2S97KJew49DolEYm4/QD4oeVz++VH2oa53jdzFK3xkU1+7qyN9ukxzgxpdlb35NUWsbJUvHj/AF\n"
	"\tvi1KC1bg+/aUmEKAGIOUPnHTT4/1kJuUChN515AnOz5RNSL/sWJ2BXIf27EDPU28a6MyyHvBe3j\n"
	"\toBwmXx9HPbErmyEL76YFKZRTVmhMJI31ib6lHbY5RFo7/LE85UHBTXREG7xfjTKbA+B1HlAA3NZ\n"
	"\tiBstFG+AyCYkJ9IdSrwTsMU4hvT8KDLofzwd877l41gg==\n";
static const char KAT_ED[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;\n"
	"\ts=ed1; t=1700000000;\n"
	"\th=From:From:To:Subject:Date:Message-ID:List-Id:List-Id;\n"
	"\tbh=Y/AQFiyzZb1D74Juz+iYIUIYx/5SDgYCEXgV7xYD9qA=;\n"
	"\tb=SanbzGaSx38xqi70M9z0gOecWUT7xbMyiqlDbY/PAIbEHuYx1grg/i6y3wQS9Q1kAcJ/cj7jD\n"
	"\tfi+nDAV9dV4Aw==\n";

static const struct {
	const char *body;
	size_t len;
	const char *bh;
} bodies[] = {
	{ "", 0, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
	{ "\n", 1, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
	{ "\n\n\n", 3, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
	{ "a  b \t\n\n\nc\n\n\n", 13, "uRC1oL/FiAimhCblM77drdtAHNoMe2l7SH8eDL6IY8k=" },
	{ "no final newline", 16, "9VnUfMOhr1KTveYHAqtlmO2tva61TFqp0GQ0OzB6YtU=" },
	{ ".dot\n..two\n", 11, "Kodp1zaehsa1kS8x5IQsxXI6C5tHScbeR9GondPMtuU=" },
	{ "x\r\ny\rz\n", 7, "bnQbdNneCpnarwZC1ZUvXTyEsNTmaaipWlIVBVIsNvQ=" },
	{ "caf\303\251 \n", 7, "fyrb23eJAgnxOjIuddiqE7kWlyLnAqLjZyUBJdM+iDI=" },
	{ NULL, 5001, "uqzi3Vk2e+5IYZsNm+KED4dzFCuJu/qeKbIcvJqtKOM=" },  /* "long " x 1000 "\n" */
	{ " leading ws\n \n\t\nx", 17, "Ga2J+hO8pf7BmmzskJswC/U1YFMkaILvKNFcSVNf2/g=" },
	{ "  \t  ", 5, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
};

static const struct {
	const char *raw, *canon;
} headers[] = {
	{ "Subject:  hello   world \t", "subject:hello world\r\n" },
	{ "To: a,\n  b", "to:a, b\r\n" },
	{ "X-A :\tv", "x-a:v\r\n" },
	{ "FROM:x\r", "from:x\r\n" },
	{ "empty:", "empty:\r\n" },
	{ "k: v\r\n w", "k:v w\r\n" },
};

static void
b64(const unsigned char *in, size_t len, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
		    (i + 2 < len ? in[i + 2] : 0);
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = i + 1 < len ? abc[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? abc[v & 63] : '=';
	}
	out[o] = '\0';
}

/* The body hash of body, fed in pieces of step bytes (0: whole). */
static void
body_hash(const char *body, size_t len, size_t step, char *out)
{
	struct dkim_body b;
	unsigned char h[DKIM_HASH_LEN];
	dkim_body_init(&b);
	for (size_t i = 0; i < len;) {
		size_t n = step && len - i > step ? step : len - i;
		dkim_body_feed(&b, body + i, n);
		i += n;
	}
	dkim_body_final(&b, h);
	b64(h, sizeof h, out);
}

static void
test_bodies(void)
{
	char *longbody = malloc(5001);
	for (int i = 0; i < 1000; i++)
		memcpy(longbody + i * 5, "long ", 5);
	longbody[5000] = '\n';
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		const char *body = bodies[i].body ? bodies[i].body : longbody;
		char whole[64], bytewise[64], name[80];
		body_hash(body, bodies[i].len, 0, whole);
		body_hash(body, bodies[i].len, 1, bytewise);
		snprintf(name, sizeof name, "body %zu: dkimpy's relaxed body hash", i);
		CHECK(!strcmp(whole, bodies[i].bh), name);
		snprintf(name, sizeof name, "body %zu: the same fed a byte at a time", i);
		CHECK(!strcmp(bytewise, bodies[i].bh), name);
	}
	free(longbody);
}

static void
test_canon_header(void)
{
	for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
		char out[64], name[80];
		size_t n = dkim_canon_header(headers[i].raw, strlen(headers[i].raw), out);
		snprintf(name, sizeof name, "header %zu: dkimpy's relaxed form", i);
		CHECK(n == strlen(headers[i].canon) && !memcmp(out, headers[i].canon, n), name);
	}
}

/* Parses msg in pieces of step bytes; returns the body offset. */
static size_t
parse(struct dkim_headers *h, const char *msg, size_t len, size_t step)
{
	size_t off = 0, used;
	dkim_headers_init(h);
	while (off < len) {
		size_t n = step && len - off > step ? step : len - off;
		enum dkim_parse r = dkim_headers_feed(h, msg + off, n, &used);
		off += used;
		if (r != DKIM_PARSE_MORE)
			return off;
	}
	dkim_headers_end(h);
	return off;
}

static int
field_is(const struct dkim_headers *h, size_t i, const char *raw)
{
	return i < h->n_fields && h->fields[i].len == strlen(raw) &&
	    !memcmp(h->buf + h->fields[i].off, raw, strlen(raw)) &&
	    h->fields[i].name_len == (size_t)(strchr(raw, ':') ? strchr(raw, ':') - raw : (long)strlen(raw));
}

static void
test_parser(void)
{
	static const char msg[] = "A: 1\nB: 2\n\tfold\nC\n\nbody\nD: no\n";
	struct dkim_headers h;
	for (size_t step = 0; step < 2; step++) {
		size_t off = parse(&h, msg, sizeof msg - 1, step);
		CHECK(off == strlen("A: 1\nB: 2\n\tfold\nC\n\n"), step ? "parser: body offset, bytewise"
		    : "parser: body offset");
		CHECK(h.n_fields == 3 && field_is(&h, 0, "A: 1") && field_is(&h, 1, "B: 2\n\tfold") &&
		    field_is(&h, 2, "C"), step ? "parser: fields, bytewise" : "parser: fields, folds kept");
		dkim_headers_free(&h);
	}
	size_t used = 99;
	parse(&h, "A: 1\n\n", 6, 0);
	CHECK(dkim_headers_feed(&h, "more", 4, &used) == DKIM_PARSE_DONE && used == 0,
	    "parser: bytes fed after the end are body, not taken");
	dkim_headers_free(&h);
	parse(&h, "A: 1\r\n\r\nbody", 13, 1);
	CHECK(h.n_fields == 1 && field_is(&h, 0, "A: 1\r") && h.done,
	    "parser: CR LF empty line ends the block");
	dkim_headers_free(&h);
	parse(&h, "A: 1\n\rB: 2\n\n", 12, 0);
	CHECK(h.n_fields == 1 && field_is(&h, 0, "A: 1\n\rB: 2"),
	    "parser: a line starting with a lone CR continues the field (a space on the wire)");
	dkim_headers_free(&h);
	parse(&h, "A: 1\nB: no line end", 19, 0);
	CHECK(h.n_fields == 2 && field_is(&h, 1, "B: no line end"), "parser: no body, no final LF");
	dkim_headers_free(&h);
	parse(&h, "A: 1\nB: 2\n", 10, 0);
	CHECK(h.n_fields == 2 && field_is(&h, 1, "B: 2"), "parser: no empty line, final LF");
	dkim_headers_free(&h);

	size_t big = DKIM_HEADER_MAX + 10;
	char *p = malloc(big);
	memset(p, 'x', big);
	dkim_headers_init(&h);
	enum dkim_parse r = dkim_headers_feed(&h, p, big, &used);
	CHECK(r == DKIM_PARSE_TOO_BIG && used == DKIM_HEADER_MAX && h.cap <= DKIM_HEADER_MAX,
	    "parser: bounded by DKIM_HEADER_MAX");
	dkim_headers_free(&h);
	free(p);
}

static int
from_is(const char *msg, const char *want)
{
	struct dkim_headers h;
	char dom[256];
	parse(&h, msg, strlen(msg), 0);
	int rc = dkim_from_domain(&h, dom, sizeof dom);
	dkim_headers_free(&h);
	return want ? rc == 0 && !strcmp(dom, want) : rc < 0;
}

static void
test_from(void)
{
	CHECK(from_is("From: a@Example.ORG\n\n", "example.org"), "from: bare address, lower-cased");
	CHECK(from_is("from: \"A, B\" <a@x.example>\n\n", "x.example"), "from: display name");
	CHECK(from_is("From: A\n <a@fold.example> (c)\n\n", "fold.example"), "from: folded");
	CHECK(from_is("To: b@y\n\n", NULL), "from: none");
	CHECK(from_is("From: a@x\nFrom: b@y\n\n", NULL), "from: two fields");
	CHECK(from_is("From: a@x, b@y\n\n", NULL), "from: two addresses");
	CHECK(from_is("From: a@b_c.example\n\n", NULL), "from: not a host name");
	CHECK(from_is("From: a@\303\251.example\n\n", NULL), "from: 8-bit domain");
	CHECK(from_is("From: a\n\n", NULL), "from: no domain");
}

static void
test_keys(void)
{
	char err[200];
	struct dkim_key *k = dkim_key_import(RSA_KEY, strlen(RSA_KEY), err, sizeof err);
	CHECK(k && dkim_key_alg(k) == DKIM_RSA_SHA256, "key: RSA-2048 PKCS#8");
	dkim_key_free(&k);
	CHECK(k == NULL, "key: free sets NULL");
	k = dkim_key_import(ED_KEY, strlen(ED_KEY), err, sizeof err);
	CHECK(k && dkim_key_alg(k) == DKIM_ED25519_SHA256, "key: Ed25519");
	dkim_key_free(&k);
	k = dkim_key_import(RSA1024_KEY, strlen(RSA1024_KEY), err, sizeof err);
	CHECK(!k && strstr(err, "1024 bits"), "key: RSA-1024 refused");
	k = dkim_key_import("junk", 4, err, sizeof err);
	CHECK(!k && err[0], "key: junk refused");
	k = dkim_key_load("/nonexistent/key", err, sizeof err);
	CHECK(!k && err[0], "key: a missing file is an error");
}

static char *
sign_kat(const char *pem, const char *sel)
{
	char err[200];
	struct dkim_headers h;
	struct dkim_body b;
	unsigned char bh[DKIM_HASH_LEN];
	size_t off = parse(&h, KAT_MSG, strlen(KAT_MSG), 7);
	dkim_body_init(&b);
	dkim_body_feed(&b, KAT_MSG + off, strlen(KAT_MSG) - off);
	dkim_body_final(&b, bh);
	struct dkim_key *k = dkim_key_import(pem, strlen(pem), err, sizeof err);
	char *sig = k ? dkim_sign(k, "example.org", sel, &h, bh, 1700000000) : NULL;
	dkim_key_free(&k);
	dkim_headers_free(&h);
	return sig;
}

static void
test_sign(void)
{
	char *sig = sign_kat(RSA_KEY, "rsa1");
	CHECK(sig && !strcmp(sig, KAT_RSA), "sign: rsa-sha256 known answer");
	if (sig && strcmp(sig, KAT_RSA))
		printf("# got:\n%s", sig);
	free(sig);
	sig = sign_kat(ED_KEY, "ed1");
	CHECK(sig && !strcmp(sig, KAT_ED), "sign: ed25519-sha256 known answer");
	if (sig && strcmp(sig, KAT_ED))
		printf("# got:\n%s", sig);
	CHECK(sig && strstr(sig, "h=From:From:To:Subject:Date:Message-ID:List-Id:List-Id;") &&
	    !strstr(sig, "l=") && strstr(sig, " t=1700000000;"),
	    "sign: From over-signed, both List-Id, no List-Bad;x=y, no l=, t= set");
	int long_line = 0;
	for (const char *p = sig; p && *p;) {
		const char *nl = strchr(p, '\n');
		if (nl - p > 78)
			long_line = 1;
		p = nl + 1;
	}
	CHECK(sig && !long_line, "sign: lines folded at 78 columns or less");
	free(sig);
}

int
main(void)
{
	test_bodies();
	test_canon_header();
	test_parser();
	test_from();
	test_keys();
	test_sign();
	return unit_done();
}
