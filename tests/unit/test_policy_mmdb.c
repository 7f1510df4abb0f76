/* SPDX-License-Identifier: Apache-2.0
 * test_policy_mmdb.c -- the geo rule over MaxMind databases (policy_mmdb.c
 * through libmaxminddb): subdivision over country over continent over the
 * default, the scope from the database network, IPv4 and IPv6 trees, and
 * load errors. The databases are written at build time by
 * tests/system/mmdb_writer.py from data/geo_v6.json and data/geo_v4.json;
 * their paths are the arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_policy_fixture.h"

static const char *mmdb_v6, *mmdb_v4;

/* Endpoints: .1 US-CA, .2 US, .3 EU, .4 DE, .5 GB-ENG, .6 GB-LND (with
 * health key "lnd"), .9 the default. */
static policy_spec_t *geo_spec(policy_spec_t *s, const char *mmdb)
{
	fx_top(s, "geo", "A", "geo");
	s->mmdb = strdup(mmdb);
	fx_add(&fx_ep(s, "192.0.2.1", 1)->subdivisions, "US-CA");
	fx_add(&fx_ep(s, "192.0.2.2", 1)->countries, "US");
	fx_add(&fx_ep(s, "192.0.2.3", 1)->continents, "EU");
	fx_add(&fx_ep(s, "192.0.2.4", 1)->countries, "DE");
	fx_add(&fx_ep(s, "192.0.2.5", 1)->subdivisions, "GB-ENG");
	policy_spec_t *lnd = fx_ep(s, "192.0.2.6", 1);
	fx_add(&lnd->subdivisions, "GB-LND");
	lnd->health = strdup("lnd");
	fx_ep(s, "192.0.2.9", 1)->is_default = true;
	return s;
}

/* Most specific wins; the scope is the database network's prefix length,
 * in the client's family, also where the database has no record. */
static void test_mmdb_match_and_scope(void **state)
{
	(void)state;
	policy_spec_t s;
	policy_t *p = fx_compile(geo_spec(&s, mmdb_v6));
	uint8_t scope;
	assert_int_equal(fx_answer(p, NULL, "10.1.2.0/24", &scope), 1);  /* US-CA */
	assert_int_equal(scope, 16);
	assert_int_equal(fx_answer(p, NULL, "10.2.200.7", &scope), 2);   /* US, TX not listed */
	assert_int_equal(scope, 16);
	assert_int_equal(fx_answer(p, NULL, "10.3.0.0/24", &scope), 3);  /* FR: continent EU */
	assert_int_equal(scope, 24);
	assert_int_equal(fx_answer(p, NULL, "10.3.1.0/24", &scope), 4);  /* DE beats EU */
	assert_int_equal(fx_answer(p, NULL, "10.4.0.0/24", &scope), 9);  /* JP: nobody */
	assert_int_equal(scope, 16);
	assert_int_equal(fx_answer(p, NULL, "10.5.0.0/24", &scope), 6);  /* LND beats ENG */
	assert_int_equal(fx_answer(p, NULL, "10.6.0.0/24", &scope), 9);  /* no location */
	assert_int_equal(fx_answer(p, NULL, "2001:db8:1:2::/64", &scope), 4);
	assert_int_equal(scope, 48);
	/* no record: 11/8 leaves 10/8 at its 8th bit; 10.0/16 leaves 10.1 at
	 * the 16th, which is longer than the 8 bits the client gave */
	assert_int_equal(fx_answer(p, NULL, "11.0.0.0/24", &scope), 9);
	assert_int_equal(scope, 8);
	assert_int_equal(fx_answer(p, NULL, "10.0.0.0/8", &scope), 9);
	assert_int_equal(scope, 16);
	assert_int_equal(fx_answer(p, NULL, "0.0.0.0/0", &scope), 9);
	assert_int_equal(scope, 0);  /* "do not locate me" */

	/* an unhealthy subdivision falls back to the next one */
	policy_health_t *h;
	const char *down[] = { "lnd" };
	assert_int_equal(policy_health_new(down, 1, &h), 0);
	assert_int_equal(fx_answer(p, h, "10.5.0.0/24", &scope), 5);
	policy_health_free(h);
	policy_free(p);
}

/* An IPv4 database: IPv4 scopes without the ::/96 offset; an IPv6 client
 * is unknown to it and gets the default with scope 0. */
static void test_mmdb_ipv4_database(void **state)
{
	(void)state;
	policy_spec_t s;
	policy_t *p = fx_compile(geo_spec(&s, mmdb_v4));
	uint8_t scope;
	assert_int_equal(fx_answer(p, NULL, "10.1.9.0/24", &scope), 2);
	assert_int_equal(scope, 16);
	assert_int_equal(fx_answer(p, NULL, "2001:db8:1::/48", &scope), 9);
	assert_int_equal(scope, 0);
	policy_free(p);
}

static void expect_load_error(const char *mmdb, const char *want)
{
	policy_spec_t s;
	char err[512];
	fx_compile_fails(geo_spec(&s, mmdb), err, sizeof(err));
	if (strstr(err, want) == NULL) {
		fail_msg("error '%s' lacks '%s'", err, want);
	}
}

/* Copy of the v6 database with bytes [at, at + n) set to value. */
static void write_damaged(const char *path, long at, int value, size_t n)
{
	FILE *in = fopen(mmdb_v6, "rb"), *out = fopen(path, "wb");
	assert_non_null(in);
	assert_non_null(out);
	int c;
	for (long i = 0; (c = fgetc(in)) != EOF; i++) {
		fputc(i >= at && i < at + (long)n ? value : c, out);
	}
	fclose(in);
	fclose(out);
}

/* Errors name the configuration line and the file, then the reason. */
static void test_mmdb_load_errors(void **state)
{
	(void)state;
	expect_load_error("/nonexistent/geo.mmdb", "test.yaml:1: mmdb /nonexistent/geo.mmdb: "
	                  "Error opening the specified MaxMind DB file (No such file or directory)");

	char path[] = "/tmp/cirrus-mmdb-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a database\n", 15), 15);
	close(fd);
	char want[256];
	snprintf(want, sizeof(want), "mmdb %s: The MaxMind DB file contains invalid metadata", path);
	expect_load_error(path, want);

	/* node 0 pointing past the data section: found at load, not per query */
	write_damaged(path, 0, 0xff, 3);
	snprintf(want, sizeof(want), "mmdb %s: The MaxMind DB file's search tree is corrupt", path);
	expect_load_error(path, want);
	unlink(path);

	policy_spec_t s;
	geo_spec(&s, mmdb_v6);
	s.map = strdup("geo.cidr");
	char err[512];
	fx_compile_fails(&s, err, sizeof(err));
	assert_non_null(strstr(err, "either 'map' (a CIDR map file) or 'mmdb' (a MaxMind "
	                            "database), not both"));

	fx_top(&s, "geo", "A", "geo");
	s.mmdb = strdup(mmdb_v6);
	fx_add(&fx_ep(&s, "192.0.2.1", 1)->subdivisions, "California");
	fx_compile_fails(&s, err, sizeof(err));
	assert_non_null(strstr(err, "test.yaml:100: subdivision 'California' is not an "
	                            "upper-case ISO 3166-2 code such as US-CA"));
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s GEO_V6.mmdb GEO_V4.mmdb\n", argv[0]);
		return 2;
	}
	mmdb_v6 = argv[1];
	mmdb_v4 = argv[2];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmdb_match_and_scope),
		cmocka_unit_test(test_mmdb_ipv4_database),
		cmocka_unit_test(test_mmdb_load_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
