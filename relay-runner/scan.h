/*
 * scan.h — properties of a queued message that decide how it is sent:
 * 8-bit bytes (BODY=8BITMIME), its size as sent (SIZE=, RFC 1870), non-
 * ASCII addresses (SMTPUTF8) and its hop count (S60).
 */
#ifndef RELAY_SCAN_H
#define RELAY_SCAN_H

#include <stdint.h>

/* One read of len bytes at off in fd: *eight_r is 1 if any byte has the
 * high bit set; *wire_r is the size as smtpc sends it (CRLF line ends,
 * dots stuffed, a final line end). */
void scan_message(int fd, uint64_t off, uint64_t len, int *eight_r, uint64_t *wire_r);

/* 1 if s holds a byte above 0x7f. */
int scan_non_ascii(const char *s);

/* Received: fields in the header section (read up to 4 MiB). */
unsigned scan_received(int fd, uint64_t off, uint64_t len);

#endif
