/* SPDX-License-Identifier: Apache-2.0
 * test_store_sync.c -- which commits wait for the disk. A VFS registered
 * as the default wraps SQLite's own and counts the fsyncs of the WAL:
 * a durable commit makes one, a lazy one (store_begin_lazy) none until
 * store_sync(), and a lazy transaction does not leave the store lazy. A
 * change through ctl or the service registry is served before its sync
 * and synced before the call returns (what the API and UPDATE then
 * acknowledge).
 */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "ctl/ctl.h"
#include "registry/registry.h"
#include "store/store.h"
#include "store_fixture.h"
#include "util/error.h"

/* The wrapper: the WAL's file is SQLite's own object with its own
 * methods, except xSync, which counts first. */
static sqlite3_vfs *real_vfs;
static sqlite3_vfs counting_vfs;
static sqlite3_io_methods wal_methods;
static const sqlite3_io_methods *real_wal_methods;
static _Atomic int wal_syncs;
static bool fail_wal_syncs;   /* the disk refuses: xSync fails */

static int count_wal_sync(sqlite3_file *f, int flags)
{
	wal_syncs++;
	return fail_wal_syncs ? SQLITE_IOERR_FSYNC : real_wal_methods->xSync(f, flags);
}

static int counting_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
                         int *out_flags)
{
	(void)vfs;
	int rc = real_vfs->xOpen(real_vfs, name, f, flags, out_flags);
	if (rc != SQLITE_OK || f->pMethods == NULL || !(flags & SQLITE_OPEN_WAL)) {
		return rc;
	}
	if (real_wal_methods == NULL) {
		real_wal_methods = f->pMethods;
		wal_methods = *real_wal_methods;
		wal_methods.xSync = count_wal_sync;
	}
	assert_ptr_equal(f->pMethods, real_wal_methods);  /* every WAL alike */
	f->pMethods = &wal_methods;
	return rc;
}

/* The counting VFS is SQLite's default before the store opens. */
static int setup(void **state)
{
	if (real_vfs == NULL) {
		real_vfs = sqlite3_vfs_find(NULL);
		counting_vfs = *real_vfs;
		counting_vfs.zName = "counting";
		counting_vfs.xOpen = counting_open;
		assert_int_equal(sqlite3_vfs_register(&counting_vfs, 1), SQLITE_OK);
	}
	return store_fixture_setup(state);
}

static int teardown(void **state)
{
	fail_wal_syncs = false;
	return store_fixture_teardown(state);
}

static void insert_zone(store_t *st, bool lazy, const char *name)
{
	assert_int_equal(lazy ? store_begin_lazy(st) : store_begin(st), 0);
	assert_int_equal(store_zone_insert(st, name, 1), 0);
	assert_int_equal(store_commit(st), 0);
}

static void test_durable_commit_syncs_the_wal(void **state)
{
	fixture_t *fx = *state;
	int before = wal_syncs;
	insert_zone(fx->st, false, "a.example.");
	assert_int_equal(wal_syncs, before + 1);
}

/* Committed lazily: another connection reads it before any fsync; then
 * store_sync() makes the one the durable commit would have made. */
static void test_lazy_commit_is_seen_before_its_sync(void **state)
{
	fixture_t *fx = *state;
	store_t *other;
	char err[256];
	store_zone_t z;
	assert_int_equal(store_open(fx->path, &other, err, sizeof(err)), 0);
	int before = wal_syncs;
	insert_zone(fx->st, true, "lazy.example.");
	assert_int_equal(wal_syncs, before);
	assert_int_equal(store_zone_get(other, "lazy.example.", &z), 0);
	assert_int_equal(store_sync(fx->st), 0);
	assert_int_equal(wal_syncs, before + 1);
	store_close(other);
}

/* store_sync() makes an fsync only for lazy commits no fsync has covered
 * yet: none after durable commits alone, one for several lazy ones. */
static void test_sync_only_what_waits(void **state)
{
	fixture_t *fx = *state;
	insert_zone(fx->st, false, "durable.example.");
	int before = wal_syncs;
	assert_int_equal(store_sync(fx->st), 0);
	assert_int_equal(wal_syncs, before);
	insert_zone(fx->st, true, "one.example.");
	insert_zone(fx->st, true, "two.example.");
	assert_int_equal(store_sync(fx->st), 0);
	assert_int_equal(store_sync(fx->st), 0);
	assert_int_equal(wal_syncs, before + 1);
}

/* A failed fsync fails every later store_sync(), even once the disk works
 * again, and no transaction starts: a later commit's frames would sit
 * behind the lost ones in the WAL. */
static void test_failed_sync_sticks(void **state)
{
	fixture_t *fx = *state;
	insert_zone(fx->st, true, "lazy.example.");
	fail_wal_syncs = true;
	assert_int_equal(store_sync(fx->st), CIRRUS_EIO);
	fail_wal_syncs = false;
	assert_int_equal(store_sync(fx->st), CIRRUS_EIO);
	assert_int_equal(store_begin(fx->st), CIRRUS_EIO);
	assert_int_equal(store_begin_lazy(fx->st), CIRRUS_EIO);
}

/* The laziness ends with its transaction, committed or rolled back. */
static void test_lazy_ends_with_its_transaction(void **state)
{
	fixture_t *fx = *state;
	insert_zone(fx->st, true, "one.example.");
	int before = wal_syncs;
	insert_zone(fx->st, false, "two.example.");
	assert_int_equal(wal_syncs, before + 1);

	assert_int_equal(store_begin_lazy(fx->st), 0);
	assert_int_equal(store_begin_lazy(fx->st), CIRRUS_EINVAL);  /* one at a time */
	assert_int_equal(store_begin(fx->st), CIRRUS_EINVAL);
	assert_int_equal(store_zone_insert(fx->st, "gone.example.", 1), 0);
	store_rollback(fx->st);
	before = wal_syncs;
	insert_zone(fx->st, false, "three.example.");
	assert_int_equal(wal_syncs, before + 1);
	store_zone_t z;
	assert_int_equal(store_zone_get(fx->st, "gone.example.", &z), CIRRUS_ENOENT);
}

/* A write outside any transaction after a lazy one is durable too. */
static void test_autocommit_after_lazy_is_durable(void **state)
{
	fixture_t *fx = *state;
	insert_zone(fx->st, true, "lazy.example.");
	int before = wal_syncs;
	assert_int_equal(store_token_insert(fx->st, "t", "00", "admin"), 0);
	assert_int_equal(wal_syncs, before + 1);
}

/* ctl's publish callback: what had been synced when the change was served. */
static int syncs_at_publish;

static void publish(void *ctx, zone_set_t *set)
{
	(void)ctx;
	syncs_at_publish = wal_syncs;
	zone_set_free(set);  /* no readers here */
}

static const ctl_actor_t who = { .actor = "unit", .request_id = "req-1" };

static ctl_t *ctl_with_zone(store_t *st)
{
	ctl_t *ctl;
	char err[256];
	ctl_error_t cerr = { 0 };
	const char *ns[] = { "ns1.example.net." };
	ctl_zone_defaults_t d = { .nameservers = ns, .nameserver_count = 1 };
	assert_int_equal(ctl_new(st, CTL_SERIAL_INCREMENT, publish, NULL, &ctl, err, sizeof(err)), 0);
	assert_int_equal(ctl_zone_create(ctl, "example.com.", &d, &who, &cerr), 0);
	return ctl;
}

/* The change both ctl tests make: www A 192.0.2.1. */
static const char *const www[] = { "192.0.2.1" };
static const ctl_change_t set_www = { .op = CTL_CHANGE_REPLACE, .name = "www", .type = "A",
                                      .ttl = 60, .records = www, .record_count = 1 };

static void test_change_served_before_its_sync(void **state)
{
	fixture_t *fx = *state;
	ctl_t *ctl = ctl_with_zone(fx->st);
	ctl_error_t cerr = { 0 };
	int before = wal_syncs;
	syncs_at_publish = -1;
	assert_int_equal(ctl_rrsets_patch(ctl, "example.com.", &set_www, 1, &who, &cerr), 0);
	assert_int_equal(syncs_at_publish, before);
	assert_int_equal(wal_syncs, before + 1);
	ctl_free(ctl);
}

/* The disk refuses the fsync: the change is served (it is in the WAL,
 * and survives a crash of the process), but not acknowledged: 500. */
static void test_change_not_acknowledged_when_the_disk_fails(void **state)
{
	fixture_t *fx = *state;
	ctl_t *ctl = ctl_with_zone(fx->st);
	ctl_error_t cerr = { 0 };
	fail_wal_syncs = true;
	syncs_at_publish = -1;
	assert_int_equal(ctl_rrsets_patch(ctl, "example.com.", &set_www, 1, &who, &cerr),
	                 CIRRUS_EIO);
	assert_int_equal(cerr.status, 500);
	assert_int_not_equal(syncs_at_publish, -1);  /* served */
	ctl_free(ctl);
}

/* The registry syncs after its own lock is released, still before it
 * returns: a registration and a deregistration. */
static void test_registration_served_before_its_sync(void **state)
{
	fixture_t *fx = *state;
	ctl_t *ctl = ctl_with_zone(fx->st);
	registry_t *r;
	registry_conf_t conf = { .sweep_ms = 600000 };  /* no sweep (and its syncs) meanwhile */
	assert_int_equal(registry_new(ctl, &conf, &r), 0);
	json_t *body = json_pack("{s:[s], s:i, s:i}", "addresses", "192.0.2.7", "port", 80,
	                         "ttl_lease", 60);
	assert_non_null(body);
	ctl_error_t cerr = { 0 };
	int before = wal_syncs;
	syncs_at_publish = -1;
	assert_int_equal(registry_register(r, "example.com.", "web", "a1", body, &who, NULL,
	                                   &cerr), 0);
	assert_int_equal(syncs_at_publish, before);
	assert_int_equal(wal_syncs, before + 1);
	before = wal_syncs;
	syncs_at_publish = -1;
	assert_int_equal(registry_deregister(r, "example.com.", "web", "a1", &who, &cerr), 0);
	assert_int_equal(syncs_at_publish, before);
	assert_int_equal(wal_syncs, before + 1);
	json_decref(body);
	registry_free(r);
	ctl_free(ctl);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_durable_commit_syncs_the_wal),
		T(test_lazy_commit_is_seen_before_its_sync),
		T(test_sync_only_what_waits),
		T(test_failed_sync_sticks),
		T(test_lazy_ends_with_its_transaction),
		T(test_autocommit_after_lazy_is_durable),
		T(test_change_served_before_its_sync),
		T(test_change_not_acknowledged_when_the_disk_fails),
		T(test_registration_served_before_its_sync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
