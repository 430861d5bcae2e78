/* Fuzz target: the IMAP command framer and tokenizer, mailbox-name
 * mapping, sequence sets, SEARCH/SORT RETURN lists and CONDSTORE's
 * modifiers and mod-sequences of imap-session (S30-S33, S37). Linked
 * with imap-session's objects.
 *
 * The input is fed to the framer in uneven chunks (as a network would);
 * every framed command is tokenized at both depth limits, each string
 * argument goes through the mailbox-name mapping, each atom through the
 * sequence-set parser and each list through the RETURN-option parser.
 * Checks: the framer never takes more than it is given; a name accepted
 * for disk maps to one ".x.y" entry without '/' and without a ".."
 * component, and maps back to the same name; a parsed set is sorted and
 * merged; a PARTIAL range is ordered and never comes with ALL; a
 * mod-sequence taken is below 2^63 (and not 0 unless allowed), and a
 * (CHANGEDSINCE n) modifier taken has such an n. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap-session/imap.h"
#include "mailname.h"
#include "imap-session/parser.h"
#include "imap-session/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *s, size_t len)
{
	char name[MAILNAME_MAX], disk[MAILNAME_MAX * 3], back[MAILNAME_MAX];
	for (int utf8 = 0; utf8 < 2; utf8++) {
		if (mailname_from_client(s, len, utf8, name, sizeof name) != 0)
			continue;
		if (mailname_to_disk(name, disk, sizeof disk) != 0)
			continue;
		if (strchr(disk, '/') || strstr(disk, "..") || (disk[0] && disk[0] != '.'))
			abort();
		if (disk[0] && (mailname_from_disk(disk, back, sizeof back) != 0 ||
		    strcmp(back, name) != 0))
			abort();
	}
}

static void
check_args(const struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].type == ARG_LIST) {
			/* as a RETURN list: a PARTIAL range taken is lo:hi with
			 * 1 <= lo <= hi, never with ALL (RFC 5267 §4.4) */
			struct search_return r;
			if (search_parse_return(&a[i], &r) == 0 && (r.opts & RET_PARTIAL) &&
			    (r.lo == 0 || r.lo > r.hi || (r.opts & RET_ALL)))
				abort();
			uint64_t v;
			int m = condstore_modifier(&a[i], "CHANGEDSINCE", 0, &v);
			if (m == 0 && (v == 0 || v > INT64_MAX))
				abort();
			check_args(a[i].list, a[i].n);
			continue;
		}
		check_name(a[i].str, a[i].len);
		if (a[i].type == ARG_ATOM) {
			uint64_t v;
			if (condstore_parse_modseq(a[i].str, 1, &v) == 0 && v > INT64_MAX)
				abort();
			if (condstore_parse_modseq(a[i].str, 0, &v) == 0 && v == 0)
				abort();
			struct seqset set;
			if (seqset_parse(a[i].str, 7, &set) == 0) {
				for (size_t k = 0; k < set.n; k++)
					if (set.r[k].lo > set.r[k].hi ||
					    (k > 0 && set.r[k].lo <= set.r[k - 1].hi))
						abort();
				seqset_free(&set);
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_framer f;
	framer_init(&f);
	f.line_max = 4096;
	f.literal_max = 512;
	f.append_max = 2048;
	size_t pos = 0, step = 1;
	while (pos < size) {
		size_t n = size - pos < step ? size - pos : step;
		step = step * 3 % 17 + 1;
		size_t used = 0;
		enum frame_status st = framer_feed(&f, data + pos, n, &used);
		if (used > n)
			abort();
		pos += used;
		if (st == FRAME_DONE) {
			for (int depth = 1; depth <= 32; depth += 31) {
				struct imap_command c;
				const char *err;
				if (imap_tokenize(f.buf, f.len, depth, 1, &c, &err) == TOK_OK) {
					check_args(c.args, c.n);
					imap_command_free(&c);
				}
			}
		}
		if (st == FRAME_TOOLONG || st == FRAME_TOOBIG_CLOSE)
			break;
		if (st != FRAME_NEED_MORE && st != FRAME_CONTINUE)
			framer_reset(&f);
		else if (used == 0 && n > 0 && st == FRAME_NEED_MORE)
			abort();
	}
	framer_free(&f);
	return 0;
}
