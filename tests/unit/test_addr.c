/* SPDX-License-Identifier: Apache-2.0
 * test_addr.c -- numeric addresses (util/addr.c): both families with their
 * port, IPv6 scopes, and what is refused (short IPv4 forms, names).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <net/if.h>
#include <cmocka.h>

#include "util/addr.h"

static void test_ipv4_with_port(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	assert_true(addr_parse("192.0.2.7", 8053, &ss));
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
	assert_int_equal(v4->sin_family, AF_INET);
	assert_int_equal(ntohs(v4->sin_port), 8053);
	assert_int_equal(ntohl(v4->sin_addr.s_addr), 0xC0000207);
}

static void test_ipv6_with_port_and_scope(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	assert_true(addr_parse("2001:db8::1", 53, &ss));
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
	assert_int_equal(v6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(v6->sin6_port), 53);
	assert_int_equal(v6->sin6_addr.s6_addr[0], 0x20);
	assert_int_equal(v6->sin6_addr.s6_addr[15], 0x01);
	assert_int_equal(v6->sin6_scope_id, 0);

	assert_true(addr_parse("fe80::1%lo", 53, &ss));
	assert_int_equal(v6->sin6_scope_id, if_nametoindex("lo"));
}

static void test_refused(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	const char *bad[] = { "127.1", "localhost", "", "192.0.2.300", "2001:db8::g", "1.2.3.4 " };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(addr_parse(bad[i], 53, &ss));
		assert_int_equal(ss.ss_family, 0);
	}
	assert_false(addr_parse(NULL, 53, &ss));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_with_port),
		cmocka_unit_test(test_ipv6_with_port_and_scope),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
