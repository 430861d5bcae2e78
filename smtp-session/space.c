/*
 * space.c — room for every copy a message becomes (S54).
 *
 * At MAIL the spool and mail_root must each have one and a half largest
 * messages free (envelope.c). That says nothing of a message for twenty
 * local users: once the recipients are known, each file system must hold
 * every copy it will get — one per local mailbox after alias expansion on
 * mail_root, one spool file for the remote targets — and still keep the
 * margin of that rule, half a largest message, free. Checked at RCPT with
 * the size the client declared (SIZE=) and at the end of data with the
 * real size.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "smtp.h"

/* What a mailbox copy adds to the message: Return-Path:, Delivered-To:,
 * an mbox From_ line (two addresses and a date, rounded up). */
#define LOCAL_COPY_EXTRA (2 * ADDR_PATH_MAX + 256)
/* A spool file's envelope: fixed records, then one per remote target. */
#define SPOOL_HEAD_EXTRA 1024
#define SPOOL_RCPT_EXTRA (ADDR_PATH_MAX + DSN_ORCPT_MAX + 64)

/* One file system and the copies it is to hold. */
struct space_fs {
	const char *dir;
	dev_t dev;
	uint64_t local_copies;   /* mailbox copies */
	int spool_copy;          /* the spool file for remote targets */
};

/* Counts copies on dir's file system; unknown directories are skipped
 * (their writes will tell). */
static void
space_add(struct space_fs *fs, size_t *n, const char *dir, uint64_t local, int spool)
{
	struct stat st;
	if (!dir || stat(dir, &st) < 0)
		return;
	for (size_t i = 0; i < *n; i++) {
		if (fs[i].dev == st.st_dev) {
			fs[i].local_copies += local;
			fs[i].spool_copy |= spool;
			return;
		}
	}
	fs[*n] = (struct space_fs){ dir, st.st_dev, local, spool };
	(*n)++;
}

static uint64_t
round_up(uint64_t n, uint64_t block)
{
	return block ? (n + block - 1) / block * block : n;
}

/* What the copies on one file system take, block by block. */
static uint64_t
space_need(const struct space_fs *fs, const struct targets *t, uint64_t size, uint64_t block)
{
	uint64_t need = fs->local_copies * round_up(size + LOCAL_COPY_EXTRA, block);
	if (fs->spool_copy)
		need += round_up(size + SPOOL_HEAD_EXTRA + t->n_remote * SPOOL_RCPT_EXTRA, block);
	return need;
}

int
smtp_space_check(const struct smtp *s, const struct targets *t, uint64_t size)
{
	struct space_fs fs[2];
	size_t n = 0;
	uint64_t margin = s->conf->max_message_size / 2;
	space_add(fs, &n, s->conf->mail_root, t->n_local, 0);
	space_add(fs, &n, s->conf->spool, 0, t->n_remote > 0);
	int verdict = 0;
	for (size_t i = 0; i < n; i++) {
		struct statvfs vfs;
		if (statvfs(fs[i].dir, &vfs) < 0)
			continue;
		uint64_t need = space_need(&fs[i], t, size, vfs.f_frsize);
		uint64_t total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
		uint64_t free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		if (need > total || total - need < margin)
			return 2;
		if (need > free_bytes || free_bytes - need < margin)
			verdict = 1;
	}
	return verdict;
}
