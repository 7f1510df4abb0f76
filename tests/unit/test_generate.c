/* SPDX-License-Identifier: Apache-2.0
 * test_generate.c -- $GENERATE expansion (zone/zone_generate.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/error.h"
#include "zone/zone_generate.h"

typedef struct collected {
	char text[4096];
	int count;
} collected_t;

static void collect(void *ctx, const char *record, size_t len, uint64_t line)
{
	collected_t *c = ctx;
	assert_int_equal(line, 7);
	strncat(c->text, record, len);
	c->count++;
}

static int gen(const char *line, collected_t *c)
{
	memset(c, 0, sizeof(*c));
	return zone_generate(line, strlen(line), 7, collect, c);
}

static void test_plain(void **state)
{
	(void)state;
	collected_t c;
	assert_int_equal(gen("$GENERATE 1-3 host$ A 10.0.0.$", &c), 0);
	assert_int_equal(c.count, 3);
	assert_string_equal(c.text, "host1 A 10.0.0.1\nhost2 A 10.0.0.2\nhost3 A 10.0.0.3\n");
}

static void test_step_ttl_class(void **state)
{
	(void)state;
	collected_t c;
	assert_int_equal(gen("$GENERATE 0-10/5 $.rev 60 IN PTR host-$.example. ; note", &c), 0);
	assert_string_equal(c.text, "0.rev 60 IN PTR host-0.example.\n"
	                            "5.rev 60 IN PTR host-5.example.\n"
	                            "10.rev 60 IN PTR host-10.example.\n");
}

static void test_modifiers(void **state)
{
	(void)state;
	collected_t c;
	assert_int_equal(gen("$GENERATE 10-10 h${0,4,d} CNAME x${-2,3,x}.${1,0,X}", &c), 0);
	assert_string_equal(c.text, "h0010 CNAME x008.B\n");
	assert_int_equal(gen("$GENERATE 255-255 ${0,0,n} PTR a${0,4,o}", &c), 0);
	assert_string_equal(c.text, "f.f PTR a0377\n");
	assert_int_equal(gen("$GENERATE 1-1 ${0,5,N} PTR \\$lit$", &c), 0);
	assert_string_equal(c.text, "1.0.0 PTR \\$lit1\n");
}

static void test_errors(void **state)
{
	(void)state;
	collected_t c;
	assert_int_equal(gen("$GENERATE 3-1 h$ A 10.0.0.$", &c), CIRRUS_EPARSE);
	assert_int_equal(gen("$GENERATE 1-3/0 h$ A 10.0.0.$", &c), CIRRUS_EPARSE);
	assert_int_equal(gen("$GENERATE x-3 h$ A 10.0.0.$", &c), CIRRUS_EPARSE);
	assert_int_equal(gen("$GENERATE 1-3 h$", &c), CIRRUS_EPARSE);
	assert_int_equal(gen("$GENERATE 1-3 h${0,1,q} A 10.0.0.1", &c), CIRRUS_EPARSE);
	assert_int_equal(gen("$GENERATE 1-3 h${0,1 A 10.0.0.1", &c), CIRRUS_EPARSE);
	assert_int_equal(gen("$GENERATE 0-99999999 h$ A 10.0.0.1", &c), CIRRUS_EPARSE);
	assert_int_equal(c.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_step_ttl_class),
		cmocka_unit_test(test_modifiers),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
