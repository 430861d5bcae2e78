/*
 * dest.h — delivery of one claimed message to its destinations: pending
 * recipients grouped by destination (lib route: routes, relay_host or
 * MX), one connection per destination carrying all its recipients, the
 * kept connection reused, "dead until" notes honoured and written (S72).
 */
#ifndef RELAY_DEST_H
#define RELAY_DEST_H

#include "job.h"

/* Groups the pending recipients by destination and delivers each group,
 * recording every result and saving state after each completed
 * transaction (S68). */
void dest_deliver_all(struct job *j);

#endif
