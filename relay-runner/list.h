/*
 * list.h — relay-runner --list.
 */
#ifndef RELAY_LIST_H
#define RELAY_LIST_H

#include "queue.h"

/* Prints every queued message (active/, new/, queue/, corrupt/) with its
 * id, size, arrival, age, state and attempts, sender, and recipients with
 * their state, next attempt and last diagnostic; "Mail queue is empty"
 * otherwise. Returns 0, or 111 if stdout failed. */
int list_queue(const struct queue *q);

#endif
