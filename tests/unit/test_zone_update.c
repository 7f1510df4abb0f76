/* SPDX-License-Identifier: Apache-2.0
 * test_zone_update.c -- incremental zone versions (zone/zone_update.c):
 * copy-on-write sharing, empty non-terminals, checks, abort, ownership.
 * Run under ASan, a node freed twice or leaked fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "helpers.h"
#include "util/error.h"

#define BASE \
	"$TTL 300\n" \
	"@ SOA ns1 hostmaster 7 3600 900 604800 60\n" \
	"@ NS ns1\n" \
	"ns1 A 192.0.2.1\n" \
	"www A 192.0.2.80\n" \
	"alias CNAME www\n"

static const knot_dname_t *dn(const char *name)
{
	static knot_dname_storage_t bufs[4];
	static int next;
	knot_dname_t *wire = bufs[next++ % 4];
	assert_non_null(knot_dname_from_str(wire, name, sizeof(bufs[0])));
	knot_dname_to_lower(wire);
	return wire;
}

static knot_rdataset_t a_set(const char *addr_bytes)
{
	knot_rdataset_t rrs = { 0 };
	uint8_t buf[sizeof(knot_rdata_t) + 4];
	knot_rdata_t *rd = (knot_rdata_t *)buf;
	knot_rdata_init(rd, 4, (const uint8_t *)addr_bytes);
	assert_int_equal(knot_rdataset_add(&rrs, rd, NULL), KNOT_EOK);
	return rrs;
}

static void test_add_shares_and_keeps_base(void **state)
{
	(void)state;
	zone_t *v1 = must_load("example.com", BASE);
	zone_update_t *u = NULL;
	assert_int_equal(zone_update_new(v1, &u), 0);
	knot_rdataset_t rrs = a_set("\xc0\x00\x02\x63");
	assert_int_equal(zone_update_put_rrset(u, dn("a.b.c.example.com."), KNOT_RRTYPE_A,
	                                       60, &rrs), 0);
	assert_int_equal(zone_update_set_serial(u, 8), 0);
	zone_t *v2 = NULL;
	assert_int_equal(zone_update_commit(u, &v2), 0);
	knot_rdataset_clear(&rrs, NULL);

	/* the old version still serves the old data */
	assert_null(zone_find(v1, dn("a.b.c.example.com.")));
	assert_int_equal(knot_soa_serial(v1->soa->rrs.rdata), 7);
	assert_true(v1->superseded);
	/* the new one has the name, its empty non-terminals, and the rest */
	assert_non_null(zone_find(v2, dn("a.b.c.example.com.")));
	assert_true(zone_node_empty(zone_find(v2, dn("b.c.example.com."))));
	assert_ptr_equal(zone_find(v2, dn("www.example.com.")),
	                 zone_find(v1, dn("www.example.com."))); /* shared */
	assert_int_equal(knot_soa_serial(v2->soa->rrs.rdata), 8);
	assert_int_equal(v2->record_count, v1->record_count + 1);
	zone_free(v1);
	zone_free(v2);
}

static void test_delete_prunes_empty_nonterminals(void **state)
{
	(void)state;
	zone_t *v1 = must_load("example.com", BASE "x.deep.tree A 192.0.2.5\n");
	zone_update_t *u = NULL;
	assert_int_equal(zone_update_new(v1, &u), 0);
	assert_int_equal(zone_update_put_rrset(u, dn("x.deep.tree.example.com."),
	                                       KNOT_RRTYPE_A, 0, NULL), 0);
	zone_t *v2 = NULL;
	assert_int_equal(zone_update_commit(u, &v2), 0);
	assert_null(zone_find(v2, dn("x.deep.tree.example.com.")));
	assert_null(zone_find(v2, dn("deep.tree.example.com.")));
	assert_null(zone_find(v2, dn("tree.example.com.")));
	assert_int_equal(zone_find(v2, dn("example.com."))->children, 3); /* ns1 www alias */
	assert_int_equal(v2->node_count, 4);

	/* a third version on top, then free oldest first */
	assert_int_equal(zone_update_new(v2, &u), 0);
	assert_int_equal(zone_update_put_rrset(u, dn("www.example.com."), KNOT_RRTYPE_ANY,
	                                       0, NULL), 0);
	assert_int_equal(zone_update_put_rrset(u, dn("alias.example.com."), KNOT_RRTYPE_CNAME,
	                                       0, NULL), 0);
	zone_t *v3 = NULL;
	assert_int_equal(zone_update_commit(u, &v3), 0);
	assert_null(zone_find(v3, dn("www.example.com.")));
	assert_non_null(zone_find(v2, dn("www.example.com.")));
	assert_int_equal(v3->record_count, 3);
	assert_int_equal(zone_update_new(v2, &u), CIRRUS_EINVAL); /* superseded */
	zone_free(v1);
	zone_free(v2);
	zone_free(v3);
}

static void test_rejected_change_aborts_cleanly(void **state)
{
	(void)state;
	zone_t *v1 = must_load("example.com", BASE);
	zone_update_t *u = NULL;
	assert_int_equal(zone_update_new(v1, &u), 0);
	knot_rdataset_t rrs = a_set("\xc0\x00\x02\x07");
	assert_int_equal(zone_update_put_rrset(u, dn("alias.example.com."), KNOT_RRTYPE_A,
	                                       60, &rrs), 0);
	zone_t *v2 = NULL;
	assert_int_equal(zone_update_commit(u, &v2), CIRRUS_ESEMANTIC);
	assert_non_null(strstr(zone_update_error(u), "CNAME and other data at alias.example.com."));
	zone_update_abort(u);
	assert_false(v1->superseded);

	assert_int_equal(zone_update_new(v1, &u), 0);
	assert_int_equal(zone_update_put_rrset(u, dn("www.example.org."), KNOT_RRTYPE_A,
	                                       60, &rrs), CIRRUS_EINVAL);
	assert_non_null(strstr(zone_update_error(u), "outside the zone"));
	assert_int_equal(zone_update_put_rrset(u, dn("sub.example.com."), KNOT_RRTYPE_SOA,
	                                       60, &rrs), CIRRUS_EINVAL);
	assert_int_equal(zone_update_put_rrset(u, dn("example.com."), KNOT_RRTYPE_NS,
	                                       60, NULL), 0);
	assert_int_equal(zone_update_commit(u, &v2), CIRRUS_ESEMANTIC); /* apex needs NS */
	zone_update_abort(u);
	knot_rdataset_clear(&rrs, NULL);
	/* the base is whole and still updatable */
	assert_non_null(zone_find(v1, dn("www.example.com.")));
	assert_int_equal(zone_update_new(v1, &u), 0);
	zone_update_abort(u);
	zone_free(v1);
}

static void test_single_records(void **state)
{
	(void)state;
	zone_t *v1 = must_load("example.com", BASE);
	zone_update_t *u = NULL;
	assert_int_equal(zone_update_new(v1, &u), 0);
	uint8_t buf[sizeof(knot_rdata_t) + 4];
	knot_rdata_t *rd = (knot_rdata_t *)buf;
	knot_rdata_init(rd, 4, (const uint8_t *)"\xc0\x00\x02\x51");
	assert_int_equal(zone_update_add_rr(u, dn("www.example.com."), KNOT_RRTYPE_A, 999, rd), 0);
	const zone_rrset_t *rs = zone_node_rrset(zone_update_find(u, dn("www.example.com.")),
	                                         KNOT_RRTYPE_A);
	assert_int_equal(rs->rrs.count, 2);
	assert_int_equal(rs->ttl, 300); /* the RRset keeps its TTL */
	assert_int_equal(zone_update_remove_rr(u, dn("www.example.com."), KNOT_RRTYPE_A, rd), 0);
	assert_int_equal(zone_update_remove_rr(u, dn("nope.example.com."), KNOT_RRTYPE_A, rd), 0);
	zone_t *v2 = NULL;
	assert_int_equal(zone_update_commit(u, &v2), 0);
	assert_int_equal(v2->record_count, v1->record_count);
	zone_free(v1);
	zone_free(v2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_shares_and_keeps_base),
		cmocka_unit_test(test_delete_prunes_empty_nonterminals),
		cmocka_unit_test(test_rejected_change_aborts_cleanly),
		cmocka_unit_test(test_single_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
