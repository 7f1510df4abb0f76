/* SPDX-License-Identifier: Apache-2.0
 * store.h -- the durable home of API-managed zones, with the audit log, the
 * change journal (the basis for IXFR), API tokens (hashes only) and TSIG
 * keys. SQLite in WAL mode is the embedded default; the schema is plain SQL
 * meant to be shared with a PostgreSQL implementation later. The data plane
 * never calls this: queries read in-memory zone snapshots. One store_t is
 * used by one thread at a time (the control plane serializes on it).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

/*! \brief Open (creating if needed) and migrate a store; err gets the reason.
 * \retval 0, -CIRRUS_EIO (cannot open), -CIRRUS_EINVAL (newer schema) */
int store_open(const char *path, store_t **out, char *err, size_t errlen);

/*! \brief Open an existing, up-to-date store for reading only (function
 * mode): nothing is created or migrated; every write fails.
 * \retval 0, -CIRRUS_EIO (missing, unreadable, or an older schema),
 *         -CIRRUS_EINVAL (newer schema) */
int store_open_readonly(const char *path, store_t **out, char *err, size_t errlen);

/*! \brief Close the store. */
void store_close(store_t *st);

/*!
 * \brief Take WAL checkpoints out of the committing thread (for the server).
 * From then on a commit only appends to the WAL and fsyncs it
 * (wal_autocheckpoint=0); a thread of the store's own, on a connection of
 * its own, copies the WAL into the database once a commit leaves `pages`
 * frames or more in it: a RESTART checkpoint that waits for no one (when a
 * commit is in progress it copies what it can, as PASSIVE does), and one
 * that waits for the writer and readers if the WAL reaches 16 times that.
 * Without this call SQLite checkpoints inside the commit that crosses 1000
 * frames. store_close() stops the thread. A no-op for ":memory:".
 * \param pages  threshold in WAL frames (pages); 0 = 1000
 * \retval 0, -CIRRUS_EIO, -CIRRUS_ENOMEM, -CIRRUS_EINVAL (already running)
 */
int store_checkpoint_start(store_t *st, unsigned pages);

/*! \brief Checkpoints the thread has run so far, without waiting and
 * waiting (0 and 0 without a thread). */
void store_checkpoint_stats(store_t *st, uint64_t *passive, uint64_t *restart);

/*! \brief Schema version after migrations (for diagnostics and tests). */
int store_schema_version(store_t *st);

/*! \brief Why the last failing call on st failed: SQLite's message for
 * -CIRRUS_EIO, the store's own reason otherwise; "" before any failure.
 * Owned by st, valid until the next call on it. */
const char *store_last_error(store_t *st);

/*! \brief One resource record; names are lower-case wire format. */
typedef struct store_record {
	const uint8_t *owner;
	uint16_t type;
	uint32_t ttl;
	const uint8_t *rdata;
	uint16_t rdlen;
} store_record_t;

/*! \brief A zone's row. Names are lower-case presentation form with the
 * trailing dot ("example.com."). Times are microseconds since the epoch. */
typedef struct store_zone {
	char name[256];
	uint32_t serial;
	int64_t created_us;
	int64_t updated_us;
} store_zone_t;

typedef int (*store_zone_cb_t)(void *ctx, const store_zone_t *zone);
typedef int (*store_record_cb_t)(void *ctx, const store_record_t *rec);

/*! \brief Every zone, by name; a non-zero return from cb stops and is returned. */
int store_zone_list(store_t *st, store_zone_cb_t cb, void *ctx);

/*! \brief One zone. \retval 0, -CIRRUS_ENOENT */
int store_zone_get(store_t *st, const char *name, store_zone_t *out);

/*! \brief Every record of a zone (any order). \retval 0, -CIRRUS_ENOENT, cb's code */
int store_zone_records(store_t *st, const char *name, store_record_cb_t cb, void *ctx);

/*
 * Writes. Call store_begin() first: it takes SQLite's write lock at once
 * (BEGIN IMMEDIATE), so concurrent writers queue instead of failing late;
 * store_commit() makes everything since durable (synchronous=FULL) or
 * nothing (on error, call store_rollback()).
 */
int store_begin(store_t *st);
/*! \brief store_begin() for a transaction whose commit does not wait for
 * the disk (synchronous=NORMAL, for this transaction only): once
 * store_commit() returns, the change is in the WAL, seen by every reader,
 * and survives a crash of the process; it survives one of the machine once
 * store_sync() or a later durable commit has returned.
 * \retval 0, -CIRRUS_EIO, -CIRRUS_EINVAL (a transaction is open) */
int store_begin_lazy(store_t *st);
int store_commit(store_t *st);
/*! \brief Wait until every commit so far is on disk (fsync of the WAL, as
 * a durable commit does); no fsync when no lazy commit is waiting for one.
 * Needs no lock: it uses a handle of the WAL of its own, so a caller can
 * wait for the disk while others change the store; its failure leaves
 * store_last_error() alone. Once an fsync has failed, every later call
 * fails and no transaction starts again (restart the process).
 * \retval 0, -CIRRUS_EIO */
int store_sync(store_t *st);
/*! \brief Whether a lazy commit is not yet known to be on disk (what
 * store_sync() would fsync); takes no lock and does not wait. */
bool store_sync_pending(store_t *st);
void store_rollback(store_t *st);

/*! \retval 0, -CIRRUS_EEXIST */
int store_zone_insert(store_t *st, const char *name, uint32_t serial);
/*! \brief Remove a zone and all its records. \retval 0, -CIRRUS_ENOENT */
int store_zone_remove(store_t *st, const char *name);
/*! \brief Set the serial and the updated time. \retval 0, -CIRRUS_ENOENT */
int store_zone_set_serial(store_t *st, const char *name, uint32_t serial);

/*! \brief Add one record (an identical record already there is kept once). */
int store_record_insert(store_t *st, const char *zone, const store_record_t *rec);
/*! \brief Delete the records of owner/type (type 255 = every type at owner). */
int store_rrset_delete(store_t *st, const char *zone, const uint8_t *owner, uint16_t type);
/*! \brief Delete one record with exactly this rdata (ttl ignored). */
int store_record_delete(store_t *st, const char *zone, const store_record_t *rec);

/*! \brief An audit-log row. Strings may be NULL when reading; before/after
 * are JSON texts chosen by the caller. */
typedef struct store_audit {
	int64_t id;
	int64_t time_us;
	const char *actor;
	const char *request_id;
	const char *zone;
	const char *action;
	const char *before;
	const char *after;
} store_audit_t;

typedef struct store_audit_filter {
	const char *zone;     /*!< NULL = any */
	const char *actor;    /*!< NULL = any */
	int64_t since_us;     /*!< 0 = no lower bound */
	int64_t until_us;     /*!< 0 = no upper bound */
	int limit;            /*!< 0 = 1000 */
} store_audit_filter_t;

typedef int (*store_audit_cb_t)(void *ctx, const store_audit_t *row);

/*! \brief Append an audit row (id and time_us are set by the store). */
int store_audit_append(store_t *st, const store_audit_t *row);
/*! \brief Audit rows matching the filter, newest first. */
int store_audit_list(store_t *st, const store_audit_filter_t *f, store_audit_cb_t cb,
                     void *ctx);

/*! \brief Journal of a committed change: what was removed and added, as
 * master-file text, between two serials. */
int store_journal_append(store_t *st, const char *zone, uint32_t old_serial,
                         uint32_t new_serial, const char *removed, const char *added);
/*! \brief Number of journal rows for a zone (for tests and diagnostics). */
int store_journal_count(store_t *st, const char *zone);

/*! \brief An API token row: the secret itself is never stored. */
typedef struct store_token {
	int64_t id;
	char name[128];
	char hash[65];        /*!< hex SHA-256 of the secret */
	char scopes[1024];    /*!< space-separated scopes */
	int64_t created_us;
} store_token_t;

typedef int (*store_token_cb_t)(void *ctx, const store_token_t *tok);

/*! \retval 0, -CIRRUS_EEXIST (same name) */
int store_token_insert(store_t *st, const char *name, const char *hash, const char *scopes);
/*! \retval 0, -CIRRUS_ENOENT */
int store_token_find(store_t *st, const char *hash, store_token_t *out);
int store_token_list(store_t *st, store_token_cb_t cb, void *ctx);
/*! \retval 0, -CIRRUS_ENOENT */
int store_token_delete(store_t *st, const char *name);
/*! \brief SQLite's data version of this connection: it moves when another
 * connection (another process: `cirrus token`, `cirrus zone import`)
 * commits, not when this one does; a cheap "did anyone else write?".
 * \retval 0, -CIRRUS_EIO */
int store_data_version(store_t *st, int64_t *out);

/*! \brief A TSIG key (RFC 8945) for RFC 2136 UPDATE. The secret is kept as
 * given (base64): HMAC needs it, so it cannot be hashed like a token's. */
typedef struct store_tsig {
	int64_t id;
	char name[256];        /*!< key name, lower case without the trailing dot */
	char algorithm[32];    /*!< "hmac-sha256" or "hmac-sha512" */
	char secret[256];      /*!< base64 */
	char rules[4096];      /*!< authorization rules, one per line */
} store_tsig_t;

typedef int (*store_tsig_cb_t)(void *ctx, const store_tsig_t *key);

/*! \brief Store a key (id is ignored); ctl_key_check() validates it first.
 * \retval 0, -CIRRUS_EEXIST (same name), -CIRRUS_EINVAL (a field empty or
 *         too long), -CIRRUS_EIO */
int store_tsig_insert(store_t *st, const store_tsig_t *key);
/*! \brief The key with exactly this name. \retval 0, -CIRRUS_ENOENT, -CIRRUS_EIO */
int store_tsig_find(store_t *st, const char *name, store_tsig_t *out);
/*! \brief Every key, by name; a non-zero return from cb stops and is returned. */
int store_tsig_list(store_t *st, store_tsig_cb_t cb, void *ctx);
/*! \retval 0, -CIRRUS_ENOENT, -CIRRUS_EIO */
int store_tsig_delete(store_t *st, const char *name);

/*! \brief A service instance of the registry (src/registry/): the
 * registration as JSON (the registry's to read) and its lease. */
typedef struct store_instance {
	char zone[256];        /*!< presentation, trailing dot */
	char service[64];
	char instance[64];
	char data[8192];       /*!< JSON, as registry_instance_json() writes it */
	int64_t expires_us;    /*!< lease end */
	int64_t created_us;
	int64_t updated_us;    /*!< 0 on put: now */
} store_instance_t;

typedef int (*store_instance_cb_t)(void *ctx, const store_instance_t *in);

/*! \brief Insert or replace an instance (created_us is kept on replace).
 * \retval 0, -CIRRUS_EINVAL (a field empty or too long), -CIRRUS_EIO */
int store_instance_put(store_t *st, const store_instance_t *in);
/*! \retval 0, -CIRRUS_ENOENT, -CIRRUS_EIO */
int store_instance_delete(store_t *st, const char *zone, const char *service,
                          const char *instance);
/*! \brief Move the lease end only (a heartbeat). \retval 0, -CIRRUS_ENOENT, -CIRRUS_EIO */
int store_instance_renew(store_t *st, const char *zone, const char *service,
                         const char *instance, int64_t expires_us);
/*! \brief Instances of a zone and service (NULL = any), by zone, service, instance. */
int store_instance_list(store_t *st, const char *zone, const char *service,
                        store_instance_cb_t cb, void *ctx);
/*! \brief Instances whose lease ended at or before now_us. */
int store_instance_expired(store_t *st, int64_t now_us, store_instance_cb_t cb, void *ctx);

/*! \brief A routing policy of a store zone (docs/policies.md): its owner
 * (lower-case presentation form, absolute), type ("A", "AAAA", "CNAME")
 * and spec as JSON. Reading, spec points into the row (valid during the
 * callback only). */
typedef struct store_policy {
	char zone[256];        /*!< presentation, trailing dot */
	char owner[1025];      /*!< presentation form, escapes included */
	char type[16];
	const char *spec;
	int64_t created_us;
	int64_t updated_us;
} store_policy_t;

typedef int (*store_policy_cb_t)(void *ctx, const store_policy_t *p);

/*! \brief Insert or replace the policy at zone, owner and type (created_us
 * is kept on replace). \retval 0, -CIRRUS_ENOENT (no zone), -CIRRUS_EINVAL
 * (a field empty or too long), -CIRRUS_EIO */
int store_policy_put(store_t *st, const store_policy_t *p);
/*! \retval 0, -CIRRUS_ENOENT (no such policy), -CIRRUS_EIO */
int store_policy_delete(store_t *st, const char *zone, const char *owner, const char *type);
/*! \brief Policies of a zone, by owner and type; owner and type NULL = any.
 * \retval 0, -CIRRUS_EIO, or cb's code */
int store_policy_list(store_t *st, const char *zone, const char *owner, const char *type,
                      store_policy_cb_t cb, void *ctx);

/*! \brief Store a latency table (docs/policies.md) under a name, replacing
 * one there (created_us is kept). \retval 0, -CIRRUS_EINVAL (empty name or
 * data), -CIRRUS_EIO */
int store_latency_put(store_t *st, const char *name, const char *data);
/*! \brief The text of a latency table, malloc'ed (the caller frees it).
 * \retval 0, -CIRRUS_ENOENT, -CIRRUS_EIO, -CIRRUS_ENOMEM */
int store_latency_get(store_t *st, const char *name, char **data);
/*! \brief What changes when any latency table is stored or removed: for
 *  readers that poll (function mode), whose zones' policies may read one. */
typedef struct store_latency_stamp {
	int64_t count;
	int64_t latest_us;    /*!< the newest updated_us, 0 without tables */
} store_latency_stamp_t;
/*! \brief The latency tables' stamp. \retval 0, -CIRRUS_EIO */
int store_latency_stamp(store_t *st, store_latency_stamp_t *out);
/*! \brief Remove a latency table. \retval 0, -CIRRUS_ENOENT, -CIRRUS_EIO */
int store_latency_delete(store_t *st, const char *name);
