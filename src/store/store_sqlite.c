/* SPDX-License-Identifier: Apache-2.0
 * store_sqlite.c -- opening the SQLite store (WAL, synchronous=FULL,
 * foreign keys, busy timeout), transactions, the prepared-statement cache
 * and the error helpers the other store/ files share.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/error.h"
#include "util/log.h"

#define BUSY_TIMEOUT_MS 5000  /* a second writer waits this long for the lock */

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_ZONE_ID] = "SELECT id FROM zones WHERE name = ?1",
	[STMT_RECORD_INSERT] =
		"INSERT INTO records (zone_id, owner, type, ttl, rdata)"
		" VALUES (?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT (zone_id, owner, type, rdata) DO UPDATE SET ttl = excluded.ttl",
	[STMT_RECORD_DELETE] = "DELETE FROM records WHERE zone_id = ?1 AND owner = ?2"
	                       " AND type = ?3 AND rdata = ?4",
	[STMT_RRSET_DELETE] = "DELETE FROM records WHERE zone_id = ?1 AND owner = ?2"
	                      " AND type = ?3",
	[STMT_OWNER_DELETE] = "DELETE FROM records WHERE zone_id = ?1 AND owner = ?2",
	[STMT_TOKEN_FIND] = "SELECT id, name, hash, scopes, created_us FROM tokens"
	                    " WHERE hash = ?1",
	[STMT_DATA_VERSION] = "PRAGMA data_version",
	[STMT_TSIG_FIND] = "SELECT id, name, algorithm, secret, rules FROM tsig_keys"
	                   " WHERE name = ?1",
	[STMT_ZONE_SERIAL] = "UPDATE zones SET serial = ?2, updated_us = ?3 WHERE name = ?1",
	[STMT_AUDIT_INSERT] = "INSERT INTO audit (time_us, actor, request_id, zone, action,"
	                      " before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[STMT_JOURNAL_INSERT] = "INSERT INTO journal (zone_id, old_serial, new_serial, time_us,"
	                        " removed, added) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/* A new registration of the same instance keeps its created_us. */
	[STMT_INSTANCE_PUT] = "INSERT INTO service_instances (zone, service, instance,"
	                      " data, expires_us, created_us, updated_us)"
	                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
	                      " ON CONFLICT (zone, service, instance) DO UPDATE SET"
	                      " data = excluded.data, expires_us = excluded.expires_us,"
	                      " updated_us = excluded.updated_us",
	[STMT_INSTANCE_DELETE] = "DELETE FROM service_instances WHERE zone = ?1"
	                         " AND service = ?2 AND instance = ?3",
	[STMT_INSTANCE_RENEW] = "UPDATE service_instances SET expires_us = ?4"
	                        " WHERE zone = ?1 AND service = ?2 AND instance = ?3",
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
};

int store_fail(store_t *st)
{
	return store_failf(st, CIRRUS_EIO, "%s", sqlite3_errmsg(st->db));
}

int store_failf(store_t *st, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	return code;
}

const char *store_last_error(store_t *st)
{
	return st->err;
}

int store_exec(store_t *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		return store_fail(st);
	}
	return 0;
}

int store_prepare(store_t *st, const char *sql, sqlite3_stmt **out)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK) {
		return store_fail(st);
	}
	return 0;
}

int store_stmt(store_t *st, store_stmt_id_t id, sqlite3_stmt **out)
{
	sqlite3_stmt *s = st->stmt[id];
	if (s == NULL) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		                       &s, NULL) != SQLITE_OK) {
			return store_fail(st);
		}
		st->stmt[id] = s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	*out = s;
	return 0;
}

int store_step_done(store_t *st, sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);
	int ret = 0;
	if (rc != SQLITE_DONE) {
		ret = store_fail(st);
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
			ret = CIRRUS_EEXIST;
		}
	}
	sqlite3_reset(stmt);
	return ret;
}

int store_delete_named(store_t *st, const char *sql, const char *name, const char *missing)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, sql, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	ret = store_step_done(st, s);
	sqlite3_finalize(s);
	if (ret == 0 && sqlite3_changes(st->db) == 0) {
		ret = store_failf(st, CIRRUS_ENOENT, missing, name);
	}
	return ret;
}

void store_zone_id_forget(store_t *st)
{
	st->txn_zone[0] = '\0';
}

/* Inside a transaction (BEGIN IMMEDIATE: no other writer) a zone's id
 * cannot change unless this connection adds or removes zones, which
 * forget it; outside one, every call looks it up. */
int store_zone_id(store_t *st, const char *name, int64_t *id)
{
	bool in_txn = !sqlite3_get_autocommit(st->db);
	if (in_txn && st->txn_zone[0] != '\0' && strcmp(st->txn_zone, name) == 0) {
		*id = st->txn_zone_id;
		return 0;
	}
	sqlite3_stmt *s;
	int ret = store_stmt(st, STMT_ZONE_ID, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		if (in_txn && strlen(name) < sizeof(st->txn_zone)) {
			strcpy(st->txn_zone, name);
			st->txn_zone_id = *id;
		}
	} else if (rc == SQLITE_DONE) {
		ret = store_failf(st, CIRRUS_ENOENT, "no zone '%s' in the store", name);
	} else {
		ret = store_fail(st);
	}
	sqlite3_reset(s);
	return ret;
}

int store_copy_text(store_t *st, sqlite3_stmt *stmt, int col, char *dst, size_t size)
{
	const char *text = (const char *)sqlite3_column_text(stmt, col);
	size_t len = (size_t)sqlite3_column_bytes(stmt, col);
	if (len >= size) {
		return store_failf(st, CIRRUS_ESPACE, "stored %s is longer than %zu bytes",
		                   sqlite3_column_name(stmt, col), size - 1);
	}
	memcpy(dst, text ? text : "", len);
	dst[len] = '\0';
	return 0;
}

int64_t store_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Create the file owner-only before SQLite does: it will hold token hashes
 * and TSIG secrets, and SQLite gives the -wal and -shm files the same mode. */
static int create_private(store_t *st, const char *path)
{
	if (strcmp(path, ":memory:") == 0) {
		return 0;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		return store_failf(st, CIRRUS_EIO, "cannot open: %m");
	}
	close(fd);
	return 0;
}

/* WAL so readers never wait for the writer; an in-memory store reports "memory". */
static int set_wal(store_t *st)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, "PRAGMA journal_mode = WAL", &s);
	if (ret < 0) {
		return ret;
	}
	if (sqlite3_step(s) != SQLITE_ROW) {
		ret = store_fail(st);
	} else {
		const char *mode = (const char *)sqlite3_column_text(s, 0);
		if (mode == NULL || (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)) {
			ret = store_failf(st, CIRRUS_EIO, "cannot switch to WAL mode (got '%s')",
			                  mode ? mode : "");
		}
	}
	sqlite3_finalize(s);
	return ret;
}

/* The busy handler of the store's connections. SQLite's own sleeps 1, 2,
 * 5, 10, 15 ms... between tries: a change that found the checkpointer
 * copying the WAL (it holds the write lock for 0.1 to 1.3 ms, a few times
 * a second under the churn benchmark) waited 1 or 3 ms. This one tries
 * again every 100 us for the first 20 ms, then every 2 ms, until
 * BUSY_TIMEOUT_MS of sleep (a writer in another process, such as
 * `cirrus zone import`, may hold the lock that long). */
#define BUSY_FAST_US 100
#define BUSY_FAST_TRIES 200
#define BUSY_SLOW_US 2000

static int on_busy(void *arg, int tries)
{
	(void)arg;
	int64_t slept_us = tries <= BUSY_FAST_TRIES ? (int64_t)tries * BUSY_FAST_US :
	                   (int64_t)BUSY_FAST_TRIES * BUSY_FAST_US +
	                   (int64_t)(tries - BUSY_FAST_TRIES) * BUSY_SLOW_US;
	if (slept_us >= (int64_t)BUSY_TIMEOUT_MS * 1000) {
		return 0;
	}
	long us = tries < BUSY_FAST_TRIES ? BUSY_FAST_US : BUSY_SLOW_US;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = us * 1000 };
	nanosleep(&ts, NULL);
	return 1;
}

static int open_db(store_t *st, const char *path)
{
	int ret = create_private(st, path);
	if (ret < 0) {
		return ret;
	}
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		return st->db ? store_fail(st) : store_failf(st, CIRRUS_ENOMEM, "out of memory");
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_handler(st->db, on_busy, NULL);
	ret = set_wal(st);
	if (ret == 0) {
		/* FULL: a commit fsyncs the WAL, so it survives power loss too
		 * (store_begin_lazy lowers it for one transaction). */
		ret = store_exec(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
	}
	return ret;
}

/* store_sync()'s handle of the WAL, so that store_sync() needs no lock:
 * a WAL file's handle in SQLite's unix VFS holds no locks and shares no
 * state with the connection's (SQLite locks the database and -shm files,
 * never -wal), and an fsync through any descriptor of a file writes all
 * of its dirty pages. Opened through the connection's own VFS, so that a
 * VFS of the caller's (the unit tests count syncs) sees it too. Its
 * first xSync also fsyncs the directory (the handle is opened with
 * SQLITE_OPEN_CREATE), so a WAL created at this start is found after a
 * crash; that first sync clears a flag in the handle, one more reason for
 * store_sync's mutex. */
static int open_wal(store_t *st)
{
	const char *db = sqlite3_db_filename(st->db, "main");
	if (db == NULL || db[0] == '\0') {
		return 0;  /* in memory (":memory:", tests): no WAL, nothing to sync */
	}
	sqlite3_vfs *vfs = NULL;
	if (sqlite3_file_control(st->db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) != SQLITE_OK) {
		return store_failf(st, CIRRUS_EIO, "cannot find the connection's VFS");
	}
	sqlite3_file *f = calloc(1, (size_t)vfs->szOsFile);
	if (f == NULL) {
		return store_failf(st, CIRRUS_ENOMEM, "out of memory");
	}
	const char *name = sqlite3_filename_wal(db);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_WAL;
	int rc = vfs->xOpen(vfs, name, f, flags, NULL);
	if (rc == SQLITE_OK) {
		st->wal = f;
		pthread_mutex_init(&st->sync_lock, NULL);
	} else {
		if (f->pMethods != NULL) {  /* SQLite's rule for a failed xOpen */
			f->pMethods->xClose(f);
		}
		free(f);
	}
	return rc == SQLITE_OK ? 0 : store_failf(st, CIRRUS_EIO, "%s: cannot open the WAL (%s)",
	                                         name, sqlite3_errstr(rc));
}

int store_open(const char *path, store_t **out, char *err, size_t errlen)
{
	*out = NULL;
	store_t *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return CIRRUS_ENOMEM;
	}
	int ret = 0;
	if (strlen(path) >= sizeof(st->path)) {
		ret = store_failf(st, CIRRUS_EINVAL, "path too long");
	} else {
		strcpy(st->path, path);
		ret = open_db(st, path);
	}
	if (ret == 0) {
		ret = store_migrate(st);
	}
	if (ret == 0) {
		ret = open_wal(st);
	}
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", path, st->err);
		store_close(st);
		return ret;
	}
	*out = st;
	return 0;
}

/* For readers that must never write (function mode): no file is created
 * and no migration can run, so a store older than the code fails here --
 * unless what it lacks changes only how rows are stored (layout_only). */
int store_open_readonly(const char *path, store_t **out, char *err, size_t errlen)
{
	*out = NULL;
	store_t *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return CIRRUS_ENOMEM;
	}
	int ret = 0;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		ret = st->db ? store_fail(st) : store_failf(st, CIRRUS_ENOMEM, "out of memory");
	}
	if (ret == 0) {
		sqlite3_extended_result_codes(st->db, 1);
		sqlite3_busy_handler(st->db, on_busy, NULL);
		ret = store_check_readable(st);
	}
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", path, st->err);
		store_close(st);
		return ret;
	}
	*out = st;
	return 0;
}

void store_close(store_t *st)
{
	if (st == NULL) {
		return;
	}
	store_checkpoint_stop(st);
	for (int i = 0; i < STMT_COUNT; i++) {
		sqlite3_finalize(st->stmt[i]);
	}
	if (st->wal != NULL) {
		st->wal->pMethods->xClose(st->wal);
		free(st->wal);
		pthread_mutex_destroy(&st->sync_lock);
	}
	sqlite3_close(st->db);
	free(st);
}

int store_schema_version(store_t *st)
{
	return st->version;
}

/* BEGIN, COMMIT and ROLLBACK as cached statements: no SQL parsing per change. */
static int store_txn_step(store_t *st, store_stmt_id_t id)
{
	sqlite3_stmt *s;
	int ret = store_stmt(st, id, &s);
	return ret == 0 ? store_step_done(st, s) : ret;
}

/* PRAGMA synchronous changes only outside a transaction, and takes effect
 * as it is prepared: no cached statement. */
static int set_lazy(store_t *st, bool lazy)
{
	int ret = store_exec(st, lazy ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
	if (ret == 0) {
		st->lazy = lazy;
	}
	return ret;
}

static int begin(store_t *st, bool lazy)
{
	if (!sqlite3_get_autocommit(st->db)) {
		return store_failf(st, CIRRUS_EINVAL, "a transaction is already open");
	}
	if (st->sync_failed) {
		return store_failf(st, CIRRUS_EIO, "an fsync of the WAL failed: restart cirrus");
	}
	store_zone_id_forget(st);
	/* A lazy transaction's end sets FULL again; should that have failed,
	 * it is set here, before anything else is written. */
	int ret = st->lazy != lazy ? set_lazy(st, lazy) : 0;
	return ret == 0 ? store_txn_step(st, STMT_BEGIN) : ret;
}

int store_begin(store_t *st)
{
	return begin(st, false);
}

int store_begin_lazy(store_t *st)
{
	return begin(st, true);
}

/* After a lazy transaction's end; a failure leaves st->lazy for begin(). */
static void end_lazy(store_t *st)
{
	if (st->lazy && sqlite3_get_autocommit(st->db) && set_lazy(st, false) != 0) {
		log_error("store: cannot make commits durable again (%s); the next transaction "
		          "tries again", st->err);
	}
}

int store_commit(store_t *st)
{
	store_zone_id_forget(st);
	bool lazy = st->lazy;
	int ret = store_txn_step(st, STMT_COMMIT);
	if (ret == 0 && lazy) {
		st->lazy_commits++;  /* its frames are written: the next fsync covers it */
	}
	end_lazy(st);
	return ret;
}

/* Lazy commits up to the count read at the call are synced by whichever
 * fsync starts after it: a caller whose commit an fsync already covered
 * (another caller's, or none needed) does not wait for one of its own.
 * A failed fsync fails every later call, and begin() refuses writes: the
 * kernel reports a write-back error once per open file, so a later fsync
 * could succeed although the failed commit's frames, and so, after a
 * crash, every commit after them in the WAL, are lost. Restarting cirrus
 * reads the WAL back and starts afresh. */
int store_sync(store_t *st)
{
	if (st->wal == NULL) {
		return 0;  /* read-only or in memory: nothing to sync */
	}
	uint64_t target = st->lazy_commits;
	pthread_mutex_lock(&st->sync_lock);
	int ret = 0;
	if (st->sync_failed) {
		ret = CIRRUS_EIO;
	} else if (st->synced < target) {
		uint64_t written = st->lazy_commits;
		if (st->wal->pMethods->xSync(st->wal, SQLITE_SYNC_NORMAL) == SQLITE_OK) {
			st->synced = written;
		} else {
			st->sync_failed = true;
			ret = CIRRUS_EIO;
			log_error("store: %s: the fsync of the WAL failed; changes are refused "
			          "until cirrus is restarted", st->path);
		}
	}
	pthread_mutex_unlock(&st->sync_lock);
	return ret;
}

bool store_sync_pending(store_t *st)
{
	return st->wal != NULL && st->synced < st->lazy_commits;
}

void store_rollback(store_t *st)
{
	store_zone_id_forget(st);
	/* Some errors (I/O, full disk) have rolled back already. */
	if (!sqlite3_get_autocommit(st->db) && store_txn_step(st, STMT_ROLLBACK) != 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	}
	end_lazy(st);
}
