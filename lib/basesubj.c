/*
 * basesubj.c — RFC 5256 §2.1's base subject (basesubj.h).
 *
 * The steps are the RFC's, on a window [start, end) of the normalised
 * text: (2) trailers "(fwd)" and white space off the end; (3) leaders
 * (white space, or blobs followed by re/fw/fwd and a colon) off the front;
 * (4) one leading "[blob]" off if something is left after it; (5) repeat
 * 3 and 4; (6) "[fwd: ...]" unwrapped, back to 2. Each pass shortens the
 * window, so the work is linear in the (bounded) input per pass and
 * quadratic at worst.
 */
#include "basesubj.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"

/* Step 1: tabs, CR and LF as spaces, runs of spaces as one, in place. */
static size_t
squeeze(char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i] == '\t' || s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
		if (c == ' ' && o > 0 && s[o - 1] == ' ')
			continue;
		s[o++] = c;
	}
	return o;
}

static int
prefix_ci(const char *s, size_t start, size_t end, const char *p)
{
	size_t n = strlen(p);
	return end - start >= n && strncasecmp(s + start, p, n) == 0;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at s[i]: its length, or 0. */
static size_t
blob_len(const char *s, size_t i, size_t end)
{
	if (i >= end || s[i] != '[')
		return 0;
	size_t j = i + 1;
	while (j < end && s[j] != '[' && s[j] != ']')
		j++;
	if (j >= end || s[j] != ']')
		return 0;
	for (j++; j < end && s[j] == ' '; j++)
		;
	return j - i;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at s[i]. */
static size_t
refwd_len(const char *s, size_t i, size_t end)
{
	size_t j;
	if (prefix_ci(s, i, end, "re"))
		j = i + 2;
	else if (prefix_ci(s, i, end, "fwd"))
		j = i + 3;
	else if (prefix_ci(s, i, end, "fw"))
		j = i + 2;
	else
		return 0;
	while (j < end && s[j] == ' ')
		j++;
	j += blob_len(s, j, end);
	return j < end && s[j] == ':' ? j + 1 - i : 0;
}

/* Step 3, once: subj-leader = (*subj-blob subj-refwd) / WSP. */
static size_t
leader_len(const char *s, size_t i, size_t end, int *reply)
{
	if (i < end && s[i] == ' ')
		return 1;
	size_t j = i, b;
	while ((b = blob_len(s, j, end)) > 0)
		j += b;
	size_t r = refwd_len(s, j, end);
	if (r == 0)
		return 0;
	*reply = 1;
	return j + r - i;
}

static void
strip_trailers(const char *s, size_t start, size_t *end, int *reply)
{
	for (;;) {
		if (*end > start && s[*end - 1] == ' ') {
			(*end)--;
		} else if (*end - start >= 5 && strncasecmp(s + *end - 5, "(fwd)", 5) == 0) {
			*end -= 5;
			*reply = 1;
		} else {
			return;
		}
	}
}

static void
strip_leaders(const char *s, size_t *start, size_t end, int *reply)
{
	for (;;) {
		size_t l = leader_len(s, *start, end, reply);
		if (l > 0) {
			*start += l;
			continue;
		}
		size_t b = blob_len(s, *start, end);
		if (b > 0 && *start + b < end) {
			*start += b;
			continue;
		}
		return;
	}
}

char *
base_subject_text(const char *text, size_t len, size_t *len_r, int *reply_r)
{
	char *s = malloc(len + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, text, len);
	size_t start = 0, end = squeeze(s, len);
	int reply = 0;
	for (;;) {
		strip_trailers(s, start, &end, &reply);
		strip_leaders(s, &start, end, &reply);
		if (end - start >= 6 && prefix_ci(s, start, end, "[fwd:") && s[end - 1] == ']') {
			start += 5;
			end--;
			reply = 1;
			continue;
		}
		break;
	}
	memmove(s, s + start, end - start);
	s[end - start] = '\0';
	if (len_r != NULL)
		*len_r = end - start;
	if (reply_r != NULL)
		*reply_r = reply;
	return s;
}

char *
base_subject(const unsigned char *raw, size_t len, size_t *len_r, int *reply_r)
{
	if (len > BASESUBJ_INPUT_MAX)
		len = BASESUBJ_INPUT_MAX;
	size_t n;
	char *text = mime_decode_header(raw, len, &n);
	if (text == NULL)
		return NULL;
	char *b = base_subject_text(text, n, len_r, reply_r);
	free(text);
	return b;
}
