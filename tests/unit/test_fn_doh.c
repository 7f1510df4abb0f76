/* SPDX-License-Identifier: Apache-2.0
 * test_fn_doh.c -- the DoH request decoders of function mode (fn/fn_doh.c):
 * base64url (RFC 4648 5 vectors, RFC 8484's example), the content type, the
 * query check, and the Cache-Control TTL of real engine answers (RFC 8484
 * 5.1, RFC 2308 5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fn/fn.h"
#include "helpers.h"
#include "util/error.h"

static int decode(const char *in, uint8_t *out, size_t max, size_t *len)
{
	return fn_b64url_decode(in, strlen(in), out, max, len);
}

static void test_b64url_vectors(void **state)
{
	(void)state;
	/* RFC 4648 10, without padding and with it. */
	static const char *const enc[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE",
	                                   "Zm9vYmFy", "Zg==", "Zm8=" };
	static const char *const dec[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar",
	                                   "f", "fo" };
	for (size_t i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
		uint8_t out[16];
		size_t len = 99;
		assert_int_equal(decode(enc[i], out, sizeof(out), &len), 0);
		assert_int_equal(len, strlen(dec[i]));
		assert_memory_equal(out, dec[i], len);
	}
	/* The URL-safe alphabet: 0xfb 0xff 0xbf is "-_-_" (standard: "+/+/"). */
	uint8_t out[4];
	size_t len;
	assert_int_equal(decode("-_-_", out, sizeof(out), &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
}

static void test_b64url_rfc8484_example(void **state)
{
	(void)state;
	/* RFC 8484 4.1.1: a query for www.example.com A with ID 0. */
	uint8_t out[64];
	size_t len;
	assert_int_equal(decode("AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB", out,
	                        sizeof(out), &len), 0);
	assert_int_equal(len, 33);
	const char *reason = NULL;
	assert_int_equal(fn_doh_check_query(out, len, &reason), 0);
	assert_memory_equal(out + 12, "\3www\7example\3com\0\0\1\0\1", 21);
}

static void test_b64url_bad(void **state)
{
	(void)state;
	uint8_t out[16];
	size_t len;
	static const char *const bad[] = {
		"A",          /* no encoding is 1 mod 4 long */
		"Zm9vY",
		"Zm+v", "Zm/v",   /* the standard alphabet */
		"Zm 9", "Zm9v\n", "Zm9v%", "Zm.v",
		"Zh",         /* bits set past the end */
		"Zm9=",
		"Zg=", "Zg===",   /* padding that does not complete a group */
		"=", "==",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(decode(bad[i], out, sizeof(out), &len), CIRRUS_EINVAL);
	}
	assert_int_equal(decode("Zm9vYmFy", out, 5, &len), CIRRUS_ESPACE);
	assert_int_equal(decode("Zm9vYmFy", out, 6, &len), 0);
}

static void test_content_type(void **state)
{
	(void)state;
	assert_true(fn_doh_content_type_ok("application/dns-message"));
	assert_true(fn_doh_content_type_ok("Application/DNS-Message"));
	assert_true(fn_doh_content_type_ok("application/dns-message; charset=x"));
	assert_true(fn_doh_content_type_ok("application/dns-message ;x"));
	assert_false(fn_doh_content_type_ok(NULL));
	assert_false(fn_doh_content_type_ok(""));
	assert_false(fn_doh_content_type_ok("application/dns-messages"));
	assert_false(fn_doh_content_type_ok("application/dns-json"));
	assert_false(fn_doh_content_type_ok("application/octet-stream"));
}

static void test_check_query(void **state)
{
	(void)state;
	uint8_t msg[12] = { 0x12, 0x34, 0x01, 0x00, 0, 1 };
	const char *reason = NULL;
	assert_int_equal(fn_doh_check_query(msg, sizeof(msg), &reason), 0);
	assert_int_equal(fn_doh_check_query(msg, 11, &reason), CIRRUS_EINVAL);
	assert_non_null(reason);
	msg[2] = 0x81;  /* QR=1 */
	assert_int_equal(fn_doh_check_query(msg, sizeof(msg), &reason), CIRRUS_EINVAL);
	msg[2] = 0x28;  /* opcode UPDATE */
	assert_int_equal(fn_doh_check_query(msg, sizeof(msg), &reason), CIRRUS_EINVAL);
	msg[2] = 0x20;  /* opcode NOTIFY */
	assert_int_equal(fn_doh_check_query(msg, sizeof(msg), &reason), CIRRUS_EINVAL);
}

#define ZONE \
	"$TTL 300\n" \
	"@ 600 SOA ns1 hostmaster 1 3600 900 604800 120\n" \
	"@ NS ns1\n" \
	"ns1 A 192.0.2.1\n" \
	"www A 192.0.2.80\n" \
	"alias 60 CNAME www\n" \
	"low 30 A 192.0.2.81\n" \
	"child NS ns.child\nns.child 40 A 192.0.2.53\n" \
	"zero 0 A 192.0.2.82\n"

/* The engine's answer (over the TCP transport, as function mode asks) to
 * name/type; its Cache-Control TTL, or -1 when none is sent. */
static zone_set_t *set;

static int set_up(void **state)
{
	(void)state;
	zone_t *zone = must_load("example.com", ZONE);
	return zone_set_new(&zone, 1, &set);
}

static int tear_down(void **state)
{
	(void)state;
	zone_set_free(set);
	return 0;
}

static long ttl_of(const char *name, uint16_t type)
{
	fn_resolve_t r = { .qtype = type };
	assert_int_not_equal(zone_name_parse(r.qname, name, (const knot_dname_t *)""), 0);
	uint8_t query[512], answer[FN_MSG_MAX];
	size_t qlen, alen;
	assert_int_equal(fn_resolve_query(&r, query, sizeof(query), &qlen), 0);
	engine_conf_t conf;
	engine_conf_init(&conf);
	engine_query_t q = { .transport = ENGINE_TRANSPORT_TCP };
	arena_t arena;
	arena_init(&arena, 16384);
	assert_int_equal(engine_handle(set, &conf, &q, query, qlen, answer, sizeof(answer),
	                               &alen, &arena), ENGINE_SEND);
	arena_deinit(&arena);
	uint32_t ttl;
	return fn_cache_ttl(answer, alen, &ttl) ? (long)ttl : -1;
}

static void test_cache_ttl(void **state)
{
	(void)state;
	assert_int_equal(ttl_of("www.example.com", KNOT_RRTYPE_A), 300);
	assert_int_equal(ttl_of("alias.example.com", KNOT_RRTYPE_A), 60);   /* CNAME + A */
	assert_int_equal(ttl_of("low.example.com", KNOT_RRTYPE_A), 30);
	assert_int_equal(ttl_of("zero.example.com", KNOT_RRTYPE_A), 0);
	/* A referral: NS 300 and glue 40. */
	assert_int_equal(ttl_of("host.child.example.com", KNOT_RRTYPE_A), 40);
	/* Negative: min(SOA TTL 600, MINIMUM 120), NXDOMAIN and NODATA. */
	assert_int_equal(ttl_of("nothing.example.com", KNOT_RRTYPE_A), 120);
	assert_int_equal(ttl_of("www.example.com", KNOT_RRTYPE_MX), 120);
	/* REFUSED has no records: no max-age. */
	assert_int_equal(ttl_of("example.org", KNOT_RRTYPE_A), -1);
}

static void test_cache_ttl_garbage(void **state)
{
	(void)state;
	uint32_t ttl = 7;
	uint8_t junk[40];
	memset(junk, 0xff, sizeof(junk));
	assert_false(fn_cache_ttl(junk, sizeof(junk), &ttl));
	assert_false(fn_cache_ttl(junk, 3, &ttl));
	assert_false(fn_cache_ttl(junk, 0, &ttl));
	/* An empty SOA of class NONE (libknot takes RDLENGTH 0 there, as RFC
	 * 2136 deletions need; fuzz_fn found it): its TTL counts, and nothing
	 * is read past it for the MINIMUM. */
	static const uint8_t short_soa[] = {
		0, 0, 0x81, 0x83, 0, 0, 0, 0, 0, 1, 0, 0,
		0, 0, 6, 0, 0xfe, 0, 0, 1, 0x2c, 0, 0,   /* class NONE */
	};
	assert_true(fn_cache_ttl(short_soa, sizeof(short_soa), &ttl));
	assert_int_equal(ttl, 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url_vectors),
		cmocka_unit_test(test_b64url_rfc8484_example),
		cmocka_unit_test(test_b64url_bad),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_check_query),
		cmocka_unit_test(test_cache_ttl),
		cmocka_unit_test(test_cache_ttl_garbage),
	};
	return cmocka_run_group_tests(tests, set_up, tear_down);
}
