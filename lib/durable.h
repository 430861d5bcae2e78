/*
 * durable.h — the write-then-publish sequence every store uses:
 * create a unique file in tmp/, write, fsync, link or rename into place,
 * fsync the directory. Only then may a program answer 250 / +OK / OK.
 */
#ifndef YUBIN_DURABLE_H
#define YUBIN_DURABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A maildir-style unique name: <sec>.M<usec>P<pid>R<random64hex>.<host>
 * with '/' → \057 and ':' → \072 in host (S63, S71). Returns 0 or -1. */
int durable_unique_name(char *out, size_t size);

/* fsync a directory by path. Returns 0 or -1 (errno). */
int durable_fsync_dir(const char *dir);

/* Writes all of buf to fd, retrying short writes. 0 or -1 (errno). */
int durable_write_all(int fd, const void *buf, size_t len);

/* Copies len bytes from src (starting at offset 0) to the end of dst.
 * Uses copy_file_range where possible. 0 or -1 (errno). */
int durable_copy_fd(int dst, int src, uint64_t len);

/* mkdir -p with mode; existing directories are fine. 0 or -1. */
int durable_mkdirs(const char *path, mode_t mode);

/* Publishes tmp_path as final_path without ever overwriting an existing
 * file (link + unlink, or renameat2 RENAME_NOREPLACE), then fsyncs the
 * directory of final_path. 0, or -1 with errno (EEXIST if taken). */
int durable_publish(const char *tmp_path, const char *final_path);

#endif
