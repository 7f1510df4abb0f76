/* SPDX-License-Identifier: Apache-2.0
 * test_policy_latency.c -- the latency rule (policy_latency.c): the
 * fastest region with a healthy endpoint answers, longest prefix first,
 * then shorter ones, then the default; the scope of the prefix lookup;
 * table and declaration errors with their file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_policy_fixture.h"

static const char TABLE[] =
	"# prefix        region    ms\n"
	"10.1.0.0/16     eu-west   12\n"
	"10.1.0.0/16     us-east   80\n"
	"10.1.0.0/16     ap-south  150\n"
	"10.1.2.0/24     us-east   5     # a fast path to us-east\n"
	"10.1.2.0/24     eu-west   40\n"
	"\n"
	"10.2.0.0/16     us-east   20.5\n"
	"10.2.0.0/16     eu-west   20.25\n"
	"10.3.0.0/16     mars      1\n"
	"2001:db8::/32   eu-west   90\n"
	"2001:db8::/32   ap-south  9\n";

typedef struct table_file {
	char path[32];
} table_file_t;

static void table_write(table_file_t *t, const char *text)
{
	strcpy(t->path, "/tmp/cirrus-lat-XXXXXX");
	int fd = mkstemp(t->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* .1 eu-west (health "eu"), .2 us-east (health "us"), .3 ap-south, .9 default. */
static policy_spec_t *latency_spec(policy_spec_t *s, const char *table)
{
	fx_top(s, "api", "A", "latency");
	s->latency = strdup(table);
	policy_spec_t *e = fx_ep(s, "192.0.2.1", 1);
	e->region = strdup("eu-west");
	e->health = strdup("eu");
	e = fx_ep(s, "192.0.2.2", 1);
	e->region = strdup("us-east");
	e->health = strdup("us");
	fx_ep(s, "192.0.2.3", 1)->region = strdup("ap-south");
	fx_ep(s, "192.0.2.9", 1)->is_default = true;
	return s;
}

static policy_health_t *down(const char *a, const char *b)
{
	const char *keys[] = { a, b };
	policy_health_t *h;
	assert_int_equal(policy_health_new(keys, b ? 2 : 1, &h), 0);
	return h;
}

static void test_latency_order_and_scope(void **state)
{
	(void)state;
	table_file_t t;
	table_write(&t, TABLE);
	policy_spec_t s;
	policy_t *p = fx_compile(latency_spec(&s, t.path));
	uint8_t scope;
	assert_int_equal(fx_answer(p, NULL, "10.1.5.0/24", &scope), 1);   /* eu-west 12 */
	assert_int_equal(scope, 22);  /* 10.1.5 leaves 10.1.2/24 after 21 bits */
	assert_int_equal(fx_answer(p, NULL, "10.1.2.0/24", &scope), 2);   /* us-east 5 */
	assert_int_equal(scope, 24);
	assert_int_equal(fx_answer(p, NULL, "10.2.0.0/24", &scope), 1);   /* 20.25 < 20.5 */
	assert_int_equal(scope, 16);
	assert_int_equal(fx_answer(p, NULL, "10.3.0.0/24", &scope), 9);   /* mars: nobody */
	assert_int_equal(fx_answer(p, NULL, "2001:db8:5::/48", &scope), 3);
	assert_int_equal(scope, 32);
	assert_int_equal(fx_answer(p, NULL, "192.0.2.1", &scope), 9);
	assert_int_equal(fx_answer(p, NULL, "0.0.0.0/0", &scope), 9);
	assert_int_equal(scope, 0);

	/* unhealthy regions are skipped: the next fastest, then a shorter prefix */
	policy_health_t *h = down("us", NULL);
	assert_int_equal(fx_answer(p, h, "10.1.2.0/24", &scope), 1);
	policy_health_free(h);
	h = down("us", "eu");
	assert_int_equal(fx_answer(p, h, "10.1.2.0/24", &scope), 3);     /* via 10.1/16 */
	assert_int_equal(fx_answer(p, h, "10.2.0.0/24", &scope), 9);     /* the default */
	policy_health_free(h);
	policy_free(p);
	unlink(t.path);
}

/* Every healthy endpoint of the fastest region answers. */
static void test_latency_region_with_two_endpoints(void **state)
{
	(void)state;
	table_file_t t;
	table_write(&t, "10.0.0.0/8 b 3\n10.0.0.0/8 a 7\n");
	policy_spec_t s;
	fx_top(&s, "api", "A", "latency");
	s.latency = strdup(t.path);
	fx_ep(&s, "192.0.2.1", 1)->region = strdup("a");
	fx_ep(&s, "192.0.2.2", 1)->region = strdup("b");
	policy_spec_t *e = fx_ep(&s, "192.0.2.3", 1);
	e->region = strdup("b");
	e->health = strdup("b3");
	policy_t *p = fx_compile(&s);
	policy_addr_t c = fx_addr("10.9.0.0/16");
	policy_rng_t rng;
	policy_rng_seed(&rng, 1);
	policy_answer_t a;
	policy_eval(p, NULL, &c, &rng, &a);
	assert_int_equal(a.count, 2);
	assert_int_equal(fx_last_octet(&a, 0), 2);
	assert_int_equal(fx_last_octet(&a, 1), 3);
	policy_health_t *h = down("b3", NULL);
	policy_eval(p, h, &c, &rng, &a);
	assert_int_equal(a.count, 1);
	assert_int_equal(fx_last_octet(&a, 0), 2);
	policy_health_free(h);
	policy_free(p);
	unlink(t.path);
}

static void expect_error(policy_spec_t *s, const char *want)
{
	char err[512];
	fx_compile_fails(s, err, sizeof(err));
	if (strstr(err, want) == NULL) {
		fail_msg("error '%s' lacks '%s'", err, want);
	}
}

static void expect_table_error(const char *text, const char *want)
{
	table_file_t t;
	table_write(&t, text);
	policy_spec_t s;
	char full[256];
	snprintf(full, sizeof(full), "%s:%s", t.path, want);
	expect_error(latency_spec(&s, t.path), full);
	unlink(t.path);
}

static void test_latency_errors(void **state)
{
	(void)state;
	expect_table_error("10.1.0.0/16 eu-west 12\n10.1.0.0/16 eu-west fast\n",
	                   "2: not milliseconds from 0 to 600000: 'fast' (lines are PREFIX "
	                   "REGION MILLISECONDS, e.g. 192.0.2.0/24 eu-west 23)");
	expect_table_error("# x\n10.1.0.0/16 eu-west 12\n10.2.0.0/16 us-east 1\n"
	                   "10.1.0.0/16 eu-west 13\n",
	                   "4: region measured twice for this prefix: 'eu-west'");
	expect_table_error("10.1.0.1/16 eu-west 12\n", "1: not a prefix: '10.1.0.1/16'");
	expect_table_error("10.1.0.0/16 eu-west\n", "1: too few fields after '10.1.0.0/16'");
	expect_table_error("10.1.0.0/16 eu-west 1 2\n", "1: more than three fields: '2'");
	expect_table_error("10.1.0.0/16 eu-west -1\n", "1: not milliseconds");

	policy_spec_t s;
	expect_error(latency_spec(&s, "/nonexistent/latency.txt"),
	             "test.yaml:1: latency /nonexistent/latency.txt: No such file or directory");

	latency_spec(&s, "/nonexistent/latency.txt");
	free(s.latency);
	s.latency = NULL;
	expect_error(&s, "test.yaml:1: the latency rule needs 'latency'");

	fx_top(&s, "api", "A", "latency");
	s.latency = strdup("/nonexistent/latency.txt");
	fx_ep(&s, "192.0.2.1", 1);
	expect_error(&s, "test.yaml:100: an endpoint of the latency rule needs 'region'");

	fx_top(&s, "api", "A", "weighted");
	fx_ep(&s, "192.0.2.1", 1)->region = strdup("eu-west");
	expect_error(&s, "test.yaml:100: 'region' does not apply to the weighted rule");

	fx_top(&s, "api", "A", "ip");
	s.latency = strdup("/nonexistent/latency.txt");
	fx_add(&fx_ep(&s, "192.0.2.1", 1)->cidrs, "10.0.0.0/8");
	expect_error(&s, "test.yaml:1: 'latency' does not apply to the ip rule");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latency_order_and_scope),
		cmocka_unit_test(test_latency_region_with_two_endpoints),
		cmocka_unit_test(test_latency_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
