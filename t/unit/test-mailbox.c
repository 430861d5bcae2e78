/* Unit tests for lib/mailbox: user directories (no traversal), transactions
 * over several users in Maildir and mbox, all-or-nothing when one user's
 * new/ is a symlink or unwritable (S34, S62), rollback leaving mbox files
 * byte-identical. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "mailbox.h"
#include "maildir.h"
#include "mbox.h"
#include "unit.h"

static char top[] = "/tmp/yubin-mailbox-XXXXXX";

static int
msg_fd(const char *text)
{
	int fd = memfd_create("msg", MFD_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	return fd;
}

static size_t
count_msgs(const char *maildir)
{
	struct maildir_entry *e;
	size_t n;
	if (maildir_scan(maildir, 0, &e, &n) != 0)
		return (size_t)-1;
	maildir_entries_free(&e, n);
	return n;
}

static int
dir_empty(const char *dir)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
	return system(cmd) == 0;
}

static void
conf_at(struct conf *c, const char *root, enum mailbox_format fmt)
{
	conf_defaults(c);
	free(c->mail_root);
	c->mail_root = strdup(root);
	c->mailbox_format = fmt;
}

static void
test_user_dir(const struct conf *c)
{
	char out[1024], want[1024];
	snprintf(want, sizeof want, "%s/example.org/alice", c->mail_root);
	CHECK(mailbox_user_dir(c, "alice@example.org", out, sizeof out) == 0 && strcmp(out, want) == 0,
	    "user dir is mail_root/domain/local");
	CHECK(mailbox_user_dir(c, "Alice@Example.ORG", out, sizeof out) == 0 && strcmp(out, want) == 0,
	    "case folded");
	static const char *const bad[] = {
		"../x@example.org", "..@example.org", "a@..", "a/b@example.org", "a@x/y",
		".hidden@example.org", "a@.", "a\n@example.org", "@example.org", "a@", "noat",
	};
	int refused = 1;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (mailbox_user_dir(c, bad[i], out, sizeof out) != -1 || errno != EINVAL) {
			printf("# accepted %s\n", bad[i]);
			refused = 0;
		}
	CHECK(refused, "traversal, dot names, control bytes and empty parts refused");
	CHECK(mailbox_user_dir(c, "alice@example.org", out, 10) == -1 && errno == ENAMETOOLONG,
	    "small buffer: ENAMETOOLONG");
}

static void
test_maildir_txn(const char *root)
{
	struct conf c;
	char dir[1024], path[1200], buf[512];
	conf_at(&c, root, MAILBOX_MAILDIR);
	test_user_dir(&c);
	const char *msg = "Subject: t\n\nbody\n";
	int fd = msg_fd(msg);
	struct mailbox_txn *txn = mailbox_txn_new(&c);
	CHECK(mailbox_txn_add(txn, "alice@example.org", "s@x.org", fd, strlen(msg)) == 0 &&
	    mailbox_txn_add(txn, "bob@example.org", "s@x.org", fd, strlen(msg)) == 0 &&
	    mailbox_txn_add(txn, "carol@example.org", "s@x.org", fd, strlen(msg)) == 0,
	    "add three users (mailboxes created)");
	mailbox_user_dir(&c, "alice@example.org", dir, sizeof dir);
	CHECK(count_msgs(dir) == 0, "nothing visible before commit");
	CHECK(mailbox_txn_commit(txn) == 0, "commit");
	mailbox_txn_free(&txn);
	CHECK(txn == NULL, "free sets NULL");
	int each = 1;
	static const char *const users[] = { "alice", "bob", "carol" };
	for (int i = 0; i < 3; i++) {
		char addr[64];
		snprintf(addr, sizeof addr, "%s@example.org", users[i]);
		mailbox_user_dir(&c, addr, dir, sizeof dir);
		struct maildir_entry *e;
		size_t n;
		if (maildir_scan(dir, 0, &e, &n) != 0 || n != 1) {
			each = 0;
			continue;
		}
		int mfd = maildir_open(dir, &e[0]);
		ssize_t got = mfd >= 0 ? read(mfd, buf, sizeof buf - 1) : -1;
		char want[512];
		snprintf(want, sizeof want, "Return-Path: <s@x.org>\nDelivered-To: %s\n%s", addr, msg);
		if (got != (ssize_t)strlen(want) || memcmp(buf, want, (size_t)got) != 0)
			each = 0;
		if (mfd >= 0)
			close(mfd);
		maildir_entries_free(&e, n);
	}
	CHECK(each, "each user has one message: Return-Path, Delivered-To, body");
	snprintf(path, sizeof path, "%s/example.org/alice", root);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700, "user dir mode 0700");

	/* Freed without commit: nothing visible, tmp/ clean. */
	txn = mailbox_txn_new(&c);
	mailbox_txn_add(txn, "alice@example.org", "", fd, strlen(msg));
	mailbox_txn_free(&txn);
	mailbox_user_dir(&c, "alice@example.org", dir, sizeof dir);
	snprintf(path, sizeof path, "%s/tmp", dir);
	CHECK(count_msgs(dir) == 1 && dir_empty(path), "free without commit: nothing delivered, tmp/ clean");

	/* bob's new/ replaced by a symlink after add: commit fails for all. */
	txn = mailbox_txn_new(&c);
	mailbox_txn_add(txn, "alice@example.org", "", fd, strlen(msg));
	mailbox_txn_add(txn, "bob@example.org", "", fd, strlen(msg));
	mailbox_txn_add(txn, "carol@example.org", "", fd, strlen(msg));
	mailbox_user_dir(&c, "bob@example.org", dir, sizeof dir);
	char moved[1200], target[1200];
	snprintf(path, sizeof path, "%s/new", dir);
	snprintf(moved, sizeof moved, "%s/new.real", dir);
	snprintf(target, sizeof target, "%s/elsewhere", root);
	mkdir(target, 0700);
	rename(path, moved);
	if (symlink(target, path) != 0)
		abort();
	CHECK(mailbox_txn_commit(txn) == -1 && (errno == ELOOP || errno == ENOTDIR),
	    "commit with one symlinked new/ fails (S34)");
	mailbox_txn_free(&txn);
	int none = dir_empty(target);
	for (int i = 0; i < 3; i++) {
		char addr[64];
		snprintf(addr, sizeof addr, "%s@example.org", users[i]);
		mailbox_user_dir(&c, addr, dir, sizeof dir);
		snprintf(path, sizeof path, "%s/tmp", dir);
		if (i != 1 && count_msgs(dir) != 1)
			none = 0;
		if (!dir_empty(path))
			none = 0;
	}
	CHECK(none, "all-or-nothing: no user got a copy, no tmp files, nothing through the link");
	/* And at add time, the symlink is refused before writing anything. */
	txn = mailbox_txn_new(&c);
	CHECK(mailbox_txn_add(txn, "alice@example.org", "", fd, strlen(msg)) == 0 &&
	    mailbox_txn_add(txn, "bob@example.org", "", fd, strlen(msg)) == -1 &&
	    (errno == ELOOP || errno == ENOTDIR), "add for a user with symlinked new/ fails");
	mailbox_txn_free(&txn);
	mailbox_user_dir(&c, "alice@example.org", dir, sizeof dir);
	CHECK(count_msgs(dir) == 1, "the other user's copy is not delivered");
	mailbox_user_dir(&c, "bob@example.org", dir, sizeof dir);
	snprintf(path, sizeof path, "%s/new", dir);
	unlink(path);
	rename(moved, path);
	close(fd);
	conf_free(&c);
}

/* Unwritable new/: run as nobody when root (root ignores modes). */
static void
test_unwritable(const char *root)
{
	char rootdir[1024];
	snprintf(rootdir, sizeof rootdir, "%s/unw", root);
	mkdir(rootdir, 0700);
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");
		if (pw == NULL)
			abort();
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		if (chown(rootdir, uid, gid) != 0 || chmod(root, 0711) != 0)
			abort();
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(gid) != 0 || setuid(uid) != 0))
			_exit(2);
		struct conf c;
		char dir[1024], path[1200];
		conf_at(&c, rootdir, MAILBOX_MAILDIR);
		int fd = msg_fd("x\n");
		struct mailbox_txn *txn = mailbox_txn_new(&c);
		mailbox_txn_add(txn, "alice@example.org", "", fd, 2);
		mailbox_txn_add(txn, "bob@example.org", "", fd, 2);
		mailbox_txn_add(txn, "carol@example.org", "", fd, 2);
		mailbox_user_dir(&c, "carol@example.org", dir, sizeof dir);
		snprintf(path, sizeof path, "%s/new", dir);
		chmod(path, 0500);
		int r = mailbox_txn_commit(txn);
		int e = errno;
		mailbox_txn_free(&txn);
		chmod(path, 0700);
		int visible = 0;
		static const char *const u[] = { "alice", "bob", "carol" };
		for (int i = 0; i < 3; i++) {
			char addr[64];
			snprintf(addr, sizeof addr, "%s@example.org", u[i]);
			mailbox_user_dir(&c, addr, dir, sizeof dir);
			visible += (int)count_msgs(dir);
			snprintf(path, sizeof path, "%s/tmp", dir);
			if (!dir_empty(path))
				visible += 100;
		}
		_exit(r == -1 && e == EACCES && visible == 0 ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "unwritable new/ of one user: commit fails with EACCES, no copy anywhere");
	chmod(root, 0700);
}

static void
test_mbox_txn(const char *root)
{
	struct conf c;
	char dir[1024], path[1200];
	conf_at(&c, root, MAILBOX_MBOX);
	const char *msg = "Subject: m\n\nFrom here\n";
	int fd = msg_fd(msg);
	struct mailbox_txn *txn = mailbox_txn_new(&c);
	CHECK(mailbox_txn_add(txn, "dave@example.org", "s@x.org", fd, strlen(msg)) == 0 &&
	    mailbox_txn_add(txn, "erin@example.org", "s@x.org", fd, strlen(msg)) == 0 &&
	    mailbox_txn_add(txn, "dave@example.org", "s@x.org", fd, strlen(msg)) == 0,
	    "mbox: add three copies (one user twice)");
	CHECK(mailbox_txn_commit(txn) == 0, "mbox: commit");
	mailbox_txn_free(&txn);
	mailbox_user_dir(&c, "dave@example.org", dir, sizeof dir);
	snprintf(path, sizeof path, "%s/INBOX", dir);
	int mfd = open(path, O_RDONLY);
	struct mbox_entry *e;
	size_t n;
	char *buf;
	size_t blen;
	CHECK(mfd >= 0 && mbox_scan(mfd, &e, &n) == 0 && n == 2, "dave's INBOX has 2 messages");
	CHECK(n == 2 && mbox_read(mfd, &e[1], &buf, &blen) == 0 &&
	    strcmp(buf, "Return-Path: <s@x.org>\nDelivered-To: dave@example.org\nSubject: m\n\nFrom here\n") == 0,
	    "mbox copy reads back exactly");
	if (n == 2) {
		free(buf);
		free(e);
	}
	struct stat st;
	CHECK(fstat(mfd, &st) == 0 && (st.st_mode & 0777) == 0600, "INBOX mode 0600");
	close(mfd);

	/* Rollback: free without commit leaves both files byte-identical. */
	char before[4096], after[4096];
	FILE *f = fopen(path, "rb");
	size_t l0 = fread(before, 1, sizeof before, f);
	fclose(f);
	txn = mailbox_txn_new(&c);
	mailbox_txn_add(txn, "dave@example.org", "", fd, strlen(msg));
	mailbox_txn_add(txn, "erin@example.org", "", fd, strlen(msg));
	f = fopen(path, "rb");
	size_t lmid = fread(after, 1, sizeof after, f);
	fclose(f);
	mailbox_txn_free(&txn);
	f = fopen(path, "rb");
	size_t l1 = fread(after, 1, sizeof after, f);
	fclose(f);
	CHECK(lmid > l0 && l0 == l1 && memcmp(before, after, l0) == 0,
	    "mbox rollback leaves the file byte-identical");
	char lockpath[1300];
	snprintf(lockpath, sizeof lockpath, "%s.lock", path);
	CHECK(access(lockpath, F_OK) != 0, "locks released");

	/* Mixed failure: an mbox user and a bad one → the mbox copy is gone. */
	txn = mailbox_txn_new(&c);
	CHECK(mailbox_txn_add(txn, "dave@example.org", "", fd, strlen(msg)) == 0 &&
	    mailbox_txn_add(txn, "../evil@example.org", "", fd, strlen(msg)) == -1 && errno == EINVAL,
	    "bad address refused inside a transaction");
	CHECK(mailbox_txn_add(txn, "dave@example.org", "a@b\nX-Forged: yes", fd, strlen(msg)) == -1 &&
	    errno == EINVAL, "sender with a line break refused (S26)");
	mailbox_txn_free(&txn);
	f = fopen(path, "rb");
	l1 = fread(after, 1, sizeof after, f);
	fclose(f);
	CHECK(l0 == l1 && memcmp(before, after, l0) == 0, "abandoned transaction undone");
	close(fd);
	conf_free(&c);
}

/* Helper mode for t/0020-storage-concurrency.t:
 *   test-mailbox deliver ROOT maildir|mbox N ADDR SIZE FSIZE_LIMIT
 * forks N children that wait at a common barrier, then each delivers one
 * message of about SIZE bytes ("Subject: message <i>", a "From " body line
 * that needs quoting, 'x' lines) to ADDR in one transaction. FSIZE_LIMIT > 0
 * sets RLIMIT_FSIZE (SIGXFSZ ignored) for a failing write at that byte.
 * Prints "<i> ok" or "<i> <errno name>" per child; exit 0 if all ran. */
static int
child_deliver(const char *root, enum mailbox_format fmt, int i, const char *addr,
    size_t size, long fsize_limit)
{
	/* memfd: a delivery killed by the test leaves no message file. */
	int fd = memfd_create("msg", MFD_CLOEXEC);
	if (fd < 0)
		return errno;
	FILE *f = fdopen(fd, "w+");
	fprintf(f, "Subject: message %d\n\nFrom the body of message %d\n", i, i);
	for (size_t n = 0; n + 64 <= size; n += 64)
		fprintf(f, "%063d\n", i);
	fprintf(f, "end of message %d\n", i);
	fflush(f);
	uint64_t len = (uint64_t)ftell(f);
	if (fsize_limit > 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { (rlim_t)fsize_limit, (rlim_t)fsize_limit };
		setrlimit(RLIMIT_FSIZE, &rl);
	}
	struct conf c;
	conf_at(&c, root, fmt);
	struct mailbox_txn *txn = mailbox_txn_new(&c);
	int r = mailbox_txn_add(txn, addr, "sender@example.com", fd, len);
	if (r == 0)
		r = mailbox_txn_commit(txn);
	int e = errno;
	mailbox_txn_free(&txn);
	return r == 0 ? 0 : e;
}

static int
helper_deliver(int argc, char **argv)
{
	if (argc != 8)
		return 2;
	enum mailbox_format fmt = strcmp(argv[3], "mbox") == 0 ? MAILBOX_MBOX : MAILBOX_MAILDIR;
	int n = atoi(argv[4]);
	int barrier[2], results[2];
	if (n <= 0 || n > 1000 || pipe(barrier) != 0 || pipe(results) != 0)
		return 2;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			char c;
			close(barrier[1]);
			if (read(barrier[0], &c, 1) != 0)   /* EOF: everyone go */
				_exit(2);
			int e = child_deliver(argv[2], fmt, i, argv[5], (size_t)atol(argv[6]), atol(argv[7]));
			char line[64];
			int len = snprintf(line, sizeof line, "%d %s\n", i, e ? strerrorname_np(e) : "ok");
			if (write(results[1], line, (size_t)len) != len)
				_exit(2);
			_exit(0);
		}
	}
	close(barrier[0]);
	close(barrier[1]);
	close(results[1]);
	char buf[4096];
	ssize_t got;
	while ((got = read(results[0], buf, sizeof buf)) > 0)
		fwrite(buf, 1, (size_t)got, stdout);
	int all = 1, st;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			all = 0;
	return all ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "deliver") == 0)
		return helper_deliver(argc, argv);
	if (mkdtemp(top) == NULL)
		abort();
	char root[600];
	snprintf(root, sizeof root, "%s/mail", top);
	test_maildir_txn(root);
	test_unwritable(top);
	test_mbox_txn(root);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
	if (system(cmd) != 0)
		return 1;
	return unit_done();
}
