/* Fuzz target: imap-session's IMAP URL parser (imap-session/imapurl.c),
 * which CATENATE feeds with client text (S30).
 *
 * Checks: nothing is read past the input (ASan; the input is copied into
 * a buffer of exactly its size); a URL accepted has a UID, a mailbox and
 * NUL-terminated fields within their sizes, an accepted section passes
 * imapurl_section_valid; a URL written back from what was parsed parses
 * to the same thing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap-session/imapurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Percent-encodes s, every byte but letters and digits. */
static size_t
enc(char *out, size_t o, size_t cap, const char *s)
{
	for (; *s && o + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
	}
	out[o] = '\0';
	return o;
}

static void
check_round_trip(const struct imapurl *u)
{
	char s[IMAPURL_MAX * 4];
	size_t o = 0;
	s[o++] = '/';
	o = enc(s, o, sizeof s, u->mailbox);
	o += (size_t)snprintf(s + o, sizeof s - o, ";UIDVALIDITY=%u", u->uidvalidity);
	if (u->uidvalidity == 0)
		o -= strlen(";UIDVALIDITY=0");
	o += (size_t)snprintf(s + o, sizeof s - o, "/;UID=%u", u->uid);
	if (u->has_section) {
		o += (size_t)snprintf(s + o, sizeof s - o, "/;SECTION=");
		o = enc(s, o, sizeof s, u->section);
	}
	if (u->has_partial)
		o += (size_t)snprintf(s + o, sizeof s - o, "/;PARTIAL=%u", u->partial_off);
	if (u->has_partial && u->partial_len)
		o += (size_t)snprintf(s + o, sizeof s - o, ".%u", u->partial_len);
	struct imapurl again;
	if (o > IMAPURL_MAX)
		return; /* the encoded form may be longer than the input was */
	if (imapurl_parse(s, o, &again) != IMAPURL_OK || strcmp(again.mailbox, u->mailbox) != 0 ||
	    again.uid != u->uid || again.uidvalidity != u->uidvalidity ||
	    again.has_section != u->has_section || strcmp(again.section, u->section) != 0 ||
	    again.has_partial != u->has_partial || again.partial_off != u->partial_off ||
	    again.partial_len != u->partial_len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > IMAPURL_MAX + 64)
		return 0;
	char *s = malloc(size ? size : 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	struct imapurl u;
	enum imapurl_status st = imapurl_parse(s, size, &u);
	free(s);
	if (st != IMAPURL_OK)
		return 0;
	if (u.uid == 0 || u.mailbox[0] == '\0' ||
	    memchr(u.mailbox, '\0', sizeof u.mailbox) == NULL ||
	    memchr(u.section, '\0', sizeof u.section) == NULL ||
	    memchr(u.user, '\0', sizeof u.user) == NULL || memchr(u.host, '\0', sizeof u.host) == NULL)
		abort();
	if (u.has_section && !imapurl_section_valid(u.section))
		abort();
	if (!u.absolute && !u.urlauth)
		check_round_trip(&u);
	return 0;
}
