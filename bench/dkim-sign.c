/*
 * dkim-sign.c — the built-in DKIM signer's own CPU per message, for
 * bench/dkim-sign (which builds it against build/obj/lib/libyubin.a).
 *
 *	dkim-sign KEYFILE COUNT SIZE
 *
 * Builds one message of SIZE bytes (LF line ends, as smtp-session stores
 * it) and COUNT times does what smtp-session/sign.c does per message:
 * load the key file, parse the header block, find the From: domain, hash
 * the body, sign. Prints one line of JSON with the CPU seconds of the
 * whole and of the key loads alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dkim.h"

static double
cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
make_message(size_t size, size_t *len_r)
{
	static const char head[] =
	    "Received: from client.example (local)\n\tby bench.test (yubin) with ESMTPA id 1;\n"
	    "\tMon, 01 Jul 2024 12:00:00 +0000\n"
	    "From: Load Generator <bench@bench.test>\nTo: Bench User <bench@bench.test>\n"
	    "Subject: benchmark message\nDate: Mon, 01 Jul 2024 12:00:00 +0000\n"
	    "Message-ID: <bench.1@client.example>\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n";
	static const char line[] =
	    "La de da de da 1. La de da de da 2. La de da de da 3. La de da de da 4.\n";
	char *m = malloc(size + sizeof head + sizeof line);
	size_t n = strlen(head);
	if (!m)
		exit(1);
	memcpy(m, head, n);
	while (n + strlen(line) <= size) {
		memcpy(m + n, line, strlen(line));
		n += strlen(line);
	}
	*len_r = n;
	return m;
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: dkim-sign KEYFILE COUNT SIZE\n");
		return 2;
	}
	long count = atol(argv[2]);
	size_t len;
	char *msg = make_message((size_t)atol(argv[3]), &len), err[256], dom[256];
	double load = 0, t0 = cpu_now();
	for (long i = 0; i < count; i++) {
		double l0 = cpu_now();
		struct dkim_key *key = dkim_key_load(argv[1], err, sizeof err);
		load += cpu_now() - l0;
		if (!key) {
			fprintf(stderr, "dkim-sign: %s: %s\n", argv[1], err);
			return 1;
		}
		struct dkim_headers h;
		struct dkim_body b;
		unsigned char bh[DKIM_HASH_LEN];
		size_t used;
		dkim_headers_init(&h);
		if (dkim_headers_feed(&h, msg, len, &used) != DKIM_PARSE_DONE ||
		    dkim_from_domain(&h, dom, sizeof dom) < 0 || dkim_body_init(&b) < 0)
			return 1;
		dkim_body_feed(&b, msg + used, len - used);
		dkim_body_final(&b, bh);
		char *sig = dkim_sign(key, dom, "bench", &h, bh, time(NULL));
		if (!sig)
			return 1;
		free(sig);
		dkim_headers_free(&h);
		dkim_key_free(&key);
	}
	double total = cpu_now() - t0;
	printf("{\"count\": %ld, \"bytes\": %zu, \"cpu_s\": %.6f, \"key_load_cpu_s\": %.6f}\n",
	    count, len, total, load);
	free(msg);
	return 0;
}
