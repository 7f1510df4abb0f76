/* SPDX-License-Identifier: Apache-2.0
 * test_update_auth.c -- who may UPDATE: TSIG verification (BADKEY, BADSIG,
 * BADTIME answered as RFC 8945 asks), unsigned requests refused, per-key
 * rules (zone, name glob, types), a denied change leaving the whole update
 * undone, zone files refused, and key checks before storing.
 */
#include <time.h>

#include "helpers.h"
#include "update_fixture.h"

#define U KNOT_AUTHORITY

static void acme_txt(fixture_t *f, const char *owner)
{
	msg_rr(f, U, owner, KNOT_CLASS_IN, "TXT", 60, "\"token-value\"");
}

static void test_acme_add_and_delete(void **state)
{
	fixture_t *f = *state;
	uint32_t start = serial(f);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
	acme_txt(f, "_acme-challenge.www.example.com.");
	assert_int_equal(send_signed(f, ACME), KNOT_RCODE_NOERROR);
	assert_non_null(served(f, "_acme-challenge.www.example.com.", KNOT_RRTYPE_TXT));
	assert_int_equal(serial(f), start + 1);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
	msg_rr(f, U, "_ACME-challenge.WWW.example.com.", KNOT_CLASS_NONE, "TXT", 0,
	       "\"token-value\"");
	assert_int_equal(send_signed(f, ACME), KNOT_RCODE_NOERROR);
	assert_null(served(f, "_acme-challenge.www.example.com.", KNOT_RRTYPE_TXT));
	assert_int_equal(serial(f), start + 2);
}

static void test_tsig_failures(void **state)
{
	fixture_t *f = *state;
	uint32_t start = serial(f);
	const test_key_t unknown = { "nobody", "hmac-sha256", keys[0].secret, "" };
	const test_key_t wrong_secret = { "acme", "hmac-sha256", keys[2].secret, "" };
	const test_key_t wrong_alg = { "acme", "hmac-sha512", keys[1].secret, "" };
	struct { const test_key_t *key; uint16_t error; } cases[] = {
		{ &unknown, KNOT_RCODE_BADKEY },
		{ &wrong_alg, KNOT_RCODE_BADKEY },
		{ &wrong_secret, KNOT_RCODE_BADSIG },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
		acme_txt(f, "_acme-challenge.example.com.");
		assert_int_equal(send_signed(f, cases[i].key), KNOT_RCODE_NOTAUTH);
		assert_int_equal(f->tsig_error, cases[i].error);
	}
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* an hour late: BADTIME, signed */
	acme_txt(f, "_acme-challenge.example.com.");
	assert_int_equal(send_at(f, ACME, (uint64_t)time(NULL) - 3600), KNOT_RCODE_NOTAUTH);
	assert_int_equal(f->tsig_error, KNOT_RCODE_BADTIME);

	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* unsigned: no TSIG in the answer */
	acme_txt(f, "_acme-challenge.example.com.");
	assert_int_equal(send_signed(f, NULL), KNOT_RCODE_REFUSED);
	assert_int_equal(knot_wire_get_arcount(f->answer), 0);
	assert_null(served(f, "_acme-challenge.example.com.", KNOT_RRTYPE_TXT));
	assert_int_equal(serial(f), start);
}

static void test_rules(void **state)
{
	fixture_t *f = *state;
	uint32_t start = serial(f);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* type outside the rule */
	msg_rr(f, U, "_acme-challenge.example.com.", KNOT_CLASS_IN, "A", 60, "192.0.2.1");
	assert_int_equal(send_signed(f, ACME), KNOT_RCODE_REFUSED);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* name outside the glob */
	acme_txt(f, "www.example.com.");
	assert_int_equal(send_signed(f, ACME), KNOT_RCODE_REFUSED);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* a key for another zone */
	acme_txt(f, "_acme-challenge.example.com.");
	assert_int_equal(send_signed(f, OTHER), KNOT_RCODE_REFUSED);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA); /* every RRset of www: A is not TXT */
	msg_rr(f, U, "www.example.com.", KNOT_CLASS_ANY, "ANY", 0, NULL);
	assert_int_equal(send_signed(f, ACME), KNOT_RCODE_REFUSED);
	assert_non_null(served(f, "www.example.com.", KNOT_RRTYPE_A));
	assert_int_equal(serial(f), start);

	/* ... but only TXT at an ACME name: allowed, and so is the ANY delete */
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
	acme_txt(f, "_acme-challenge.a.example.com.");
	assert_int_equal(send_signed(f, ACME), KNOT_RCODE_NOERROR);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
	msg_rr(f, U, "_acme-challenge.a.example.com.", KNOT_CLASS_ANY, "ANY", 0, NULL);
	assert_int_equal(send_signed(f, ACME), KNOT_RCODE_NOERROR);
	assert_null(served(f, "_acme-challenge.a.example.com.", KNOT_RRTYPE_TXT));
	assert_int_equal(serial(f), start + 2);
}

static int count_rows(void *ctx, const store_audit_t *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

static void test_denied_change_undoes_all(void **state)
{
	fixture_t *f = *state;
	uint32_t start = serial(f);
	int before = 0, after = 0;
	store_audit_filter_t all = { 0 };
	store_t *st = ctl_store_lock(f->ctl);
	store_audit_list(st, &all, count_rows, &before);
	ctl_store_unlock(f->ctl);
	msg_new(f, "example.com.", KNOT_RRTYPE_SOA);
	acme_txt(f, "_acme-challenge.one.example.com.");     /* allowed */
	acme_txt(f, "_acme-challenge.two.example.com.");     /* allowed */
	acme_txt(f, "two.example.com.");                     /* denied */
	assert_int_equal(send_signed(f, ACME), KNOT_RCODE_REFUSED);
	assert_null(served(f, "_acme-challenge.one.example.com.", KNOT_RRTYPE_TXT));
	assert_int_equal(serial(f), start);
	st = ctl_store_lock(f->ctl);
	store_audit_list(st, &all, count_rows, &after);
	ctl_store_unlock(f->ctl);
	assert_int_equal(after, before);
}

static void test_file_zone_refused(void **state)
{
	fixture_t *f = *state;
	zone_t *z = must_load("example.org.", "$TTL 300\n@ SOA ns.example.org. h 1 1 1 1 1\n"
	                                      "@ NS ns.example.org.\nns A 192.0.2.53\n");
	char err[256];
	assert_int_equal(ctl_set_file_zones(f->ctl, &z, 1, err, sizeof(err)), 0);
	msg_new(f, "example.org.", KNOT_RRTYPE_SOA);
	msg_rr(f, U, "www.example.org.", KNOT_CLASS_IN, "A", 60, "192.0.2.1");
	assert_int_equal(send_signed(f, OTHER), KNOT_RCODE_REFUSED);
}

static void test_key_check(void **state)
{
	(void)state;
	char name[256], err[256];
	const char *secret = keys[0].secret;
	assert_int_equal(ctl_key_check("Acme.Example.", "hmac-sha512", secret,
	                               "\n zone=example.com name=* types=A,AAAA,TYPE65534\n",
	                               name, sizeof(name), err, sizeof(err)), 0);
	assert_string_equal(name, "acme.example");
	struct { const char *name, *alg, *secret, *rules; } bad[] = {
		{ ".", "hmac-sha256", secret, "zone=a name=* types=*" },
		{ "k", "hmac-md5", secret, "zone=a name=* types=*" },
		{ "k", "hmac-sha256", "not base64!", "zone=a name=* types=*" },
		{ "k", "hmac-sha256", "", "zone=a name=* types=*" },
		{ "k", "hmac-sha256", secret, "" },
		{ "k", "hmac-sha256", secret, "zone=a name=*" },
		{ "k", "hmac-sha256", secret, "zone=a name=* types=BOGUS" },
		{ "k", "hmac-sha256", secret, "zone=a name=* types=ANY" },
		{ "k", "hmac-sha256", secret, "zone=a name=* types=A zone=b" },
		{ "k", "hmac-sha256", secret, "zone=a name=* types=A color=red" },
		{ "k", "hmac-sha256", secret, "zone=a name= types=A" },
		{ "k", "hmac-sha256", secret, "zone=a name=* types=A\nzone=.. name=* types=A" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(ctl_key_check(bad[i].name, bad[i].alg, bad[i].secret, bad[i].rules,
		                               name, sizeof(name), err, sizeof(err)),
		                 CIRRUS_EINVAL);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(ctl_key_name("Key-1.", name, sizeof(name)), 0);
	assert_string_equal(name, "key-1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_acme_add_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tsig_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denied_change_undoes_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_zone_refused, setup, teardown),
		cmocka_unit_test(test_key_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
