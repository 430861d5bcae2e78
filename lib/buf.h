/*
 * buf.h — a growable byte string with a ceiling, for output built in
 * memory (IMAP ENVELOPE and BODYSTRUCTURE, decoded MIME text, tokens).
 *
 * The ceiling is set when the buffer is made: growth past it fails with
 * E2BIG, a failed allocation with ENOMEM, and nothing ever aborts. The
 * first failure sticks: later adds do nothing and return -1, so a writer
 * may make many adds and check once, at buf_finish(). The contents stay
 * NUL-terminated (the NUL is not counted in len nor in the ceiling).
 *
 *	struct buf b = BUF_INIT(IMAP_RENDER_MAX);
 *	buf_addstr(&b, "(");  ...
 *	char *s = buf_finish(&b, &len);   // NULL: errno says why
 */
#ifndef YUBIN_BUF_H
#define YUBIN_BUF_H

#include <stddef.h>

struct buf {
	char *s;      /* the contents; NULL until something was added */
	size_t len;   /* bytes in s, without the trailing NUL */
	size_t cap;   /* bytes allocated at s */
	size_t max;   /* ceiling for len */
	int err;      /* 0, or the errno of the first failure */
};

/* An empty buffer that holds at most max bytes. Nothing is allocated yet. */
#define BUF_INIT(max_) { NULL, 0, 0, (max_), 0 }
void buf_init(struct buf *b, size_t max);

/* Each appends and returns 0, or returns -1 with errno E2BIG (the ceiling)
 * or ENOMEM; then, and after any earlier failure, nothing is appended. */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_addstr(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The contents so far, NUL-terminated, "" when nothing was added; valid
 * with b->len bytes until the next add. After a failure they are what was
 * there before it (check b->err): never a partial add. */
const char *buf_str(struct buf *b);

/* Cuts the contents to their first len bytes (nothing when len is not
 * shorter), keeping the allocation, for a buffer reused as scratch. A
 * failure stays recorded. */
void buf_truncate(struct buf *b, size_t len);

/* Records a failure of the writer's own (say a malloc of its own failed),
 * so that buf_finish() reports it; the first failure is the one kept. */
void buf_fail(struct buf *b, int err);

/* Hands the contents over: a malloc'd NUL-terminated string (an empty one
 * when nothing was added) with its length in *len_r (if not NULL); the
 * caller frees it. After a failure it frees the contents and returns NULL
 * with errno set to the first failure. Either way b is left empty, as
 * after buf_init() with the same ceiling. */
char *buf_finish(struct buf *b, size_t *len_r);

/* Frees the contents; b is left empty, as after buf_init(). */
void buf_free(struct buf *b);

#endif
