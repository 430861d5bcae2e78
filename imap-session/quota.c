/*
 * quota.c — QUOTA (RFC 9208) with the one resource STORAGE: one quota
 * root, "", holding every folder of the user, limited by quota_storage.
 * Quotas are the administrator's (yubin.conf), so SETQUOTA answers NO.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "imap.h"
#include "log.h"
#include "mailname.h"
#include "quota.h"

/* "* QUOTA "" (STORAGE used limit)", in units of 1024 octets (§5.1). */
static int
out_quota(struct imap *im)
{
	uint64_t used;
	if (quota_usage(&im->s.conf, im->root, &used) != 0) {
		log_err("user=%s quota usage: %s", im->user, strerror(errno));
		return -1;
	}
	io_printf(&im->io, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
	    (unsigned long long)(used / 1024),
	    (unsigned long long)(im->s.conf.quota_storage / 1024));
	return 0;
}

enum verdict
cmd_getquotaroot(struct imap *im, struct imap_command *c)
{
	char name[MAILNAME_MAX], dir[PATH_MAX];
	if (c->n != 1)
		return verdict(im, V_BAD, "GETQUOTAROOT takes a mailbox");
	if (imap_mailbox_arg(im, &c->args[0], name, sizeof name, dir, sizeof dir) != 0)
		return V_NO;
	io_puts(&im->io, "* QUOTAROOT ");
	out_mailbox(im, name);
	if (im->s.conf.quota_storage == 0) {
		io_puts(&im->io, "\r\n");
		return verdict(im, V_OK, "GETQUOTAROOT completed");
	}
	io_puts(&im->io, " \"\"\r\n");
	if (out_quota(im) != 0)
		return verdict(im, V_NO, "[SERVERBUG] Cannot count usage");
	return verdict(im, V_OK, "GETQUOTAROOT completed");
}

enum verdict
cmd_getquota(struct imap *im, struct imap_command *c)
{
	if (c->n != 1)
		return verdict(im, V_BAD, "GETQUOTA takes a quota root");
	if (im->s.conf.quota_storage == 0 || c->args[0].str == NULL || c->args[0].str[0] != '\0')
		return verdict(im, V_NO, "[NONEXISTENT] No such quota root");
	if (out_quota(im) != 0)
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
	int r = quota_would_exceed(&im->s.conf, im->root, add);
	if (r < 0) {
		log_err("user=%s quota usage: %s", im->user, strerror(errno));
		return verdict(im, V_NO, "[SERVERBUG] Cannot count usage");
	}
	if (r > 0)
		return verdict(im, V_NO, "[OVERQUOTA] Storage quota exceeded");
	return V_OK;
}
