/*
 * sort.h — SORT (sort.c) and THREAD (thread.c), RFC 5256, and what
 * THREAD takes from SORT.
 */
#ifndef IMAP_SORT_H
#define IMAP_SORT_H

#include <stdint.h>

#include "imap.h"
#include "search.h"

enum verdict cmd_sort(struct imap *im, struct imap_command *c);
enum verdict cmd_thread(struct imap *im, struct imap_command *c);

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

/* A SORT's keys kept for its UPDATE context (sort.c, used by
 * search-update.c): the context's messages in the sort order. */
struct sort_update;
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
