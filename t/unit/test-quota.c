/* test-quota — lib/users-quota.c: the quota rule of a users-file line
 * (Dovecot's userdb_quota_rule / quota_rule in the eighth field: units,
 * storage= in KiB, bytes=, ignore, 0, other mailboxes' rules, errors);
 * lib/quota-file.c: what a maildirsize file sums to and which files are
 * to be counted again (damaged, too long, a negative sum, written before
 * this boot), and that a recount writes nothing through a planted link. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "quota-file.h"
#include "users.h"
#include "unit.h"

static char dir[] = "/tmp/yubin-unit-quota-XXXXXX";
static char path_users[128], path_conf[128], path_size[128];

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static const char users[] =
    "plain@example.org:{PLAIN}x\n"
    "six@example.org:{PLAIN}x:1:1::/h:/bin/false\n"
    "kib@example.org:{PLAIN}x::::::userdb_quota_rule=*:storage=100\n"
    "giga@example.org:{PLAIN}x::::::userdb_quota_rule=*:storage=2G\n"
    "bytes@example.org:{PLAIN}x::::::userdb_mail=maildir:~/M quota_rule=*:bytes=5000\n"
    "msgs@example.org:{PLAIN}x::::::userdb_quota_rule=*:storage=1M:messages=10\n"
    "trash@example.org:{PLAIN}x::::::userdb_quota_rule=Trash:storage=+10M\n"
    "ignore@example.org:{PLAIN}x::::::userdb_quota_rule=*:ignore\n"
    "zero@example.org:{PLAIN}x::::::userdb_quota_rule=?:storage=0\n"
    "tera@example.org:{PLAIN}x::::::userdb_quota_rule=*:bytes=1t\n"
    "bad1@example.org:{PLAIN}x::::::userdb_quota_rule=*:storage=lots\n"
    "bad2@example.org:{PLAIN}x::::::userdb_quota_rule=*:storage=10%\n"
    "bad3@example.org:{PLAIN}x::::::userdb_quota_rule=*:storage=+1G\n"
    "bad4@example.org:{PLAIN}x::::::userdb_quota_rule=*:weight=3\n"
    "bad5@example.org:{PLAIN}x::::::userdb_quota_rule=*:bytes=99999999999999999999\n";

static void
test_rules(const struct conf *conf)
{
	uint64_t b = 7;
	CHECK(users_quota(conf, "plain@example.org", &b) == 0, "no extra fields: no rule");
	CHECK(users_quota(conf, "six@example.org", &b) == 0, "uid/gid/home but no eighth field: no rule");
	CHECK(users_quota(conf, "nobody@example.org", &b) == 0, "unknown user: no rule");
	CHECK(users_quota(conf, "kib@example.org", &b) == 1 && b == 100 * 1024, "storage= is KiB");
	CHECK(users_quota(conf, "GIGA@example.org", &b) == 1 && b == 2ULL << 30,
	    "G unit, login case-insensitive");
	CHECK(users_quota(conf, "bytes@example.org", &b) == 1 && b == 5000,
	    "quota_rule= among other fields, bytes= in bytes");
	CHECK(users_quota(conf, "msgs@example.org", &b) == 1 && b == 1 << 20,
	    "messages= accepted beside storage=");
	CHECK(users_quota(conf, "trash@example.org", &b) == 0, "another mailbox's rule: ignored");
	CHECK(users_quota(conf, "ignore@example.org", &b) == 1 && b == 0, "*:ignore: no limit");
	CHECK(users_quota(conf, "zero@example.org", &b) == 1 && b == 0, "?:storage=0: no limit");
	CHECK(users_quota(conf, "tera@example.org", &b) == 1 && b == 1ULL << 40, "t unit");
	const char *bad[] = { "bad1", "bad2", "bad3", "bad4", "bad5" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char addr[64], name[96];
		snprintf(addr, sizeof addr, "%s@example.org", bad[i]);
		snprintf(name, sizeof name, "%s: a rule that cannot be read is EINVAL", bad[i]);
		errno = 0;
		CHECK(users_quota(conf, addr, &b) == -1 && errno == EINVAL, name);
	}
}

/* quota_file_read of text: its return value, and the sum in *s. */
static int
read_text(const char *text, struct quota_file_sum *s)
{
	write_text(path_size, text);
	int fd = open(path_size, O_RDONLY);
	int r = quota_file_read(fd, s);
	close(fd);
	return r;
}

static void
test_file(void)
{
	struct quota_file_sum s;
	CHECK(read_text("10000S\n500 2\n-100 -1\n", &s) == 1 && s.bytes == 400 && s.messages == 1 &&
	    s.lines == 2, "header, count, a removal: summed");
	CHECK(read_text("10000S,100C\n      1234      5\n", &s) == 1 && s.bytes == 1234,
	    "Courier's padded lines and S,C header");
	CHECK(read_text("10000S\n500 2\n12", &s) == 0, "a half-written last line: recount");
	CHECK(read_text("10000S\n500\n", &s) == 0, "a line of one number: recount");
	CHECK(read_text("10000S\n100 1\n-500 -1\n", &s) == 0, "a negative sum: recount");
	CHECK(read_text("junk\n100 1\n", &s) == 0, "a bad header: recount");
	CHECK(read_text("", &s) == 0, "empty: recount");
	char *big = malloc(6000);
	strcpy(big, "10000S\n");
	for (size_t n = strlen(big); n < 5200; n += 4)
		strcat(big, "0 0\n");
	CHECK(read_text(big, &s) == 0, "5120 bytes or more: recount");
	free(big);
	struct quota_note n;
	snprintf(path_size, sizeof path_size, "%s/maildirsize", dir);
	write_text(path_size, "10000S\n100 1\n");
	quota_note_begin(dir, &n);
	quota_note_add(&n, 42, 1);
	quota_note_end(&n);
	int fd = open(path_size, O_RDONLY);
	CHECK(quota_file_read(fd, &s) == 1 && s.bytes == 142 && s.messages == 2,
	    "a note for the root is appended");
	close(fd);
	unlink(path_size);
	char folder[160];
	snprintf(folder, sizeof folder, "%s/.Sent", dir);
	write_text(path_size, "10000S\n100 1\n");
	quota_note_begin(folder, &n);
	quota_note_add(&n, 42, 1);
	quota_note_add(&n, -10, -1);
	quota_note_end(&n);
	fd = open(path_size, O_RDONLY);
	CHECK(quota_file_read(fd, &s) == 1 && s.bytes == 132 && s.messages == 1 && s.lines == 3,
	    "notes for a .Folder land in the root's file");
	close(fd);
	unlink(path_size);
	quota_note_begin(dir, &n);
	quota_note_add(&n, 42, 1);
	quota_note_end(&n);
	CHECK(access(path_size, F_OK) != 0, "no file: a note creates none");
}

/* A file last written before this boot may lack lines a crash lost: a
 * note appended now must not make it look current again. */
static void
test_stale_note(void)
{
	struct quota_file_sum s;
	struct quota_note n;
	const struct timespec before_boot[2] = { { 0, UTIME_OMIT }, { 1, 0 } };
	snprintf(path_size, sizeof path_size, "%s/maildirsize", dir);
	write_text(path_size, "10000S\n100 1\n");
	if (utimensat(AT_FDCWD, path_size, before_boot, 0) != 0) {
		perror(path_size);
		exit(1);
	}
	quota_note_begin(dir, &n);
	quota_note_add(&n, 42, 1);
	quota_note_end(&n);
	int fd = open(path_size, O_RDONLY);
	CHECK(quota_file_read(fd, &s) == 0, "a note to a file from before the boot: still recounted");
	close(fd);
	unlink(path_size);
}

/* The recount's new file is made at a name nobody can plant a link at
 * beforehand (S34): a hard link left at tmp/maildirsize.<pid> is not
 * written through. */
static void
test_replace_planted(void)
{
	char tmp[160], planted[200], victim[160], got[64] = "";
	struct quota_file_sum s;
	snprintf(tmp, sizeof tmp, "%s/tmp", dir);
	snprintf(planted, sizeof planted, "%s/maildirsize.%ld", tmp, (long)getpid());
	snprintf(victim, sizeof victim, "%s/victim", dir);
	snprintf(path_size, sizeof path_size, "%s/maildirsize", dir);
	write_text(victim, "not the count\n");
	write_text(path_size, "10000S\n1 1\n");
	if (mkdir(tmp, 0700) != 0 || link(victim, planted) != 0) {
		perror(planted);
		exit(1);
	}
	int fd = quota_file_lock(dir);
	CHECK(fd >= 0 && quota_file_replace(dir, fd, 10000, 7, 3) == 0, "recount written");
	FILE *f = fopen(victim, "r");
	CHECK(f && fgets(got, sizeof got, f) && strcmp(got, "not the count\n") == 0,
	    "a file linked at the old temporary name is left alone");
	if (f)
		fclose(f);
	fd = open(path_size, O_RDONLY);
	CHECK(quota_file_read(fd, &s) == 1 && s.bytes == 7 && s.messages == 3, "the new count is read");
	close(fd);
	unlink(planted);
	unlink(victim);
	unlink(path_size);
	rmdir(tmp);
}

int
main(void)
{
	struct conf conf;
	char text[512], err[256];
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path_users, sizeof path_users, "%s/users", dir);
	snprintf(path_conf, sizeof path_conf, "%s/yubin.conf", dir);
	snprintf(path_size, sizeof path_size, "%s/size", dir);
	write_text(path_users, users);
	snprintf(text, sizeof text, "local_domains = example.org\nusers = %s\n", path_users);
	write_text(path_conf, text);
	conf_defaults(&conf);
	if (conf_load(&conf, path_conf, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	test_rules(&conf);
	test_file();
	test_stale_note();
	test_replace_planted();
	conf_free(&conf);
	snprintf(path_size, sizeof path_size, "%s/size", dir);
	unlink(path_size);
	unlink(path_users);
	unlink(path_conf);
	rmdir(dir);
	return unit_done();
}
