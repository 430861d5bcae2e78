/*
 * sort.h — the commands SORT (sort.c) and THREAD (thread.c), RFC 5256;
 * the keys they sort by are sort-keys.h's.
 */
#ifndef IMAP_SORT_H
#define IMAP_SORT_H

#include <stdint.h>

#include "imap.h"

enum verdict cmd_sort(struct imap *im, struct imap_command *c);
enum verdict cmd_thread(struct imap *im, struct imap_command *c);

#endif
