/* SPDX-License-Identifier: Apache-2.0
 * store_internal.h -- shared between the store/ files only: the SQLite
 * handle with its cache of prepared statements, and the helpers that map
 * SQLite results to CIRRUS_E* codes while keeping SQLite's message.
 * Binds are not checked: with SQLITE_STATIC and fixed indexes they fail only
 * for values over SQLITE_LIMIT_LENGTH (1 GB), far beyond the callers' limits.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>

#include "store/store.h"

/*! \brief Statements prepared once and kept for the life of the store. */
typedef enum store_stmt_id {
	STMT_ZONE_ID,        /*!< zone name to row id */
	STMT_RECORD_INSERT,
	STMT_RECORD_DELETE,  /*!< one record: owner, type, rdata */
	STMT_RRSET_DELETE,   /*!< owner and type */
	STMT_OWNER_DELETE,   /*!< every type at owner */
	STMT_TOKEN_FIND,     /*!< by hash, on every API request */
	STMT_DATA_VERSION,   /*!< on every API request the token cache answers */
	STMT_TSIG_FIND,      /*!< by name, on every UPDATE */
	STMT_ZONE_SERIAL,    /*!< serial and updated time, on every change */
	STMT_AUDIT_INSERT,
	STMT_JOURNAL_INSERT,
	STMT_INSTANCE_PUT,     /*!< a registration (keeps created_us) */
	STMT_INSTANCE_DELETE,
	STMT_INSTANCE_RENEW,   /*!< a stored heartbeat: hundreds a second under churn */
	STMT_BEGIN,          /*!< BEGIN IMMEDIATE */
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_COUNT,
} store_stmt_id_t;

/*! \brief The background checkpointer (store_checkpoint.c). */
typedef struct store_ckpt {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	unsigned pages;           /*!< passive checkpoint at this many WAL frames */
	int frames;               /*!< WAL frames after the last commit (the WAL hook) */
	int done;                 /*!< WAL frames when the last checkpoint ran */
	uint64_t passive, restart;   /*!< checkpoints without / with waiting, for tests */
	sqlite3 *db;              /*!< the thread's own connection */
} store_ckpt_t;

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT];  /*!< prepared on first use */
	int version;                     /*!< schema version after migrations */
	char path[4096];                 /*!< as opened, for the checkpointer's connection */
	char txn_zone[256];              /*!< zone whose id is cached, "" = none; */
	int64_t txn_zone_id;             /*!< valid only inside one transaction */
	store_ckpt_t *ckpt;              /*!< NULL until store_checkpoint_start() */
	bool lazy;                       /*!< synchronous=NORMAL (store_begin_lazy) */
	/* store_sync(), which runs without the lock the callers hold for
	 * everything else: */
	sqlite3_file *wal;               /*!< the WAL again, store_sync()'s alone */
	pthread_mutex_t sync_lock;       /*!< one fsync at a time; guards synced */
	_Atomic uint64_t lazy_commits;   /*!< lazy commits so far */
	_Atomic uint64_t synced;         /*!< lazy commits known to be on disk (set
	                                      under sync_lock) */
	_Atomic bool sync_failed;        /*!< an fsync failed: no write succeeds again */
	char err[512];                   /*!< last failure, for store_last_error */
};

/*! \brief Apply pending migrations in one transaction (store_schema.c).
 * \retval 0, -CIRRUS_EIO, -CIRRUS_EINVAL (schema newer than the code) */
int store_migrate(store_t *st);

/*! \brief For read-only openers, which cannot migrate: accept a file whose
 *  pending migrations are all layout_only (store_schema.c).
 * \retval 0, -CIRRUS_EIO, -CIRRUS_EINVAL (older or newer than the code reads) */
int store_check_readable(store_t *st);

/*! \brief Keep SQLite's current message as the last error; returns -CIRRUS_EIO. */
int store_fail(store_t *st);

/*! \brief Keep a formatted message as the last error; returns code. */
int store_failf(store_t *st, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*! \brief Run SQL that returns no rows. \retval 0, -CIRRUS_EIO */
int store_exec(store_t *st, const char *sql);

/*! \brief Prepare a one-off statement; the caller finalizes it. \retval 0, -CIRRUS_EIO */
int store_prepare(store_t *st, const char *sql, sqlite3_stmt **out);

/*! \brief A cached statement, reset and with no bindings. \retval 0, -CIRRUS_EIO */
int store_stmt(store_t *st, store_stmt_id_t id, sqlite3_stmt **out);

/*! \brief Step a write statement to completion and reset it.
 * \retval 0, -CIRRUS_EEXIST (UNIQUE constraint), -CIRRUS_EIO */
int store_step_done(store_t *st, sqlite3_stmt *stmt);

/*! \brief Run sql, a DELETE whose ?1 is name; when it removed no row, fail
 * with missing (a format with one %s, given name).
 * \retval 0, -CIRRUS_ENOENT, -CIRRUS_EIO */
int store_delete_named(store_t *st, const char *sql, const char *name, const char *missing);

/*! \brief Row id of a zone, looked up once per transaction.
 * \retval 0, -CIRRUS_ENOENT, -CIRRUS_EIO */
int store_zone_id(store_t *st, const char *name, int64_t *id);

/*! \brief Forget the cached zone id (a transaction ended, or a zone row
 * was added or removed). */
void store_zone_id_forget(store_t *st);

/*! \brief Stop and join the checkpointer, if any (store_close). */
void store_checkpoint_stop(store_t *st);

/*! \brief Copy a text column into a fixed buffer. \retval 0, -CIRRUS_ESPACE */
int store_copy_text(store_t *st, sqlite3_stmt *stmt, int col, char *dst, size_t size);

/*! \brief Wall-clock time in microseconds since the epoch. */
int64_t store_now_us(void);
