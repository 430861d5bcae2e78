/*
 * smtp-milter.h — smtp-session's milter client, shared by milter.c (the
 * conversation), milter-edit.c (the message as filters see and change
 * it) and the command handlers that call in.
 */
#ifndef SMTP_SMTP_MILTER_H
#define SMTP_SMTP_MILTER_H

#include <stdint.h>

#include "milter.h"
#include "smtp.h"

/* A filter's answer to one step, as the session acts on it. */
enum milter_kind { MR_NONE, MR_CONTINUE, MR_ACCEPT, MR_SKIP, MR_DISCARD, MR_REJECT, MR_TEMPFAIL };

struct milter_result {
	enum milter_kind kind;
	int code;                  /* REJECT, TEMPFAIL: the SMTP reply */
	char enh[16];
	char text[MILTER_REPLY_TEXT_MAX];
};

enum milter_conn_state {
	MC_CLOSED,    /* not yet opened */
	MC_READY,     /* negotiated, taking steps */
	MC_DONE,      /* accepted the whole session: asked no more */
	MC_FAILED,    /* broke down: milter_default_action from now on */
};

struct milter_conn {
	const char *spec;          /* unix:/path or inet:host:port */
	int fd;
	enum milter_conn_state state;
	uint32_t actions, protocol;   /* negotiated */
	int in_msg;                /* MAIL sent, end of message not yet */
	int msg_done;              /* accepted this message: asked no more */
	int discard_all;           /* discarded at CONNECT or HELO */
	char helo_sent[HELO_NAME_MAX + 1];
	struct milter_parser parser;
	unsigned char in[4096];
	size_t in_len, in_off;
};

struct smtp_milters {
	char *specs;               /* a copy of `milters`, split in place */
	struct milter_conn conn[MILTERS_MAX];
	size_t n;
	struct milter_result session_verdict;  /* refusal at CONNECT/HELO */
	int discard;               /* this message goes nowhere */
	char family;               /* MILTER_FAMILY_* of the peer */
	uint16_t port;
	char client_name[80];
	char tls_version[32], cipher[96];
	char rcpt[ADDR_PATH_MAX + 1];   /* for {rcpt_addr} */
	int rcpt_local;
};

/* Modifications one filter asked for at end of message. */
struct milter_edit {
	unsigned char cmd;
	uint32_t index;
	char *s1, *s2;
};

struct milter_edits {
	struct milter_edit *v;
	size_t n;
	size_t bytes;              /* of header names and values, bounded */
	int body_fd;               /* REPLBODY so far (LF line ends), or -1 */
	uint64_t body_len;
	int body_cr;               /* a CR ended the last chunk */
	int quarantine;
	char reason[MILTER_REPLY_TEXT_MAX];
};

/* One header field of the stored message: text is the whole field,
 * "Name: value\n" with its continuation lines. */
struct msg_header {
	char *text;
	size_t len, name_len;
};

struct msg_headers {
	struct msg_header *v;
	size_t n;
	uint64_t body_off;         /* where the body starts in the file */
	int separator;             /* an empty line ends the header block */
};

/* milter.c: the steps. Each returns 0 (go on) or -1 after replying. */
int smtp_milter_mail(struct smtp *s);
int smtp_milter_rcpt(struct smtp *s, const struct smtp_rcpt *r);
enum smtp_milter_outcome {
	SMTP_MILTER_DELIVER,       /* store as usual (modified) */
	SMTP_MILTER_DISCARD,       /* 250, stored nowhere */
	SMTP_MILTER_QUARANTINE,    /* 250, stored in the quarantine only */
	SMTP_MILTER_REFUSE,        /* reply out->code */
	SMTP_MILTER_ERROR,         /* a local error (errno): 451 */
};
/* End of message: every filter in turn, modifications applied to the
 * message file and the envelope in s. */
enum smtp_milter_outcome smtp_milter_message(struct smtp *s, struct milter_result *out);
/* The transaction ended before its end of message (RSET, errors). */
void smtp_milter_abort(struct smtp *s);
/* The session ends: QUIT to every filter, everything freed. */
void smtp_milter_end(struct smtp *s);

/* milter-edit.c */
/* The header block of s->msg_fd. 0 or -1 (errno). */
int msg_headers_read(const struct smtp *s, struct msg_headers *h);
void msg_headers_free(struct msg_headers *h);
void milter_edits_init(struct milter_edits *e);
void milter_edits_free(struct milter_edits *e);
/* Whether a reply code is a modification (or QUARANTINE). */
int milter_edit_is_mod(unsigned char cmd);
/* Keeps the modification in c->parser if c negotiated it. 0, or -1
 * (errno EPROTO: not allowed, malformed or past a bound). */
int milter_edit_collect(struct smtp *s, const struct milter_conn *c, struct milter_edits *e);
/* Applies e to s->msg_fd (a new file replaces it) and to the envelope.
 * 0, or -1 (errno; EPROTO when the filter's edits are unusable). */
int milter_edits_apply(struct smtp *s, const struct milter_conn *c, struct milter_edits *e);
/* Stores the message in the quarantine Maildir (spool/quarantine), under
 * the counted envelope block of lib/quarantine.h (reason, sender,
 * recipients, DSN parameters). 0 or -1 (EINVAL: an address the block
 * cannot carry). */
int smtp_quarantine_store(struct smtp *s, const char *reason);

#endif
