/* SPDX-License-Identifier: Apache-2.0
 * test_fn_client.c -- the client address behind proxies (fn/fn_client.c):
 * trusted blocks, and the right-to-left walk over X-Forwarded-For and
 * RFC 7239 Forwarded that believes only what trusted proxies appended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "fn/fn.h"
#include "util/error.h"

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &v6->sin6_addr), 1);
		v6->sin6_family = AF_INET6;
	}
	return ss;
}

static void test_cidr_parse(void **state)
{
	(void)state;
	fn_cidr_t c;
	assert_int_equal(fn_cidr_parse("10.0.0.0/8", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_int_equal(fn_cidr_parse("10.1.2.3/8", &c), 0);   /* host bits masked */
	assert_memory_equal(c.addr, "\x0a\0\0\0", 4);
	assert_int_equal(fn_cidr_parse("192.0.2.1", &c), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(fn_cidr_parse("fd00::/8", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(fn_cidr_parse("::1", &c), 0);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(fn_cidr_parse("0.0.0.0/0", &c), 0);
	static const char *const bad[] = { "", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/8x",
	                                   "10.0.0.0/-1", "::/129", "10.0.0/8", "example.com",
	                                   "10.0.0.0/+8", "1.2.3.4 " };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(fn_cidr_parse(bad[i], &c), CIRRUS_EINVAL);
	}
}

static void test_cidr_match(void **state)
{
	(void)state;
	fn_cidr_t b[3];
	assert_int_equal(fn_cidr_parse("10.0.0.0/8", &b[0]), 0);
	assert_int_equal(fn_cidr_parse("192.0.2.128/25", &b[1]), 0);
	assert_int_equal(fn_cidr_parse("2001:db8:ff::/48", &b[2]), 0);
	static const struct { const char *a; bool in; } cases[] = {
		{ "10.255.1.1", true }, { "11.0.0.1", false }, { "192.0.2.128", true },
		{ "192.0.2.127", false }, { "::ffff:10.1.1.1", true },   /* v4-mapped */
		{ "2001:db8:ff:1::1", true }, { "2001:db8:fe::1", false }, { "::a00:1", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = addr(cases[i].a);
		assert_int_equal(fn_cidr_match(b, 3, (struct sockaddr *)&ss), cases[i].in);
	}
	struct sockaddr_storage ss = addr("10.1.1.1");
	assert_false(fn_cidr_match(b, 0, (struct sockaddr *)&ss));
}

/* The client for peer and headers, as text ("addr" or "addr port N"). */
static const char *client(const char *peer, const char *forwarded, const char *xff)
{
	static char text[80];
	fn_cidr_t trusted[2];
	assert_int_equal(fn_cidr_parse("127.0.0.0/8", &trusted[0]), 0);
	assert_int_equal(fn_cidr_parse("fd00::/8", &trusted[1]), 0);
	struct sockaddr_storage p = addr(peer), out;
	fn_client_addr((struct sockaddr *)&p, trusted, 2, forwarded, xff, &out);
	char a[INET6_ADDRSTRLEN];
	unsigned port;
	if (out.ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)&out;
		inet_ntop(AF_INET, &v4->sin_addr, a, sizeof(a));
		port = ntohs(v4->sin_port);
	} else {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&out;
		inet_ntop(AF_INET6, &v6->sin6_addr, a, sizeof(a));
		port = ntohs(v6->sin6_port);
	}
	snprintf(text, sizeof(text), port ? "%s port %u" : "%s", a, port);
	return text;
}

static void test_untrusted_peer_is_the_client(void **state)
{
	(void)state;
	assert_string_equal(client("203.0.113.1", "for=192.0.2.9", "192.0.2.9"), "203.0.113.1");
	assert_string_equal(client("2001:db8::1", NULL, "192.0.2.9"), "2001:db8::1");
	/* No trusted blocks at all: headers never count. */
	struct sockaddr_storage p = addr("127.0.0.1"), out;
	fn_client_addr((struct sockaddr *)&p, NULL, 0, NULL, "192.0.2.9", &out);
	assert_int_equal(out.ss_family, AF_INET);
	assert_memory_equal(&((struct sockaddr_in *)&out)->sin_addr, "\x7f\0\0\1", 4);
}

static void test_x_forwarded_for(void **state)
{
	(void)state;
	assert_string_equal(client("127.0.0.1", NULL, NULL), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", NULL, ""), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", NULL, "192.0.2.9"), "192.0.2.9");
	assert_string_equal(client("127.0.0.1", NULL, " 192.0.2.9 "), "192.0.2.9");
	/* What the client wrote itself (left of the first untrusted hop) is ignored. */
	assert_string_equal(client("127.0.0.1", NULL, "6.6.6.6, 192.0.2.9"), "192.0.2.9");
	assert_string_equal(client("127.0.0.1", NULL, "6.6.6.6,192.0.2.9,127.0.0.5"),
	                    "192.0.2.9");
	assert_string_equal(client("::ffff:127.0.0.1", NULL, "2001:db8::9, fd00::1"),
	                    "2001:db8::9");
	/* Every hop trusted: the leftmost one. */
	assert_string_equal(client("127.0.0.1", NULL, "127.0.0.9, 127.0.0.5"), "127.0.0.9");
	/* A hop that does not parse ends the walk at the last good one. */
	assert_string_equal(client("127.0.0.1", NULL, "192.0.2.9, unknown"), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", NULL, "junk, 127.0.0.5"), "127.0.0.5");
	assert_string_equal(client("127.0.0.1", NULL, "192.0.2.9,,127.0.0.5"), "127.0.0.5");
	assert_string_equal(client("127.0.0.1", NULL, "192.0.2.9:8080"), "192.0.2.9 port 8080");
	assert_string_equal(client("127.0.0.1", NULL, "[2001:db8::9]:443"),
	                    "2001:db8::9 port 443");
	assert_string_equal(client("127.0.0.1", NULL, "192.0.2.9:99999"), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", NULL, "[2001:db8::9"), "127.0.0.1");
}

static void test_forwarded(void **state)
{
	(void)state;
	assert_string_equal(client("127.0.0.1", "for=192.0.2.60;proto=http;by=203.0.113.43",
	                           NULL), "192.0.2.60");
	assert_string_equal(client("127.0.0.1", "For=\"[2001:db8:cafe::17]:4711\"", NULL),
	                    "2001:db8:cafe::17 port 4711");
	assert_string_equal(client("127.0.0.1", "for=192.0.2.43, for=198.51.100.17", NULL),
	                    "198.51.100.17");
	assert_string_equal(client("127.0.0.1", "for=192.0.2.43, for=127.0.0.3", NULL),
	                    "192.0.2.43");
	assert_string_equal(client("127.0.0.1", "proto=https; for=192.0.2.43", NULL),
	                    "192.0.2.43");
	/* Forwarded wins over X-Forwarded-For when both are there. */
	assert_string_equal(client("127.0.0.1", "for=192.0.2.43", "198.51.100.1"), "192.0.2.43");
	/* "unknown", obfuscated identifiers, no for=: the peer stays. */
	assert_string_equal(client("127.0.0.1", "for=unknown", NULL), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", "for=_hidden", NULL), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", "proto=https", NULL), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", "for=\"", NULL), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", "for=\"\\\"x\"", NULL), "127.0.0.1");
}

static void test_long_and_odd_lists(void **state)
{
	(void)state;
	/* 2000 trusted hops after the client: the walk goes through them all. */
	static char list[2000 * 16 + 32];
	size_t n = (size_t)snprintf(list, sizeof(list), "192.0.2.77");
	for (int i = 0; i < 2000; i++) {
		n += (size_t)snprintf(list + n, sizeof(list) - n, ", 127.0.%d.%d", i / 250,
		                      i % 250);
	}
	assert_string_equal(client("127.0.0.1", NULL, list), "192.0.2.77");
	char hop[300];
	memset(hop, '1', sizeof(hop) - 1);
	hop[sizeof(hop) - 1] = '\0';
	assert_string_equal(client("127.0.0.1", NULL, hop), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", NULL, ","), "127.0.0.1");
	assert_string_equal(client("127.0.0.1", ",,,", NULL), "127.0.0.1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_match),
		cmocka_unit_test(test_untrusted_peer_is_the_client),
		cmocka_unit_test(test_x_forwarded_for),
		cmocka_unit_test(test_forwarded),
		cmocka_unit_test(test_long_and_odd_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
