/* SPDX-License-Identifier: Apache-2.0
 * test_store.c -- the SQLite store (store/): migrations, zones, records,
 * transactions and durability, two connections on one file, audit log,
 * journal and tokens. Each test gets a fresh database in a temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <libknot/libknot.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store_fixture.h"
#include "util/error.h"

#define setup store_fixture_setup
#define teardown store_fixture_teardown

static store_t *reopen(fixture_t *fx)
{
	char err[256];
	store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(store_open(fx->path, &fx->st, err, sizeof(err)), 0);
	return fx->st;
}

/* One integer from SQL run on the file directly, behind the store's back. */
static int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* A wire name from a ring of buffers, long enough for the records one test
 * keeps alive at once. */
static const uint8_t *wire(const char *name)
{
	static knot_dname_storage_t bufs[32];
	static int next;
	uint8_t *buf = bufs[next++ % 32];
	assert_non_null(knot_dname_from_str(buf, name, sizeof(bufs[0])));
	return buf;
}

/* rdata is a string literal, which may hold zero bytes. */
#define rec(owner, type, ttl, rdata) rec_len(owner, type, ttl, rdata, sizeof(rdata) - 1)

static store_record_t rec_len(const char *owner, uint16_t type, uint32_t ttl,
                              const char *rdata, size_t len)
{
	return (store_record_t){ .owner = wire(owner), .type = type, .ttl = ttl,
	                         .rdata = (const uint8_t *)rdata, .rdlen = (uint16_t)len };
}

/* ---- migrations and open ---- */

static void test_open_migrate_reopen(void **state)
{
	fixture_t *fx = *state;
	assert_int_equal(store_schema_version(fx->st), 6);
	assert_string_equal(store_last_error(fx->st), "");
	store_t *st = reopen(fx);
	assert_int_equal(store_schema_version(st), 6);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM schema_migrations"), 6);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM sqlite_schema"
	                                   " WHERE name = 'tsig_keys'"), 1);
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
	struct stat sb;
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_newer_schema(void **state)
{
	fixture_t *fx = *state;
	store_close(fx->st);
	fx->st = NULL;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 0)",
	                              NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	char err[256];
	assert_int_equal(store_open(fx->path, &fx->st, err, sizeof(err)), CIRRUS_EINVAL);
	assert_null(fx->st);
	assert_non_null(strstr(err, "schema version 99 is newer"));
	assert_non_null(strstr(err, fx->path));
}

static void test_open_errors(void **state)
{
	fixture_t *fx = *state;
	store_t *st = NULL;
	char err[256];
	assert_int_equal(store_open("/nonexistent/dir/cirrus.db", &st, err, sizeof(err)),
	                 CIRRUS_EIO);
	assert_null(st);
	assert_non_null(strstr(err, "No such file"));
	char junk[160];
	snprintf(junk, sizeof(junk), "%s/junk.db", fx->dir);
	FILE *f = fopen(junk, "w");
	assert_non_null(f);
	fputs("this is not a database, just some text long enough to have a header\n", f);
	fclose(f);
	assert_int_equal(store_open(junk, &st, err, sizeof(err)), CIRRUS_EIO);
	assert_non_null(strstr(err, "not a database"));
	unlink(junk);
}

static void test_memory(void **state)
{
	(void)state;
	store_t *st;
	char err[256];
	assert_int_equal(store_open(":memory:", &st, err, sizeof(err)), 0);
	assert_int_equal(store_zone_insert(st, "example.com.", 1), 0);
	store_close(st);
}

/* ---- zones ---- */

typedef struct zone_list {
	char names[8][256];
	int count;
	int stop_after;
} zone_list_t;

static int collect_zone(void *ctx, const store_zone_t *zone)
{
	zone_list_t *l = ctx;
	strcpy(l->names[l->count++], zone->name);
	return l->count == l->stop_after ? 42 : 0;
}

static void test_zones(void **state)
{
	store_t *st = ((fixture_t *)*state)->st;
	assert_int_equal(store_zone_insert(st, "example.com.", 7), 0);
	assert_int_equal(store_zone_insert(st, "a.example.", 1), 0);
	assert_int_equal(store_zone_insert(st, "example.com.", 9), CIRRUS_EEXIST);
	assert_non_null(strstr(store_last_error(st), "UNIQUE"));
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(store_zone_insert(st, longname, 1), CIRRUS_EINVAL);

	store_zone_t z;
	assert_int_equal(store_zone_get(st, "example.com.", &z), 0);
	assert_string_equal(z.name, "example.com.");
	assert_int_equal(z.serial, 7);
	assert_true(z.created_us > 0);
	assert_int_equal(z.created_us, z.updated_us);
	assert_int_equal(store_zone_get(st, "nope.", &z), CIRRUS_ENOENT);

	usleep(2000);
	assert_int_equal(store_zone_set_serial(st, "example.com.", 4000000000u), 0);
	assert_int_equal(store_zone_get(st, "example.com.", &z), 0);
	assert_int_equal(z.serial, 4000000000u);
	assert_true(z.updated_us > z.created_us);
	assert_int_equal(store_zone_set_serial(st, "nope.", 1), CIRRUS_ENOENT);

	zone_list_t l = { .count = 0 };
	assert_int_equal(store_zone_list(st, collect_zone, &l), 0);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.names[0], "a.example.");
	assert_string_equal(l.names[1], "example.com.");
	l = (zone_list_t){ .stop_after = 1 };
	assert_int_equal(store_zone_list(st, collect_zone, &l), 42);
	assert_int_equal(l.count, 1);

	assert_int_equal(store_zone_remove(st, "a.example."), 0);
	assert_int_equal(store_zone_remove(st, "a.example."), CIRRUS_ENOENT);
	l = (zone_list_t){ .count = 0 };
	assert_int_equal(store_zone_list(st, collect_zone, &l), 0);
	assert_int_equal(l.count, 1);
}

/* ---- records ---- */

typedef struct rec_list {
	struct {
		knot_dname_storage_t owner;
		uint16_t type;
		uint32_t ttl;
		uint8_t rdata[64];
		uint16_t rdlen;
	} r[16];
	int count;
} rec_list_t;

static int collect_rec(void *ctx, const store_record_t *r)
{
	rec_list_t *l = ctx;
	assert_true(l->count < 16);
	memcpy(l->r[l->count].owner, r->owner, knot_dname_size(r->owner));
	l->r[l->count].type = r->type;
	l->r[l->count].ttl = r->ttl;
	assert_non_null(r->rdata);
	assert_true(r->rdlen <= 64);
	memcpy(l->r[l->count].rdata, r->rdata, r->rdlen);
	l->r[l->count].rdlen = r->rdlen;
	l->count++;
	return 0;
}

/* How many stored records have this owner, type (0 = any) and ttl (0 = any). */
static int count_recs(store_t *st, const char *owner, uint16_t type, uint32_t ttl)
{
	rec_list_t l = { .count = 0 };
	assert_int_equal(store_zone_records(st, "example.com.", collect_rec, &l), 0);
	int n = 0;
	for (int i = 0; i < l.count; i++) {
		if (knot_dname_is_equal(l.r[i].owner, wire(owner)) &&
		    (type == 0 || l.r[i].type == type) && (ttl == 0 || l.r[i].ttl == ttl)) {
			n++;
		}
	}
	return n;
}

static void test_records(void **state)
{
	store_t *st = ((fixture_t *)*state)->st;
	assert_int_equal(store_zone_insert(st, "example.com.", 1), 0);
	store_record_t a1 = rec("WWW.Example.com.", KNOT_RRTYPE_A, 300, "\xc0\x00\x02\x01");
	store_record_t a2 = rec("www.example.com.", KNOT_RRTYPE_A, 300, "\xc0\x00\x02\x02");
	store_record_t txt = rec("www.example.com.", KNOT_RRTYPE_TXT, 60, "\x05hello");
	store_record_t mx = rec("example.com.", KNOT_RRTYPE_MX, 60, "\x00\x0a\x00");
	store_record_t null = rec("null.example.com.", KNOT_RRTYPE_NULL, 60, "");
	assert_int_equal(store_record_insert(st, "example.com.", &a1), 0);
	assert_int_equal(store_record_insert(st, "example.com.", &a1), 0);
	assert_int_equal(store_record_insert(st, "example.com.", &a2), 0);
	assert_int_equal(store_record_insert(st, "example.com.", &txt), 0);
	assert_int_equal(store_record_insert(st, "example.com.", &mx), 0);
	assert_int_equal(store_record_insert(st, "example.com.", &null), 0);
	assert_int_equal(count_recs(st, "www.example.com.", KNOT_RRTYPE_A, 300), 2);
	assert_int_equal(count_recs(st, "null.example.com.", KNOT_RRTYPE_NULL, 0), 1);
	rec_list_t l = { .count = 0 };
	assert_int_equal(store_zone_records(st, "example.com.", collect_rec, &l), 0);
	assert_int_equal(l.count, 5);
	for (int i = 0; i < l.count; i++) {
		if (l.r[i].type == KNOT_RRTYPE_MX) {
			assert_int_equal(l.r[i].rdlen, 3);
			assert_memory_equal(l.r[i].rdata, "\x00\x0a\x00", 3);
		} else if (l.r[i].type == KNOT_RRTYPE_NULL) {
			assert_int_equal(l.r[i].rdlen, 0);
		}
	}

	/* An identical record again: kept once, with the new TTL. */
	a1.ttl = 900;
	assert_int_equal(store_record_insert(st, "example.com.", &a1), 0);
	assert_int_equal(count_recs(st, "www.example.com.", KNOT_RRTYPE_A, 0), 2);
	assert_int_equal(count_recs(st, "www.example.com.", KNOT_RRTYPE_A, 900), 1);

	assert_int_equal(store_record_insert(st, "nope.", &a1), CIRRUS_ENOENT);
	uint8_t bad[] = { 64, 'x', 0 };
	store_record_t malformed = a1;
	malformed.owner = bad;
	assert_int_equal(store_record_insert(st, "example.com.", &malformed), CIRRUS_EINVAL);

	/* One record (TTL ignored), then an RRset, then everything at an owner. */
	a2.ttl = 1;
	assert_int_equal(store_record_delete(st, "example.com.", &a2), 0);
	assert_int_equal(count_recs(st, "www.example.com.", KNOT_RRTYPE_A, 0), 1);
	assert_int_equal(store_record_delete(st, "example.com.", &a2), 0);
	assert_int_equal(store_record_delete(st, "example.com.", &null), 0);
	assert_int_equal(count_recs(st, "null.example.com.", 0, 0), 0);
	assert_int_equal(store_record_insert(st, "example.com.", &a2), 0);
	assert_int_equal(store_rrset_delete(st, "example.com.", wire("www.EXAMPLE.com."),
	                                    KNOT_RRTYPE_A), 0);
	assert_int_equal(count_recs(st, "www.example.com.", KNOT_RRTYPE_A, 0), 0);
	assert_int_equal(count_recs(st, "www.example.com.", KNOT_RRTYPE_TXT, 0), 1);
	assert_int_equal(store_record_insert(st, "example.com.", &a2), 0);
	assert_int_equal(store_rrset_delete(st, "example.com.", wire("www.example.com."), 255), 0);
	assert_int_equal(count_recs(st, "www.example.com.", 0, 0), 0);
	assert_int_equal(count_recs(st, "example.com.", KNOT_RRTYPE_MX, 0), 1);
	assert_int_equal(store_rrset_delete(st, "nope.", wire("www.example.com."), 255),
	                 CIRRUS_ENOENT);
	assert_int_equal(store_zone_records(st, "nope.", collect_rec, NULL), CIRRUS_ENOENT);
}

static int stop_rec(void *ctx, const store_record_t *r)
{
	(void)r;
	(*(int *)ctx)++;
	return -99;
}

static void test_records_callback_stops(void **state)
{
	store_t *st = ((fixture_t *)*state)->st;
	assert_int_equal(store_zone_insert(st, "example.com.", 1), 0);
	for (char c = 'a'; c <= 'e'; c++) {
		char owner[32];
		snprintf(owner, sizeof(owner), "%c.example.com.", c);
		store_record_t r = rec(owner, KNOT_RRTYPE_A, 60, "\x0a\x00\x00\x01");
		assert_int_equal(store_record_insert(st, "example.com.", &r), 0);
	}
	int calls = 0;
	assert_int_equal(store_zone_records(st, "example.com.", stop_rec, &calls), -99);
	assert_int_equal(calls, 1);
}

static void test_zone_remove_cascades(void **state)
{
	fixture_t *fx = *state;
	store_t *st = fx->st;
	assert_int_equal(store_zone_insert(st, "example.com.", 1), 0);
	store_record_t a = rec("www.example.com.", KNOT_RRTYPE_A, 60, "\x0a\x00\x00\x01");
	assert_int_equal(store_record_insert(st, "example.com.", &a), 0);
	assert_int_equal(store_journal_append(st, "example.com.", 1, 2, "", "www A 10.0.0.1"), 0);
	store_audit_t row = { .actor = "t", .zone = "example.com.", .action = "create" };
	assert_int_equal(store_audit_append(st, &row), 0);
	assert_int_equal(store_zone_remove(st, "example.com."), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM records"), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM journal"), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM audit"), 1);
}

/* ---- transactions and durability ---- */

static void test_transactions(void **state)
{
	fixture_t *fx = *state;
	store_t *st = fx->st;
	store_record_t a = rec("www.example.com.", KNOT_RRTYPE_A, 60, "\x0a\x00\x00\x01");
	store_zone_t z;

	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_begin(st), CIRRUS_EINVAL);
	assert_int_equal(store_zone_insert(st, "example.com.", 1), 0);
	assert_int_equal(store_record_insert(st, "example.com.", &a), 0);
	store_rollback(st);
	assert_int_equal(store_zone_get(st, "example.com.", &z), CIRRUS_ENOENT);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM records"), 0);
	store_rollback(st);  /* no transaction: harmless */

	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_zone_insert(st, "example.com.", 1), 0);
	assert_int_equal(store_record_insert(st, "example.com.", &a), 0);
	assert_int_equal(store_zone_set_serial(st, "example.com.", 2), 0);
	assert_int_equal(store_commit(st), 0);
	st = reopen(fx);
	assert_int_equal(store_zone_get(st, "example.com.", &z), 0);
	assert_int_equal(z.serial, 2);
	assert_int_equal(count_recs(st, "www.example.com.", KNOT_RRTYPE_A, 60), 1);
}

/* A reader on a second connection sees the last commit, never a write in
 * progress, and is not blocked by it (WAL). */
static void test_second_connection_reads(void **state)
{
	fixture_t *fx = *state;
	store_t *other;
	char err[256];
	store_zone_t z;
	assert_int_equal(store_open(fx->path, &other, err, sizeof(err)), 0);
	assert_int_equal(store_begin(fx->st), 0);
	assert_int_equal(store_zone_insert(fx->st, "example.com.", 1), 0);
	assert_int_equal(store_zone_get(other, "example.com.", &z), CIRRUS_ENOENT);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_zone_get(other, "example.com.", &z), 0);
	store_close(other);
}

/* data_version moves with another connection's commits (the API's token
 * cache relies on it), not with its own; a lazy commit is a commit (what
 * it syncs: test_store_sync.c). */
static void test_data_version_and_lazy_commit(void **state)
{
	fixture_t *fx = *state;
	store_t *other;
	char err[256];
	store_zone_t z;
	int64_t v0, v1, v2;
	assert_int_equal(store_open(fx->path, &other, err, sizeof(err)), 0);
	assert_int_equal(store_data_version(fx->st, &v0), 0);
	assert_int_equal(store_begin_lazy(fx->st), 0);
	assert_int_equal(store_zone_insert(fx->st, "example.com.", 1), 0);
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(store_data_version(fx->st, &v1), 0);
	assert_true(v1 == v0);
	assert_int_equal(store_zone_get(other, "example.com.", &z), 0);
	assert_int_equal(store_token_insert(other, "t", "00", "admin"), 0);
	assert_int_equal(store_data_version(fx->st, &v2), 0);
	assert_true(v2 != v1);
	store_close(other);
	assert_int_equal(store_zone_get(reopen(fx), "example.com.", &z), 0);
}

typedef struct writer {
	const char *path;
	_Atomic int rc;  /*!< set when the writer is done */
} writer_t;

static void *second_writer(void *arg)
{
	writer_t *w = arg;
	store_t *st;
	char err[256];
	int rc = store_open(w->path, &st, err, sizeof(err));
	if (rc == 0) {
		rc = store_begin(st);
		if (rc == 0) {
			rc = store_zone_insert(st, "second.example.", 1);
		}
		if (rc == 0) {
			rc = store_commit(st);
		}
		store_close(st);
	}
	w->rc = rc;
	return NULL;
}

/* A second writer queues on the busy timeout instead of failing. */
static void test_writers_queue(void **state)
{
	fixture_t *fx = *state;
	writer_t w = { .path = fx->path, .rc = -1000 };
	pthread_t thread;
	assert_int_equal(store_begin(fx->st), 0);
	assert_int_equal(store_zone_insert(fx->st, "first.example.", 1), 0);
	assert_int_equal(pthread_create(&thread, NULL, second_writer, &w), 0);
	usleep(200000);
	assert_int_equal(w.rc, -1000);  /* still waiting for the lock */
	assert_int_equal(store_commit(fx->st), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(w.rc, 0);
	zone_list_t l = { .count = 0 };
	assert_int_equal(store_zone_list(fx->st, collect_zone, &l), 0);
	assert_int_equal(l.count, 2);
}

/* ... and gives up, with an error, when the lock stays taken (5 s). */
static void test_writer_gives_up(void **state)
{
	fixture_t *fx = *state;
	writer_t w = { .path = fx->path, .rc = -1000 };
	pthread_t thread;
	assert_int_equal(store_begin(fx->st), 0);
	assert_int_equal(store_zone_insert(fx->st, "first.example.", 1), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pthread_create(&thread, NULL, second_writer, &w), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(w.rc, CIRRUS_EIO);
	double waited = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(waited >= 4.9 && waited < 10.0);  /* the 5 s, not SQLite's own */
	assert_int_equal(store_commit(fx->st), 0);
}

/* A commit is on disk when store_commit returns, not when the store closes. */
static void test_commit_survives_kill(void **state)
{
	fixture_t *fx = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		store_t *st;
		char err[256];
		if (store_open(fx->path, &st, err, sizeof(err)) != 0 || store_begin(st) != 0 ||
		    store_zone_insert(st, "killed.example.", 5) != 0 || store_commit(st) != 0 ||
		    store_begin(st) != 0 || store_zone_insert(st, "lost.example.", 5) != 0) {
			_exit(1);
		}
		raise(SIGKILL);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	store_t *st = reopen(fx);
	store_zone_t z;
	assert_int_equal(store_zone_get(st, "killed.example.", &z), 0);
	assert_int_equal(z.serial, 5);
	assert_int_equal(store_zone_get(st, "lost.example.", &z), CIRRUS_ENOENT);
}

/* ---- WAL checkpoints off the committing thread ---- */

/* One committed change: a record at a fresh name and its audit row. */
static void commit_one_as(store_t *st, int i, bool lazy)
{
	char name[64];
	snprintf(name, sizeof(name), "w%d.example.com.", i);
	store_record_t a = rec(name, KNOT_RRTYPE_A, 60, "\x0a\x00\x00\x01");
	store_audit_t row = { .actor = "test", .zone = "example.com.", .action = "write",
	                      .after = "[]" };
	assert_int_equal(lazy ? store_begin_lazy(st) : store_begin(st), 0);
	assert_int_equal(store_record_insert(st, "example.com.", &a), 0);
	assert_int_equal(store_audit_append(st, &row), 0);
	assert_int_equal(store_commit(st), 0);
}

static void commit_one(store_t *st, int i)
{
	commit_one_as(st, i, false);
}

/* Frames in the WAL now, as a second connection sees them. */
static int64_t wal_frames(const char *path)
{
	sqlite3 *db;
	int log = -1, copied = -1;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "SELECT count(*) FROM zones", NULL, NULL, NULL),
	                 SQLITE_OK);  /* reads the WAL index */
	/* The thread has copied everything: this copies nothing and says how
	 * many frames the WAL holds (BUSY while the thread checkpoints). */
	int rc = SQLITE_BUSY;
	for (int i = 0; i < 500 && rc == SQLITE_BUSY; i++) {
		rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
		if (rc == SQLITE_BUSY) {
			usleep(10000);
		}
	}
	assert_int_equal(rc, SQLITE_OK);
	sqlite3_close(db);
	return log;
}

/* Wait at most 5 s for the checkpointer to have run `want` passive ones. */
static uint64_t wait_passive(store_t *st, uint64_t want)
{
	uint64_t passive = 0, restart = 0;
	for (int i = 0; i < 500 && passive < want; i++) {
		store_checkpoint_stats(st, &passive, &restart);
		usleep(10000);
	}
	return passive;
}

/* A zone to write to, and an empty WAL, however many frames the
 * migrations wrote. */
static void zone_and_empty_wal(fixture_t *fx)
{
	assert_int_equal(store_zone_insert(fx->st, "example.com.", 1), 0);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
}

/* The thread checkpoints once the WAL passes the threshold; the WAL then
 * starts over, so it stays bounded; every commit is still there. */
static void test_checkpoint_thread(void **state)
{
	fixture_t *fx = *state;
	store_t *st = fx->st;
	uint64_t passive, restart;
	zone_and_empty_wal(fx);
	assert_int_equal(store_checkpoint_start(st, 40), 0);
	assert_int_equal(store_checkpoint_start(st, 40), CIRRUS_EINVAL);
	store_checkpoint_stats(st, &passive, &restart);
	assert_int_equal(passive, 0);
	int64_t most = 0;
	for (int round = 1; round <= 20; round++) {
		/* about 6 frames each: past the threshold of 40 */
		for (int i = 0; i < 10; i++) {
			commit_one(st, round * 100 + i);
		}
		/* a pause, as between requests: the thread catches up */
		assert_int_equal(wait_passive(st, (uint64_t)round), round);
		int64_t frames = wal_frames(fx->path);
		most = frames > most ? frames : most;
	}
	store_checkpoint_stats(st, &passive, &restart);
	assert_int_equal(passive, 20);
	assert_int_equal(restart, 0);
	/* the WAL started over after each checkpoint: one round's frames at most */
	assert_true(most > 40 && most < 2 * 40);
	st = reopen(fx);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM records"), 200);
	store_checkpoint_stats(st, &passive, &restart);
	assert_int_equal(passive + restart, 0);  /* a new store has no thread */
}

/* Lazy writes (as the API's changes are) a fraction of a millisecond
 * apart, never pausing for the thread: commits land during every copy, yet
 * the WAL starts over well before the hard bound (16 thresholds), which no
 * checkpoint needs to wait for. The WAL file never shrinks, so its size is
 * the longest the WAL got. */
static void test_checkpoint_keeps_up_with_steady_writes(void **state)
{
	fixture_t *fx = *state;
	store_t *st = fx->st;
	zone_and_empty_wal(fx);
	assert_int_equal(store_checkpoint_start(st, 40), 0);
	for (int i = 0; i < 1500; i++) {
		commit_one_as(st, i, true);
		usleep(300);
	}
	assert_int_equal(store_sync(st), 0);
	uint64_t passive, restart;
	store_checkpoint_stats(st, &passive, &restart);
	assert_true(passive >= 10);
	assert_int_equal(restart, 0);
	char wal[sizeof(fx->path) + 8];
	snprintf(wal, sizeof(wal), "%s-wal", fx->path);
	struct stat sb;
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size < 8 * 40 * (4096 + 24));
}

typedef struct reader {
	sqlite3 *db;
	useconds_t hold;
} reader_t;

static void *end_read_later(void *arg)
{
	reader_t *r = arg;
	usleep(r->hold);
	sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
	return NULL;
}

/* A reader that keeps an old snapshot stops passive checkpoints from
 * copying anything; at 16 thresholds the thread runs a RESTART checkpoint,
 * which waits for that reader, and the WAL starts over. */
static void test_checkpoint_bounded_by_restart(void **state)
{
	fixture_t *fx = *state;
	store_t *st = fx->st;
	assert_int_equal(store_zone_insert(st, "example.com.", 1), 0);
	assert_int_equal(store_checkpoint_start(st, 8), 0);
	reader_t r = { .hold = 300000 };
	assert_int_equal(sqlite3_open(fx->path, &r.db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(r.db, "BEGIN; SELECT count(*) FROM zones", NULL, NULL,
	                              NULL), SQLITE_OK);
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, end_read_later, &r), 0);
	uint64_t passive = 0, restart = 0;
	for (int i = 0; i < 2000 && restart == 0; i++) {
		commit_one(st, i);
		store_checkpoint_stats(st, &passive, &restart);
	}
	assert_int_equal(pthread_join(thread, NULL), 0);
	sqlite3_close(r.db);
	for (int i = 0; i < 500 && restart == 0; i++) {
		usleep(10000);
		store_checkpoint_stats(st, &passive, &restart);
	}
	assert_true(restart >= 1);
	commit_one(st, 5000);  /* starts the WAL over */
	assert_true(wal_frames(fx->path) < 16 * 8);
}

typedef struct opener {
	char path[160];
	int rc;
} opener_t;

static void *open_close(void *arg)
{
	opener_t *o = arg;
	store_t *st;
	char err[256];
	o->rc = store_open(o->path, &st, err, sizeof(err));
	if (o->rc == 0) {
		store_close(st);
	}
	return NULL;
}

/* Processes starting at once on a new file migrate it exactly once. */
static void test_first_open_race(void **state)
{
	fixture_t *fx = *state;
	opener_t opener[4];
	pthread_t thread[4];
	for (int i = 0; i < 4; i++) {
		opener[i].rc = -1000;
		snprintf(opener[i].path, sizeof(opener[i].path), "%s/race.db", fx->dir);
		assert_int_equal(pthread_create(&thread[i], NULL, open_close, &opener[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(thread[i], NULL), 0);
		assert_int_equal(opener[i].rc, 0);
	}
	assert_int_equal(sql_int(opener[0].path, "SELECT count(*) FROM schema_migrations"), 6);
	char file[200];
	const char *suffix[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(file, sizeof(file), "%s%s", opener[0].path, suffix[i]);
		unlink(file);
	}
}

/* ---- audit, journal, tokens ---- */

typedef struct audit_list {
	int64_t id[8];
	int64_t time_us[8];
	char actor[8][16];
	bool request_id_null[8];
	int count;
} audit_list_t;

static int collect_audit(void *ctx, const store_audit_t *row)
{
	audit_list_t *l = ctx;
	assert_true(l->count < 8);
	l->id[l->count] = row->id;
	l->time_us[l->count] = row->time_us;
	snprintf(l->actor[l->count], sizeof(l->actor[0]), "%s", row->actor);
	l->request_id_null[l->count] = (row->request_id == NULL);
	l->count++;
	return 0;
}

static audit_list_t audit(store_t *st, store_audit_filter_t f)
{
	audit_list_t l = { .count = 0 };
	assert_int_equal(store_audit_list(st, &f, collect_audit, &l), 0);
	return l;
}

static void test_audit(void **state)
{
	store_t *st = ((fixture_t *)*state)->st;
	const store_audit_t rows[] = {
		{ .actor = "alice", .request_id = "r1", .zone = "a.example.", .action = "create",
		  .after = "{\"serial\":1}" },
		{ .actor = "bob", .request_id = "r2", .zone = "a.example.", .action = "patch",
		  .before = "{}", .after = "{}" },
		{ .actor = "alice", .zone = "b.example.", .action = "delete", .before = "{}" },
		{ .actor = "carol", .action = "token-create" },
	};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(store_audit_append(st, &rows[i]), 0);
		usleep(1000);
	}
	store_audit_t bad = { .actor = NULL, .action = "x" };
	assert_int_equal(store_audit_append(st, &bad), CIRRUS_EINVAL);

	audit_list_t all = audit(st, (store_audit_filter_t){ 0 });
	assert_int_equal(all.count, 4);
	assert_string_equal(all.actor[0], "carol");
	assert_string_equal(all.actor[3], "alice");
	for (int i = 1; i < 4; i++) {
		assert_true(all.time_us[i - 1] > all.time_us[i]);
		assert_true(all.id[i - 1] > all.id[i]);
	}
	assert_true(all.request_id_null[0]);
	assert_false(all.request_id_null[3]);

	audit_list_t l = audit(st, (store_audit_filter_t){ .zone = "a.example." });
	assert_int_equal(l.count, 2);
	assert_string_equal(l.actor[0], "bob");
	l = audit(st, (store_audit_filter_t){ .actor = "alice" });
	assert_int_equal(l.count, 2);
	assert_int_equal(l.id[0], all.id[1]);
	l = audit(st, (store_audit_filter_t){ .actor = "alice", .zone = "a.example." });
	assert_int_equal(l.count, 1);
	assert_int_equal(l.id[0], all.id[3]);
	/* since is inclusive, until exclusive */
	l = audit(st, (store_audit_filter_t){ .since_us = all.time_us[2] });
	assert_int_equal(l.count, 3);
	l = audit(st, (store_audit_filter_t){ .until_us = all.time_us[2] });
	assert_int_equal(l.count, 1);
	assert_int_equal(l.id[0], all.id[3]);
	l = audit(st, (store_audit_filter_t){ .since_us = all.time_us[2],
	                                      .until_us = all.time_us[0] });
	assert_int_equal(l.count, 2);
	l = audit(st, (store_audit_filter_t){ .limit = 1 });
	assert_int_equal(l.count, 1);
	assert_int_equal(l.id[0], all.id[0]);
	l = audit(st, (store_audit_filter_t){ .zone = "none." });
	assert_int_equal(l.count, 0);
	store_audit_filter_t neg = { .limit = -1 };
	assert_int_equal(store_audit_list(st, &neg, collect_audit, &l), CIRRUS_EINVAL);
}

static void test_journal(void **state)
{
	store_t *st = ((fixture_t *)*state)->st;
	assert_int_equal(store_zone_insert(st, "a.example.", 1), 0);
	assert_int_equal(store_zone_insert(st, "b.example.", 1), 0);
	assert_int_equal(store_journal_count(st, "a.example."), 0);
	assert_int_equal(store_journal_append(st, "a.example.", 1, 2, "", "www 60 A 10.0.0.1\n"),
	                 0);
	assert_int_equal(store_journal_append(st, "a.example.", 2, 3, "www 60 A 10.0.0.1\n",
	                                      NULL), 0);
	assert_int_equal(store_journal_count(st, "a.example."), 2);
	assert_int_equal(store_journal_count(st, "b.example."), 0);
	assert_int_equal(store_journal_count(st, "nope."), CIRRUS_ENOENT);
	assert_int_equal(store_journal_append(st, "nope.", 1, 2, "", ""), CIRRUS_ENOENT);
}

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static int collect_token(void *ctx, const store_token_t *tok)
{
	zone_list_t *l = ctx;
	strcpy(l->names[l->count++], tok->name);
	return 0;
}

static void test_tokens(void **state)
{
	store_t *st = ((fixture_t *)*state)->st;
	assert_int_equal(store_token_insert(st, "deploy", HASH_A, "zone:*.example.:write"), 0);
	assert_int_equal(store_token_insert(st, "admin", HASH_B, "admin"), 0);
	assert_int_equal(store_token_insert(st, "deploy", "cc", "admin"), CIRRUS_EEXIST);
	assert_int_equal(store_token_insert(st, "other", HASH_A, "admin"), CIRRUS_EEXIST);
	assert_int_equal(store_token_insert(st, "", "dd", "admin"), CIRRUS_EINVAL);
	assert_int_equal(store_token_insert(st, "x", HASH_A "0", "admin"), CIRRUS_EINVAL);

	store_token_t tok;
	assert_int_equal(store_token_find(st, HASH_A, &tok), 0);
	assert_string_equal(tok.name, "deploy");
	assert_string_equal(tok.hash, HASH_A);
	assert_string_equal(tok.scopes, "zone:*.example.:write");
	assert_true(tok.id > 0);
	assert_true(tok.created_us > 0);
	assert_int_equal(store_token_find(st, "ee", &tok), CIRRUS_ENOENT);

	zone_list_t l = { .count = 0 };
	assert_int_equal(store_token_list(st, collect_token, &l), 0);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.names[0], "admin");
	assert_string_equal(l.names[1], "deploy");

	assert_int_equal(store_token_delete(st, "deploy"), 0);
	assert_int_equal(store_token_delete(st, "deploy"), CIRRUS_ENOENT);
	assert_int_equal(store_token_find(st, HASH_A, &tok), CIRRUS_ENOENT);
}

/* ---- policies ---- */

typedef struct policy_seen {
	int count;
	char owners[4][1100];
	char specs[4][64];
} policy_seen_t;

static int collect_policy(void *ctx, const store_policy_t *p)
{
	policy_seen_t *seen = ctx;
	assert_true(seen->count < 4);
	assert_string_equal(p->zone, "example.com.");
	snprintf(seen->owners[seen->count], sizeof(seen->owners[0]), "%s %s", p->owner, p->type);
	snprintf(seen->specs[seen->count], 64, "%s", p->spec);
	seen->count++;
	return 0;
}

static policy_seen_t list_policies(store_t *st, const char *owner, const char *type)
{
	policy_seen_t seen = { 0 };
	assert_int_equal(store_policy_list(st, "example.com.", owner, type, collect_policy,
	                                   &seen), 0);
	return seen;
}

static void test_policies(void **state)
{
	fixture_t *fx = *state;
	store_t *st = fx->st;
	store_policy_t p = { .zone = "example.com.", .owner = "www.example.com.", .type = "A",
	                     .spec = "{\"rule\":\"weighted\"}" };
	assert_int_equal(store_policy_put(st, &p), CIRRUS_ENOENT);
	assert_int_equal(store_zone_insert(st, "example.com.", 1), 0);
	assert_int_equal(store_policy_put(st, &p), 0);
	p.type[0] = '\0';
	assert_int_equal(store_policy_put(st, &p), CIRRUS_EINVAL);
	strcpy(p.type, "AAAA");
	assert_int_equal(store_policy_put(st, &p), 0);
	strcpy(p.owner, "api.example.com.");
	strcpy(p.type, "A");
	assert_int_equal(store_policy_put(st, &p), 0);
	int64_t created = sql_int(fx->path, "SELECT created_us FROM policies WHERE owner ="
	                                    " 'api.example.com.'");
	p.spec = "{\"rule\":\"failover\"}";
	assert_int_equal(store_policy_put(st, &p), 0); /* a replacement */
	assert_int_equal(sql_int(fx->path, "SELECT created_us FROM policies WHERE owner ="
	                                   " 'api.example.com.'"), created);

	policy_seen_t seen = list_policies(st, NULL, NULL);
	assert_int_equal(seen.count, 3);
	assert_string_equal(seen.owners[0], "api.example.com. A");
	assert_string_equal(seen.specs[0], "{\"rule\":\"failover\"}");
	assert_string_equal(seen.owners[1], "www.example.com. A");
	assert_string_equal(seen.owners[2], "www.example.com. AAAA");
	seen = list_policies(st, "www.example.com.", "AAAA");
	assert_int_equal(seen.count, 1);
	assert_string_equal(seen.owners[0], "www.example.com. AAAA");
	assert_int_equal(list_policies(st, "www.example.com.", NULL).count, 2);

	assert_int_equal(store_policy_delete(st, "example.com.", "www.example.com.", "A"), 0);
	assert_int_equal(store_policy_delete(st, "example.com.", "www.example.com.", "A"),
	                 CIRRUS_ENOENT);
	assert_int_equal(store_policy_delete(st, "nope.", "www.nope.", "A"), CIRRUS_ENOENT);
	assert_int_equal(list_policies(st, NULL, NULL).count, 2);
	/* policies go with their zone */
	assert_int_equal(store_zone_remove(st, "example.com."), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM policies"), 0);
}

/* A store of schema version 2 gains the policies and latency tables and
 * keeps its data. */
static void test_migrate_policies(void **state)
{
	fixture_t *fx = *state;
	assert_int_equal(store_zone_insert(fx->st, "example.com.", 7), 0);
	store_close(fx->st);
	fx->st = NULL;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE policies; DROP TABLE latency_tables;"
	                              " DELETE FROM schema_migrations WHERE version >= 3",
	                              NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	store_t *st = reopen(fx);
	assert_int_equal(store_schema_version(st), 6);
	store_zone_t z;
	assert_int_equal(store_zone_get(st, "example.com.", &z), 0);
	assert_int_equal(z.serial, 7);
	store_policy_t p = { .zone = "example.com.", .owner = "example.com.", .type = "A",
	                     .spec = "{}" };
	assert_int_equal(store_policy_put(st, &p), 0);
	assert_int_equal(list_policies(st, NULL, NULL).count, 1);
}

/* Close the store, run sql on the file behind its back (to make an older
 * schema), and open it read-only: a store at version want. */
static store_t *rewrite_behind(fixture_t *fx, const char *sql, int want)
{
	store_close(fx->st);
	fx->st = NULL;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	char err[256] = "";
	store_t *ro = NULL;
	assert_int_equal(store_open_readonly(fx->path, &ro, err, sizeof(err)), 0);
	assert_int_equal(store_schema_version(ro), want);
	return ro;
}

/* Schema version 4 kept records in a rowid table with a unique index. A
 * read-only opener (function mode) reads such a file as it is, since
 * migration 5 changes only the layout; a writer moves every record into the
 * clustered table. A file that lacks more than layout is refused to readers
 * with what to do. */
static void test_migrate_records_clustered(void **state)
{
	fixture_t *fx = *state;
	assert_int_equal(store_zone_insert(fx->st, "example.com.", 3), 0);
	store_record_t a1 = rec("www.example.com.", KNOT_RRTYPE_A, 300, "\xc0\x00\x02\x01");
	store_record_t a2 = rec("www.example.com.", KNOT_RRTYPE_A, 300, "\xc0\x00\x02\x02");
	store_record_t txt = rec("example.com.", KNOT_RRTYPE_TXT, 60, "\x02hi");
	assert_int_equal(store_record_insert(fx->st, "example.com.", &a1), 0);
	assert_int_equal(store_record_insert(fx->st, "example.com.", &a2), 0);
	assert_int_equal(store_record_insert(fx->st, "example.com.", &txt), 0);
	char err[256] = "";
	store_t *ro = rewrite_behind(fx,
		"CREATE TABLE v4 (id INTEGER PRIMARY KEY,"
		" zone_id INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,"
		" owner BLOB NOT NULL, type INTEGER NOT NULL, ttl INTEGER NOT NULL,"
		" rdata BLOB NOT NULL, UNIQUE (zone_id, owner, type, rdata));"
		"INSERT INTO v4 (zone_id, owner, type, ttl, rdata)"
		" SELECT zone_id, owner, type, ttl, rdata FROM records;"
		"DROP TABLE records; ALTER TABLE v4 RENAME TO records;"
		"DELETE FROM schema_migrations WHERE version >= 5;", 4);
	rec_list_t l = { .count = 0 };
	assert_int_equal(store_zone_records(ro, "example.com.", collect_rec, &l), 0);
	assert_int_equal(l.count, 3);
	store_close(ro);

	/* A file that also lacks migration 4 (a new table) is not readable. */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM schema_migrations WHERE version = 4",
	                              NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open_readonly(fx->path, &ro, err, sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "schema version 3 is older"));
	assert_non_null(strstr(err, "cirrus serve"));
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (4, 0)",
	                              NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	store_t *st = reopen(fx);
	assert_int_equal(store_schema_version(st), 6);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM sqlite_schema WHERE name ="
	                                   " 'records' AND sql LIKE '%WITHOUT ROWID%'"), 1);
	l = (rec_list_t){ .count = 0 };
	assert_int_equal(store_zone_records(st, "example.com.", collect_rec, &l), 0);
	assert_int_equal(l.count, 3);
	assert_int_equal(count_recs(st, "www.example.com.", KNOT_RRTYPE_A, 300), 2);
	assert_int_equal(count_recs(st, "example.com.", KNOT_RRTYPE_TXT, 60), 1);
	/* The unique key holds as before: the same record twice is one row. */
	assert_int_equal(store_record_insert(st, "example.com.", &a1), 0);
	assert_int_equal(count_recs(st, "www.example.com.", KNOT_RRTYPE_A, 300), 2);
	assert_int_equal(store_zone_remove(st, "example.com."), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM records"), 0);
}

static int instance_cb(void *ctx, const store_instance_t *in)
{
	*(store_instance_t *)ctx = *in;
	return 0;
}

/* Schema version 5 kept service instances in a rowid table with a unique
 * index; migration 6 keys them WITHOUT ROWID (layout only: a read-only
 * opener reads the old file). Rows, the upsert and the expiry index hold. */
static void test_migrate_instances_by_key(void **state)
{
	fixture_t *fx = *state;
	static store_instance_t in = { .zone = "example.com.", .service = "web",
	                               .instance = "i1", .data = "{\"port\": 80}",
	                               .expires_us = 5000, .created_us = 100 };
	assert_int_equal(store_instance_put(fx->st, &in), 0);
	static store_instance_t other = { .zone = "example.net.", .service = "web",
	                                  .instance = "i1", .data = "{}", .expires_us = 7000 };
	assert_int_equal(store_instance_put(fx->st, &other), 0);
	store_t *ro = rewrite_behind(fx,
		"CREATE TABLE v5 (id INTEGER PRIMARY KEY, zone TEXT NOT NULL,"
		" service TEXT NOT NULL, instance TEXT NOT NULL, data TEXT NOT NULL,"
		" expires_us INTEGER NOT NULL, created_us INTEGER NOT NULL,"
		" updated_us INTEGER NOT NULL, UNIQUE (zone, service, instance));"
		"INSERT INTO v5 (zone, service, instance, data, expires_us, created_us, updated_us)"
		" SELECT zone, service, instance, data, expires_us, created_us, updated_us"
		" FROM service_instances;"
		"DROP TABLE service_instances; ALTER TABLE v5 RENAME TO service_instances;"
		"CREATE INDEX service_instances_expiry ON service_instances (expires_us);"
		"DELETE FROM schema_migrations WHERE version = 6;", 5);
	static store_instance_t got;
	memset(&got, 0, sizeof(got));
	assert_int_equal(store_instance_list(ro, "example.net.", NULL, instance_cb, &got), 0);
	assert_int_equal(got.expires_us, 7000);
	store_close(ro);

	store_t *st = reopen(fx);
	assert_int_equal(store_schema_version(st), 6);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM sqlite_schema WHERE name ="
	                                   " 'service_instances' AND sql LIKE '%WITHOUT ROWID%'"),
	                 1);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM service_instances"), 2);
	memset(&got, 0, sizeof(got));
	assert_int_equal(store_instance_list(st, "example.com.", "web", instance_cb, &got), 0);
	assert_string_equal(got.instance, "i1");
	assert_string_equal(got.data, "{\"port\": 80}");
	assert_int_equal(got.expires_us, 5000);
	int64_t created = got.created_us;
	/* the upsert on the key: still one row, created_us kept */
	in.expires_us = 9000;
	assert_int_equal(store_instance_put(st, &in), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM service_instances"), 2);
	assert_int_equal(store_instance_list(st, "example.com.", "web", instance_cb, &got), 0);
	assert_int_equal(got.expires_us, 9000);
	assert_int_equal(got.created_us, created);
	memset(&got, 0, sizeof(got));
	assert_int_equal(store_instance_expired(st, 10000, instance_cb, &got), 0);
	assert_string_equal(got.instance, "i1");
	assert_int_equal(store_instance_delete(st, "example.com.", "web", "i1"), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM service_instances"), 1);
}

static void test_latency_tables(void **state)
{
	fixture_t *fx = *state;
	char *data = NULL;
	assert_int_equal(store_latency_get(fx->st, "eu", &data), CIRRUS_ENOENT);
	assert_null(data);
	assert_int_equal(store_latency_put(fx->st, "eu", ""), CIRRUS_EINVAL);
	assert_int_equal(store_latency_put(fx->st, "eu", "10.0.0.0/8 eu-west 12\n"), 0);
	int64_t created = sql_int(fx->path, "SELECT created_us FROM latency_tables");
	assert_int_equal(store_latency_put(fx->st, "eu", "10.0.0.0/8 eu-west 30\n"), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM latency_tables"), 1);
	assert_int_equal(sql_int(fx->path, "SELECT created_us FROM latency_tables"), created);
	assert_int_equal(store_latency_get(reopen(fx), "eu", &data), 0);
	assert_string_equal(data, "10.0.0.0/8 eu-west 30\n");
	free(data);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_migrate_reopen),
		T(test_newer_schema),
		T(test_open_errors),
		T(test_memory),
		T(test_zones),
		T(test_data_version_and_lazy_commit),
		T(test_records),
		T(test_records_callback_stops),
		T(test_zone_remove_cascades),
		T(test_transactions),
		T(test_second_connection_reads),
		T(test_writers_queue),
		T(test_writer_gives_up),
		T(test_commit_survives_kill),
		T(test_checkpoint_thread),
		T(test_checkpoint_bounded_by_restart),
		T(test_checkpoint_keeps_up_with_steady_writes),
		T(test_first_open_race),
		T(test_audit),
		T(test_journal),
		T(test_tokens),
		T(test_policies),
		T(test_migrate_policies),
		T(test_migrate_records_clustered),
		T(test_migrate_instances_by_key),
		T(test_latency_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
