/*
 * search-update.h — UPDATE contexts of CONTEXT=SEARCH and CONTEXT=SORT
 * (RFC 5267 §4.3): SEARCH and SORT results kept up to date, each change
 * told with an untagged ESEARCH ... ADDTO / REMOVEFROM for the tag of the
 * command that asked, until CANCELUPDATE or the folder is left.
 */
#ifndef IMAP_SEARCH_UPDATE_H
#define IMAP_SEARCH_UPDATE_H

#include <stdint.h>

#include "imap.h"

struct snode;
struct sort_update;

/* After a SEARCH or SORT with RETURN (UPDATE) under tag: prog (taken:
 * search_prog_keep'd) is kept with the result, uids[0..n) (any order),
 * and for SORT su (taken), the result's keys in sort order. With
 * IMAP_SEARCH_UPDATES_MAX contexts already, or out of memory, nothing is
 * kept and the client is told "* NO [NOUPDATE tag]" (§4.3.1). */
void search_update_add(struct imap *im, const char *tag, struct snode *prog,
    const uint32_t *uids, size_t n, struct sort_update *su);
/* 1 if a context has tag (the command must be BAD, §4.3). */
int search_update_tag_used(struct imap *im, const char *tag);
/* search_update_expunged and search_update_report are in imap.h: the
 * first goes before "* n EXPUNGE" responses for the messages marked gone
 * below f->reported (REMOVEFROM for those in a context, while their
 * sequence numbers hold); the second after EXISTS and FETCH updates
 * (ADDTO and REMOVEFROM for the messages that came, went or changed
 * flags since its last call). */
/* Every context dropped: the folder is left (SELECT, EXAMINE, CLOSE,
 * UNSELECT) or the session ends. */
void search_update_clear(struct imap *im);
enum verdict cmd_cancelupdate(struct imap *im, struct imap_command *c);

#endif
