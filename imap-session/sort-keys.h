/*
 * sort-keys.h — a SORT's keys (sort-keys.c): the sort program, each
 * message's keys and their order, used by SORT and THREAD, and the keys
 * an UPDATE context of SORT keeps (search-update.c).
 */
#ifndef IMAP_SORT_KEYS_H
#define IMAP_SORT_KEYS_H

#include <stdint.h>

#include "imap.h"
#include "search-prog.h"

enum skey { K_ARRIVAL, K_CC, K_DATE, K_FROM, K_SIZE, K_SUBJECT, K_TO, K_DISPLAYFROM, K_DISPLAYTO };

/* Each key is named at most once in a sensible program; REVERSE aside
 * there are nine. Twice as many allowed, no more (S32). */
#define SORT_KEYS_MAX 18

struct sortspec {
	enum skey k[SORT_KEYS_MAX];
	int reverse[SORT_KEYS_MAX];
	size_t n;
};

union sval {
	int64_t num;
	char *str;
};

struct sitem {
	size_t idx;              /* in the folder when the keys were made */
	uint32_t uid;            /* the final tie-break: sequence (UID) order */
	union sval v[];
};

/* A SORT's keys kept for its UPDATE context (search-update.c): items in
 * the sort order. */
struct sort_update {
	struct sortspec sp;
	struct sitem **items;
	size_t n, cap;
};

/* The sort criteria list into *sp: 0, or -1 (BAD). */
int sort_parse_spec(const struct imap_arg *list, struct sortspec *sp);
/* The keys of the messages idx[0..n) into items[0..n) (allocated here),
 * sorted by sp: V_OK, or the verdict to give (NO [LIMIT] when b ran out). */
enum verdict sort_items(struct imap *im, const struct sortspec *sp, const size_t *idx, size_t n,
    struct sbudget *b, struct sitem **items);
/* items[0..n) and the array freed. */
void sort_items_free(struct sitem **items, size_t n, const struct sortspec *sp);

/* The header fields of message idx SORT and THREAD read (From, To, Cc,
 * Subject, Date, Message-ID, References, In-Reply-To): from the cache,
 * else the message's header (its bytes spent from b). NULL when the
 * budget is spent (b->over set) or the message cannot be read (then it
 * sorts as if it had none). Valid until the next call. */
const struct mime_message *sort_fields(struct imap *im, size_t idx, struct sbudget *b);
/* The SORT and THREAD keys of message idx (lib/mcache-keys.h) into *k,
 * their bytes in *buf_r (the caller frees them): from the keys cache,
 * else from sort_fields (which may spend b). 0, 1 (the budget is spent:
 * b->over) or -1 (ENOMEM). A message that cannot be read has empty keys
 * and no date. */
struct mkeys;
int sort_keys(struct imap *im, size_t idx, struct sbudget *b, struct mkeys *k, char **buf_r);
/* The sent date of RFC 5256 §2.2: the Date: field, else the
 * INTERNALDATE. */
int64_t sort_sent_date(struct imap *im, size_t idx, const struct mkeys *k);

/* Messages idx[0..n) of the selected folder get their keys (spending
 * b) and their places in su's order: 0; 1 when b ran out, -1 when out of
 * memory (su unchanged then). */
int sort_update_add(struct sort_update *su, struct imap *im, const size_t *idx, size_t n,
    struct sbudget *b);
/* The messages with UIDs uids[0..n) (ascending) leave su. */
void sort_update_remove(struct sort_update *su, const uint32_t *uids, size_t n);
/* The UID at position pos (from 0) of su's order. */
uint32_t sort_update_uid(const struct sort_update *su, size_t pos);
void sort_update_free(struct sort_update **su);

#endif
