/*
 * path.h — file paths built with their length checked.
 *
 * Every path yubin builds goes into a PATH_MAX buffer (the kernel refuses
 * a longer one with ENAMETOOLONG anyway). A path that does not fit is an
 * error the caller reports: the output is then "", never a truncated path
 * that could name some other file.
 */
#ifndef YUBIN_PATH_H
#define YUBIN_PATH_H

#include <limits.h>
#include <stddef.h>

/* a "/" b, or a "/" b "/" c when c is not NULL, into out (size bytes).
 * 0, or -1 with errno ENAMETOOLONG (out is then ""). */
int path_join(char *out, size_t size, const char *a, const char *b, const char *c);

/* printf into out (size bytes), for a path with more than separators in
 * it ("%s/.%s.tmp"). 0, or -1 with errno ENAMETOOLONG (out is then ""). */
int path_printf(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
