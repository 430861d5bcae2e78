/*
 * queue.c — spool directories, claims and their recovery (see queue.h).
 */
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "path.h"

/* The owner names below are built from parts of known length (a host
 * name of at most 63 bytes, 8 of the boot id, two numbers of at most 20
 * digits): they always fit, so their snprintf is never cut. */
#define QUEUE_HOST_LEN (63 + 1 + 8)
_Static_assert(sizeof ((struct queue *)0)->host > QUEUE_HOST_LEN, "queue host");
_Static_assert(sizeof ((struct queue *)0)->owner > 1 + QUEUE_HOST_LEN + 1 + 20 + 1 + 20,
    "queue owner");

static const char *const queue_dirs[] = { "tmp", "new", "queue", "active", "corrupt", "dead",
	NULL };

/* Field 22 of /proc/<pid>/stat: start time in clock ticks since boot.
 * Together with the pid it names one process for the life of a boot. */
static int
proc_start(pid_t pid, unsigned long long *start_r)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');      /* the command name may hold spaces */
	if (!p)
		return -1;
	/* A zombie holds nothing: a worker killed with its runner waits as a
	 * zombie until init (in a container, whatever runs as pid 1) reaps it. */
	if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
		return -1;
	/* After ")": state is field 3; skip to field 22. */
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -1;
	*start_r = strtoull(p + 1, NULL, 10);
	return 0;
}

static void
boot_id(char *out, size_t size)
{
	char buf[64] = "";
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	size_t o = 0;
	for (ssize_t i = 0; i < n && o + 1 < size && o < 8; i++)
		if ((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f'))
			out[o++] = buf[i];
	out[o] = '\0';
	if (o == 0)
		snprintf(out, size, "0");
}

int
queue_open(struct queue *q, const char *spool, time_t stale_after)
{
	char path[PATH_MAX], host[64] = "", boot[16];
	memset(q, 0, sizeof *q);
	q->spool = spool;
	q->stale_after = stale_after;
	for (size_t i = 0; queue_dirs[i]; i++)
		if (path_join(path, sizeof path, spool, queue_dirs[i], NULL) != 0 ||
		    durable_mkdirs(path, 0700) < 0)
			return -1;
	if (gethostname(host, sizeof host - 1) < 0)
		snprintf(host, sizeof host, "localhost");
	/* The owner fields are separated by ',' and name a file: keep them
	 * to characters that cannot confuse either. */
	for (char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			*p = '_';
	boot_id(boot, sizeof boot);
	snprintf(q->host, sizeof q->host, "%s~%s", host, boot);
	queue_reown(q);
	return 0;
}

void
queue_reown(struct queue *q)
{
	unsigned long long start = 0;
	proc_start(getpid(), &start);
	snprintf(q->owner, sizeof q->owner, ",%s,%ld,%llu", q->host, (long)getpid(), start);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
queue_names(const struct queue *q, const char *dir, char ***names_r, size_t *n_r)
{
	char path[PATH_MAX];
	*names_r = NULL;
	*n_r = 0;
	if (path_join(path, sizeof path, q->spool, dir, NULL) != 0)
		return -1;
	DIR *d = opendir(path);
	if (!d)
		return -1;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) > QUEUE_NAME_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof *nn);
			if (!nn)
				break;
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, name_cmp);
	*names_r = names;
	*n_r = n;
	return 0;
}

void
queue_names_free(char ***names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
}

static int
sync_dir(const struct queue *q, const char *dir)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof path, q->spool, dir, NULL) != 0)
		return -1;
	return durable_fsync_dir(path);
}

int
queue_claim(const struct queue *q, const char *dir, const char *id, char *claim, size_t size)
{
	char from[PATH_MAX];
	if (strchr(id, '/') || id[0] == '.') {
		errno = EINVAL;
		return -1;
	}
	if (path_join(from, sizeof from, q->spool, dir, id) != 0 ||
	    path_printf(claim, size, "%s/active/%s%s", q->spool, id, q->owner) != 0)
		return -1;
	if (rename(from, claim) < 0)
		return -1;
	/* Not synced: a claim lost in a crash leaves the file where it was,
	 * which is just as safe. */
	return 0;
}

int
queue_release(const struct queue *q, const char *claim, const char *id)
{
	char to[PATH_MAX];
	if (path_join(to, sizeof to, q->spool, "queue", id) != 0 || rename(claim, to) < 0)
		return -1;
	if (sync_dir(q, "queue") < 0)
		return -1;
	return sync_dir(q, "active");
}

int
queue_remove(const struct queue *q, const char *claim)
{
	if (unlink(claim) < 0)
		return -1;
	return sync_dir(q, "active");
}

int
queue_quarantine(const struct queue *q, const char *path, const char *id)
{
	char to[PATH_MAX];
	if (path_join(to, sizeof to, q->spool, "corrupt", id) != 0 || rename(path, to) < 0)
		return -1;
	sync_dir(q, "corrupt");
	return 0;
}

int
queue_claim_id(const char *name, char *out, size_t size)
{
	/* <id>,<host>,<pid>,<start>: the id is what precedes the third comma
	 * from the right. */
	const char *p = name + strlen(name);
	int commas = 0;
	while (p > name) {
		p--;
		if (*p == ',' && ++commas == 3)
			break;
	}
	if (commas != 3 || p == name || (size_t)(p - name) >= size)
		return -1;
	memcpy(out, name, (size_t)(p - name));
	out[p - name] = '\0';
	return 0;
}

/* 1 if the claim named name is stale. */
static int
claim_stale(const struct queue *q, const char *name, const struct stat *st)
{
	char id[256];
	if (queue_claim_id(name, id, sizeof id) < 0)
		return time(NULL) - st->st_mtime > q->stale_after;
	const char *owner = name + strlen(id) + 1;
	const char *comma = strchr(owner, ',');
	if (!comma)
		return 0;
	size_t hlen = (size_t)(comma - owner);
	if (hlen != strlen(q->host) || strncmp(owner, q->host, hlen) != 0)
		return time(NULL) - st->st_mtime > q->stale_after;
	long pid = strtol(comma + 1, NULL, 10);
	const char *c2 = strchr(comma + 1, ',');
	unsigned long long start = c2 ? strtoull(c2 + 1, NULL, 10) : 0, now_start;
	if (pid <= 0)
		return 1;
	if (proc_start((pid_t)pid, &now_start) < 0)
		return 1;                    /* no such process */
	return now_start != start;       /* the pid was reused */
}

int
queue_recover(const struct queue *q, void (*report)(const char *id, const char *holder, int err))
{
	char **names;
	size_t n;
	int recovered = 0;
	if (queue_names(q, "active", &names, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX], id[256];
		struct stat st;
		if (path_join(path, sizeof path, q->spool, "active", names[i]) != 0) {
			/* A cut path would name another claim, maybe a live one. */
			if (report)
				report(names[i], NULL, errno);
			continue;
		}
		if (lstat(path, &st) < 0 || !claim_stale(q, names[i], &st))
			continue;
		if (queue_claim_id(names[i], id, sizeof id) < 0)
			snprintf(id, sizeof id, "%s", names[i]);
		/* Another runner may recover it at the same moment: one rename
		 * wins, the other gets ENOENT. */
		if (queue_release(q, path, id) == 0) {
			recovered++;
			if (report)
				report(id, names[i] + strlen(id), 0);
		}
	}
	queue_names_free(&names, n);
	return recovered;
}

int
queue_clean_tmp(const struct queue *q, time_t max_age)
{
	char **names;
	size_t n;
	int removed = 0;
	if (queue_names(q, "tmp", &names, &n) < 0)
		return -1;
	time_t now = time(NULL);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;
		if (path_join(path, sizeof path, q->spool, "tmp", names[i]) == 0 &&
		    lstat(path, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > max_age &&
		    unlink(path) == 0)
			removed++;
	}
	queue_names_free(&names, n);
	return removed;
}
