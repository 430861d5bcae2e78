/*
 * quota.c — QUOTA (RFC 9208) with the one resource STORAGE: one quota
 * root, "", holding every folder of the user, limited by the user's own
 * quota rule in the users file, else by quota_storage (lib/quota.h).
 * Quotas are the administrator's, so SETQUOTA answers NO.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "imap.h"
#include "log.h"
#include "mailname.h"
#include "quota.h"

/* The logged-in user's limit (0: none); -1 logged when it cannot be read. */
static int
user_limit(struct imap *im, uint64_t *limit_r)
{
	if (quota_limit(&im->s.conf, im->user, limit_r) == 0)
		return 0;
	log_err("user=%s quota rule: %s", im->user, strerror(errno));
	return -1;
}

int
imap_quota_offered(struct imap *im)
{
	uint64_t limit;
	if (im->state == STATE_NOT_AUTH)
		return im->s.conf.quota_storage != 0;
	return user_limit(im, &limit) != 0 || limit != 0;
}

/* "* QUOTA "" (STORAGE used limit)", in units of 1024 octets (§5.1). */
static int
out_quota(struct imap *im, uint64_t limit)
{
	uint64_t used;
	if (quota_usage(&im->s.conf, im->root, limit, &used) != 0) {
		log_err("user=%s quota usage: %s", im->user, strerror(errno));
		return -1;
	}
	io_printf(&im->io, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
	    (unsigned long long)(used / 1024),
	    (unsigned long long)(limit / 1024));
	return 0;
}

enum verdict
cmd_getquotaroot(struct imap *im, struct imap_command *c)
{
	char name[MAILNAME_MAX], dir[PATH_MAX];
	uint64_t limit;
	if (c->n != 1)
		return verdict(im, V_BAD, "GETQUOTAROOT takes a mailbox");
	if (imap_mailbox_arg(im, &c->args[0], name, sizeof name, dir, sizeof dir) != 0)
		return V_NO;
	if (user_limit(im, &limit) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot read the quota");
	io_puts(&im->io, "* QUOTAROOT ");
	out_mailbox(im, name);
	if (limit == 0) {
		io_puts(&im->io, "\r\n");
		return verdict(im, V_OK, "GETQUOTAROOT completed");
	}
	io_puts(&im->io, " \"\"\r\n");
	if (out_quota(im, limit) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot count usage");
	return verdict(im, V_OK, "GETQUOTAROOT completed");
}

enum verdict
cmd_getquota(struct imap *im, struct imap_command *c)
{
	uint64_t limit;
	if (c->n != 1)
		return verdict(im, V_BAD, "GETQUOTA takes a quota root");
	if (user_limit(im, &limit) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot read the quota");
	if (limit == 0 || c->args[0].str == NULL || c->args[0].str[0] != '\0')
		return verdict(im, V_NO, "[NONEXISTENT] No such quota root");
	if (out_quota(im, limit) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot count usage");
	return verdict(im, V_OK, "GETQUOTA completed");
}

enum verdict
cmd_setquota(struct imap *im, struct imap_command *c)
{
	(void)c;
	return verdict(im, V_NO, "[NOPERM] Quotas are set by the administrator");
}

enum verdict
imap_quota_check(struct imap *im, uint64_t add)
{
	uint64_t limit;
	if (user_limit(im, &limit) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot read the quota");
	int r = quota_would_exceed(&im->s.conf, im->root, limit, add);
	if (r < 0) {
		log_err("user=%s quota usage: %s", im->user, strerror(errno));
		return verdict(im, V_NO, "[SERVERBUG] Cannot count usage");
	}
	if (r > 0)
		return verdict(im, V_NO, "[OVERQUOTA] Storage quota exceeded");
	return V_OK;
}
