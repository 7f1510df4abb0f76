/* SPDX-License-Identifier: Apache-2.0
 * test_zone_chunks.c -- the node table's copy-on-write chunks
 * (zone/zone_chunks.c): a version copies only the chunks it writes, the
 * base keeps serving from its own, and each chunk is freed exactly once
 * whatever order the versions go in (ASan fails a double free or a leak).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helpers.h"
#include "util/error.h"

#define NAMES 3000   /* 3003 nodes: 8192 slots, 16 chunks */

static const knot_dname_t *dn(const char *fmt, int i)
{
	static knot_dname_storage_t buf;
	char text[64];
	snprintf(text, sizeof(text), fmt, i);
	assert_non_null(knot_dname_from_str(buf, text, sizeof(buf)));
	return buf;
}

static zone_t *big_zone(void)
{
	size_t size = 128 + NAMES * 32;
	char *text = malloc(size);
	assert_non_null(text);
	int at = snprintf(text, size, "$TTL 300\n@ SOA ns1 hostmaster 7 3600 900 604800 60\n"
	                  "@ NS ns1\nns1 A 192.0.2.1\n");
	for (int i = 0; i < NAMES; i++) {
		at += snprintf(text + at, size - at, "h%d A 192.0.2.2\n", i);
	}
	zone_t *z = must_load("example.com", text);
	free(text);
	return z;
}

static void put_a(zone_update_t *u, const knot_dname_t *owner)
{
	knot_rdataset_t rrs = { 0 };
	uint8_t buf[sizeof(knot_rdata_t) + 4];
	knot_rdata_init((knot_rdata_t *)buf, 4, (const uint8_t *)"\xc0\x00\x02\x09");
	assert_int_equal(knot_rdataset_add(&rrs, (knot_rdata_t *)buf, NULL), KNOT_EOK);
	assert_int_equal(zone_update_put_rrset(u, owner, KNOT_RRTYPE_A, 60, &rrs), 0);
	knot_rdataset_clear(&rrs, NULL);
}

static void del(zone_update_t *u, const knot_dname_t *owner)
{
	assert_int_equal(zone_update_put_rrset(u, owner, KNOT_RRTYPE_ANY, 0, NULL), 0);
}

/* Whether names fmt % from..to-1 are all present (or all absent). */
static void expect_names(const zone_t *z, const char *fmt, int from, int to, bool present)
{
	for (int i = from; i < to; i++) {
		const zone_node_t *n = zone_find(z, dn(fmt, i));
		if (present) {
			assert_non_null(n);
		} else {
			assert_null(n);
		}
	}
}

static size_t chunks_of(const zone_t *z)
{
	return (z->table_mask + 1) / ZONE_CHUNK_SLOTS;
}

static size_t chunks_differing(const zone_t *a, const zone_t *b)
{
	size_t n = 0;
	for (size_t c = 0; c < chunks_of(a); c++) {
		n += a->table[c] != b->table[c];
	}
	return n;
}

static zone_t *commit(zone_update_t *u)
{
	zone_t *next = NULL;
	assert_int_equal(zone_update_commit(u, &next), 0);
	return next;
}

static void test_one_change_copies_few_chunks(void **state)
{
	(void)state;
	zone_t *v1 = big_zone();
	assert_int_equal(chunks_of(v1), 16);
	zone_update_t *u = NULL;
	assert_int_equal(zone_update_new(v1, &u), 0);
	put_a(u, dn("new%d.example.com.", 0));
	assert_int_equal(zone_update_set_serial(u, 8), 0);
	zone_t *v2 = commit(u);

	/* the new name's slot and the apex's (copied for the serial): at most
	 * two chunks; the others are the base's own */
	size_t copied = chunks_differing(v1, v2);
	assert_true(copied >= 1 && copied <= 2);
	assert_int_equal(v1->retired_chunk_count, copied);
	expect_names(v1, "new%d.example.com.", 0, 1, false);
	expect_names(v2, "new%d.example.com.", 0, 1, true);
	expect_names(v1, "h%d.example.com.", 0, NAMES, true);
	expect_names(v2, "h%d.example.com.", 0, NAMES, true);
	assert_int_equal(knot_soa_serial(v1->soa->rrs.rdata), 7);
	assert_int_equal(knot_soa_serial(v2->soa->rrs.rdata), 8);

	/* a third version, writing to a chunk v2 still shares with v1: v2
	 * owns it from now on (versions are freed oldest first) */
	assert_int_equal(zone_update_new(v2, &u), 0);
	put_a(u, dn("new%d.example.com.", 1));
	for (int i = 0; i < NAMES; i += 100) {
		del(u, dn("h%d.example.com.", i));
	}
	zone_t *v3 = commit(u);
	assert_true(v2->retired_chunk_count > copied);
	expect_names(v1, "h%d.example.com.", 0, NAMES, true);
	expect_names(v2, "h%d.example.com.", 0, NAMES, true);
	zone_free(v1);
	expect_names(v2, "new%d.example.com.", 0, 1, true);
	expect_names(v3, "new%d.example.com.", 0, 2, true);
	zone_free(v2);
	expect_names(v3, "h%d.example.com.", 1, 100, true);
	expect_names(v3, "h%d.example.com.", 0, 1, false);
	zone_free(v3);
}

static void test_growth_during_update(void **state)
{
	(void)state;
	zone_t *v1 = big_zone();
	size_t before = chunks_of(v1);
	zone_update_t *u = NULL;
	assert_int_equal(zone_update_new(v1, &u), 0);
	/* a few chunks copied first, then the table doubles (twice) */
	for (int i = 0; i < 6000; i++) {
		put_a(u, dn("g%d.example.com.", i));
	}
	zone_t *v2 = commit(u);
	assert_true(chunks_of(v2) >= 4 * before);
	/* every chunk of the base was replaced: the base owns them all now */
	assert_int_equal(v1->retired_chunk_count, before);
	expect_names(v2, "g%d.example.com.", 0, 6000, true);
	expect_names(v2, "h%d.example.com.", 0, NAMES, true);
	expect_names(v1, "g%d.example.com.", 0, 6000, false);
	expect_names(v1, "h%d.example.com.", 0, NAMES, true);
	zone_free(v2); /* newest first this time */
	zone_free(v1);
}

static void test_removal_shifts_in_copies(void **state)
{
	(void)state;
	zone_t *v1 = big_zone();
	zone_update_t *u = NULL;
	assert_int_equal(zone_update_new(v1, &u), 0);
	for (int i = 0; i < NAMES; i += 2) {
		del(u, dn("h%d.example.com.", i));
	}
	zone_t *v2 = commit(u);
	assert_int_equal(v2->node_count, v1->node_count - NAMES / 2);
	for (int i = 0; i < NAMES; i++) {
		assert_int_equal(zone_find(v2, dn("h%d.example.com.", i)) != NULL, i % 2 == 1);
	}
	expect_names(v1, "h%d.example.com.", 0, NAMES, true);
	zone_free(v1);
	zone_free(v2);
}

static void test_abort_keeps_base(void **state)
{
	(void)state;
	zone_t *v1 = big_zone();
	zone_node_t **first = v1->table[0];
	zone_update_t *u = NULL;
	assert_int_equal(zone_update_new(v1, &u), 0);
	for (int i = 0; i < 500; i++) {
		del(u, dn("h%d.example.com.", i));
	}
	for (int i = 0; i < 5000; i++) { /* and a doubling */
		put_a(u, dn("a%d.example.com.", i));
	}
	zone_update_abort(u);
	assert_false(v1->superseded);
	assert_ptr_equal(v1->table[0], first);
	expect_names(v1, "h%d.example.com.", 0, NAMES, true);
	expect_names(v1, "a%d.example.com.", 0, 5000, false);

	/* the base takes another update as if nothing happened */
	assert_int_equal(zone_update_new(v1, &u), 0);
	put_a(u, dn("a%d.example.com.", 0));
	zone_t *v2 = commit(u);
	expect_names(v2, "a%d.example.com.", 0, 1, true);
	zone_free(v1);
	zone_free(v2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_change_copies_few_chunks),
		cmocka_unit_test(test_growth_during_update),
		cmocka_unit_test(test_removal_shifts_in_copies),
		cmocka_unit_test(test_abort_keeps_base),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
