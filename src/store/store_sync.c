/* SPDX-License-Identifier: Apache-2.0
 * store_sync.c -- making lazily committed transactions durable from any
 * thread (group commit): a commit begun with store_begin_lazy() appends
 * its frames to the WAL without an fsync; store_sync() is the fdatasync
 * that FULL would have done, on a descriptor of its own, so the control
 * plane can run it without holding the connection while further changes
 * commit, and one sync covers every commit before it.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/error.h"

void store_sync_init(store_t *st)
{
	pthread_mutex_init(&st->sync_lock, NULL);
	st->wal_fd = -1;
}

void store_sync_deinit(store_t *st)
{
	if (st->wal_fd >= 0) {
		close(st->wal_fd);
	}
	pthread_mutex_destroy(&st->sync_lock);
}

/* fsync the directory that holds path, so that a WAL file created since
 * the last sync is found after a power loss (SQLite does the same for a
 * new journal with synchronous=FULL). */
static int sync_dir(const char *path)
{
	char copy[sizeof(((store_t *)0)->path)];
	snprintf(copy, sizeof(copy), "%s", path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* The WAL open on st->wal_fd (sync_lock held). SQLite keeps one WAL file
 * while a connection is open, but one deleted (every connection closed
 * once) is replaced by a new file: open that one. Closing a descriptor
 * drops the process's POSIX locks on that file; SQLite takes none on the
 * WAL (its WAL locks are on the -shm file), and the one closed here is
 * unlinked already. */
static int wal_open(store_t *st)
{
	struct stat sb;
	if (st->wal_fd >= 0 && fstat(st->wal_fd, &sb) == 0 && sb.st_nlink > 0) {
		return 0;
	}
	if (st->wal_fd >= 0) {
		close(st->wal_fd);
	}
	char wal[sizeof(st->path) + 8];
	snprintf(wal, sizeof(wal), "%s-wal", st->path);
	st->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
	if (st->wal_fd < 0 || sync_dir(st->path) != 0) {
		return -1;
	}
	return 0;
}

int store_sync(store_t *st)
{
	if (strcmp(st->path, ":memory:") == 0) {
		return 0;
	}
	pthread_mutex_lock(&st->sync_lock);
	int rc = wal_open(st) == 0 && fdatasync(st->wal_fd) == 0 ? 0 : CIRRUS_EIO;
	pthread_mutex_unlock(&st->sync_lock);
	return rc;
}
