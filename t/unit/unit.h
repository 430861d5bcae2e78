/* unit.h — tiny TAP for C unit tests: CHECK(cond, name), then unit_done(). */
#ifndef YUBIN_UNIT_H
#define YUBIN_UNIT_H
#include <stdio.h>
static int unit_n, unit_failed;
#define CHECK(cond, name) do { \
	unit_n++; \
	if (cond) printf("ok %d - %s\n", unit_n, name); \
	else { unit_failed++; printf("not ok %d - %s (%s:%d)\n", unit_n, name, __FILE__, __LINE__); } \
} while (0)
static inline int unit_done(void) { printf("1..%d\n", unit_n); return unit_failed != 0; }
#endif
