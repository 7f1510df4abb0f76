/* SPDX-License-Identifier: Apache-2.0
 * test_policy_trie.c -- prefixes and longest-prefix matching (IPv4 and
 * IPv6) with the ECS scope, checked against a brute-force reference over
 * random prefixes and addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "policy/policy_internal.h"
#include "util/error.h"

static void test_cidr_parse(void **state)
{
	(void)state;
	policy_addr_t a;
	assert_int_equal(policy_cidr_parse("192.0.2.0/24", &a), 0);
	assert_int_equal(a.family, POLICY_FAMILY_IPV4);
	assert_int_equal(a.prefix, 24);
	assert_int_equal(policy_cidr_parse("192.0.2.7", &a), 0);
	assert_int_equal(a.prefix, 32);
	assert_int_equal(policy_cidr_parse("2001:db8::/32", &a), 0);
	assert_int_equal(a.family, POLICY_FAMILY_IPV6);
	assert_int_equal(a.prefix, 32);
	assert_int_equal(policy_cidr_parse("::/0", &a), 0);
	assert_int_equal(a.prefix, 0);
	static const char *const bad[] = {
		"192.0.2.1/24", "192.0.2.0/33", "192.0.2.0/", "192.0.2.0/x", "192.0.2.0/-1",
		"2001:db8::1/32", "2001:db8::/129", "300.0.0.0/8", "example", "",
		"192.0.2.0/24/1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (policy_cidr_parse(bad[i], &a) == 0) {
			fail_msg("'%s' parsed", bad[i]);
		}
	}
}

static void test_contains_and_sockaddr(void **state)
{
	(void)state;
	policy_addr_t net, host;
	assert_int_equal(policy_cidr_parse("10.0.0.0/15", &net), 0);
	assert_int_equal(policy_cidr_parse("10.1.255.255", &host), 0);
	assert_true(policy_cidr_contains(&net, &host));
	assert_int_equal(policy_cidr_parse("10.2.0.0", &host), 0);
	assert_false(policy_cidr_contains(&net, &host));
	assert_int_equal(policy_cidr_parse("::/0", &net), 0);
	assert_false(policy_cidr_contains(&net, &host)); /* family differs */

	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "::ffff:192.0.2.9", &v6.sin6_addr);
	policy_addr_from_sockaddr((struct sockaddr *)&v6, &host);
	assert_int_equal(host.family, POLICY_FAMILY_IPV4);
	assert_int_equal(host.prefix, 32);
	assert_int_equal(host.bytes[3], 9);
	inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
	policy_addr_from_sockaddr((struct sockaddr *)&v6, &host);
	assert_int_equal(host.family, POLICY_FAMILY_IPV6);
	assert_int_equal(host.prefix, 128);
	policy_addr_from_sockaddr(NULL, &host);
	assert_int_equal(host.family, POLICY_FAMILY_NONE);
}

static unsigned bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned max)
{
	unsigned i = 0;
	while (i < max && bit(a, i) == bit(b, i)) {
		i++;
	}
	return i;
}

typedef struct prefix {
	uint8_t bytes[16];
	unsigned len;
} prefix_t;

/* Reference: the longest prefix containing the first `bits` bits of addr,
 * and the scope by definition: the least L such that every prefix either
 * contains all addresses sharing L bits with addr or none of them. */
static int reference(const prefix_t *p, size_t n, const uint8_t *addr, unsigned bits,
                     unsigned *scope)
{
	int best = -1;
	*scope = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = common_bits(p[i].bytes, addr, p[i].len < bits ? p[i].len : bits);
		if (c == p[i].len) {
			if (best < 0 || p[i].len > p[best].len) {
				best = (int)i;
			}
			if (p[i].len > *scope) {
				*scope = p[i].len;
			}
		} else if (c < bits && c + 1 > *scope) {
			*scope = c + 1; /* diverges from the address within the known bits */
		} else if (c == bits && bits + 1 > *scope) {
			*scope = bits + 1; /* longer than what the address tells */
		}
	}
	return best;
}

static void random_bytes(policy_rng_t *rng, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = (uint8_t)policy_rng_next(rng);
	}
}

static void mask(uint8_t *b, unsigned len, unsigned total)
{
	for (unsigned i = len; i < total; i++) {
		b[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	}
}

/* Random prefixes around a few seeds (so they nest and overlap), random
 * addresses and known-bit counts: the trie must agree with the reference
 * on the match and the scope. */
static void check_family(unsigned total, uint64_t seed)
{
	policy_rng_t rng;
	policy_rng_seed(&rng, seed);
	prefix_t p[200];
	size_t n = 0;
	policy_trie_t t = { 0 };
	uint8_t base[16];
	random_bytes(&rng, base, sizeof(base));
	for (int tries = 0; tries < 2000 && n < 200; tries++) {
		prefix_t x;
		memcpy(x.bytes, base, 16);
		unsigned flip = (unsigned)policy_rng_below(&rng, total);
		x.bytes[flip / 8] ^= (uint8_t)(0x80 >> (flip % 8));
		x.len = (unsigned)policy_rng_below(&rng, total + 1);
		mask(x.bytes, x.len, total);
		int r = policy_trie_insert(&t, x.bytes, x.len, (int32_t)n);
		if (r == CIRRUS_EEXIST) {
			continue;
		}
		assert_int_equal(r, 0);
		p[n++] = x;
	}
	for (int q = 0; q < 5000; q++) {
		uint8_t addr[16];
		memcpy(addr, base, 16);
		for (int k = 0; k < 3; k++) {
			unsigned flip = (unsigned)policy_rng_below(&rng, total);
			addr[flip / 8] ^= (uint8_t)(0x80 >> (flip % 8));
		}
		unsigned bits = (unsigned)policy_rng_below(&rng, total + 1);
		mask(addr, bits, total);
		int32_t matches[POLICY_TRIE_MATCH_MAX];
		unsigned count, want_scope;
		unsigned scope = policy_trie_lookup(&t, addr, bits, matches, &count);
		int want = reference(p, n, addr, bits, &want_scope);
		assert_int_equal(count > 0 ? matches[0] : -1, want);
		assert_int_equal(scope, want_scope);
		for (unsigned i = 1; i < count; i++) {
			assert_true(p[matches[i]].len < p[matches[i - 1]].len);
		}
	}
	policy_trie_deinit(&t);
}

static void test_trie_random_v4(void **state)
{
	(void)state;
	check_family(32, 1);
	check_family(32, 2);
}

static void test_trie_random_v6(void **state)
{
	(void)state;
	check_family(128, 3);
	check_family(128, 4);
}

static void test_trie_empty_and_duplicate(void **state)
{
	(void)state;
	policy_trie_t t = { 0 };
	int32_t m[POLICY_TRIE_MATCH_MAX];
	unsigned count = 7;
	uint8_t addr[16] = { 10 };
	assert_int_equal(policy_trie_lookup(&t, addr, 32, m, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(policy_trie_insert(&t, addr, 8, 1), 0);
	assert_int_equal(policy_trie_insert(&t, addr, 8, 2), CIRRUS_EEXIST);
	assert_int_equal(policy_trie_insert(&t, addr, 0, 3), 0);
	assert_int_equal(policy_trie_lookup(&t, addr, 32, m, &count), 8);
	assert_int_equal(count, 2);
	assert_int_equal(m[0], 1);
	assert_int_equal(m[1], 3);
	policy_trie_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_contains_and_sockaddr),
		cmocka_unit_test(test_trie_random_v4),
		cmocka_unit_test(test_trie_random_v6),
		cmocka_unit_test(test_trie_empty_and_duplicate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
