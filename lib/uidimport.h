/*
 * uidimport.h — what another IMAP server knew of a Maildir folder, read
 * so that a store taking the folder over keeps its UIDVALIDITY, its UIDs
 * and its keywords, and no client downloads the folder again.
 *
 * Files read (in the folder's directory; formats as their servers
 * document them):
 *   dovecot-uidlist   Dovecot 1.1 and later, version 3:
 *                       "3 V<uidvalidity> N<nextuid> G<guid> [<key><value>...]"
 *                     then a record a line:
 *                       "<uid> [<key><value> ...] :<file name>"
 *                     keys of records are A–Z (W<vsize>, G<guid>, P<pop3
 *                     uidl>, ...). Records may be appended after the header
 *                     was written, so a UID may reach past N (the next UID
 *                     is then the last UID + 1). Version 1 (Dovecot 1.0) is
 *                     Courier's format below.
 *   dovecot-keywords  "<index> <keyword>": index 0 is letter 'a' in the
 *                     ":2," info of file names, ..., 25 is 'z'.
 *   courierimapuiddb  Courier-IMAP, version 1: "1 <uidvalidity> <nextuid>"
 *                     then "<uid> <file name>" a line. Courier keeps
 *                     keywords elsewhere (courierimapkeywords/): not read.
 * A folder with both a dovecot-uidlist and a courierimapuiddb was most
 * likely moved from Courier to Dovecot (whose migration script leaves the
 * old file): Dovecot's is read.
 *
 * Strict: UIDs strictly ascending, below 2^32 - 1, a file name a line
 * (no '/', no byte below '!' or DEL, at most NAME_MAX), no two records for
 * one message (the unique part of the name, as maildir_parse_name cuts it),
 * keywords as IMAP atoms without duplicates. One line that is not so and
 * nothing is imported: starting afresh costs a download, a wrong UID would
 * show a client another message under a UID it knows. Lines are read with
 * a ceiling (UIDIMPORT_LINE_MAX) and at most UIDIMPORT_RECORDS_MAX records.
 *
 * The parser takes a line at a time (without its LF) and never reads;
 * uidimport_read() feeds it from the files.
 */
#ifndef YUBIN_UIDIMPORT_H
#define YUBIN_UIDIMPORT_H

#include <stddef.h>
#include <stdint.h>

#define UIDIMPORT_KEYWORDS 26

enum uidimport_kind {
	UIDIMPORT_DOVECOT,  /* dovecot-uidlist, version 3 or 1 */
	UIDIMPORT_COURIER,  /* courierimapuiddb, version 1 */
};

struct uidimport_rec {
	uint32_t uid;
	char *base;         /* the file name's unique part, NUL-terminated */
};

struct uidimport {
	enum uidimport_kind kind;
	int version;        /* of the header; 0 until it is read */
	uint32_t validity;  /* UIDVALIDITY */
	uint32_t next;      /* UIDNEXT (after uidimport_finish: past every record) */
	struct uidimport_rec *recs; /* file order (ascending UIDs); by base after finish */
	size_t n, cap;
	char *kw[UIDIMPORT_KEYWORDS]; /* keyword of letter 'a' + i, or NULL */
	uint32_t stamp;     /* uidimport_read: the list file's mtime (seconds) */
};

/* An empty import of a file of this kind. */
void uidimport_init(struct uidimport *u, enum uidimport_kind kind);
/* One line of the UID list (len bytes at line, without the LF; line[len]
 * is NUL): the header first, then records. 0, or -1 with errno: EINVAL
 * (not of the format), E2BIG (more than UIDIMPORT_RECORDS_MAX records),
 * ENOMEM. After -1 the import is of no use (uidimport_free it). */
int uidimport_line(struct uidimport *u, const char *line, size_t len);
/* One line of dovecot-keywords, as uidimport_line. */
int uidimport_keyword_line(struct uidimport *u, const char *line, size_t len);
/* After the last line: checks the list as a whole (a header, no message
 * twice), makes next exceed every UID and sorts the records by base for
 * uidimport_uid. 0, or -1 (errno EINVAL, ENOMEM). */
int uidimport_finish(struct uidimport *u);
/* The UID of the message whose unique part is base[0..len), or 0 if the
 * list has none (after uidimport_finish). */
uint32_t uidimport_uid(const struct uidimport *u, const char *base, size_t len);
/* Frees what u holds; u is left as after uidimport_init. */
void uidimport_free(struct uidimport *u);

/* Reads the UID list of Maildir folder dir (dovecot-uidlist, else
 * courierimapuiddb) and the keyword letters (dovecot-keywords). Returns 0
 * with *u filled and finished; 1 when there is no list to take: no such
 * file, or one that is not a regular file, too long or not of its format
 * (errno says which), or a dovecot-keywords not of its format; -1 when a
 * file cannot be read (errno): a caller should not start afresh then, or
 * the UIDs are lost for good. On 0 and 1, uidimport_free(u) after.
 * On 1, u holds no records but what a fresh start needs: the keywords if
 * dovecot-keywords was read (the letters in the names are Dovecot's
 * whatever became of the list); the refused list's UIDVALIDITY (validity,
 * 0 unless its header was read) and its mtime (stamp). The other server's
 * clients know some UIDVALIDITY up to about those (Dovecot and Courier
 * take theirs from the clock), so a fresh one must be greater than both,
 * or a client could take the new UIDs for the ones it knows. */
int uidimport_read(const char *dir, struct uidimport *u);

/* Whether the files uidimport_read takes could be opened now: 0, or -1
 * with errno (EACCES, say) when one is there but cannot be. For a caller
 * that must not mark the folder as looked at before a read could work. */
int uidimport_check(const char *dir);
/* The last UIDVALIDITY Dovecot handed out in the user's mail root:
 * root/dovecot-uidvalidity, up to 8 hex digits (and an LF). 0 if there is
 * none or it is not so. A fresh UIDVALIDITY beyond it never meets one a
 * Dovecot client knows, whatever became of the folder's own list. */
uint32_t uidimport_dovecot_last(const char *root);

#endif
