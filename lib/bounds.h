/*
 * bounds.h — every limit yubin applies to its input, with its reason.
 *
 * Configurable limits take these as their defaults (see conf.h). Case ids
 * (Snn) refer to SECURITY-CASES.md.
 */
#ifndef YUBIN_BOUNDS_H
#define YUBIN_BOUNDS_H

/* Internal buffer of the bounded I/O layer; also the largest TLS record. */
#define IO_BUFFER_SIZE 16384

/* SMTP command line: RFC 5321 §4.5.3.1.4 says 512 with CRLF; real clients
 * send longer (AUTH with initial response), so accept up to 2048 (S47). */
#define SMTP_COMMAND_LINE_MAX 2048
/* SMTP text line: RFC 5321 §4.5.3.1.6 says 1000 with CRLF. Longer lines are
 * accepted and stored whole; the size limit bounds the message. */
#define SMTP_TEXT_LINE_MAX 1000
/* RFC 5321 §4.5.3.1: local part 64, domain 255, path 256 octets (S22). */
#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_PATH_MAX 256
/* Recipients per message: RFC 5321 §4.5.3.1.8 requires at least 100 (S28). */
#define SMTP_RECIPIENTS_DEFAULT 100
/* Transactions per session before 421 (S50): bounded, yet high enough for a
 * client that sends a batch over one connection (smtp_max_transactions). */
#define SMTP_TRANSACTIONS_DEFAULT 1000
/* Bad commands before 421 / BYE, as Postfix and Dovecot (S35). */
#define BAD_COMMANDS_MAX 20
/* Unknown recipients before 421: directory harvest (S50). */
#define SMTP_UNKNOWN_RCPT_MAX 20
/* Junk commands (NOOP, RSET, VRFY, HELP) per session (S49). */
#define SMTP_JUNK_COMMANDS_MAX 100
/* Authentication failures per connection, then close (S53). */
#define AUTH_FAILURES_MAX 3
/* Message size default: DESIGN.md max_message_size (S48). */
#define MESSAGE_SIZE_DEFAULT 36700160ULL
/* Received: headers before a message counts as looping (S60). */
#define HOP_COUNT_MAX 50
/* DSN parameters, RFC 3461 §4.4 and §5.4 (S23). */
#define DSN_ENVID_MAX 100
#define DSN_ORCPT_MAX 500
/* EHLO argument: a domain or address literal (S29). */
#define HELO_NAME_MAX 255
/* SASL response line (base64 of user, authzid and password). */
#define SASL_RESPONSE_MAX 8192

/* Timeouts in seconds. RFC 5321 §4.5.3.2: a server waits at least 5 min for
 * a command; 10 min for the end of DATA (S49). */
#define SMTP_TIMEOUT_SEC 300
#define SMTP_DATA_TIMEOUT_SEC 600
/* Whole-session deadline so a trickling client cannot hold a process (S49). */
#define SESSION_DEADLINE_SEC 3600
/* TLS handshake deadline (S17). */
#define TLS_HANDSHAKE_TIMEOUT_SEC 60
/* RFC 1939 §3: POP3 autologout at least 10 min. */
#define POP3_TIMEOUT_SEC 600
/* RFC 2449 §4: POP3 command line 255 octets with CRLF (S41). */
#define POP3_COMMAND_LINE_MAX 255
/* RFC 3501 §5.4: IMAP autologout at least 30 min once authenticated;
 * 60 s before login (S49). */
#define IMAP_TIMEOUT_SEC 1800
#define IMAP_PREAUTH_TIMEOUT_SEC 60
/* POP3 and IMAP: whole time from connect to login, however the client
 * trickles (a NOOP every 59 s, a byte every 50 s), as Dovecot's 3 min
 * for its login processes; and a whole-session cap once logged in, long
 * enough for a day's IDLE with one reconnect, below the units'
 * RuntimeMaxSec=1d backstop. */
#define LOGIN_DEADLINE_SEC 180
#define POP3_IMAP_SESSION_DEADLINE_SEC (12 * 3600)
/* IMAP command line without literals, as Dovecot (S47). */
#define IMAP_LINE_MAX 65536
/* IMAP COMPRESS=DEFLATE (S52). DEFLATE itself reaches about 1032:1; IMAP
 * commands and mail text stay far below 64:1, so beyond one message's
 * worth (the allowance lib/deflate is given) a session's inflated input
 * may be at most this many times its compressed input. zlib's state for
 * both directions (level 6, 32 KiB window, memLevel 8) is about 300 KiB. */
#define DEFLATE_RATIO_MAX 64
#define DEFLATE_MEMORY_MAX (512u * 1024)

/* Failed-authentication delay: grows by this much per failure (S53). */
#define AUTH_FAIL_DELAY_MS 1000

/* mbox locking: total wait for fcntl and dotlock, and dotlock staleness (S66). */
#define MBOX_LOCK_WAIT_SEC 30
#define MBOX_DOTLOCK_STALE_SEC 300

/* Config file line and value. */
#define CONF_LINE_MAX 4096

/* Spool file (lib/spool.c): one envelope record — an address, ORCPT
 * (DSN_ORCPT_MAX), or a sanitised remote reply (S59) — fits easily in 8 KiB;
 * longer records mean a corrupt or forged file (S26). */
#define SPOOL_RECORD_MAX 8192
/* Recipients per spool file: well above any smtp_max_recipients in use. */
#define SPOOL_RCPTS_MAX 10000
/* The envelope part of a spool file is read into memory: first this much
 * (most envelopes are far smaller; relay-runner reads every deferred
 * file's head on each pass), growing up to the maximum (10000 recipients
 * with long diagnostics). */
#define SPOOL_HEAD_MIN 4096
#define SPOOL_HEAD_MAX (32u * 1024 * 1024)

/* relay-runner SMTP client timeouts, RFC 5321 §4.5.3.2: greeting 5 min,
 * MAIL and RCPT 5 min, DATA 2 min, each data block 3 min, end of data
 * 10 min; the connect wait is ours. relay_timeout caps one connection. */
#define RELAY_CONNECT_TIMEOUT_SEC 30
#define RELAY_GREETING_TIMEOUT_SEC 300
#define RELAY_COMMAND_TIMEOUT_SEC 300
#define RELAY_DATA_INIT_TIMEOUT_SEC 120
#define RELAY_DATA_BLOCK_TIMEOUT_SEC 180
#define RELAY_DATA_END_TIMEOUT_SEC 600
#define RELAY_TIMEOUT_SEC 1800
/* Reply parsing (S58): RFC 5321 §4.5.3.1.5 says 512 octets per reply line;
 * tolerate 2048, and 64 KiB for a whole multi-line reply. */
#define SMTP_REPLY_LINE_MAX 2048
#define SMTP_REPLY_TOTAL_MAX 65536
/* Remote text kept for bounces and logs, printable ASCII only (S59). */
#define RELAY_DIAGNOSTIC_MAX 1000
/* Back-off (S69): 5 min doubling to 4 h, as Postfix's minimal/maximal
 * backoff; a claim older than this is stale when its owner cannot be
 * checked (another host sharing the spool). */
#define RELAY_BACKOFF_MIN_SEC 300
#define RELAY_BACKOFF_MAX_SEC 14400
#define RELAY_STALE_CLAIM_SEC 7200
/* Files left in the spool's tmp/ by a killed writer: removed after 36 h,
 * djb's rule for Maildir tmp/. */
#define RELAY_TMP_STALE_SEC 129600
/* A message still pending after 4 h gets one delay notice (RFC 3464
 * Action: delayed), as the issue suggests. */
#define RELAY_DELAY_WARNING_SEC 14400
/* A connection kept for the next message to the same destination must
 * answer RSET within this many seconds, or a new one is opened. */
#define RELAY_REUSE_CHECK_SEC 30
/* Transactions per message and destination when the server accepts only
 * some recipients each time (452 too many recipients). */
#define RELAY_RCPT_ROUNDS_MAX 100
/* DNS (S60): MX hosts tried per destination, addresses per host. */
#define RELAY_MX_MAX 10
#define RELAY_ADDRS_PER_HOST 4
/* A DSN returns the whole original up to this size, else its headers. */
#define DSN_RETURN_FULL_MAX (10u * 1024 * 1024)

/* POP3: an over-long command line is skipped up to this many bytes (a 5000
 * byte USER still gets its -ERR); a line still without LF ends the session
 * (S41, S47). */
#define POP3_LINE_SKIP_MAX 16384

/* MIME parsing (S38). Dovecot's limits (src/lib-mail/message-parser.h):
 * 100 nested parts, 10,000 parts in all; past them the rest is one opaque
 * leaf. Header fields kept per part and per message (they are still part
 * of the header block, only not indexed), parameters per Content-* field
 * (CVE-2026-27859: 100,000 RFC 2231 parameters), addresses per header
 * (CVE-2026-27852), and a ceiling for the parser's memory. */
#define MIME_DEPTH_MAX 100
#define MIME_PARTS_MAX 10000
#define MIME_HEADERS_MAX 10000
#define MIME_HEADERS_TOTAL_MAX 100000
#define MIME_PARAMS_MAX 256
#define MIME_ADDRESSES_MAX 10000
#define MIME_ARENA_MAX (256u * 1024 * 1024)

/* Maildir tmp/ files older than this are leftovers of killed deliveries:
 * 36 h, as cr.yp.to/proto/maildir.html says (S63). */
#define MAILDIR_TMP_MAX_AGE_SEC (36 * 3600)

/* smtp-session: header block of a received message. Postfix's
 * header_size_limit is 100 KiB; 1 MiB leaves room for long trace chains,
 * and what reads headers later (IMAP ENVELOPE, bounces) stays bounded (S48). */
#define SMTP_HEADER_MAX (1024u * 1024)

/* DKIM signing (lib/dkim.c). The header block it reads is the client's,
 * at most SMTP_HEADER_MAX, plus what smtp-session put on top (Received:,
 * Date:, Message-ID:). A key file is a PEM key: 4096-bit RSA is ~3.3 KiB.
 * h= names at most 100 fields, far more than RFC 6376 §5.4.1's list has
 * in any real message. Lines of the field are folded at 76 columns. */
#define DKIM_HEADER_MAX (SMTP_HEADER_MAX + 16384)
/* A message being received is held in memory (memfd) up to this size and
 * moved to a file under the spool beyond it: an O_TMPFILE costs an inode
 * allocation and release per message (on ext4 without a journal, a scan
 * past recently deleted inodes and a discard; with one, orphan-list
 * updates), a large share of a session's CPU (issue 15); most mail is far
 * smaller. Memory per session stays bounded. */
#define SMTP_MSG_MEMORY_MAX (256u * 1024)
#define DKIM_KEY_FILE_MAX 16384
#define DKIM_RSA_BITS_MIN 2048
#define DKIM_SIGNED_FIELDS_MAX 100
#define DKIM_FOLD_COLUMN 76
/* Keys per From: domain in dkim_key_dir (RSA and Ed25519, a rollover). */
#define DKIM_KEYS_MAX 8

/* imap-session. Before login a literal holds at most a user name or a
 * password (RFC 7888 LITERAL-: 4096), and lists nest one level, enough for
 * ID (CVE-2026-27857; S31, S32). After login lists nest at most 32 levels,
 * and so do SEARCH keys with NOT/OR (S32). */
#define IMAP_PREAUTH_LITERAL_MAX 4096
#define IMAP_PREAUTH_DEPTH 1
#define IMAP_DEPTH_MAX 32
/* THREAD (RFC 5256): the threading walks a thread's tree recursively, so
 * its depth (a chain of replies counts one level per reply) bounds the
 * stack (S32); a message deeper than this starts a thread of its own.
 * Real discussions stay far below it. Of a References: field only the
 * last IMAP_THREAD_REFS_MAX Message-IDs (the nearest ancestors) count. */
#define IMAP_THREAD_DEPTH_MAX 256
#define IMAP_THREAD_REFS_MAX 1000
/* LIST: folders considered and pattern length, so that wildcard matching
 * (time folders x pattern) stays bounded (S51). */
#define IMAP_FOLDERS_MAX 10000
#define IMAP_LIST_PATTERN_MAX 1024
/* IDLE: "* OK Still here" this often keeps NAT mappings open (S40). */
#define IMAP_IDLE_KEEPALIVE_SEC 120

/* Strings built in memory (lib/buf.h). imap-session's ENVELOPE,
 * BODYSTRUCTURE and HEADER.FIELDS answers come from one message (at most
 * 1 GiB is loaded) or what the parser kept of it (MIME_ARENA_MAX), quoted
 * at small cost; decoded text (SEARCH, BINARY, bounces) of such a message is
 * at most 3 bytes per input byte (a Latin-1 byte or U+FFFD in UTF-8). */
#define IMAP_RENDER_MAX (2u * 1024 * 1024 * 1024)
#define MIME_DECODE_MAX (3u * 1024 * 1024 * 1024)

/* SEARCH: CPU seconds one SEARCH may spend reading and matching message
 * content before it answers NO [LIMIT] (RFC 5530), so that a full-text
 * search of a huge mailbox without an index ends (S51). Searches answered
 * from the folder state (flags, UIDs, sizes, dates) do not count. */
#define IMAP_SEARCH_BUDGET_SEC 30
/* CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4.3): SEARCH and SORT
 * results a session keeps up to date (RETURN (UPDATE)). Each holds its
 * result (4 bytes a message, plus the sort keys for SORT) and costs a
 * match of every changed message at each update; a client showing live
 * views (unread, flagged, a few saved searches) needs a handful. Past it
 * the command answers NO [NOUPDATE] untagged and does the rest (§4.3.1:
 * at least one must be offered). */
#define IMAP_SEARCH_UPDATES_MAX 16

/* relay-runner after an outage (S72): a pass starts no delivery after
 * 20 minutes, well inside the unit's TimeoutStartSec=30min, so a pass
 * ends on its own and leaves the rest queued for the next one; up to 8
 * destinations are served at once by worker processes (the unit allows
 * 16 tasks), and at most 64 whatever the configuration says. */
#define RELAY_PASS_BUDGET_SEC 1200
#define RELAY_PROCESSES_DEFAULT 8
#define RELAY_PROCESSES_MAX 64
/* Addresses of one destination that may time out in one attempt before
 * it is given up and noted dead (S72), as Postfix tries at most 5
 * addresses (smtp_mx_address_limit): 2.5 minutes at 30 s each. */
#define RELAY_DEST_TIMEOUTS_MAX 5

/* A line of the users (passwd-file) or aliases file: as a yubin.conf
 * line (CONF_LINE_MAX), room for a long hash plus Dovecot's extra fields;
 * a longer line is skipped whole, never read as two. */
#define USERS_LINE_MAX 4096
/* Distinct hash settings (scheme and cost) counted in a users file to
 * pick what an unknown user costs; settings past these are not counted
 * (a file with more is odd, and the common ones come early enough). */
#define USERS_SETTINGS_MAX 16
/* Largest aliases or users file a session keeps a copy of (users-cache.c);
 * a larger one is read afresh at each lookup, as before. */
#define USERS_FILE_CACHE_MAX (1024 * 1024)

/* IMAP keyword (a flag without backslash) that STORE, APPEND or COPY may
 * create: a line of a Maildir folder's yubin-keywords file is its letter,
 * a space and the keyword, read into a 300-byte buffer; an mbox folder
 * keeps keywords in X-Keywords: headers read up to 1024 bytes. */
#define IMAP_KEYWORD_MAX 200

/* Taking over a Maildir folder from Dovecot or Courier (lib/uidimport.h):
 * a line of dovecot-uidlist holds a UID, Dovecot's extension fields (sizes,
 * a 128-bit GUID, a saved POP3 UIDL) and a file name of at most NAME_MAX,
 * a line of dovecot-keywords an index and a keyword: 1 KiB holds any of
 * them, and a longer line means the file is not what it should be. At
 * most 2,000,000 records (some 200 MB of memory while they are read). */
#define UIDIMPORT_LINE_MAX 1024
#define UIDIMPORT_RECORDS_MAX 2000000
_Static_assert(IMAP_KEYWORD_MAX + 4 <= UIDIMPORT_LINE_MAX, "a keywords line fits");

/* Milters (smtp-session). A reply packet holds at most 1 MiB of data:
 * libmilter sends at most 64 KiB (MILTER_MAX_DATA_SIZE) unless a larger
 * size is negotiated, which we never offer, and 1 MiB is the largest it
 * can negotiate (SMFIP_MDS_1M), so no honest filter is cut off. We send
 * body chunks of at most 65535 bytes, as Postfix (MILTER_CHUNK_SIZE).
 * Header names and address strings from a filter are bounded like ours;
 * one message takes at most 1000 modifications and 8 filters are
 * consulted, each in turn, so a hostile filter grows memory and time
 * only so far (its replaced body counts against max_message_size). */
#define MILTER_PACKET_MAX (1024u * 1024 + 1)
#define MILTER_BODY_CHUNK 65535
#define MILTER_HEADER_NAME_MAX 998
#define MILTER_STRING_MAX 4096
#define MILTER_MODS_MAX 1000
#define MILTERS_MAX 8
/* Postfix's milter_command_timeout and milter_content_timeout are 30 s
 * and 300 s; DESIGN.md asks 30 s for any one reply (a filter that needs
 * longer sends SMFIR_PROGRESS, which restarts the wait). */
#define MILTER_TIMEOUT_SEC 30
/* However often a filter says "progress", one step takes at most this
 * many milter_timeouts (5 minutes by default, Postfix's
 * milter_content_timeout), so a hostile filter cannot hold a session. */
#define MILTER_STEP_TIMEOUTS 10
/* Text of a filter's own reply kept for the client: one SMTP line. */
#define MILTER_REPLY_TEXT_MAX 400

/* The envelope block on top of a quarantined message (lib/quarantine.h):
 * one line per recipient, each at most an address and an ORCPT; 2 MiB
 * holds thousands, and relay-runner reads it whole. */
#define QUARANTINE_ENVELOPE_MAX (2u * 1024 * 1024)

/* The modseq journal (lib/folder-modseq.c) is read this many bytes at a
 * time: its lines are at most 40 bytes, so a chunk holds over a thousand
 * of them, and a journal grown huge (by another program, or a bug) costs
 * time to read through but never more memory than this. */
#define MODSEQ_READ_CHUNK 65536

#endif
