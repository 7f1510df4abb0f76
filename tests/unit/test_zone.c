/* SPDX-License-Identifier: Apache-2.0
 * test_zone.c -- zone loading and semantic checks (zone/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"
#include "util/error.h"

#define SOA_NS \
	"$TTL 300\n" \
	"@ IN SOA ns1 hostmaster 1 3600 900 604800 60\n" \
	"@ NS ns1\n" \
	"ns1 A 192.0.2.1\n"

static const zone_node_t *find_str(const zone_t *zone, const char *name)
{
	knot_dname_storage_t wire;
	assert_non_null(knot_dname_from_str(wire, name, sizeof(wire)));
	knot_dname_to_lower(wire);
	return zone_find(zone, wire);
}

static void test_load_basic(void **state)
{
	(void)state;
	zone_t *zone = must_load("example.com", SOA_NS
		"WWW A 192.0.2.10\n"
		"www AAAA 2001:db8::10\n"
		"a.b.c TXT \"deep\"\n");
	assert_int_equal(zone->record_count, 6);
	const zone_node_t *www = find_str(zone, "www.example.com.");
	assert_non_null(www);
	assert_int_equal(www->rrset_count, 2);
	assert_non_null(zone_node_rrset(www, KNOT_RRTYPE_AAAA));
	/* b.c and c are empty non-terminals */
	const zone_node_t *ent = find_str(zone, "b.c.example.com.");
	assert_non_null(ent);
	assert_true(zone_node_empty(ent));
	assert_non_null(find_str(zone, "c.example.com."));
	assert_null(find_str(zone, "nope.example.com."));
	assert_non_null(zone->soa);
	assert_int_equal(zone->cut_count, 0);
	zone_free(zone);
}

static void expect_error(const char *text, const char *needle)
{
	diag_capture_t diag;
	zone_t *zone = NULL;
	int rc = load_zone_text("example.com", text, &diag, &zone);
	assert_true(rc < 0);
	assert_null(zone);
	if (strstr(diag.text, needle) == NULL) {
		fail_msg("expected '%s' in diagnostics:\n%s", needle, diag.text);
	}
}

static void test_semantic_errors(void **state)
{
	(void)state;
	expect_error("@ NS ns1\nns1 A 192.0.2.1\n", ":0: error: no SOA record");
	expect_error(SOA_NS "alias CNAME www\nalias A 192.0.2.9\n",
	             ":6: error: CNAME and other data at alias.example.com.");
	expect_error(SOA_NS "x A 192.0.2.9\nx CNAME www\n", ":6: error: CNAME and other data");
	expect_error(SOA_NS "@ SOA ns2 h 2 1 1 1 1\n", ":5: error: more than one SOA");
	expect_error(SOA_NS "sub SOA ns1 h 2 1 1 1 1\n", "not at the zone apex");
	expect_error(SOA_NS "d DNAME example.net.\nx.d A 192.0.2.7\n",
	             ":5: error: DNAME at d.example.com. has data below it");
	expect_error(SOA_NS "child NS ns.child\n", ":5: error: missing glue");
	expect_error(SOA_NS "@ NS ns2\n", "NS ns2.example.com. of example.com. has no A or AAAA");
	expect_error(SOA_NS "bad A 300.1.1.1\n", ":5: error:");
	expect_error("@ SOA ns1 h 1 1 1 1 1\n", "no NS records");
}

static void test_out_of_zone_warns(void **state)
{
	(void)state;
	diag_capture_t diag;
	zone_t *zone = NULL;
	assert_int_equal(load_zone_text("example.com", SOA_NS
		"www.example.org. A 192.0.2.1\n", &diag, &zone), 0);
	assert_non_null(zone);
	assert_int_equal(diag.warnings, 1);
	assert_non_null(strstr(diag.text, ":5: warning: www.example.org. A is outside the zone"));
	assert_int_equal(zone->record_count, 3);
	zone_free(zone);
}

static void test_delegation_and_glue(void **state)
{
	(void)state;
	zone_t *zone = must_load("example.com", SOA_NS
		"child NS ns.child\nns.child A 192.0.2.53\n"
		"other NS ns.example.net.\n");
	assert_int_equal(zone->cut_count, 2);
	const zone_node_t *child = find_str(zone, "child.example.com.");
	assert_true(child->flags & ZONE_NODE_NS);
	zone_free(zone);
}

static void test_include(void **state)
{
	(void)state;
	char dir[] = "/tmp/cirrus-inc-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char inc[256], main_path[256];
	snprintf(inc, sizeof(inc), "%s/part.inc", dir);
	snprintf(main_path, sizeof(main_path), "%s/main.zone", dir);
	FILE *f = fopen(inc, "w");
	fputs("host A 192.0.2.80\nbroken A 1.2.3\n", f);
	fclose(f);
	f = fopen(main_path, "w");
	fputs(SOA_NS "$INCLUDE part.inc sub\nafter A 192.0.2.81\n", f);
	fclose(f);
	diag_capture_t diag = { 0 };
	zone_t *zone = NULL;
	int rc = zone_load_file(main_path, "example.com.", diag_capture, &diag, &zone);
	assert_int_equal(rc, CIRRUS_EPARSE);
	assert_non_null(strstr(diag.text, "part.inc:2: error:"));
	/* fix the include and load again: origin applies to the included file only */
	f = fopen(inc, "w");
	fputs("host A 192.0.2.80\n", f);
	fclose(f);
	rc = zone_load_file(main_path, "example.com.", NULL, NULL, &zone);
	assert_int_equal(rc, 0);
	assert_non_null(find_str(zone, "host.sub.example.com."));
	assert_non_null(find_str(zone, "after.example.com."));
	zone_free(zone);
	unlink(inc);
	unlink(main_path);
	rmdir(dir);
}

static void test_generate_in_zone(void **state)
{
	(void)state;
	zone_t *zone = must_load("example.com", SOA_NS
		"$GENERATE 1-4 host$ A 192.0.2.$\n"
		"last A 192.0.2.99\n");
	assert_non_null(find_str(zone, "host1.example.com."));
	assert_non_null(find_str(zone, "host4.example.com."));
	assert_null(find_str(zone, "host5.example.com."));
	assert_non_null(find_str(zone, "last.example.com."));
	assert_int_equal(zone->record_count, 8);
	zone_free(zone);
	expect_error(SOA_NS "$GENERATE 5-1 host$ A 192.0.2.$\n", ":5: error: invalid $GENERATE");
}

static void test_zone_set(void **state)
{
	(void)state;
	zone_t *parent = must_load("example.com", SOA_NS);
	zone_t *child = must_load("sub.example.com", SOA_NS);
	zone_t *zones[] = { parent, child };
	zone_set_t *set = NULL;
	assert_int_equal(zone_set_new(zones, 2, &set), 0);
	knot_dname_storage_t name;
	knot_dname_from_str(name, "a.b.sub.example.com.", sizeof(name));
	assert_ptr_equal(zone_set_find(set, name, false), child);
	knot_dname_from_str(name, "sub.example.com.", sizeof(name));
	assert_ptr_equal(zone_set_find(set, name, false), child);
	assert_ptr_equal(zone_set_find(set, name, true), parent);
	knot_dname_from_str(name, "example.org.", sizeof(name));
	assert_null(zone_set_find(set, name, false));
	zone_t *dup[] = { parent, parent };
	zone_set_t *bad = NULL;
	assert_int_equal(zone_set_new(dup, 2, &bad), CIRRUS_EEXIST);
	zone_set_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_basic),
		cmocka_unit_test(test_semantic_errors),
		cmocka_unit_test(test_out_of_zone_warns),
		cmocka_unit_test(test_delegation_and_glue),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_generate_in_zone),
		cmocka_unit_test(test_zone_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
