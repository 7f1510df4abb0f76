/* SPDX-License-Identifier: Apache-2.0
 * test_store_sync.c -- which commits wait for the disk. A VFS registered
 * as the default wraps SQLite's own and counts the fsyncs of the WAL:
 * a durable commit makes one, a lazy one (store_begin_lazy) none until
 * store_sync(), and a lazy transaction does not leave the store lazy. A
 * change through ctl is served before its sync and synced before the call
 * returns; one through the service registry is left to its caller to sync,
 * and the API answers a change only after its fsync (api_sync.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "api/api.h"
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
static _Atomic bool fail_wal_syncs;   /* the disk refuses: xSync fails */
static _Atomic int slow_wal_syncs_ms;   /* a slow disk: xSync sleeps first */

static int count_wal_sync(sqlite3_file *f, int flags)
{
	wal_syncs++;
	usleep((useconds_t)slow_wal_syncs_ms * 1000);
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
	slow_wal_syncs_ms = 0;
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

/* A registration and a deregistration are served and committed; the
 * caller (the API, off the request's thread) waits for the disk. */
static void test_registration_synced_by_its_caller(void **state)
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
	assert_int_equal(wal_syncs, before);
	assert_true(ctl_sync_pending(ctl));
	assert_int_equal(ctl_sync(ctl, 0, &cerr), 0);
	assert_int_equal(wal_syncs, before + 1);
	assert_false(ctl_sync_pending(ctl));
	before = wal_syncs;
	syncs_at_publish = -1;
	assert_int_equal(registry_deregister(r, "example.com.", "web", "a1", &who, &cerr), 0);
	assert_int_equal(syncs_at_publish, before);
	assert_true(ctl_sync_pending(ctl));
	assert_int_equal(ctl_sync(ctl, 0, &cerr), 0);
	assert_int_equal(wal_syncs, before + 1);
	json_decref(body);
	registry_free(r);
	ctl_free(ctl);
}

/* A port on 127.0.0.1 that was free a moment ago. */
static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* One request on a fresh connection (body NULL: none); the reply's status. */
static int http(uint16_t port, const char *secret, const char *method, const char *path,
                const char *body)
{
	char req[1024], reply[4096];
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	         "Authorization: Bearer %s\r\nConnection: close\r\n%sContent-Length: %zu"
	         "\r\n\r\n%s", method, path, secret,
	         body ? "Content-Type: application/json\r\n" : "", body ? strlen(body) : 0,
	         body ? body : "");
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	ssize_t n = read(fd, reply, sizeof(reply) - 1);  /* the status line comes first */
	close(fd);
	assert_true(n > 12);
	reply[n] = '\0';
	return atoi(reply + 9);  /* "HTTP/1.1 204" */
}

/* PATCH www's A record to addr. */
static int patch_www(uint16_t port, const char *secret, const char *addr)
{
	char body[256];
	snprintf(body, sizeof(body), "{\"rrsets\":[{\"name\":\"www\",\"type\":\"A\",\"ttl\":60,"
	         "\"changetype\":\"REPLACE\",\"records\":[\"%s\"]}]}", addr);
	return http(port, secret, "PATCH", "/api/v1/zones/example.com./rrsets", body);
}

/* The API over the fixture's store, with a token for it. */
typedef struct api_fixture {
	ctl_t *ctl;
	api_t *api;
	uint16_t port;
	char secret[API_TOKEN_SECRET_SIZE];
} api_fixture_t;

static void api_up(fixture_t *fx, unsigned threads, api_fixture_t *a)
{
	char hash[API_TOKEN_HASH_SIZE], err[256];
	a->ctl = ctl_with_zone(fx->st);
	assert_int_equal(api_token_generate(a->secret, hash), 0);
	assert_int_equal(store_token_insert(fx->st, "t", hash, "admin"), 0);
	a->port = free_port();
	api_conf_t conf = { .listen = "127.0.0.1", .port = a->port, .max_body = 65536,
	                    .threads = threads };
	assert_int_equal(api_start(&conf, a->ctl, &a->api, err, sizeof(err)), 0);
}

static void api_down(api_fixture_t *a)
{
	api_stop(a->api);
	ctl_free(a->ctl);
}

/* The API answers a change once the disk has it, and 500 when the disk
 * fails (the change is served: it is in the WAL). */
static void test_api_answers_after_the_disk(void **state)
{
	api_fixture_t a;
	api_up(*state, 0, &a);
	int before = wal_syncs;
	syncs_at_publish = -1;
	assert_int_equal(patch_www(a.port, a.secret, "192.0.2.2"), 204);
	assert_int_equal(syncs_at_publish, before);  /* served before the fsync, */
	assert_int_equal(wal_syncs, before + 1);     /* answered after it */
	fail_wal_syncs = true;
	syncs_at_publish = -1;
	assert_int_equal(patch_www(a.port, a.secret, "192.0.2.3"), 500);
	assert_int_not_equal(syncs_at_publish, -1);
	api_down(&a);
}

typedef struct patcher {
	api_fixture_t *a;
	int status;
} patcher_t;

static void *patch_in_thread(void *arg)
{
	patcher_t *p = arg;
	p->status = patch_www(p->a->port, p->a->secret, "192.0.2.4");
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With one request thread: while a change waits a second for a slow disk,
 * another connection is answered at once. (When the handler waited for
 * the fsync itself, every connection of its thread waited with it.) */
static void test_api_thread_free_while_the_disk_works(void **state)
{
	api_fixture_t a;
	api_up(*state, 1, &a);
	slow_wal_syncs_ms = 1000;
	patcher_t p = { .a = &a };
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, patch_in_thread, &p), 0);
	usleep(100000);  /* the change is served and its fsync under way */
	int64_t t0 = now_ms();
	assert_int_equal(http(a.port, a.secret, "GET", "/api/v1/zones", NULL), 200);
	int64_t waited = now_ms() - t0;
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(p.status, 204);
	assert_true(waited < 600);
	api_down(&a);
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
		T(test_registration_synced_by_its_caller),
		T(test_api_answers_after_the_disk),
		T(test_api_thread_free_while_the_disk_works),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
