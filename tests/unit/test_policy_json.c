/* SPDX-License-Identifier: Apache-2.0
 * test_policy_json.c -- policy specs to and from JSON (policy/policy_json.c):
 * every key read into its spec field and written back unchanged, defaults
 * left out, each mistake named by its JSON path, and a compile error's line
 * mapped back to the part of the request it is about.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "policy/policy_json.h"
#include "util/error.h"

/* Every key once: a failover over a weighted pair, geo, ip and latency
 * (from a file and from a stored table). */
static const char full[] =
	"{\"name\":\"www\",\"type\":\"A\",\"ttl\":30,\"fail\":\"closed\",\"rule\":\"failover\","
	"\"endpoints\":["
	"{\"rule\":\"weighted\",\"pick\":2,\"level\":1,\"endpoints\":["
	"{\"rdata\":\"192.0.2.1\",\"weight\":3,\"health\":\"web-a\"},"
	"{\"rdata\":\"192.0.2.2\",\"weight\":0}]},"
	"{\"rule\":\"geo\",\"map\":\"/etc/geo.cidr\",\"level\":2,\"endpoints\":["
	"{\"rdata\":\"192.0.2.3\",\"countries\":[\"DE\",\"AT\"],\"continents\":[\"EU\"],"
	"\"subdivisions\":[\"US-CA\"]},"
	"{\"rdata\":\"192.0.2.4\",\"default\":true}]},"
	"{\"rule\":\"ip\",\"level\":3,\"endpoints\":["
	"{\"rdata\":\"192.0.2.5\",\"cidrs\":[\"10.0.0.0/8\",\"2001:db8::/32\"]}]},"
	"{\"rule\":\"latency\",\"latency\":\"/etc/latency.txt\",\"level\":4,\"endpoints\":["
	"{\"rdata\":\"192.0.2.6\",\"region\":\"eu-west\"}]},"
	"{\"rule\":\"latency\",\"latency-table\":\"rtt\",\"level\":5,\"endpoints\":["
	"{\"rdata\":\"192.0.2.7\",\"region\":\"us-east\"}]}]}";

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *o = json_loads(text, 0, &e);
	if (o == NULL) {
		fail_msg("bad test JSON: %s", e.text);
	}
	return o;
}

/* A JSON text read into a spec with its paths. */
typedef struct read {
	json_t *o;
	policy_spec_t s;
	policy_strv_t paths;
} read_t;

static void must_read(const char *text, read_t *r)
{
	char field[128], err[256];
	r->o = parse(text);
	if (policy_json_read(r->o, &r->s, &r->paths, field, sizeof(field), err,
	                     sizeof(err)) != 0) {
		fail_msg("%s: %s: %s", text, field, err);
	}
}

static void read_done(read_t *r)
{
	json_decref(r->o);
	policy_spec_deinit(&r->s);
	policy_json_paths_free(&r->paths);
}

static void test_read_every_key(void **state)
{
	(void)state;
	read_t r;
	must_read(full, &r);
	const policy_spec_t s = r.s;
	const policy_strv_t paths = r.paths;
	assert_string_equal(s.name, "www");
	assert_string_equal(s.type, "A");
	assert_int_equal(s.ttl, 30);
	assert_string_equal(s.fail, "closed");
	assert_string_equal(s.rule, "failover");
	assert_int_equal(s.endpoint_count, 5);
	const policy_spec_t *w = &s.endpoints[0];
	assert_string_equal(w->rule, "weighted");
	assert_int_equal(w->pick, 2);
	assert_int_equal(w->level, 1);
	assert_int_equal(w->weight, 1); /* the default */
	assert_int_equal(w->endpoint_count, 2);
	assert_string_equal(w->endpoints[0].rdata, "192.0.2.1");
	assert_int_equal(w->endpoints[0].weight, 3);
	assert_string_equal(w->endpoints[0].health, "web-a");
	assert_int_equal(w->endpoints[1].weight, 0);
	const policy_spec_t *g = &s.endpoints[1];
	assert_string_equal(g->map, "/etc/geo.cidr");
	assert_int_equal(g->endpoints[0].countries.n, 2);
	assert_string_equal(g->endpoints[0].countries.v[1], "AT");
	assert_string_equal(g->endpoints[0].continents.v[0], "EU");
	assert_string_equal(g->endpoints[0].subdivisions.v[0], "US-CA");
	assert_true(g->endpoints[1].is_default);
	assert_string_equal(s.endpoints[2].endpoints[0].cidrs.v[1], "2001:db8::/32");
	assert_string_equal(s.endpoints[3].latency, "/etc/latency.txt");
	assert_string_equal(s.endpoints[3].endpoints[0].region, "eu-west");
	assert_string_equal(s.endpoints[4].latency_table, "rtt");
	assert_null(s.endpoints[4].latency_data);
	/* every mapping has its path, in the order read */
	assert_int_equal(paths.n, 13);
	assert_string_equal(policy_json_path(&paths, s.line), "");
	assert_string_equal(policy_json_path(&paths, w->endpoints[1].line),
	                    "endpoints[0].endpoints[1]");
	assert_string_equal(policy_json_path(&paths, s.endpoints[3].line), "endpoints[3]");
	assert_string_equal(policy_json_path(&paths, 0), "");
	assert_string_equal(policy_json_path(&paths, 99), "");

	/* written back: the same JSON */
	json_t *back = policy_json_write(&s);
	assert_non_null(back);
	assert_true(json_equal(back, r.o));
	json_decref(back);
	read_done(&r);
}

/* Defaults are left out when written, except the TTL; reading that gives
 * the defaults again. */
static void test_write_defaults(void **state)
{
	(void)state;
	read_t r;
	must_read("{\"rule\":\"weighted\",\"endpoints\":[{\"rdata\":\"192.0.2.1\","
	          "\"weight\":1,\"default\":false}]}", &r);
	assert_int_equal(r.s.ttl, 60);
	json_t *written = policy_json_write(&r.s);
	char *text = json_dumps(written, JSON_COMPACT);
	json_decref(written);
	json_t *back = parse(text);
	json_t *want = parse("{\"ttl\":60,\"rule\":\"weighted\",\"endpoints\":"
	                     "[{\"rdata\":\"192.0.2.1\"}]}");
	assert_true(json_equal(back, want));
	free(text);
	json_decref(back);
	json_decref(want);
	read_done(&r);
}

static void test_errors(void **state)
{
	(void)state;
	static const struct { const char *json, *field, *message; } cases[] = {
		{ "[]", "", "a policy must be an object" },
		{ "{\"rule\":\"weighted\",\"weight\":2}", "weight", "unknown field 'weight'" },
		{ "{\"endpoints\":[{\"rdata\":\"192.0.2.1\",\"weigth\":2}]}", "endpoints[0].weigth",
		  "unknown field 'weigth'" },
		{ "{\"endpoints\":[{\"rdata\":\"a\"},{\"weight\":\"3\"}]}", "endpoints[1].weight",
		  "weight must be an integer from 0 to 1000000" },
		{ "{\"endpoints\":[{\"weight\":1000001}]}", "endpoints[0].weight",
		  "weight must be an integer" },
		{ "{\"endpoints\":[{\"level\":0}]}", "endpoints[0].level", "from 1 to 1000" },
		{ "{\"ttl\":-1}", "ttl", "ttl must be an integer from 0" },
		{ "{\"pick\":17}", "pick", "pick must be an integer from 1 to 16" },
		{ "{\"map\":\"geo.cidr\"}", "map", "map must be an absolute file name" },
		{ "{\"endpoints\":[]}", "endpoints", "endpoints must be a list of 1 to 64" },
		{ "{\"endpoints\":[3]}", "endpoints[0]", "an endpoint must be an object" },
		{ "{\"endpoints\":[{\"countries\":[\"DE\",7]}]}", "endpoints[0].countries[1]",
		  "countries must be a string of 1 to 2 bytes" },
		{ "{\"endpoints\":[{\"countries\":\"DE\"}]}", "endpoints[0].countries",
		  "countries must be a list of strings" },
		{ "{\"endpoints\":[{\"default\":1}]}", "endpoints[0].default",
		  "default must be true or false" },
		{ "{\"endpoints\":[{\"endpoints\":[{\"name\":\"x\"}]}]}",
		  "endpoints[0].endpoints[0].name", "unknown field 'name'" },
		{ "{\"rule\":\"\"}", "rule", "rule must be a string of 1 to 32 bytes" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *o = parse(cases[i].json);
		policy_spec_t s;
		policy_strv_t paths;
		char field[128] = "?", err[256] = "";
		int r = policy_json_read(o, &s, &paths, field, sizeof(field), err, sizeof(err));
		if (r != CIRRUS_EINVAL || strcmp(field, cases[i].field) != 0 ||
		    strstr(err, cases[i].message) == NULL) {
			fail_msg("%s: %d, field '%s', '%s'", cases[i].json, r, field, err);
		}
		json_decref(o);
		policy_spec_deinit(&s);
		policy_json_paths_free(&paths);
	}
}

/* A compile error's line is the index of the mapping it is about. */
static void test_compile_error_path(void **state)
{
	(void)state;
	read_t r;
	must_read("{\"name\":\"www\",\"type\":\"A\",\"rule\":\"failover\",\"endpoints\":["
	          "{\"rdata\":\"192.0.2.1\"},{\"rule\":\"weighted\",\"endpoints\":["
	          "{\"rdata\":\"192.0.2.300\"}]}]}", &r);
	knot_dname_storage_t origin;
	assert_non_null(knot_dname_from_str(origin, "example.com.", sizeof(origin)));
	policy_t *p = NULL;
	char msg[512];
	assert_int_equal(policy_compile(&r.s, origin, "policy", &p, msg, sizeof(msg)),
	                 CIRRUS_EINVAL);
	assert_non_null(strstr(msg, "policy:4: rdata '192.0.2.300' is not a valid A record"));
	assert_string_equal(policy_json_path(&r.paths, 4), "endpoints[1].endpoints[0]");
	read_done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_every_key),
		cmocka_unit_test(test_write_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_compile_error_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
