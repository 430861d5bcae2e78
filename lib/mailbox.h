/*
 * mailbox.h — delivery to a user's INBOX in either format, chosen by
 * mailbox_format, as one transaction across many users: every copy is
 * written and fsync'd first, then all are published; if any fails, none is
 * visible (Maildir tmp files removed, mbox files truncated back).
 *
 * The INBOX of user u@d is mail_root/d/u/ (Maildir root) or
 * mail_root/d/u/INBOX (mbox).
 */
#ifndef YUBIN_MAILBOX_H
#define YUBIN_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

struct mailbox_txn;

/* Maildir root (or mbox directory) of a user: mail_root/domain/local.
 * Refuses names that could leave mail_root ('/', "..", control bytes).
 * Returns 0 or -1 (EINVAL, ENAMETOOLONG). */
int mailbox_user_dir(const struct conf *conf, const char *addr, char *out, size_t size);

struct mailbox_txn *mailbox_txn_new(const struct conf *conf);
/* Adds a copy for user addr: "Return-Path: <sender>\nDelivered-To: addr\n"
 * then the message (msg_len bytes of msg_fd from offset 0, LF line ends).
 * Creates the user's mailbox if missing. Returns 0, or -1 with errno
 * (ENOSPC/EDQUOT → the caller answers 452; others 451). */
int mailbox_txn_add(struct mailbox_txn *txn, const char *addr, const char *sender,
    int msg_fd, uint64_t msg_len);
/* Publishes every copy. Returns 0 or -1 (errno; then nothing is visible:
 * Maildir copies already linked are unlinked again, mbox copies truncated
 * away; a reader may have glimpsed one in that instant, so the sender's
 * retry can at worst duplicate, never lose). */
int mailbox_txn_commit(struct mailbox_txn *txn);
/* Two-phase form of mailbox_txn_commit, for a caller that must publish
 * something else (the spool file) after the mailboxes and take the copies
 * back if that fails. mailbox_txn_publish links every Maildir copy and
 * keeps the mbox locks, so no mbox reader sees a copy yet; 0, or -1 with
 * errno and nothing visible (as mailbox_txn_commit). mailbox_txn_free
 * after a publish without a finish takes every copy back: Maildir files
 * unlinked from new/, mbox files truncated to their old size. */
int mailbox_txn_publish(struct mailbox_txn *txn);
/* Makes a published transaction final: releases the mbox locks. */
void mailbox_txn_finish(struct mailbox_txn *txn);
/* Undoes what was added (or published, unless finished) and frees; safe
 * on NULL and after commit. */
void mailbox_txn_free(struct mailbox_txn **txn);

#endif
