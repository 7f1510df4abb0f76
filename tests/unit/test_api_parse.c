/* SPDX-License-Identifier: Apache-2.0
 * test_api_parse.c -- what API clients send, read without HTTP: the PATCH
 * body (api/api_patch.c: JSON shape, the field named on each error, TTL
 * range of RFC 2181) and audit times (api/api_time.c: RFC 3339, unix
 * seconds, and back).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api/api_parse.h"
#include "util/error.h"

/* Read text as a PATCH body; returns the code, fills fail. */
static int read_text(const char *text, api_patch_t *p, api_fail_t *fail, json_t **root)
{
	json_error_t e;
	*root = json_loads(text, 0, &e);
	if (*root == NULL) {
		fail_msg("test JSON does not parse: %s: %s", text, e.text);
	}
	return api_patch_read(*root, p, fail);
}

static void test_patch_good(void **state)
{
	(void)state;
	api_patch_t p;
	api_fail_t fail;
	json_t *root;
	assert_int_equal(read_text(
		"{\"rrsets\": ["
		" {\"name\": \"www\", \"type\": \"A\", \"ttl\": 0, \"changetype\": \"REPLACE\","
		"  \"records\": [\"192.0.2.1\", \"192.0.2.2\"]},"
		" {\"name\": \"old.example.com.\", \"type\": \"TXT\", \"changetype\": \"delete\"},"
		" {\"name\": \"max\", \"type\": \"A\", \"ttl\": 2147483647, \"changetype\": \"Replace\","
		"  \"records\": [\"192.0.2.3\"]},"
		" {\"name\": \"gone\", \"type\": \"A\", \"changetype\": \"DELETE\", \"records\": []}"
		"]}", &p, &fail, &root), 0);
	assert_int_equal(p.count, 4);
	assert_int_equal(p.changes[0].op, CTL_CHANGE_REPLACE);
	assert_string_equal(p.changes[0].name, "www");
	assert_string_equal(p.changes[0].type, "A");
	assert_int_equal(p.changes[0].ttl, 0);
	assert_int_equal(p.changes[0].record_count, 2);
	assert_string_equal(p.changes[0].records[1], "192.0.2.2");
	assert_int_equal(p.changes[1].op, CTL_CHANGE_DELETE);
	assert_int_equal(p.changes[1].record_count, 0);
	assert_int_equal(p.changes[2].ttl, 2147483647);
	assert_int_equal(p.changes[3].op, CTL_CHANGE_DELETE);
	api_patch_free(&p);
	json_decref(root);
}

static void test_patch_errors(void **state)
{
	(void)state;
	static const struct { const char *body, *field; } cases[] = {
		{ "{}", "rrsets" },
		{ "{\"rrsets\": []}", "rrsets" },
		{ "{\"rrsets\": {}}", "rrsets" },
		{ "{\"rrsets\": [1]}", "rrsets[0]" },
		{ "{\"rrsets\": [], \"extra\": 1}", "extra" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"DELETE\","
		  " \"comments\": []}]}", "rrsets[0].comments" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"DELETE\"},"
		  " {\"name\": \"b\", \"type\": \"A\", \"changetype\": \"UPSERT\"}]}",
		  "rrsets[1].changetype" },
		{ "{\"rrsets\": [{\"type\": \"A\", \"changetype\": \"DELETE\"}]}", "rrsets[0].name" },
		{ "{\"rrsets\": [{\"name\": \"\", \"type\": \"A\", \"changetype\": \"DELETE\"}]}",
		  "rrsets[0].name" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": 1, \"changetype\": \"DELETE\"}]}",
		  "rrsets[0].type" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"REPLACE\","
		  " \"records\": [\"192.0.2.1\"]}]}", "rrsets[0].ttl" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"REPLACE\","
		  " \"ttl\": -1, \"records\": [\"192.0.2.1\"]}]}", "rrsets[0].ttl" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"REPLACE\","
		  " \"ttl\": 2147483648, \"records\": [\"192.0.2.1\"]}]}", "rrsets[0].ttl" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"REPLACE\","
		  " \"ttl\": 1.5, \"records\": [\"192.0.2.1\"]}]}", "rrsets[0].ttl" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"DELETE\","
		  " \"ttl\": \"60\"}]}", "rrsets[0].ttl" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"REPLACE\","
		  " \"ttl\": 60}]}", "rrsets[0].records" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"REPLACE\","
		  " \"ttl\": 60, \"records\": []}]}", "rrsets[0].records" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"REPLACE\","
		  " \"ttl\": 60, \"records\": [\"192.0.2.1\", null]}]}", "rrsets[0].records[1]" },
		{ "{\"rrsets\": [{\"name\": \"a\", \"type\": \"A\", \"changetype\": \"DELETE\","
		  " \"records\": [\"192.0.2.1\"]}]}", "rrsets[0].records" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		api_patch_t p;
		api_fail_t fail;
		json_t *root;
		int r = read_text(cases[i].body, &p, &fail, &root);
		if (r != CIRRUS_EINVAL || strcmp(fail.field, cases[i].field) != 0) {
			fail_msg("%s: got %d field '%s' (%s), want field '%s'", cases[i].body, r,
			         fail.field, fail.message, cases[i].field);
		}
		assert_true(fail.message[0] != '\0');
		api_patch_free(&p);
		json_decref(root);
	}
}

static int64_t when(const char *text)
{
	int64_t us = -1;
	if (!api_time_parse(text, &us)) {
		fail_msg("'%s' does not parse", text);
	}
	return us;
}

static void test_time_parse(void **state)
{
	(void)state;
	assert_int_equal(when("0"), 0);
	assert_int_equal(when("1714564800"), INT64_C(1714564800000000));
	assert_int_equal(when("2024-05-01T12:00:00Z"), INT64_C(1714564800000000));
	assert_int_equal(when("2024-05-01t12:00:00z"), INT64_C(1714564800000000));
	assert_int_equal(when("2024-05-01 12:00:00Z"), INT64_C(1714564800000000));
	assert_int_equal(when("2024-05-01T14:00:00+02:00"), INT64_C(1714564800000000));
	assert_int_equal(when("2024-05-01T11:30:00-00:30"), INT64_C(1714564800000000));
	assert_int_equal(when("2024-05-01T12:00:00.5Z"), INT64_C(1714564800500000));
	assert_int_equal(when("2024-05-01T12:00:00.123456789Z"), INT64_C(1714564800123456));
	assert_int_equal(when("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(when("2024-02-29T00:00:00Z"), INT64_C(1709164800000000));
	static const char *bad[] = {
		"", "yesterday", "2024-05-01", "2024-05-01T12:00:00", "2024-05-01T12:00Z",
		"2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2023-02-29T00:00:00Z",
		"2024-04-31T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z",
		"2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+0200", "2024-05-01T12:00:00Zjunk",
		"-5", "12345678901234", "1e9", "2024-5-1T12:00:00Z", " 2024-05-01T12:00:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t us;
		if (api_time_parse(bad[i], &us)) {
			fail_msg("'%s' parsed as %lld", bad[i], (long long)us);
		}
	}
}

static void test_time_format(void **state)
{
	(void)state;
	char out[40];
	api_time_format(INT64_C(1714564800123456), out);
	assert_string_equal(out, "2024-05-01T12:00:00.123456Z");
	api_time_format(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00.000000Z");
	api_time_format(INT64_C(1714564800000001), out);
	assert_int_equal(when(out), INT64_C(1714564800000001));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patch_good),
		cmocka_unit_test(test_patch_errors),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
