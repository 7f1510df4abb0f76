/* SPDX-License-Identifier: Apache-2.0
 * test_registry.c -- the service registry's pure parts and its storage:
 * service scopes (api/api_scope.c), a registration's JSON to an instance,
 * instances to RRsets (registry_records.c: the DNS names of
 * docs/services.md), the ctl changes between two sets, the engine's view
 * (registry_view.c: names, N of M records in random order), instance
 * health checks (registry_check.c), and the instances table with the
 * migration that adds it (store_service.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "api/api.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/error.h"

/* ---- scopes ---- */

static const char *norm(const char *scope)
{
	static char out[API_SCOPES_SIZE];
	char err[256];
	return api_scope_normalize(scope, out, sizeof(out), err, sizeof(err)) == 0 ? out : NULL;
}

static void test_service_scope_normalize(void **state)
{
	(void)state;
	assert_string_equal(norm("service:example.com/web:write"), "service:example.com/web:write");
	assert_string_equal(norm("SERVICE:Example.COM./Web:WRITE"),
	                    "service:example.com/web:write");
	assert_string_equal(norm("service:*.example.com/api-2:write"),
	                    "service:*.example.com/api-2:write");
	static const char *bad[] = {
		"service:example.com/web:read", "service:example.com/web", "service:example.com:write",
		"service:/web:write", "service:example.com/:write", "service:example.com/-w:write",
		"service:example.com/w_b:write", "service:exa mple.com/web:write",
		"service:example.com/a/b:write",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[API_SCOPES_SIZE], err[256] = "";
		assert_int_equal(api_scope_normalize(bad[i], out, sizeof(out), err, sizeof(err)),
		                 CIRRUS_EINVAL);
		assert_non_null(strstr(err, "service:ZONE/NAME:write"));
	}
}

static void test_service_scope_allow(void **state)
{
	(void)state;
	const char *s = "service:example.com/web:write";
	assert_true(api_scopes_allow_service(s, "example.com.", "web"));
	assert_true(api_scopes_allow_service(s, "Example.Com", "WEB"));
	assert_false(api_scopes_allow_service(s, "example.com.", "api"));
	assert_false(api_scopes_allow_service(s, "example.org.", "web"));
	assert_false(api_scopes_allow_service(s, "sub.example.com.", "web"));
	/* a service scope reaches no zone data */
	assert_false(api_scopes_allow(s, "example.com.", API_ACCESS_READ));
	assert_false(api_scopes_allow(s, "example.com.", API_ACCESS_WRITE));
	assert_true(api_scopes_allow_service("service:*.example.com/web:write",
	                                     "a.example.com.", "web"));
	assert_true(api_scopes_allow_service("zone:example.com:write", "example.com.", "any"));
	assert_false(api_scopes_allow_service("zone:example.com:read", "example.com.", "any"));
	assert_true(api_scopes_allow_service("admin", "example.com.", "any"));
	assert_true(api_scopes_allow_service("zone:x:read service:example.com/web:write",
	                                     "example.com.", "web"));
}

/* ---- registrations ---- */

static int parse(const char *json, registry_instance_t *in, char *field)
{
	json_t *obj = json_loads(json, 0, NULL);
	char err[256];
	int r = registry_instance_parse(obj, in, field, 64, err, sizeof(err));
	json_decref(obj);
	return r;
}

static void test_parse(void **state)
{
	(void)state;
	registry_instance_t in;
	char field[64] = "";
	assert_int_equal(parse("{\"addresses\":[\"192.0.2.1\",\"2001:DB8:0::1\"],\"port\":80}",
	                       &in, field), 0);
	assert_int_equal(in.addr_count, 2);
	assert_string_equal(in.addrs[1], "2001:db8::1");
	assert_string_equal(in.proto, "tcp");
	assert_int_equal(in.weight, 1);
	assert_int_equal(in.priority, 1);
	assert_int_equal(in.ttl, REGISTRY_TTL_DEFAULT);
	assert_int_equal(in.lease, 30);
	/* the JSON written back reads the same */
	json_t *j = registry_instance_json(&in);
	char *text = json_dumps(j, JSON_COMPACT);
	registry_instance_t again;
	assert_int_equal(parse(text, &again, field), 0);
	assert_int_equal(again.port, 80);
	assert_string_equal(again.addrs[0], "192.0.2.1");
	free(text);
	json_decref(j);

	static const struct { const char *json, *field; } bad[] = {
		{ "[]", "" },
		{ "{\"port\":80}", "addresses" },
		{ "{\"addresses\":[\"x\"],\"port\":80}", "addresses[0]" },
		{ "{\"addresses\":[\"192.0.2.1\"]}", "port" },
		{ "{\"addresses\":[\"192.0.2.1\"],\"port\":0}", "port" },
		{ "{\"addresses\":[\"192.0.2.1\"],\"port\":1,\"protocol\":\"sctp\"}", "protocol" },
		{ "{\"addresses\":[\"192.0.2.1\"],\"port\":1,\"weight\":-1}", "weight" },
		{ "{\"addresses\":[\"192.0.2.1\"],\"port\":1,\"ttl_lease\":86401}", "ttl_lease" },
		{ "{\"addresses\":[\"192.0.2.1\"],\"port\":1,\"tags\":[\"a\\\"b\"]}", "tags[0]" },
		{ "{\"addresses\":[\"192.0.2.1\"],\"port\":1,\"tags\":[\"=v\"]}", "tags[0]" },
		{ "{\"addresses\":[\"192.0.2.1\"],\"port\":1,\"x\":1}", "x" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].json, &in, field), CIRRUS_EINVAL);
		assert_string_equal(field, bad[i].field);
	}
	assert_true(registry_label_ok("web-1"));
	assert_false(registry_label_ok("Web"));
	assert_false(registry_label_ok("-a"));
	assert_false(registry_label_ok(""));
}

static registry_instance_t inst(const char *svc, const char *id, const char *addr,
                                uint16_t port, const char *tag)
{
	registry_instance_t in = { .port = port, .weight = 5, .priority = 1, .ttl = 5 };
	snprintf(in.service, sizeof(in.service), "%s", svc);
	snprintf(in.id, sizeof(in.id), "%s", id);
	snprintf(in.proto, sizeof(in.proto), "tcp");
	snprintf(in.addrs[0], sizeof(in.addrs[0]), "%s", addr);
	in.addr_count = 1;
	if (tag != NULL) {
		snprintf(in.tags[0], sizeof(in.tags[0]), "%s", tag);
		in.tag_count = 1;
	}
	return in;
}

static const registry_rrset_t *find(const registry_rrsets_t *s, const char *name,
                                    const char *type)
{
	for (size_t i = 0; i < s->count; i++) {
		if (strcmp(s->v[i].name, name) == 0 && strcmp(s->v[i].type, type) == 0) {
			return &s->v[i];
		}
	}
	return NULL;
}

static void test_records(void **state)
{
	(void)state;
	registry_instance_t v[3] = {
		inst("web", "i1", "192.0.2.1", 80, "primary"),
		inst("web", "i2", "2001:db8::2", 81, "env=prod"),
		inst("web", "i3", "192.0.2.1", 82, NULL), /* same address as i1 */
	};
	v[2].ttl = 2;
	registry_rrsets_t s;
	assert_int_equal(registry_records("example.com.", v, 3, &s), 0);
	const registry_rrset_t *rs = find(&s, "web.example.com.", "A");
	assert_non_null(rs);
	assert_int_equal(rs->count, 1);       /* the address once */
	assert_int_equal(rs->ttl, 2);         /* the smallest TTL */
	assert_string_equal(find(&s, "web.example.com.", "AAAA")->records[0], "2001:db8::2");
	assert_string_equal(find(&s, "i2.web.example.com.", "AAAA")->records[0], "2001:db8::2");
	assert_string_equal(find(&s, "primary.web.example.com.", "A")->records[0], "192.0.2.1");
	assert_null(find(&s, "env=prod.web.example.com.", "AAAA")); /* not a bare tag */
	rs = find(&s, "_web._tcp.example.com.", "SRV");
	assert_int_equal(rs->count, 3);
	assert_string_equal(rs->records[0], "1 5 80 i1.web.example.com.");
	rs = find(&s, "_web._tcp.example.com.", "PTR");
	assert_int_equal(rs->count, 3);
	assert_string_equal(rs->records[2], "i3._web._tcp.example.com.");
	assert_string_equal(find(&s, "i2._web._tcp.example.com.", "SRV")->records[0],
	                    "1 5 81 i2.web.example.com.");
	assert_string_equal(find(&s, "i2._web._tcp.example.com.", "TXT")->records[0],
	                    "\"env=prod\"");
	assert_string_equal(find(&s, "i3._web._tcp.example.com.", "TXT")->records[0], "\"\"");
	rs = find(&s, "_services._dns-sd._udp.example.com.", "PTR");
	assert_int_equal(rs->count, 1);
	assert_string_equal(rs->records[0], "_web._tcp.example.com.");
	/* sorted by name then type, each RRset once */
	for (size_t i = 1; i < s.count; i++) {
		int c = strcmp(s.v[i - 1].name, s.v[i].name);
		assert_true(c < 0 || (c == 0 && strcmp(s.v[i - 1].type, s.v[i].type) < 0));
	}
	registry_rrsets_free(&s);
	assert_int_equal(registry_records("example.com.", v, 0, &s), 0);
	assert_int_equal(s.count, 0);
}

/* Instances of several services and protocols in one call (as at start,
 * when every instance of a zone is mapped at once): the names a service's
 * instances share are made per service and protocol. */
static void test_records_mixed_services(void **state)
{
	(void)state;
	registry_instance_t v[4] = {
		inst("web", "i1", "192.0.2.1", 80, NULL),
		inst("api", "a1", "192.0.2.9", 53, NULL),
		inst("web", "i2", "192.0.2.2", 81, NULL),
		inst("api", "a2", "192.0.2.9", 54, NULL), /* the same address as a1 */
	};
	snprintf(v[1].proto, sizeof(v[1].proto), "udp");
	registry_rrsets_t s;
	assert_int_equal(registry_records("example.com.", v, 4, &s), 0);
	assert_int_equal(find(&s, "web.example.com.", "A")->count, 2);
	assert_int_equal(find(&s, "api.example.com.", "A")->count, 1);
	assert_int_equal(find(&s, "_web._tcp.example.com.", "SRV")->count, 2);
	assert_int_equal(find(&s, "_api._udp.example.com.", "SRV")->count, 1);
	assert_int_equal(find(&s, "_api._tcp.example.com.", "SRV")->count, 1);
	const registry_rrset_t *rs = find(&s, "_services._dns-sd._udp.example.com.", "PTR");
	assert_int_equal(rs->count, 3);
	assert_string_equal(rs->records[0], "_api._tcp.example.com.");
	assert_string_equal(rs->records[1], "_api._udp.example.com.");
	assert_string_equal(rs->records[2], "_web._tcp.example.com.");
	registry_rrsets_free(&s);

	/* the longest name is the browse name, 23 bytes before the zone: with
	 * a zone of 231 bytes it has 254 (taken), with 232 it has 255 */
	char edge[240];
	for (size_t len = 231; len <= 232; len++) {
		memset(edge, 'e', len - 9);
		snprintf(edge + len - 9, sizeof(edge) - (len - 9), ".example.");
		assert_int_equal(strlen(edge), len);
		int want = len == 231 ? 0 : CIRRUS_EINVAL;
		assert_int_equal(registry_records(edge, v, 1, &s), want);
		assert_int_equal(s.count, want == 0 ? 7 : 0);  /* A, A, SRV, PTR, PTR, SRV, TXT */
		registry_rrsets_free(&s);
	}

	/* a name over 255 bytes refuses the whole set */
	char zone[300];
	memset(zone, 'z', 240);
	snprintf(zone + 240, sizeof(zone) - 240, ".example.");
	assert_int_equal(registry_records(zone, v, 1, &s), CIRRUS_EINVAL);
	assert_int_equal(s.count, 0);
}

static void test_diff(void **state)
{
	(void)state;
	registry_instance_t v[2] = {
		inst("web", "i1", "192.0.2.1", 80, NULL),
		inst("web", "i2", "192.0.2.2", 80, NULL),
	};
	registry_rrsets_t one, two;
	assert_int_equal(registry_records("example.com.", v, 1, &one), 0);
	assert_int_equal(registry_records("example.com.", v, 2, &two), 0);
	ctl_change_t *c;
	size_t n;
	assert_int_equal(registry_diff(&one, &one, &c, &n), 0);
	assert_int_equal(n, 0);
	assert_null(c);
	/* adding i2: i2's own RRsets whole, and to the shared ones (web A,
	 * _web._tcp SRV and PTR) i2's record only; nothing of i1's */
	assert_int_equal(registry_diff(&one, &two, &c, &n), 0);
	size_t replaced = 0, shared = 0;
	for (size_t i = 0; i < n; i++) {
		assert_null(strstr(c[i].name, "i1."));
		if (c[i].op == CTL_CHANGE_REPLACE) {
			assert_non_null(strstr(c[i].name, "i2."));
			replaced++;
			continue;
		}
		assert_int_equal(c[i].op, CTL_CHANGE_RECORDS);
		assert_int_equal(c[i].removed_count, 0);
		assert_int_equal(c[i].record_count, 1);
		assert_true(strstr(c[i].records[0], "i2") != NULL ||
		            strcmp(c[i].records[0], "192.0.2.2") == 0);
		shared++;
	}
	assert_int_equal(replaced, 3);   /* i2.web A, i2._web._tcp SRV and TXT */
	assert_int_equal(shared, 3);
	free(c);
	/* and back: i2's record leaves the shared RRsets, i1's stay */
	assert_int_equal(registry_diff(&two, &one, &c, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (c[i].op == CTL_CHANGE_RECORDS) {
			assert_int_equal(c[i].removed_count, 1);
			assert_int_equal(c[i].record_count, 0);
			assert_true(strstr(c[i].removed[0], "i2") != NULL ||
			            strcmp(c[i].removed[0], "192.0.2.2") == 0);
		} else {
			assert_int_equal(c[i].op, CTL_CHANGE_DELETE);
		}
	}
	assert_int_equal(n, 6);
	free(c);
	/* removing both: every RRset deleted */
	registry_rrsets_t none = { 0 };
	assert_int_equal(registry_diff(&two, &none, &c, &n), 0);
	assert_int_equal(n, two.count);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(c[i].op, CTL_CHANGE_DELETE);
		assert_int_equal(c[i].record_count, 0);
	}
	free(c);
	registry_rrsets_free(&one);
	registry_rrsets_free(&two);
}

/* ---- the instances table ---- */

typedef struct seen {
	int count;
	char last[64];
} seen_t;

static int count_cb(void *ctx, const store_instance_t *in)
{
	seen_t *s = ctx;
	s->count++;
	snprintf(s->last, sizeof(s->last), "%s", in->instance);
	return 0;
}

static void test_store_instances(void **state)
{
	(void)state;
	char path[] = "/tmp/cirrus-test-registry-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	store_t *st;
	char err[256];
	assert_int_equal(store_open(path, &st, err, sizeof(err)), 0);
	assert_true(store_schema_version(st) >= 2); /* the service_instances table */
	store_instance_t in = { .zone = "example.com.", .service = "web", .instance = "i1",
	                        .data = "{}", .expires_us = 1000 };
	assert_int_equal(store_instance_put(st, &in), 0);
	snprintf(in.instance, sizeof(in.instance), "i2");
	in.expires_us = 5000;
	assert_int_equal(store_instance_put(st, &in), 0);
	assert_int_equal(store_instance_put(st, &in), 0); /* replace: still one row */
	seen_t s = { 0 };
	assert_int_equal(store_instance_list(st, "example.com.", "web", count_cb, &s), 0);
	assert_int_equal(s.count, 2);
	s = (seen_t){ 0 };
	assert_int_equal(store_instance_expired(st, 2000, count_cb, &s), 0);
	assert_int_equal(s.count, 1);
	assert_string_equal(s.last, "i1");
	assert_int_equal(store_instance_renew(st, "example.com.", "web", "i1", 9000), 0);
	s = (seen_t){ 0 };
	assert_int_equal(store_instance_expired(st, 2000, count_cb, &s), 0);
	assert_int_equal(s.count, 0);
	assert_int_equal(store_instance_renew(st, "example.com.", "web", "nope", 1),
	                 CIRRUS_ENOENT);
	assert_int_equal(store_instance_delete(st, "example.com.", "web", "i1"), 0);
	assert_int_equal(store_instance_delete(st, "example.com.", "web", "i1"), CIRRUS_ENOENT);
	store_instance_t empty = { .zone = "", .service = "web", .instance = "x", .data = "{}" };
	assert_int_equal(store_instance_put(st, &empty), CIRRUS_EINVAL);
	assert_int_equal(store_zone_insert(st, "example.com.", 7), 0);
	store_close(st);

	/* A version-1 file (as the previous release left it) migrates to 2 and
	 * keeps its data. */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE service_instances; DROP TABLE policies;"
	                              " DROP TABLE latency_tables;"
	                              "DELETE FROM schema_migrations WHERE version >= 2",
	                              NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, &st, err, sizeof(err)), 0);
	assert_true(store_schema_version(st) >= 2);
	store_zone_t z;
	assert_int_equal(store_zone_get(st, "example.com.", &z), 0);
	assert_int_equal(z.serial, 7);
	s = (seen_t){ 0 };
	assert_int_equal(store_instance_list(st, NULL, NULL, count_cb, &s), 0);
	assert_int_equal(s.count, 0);
	store_close(st);
	unlink(path);
	char side[64];
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
}

/* ---- the engine's view: names, and N of M records in random order ---- */

static void test_view(void **state)
{
	(void)state;
	const char *names[] = { "web.example.com.", "Canary.Web.Example.com.", "web.example.com." };
	registry_view_t *v = NULL;
	assert_int_equal(registry_view_new(names, 3, 0, &v), CIRRUS_EINVAL);
	assert_int_equal(registry_view_new(names, 3, 65, &v), CIRRUS_EINVAL);
	assert_int_equal(registry_view_new(names, 3, 3, &v), 0);
	knot_dname_storage_t w;
	assert_non_null(knot_dname_from_str(w, "canary.web.example.com.", sizeof(w)));
	assert_true(registry_view_has(v, w, knot_dname_size(w)));
	assert_non_null(knot_dname_from_str(w, "web.example.com.", sizeof(w)));
	assert_true(registry_view_has(v, w, knot_dname_size(w)));
	assert_non_null(knot_dname_from_str(w, "i1.web.example.com.", sizeof(w)));
	assert_false(registry_view_has(v, w, knot_dname_size(w)));
	assert_int_equal(registry_view_answer_max(v), 3);
	registry_view_free(v);
	assert_int_equal(registry_view_new(NULL, 0, 8, &v), 0);
	assert_false(registry_view_has(v, w, knot_dname_size(w)));
	registry_view_free(v);
}

static void test_view_pick(void **state)
{
	(void)state;
	knot_rdataset_t rrs = { 0 };
	for (uint8_t i = 0; i < 10; i++) {
		uint8_t a[4] = { 192, 0, 2, i };
		uint8_t buf[sizeof(knot_rdata_t) + 4];
		knot_rdata_init((knot_rdata_t *)buf, 4, a);
		assert_int_equal(knot_rdataset_add(&rrs, (knot_rdata_t *)buf, NULL), KNOT_EOK);
	}
	policy_rng_t rng;
	policy_rng_seed(&rng, 42);
	uint8_t out[64 * 6];
	unsigned first[10] = { 0 }, seen[10] = { 0 };
	for (int round = 0; round < 5000; round++) {
		knot_rdataset_t got;
		assert_int_equal(registry_view_pick(&rrs, 3, &rng, out, sizeof(out), &got), 0);
		assert_int_equal(got.count, 3);
		bool mark[10] = { false };
		for (uint16_t k = 0; k < got.count; k++) {
			uint8_t last = knot_rdataset_at(&got, k)->data[3];
			assert_false(mark[last]);   /* no record twice */
			mark[last] = true;
			seen[last]++;
			first[k == 0 ? last : 0] += k == 0;
		}
	}
	for (int i = 0; i < 10; i++) {   /* uniform: 1500 each, 500 first */
		assert_in_range(seen[i], 1300, 1700);
		assert_in_range(first[i], 380, 620);
	}
	knot_rdataset_t got;
	assert_int_equal(registry_view_pick(&rrs, 64, &rng, out, sizeof(out), &got), 0);
	assert_int_equal(got.count, 10);   /* all of them, shuffled */
	assert_int_equal(registry_view_pick(&rrs, 3, &rng, out, 12, &got), CIRRUS_EINVAL);
	knot_rdataset_clear(&rrs, NULL);
}

/* ---- an instance's health check ---- */

static int check_parse(const char *json, char *field)
{
	registry_instance_t in = { .addr_count = 1, .port = 8080 };
	snprintf(in.addrs[0], sizeof(in.addrs[0]), "192.0.2.1");
	char err[256];
	json_t *j = json_loads(json, JSON_DECODE_ANY, NULL);
	int r = registry_check_parse(j, &in, field, 64, err, sizeof(err));
	json_decref(j);
	if (r == 0) {
		health_spec_t spec;
		assert_int_equal(registry_check_spec(&in, "svc@i1.web.example.com", &spec, err,
		                                     sizeof(err)), 0);
		assert_string_equal(spec.address, "192.0.2.1");   /* the instance's */
		assert_int_equal(spec.kind, HEALTH_KIND_HTTP);
		assert_int_equal(spec.interval_ms, 1000);
		assert_int_equal(spec.fall, 3);
		health_spec_deinit(&spec);
	}
	return r;
}

static void test_check(void **state)
{
	(void)state;
	char field[64];
	assert_int_equal(check_parse("{\"type\": \"http\", \"interval\": 1, \"fall\": 3, "
	                             "\"expect\": [200, \"300-399\"]}", field), 0);
	assert_int_equal(check_parse("{\"type\": \"calculated\"}", field), CIRRUS_EINVAL);
	assert_string_equal(field, "check");
	assert_int_equal(check_parse("{\"type\": \"http\", \"ca-file\": \"/x\"}", field),
	                 CIRRUS_EINVAL);
	assert_string_equal(field, "check.ca-file");
	assert_int_equal(check_parse("{\"type\": \"tcp\", \"rise\": 0}", field), CIRRUS_EINVAL);
	assert_string_equal(field, "check.rise");
	assert_int_equal(check_parse("[1]", field), CIRRUS_EINVAL);
	registry_instance_t in = { .id = "i1", .service = "web" };
	char key[128];
	assert_int_equal(registry_check_key("example.com.", &in, key, sizeof(key)), 0);
	assert_string_equal(key, "svc@i1.web.example.com");
	char zone[200];
	memset(zone, 'a', sizeof(zone) - 1);
	zone[sizeof(zone) - 1] = '\0';
	assert_int_equal(registry_check_key(zone, &in, key, sizeof(key)), CIRRUS_ESPACE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_scope_normalize),
		cmocka_unit_test(test_service_scope_allow),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_records_mixed_services),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_view_pick),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_store_instances),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
