/*
 * parser.h — the IMAP command parser, in two steps that never read:
 *
 * 1. The framer is fed bytes and collects one whole command: its lines and
 *    the literals ({N}, {N+}, ~{N}) between them. It says when a
 *    synchronising literal needs a "+" go-ahead, and refuses an announced
 *    literal over the limit before anything is allocated for it (S31).
 * 2. The tokenizer turns a collected command into a tag, a command name and
 *    a tree of arguments, with a nesting limit (S32) and NULs refused (S30).
 */
#ifndef IMAP_PARSER_H
#define IMAP_PARSER_H

#include <stddef.h>
#include <stdint.h>

enum frame_status {
	FRAME_NEED_MORE,     /* all input used, command incomplete */
	FRAME_DONE,          /* a whole command is in the buffer */
	FRAME_CONTINUE,      /* send "+ " then feed more: a {N} literal follows */
	FRAME_TOOBIG,        /* a {N} literal over the limit: reply [TOOBIG], no "+" */
	FRAME_TOOBIG_CLOSE,  /* a {N+} literal over the limit: reply BAD, close */
	FRAME_BAD_LITERAL,   /* a malformed literal announcement: reply BAD */
	FRAME_TOOLONG,       /* line over the limit: reply BAD, close */
};

struct imap_framer {
	unsigned char *buf;      /* the command so far (lines and literals) */
	size_t len, cap;
	size_t line_start;       /* start of the line being collected */
	size_t text_bytes;       /* bytes outside literals, this command */
	uint64_t literal_left;   /* literal bytes still to collect */
	uint64_t literal_total;  /* literal bytes collected, this command */
	int in_literal;
	/* Limits, set by the session per state. */
	size_t line_max;         /* bytes outside literals */
	uint64_t literal_max;    /* one literal of any command but APPEND */
	uint64_t append_max;     /* a literal of APPEND */
	char tag[64];            /* tag of the command being refused, for replies */
	int is_append;
	int is_login;
	int preauth;             /* before login, only LOGIN may carry literals (S35) */
};

void framer_init(struct imap_framer *f);
void framer_free(struct imap_framer *f);
/* Forgets the collected command (after DONE or an error reply). */
void framer_reset(struct imap_framer *f);
/* Feeds len bytes; *used_r says how many were taken. The buffer holds the
 * whole command on FRAME_DONE (without its final CRLF), f->len bytes. */
enum frame_status framer_feed(struct imap_framer *f, const unsigned char *data, size_t len,
    size_t *used_r);

enum arg_type { ARG_ATOM, ARG_STRING, ARG_LITERAL, ARG_LIST };

struct imap_arg {
	enum arg_type type;
	char *str;               /* NUL-terminated (literals may hold NULs only as literal8) */
	size_t len;
	int literal8;
	struct imap_arg *list;   /* ARG_LIST children */
	size_t n;
};

struct imap_command {
	char tag[64];
	char name[32];           /* upper-cased */
	struct imap_arg *args;
	size_t n;
};

enum tok_status { TOK_OK = 0, TOK_BAD = -1, TOK_NOMEM = -2 };

/* Tokenizes buf (a framed command). max_depth bounds parenthesis nesting;
 * literal8 is allowed only when allow_literal8 is set. On TOK_BAD, err
 * says why and cmd->tag holds the tag if one was read. */
enum tok_status imap_tokenize(const unsigned char *buf, size_t len, int max_depth,
    int allow_literal8, struct imap_command *cmd, const char **err);
void imap_command_free(struct imap_command *cmd);

/* 1 if a is an atom equal to s (case-insensitive). */
int arg_is(const struct imap_arg *a, const char *s);
/* 1 for an atom, quoted string or literal (an astring). */
int arg_is_string(const struct imap_arg *a);
/* 1 for atom NIL. */
int arg_is_nil(const struct imap_arg *a);

#endif
