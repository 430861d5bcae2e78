/*
 * scan.c — what relay-runner learns from one read of a queued message:
 * 8-bit content, the size on the wire, the Received: count (see scan.h).
 */
#include "scan.h"

#include <unistd.h>

/* One read of the message: whether it has 8-bit bytes, and its size as
 * sent (CRLF line ends, dots stuffed, a final line end: what smtpc's body
 * writer produces), for SIZE= (RFC 1870). */
void
scan_message(int fd, uint64_t off, uint64_t len, int *eight_r, uint64_t *wire_r)
{
	unsigned char buf[65536];
	uint64_t wire = 0;
	int bol = 1, cr = 0, eight = 0;
	while (len > 0) {
		size_t want = len < sizeof buf ? (size_t)len : sizeof buf;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			unsigned char b = buf[i];
			eight |= b & 0x80;
			if (cr) {
				cr = 0;
				wire++;                 /* CR LF, or the space for a lone CR */
				if (b == '\n') {
					wire++;
					bol = 1;
					continue;
				}
				bol = 0;
			}
			if (b == '\r') {
				cr = 1;
			} else if (b == '\n') {
				wire += 2;
				bol = 1;
			} else {
				wire += bol && b == '.' ? 2 : 1;
				bol = 0;
			}
		}
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	if (cr)
		wire++, bol = 0;
	if (!bol)
		wire += 2;
	*eight_r = eight != 0;
	*wire_r = wire;
}

int
scan_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s & 0x80)
			return 1;
	return 0;
}

/* Received: fields in the header section, for the hop limit (S60). */
unsigned
scan_received(int fd, uint64_t off, uint64_t len)
{
	char buf[8192];
	unsigned count = 0;
	int bol = 1, prev_lf = 0;
	size_t match = 0;
	static const char key[] = "received:";
	uint64_t pos = 0;
	while (pos < len && pos < 4u * 1024 * 1024) {
		size_t want = len - pos < sizeof buf ? (size_t)(len - pos) : sizeof buf;
		ssize_t n = pread(fd, buf, want, (off_t)(off + pos));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];
			if (c == '\n') {
				if (prev_lf)
					return count;     /* end of the header section */
				prev_lf = 1;
				bol = 1;
				match = 0;
				continue;
			}
			prev_lf = 0;
			if (bol || match > 0) {
				if (match < sizeof key - 1 && (c | 0x20) == key[match]) {
					if (++match == sizeof key - 1) {
						count++;
						match = 0;
						bol = 0;
						continue;
					}
				} else {
					match = 0;
				}
			}
			bol = 0;
		}
		pos += (uint64_t)n;
	}
	return count;
}
