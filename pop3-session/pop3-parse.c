/*
 * pop3-parse.c — splits a POP3 command line into keyword and arguments.
 *
 * Strict where a lax parser has hurt others: one space between fields, no
 * empty arguments ("RETR  1"), no control bytes, bounded field lengths, and
 * numbers parsed by hand with an upper bound instead of atoi (S41, S42).
 */
#include "pop3-parse.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int
pop3_parse_rest_only(const char *keyword)
{
	return strcmp(keyword, "PASS") == 0 || strcmp(keyword, "AUTH") == 0;
}

/* Strips one trailing LF and one CR before it; rejects any other control
 * byte (a NUL could cut the line short for later string handling). */
static int
line_strip(char *line, size_t *len)
{
	size_t n = *len;
	if (n > 0 && line[n - 1] == '\n')
		n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 && c != '\t')
			return -1;
		if (c == 0x7f)
			return -1;
	}
	line[n] = '\0';
	*len = n;
	return 0;
}

static int
split_args(char *p, struct pop3_command *cmd)
{
	while (*p) {
		char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);
		if (n == 0 || n > POP3_ARG_MAX || cmd->argc == POP3_ARGS_MAX)
			return POP3_PARSE_BAD_ARGS;
		cmd->argv[cmd->argc++] = p;
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
		if (*p == '\0')
			return POP3_PARSE_BAD_ARGS;  /* trailing space */
	}
	return POP3_PARSE_OK;
}

int
pop3_parse_line(char *line, size_t len, struct pop3_command *cmd)
{
	memset(cmd, 0, sizeof *cmd);
	cmd->rest = "";
	if (line_strip(line, &len) < 0)
		return POP3_PARSE_BAD_BYTE;
	if (len == 0)
		return POP3_PARSE_EMPTY;
	size_t k = 0;
	while (k < len && line[k] != ' ') {
		if (k == POP3_KEYWORD_MAX || !isalpha((unsigned char)line[k]))
			return POP3_PARSE_BAD_KEYWORD;
		cmd->keyword[k] = (char)toupper((unsigned char)line[k]);
		k++;
	}
	if (k < 3)
		return POP3_PARSE_BAD_KEYWORD;
	cmd->keyword[k] = '\0';
	if (k == len)
		return POP3_PARSE_OK;
	char *p = line + k + 1;
	if (*p == '\0')
		return POP3_PARSE_BAD_ARGS;
	cmd->rest = p;
	if (pop3_parse_rest_only(cmd->keyword))
		return POP3_PARSE_OK;
	return split_args(p, cmd);
}

int
pop3_parse_number(const char *s, unsigned long max, unsigned long *r)
{
	unsigned long v = 0;
	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*r = v;
	return 0;
}

int
pop3_parse_count(const char *s, unsigned long *r)
{
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
		return -1;
	if (pop3_parse_number(s, (unsigned long)-1, r) < 0)
		*r = (unsigned long)-1;
	return 0;
}
