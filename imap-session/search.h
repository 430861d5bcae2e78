/*
 * search.h — what the commands take from SEARCH: its keys and budget
 * (search-prog.h) and its RETURN options (search-return.h). The files of
 * SEARCH itself include those two directly.
 */
#ifndef IMAP_SEARCH_H
#define IMAP_SEARCH_H

#include "search-prog.h"
#include "search-return.h"

#endif
