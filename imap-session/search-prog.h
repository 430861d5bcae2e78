/*
 * search-prog.h — the SEARCH program (search-prog.c): search keys run
 * over the selected folder by SEARCH, SORT, THREAD and UPDATE contexts,
 * and the budget (S51) that they and SORT's and THREAD's reads of header
 * fields spend.
 */
#ifndef IMAP_SEARCH_PROG_H
#define IMAP_SEARCH_PROG_H

#include <stdint.h>
#include <time.h>

#include "imap.h"

/* What one command may still spend on message content. */
struct sbudget {
	struct timespec start;   /* CLOCK_PROCESS_CPUTIME_ID at the start */
	struct timespec wall;    /* CLOCK_MONOTONIC at the start */
	uint64_t cpu_ns;         /* 0: no limit */
	uint64_t bytes, max_bytes; /* max_bytes 0: no limit */
	const char *over;        /* NULL, or the limit that was reached */
	size_t done;             /* messages looked at (for the log) */
	uint64_t looks, clock_bytes; /* when the clocks were last read */
};

void search_budget_start(struct sbudget *b, const struct conf *conf);
/* 1 (and stays 1) once the budget is spent; asked before each look at a
 * message's content. */
int search_budget_spent(struct sbudget *b);

/* The search keys args[0..n) in charset (a string argument: SORT and
 * THREAD name one) run over the selected folder with budget b (started
 * by the caller): V_OK with the indexes of the messages that match, in
 * folder order, in *idx_r (malloc'd, *n_r of them); else a verdict with
 * im->text set (BAD keys, NO [BADCHARSET], NO when out of memory). With
 * b->over set on return the budget ran out: see search_over_budget. */
enum verdict search_messages(struct imap *im, const struct imap_arg *charset,
    const struct imap_arg *args, size_t n, struct sbudget *b, size_t **idx_r, size_t *n_r);
/* search_messages that also gives back, in *prog_r, the program it ran
 * (for an UPDATE context; free with search_prog_free). */
struct snode;
enum verdict search_messages_keep(struct imap *im, const struct imap_arg *charset,
    const struct imap_arg *args, size_t n, struct sbudget *b, size_t **idx_r, size_t *n_r,
    struct snode **prog_r);
/* Makes prog outlive its command: its strings copied, its sequence sets
 * and "$" turned into the UIDs they name now (a context's keys must not
 * move as messages come and go; RFC 5267 §4.3). 0, or -1 (ENOMEM). */
int search_prog_keep(struct imap *im, struct snode *prog);
/* 1 if message idx of the selected folder matches prog, else 0 (also
 * when b ran out: b->over set). A keyword that did not exist when prog
 * was parsed is looked up again. */
int search_prog_match(struct imap *im, struct snode *prog, size_t idx, struct sbudget *b);
void search_prog_free(struct snode **prog);

/* NO [LIMIT] "<cmd> too expensive" (cmd: "Search", "Sort", "Thread"),
 * logged with how far it got. */
enum verdict search_over_budget(struct imap *im, const struct sbudget *b, const char *cmd,
    size_t done);

#endif
