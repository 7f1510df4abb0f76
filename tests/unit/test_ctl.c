/* SPDX-License-Identifier: Apache-2.0
 * test_ctl.c -- the control plane over a real SQLite store: create, patch
 * atomically, reject bad changes without side effects, survive a restart,
 * changes from several threads at once, export a zone
 * that loads again, delete.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/ctl.h"
#include "helpers.h"
#include "util/error.h"

typedef struct fixture {
	char path[64];
	store_t *st;
	ctl_t *ctl;
	zone_set_t *served;   /* what the data plane would serve now */
	int publishes;
} fixture_t;

static void publish(void *ctx, zone_set_t *set)
{
	fixture_t *f = ctx;
	zone_set_free(f->served); /* no readers in a unit test: no grace period */
	f->served = set;
	f->publishes++;
}

static void start(fixture_t *f)
{
	char err[256];
	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)), 0);
	assert_int_equal(ctl_new(f->st, CTL_SERIAL_INCREMENT, publish, f, &f->ctl, err,
	                         sizeof(err)), 0);
}

static void stop(fixture_t *f)
{
	ctl_free(f->ctl);
	zone_set_free(f->served);
	f->served = NULL;
	store_close(f->st);
}

static int setup(void **state)
{
	static fixture_t f;
	memset(&f, 0, sizeof(f));
	snprintf(f.path, sizeof(f.path), "/tmp/cirrus-ctl-%d.db", getpid());
	unlink(f.path);
	start(&f);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	stop(f);
	char side[80];
	unlink(f->path);
	snprintf(side, sizeof(side), "%s-wal", f->path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", f->path);
	unlink(side);
	return 0;
}

static const zone_t *served_zone(const fixture_t *f, const char *name)
{
	knot_dname_storage_t wire;
	knot_dname_from_str(wire, name, sizeof(wire));
	return zone_set_get(f->served, wire);
}

static const zone_rrset_t *served_rrset(const fixture_t *f, const char *zone,
                                        const char *owner, uint16_t type)
{
	knot_dname_storage_t wire;
	knot_dname_from_str(wire, owner, sizeof(wire));
	const zone_node_t *n = zone_find(served_zone(f, zone), wire);
	return n ? zone_node_rrset(n, type) : NULL;
}

static uint32_t serial(const fixture_t *f, const char *zone)
{
	return knot_soa_serial(served_zone(f, zone)->soa->rrs.rdata);
}

static const ctl_actor_t who = { .actor = "unit", .request_id = "req-1" };

static void test_create_patch_restart(void **state)
{
	fixture_t *f = *state;
	ctl_error_t err = { 0 };
	const char *ns[] = { "ns1.example.net." };
	ctl_zone_defaults_t d = { .nameservers = ns, .nameserver_count = 1 };
	assert_int_equal(ctl_zone_create(f->ctl, "Example.COM", &d, &who, &err), 0);
	assert_int_equal(ctl_zone_create(f->ctl, "example.com.", &d, &who, &err), CIRRUS_EEXIST);
	assert_int_equal(err.status, 409);
	assert_non_null(served_zone(f, "example.com."));
	assert_int_equal(serial(f, "example.com."), 1);

	const char *www[] = { "192.0.2.1", "192.0.2.2" };
	ctl_change_t set_www[] = {
		{ .op = CTL_CHANGE_REPLACE, .name = "www", .type = "A", .ttl = 60,
		  .records = www, .record_count = 2 },
	};
	assert_int_equal(ctl_rrsets_patch(f->ctl, "example.com", set_www, 1, &who, &err), 0);
	assert_int_equal(served_rrset(f, "example.com.", "www.example.com.", KNOT_RRTYPE_A)->rrs.count, 2);
	assert_int_equal(serial(f, "example.com."), 2);

	/* restart: the store alone brings it all back */
	stop(f);
	start(f);
	assert_int_equal(served_rrset(f, "example.com.", "www.example.com.", KNOT_RRTYPE_A)->ttl, 60);
	assert_int_equal(serial(f, "example.com."), 2);
	store_t *st = ctl_store_lock(f->ctl);
	assert_int_equal(store_journal_count(st, "example.com."), 1);
	ctl_store_unlock(f->ctl);
}

static void test_rejected_patch_changes_nothing(void **state)
{
	fixture_t *f = *state;
	ctl_error_t err = { 0 };
	uint32_t before = serial(f, "example.com.");
	int publishes = f->publishes;
	const char *good[] = { "192.0.2.9" };
	const char *bad[] = { "not-an-address" };
	ctl_change_t changes[] = {
		{ .op = CTL_CHANGE_REPLACE, .name = "ok", .type = "A", .ttl = 60,
		  .records = good, .record_count = 1 },
		{ .op = CTL_CHANGE_REPLACE, .name = "bad", .type = "A", .ttl = 60,
		  .records = bad, .record_count = 1 },
	};
	assert_int_equal(ctl_rrsets_patch(f->ctl, "example.com.", changes, 2, &who, &err),
	                 CIRRUS_EINVAL);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.field, "rrsets[1].records[0]");
	assert_null(served_rrset(f, "example.com.", "ok.example.com.", KNOT_RRTYPE_A));
	assert_int_equal(serial(f, "example.com."), before);
	assert_int_equal(f->publishes, publishes);

	const char *target[] = { "www.example.com." };
	ctl_change_t conflict[] = {
		{ .op = CTL_CHANGE_REPLACE, .name = "www.example.com.", .type = "CNAME",
		  .ttl = 60, .records = target, .record_count = 1 },
	};
	assert_int_equal(ctl_rrsets_patch(f->ctl, "example.com.", conflict, 1, &who, &err),
	                 CIRRUS_ESEMANTIC);
	assert_int_equal(err.status, 422);
	ctl_change_t outside[] = {
		{ .op = CTL_CHANGE_REPLACE, .name = "www.example.org.", .type = "A", .ttl = 60,
		  .records = good, .record_count = 1 },
	};
	assert_int_equal(ctl_rrsets_patch(f->ctl, "example.com.", outside, 1, &who, &err),
	                 CIRRUS_EINVAL);
	assert_int_equal(ctl_rrsets_patch(f->ctl, "nope.test.", outside, 1, &who, &err),
	                 CIRRUS_ENOENT);
	assert_int_equal(serial(f, "example.com."), before);
}

static int hook_calls;

static int hook_ok(void *ctx, store_t *st)
{
	(void)st;
	hook_calls++;
	return *(int *)ctx;
}

static int newest_audit(void *ctx, const store_audit_t *row)
{
	char *out = ctx;
	if (out[0] == '\0') {
		snprintf(out, 1024, "%s|%s", row->before, row->after);
	}
	return 0;
}

/* RECORDS: only the records named change, the audit row holds just them,
 * the store follows (a restart serves the same); the caller's store hook
 * runs in the transaction, and its failure rolls everything back. */
static void test_records_change(void **state)
{
	fixture_t *f = *state;
	ctl_error_t err = { 0 };
	const char *gone[] = { "192.0.2.1", "192.0.2.77" };   /* the second is absent */
	const char *came[] = { "192.0.2.3", "192.0.2.2" };    /* the second is there */
	ctl_change_t c = { .op = CTL_CHANGE_RECORDS, .name = "www", .type = "A", .ttl = 60,
	                   .records = came, .record_count = 2, .removed = gone,
	                   .removed_count = 2 };
	int fail = CIRRUS_EIO, ok = 0;
	uint32_t before = serial(f, "example.com.");
	assert_int_equal(ctl_rrsets_patch_with(f->ctl, "example.com.", &c, 1, hook_ok, &fail,
	                                       &who, &err), CIRRUS_EIO);
	assert_int_equal(serial(f, "example.com."), before);
	assert_int_equal(served_rrset(f, "example.com.", "www.example.com.", KNOT_RRTYPE_A)->rrs.count, 2);
	hook_calls = 0;
	assert_int_equal(ctl_rrsets_patch_with(f->ctl, "example.com.", &c, 1, hook_ok, &ok,
	                                       &who, &err), 0);
	assert_int_equal(hook_calls, 1);
	char audit[1024] = "";
	store_audit_filter_t filter = { .zone = "example.com.", .limit = 1 };
	store_t *st = ctl_store_lock(f->ctl);
	assert_int_equal(store_audit_list(st, &filter, newest_audit, audit), 0);
	ctl_store_unlock(f->ctl);
	assert_string_equal(audit, "[{\"name\":\"www.example.com.\",\"type\":\"A\",\"ttl\":60,"
	                    "\"records\":[\"192.0.2.1\"]}]|[{\"name\":\"www.example.com.\","
	                    "\"type\":\"A\",\"ttl\":60,\"records\":[\"192.0.2.3\"]}]");
	stop(f);
	start(f);
	const zone_rrset_t *rs = served_rrset(f, "example.com.", "www.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(rs->rrs.count, 2);
	assert_int_equal(knot_rdataset_at(&rs->rrs, 0)->data[3], 2);
	assert_int_equal(knot_rdataset_at(&rs->rrs, 1)->data[3], 3);
	/* another TTL: the RRset is rewritten whole, in the store too */
	c.ttl = 30;
	c.removed_count = 0;
	c.record_count = 1;
	assert_int_equal(ctl_rrsets_patch(f->ctl, "example.com.", &c, 1, &who, &err), 0);
	stop(f);
	start(f);
	rs = served_rrset(f, "example.com.", "www.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(rs->rrs.count, 2);
	assert_int_equal(rs->ttl, 30);
}

static ctl_change_t replace_a(const char *name, const char *const *addr)
{
	return (ctl_change_t){ .op = CTL_CHANGE_REPLACE, .name = name, .type = "A", .ttl = 60,
	                       .records = addr, .record_count = 1 };
}

#define WRITERS 4
#define WRITES 25

typedef struct writer {
	fixture_t *f;
	int n;
	int failed;
} writer_t;

static void *write_names(void *arg)
{
	writer_t *w = arg;
	for (int i = 0; i < WRITES; i++) {
		char name[32], addr[32];
		snprintf(name, sizeof(name), "w%d-%d", w->n, i);
		snprintf(addr, sizeof(addr), "198.51.100.%d", w->n * WRITES + i);
		const char *records[] = { addr };
		ctl_change_t c = replace_a(name, records);
		ctl_error_t err = { 0 };
		w->failed += ctl_rrsets_patch(w->f->ctl, "example.com.", &c, 1, &who, &err) != 0;
	}
	return NULL;
}

/* Changes from several threads at once: every one acknowledged is served,
 * once each, and is there after a restart. */
static void test_concurrent_patches(void **state)
{
	fixture_t *f = *state;
	uint32_t before = serial(f, "example.com.");
	pthread_t threads[WRITERS];
	writer_t w[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (writer_t){ .f = f, .n = i };
		assert_int_equal(pthread_create(&threads[i], NULL, write_names, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(w[i].failed, 0);
	}
	assert_int_equal(serial(f, "example.com."), before + WRITERS * WRITES);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < WRITERS * WRITES; i++) {
			char owner[64];
			snprintf(owner, sizeof(owner), "w%d-%d.example.com.", i / WRITES, i % WRITES);
			assert_non_null(served_rrset(f, "example.com.", owner, KNOT_RRTYPE_A));
		}
		stop(f);
		start(f);
	}
}

static void test_export_loads_and_delete(void **state)
{
	fixture_t *f = *state;
	char *text = NULL;
	assert_int_equal(ctl_zone_export(f->ctl, "example.com.", &text), 0);
	assert_int_equal(strncmp(text, "example.com.", 12), 0); /* SOA first */
	zone_t *again = must_load("example.com.", text);
	assert_int_equal(again->record_count, served_zone(f, "example.com.")->record_count);
	zone_free(again);
	free(text);

	ctl_error_t err = { 0 };
	const ctl_change_t del[] = { { .op = CTL_CHANGE_DELETE, .name = "www", .type = "A" } };
	assert_int_equal(ctl_rrsets_patch(f->ctl, "example.com.", del, 1, &who, &err), 0);
	assert_null(served_rrset(f, "example.com.", "www.example.com.", KNOT_RRTYPE_A));
	assert_int_equal(ctl_zone_delete(f->ctl, "example.com", &who, &err), 0);
	assert_null(served_zone(f, "example.com."));
	assert_int_equal(ctl_zone_delete(f->ctl, "example.com", &who, &err), CIRRUS_ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_patch_restart),
		cmocka_unit_test(test_rejected_patch_changes_nothing),
		cmocka_unit_test(test_records_change),
		cmocka_unit_test(test_concurrent_patches),
		cmocka_unit_test(test_export_loads_and_delete),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
