/*
 * idle.c — IDLE (RFC 2177): wait for the client's DONE while reporting new
 * mail, flag changes and expunges as they happen.
 *
 * inotify on new/ and cur/ wakes the session when a delivery or another
 * session changes the folder, so new mail is reported within a second; if
 * inotify is unavailable the folder is polled. "* OK Still here" keeps NAT
 * mappings open; the autologout timer still applies (S40).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "imap.h"
#include "log.h"
#include "path.h"

#define IDLE_POLL_SEC 5
/* Changes usually come in bursts (rename into cur/, then flags): wait this
 * long after the first event so one report covers the burst. */
#define IDLE_SETTLE_MS 50

static int
idle_watch(struct imap *im)
{
	if (im->sel == NULL)
		return -1;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -1;
	if (folder_watch(im->sel, fd) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
idle_drain(int fd)
{
	char buf[4096];
	while (read(fd, buf, sizeof buf) > 0)
		;
}

static time_t
now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

enum verdict
cmd_idle(struct imap *im, struct imap_command *c)
{
	if (c->n != 0)
		return verdict(im, V_BAD, "IDLE takes no arguments");
	int ino = idle_watch(im);
	io_puts(&im->io, "+ idling\r\n");
	imap_report(im, 1);
	io_flush(&im->io);
	time_t last_input = now_sec(), last_out = last_input;
	time_t timeout = (time_t)im->s.conf.imap_timeout;
	for (;;) {
		if (!io_input_waiting(&im->io)) {
			struct pollfd pfd[2] = { { im->io.fd_in, POLLIN, 0 }, { ino, POLLIN, 0 } };
			int wait = ino >= 0 ? IMAP_IDLE_KEEPALIVE_SEC : IDLE_POLL_SEC;
			time_t left = timeout - (now_sec() - last_input);
			if (left < wait)
				wait = left > 0 ? (int)left : 0;
			/* session_deadline holds during IDLE too (the caller says BYE). */
			int wait_ms = wait * 1000, dl = io_wait_ms(&im->io);
			if (im->io.deadline_ms > 0 && dl >= 0 && dl < wait_ms)
				wait_ms = dl;
			int r = poll(pfd, ino >= 0 ? 2 : 1, wait_ms);
			if (r < 0 && errno != EINTR)
				break;
			if (io_deadline_passed(&im->io))
				break;
			time_t now = now_sec();
			if (now - last_input >= timeout) {
				io_puts(&im->io, "* BYE Autologout; idle for too long\r\n");
				io_flush(&im->io);
				if (ino >= 0)
					close(ino);
				return V_CLOSE;
			}
			if (ino >= 0 && r > 0 && (pfd[1].revents & POLLIN)) {
				struct timespec settle = { 0, IDLE_SETTLE_MS * 1000000L };
				nanosleep(&settle, NULL);
				idle_drain(ino);
				imap_report(im, 1);
				last_out = now;
			} else if (ino < 0 && im->sel) {
				imap_report(im, 1);
			}
			if (now - last_out >= IMAP_IDLE_KEEPALIVE_SEC) {
				io_puts(&im->io, "* OK Still here\r\n");
				last_out = now;
			}
			if (io_flush(&im->io) != 0)
				break;
			if (!(r > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))))
				continue;
		}
		char line[256];
		size_t len;
		io_set_timeout(&im->io, 60);
		int st = io_getline(&im->io, line, sizeof line, &len);
		if (st == IO_TOOLONG) {
			io_skipline(&im->io, IMAP_LINE_MAX);
			if (ino >= 0)
				close(ino);
			return verdict(im, V_BAD, "Expected DONE");
		}
		if (st != IO_OK) {
			if (ino >= 0)
				close(ino);
			return V_CLOSE;
		}
		last_input = now_sec();
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (ino >= 0)
			close(ino);
		if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
			return verdict(im, V_OK, "IDLE terminated");
		return verdict(im, V_BAD, "Expected DONE");
	}
	if (ino >= 0)
		close(ino);
	return V_CLOSE;
}
