/* SPDX-License-Identifier: Apache-2.0
 * store_schema.c -- the versioned schema migrations. Each migration runs
 * once, in order, inside the one transaction that also records it in
 * schema_migrations; a database newer than this code is refused. Never edit
 * a released migration: append a new one (docs/store.md).
 */
#include <stdbool.h>
#include <stdio.h>

#include "store/store_internal.h"
#include "util/error.h"

typedef struct migration {
	int version;
	const char *sql;
	/* Changes how rows are stored, not what any query sees: a read-only
	 * opener (function mode, which cannot migrate) reads a file that lacks
	 * only such migrations as it is. */
	bool layout_only;
} migration_t;

static const migration_t migrations[] = {
	{ 1,
	  "CREATE TABLE zones ("
	  " id INTEGER PRIMARY KEY,"
	  " name TEXT NOT NULL UNIQUE,"
	  " serial INTEGER NOT NULL,"
	  " created_us INTEGER NOT NULL,"
	  " updated_us INTEGER NOT NULL);"
	  "CREATE TABLE records ("
	  " id INTEGER PRIMARY KEY,"
	  " zone_id INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,"
	  " owner BLOB NOT NULL,"
	  " type INTEGER NOT NULL,"
	  " ttl INTEGER NOT NULL,"
	  " rdata BLOB NOT NULL,"
	  " UNIQUE (zone_id, owner, type, rdata));"
	  "CREATE TABLE audit ("
	  " id INTEGER PRIMARY KEY,"
	  " time_us INTEGER NOT NULL,"
	  " actor TEXT NOT NULL,"
	  " request_id TEXT,"
	  " zone TEXT,"
	  " action TEXT NOT NULL,"
	  " before TEXT,"
	  " after TEXT);"
	  "CREATE INDEX audit_time ON audit (time_us);"
	  "CREATE INDEX audit_zone_time ON audit (zone, time_us);"
	  "CREATE INDEX audit_actor_time ON audit (actor, time_us);"
	  "CREATE TABLE journal ("
	  " id INTEGER PRIMARY KEY,"
	  " zone_id INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,"
	  " old_serial INTEGER NOT NULL,"
	  " new_serial INTEGER NOT NULL,"
	  " time_us INTEGER NOT NULL,"
	  " removed TEXT,"
	  " added TEXT);"
	  "CREATE INDEX journal_zone ON journal (zone_id, id);"
	  "CREATE TABLE tokens ("
	  " id INTEGER PRIMARY KEY,"
	  " name TEXT NOT NULL UNIQUE,"
	  " hash TEXT NOT NULL UNIQUE,"
	  " scopes TEXT NOT NULL,"
	  " created_us INTEGER NOT NULL);"
	  "CREATE TABLE tsig_keys ("
	  " id INTEGER PRIMARY KEY,"
	  " name TEXT NOT NULL UNIQUE,"
	  " algorithm TEXT NOT NULL,"
	  " secret TEXT NOT NULL,"
	  " rules TEXT NOT NULL);",
	  false },
	/* 2: service instances of the registry (docs/services.md); the zone is
	 * a name, not a reference: an instance outlives a deleted zone until
	 * its lease ends. */
	{ 2,
	  "CREATE TABLE service_instances ("
	  " id INTEGER PRIMARY KEY,"
	  " zone TEXT NOT NULL,"
	  " service TEXT NOT NULL,"
	  " instance TEXT NOT NULL,"
	  " data TEXT NOT NULL,"
	  " expires_us INTEGER NOT NULL,"
	  " created_us INTEGER NOT NULL,"
	  " updated_us INTEGER NOT NULL,"
	  " UNIQUE (zone, service, instance));"
	  "CREATE INDEX service_instances_expiry ON service_instances (expires_us);",
	  false },
	/* 3: routing policies of store zones, made through the API
	 * (docs/policies.md): one row per owner and type, the spec as JSON. */
	{ 3,
	  "CREATE TABLE policies ("
	  " id INTEGER PRIMARY KEY,"
	  " zone_id INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,"
	  " owner TEXT NOT NULL,"
	  " type TEXT NOT NULL,"
	  " spec TEXT NOT NULL,"
	  " created_us INTEGER NOT NULL,"
	  " updated_us INTEGER NOT NULL,"
	  " UNIQUE (zone_id, owner, type));",
	  false },
	/* 4: latency tables loaded through the API, which policies of store
	 * zones name with latency-table (docs/policies.md): the table's text
	 * in the file format, PREFIX REGION MILLISECONDS per line. */
	{ 4,
	  "CREATE TABLE latency_tables ("
	  " id INTEGER PRIMARY KEY,"
	  " name TEXT NOT NULL UNIQUE,"
	  " data TEXT NOT NULL,"
	  " created_us INTEGER NOT NULL,"
	  " updated_us INTEGER NOT NULL);",
	  false },
	/* 5: records clustered by zone (WITHOUT ROWID, keyed as the unique
	 * constraint was): a zone's records are one range of one B-tree. Loading
	 * a zone used to walk the unique index and fetch each row from the rowid
	 * table, a random read per record: 3.8 s for 1M records, against 0.5 s
	 * for the range scan. */
	{ 5,
	  "CREATE TABLE records_by_zone ("
	  " zone_id INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,"
	  " owner BLOB NOT NULL,"
	  " type INTEGER NOT NULL,"
	  " ttl INTEGER NOT NULL,"
	  " rdata BLOB NOT NULL,"
	  " PRIMARY KEY (zone_id, owner, type, rdata)) WITHOUT ROWID;"
	  "INSERT INTO records_by_zone (zone_id, owner, type, ttl, rdata)"
	  " SELECT zone_id, owner, type, ttl, rdata FROM records;"
	  "DROP TABLE records;"
	  "ALTER TABLE records_by_zone RENAME TO records;",
	  true },
	/* 6: service instances keyed by (zone, service, instance) WITHOUT
	 * ROWID: a registration wrote the row, the unique index and the expiry
	 * index (3 of the 16 pages of its commit), now the row and the expiry
	 * index; a lease flush finds each row by its key without the index. */
	{ 6,
	  "CREATE TABLE service_instances_by_key ("
	  " zone TEXT NOT NULL,"
	  " service TEXT NOT NULL,"
	  " instance TEXT NOT NULL,"
	  " data TEXT NOT NULL,"
	  " expires_us INTEGER NOT NULL,"
	  " created_us INTEGER NOT NULL,"
	  " updated_us INTEGER NOT NULL,"
	  " PRIMARY KEY (zone, service, instance)) WITHOUT ROWID;"
	  "INSERT INTO service_instances_by_key (zone, service, instance, data, expires_us,"
	  " created_us, updated_us) SELECT zone, service, instance, data, expires_us,"
	  " created_us, updated_us FROM service_instances;"
	  "DROP TABLE service_instances;"
	  "ALTER TABLE service_instances_by_key RENAME TO service_instances;"
	  "CREATE INDEX service_instances_expiry ON service_instances (expires_us);",
	  true },
};

#define MIGRATION_COUNT (int)(sizeof(migrations) / sizeof(migrations[0]))
#define LATEST_VERSION (migrations[MIGRATION_COUNT - 1].version)

static int query_int(store_t *st, const char *sql, int *out)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, sql, &s);
	if (ret < 0) {
		return ret;
	}
	if (sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int(s, 0);
	} else {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}

/* The applied version (0 for a new file); refuses one newer than the code. */
static int read_version(store_t *st, int *version)
{
	int exists = 0;
	*version = 0;
	int ret = query_int(st, "SELECT count(*) FROM sqlite_schema"
	                        " WHERE type = 'table' AND name = 'schema_migrations'", &exists);
	if (ret == 0 && exists) {
		ret = query_int(st, "SELECT coalesce(max(version), 0) FROM schema_migrations",
		                version);
	}
	if (ret == 0 && *version > LATEST_VERSION) {
		return store_failf(st, CIRRUS_EINVAL,
		                   "schema version %d is newer than this cirrus knows (%d);"
		                   " run a newer cirrus on this database", *version,
		                   LATEST_VERSION);
	}
	return ret;
}

static int apply(store_t *st, const migration_t *m)
{
	int ret = store_exec(st, m->sql);
	if (ret < 0) {
		char why[sizeof(st->err)];
		snprintf(why, sizeof(why), "%s", st->err);
		return store_failf(st, ret, "migration %d: %s", m->version, why);
	}
	sqlite3_stmt *s;
	ret = store_prepare(st, "INSERT INTO schema_migrations (version, applied_at)"
	                        " VALUES (?1, ?2)", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_int(s, 1, m->version);
	sqlite3_bind_int64(s, 2, store_now_us());
	ret = store_step_done(st, s);
	sqlite3_finalize(s);
	return ret;
}

/* The version is read again under the write lock, so two processes opening
 * a new file at once cannot both migrate it. */
static int migrate_locked(store_t *st)
{
	int ret = store_exec(st, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                         " version INTEGER PRIMARY KEY,"
	                         " applied_at INTEGER NOT NULL)");
	int version = 0;
	if (ret == 0) {
		ret = read_version(st, &version);
	}
	for (int i = 0; ret == 0 && i < MIGRATION_COUNT; i++) {
		if (migrations[i].version > version) {
			ret = apply(st, &migrations[i]);
			version = migrations[i].version;
		}
	}
	st->version = version;
	return ret;
}

int store_check_readable(store_t *st)
{
	int ret = read_version(st, &st->version);
	for (int i = 0; ret == 0 && i < MIGRATION_COUNT; i++) {
		if (migrations[i].version > st->version && !migrations[i].layout_only) {
			ret = store_failf(st, CIRRUS_EINVAL,
			                  "schema version %d is older than this cirrus reads (%d); "
			                  "open the store once with a command that writes it "
			                  "(cirrus serve) to upgrade it", st->version, LATEST_VERSION);
		}
	}
	return ret;
}

/* An up-to-date file is opened without the write lock, so opening a store
 * does not wait for another process's transaction. */
int store_migrate(store_t *st)
{
	int ret = read_version(st, &st->version);
	if (ret < 0 || st->version == LATEST_VERSION) {
		return ret;
	}
	ret = store_begin(st);
	if (ret == 0) {
		ret = migrate_locked(st);
	}
	if (ret == 0) {
		ret = store_commit(st);
	}
	if (ret < 0) {
		store_rollback(st);
	}
	return ret;
}
