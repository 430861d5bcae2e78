/*
 * fileline.h — one line of a configuration-like text file (yubin.conf,
 * users, aliases, routes), read with a ceiling.
 *
 * fgets() into a fixed buffer reads an over-long line as two, and stops
 * its newline search at a NUL byte; both let a line's tail pass for a line
 * of its own. fileline_read() reads a whole line or reports why not, and
 * always leaves the file at the start of the next line.
 *
 *	char line[CONF_LINE_MAX];
 *	enum fileline_status st;
 *	while ((st = fileline_read(f, line, sizeof line, NULL)) != FILELINE_EOF) {
 *		if (st == FILELINE_ERROR) ...   // errno set
 *		if (st != FILELINE_OK) ...      // too long or NUL: skip or refuse
 *	}
 */
#ifndef YUBIN_FILELINE_H
#define YUBIN_FILELINE_H

#include <stddef.h>
#include <stdio.h>

enum fileline_status {
	FILELINE_OK,      /* a line is in buf */
	FILELINE_EOF,     /* no byte before the end of the file */
	FILELINE_TOOLONG, /* more than size - 1 bytes; read to its end, dropped */
	FILELINE_NUL,     /* holds a NUL byte, so it is no text; read, dropped */
	FILELINE_ERROR,   /* read error, errno set */
};

/* Reads the next line of f into buf (size >= 1): its bytes without the LF
 * and a CR just before the LF, NUL-terminated, length in *len_r (if not
 * NULL). A last line without LF is a line; feof(f) is then already true,
 * and never after a line with its LF (for files whose every line must end
 * in one). On FILELINE_TOOLONG and FILELINE_NUL buf holds the line's start
 * (at most size - 1 bytes), NUL-terminated; the next call reads the line
 * after. */
enum fileline_status fileline_read(FILE *f, char *buf, size_t size, size_t *len_r);

#endif
