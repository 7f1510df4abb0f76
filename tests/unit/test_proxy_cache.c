/* SPDX-License-Identifier: Apache-2.0
 * test_proxy_cache.c -- the proxy's answer cache (proxy/proxy_cache.c) and
 * the TTL it gives an answer (proxy_msg_cache_ttl): TTLs lowered by the
 * time spent in the cache, expiry, RFC 2308 negative caching (NXDOMAIN and
 * NODATA for min(SOA TTL, MINIMUM)), what is never cached (SERVFAIL, TC,
 * negative without SOA), min/max clamps, LRU eviction, and a key that
 * tells DO and the client subnet apart but not the name's case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proxy/proxy.h"
#include "test_proxy_fixture.h"
#include "util/error.h"

#define CAP 4096

/* The cache key of a query for name/type with DO as given and no ECS. */
static size_t key_for(const char *name, uint16_t type, bool do_bit, const proxy_ecs_t *ecs,
                      uint8_t *key)
{
	uint8_t q[CAP];
	proxy_query_t pq;
	size_t len = px_query(q, sizeof(q), name, type, 7, do_bit ? 1232 : 0, do_bit);
	assert_int_equal(proxy_msg_parse(q, len, &pq), PROXY_FORWARD);
	return proxy_cache_key(&pq, ecs, key);
}

static void test_ttl_decrement(void **state)
{
	(void)state;
	uint8_t a[CAP], out[CAP], key[PROXY_KEY_MAX];
	px_rr_t an[] = { px_a("www.example.", 300, "192.0.2.1"), px_a("www.example.", 300, "192.0.2.2") };
	px_rr_t ns[] = { px_soa("example.", 500, 100) };
	size_t len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_A, 0, an, 2, ns, 1, 0);
	assert_int_equal(proxy_msg_cache_ttl(a, len), 300);
	size_t klen = key_for("www.example.", KNOT_RRTYPE_A, false, NULL, key);

	proxy_cache_t *c = proxy_cache_new(10, 0, 86400);
	assert_int_equal(proxy_cache_put(c, key, klen, a, len, 1000000), 0);
	size_t got = 0;
	assert_int_equal(proxy_cache_get(c, key, klen, 1000000 + 10500, out, sizeof(out), &got), 0);
	assert_int_equal(got, len);
	assert_int_equal(px_ttl(out, got, 0), 290);
	assert_int_equal(px_ttl(out, got, 1), 290);
	assert_int_equal(px_ttl(out, got, 2), 490);   /* every section ages */
	/* The stored copy is untouched: the next hit ages from the original. */
	assert_int_equal(proxy_cache_get(c, key, klen, 1000000 + 299999, out, sizeof(out), &got), 0);
	assert_int_equal(px_ttl(out, got, 0), 1);
	assert_int_equal(proxy_cache_get(c, key, klen, 1000000 + 300000, out, sizeof(out), &got),
	                 CIRRUS_ENOENT);
	assert_int_equal(proxy_cache_count(c), 0);   /* expired entries go */
	proxy_cache_free(c);
}

static void test_negative(void **state)
{
	(void)state;
	uint8_t a[CAP], out[CAP], key[PROXY_KEY_MAX];
	px_rr_t ns[] = { px_soa("example.", 3600, 60) };
	size_t len = px_answer(a, sizeof(a), "nx.example.", KNOT_RRTYPE_A, KNOT_RCODE_NXDOMAIN,
	                       NULL, 0, ns, 1, 1232);
	assert_int_equal(proxy_msg_cache_ttl(a, len), 60);   /* min(SOA TTL, MINIMUM) */
	size_t klen = key_for("nx.example.", KNOT_RRTYPE_A, false, NULL, key);
	proxy_cache_t *c = proxy_cache_new(10, 0, 86400);
	assert_int_equal(proxy_cache_put(c, key, klen, a, len, 0), 0);
	size_t got = 0;
	assert_int_equal(proxy_cache_get(c, key, klen, 59999, out, sizeof(out), &got), 0);
	assert_int_equal(knot_wire_get_rcode(out), KNOT_RCODE_NXDOMAIN);
	assert_int_equal(px_ttl(out, got, 0), 3600 - 59);
	assert_int_equal(proxy_cache_get(c, key, klen, 60000, out, sizeof(out), &got),
	                 CIRRUS_ENOENT);

	/* NODATA: SOA TTL below MINIMUM wins. */
	px_rr_t low[] = { px_soa("example.", 30, 600) };
	len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_AAAA, 0, NULL, 0, low, 1, 0);
	assert_int_equal(proxy_msg_cache_ttl(a, len), 30);
	proxy_cache_free(c);
}

static void test_not_cached(void **state)
{
	(void)state;
	uint8_t a[CAP], key[PROXY_KEY_MAX];
	px_rr_t an[] = { px_a("www.example.", 300, "192.0.2.1") };
	px_rr_t ns[] = { px_soa("example.", 3600, 60) };
	proxy_cache_t *c = proxy_cache_new(10, 0, 86400);
	size_t klen = key_for("www.example.", KNOT_RRTYPE_A, false, NULL, key);

	size_t len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_A, KNOT_RCODE_SERVFAIL,
	                       NULL, 0, NULL, 0, 0);
	assert_int_equal(proxy_msg_cache_ttl(a, len), -1);
	assert_int_equal(proxy_cache_put(c, key, klen, a, len, 0), CIRRUS_ENOENT);
	len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_A, KNOT_RCODE_REFUSED,
	                NULL, 0, NULL, 0, 0);
	assert_int_equal(proxy_msg_cache_ttl(a, len), -1);
	/* NXDOMAIN without SOA (RFC 2308 5: do not cache). */
	len = px_answer(a, sizeof(a), "nx.example.", KNOT_RRTYPE_A, KNOT_RCODE_NXDOMAIN,
	                NULL, 0, NULL, 0, 0);
	assert_int_equal(proxy_msg_cache_ttl(a, len), -1);
	/* TC=1: the client must ask over TCP, not get this again. */
	len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_A, 0, an, 1, ns, 1, 0);
	knot_wire_set_tc(a);
	assert_int_equal(proxy_msg_cache_ttl(a, len), -1);
	/* TTL 0 */
	px_rr_t zero[] = { px_a("www.example.", 0, "192.0.2.1") };
	len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_A, 0, zero, 1, NULL, 0, 0);
	assert_int_equal(proxy_cache_put(c, key, klen, a, len, 0), CIRRUS_ENOENT);
	/* Cut short: the walker refuses it. */
	len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_A, 0, an, 1, NULL, 0, 0);
	assert_int_equal(proxy_msg_cache_ttl(a, len - 1), -1);
	assert_int_equal(proxy_cache_count(c), 0);
	proxy_cache_free(c);
}

static void test_clamps(void **state)
{
	(void)state;
	uint8_t a[CAP], out[CAP], key[PROXY_KEY_MAX];
	px_rr_t an[] = { px_a("www.example.", 300, "192.0.2.1") };
	size_t len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_A, 0, an, 1, NULL, 0, 0);
	size_t klen = key_for("www.example.", KNOT_RRTYPE_A, false, NULL, key), got;
	proxy_cache_t *c = proxy_cache_new(10, 0, 100);
	assert_int_equal(proxy_cache_put(c, key, klen, a, len, 0), 0);
	assert_int_equal(proxy_cache_get(c, key, klen, 99999, out, sizeof(out), &got), 0);
	assert_int_equal(proxy_cache_get(c, key, klen, 100000, out, sizeof(out), &got),
	                 CIRRUS_ENOENT);
	proxy_cache_free(c);

	/* min-ttl keeps a short answer longer; its TTL never goes below 0. */
	px_rr_t brief[] = { px_a("www.example.", 5, "192.0.2.1") };
	len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_A, 0, brief, 1, NULL, 0, 0);
	c = proxy_cache_new(10, 30, 100);
	assert_int_equal(proxy_cache_put(c, key, klen, a, len, 0), 0);
	assert_int_equal(proxy_cache_get(c, key, klen, 20000, out, sizeof(out), &got), 0);
	assert_int_equal(px_ttl(out, got, 0), 0);
	proxy_cache_free(c);
}

static void test_lru_eviction(void **state)
{
	(void)state;
	uint8_t a[CAP], out[CAP], ka[PROXY_KEY_MAX], kb[PROXY_KEY_MAX], kc[PROXY_KEY_MAX];
	px_rr_t an[] = { px_a("x.example.", 300, "192.0.2.1") };
	size_t len = px_answer(a, sizeof(a), "x.example.", KNOT_RRTYPE_A, 0, an, 1, NULL, 0, 0);
	size_t la = key_for("a.example.", KNOT_RRTYPE_A, false, NULL, ka);
	size_t lb = key_for("b.example.", KNOT_RRTYPE_A, false, NULL, kb);
	size_t lc = key_for("c.example.", KNOT_RRTYPE_A, false, NULL, kc), got;
	proxy_cache_t *c = proxy_cache_new(2, 0, 86400);
	assert_int_equal(proxy_cache_put(c, ka, la, a, len, 0), 0);
	assert_int_equal(proxy_cache_put(c, kb, lb, a, len, 0), 0);
	assert_int_equal(proxy_cache_get(c, ka, la, 1, out, sizeof(out), &got), 0);  /* a is recent */
	assert_int_equal(proxy_cache_put(c, kc, lc, a, len, 2), 0);
	assert_int_equal(proxy_cache_count(c), 2);
	assert_int_equal(proxy_cache_get(c, kb, lb, 3, out, sizeof(out), &got), CIRRUS_ENOENT);
	assert_int_equal(proxy_cache_get(c, ka, la, 3, out, sizeof(out), &got), 0);
	assert_int_equal(proxy_cache_get(c, kc, lc, 3, out, sizeof(out), &got), 0);
	/* The same key again replaces, it does not grow. */
	assert_int_equal(proxy_cache_put(c, kc, lc, a, len, 4), 0);
	assert_int_equal(proxy_cache_count(c), 2);
	/* Many more than fit: the count stays at the size. */
	for (int i = 0; i < 1000; i++) {
		uint8_t k[PROXY_KEY_MAX];
		char name[32];
		snprintf(name, sizeof(name), "n%d.example.", i);
		size_t kl = key_for(name, KNOT_RRTYPE_A, false, NULL, k);
		assert_int_equal(proxy_cache_put(c, k, kl, a, len, 5), 0);
	}
	assert_int_equal(proxy_cache_count(c), 2);
	proxy_cache_free(c);
}

static void test_key(void **state)
{
	(void)state;
	uint8_t k1[PROXY_KEY_MAX], k2[PROXY_KEY_MAX];
	size_t l1 = key_for("WwW.Example.", KNOT_RRTYPE_A, false, NULL, k1);
	size_t l2 = key_for("www.example.", KNOT_RRTYPE_A, false, NULL, k2);
	assert_int_equal(l1, l2);
	assert_memory_equal(k1, k2, l1);   /* case does not matter */

	l2 = key_for("www.example.", KNOT_RRTYPE_A, true, NULL, k2);
	assert_false(l1 == l2 && memcmp(k1, k2, l1) == 0);   /* DO does */
	l2 = key_for("www.example.", KNOT_RRTYPE_AAAA, false, NULL, k2);
	assert_false(l1 == l2 && memcmp(k1, k2, l1) == 0);   /* the type does */

	/* The client subnet does; two clients of one /24 share an entry. */
	struct sockaddr_in a = { .sin_family = AF_INET }, b = a, o = a;
	inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
	inet_pton(AF_INET, "192.0.2.200", &b.sin_addr);
	inet_pton(AF_INET, "198.51.100.1", &o.sin_addr);
	proxy_ecs_t ea, eb, eo;
	proxy_ecs_from_addr((struct sockaddr *)&a, 24, 56, &ea);
	proxy_ecs_from_addr((struct sockaddr *)&b, 24, 56, &eb);
	proxy_ecs_from_addr((struct sockaddr *)&o, 24, 56, &eo);
	uint8_t ka[PROXY_KEY_MAX], kb[PROXY_KEY_MAX], ko[PROXY_KEY_MAX];
	size_t la = key_for("www.example.", KNOT_RRTYPE_A, false, &ea, ka);
	size_t lb = key_for("www.example.", KNOT_RRTYPE_A, false, &eb, kb);
	size_t lo = key_for("www.example.", KNOT_RRTYPE_A, false, &eo, ko);
	assert_int_equal(la, lb);
	assert_memory_equal(ka, kb, la);
	assert_false(la == lo && memcmp(ka, ko, la) == 0);
	assert_false(la == l1 && memcmp(ka, k1, la) == 0);   /* with ECS vs without */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl_decrement),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_not_cached),
		cmocka_unit_test(test_clamps),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
