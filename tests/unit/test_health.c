/* SPDX-License-Identifier: Apache-2.0
 * test_health.c -- the health state machine without network: rise and
 * fall thresholds, the first result, calculated checks (all, any,
 * at-least), static holds, drills and their expiry, the snapshot the
 * engine reads, change reports; and the spec rules (durations, keys that
 * do not apply to a kind, links between checks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "health/health.h"
#include "util/error.h"

#define SEC INT64_C(1000000)

static char *dup(const char *s)
{
	char *d = strdup(s);
	assert_non_null(d);
	return d;
}

static void push(policy_strv_t *v, const char *s)
{
	v->v = realloc(v->v, (v->n + 1) * sizeof(*v->v));
	assert_non_null(v->v);
	v->v[v->n++] = dup(s);
}

/* A tcp check to 127.0.0.1:port with rise and fall, checked. */
static void tcp_spec(health_spec_t *s, const char *name, unsigned rise, unsigned fall)
{
	char err[256];
	health_spec_init(s, 1);
	s->name = dup(name);
	s->type = dup("tcp");
	s->address = dup("127.0.0.1");
	s->port = 9;
	s->rise = rise;
	s->fall = fall;
	s->interval = dup("1s");
	assert_int_equal(health_spec_check(s, err, sizeof(err)), 0);
}

static void calc_spec(health_spec_t *s, const char *name, const char *rule, unsigned n,
                      const char *a, const char *b, const char *c)
{
	char err[256];
	health_spec_init(s, 1);
	s->name = dup(name);
	s->type = dup("calculated");
	s->rule = dup(rule);
	s->at_least = n;
	push(&s->checks, a);
	push(&s->checks, b);
	push(&s->checks, c);
	assert_int_equal(health_spec_check(s, err, sizeof(err)), 0);
}

typedef struct record {
	char text[1024];
	size_t n;
} record_t;

static void on_change(void *ctx, const health_change_t *c)
{
	record_t *r = ctx;
	size_t len = strlen(r->text);
	snprintf(r->text + len, sizeof(r->text) - len, "%s:%s>%s ", c->key->name,
	         health_status_name(c->old_state), health_status_name(c->key->state));
	r->n++;
}

static size_t update(health_set_t *set, int64_t now, record_t *r)
{
	memset(r, 0, sizeof(*r));
	return health_set_update(set, now, NULL, on_change, r);
}

static bool up_in_snapshot(const health_set_t *set, const char *key)
{
	policy_health_t *h = NULL;
	assert_int_equal(health_set_snapshot(set, &h), 0);
	bool up = policy_health_up(h, key);
	policy_health_free(h);
	return up;
}

/* rise 2, fall 3: the first result decides; then fall failures in a row
 * take it down (a success in between resets the count), rise successes
 * bring it back; each change is reported once. */
static void test_rise_fall(void **state)
{
	(void)state;
	health_spec_t spec;
	health_set_t set;
	record_t r;
	tcp_spec(&spec, "web", 2, 3);
	assert_int_equal(health_set_init(&set, &spec, 1, NULL, 0), 0);
	assert_int_equal(set.keys[0].state, HEALTH_UNKNOWN);
	assert_true(up_in_snapshot(&set, "web"));   /* unknown counts as up */
	health_set_result(&set, 0, true, "ok", 1 * SEC);
	assert_int_equal(update(&set, 1 * SEC, &r), 1);
	assert_string_equal(r.text, "web:unknown>up ");
	health_set_result(&set, 0, false, "refused", 2 * SEC);
	health_set_result(&set, 0, false, "refused", 3 * SEC);
	health_set_result(&set, 0, true, "ok", 4 * SEC);     /* resets the run */
	health_set_result(&set, 0, false, "refused", 5 * SEC);
	health_set_result(&set, 0, false, "refused", 6 * SEC);
	assert_int_equal(update(&set, 6 * SEC, &r), 0);
	assert_int_equal(set.keys[0].failures, 2);
	assert_true(up_in_snapshot(&set, "web"));
	health_set_result(&set, 0, false, "connect: refused", 7 * SEC);
	assert_int_equal(update(&set, 7 * SEC, &r), 1);
	assert_string_equal(r.text, "web:up>down ");
	assert_string_equal(set.keys[0].reason, "connect: refused");
	assert_int_equal(set.keys[0].change_us, 7 * SEC);
	assert_false(up_in_snapshot(&set, "web"));
	health_set_result(&set, 0, true, "ok", 8 * SEC);
	assert_int_equal(update(&set, 8 * SEC, &r), 0);
	assert_false(up_in_snapshot(&set, "web"));
	health_set_result(&set, 0, true, "ok", 9 * SEC);
	assert_int_equal(update(&set, 9 * SEC, &r), 1);
	assert_string_equal(r.text, "web:down>up ");
	assert_int_equal(set.keys[0].successes, 2);
	assert_true(up_in_snapshot(&set, "web"));
	health_set_deinit(&set);
	health_spec_deinit(&spec);
}

/* A first failing result takes the key down at once (fall is for changes). */
static void test_first_result_down(void **state)
{
	(void)state;
	health_spec_t spec;
	health_set_t set;
	record_t r;
	tcp_spec(&spec, "db", 1, 5);
	assert_int_equal(health_set_init(&set, &spec, 1, NULL, 0), 0);
	health_set_result(&set, 0, false, "timeout", SEC);
	assert_int_equal(update(&set, SEC, &r), 1);
	assert_string_equal(r.text, "db:unknown>down ");
	health_set_result(&set, 0, true, "ok", 2 * SEC);   /* rise 1 */
	assert_int_equal(update(&set, 2 * SEC, &r), 1);
	assert_int_equal(set.keys[0].state, HEALTH_UP);
	health_set_deinit(&set);
	health_spec_deinit(&spec);
}

/* Three children a, b, c and three calculated checks over them. */
static void calc_fixture(health_spec_t specs[6])
{
	char err[256];
	size_t bad;
	tcp_spec(&specs[0], "a", 1, 1);
	tcp_spec(&specs[1], "b", 1, 1);
	tcp_spec(&specs[2], "c", 1, 1);
	calc_spec(&specs[3], "all", "all", 0, "a", "b", "c");
	calc_spec(&specs[4], "any", "any", 0, "a", "b", "c");
	calc_spec(&specs[5], "two", "at-least", 2, "a", "b", "c");
	assert_int_equal(health_specs_link(specs, 6, &bad, err, sizeof(err)), 0);
}

static void results(health_set_t *set, bool a, bool b, bool c, int64_t now)
{
	health_set_result(set, 0, a, a ? "ok" : "fail", now);
	health_set_result(set, 1, b, b ? "ok" : "fail", now);
	health_set_result(set, 2, c, c ? "ok" : "fail", now);
	record_t r;
	update(set, now, &r);
}

static void test_calculated(void **state)
{
	(void)state;
	health_spec_t specs[6];
	health_set_t set;
	calc_fixture(specs);
	assert_int_equal(health_set_init(&set, specs, 6, NULL, 0), 0);
	record_t r;
	update(&set, SEC, &r);
	assert_int_equal(set.keys[3].state, HEALTH_UNKNOWN);   /* no child result yet */
	results(&set, true, true, true, SEC);
	assert_int_equal(set.keys[3].state, HEALTH_UP);
	assert_int_equal(set.keys[4].state, HEALTH_UP);
	assert_int_equal(set.keys[5].state, HEALTH_UP);
	results(&set, true, false, true, 2 * SEC);
	assert_int_equal(set.keys[3].state, HEALTH_DOWN);
	assert_string_equal(set.keys[3].reason, "2 of 3 checks up, 3 needed");
	assert_int_equal(set.keys[4].state, HEALTH_UP);
	assert_int_equal(set.keys[5].state, HEALTH_UP);
	results(&set, false, false, true, 3 * SEC);
	assert_int_equal(set.keys[5].state, HEALTH_DOWN);
	assert_int_equal(set.keys[4].state, HEALTH_UP);
	results(&set, false, false, false, 4 * SEC);
	assert_int_equal(set.keys[4].state, HEALTH_DOWN);
	assert_false(up_in_snapshot(&set, "any"));
	results(&set, true, true, false, 5 * SEC);
	assert_int_equal(set.keys[3].state, HEALTH_DOWN);
	assert_int_equal(set.keys[4].state, HEALTH_UP);
	assert_int_equal(set.keys[5].state, HEALTH_UP);
	health_set_deinit(&set);
	for (size_t i = 0; i < 6; i++) {
		health_spec_deinit(&specs[i]);
	}
}

/* A drill forces a key down (and what is calculated from it), whatever
 * its check says, and ends by itself at its time; the check's own state
 * is kept and shown again. Drills on unknown keys are refused. */
static void test_drill_expiry(void **state)
{
	(void)state;
	health_spec_t specs[6];
	health_set_t set;
	record_t r;
	const char *extra[] = { "plain" };
	calc_fixture(specs);
	assert_int_equal(health_set_init(&set, specs, 6, extra, 1), 0);
	results(&set, true, true, true, SEC);
	assert_int_equal(health_set_next_expiry(&set), INT64_MAX);
	assert_int_equal(health_set_drill(&set, "nope", 40 * SEC, "ops"), CIRRUS_ENOENT);
	assert_int_equal(health_set_drill(&set, "a", 31 * SEC, "ops"), 0);
	assert_int_equal(health_set_drill(&set, "plain", 20 * SEC, "ops"), 0);
	assert_int_equal(update(&set, SEC, &r), 3);
	assert_string_equal(r.text, "a:up>down all:up>down plain:up>down ");
	assert_string_equal(set.keys[0].reason, "drill by ops");
	assert_int_equal(set.keys[0].checked, HEALTH_UP);
	assert_false(up_in_snapshot(&set, "a"));
	assert_false(up_in_snapshot(&set, "plain"));
	assert_int_equal(health_set_next_expiry(&set), 20 * SEC);
	/* Results during the drill still count. */
	health_set_result(&set, 0, true, "ok", 10 * SEC);
	health_set_expire(&set, 19 * SEC);
	assert_int_equal(update(&set, 19 * SEC, &r), 0);
	health_set_expire(&set, 20 * SEC);
	assert_int_equal(update(&set, 20 * SEC, &r), 1);
	assert_string_equal(r.text, "plain:down>up ");
	assert_int_equal(health_set_next_expiry(&set), 31 * SEC);
	health_set_expire(&set, 31 * SEC);
	assert_int_equal(update(&set, 31 * SEC, &r), 2);
	assert_string_equal(r.text, "a:down>up all:down>up ");
	assert_true(up_in_snapshot(&set, "a"));
	assert_int_equal(health_set_next_expiry(&set), INT64_MAX);
	/* Ending a drill early is a drill of 0. */
	assert_int_equal(health_set_drill(&set, "b", 60 * SEC, "ops"), 0);
	update(&set, 32 * SEC, &r);
	assert_int_equal(health_set_drill(&set, "b", 0, "ops"), 0);
	assert_int_equal(update(&set, 33 * SEC, &r), 2);
	assert_string_equal(r.text, "b:down>up all:down>up ");
	health_set_deinit(&set);
	for (size_t i = 0; i < 6; i++) {
		health_spec_deinit(&specs[i]);
	}
}

/* A static down wins over a passing check and is released by the next
 * static list; static keys need not be checks. */
static void test_static(void **state)
{
	(void)state;
	health_spec_t spec;
	health_set_t set;
	record_t r;
	tcp_spec(&spec, "web", 1, 1);
	assert_int_equal(health_set_init(&set, &spec, 1, NULL, 0), 0);
	health_set_result(&set, 0, true, "ok", SEC);
	update(&set, SEC, &r);
	const char *down[] = { "web", "other" };
	assert_true(health_set_static(&set, down, 2));
	assert_int_equal(update(&set, 2 * SEC, &r), 2);
	assert_string_equal(r.text, "web:up>down other:up>down ");
	assert_false(up_in_snapshot(&set, "other"));
	assert_true(health_set_static(&set, down + 1, 1));
	assert_int_equal(update(&set, 3 * SEC, &r), 1);
	assert_string_equal(r.text, "web:down>up ");
	assert_true(up_in_snapshot(&set, "web"));
	health_set_deinit(&set);
	health_spec_deinit(&spec);
}

static void test_durations(void **state)
{
	(void)state;
	uint64_t ms = 0;
	assert_int_equal(health_duration_parse("30s", &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(health_duration_parse("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(health_duration_parse("2m", &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(health_duration_parse("5", &ms), 0);
	assert_int_equal(ms, 5000);
	assert_int_equal(health_duration_parse("24h", &ms), 0);
	const char *bad[] = { "", "s", "-1s", "1.5s", "30 s", "25h", "10d", "1sec" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(health_duration_parse(bad[i], &ms), CIRRUS_EINVAL);
	}
}

/* Spec rules: each mistake is refused with a reason that names it. */
static void test_spec_errors(void **state)
{
	(void)state;
	char err[256];
	health_spec_t s;
	tcp_spec(&s, "t", 1, 1);
	assert_int_equal(s.timeout_ms, 1000);
	assert_int_equal(s.interval_ms, 1000);
	s.body = dup("ok");
	assert_int_equal(health_spec_check(&s, err, sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "'body' does not apply to a tcp check"));
	health_spec_deinit(&s);

	tcp_spec(&s, "t", 1, 1);
	s.timeout = dup("2s");
	assert_int_equal(health_spec_check(&s, err, sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "timeout"));
	free(s.interval);
	s.interval = dup("500ms");
	free(s.timeout);
	s.timeout = NULL;
	assert_int_equal(health_spec_check(&s, err, sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "interval must be a duration from 1s"));
	health_spec_deinit(&s);

	health_spec_init(&s, 1);
	s.name = dup("w");
	s.type = dup("http");
	s.address = dup("::1");
	push(&s.expect, "200-204");
	push(&s.expect, "301");
	assert_int_equal(health_spec_check(&s, err, sizeof(err)), 0);
	assert_int_equal(s.expect_count, 2);
	assert_int_equal(s.expect_hi[0], 204);
	assert_int_equal(s.timeout_ms, 1000);
	assert_int_equal(s.interval_ms, 10000);
	push(&s.expect, "2xx");
	assert_int_equal(health_spec_check(&s, err, sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "'2xx' is not a status code"));
	health_spec_deinit(&s);

	health_spec_init(&s, 1);
	s.name = dup("d");
	s.type = dup("dns");
	s.address = dup("127.0.0.1");
	s.rcode = dup("NXDOMAIN");
	assert_int_equal(health_spec_check(&s, err, sizeof(err)), 0);
	assert_int_equal(s.rcode_value, 3);
	assert_int_equal(s.qtype, 6);
	free(s.rcode);
	s.rcode = dup("BOGUS");
	assert_int_equal(health_spec_check(&s, err, sizeof(err)), CIRRUS_EINVAL);
	health_spec_deinit(&s);

	health_spec_init(&s, 1);
	s.name = dup("bad/name");
	s.type = dup("tcp");
	assert_int_equal(health_spec_check(&s, err, sizeof(err)), CIRRUS_EINVAL);
	health_spec_deinit(&s);
}

/* Links: children must be declared above, once; names are unique. */
static void test_links(void **state)
{
	(void)state;
	char err[256];
	size_t bad = 0;
	health_spec_t specs[3];
	tcp_spec(&specs[0], "a", 1, 1);
	calc_spec(&specs[1], "c", "any", 0, "a", "a", "a");
	tcp_spec(&specs[2], "b", 1, 1);
	assert_int_equal(health_specs_link(specs, 3, &bad, err, sizeof(err)), CIRRUS_EINVAL);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(err, "listed twice"));
	free(specs[1].checks.v[1]);
	specs[1].checks.v[1] = dup("b");   /* declared below: refused */
	assert_int_equal(health_specs_link(specs, 3, &bad, err, sizeof(err)), CIRRUS_EINVAL);
	assert_non_null(strstr(err, "'b' is not a check declared above it"));
	free(specs[2].name);
	specs[2].name = dup("a");
	assert_int_equal(health_specs_link(specs, 3, &bad, err, sizeof(err)), CIRRUS_EINVAL);
	for (size_t i = 0; i < 3; i++) {
		health_spec_deinit(&specs[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rise_fall),
		cmocka_unit_test(test_first_result_down),
		cmocka_unit_test(test_calculated),
		cmocka_unit_test(test_drill_expiry),
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_links),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
