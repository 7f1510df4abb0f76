/* SPDX-License-Identifier: Apache-2.0
 * test_policy.c -- the rules of policy/ evaluated directly: weighted
 * (a chi-square test with a fixed seed), failover, multivalue, ip, geo,
 * nesting, fail-open and fail-closed, health snapshots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_policy_fixture.h"

#define SEED 20240601

/* Chi-square of observed counts against weights, over n draws. */
static double chi_square(const unsigned *seen, const unsigned *weight, size_t k, unsigned n)
{
	unsigned total = 0;
	for (size_t i = 0; i < k; i++) {
		total += weight[i];
	}
	double chi = 0;
	for (size_t i = 0; i < k; i++) {
		double expected = (double)n * weight[i] / total;
		chi += (seen[i] - expected) * (seen[i] - expected) / expected;
	}
	return chi;
}

/* Weights 1:2:3:4 plus a drained endpoint: 100,000 draws must fit the
 * weights (chi-square, 3 degrees of freedom, 16.27 is the 0.1% critical
 * value) and never give the drained one. A biased chooser fails this:
 * even picking endpoint 0 half a percent too often pushes chi past it. */
static void test_weighted_distribution(void **state)
{
	(void)state;
	policy_spec_t s;
	fx_top(&s, "www", "A", "weighted");
	static const unsigned weights[] = { 1, 2, 3, 4 };
	fx_ep(&s, "192.0.2.0", 1);
	fx_ep(&s, "192.0.2.1", 2);
	fx_ep(&s, "192.0.2.2", 3);
	fx_ep(&s, "192.0.2.3", 4);
	fx_ep(&s, "192.0.2.4", 0);
	policy_t *p = fx_compile(&s);
	policy_rng_t rng;
	policy_rng_seed(&rng, SEED);
	unsigned seen[5] = { 0 };
	const unsigned draws = 100000;
	for (unsigned i = 0; i < draws; i++) {
		policy_answer_t a;
		policy_eval(p, NULL, NULL, &rng, &a);
		assert_int_equal(a.count, 1);
		assert_int_equal(a.scope, 0);
		seen[fx_last_octet(&a, 0)]++;
	}
	assert_int_equal(seen[4], 0);
	double chi = chi_square(seen, weights, 4, draws);
	assert_true(chi < 16.27);
	/* The test has teeth: a 0.5% shift towards endpoint 0 fails it. */
	unsigned biased[4] = { seen[0] + 500, seen[1] - 500, seen[2], seen[3] };
	assert_true(chi_square(biased, weights, 4, draws) > 16.27);
	policy_free(p);
}

/* pick 2 gives two distinct records; a down endpoint is never chosen. */
static void test_weighted_pick_and_health(void **state)
{
	(void)state;
	policy_spec_t s;
	fx_top(&s, "www", "A", "weighted");
	s.pick = 2;
	fx_ep(&s, "192.0.2.1", 5);
	fx_ep(&s, "192.0.2.2", 5)->health = strdup("b");
	fx_ep(&s, "192.0.2.3", 5);
	policy_t *p = fx_compile(&s);
	policy_health_t *h;
	const char *down[] = { "b" };
	assert_int_equal(policy_health_new(down, 1, &h), 0);
	policy_rng_t rng;
	policy_rng_seed(&rng, SEED);
	for (int i = 0; i < 1000; i++) {
		policy_answer_t a;
		policy_eval(p, h, NULL, &rng, &a);
		assert_int_equal(a.count, 2);
		assert_int_not_equal(fx_last_octet(&a, 0), fx_last_octet(&a, 1));
		assert_int_not_equal(fx_last_octet(&a, 0), 2);
		assert_int_not_equal(fx_last_octet(&a, 1), 2);
	}
	policy_health_free(h);
	policy_free(p);
}

static policy_t *failover_policy(const char *fail)
{
	policy_spec_t s;
	fx_top(&s, "app", "A", "failover");
	if (fail != NULL) {
		s.fail = strdup(fail);
	}
	/* listed out of order: levels decide */
	policy_spec_t *e = fx_ep(&s, "192.0.2.3", 1);
	e->level = 3;
	e->health = strdup("c");
	e = fx_ep(&s, "192.0.2.1", 1);
	e->level = 1;
	e->health = strdup("a");
	e = fx_ep(&s, "192.0.2.2", 1);
	e->level = 2;
	e->health = strdup("b");
	return fx_compile(&s);
}

static unsigned eval_one(const policy_t *p, const char *const *down, size_t n_down)
{
	policy_health_t *h;
	assert_int_equal(policy_health_new(down, n_down, &h), 0);
	policy_rng_t rng;
	policy_rng_seed(&rng, SEED);
	policy_answer_t a;
	policy_eval(p, h, NULL, &rng, &a);
	policy_health_free(h);
	return a.count == 0 ? 0 : a.count == 1 ? fx_last_octet(&a, 0) : 1000 + a.count;
}

static void test_failover_levels(void **state)
{
	(void)state;
	policy_t *p = failover_policy(NULL);
	assert_int_equal(eval_one(p, NULL, 0), 1);
	const char *a_down[] = { "a" };
	assert_int_equal(eval_one(p, a_down, 1), 2);
	const char *ab_down[] = { "a", "b" };
	assert_int_equal(eval_one(p, ab_down, 2), 3);
	/* everything down: fail open, the first level answers */
	const char *all_down[] = { "a", "b", "c" };
	assert_int_equal(eval_one(p, all_down, 3), 1);
	policy_free(p);
}

static void test_fail_closed(void **state)
{
	(void)state;
	policy_t *p = failover_policy("closed");
	const char *all_down[] = { "a", "b", "c" };
	assert_int_equal(eval_one(p, all_down, 3), 0);
	const char *two_down[] = { "a", "b" };
	assert_int_equal(eval_one(p, two_down, 2), 3);
	policy_free(p);
}

/* Up to pick healthy records, distinct, in a shuffled order: each record
 * comes first about equally often. */
static void test_multivalue(void **state)
{
	(void)state;
	policy_spec_t s;
	fx_top(&s, "many", "A", "multivalue");
	s.pick = 3;
	for (int i = 0; i < 5; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "192.0.2.%d", i);
		fx_ep(&s, addr, 1)->health = i == 4 ? strdup("down") : NULL;
	}
	policy_t *p = fx_compile(&s);
	policy_health_t *h;
	const char *down[] = { "down" };
	assert_int_equal(policy_health_new(down, 1, &h), 0);
	policy_rng_t rng;
	policy_rng_seed(&rng, SEED);
	unsigned first[5] = { 0 };
	const unsigned n = 4000;
	for (unsigned i = 0; i < n; i++) {
		policy_answer_t a;
		policy_eval(p, h, NULL, &rng, &a);
		assert_int_equal(a.count, 3);
		unsigned mask = 0;
		for (unsigned r = 0; r < 3; r++) {
			unsigned o = fx_last_octet(&a, r);
			assert_true(o < 4);
			mask |= 1u << o;
		}
		assert_int_equal(__builtin_popcount(mask), 3);
		first[fx_last_octet(&a, 0)]++;
	}
	assert_int_equal(first[4], 0);
	for (int i = 0; i < 4; i++) { /* 1000 expected; 5 sigma is about 137 */
		assert_in_range(first[i], 850, 1150);
	}
	policy_health_free(h);
	policy_free(p);
}

static policy_t *ip_policy(void)
{
	policy_spec_t s;
	fx_top(&s, "near", "A", "ip");
	fx_add(&fx_ep(&s, "192.0.2.8", 1)->cidrs, "10.0.0.0/8");
	policy_spec_t *e = fx_ep(&s, "192.0.2.16", 1);
	fx_add(&e->cidrs, "10.1.0.0/16");
	e->health = strdup("sixteen");
	fx_add(&fx_ep(&s, "192.0.2.24", 1)->cidrs, "10.1.2.0/24");
	fx_add(&fx_ep(&s, "192.0.2.6", 1)->cidrs, "2001:db8::/32");
	fx_add(&fx_ep(&s, "192.0.2.48", 1)->cidrs, "2001:db8:1::/48");
	fx_ep(&s, "192.0.2.99", 1)->is_default = true;
	return fx_compile(&s);
}

/* Longest prefix wins, v4 and v6; the scope is the bits the answer
 * depended on; an unhealthy match falls back to the next shorter one. */
static void test_ip_longest_prefix(void **state)
{
	(void)state;
	policy_t *p = ip_policy();
	uint8_t scope;
	assert_int_equal(fx_answer(p, NULL, "10.1.2.3", &scope), 24);
	assert_int_equal(scope, 24);
	assert_int_equal(fx_answer(p, NULL, "10.1.3.0/24", &scope), 16);
	assert_int_equal(scope, 24); /* 10.1.2/24 shares 23 bits with 10.1.3 */
	assert_int_equal(fx_answer(p, NULL, "10.200.0.0/16", &scope), 8);
	assert_int_equal(scope, 9);  /* 10.1/16 branches off at bit 8 */
	assert_int_equal(fx_answer(p, NULL, "192.0.2.1", &scope), 99);
	assert_int_equal(scope, 1);  /* 10/8 starts with 0, 192 with 1 */
	assert_int_equal(fx_answer(p, NULL, "2001:db8:1:2::/64", &scope), 48);
	assert_int_equal(scope, 48);
	assert_int_equal(fx_answer(p, NULL, "2001:db8:2::/48", &scope), 6);
	assert_int_equal(scope, 47);
	assert_int_equal(fx_answer(p, NULL, "2001:db9::1", &scope), 99);
	assert_int_equal(fx_answer(p, NULL, "0.0.0.0/0", &scope), 99);
	assert_int_equal(scope, 0);  /* source prefix 0: no client information */
	policy_health_t *h;
	const char *down[] = { "sixteen" };
	assert_int_equal(policy_health_new(down, 1, &h), 0);
	assert_int_equal(fx_answer(p, h, "10.1.3.0/24", &scope), 8);
	policy_health_free(h);
	/* unknown client: the default, nothing depended on the client */
	policy_rng_t rng;
	policy_rng_seed(&rng, SEED);
	policy_answer_t a;
	policy_eval(p, NULL, NULL, &rng, &a);
	assert_int_equal(fx_last_octet(&a, 0), 99);
	assert_int_equal(a.scope, 0);
	policy_free(p);
}

static void write_map(const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("# test map\n10.1.0.0/16 DE EU\n10.2.0.0/16 US NA  # comment\n"
	      "10.3.0.0/16 FR EU\n\n2001:db8:5::/48 CA NA\n", f);
	fclose(f);
}

/* Country beats continent beats default; scope comes from the map. */
static void test_geo(void **state)
{
	(void)state;
	char path[] = "/tmp/cirrus-geo-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_map(path);
	policy_spec_t s;
	fx_top(&s, "geo", "A", "geo");
	s.map = strdup(path);
	fx_add(&fx_ep(&s, "192.0.2.1", 1)->countries, "DE");
	fx_add(&fx_ep(&s, "192.0.2.2", 1)->continents, "EU");
	fx_add(&fx_ep(&s, "192.0.2.3", 1)->continents, "NA");
	fx_ep(&s, "192.0.2.4", 1)->is_default = true;
	policy_t *p = fx_compile(&s);
	uint8_t scope;
	assert_int_equal(fx_answer(p, NULL, "10.1.7.0/24", &scope), 1);
	assert_int_equal(scope, 16);
	assert_int_equal(fx_answer(p, NULL, "10.3.0.1", &scope), 2);
	assert_int_equal(fx_answer(p, NULL, "10.2.0.0/24", &scope), 3);
	assert_int_equal(fx_answer(p, NULL, "2001:db8:5::/56", &scope), 3);
	assert_int_equal(scope, 48);
	assert_int_equal(fx_answer(p, NULL, "10.9.0.0/24", &scope), 4);
	policy_free(p);

	/* a bad map line is reported with the map's name and line */
	FILE *f = fopen(path, "a");
	fputs("10.4.0.0/16 Germany EU\n", f);
	fclose(f);
	fx_top(&s, "geo", "A", "geo");
	s.map = strdup(path);
	fx_ep(&s, "192.0.2.4", 1)->is_default = true;
	char err[512];
	fx_compile_fails(&s, err, sizeof(err));
	char want[128];
	snprintf(want, sizeof(want), "%s:7: not a country code: 'Germany'", path);
	assert_non_null(strstr(err, want));
	unlink(path);
}

/* A failover whose first level is a weighted pair: both down moves on to
 * level 2; one down leaves the other. */
static void test_nested(void **state)
{
	(void)state;
	policy_spec_t s;
	fx_top(&s, "app", "A", "failover");
	policy_spec_t *lvl1 = fx_ep(&s, NULL, 1);
	fx_rule(lvl1, "weighted");
	fx_ep(lvl1, "192.0.2.1", 1)->health = strdup("a");
	fx_ep(lvl1, "192.0.2.2", 1)->health = strdup("b");
	fx_ep(&s, "192.0.2.9", 1);
	policy_t *p = fx_compile(&s);
	assert_true(eval_one(p, NULL, 0) == 1 || eval_one(p, NULL, 0) == 2);
	const char *a_down[] = { "a" };
	assert_int_equal(eval_one(p, a_down, 1), 2);
	const char *ab_down[] = { "a", "b" };
	assert_int_equal(eval_one(p, ab_down, 2), 9);
	policy_free(p);
}

static void expect_error(policy_spec_t *s, const char *want)
{
	char err[512];
	fx_compile_fails(s, err, sizeof(err));
	if (strstr(err, want) == NULL) {
		fail_msg("error '%s' lacks '%s'", err, want);
	}
}

static void test_compile_errors(void **state)
{
	(void)state;
	policy_spec_t s;
	fx_top(&s, "www", "A", "weighted");
	fx_ep(&s, "192.0.2.1", 1);
	fx_ep(&s, "not-an-address", 1);
	expect_error(&s, "test.yaml:101: rdata 'not-an-address' is not a valid A record");

	fx_top(&s, "www", "A", "weighted");
	fx_add(&fx_ep(&s, "192.0.2.1", 1)->cidrs, "10.0.0.0/8");
	expect_error(&s, "test.yaml:100: 'cidrs' does not apply to the weighted rule");

	fx_top(&s, "www", "A", "ip");
	fx_add(&fx_ep(&s, "192.0.2.1", 1)->cidrs, "10.0.0.1/8");
	expect_error(&s, "'10.0.0.1/8' is not a prefix");

	fx_top(&s, "www", "A", "ip");
	fx_add(&fx_ep(&s, "192.0.2.1", 1)->cidrs, "10.0.0.0/8");
	fx_add(&fx_ep(&s, "192.0.2.2", 1)->cidrs, "10.0.0.0/8");
	expect_error(&s, "test.yaml:101: prefix 10.0.0.0/8 is listed twice");

	fx_top(&s, "www", "A", "weighted");
	fx_ep(&s, "192.0.2.1", 0);
	expect_error(&s, "test.yaml:1: every endpoint has weight 0");

	fx_top(&s, "www", "CNAME", "multivalue");
	fx_ep(&s, "a.example.net.", 1);
	expect_error(&s, "a CNAME answers one target");

	fx_top(&s, "www", "TXT", "weighted");
	fx_ep(&s, "\"x\"", 1);
	expect_error(&s, "type must be A, AAAA, CNAME or ALIAS, not 'TXT'");

	fx_top(&s, "www.example.org.", "A", "weighted");
	fx_ep(&s, "192.0.2.1", 1);
	expect_error(&s, "name 'www.example.org.' is outside the zone");

	fx_top(&s, "www", "A", "roundrobin");
	fx_ep(&s, "192.0.2.1", 1);
	expect_error(&s, "rule must be weighted, failover, multivalue, ip, geo or latency, not 'roundrobin'");

	fx_top(&s, "www", "A", "ip");
	fx_ep(&s, "192.0.2.1", 1);
	expect_error(&s, "needs 'cidrs'");

	fx_top(&s, "www", "A", "weighted");
	policy_spec_t *e = fx_ep(&s, "192.0.2.1", 1);
	fx_rule(e, "weighted");
	expect_error(&s, "test.yaml:100: an endpoint needs either 'rdata' or a nested 'rule'");

	fx_top(&s, "www", "A", "geo");
	fx_ep(&s, "192.0.2.1", 1)->is_default = true;
	expect_error(&s, "the geo rule needs either 'map' (a CIDR map file) or 'mmdb'");

	fx_top(&s, "www", "A", "weighted");
	s.pick = 3;
	fx_ep(&s, "192.0.2.1", 1);
	expect_error(&s, "pick 3 is more than the 1 endpoints");

	/* nesting is bounded */
	fx_top(&s, "www", "A", "failover");
	policy_spec_t *at = &s;
	for (int d = 0; d < POLICY_DEPTH_MAX; d++) {
		at = fx_ep(at, NULL, 1);
		fx_rule(at, "failover");
	}
	fx_ep(at, "192.0.2.1", 1);
	expect_error(&s, "rules nest at most");
}

static void test_health_snapshot(void **state)
{
	(void)state;
	const char *down[] = { "a", "b", "a" };
	policy_health_t *h;
	assert_int_equal(policy_health_new(down, 3, &h), 0);
	assert_false(policy_health_up(h, "a"));
	assert_false(policy_health_up(h, "b"));
	assert_true(policy_health_up(h, "c"));
	assert_true(policy_health_up(h, NULL));
	assert_true(policy_health_up(NULL, "a"));
	policy_health_free(h);
	/* many keys: the table grows */
	char names[100][8];
	const char *many[100];
	for (int i = 0; i < 100; i++) {
		snprintf(names[i], sizeof(names[i]), "k%d", i);
		many[i] = names[i];
	}
	assert_int_equal(policy_health_new(many, 100, &h), 0);
	for (int i = 0; i < 100; i++) {
		assert_false(policy_health_up(h, many[i]));
	}
	assert_true(policy_health_up(h, "k100"));
	policy_health_free(h);
}

/* Same seed, same sequence; below() stays in range and covers it. */
static void test_rng(void **state)
{
	(void)state;
	policy_rng_t a, b;
	policy_rng_seed(&a, 7);
	policy_rng_seed(&b, 7);
	for (int i = 0; i < 100; i++) {
		assert_true(policy_rng_next(&a) == policy_rng_next(&b));
	}
	unsigned hit[7] = { 0 };
	for (int i = 0; i < 7000; i++) {
		uint64_t v = policy_rng_below(&a, 7);
		assert_true(v < 7);
		hit[v]++;
	}
	for (int i = 0; i < 7; i++) {
		assert_in_range(hit[i], 850, 1150);
	}
	assert_non_null(policy_rng_thread());
	assert_ptr_equal(policy_rng_thread(), policy_rng_thread());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weighted_distribution),
		cmocka_unit_test(test_weighted_pick_and_health),
		cmocka_unit_test(test_failover_levels),
		cmocka_unit_test(test_fail_closed),
		cmocka_unit_test(test_multivalue),
		cmocka_unit_test(test_ip_longest_prefix),
		cmocka_unit_test(test_geo),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_health_snapshot),
		cmocka_unit_test(test_rng),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
