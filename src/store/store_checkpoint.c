/* SPDX-License-Identifier: Apache-2.0
 * store_checkpoint.c -- WAL checkpoints on a thread of the store's own.
 *
 * By default SQLite checkpoints inside the commit that takes the WAL past
 * 1000 frames: that one request copies the WAL into the database file and
 * fsyncs it. Here commits only append to the WAL and fsync it (durable
 * commits) or leave that to store_sync() (lazy ones); the WAL hook tells
 * this thread how long the WAL is, and the thread, on a connection of its
 * own, checkpoints without blocking commits (see ckpt_run). Should readers
 * keep it from copying, a checkpoint that waits for them at 16 times the
 * threshold bounds the WAL.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/error.h"
#include "util/log.h"

#define CKPT_PAGES_DEFAULT 1000  /* SQLite's own wal_autocheckpoint default */
#define CKPT_HARD_FACTOR 16      /* wait for the lock when the WAL reaches this many thresholds */
#define CKPT_HARD_WAIT_MS 5000
#define CKPT_PASSES 3            /* PASSIVE passes at most, while commits come in */

/* Whether a checkpoint is due: the WAL holds at least the threshold, and
 * has grown by that much since the last checkpoint (one that could not
 * copy everything because commits went on is not repeated at once). */
static bool ckpt_due(const store_ckpt_t *c)
{
	return c->frames >= (int)c->pages && c->frames - c->done >= (int)c->pages;
}

/* sqlite3_wal_hook: runs in the committing thread once the commit is in
 * the WAL (synced, unless store_begin_lazy() made it lazy); only notes the
 * WAL's length and wakes the checkpointer. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)db, (void)name;
	store_ckpt_t *c = arg;
	pthread_mutex_lock(&c->lock);
	if (frames < c->frames) {
		c->done = 0;  /* the WAL started over */
	}
	c->frames = frames;
	if (ckpt_due(c)) {
		pthread_cond_signal(&c->wake);
	}
	pthread_mutex_unlock(&c->lock);
	return SQLITE_OK;
}

/* Frames in the WAL that no checkpoint has copied, as the last commit left
 * it; copied is a checkpoint's count (from the WAL's start). */
static bool ckpt_behind(store_ckpt_t *c, int copied)
{
	pthread_mutex_lock(&c->lock);
	bool behind = c->frames > copied;
	pthread_mutex_unlock(&c->lock);
	return behind;
}

/* One checkpoint of the WAL as it was at frames; called without the lock.
 * PASSIVE passes first: each copies the WAL as it was when the pass began
 * into the database file and fsyncs both, without SQLite's write lock, so
 * commits go on meanwhile; the next pass copies what they added (a few
 * frames). Then a RESTART without waiting: when no commit is in progress
 * it takes the write lock, copies what the passes left (nothing, unless
 * commits came back to back) and starts the WAL over, so the file stays
 * small; when one is, it does what PASSIVE does and the next checkpoint
 * tries again. (A WAL that only PASSIVE checkpoints copied did not start
 * over at the next commit in our tests: it grew to the hard bound, and
 * every commit extended the file, which costs more than the copy.)
 * RESTART alone (until 2026-12-02) held the write lock through the whole
 * copy and its fsyncs: under the churn benchmark a commit then waited 2 to
 * 6 ms for it (docs/store.md). At the hard bound (readers kept it from
 * copying) the RESTART waits (busy timeout) for the writer and the readers. */
static void ckpt_run(store_ckpt_t *c, int frames)
{
	bool hard = frames >= (int)(c->pages * CKPT_HARD_FACTOR);
	int log = 0, copied = 0, rc = SQLITE_OK;
	sqlite3_busy_timeout(c->db, hard ? CKPT_HARD_WAIT_MS : 0);
	for (int pass = 0; !hard && rc == SQLITE_OK && pass < CKPT_PASSES &&
	     (pass == 0 || ckpt_behind(c, copied)); pass++) {
		rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_RESTART, &log, &copied);
	}
	/* BUSY: a commit or another checkpointer was in the way, or (hard) the
	 * wait for readers timed out; the next commit asks again. */
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		log_warning("store: WAL checkpoint failed: %s", sqlite3_errmsg(c->db));
	}
	pthread_mutex_lock(&c->lock);
	if (c->frames >= frames) {  /* else the WAL started over meanwhile */
		c->done = frames;
	}
	if (hard) {
		c->restart++;
	} else {
		c->passive++;
	}
	pthread_mutex_unlock(&c->lock);
}

static void *ckpt_main(void *arg)
{
	store_ckpt_t *c = arg;
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		if (!ckpt_due(c)) {
			pthread_cond_wait(&c->wake, &c->lock);
			continue;
		}
		int frames = c->frames;
		pthread_mutex_unlock(&c->lock);
		ckpt_run(c, frames);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* The checkpointer's own connection: same file, FULL sync of the copy. */
static int ckpt_open(store_t *st, store_ckpt_t *c)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(st->path, &c->db, flags, NULL) != SQLITE_OK) {
		return store_failf(st, CIRRUS_EIO, "checkpointer: %s",
		                   c->db ? sqlite3_errmsg(c->db) : "out of memory");
	}
	if (sqlite3_exec(c->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
		return store_failf(st, CIRRUS_EIO, "checkpointer: %s", sqlite3_errmsg(c->db));
	}
	/* Write back what a copy or restore of the database file left in the
	 * page cache now, before the first commit: else the first checkpoint's
	 * fsync writes all of it (70 to 100 ms for a 1M-record store just
	 * copied) while requests wait, for the write lock or for their own WAL
	 * fsync queued behind it. Next to nothing when the file is clean.
	 * Through SQLite's own descriptor: closing another one of this file
	 * would drop SQLite's POSIX locks on it. */
	sqlite3_file *f = NULL;
	if (sqlite3_file_control(c->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK &&
	    f != NULL && f->pMethods != NULL) {
		f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
	}
	return 0;
}

static void ckpt_free(store_ckpt_t *c)
{
	sqlite3_close(c->db);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int store_checkpoint_start(store_t *st, unsigned pages)
{
	if (st->ckpt != NULL) {
		return store_failf(st, CIRRUS_EINVAL, "the checkpointer is already running");
	}
	if (st->path[0] == '\0' || strcmp(st->path, ":memory:") == 0) {
		return 0; /* no WAL to checkpoint */
	}
	store_ckpt_t *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return store_failf(st, CIRRUS_ENOMEM, "out of memory");
	}
	c->pages = pages ? pages : CKPT_PAGES_DEFAULT;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	int ret = ckpt_open(st, c);
	if (ret == 0 && pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
		ret = store_failf(st, CIRRUS_ENOMEM, "checkpointer: cannot start a thread");
	}
	if (ret != 0) {
		ckpt_free(c);
		return ret;
	}
	/* wal_autocheckpoint=0 first: it would replace the hook set after it. */
	sqlite3_wal_autocheckpoint(st->db, 0);
	sqlite3_wal_hook(st->db, on_wal_commit, c);
	st->ckpt = c;
	return 0;
}

void store_checkpoint_stats(store_t *st, uint64_t *passive, uint64_t *restart)
{
	*passive = *restart = 0;
	store_ckpt_t *c = st->ckpt;
	if (c != NULL) {
		pthread_mutex_lock(&c->lock);
		*passive = c->passive;
		*restart = c->restart;
		pthread_mutex_unlock(&c->lock);
	}
}

void store_checkpoint_stop(store_t *st)
{
	store_ckpt_t *c = st->ckpt;
	if (c == NULL) {
		return;
	}
	sqlite3_wal_hook(st->db, NULL, NULL);
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	ckpt_free(c);
	st->ckpt = NULL;
	/* Without a hook, commits from here on checkpoint as SQLite does. */
	sqlite3_wal_autocheckpoint(st->db, CKPT_PAGES_DEFAULT);
}
