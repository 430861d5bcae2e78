/*
 * submit.c — what a submission server adds to a message (RFC 6409 §8):
 * Date: and Message-ID: when the submitter's client left them out, since
 * readers sort and thread by them. Only for an authenticated submitter:
 * the MX service stores what it was given.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "date.h"
#include "durable.h"
#include "smtp.h"

#define HAS_DATE 1u
#define HAS_MESSAGE_ID 2u

/* Which of Date: and Message-ID: the header section (up to the first
 * empty line) of the content file holds. Field names are matched at the
 * start of a line; continuation lines start with a blank and never match.
 * Returns the HAS_* bits, or -1 (errno). */
static int
header_fields(int fd, uint64_t len)
{
	static const struct { const char *name; unsigned bit; } want[] = {
		{ "date:", HAS_DATE }, { "message-id:", HAS_MESSAGE_ID },
	};
	struct durable_reader r;
	const char *p;
	ssize_t n;
	char name[16];
	size_t nlen = 0;
	int in_name = 1, empty = 1, found = 0;
	durable_reader_init(&r, fd, 0, len);
	while ((n = durable_reader_next(&r, &p)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (p[i] == '\n') {
				if (empty)
					return found;    /* the empty line: header ends */
				empty = in_name = 1;
				nlen = 0;
				continue;
			}
			empty = 0;
			if (!in_name)
				continue;
			if (nlen == sizeof name - 1 || p[i] == ' ' || p[i] == '\t') {
				in_name = 0;     /* too long for ours, or a continuation */
				continue;
			}
			name[nlen++] = p[i];
			name[nlen] = '\0';
			if (p[i] != ':')
				continue;
			in_name = 0;
			for (size_t w = 0; w < sizeof want / sizeof want[0]; w++)
				if (!strcasecmp(name, want[w].name))
					found |= (int)want[w].bit;
		}
	}
	return n < 0 ? -1 : found;
}

/* "Date: ...\nMessage-ID: <...>\n" for the fields that are missing. */
static int
missing_fields(const struct smtp *s, int have, char *out, size_t size)
{
	size_t n = 0;
	out[0] = '\0';
	if (!(have & HAS_DATE)) {
		char date[DATE_RFC5322_SIZE];
		if (date_rfc5322(time(NULL), date, sizeof date) < 0)
			return -1;
		n += (size_t)snprintf(out + n, size - n, "Date: %s\n", date);
	}
	if (!(have & HAS_MESSAGE_ID)) {
		/* The queue id is unique enough for logs; a message id must be
		 * unique for good, so 64 more random bits. */
		uint64_t rnd = 0;
		if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd) {
			errno = EIO;
			return -1;
		}
		n += (size_t)snprintf(out + n, size - n, "Message-ID: <%s.%016llx@%s>\n",
		    s->msg_id, (unsigned long long)rnd, s->conf->hostname);
	}
	if (n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
smtp_submission_headers(struct smtp *s)
{
	if (!s->auth_user[0])
		return 0;
	int have = header_fields(s->msg_fd, s->msg_len);
	if (have < 0)
		return -1;
	if (have == (HAS_DATE | HAS_MESSAGE_ID))
		return 0;
	char add[DATE_RFC5322_SIZE + sizeof s->msg_id + 300];
	if (strlen(s->conf->hostname) > 200) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (missing_fields(s, have, add, sizeof add) < 0)
		return -1;
	/* our Received: stays first (RFC 5321 §4.4 wants trace fields on
	 * top), then the added fields, then the client's message */
	return smtp_msg_insert(s, add, strlen(add));
}
