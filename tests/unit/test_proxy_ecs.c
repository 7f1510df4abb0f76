/* SPDX-License-Identifier: Apache-2.0
 * test_proxy_ecs.c -- EDNS Client Subnet in the proxy (proxy/proxy_msg.c):
 * the client's subnet added to a query with no OPT, with an OPT and other
 * options, replacing a client's ECS, IPv6 /56 and v4-mapped clients, no
 * change when a TSIG follows the OPT; and the rest of the message work
 * around it: judging client queries, ECS and OPT removed from answers for
 * clients that did not send them, the client's ID and case, truncation.
 * Every edited message is read back with libknot's parser.
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

static proxy_ecs_t ecs_of(const char *addr, unsigned p4, unsigned p6)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &v6->sin6_addr), 1);
		v6->sin6_family = AF_INET6;
	}
	proxy_ecs_t ecs;
	proxy_ecs_from_addr((struct sockaddr *)&ss, p4, p6, &ecs);
	return ecs;
}

/* Parse the message and return its ECS option (false if none). */
static bool read_ecs(uint8_t *wire, size_t len, knot_edns_client_subnet_t *out,
                     int *ecs_count)
{
	knot_pkt_t *pkt = knot_pkt_new(wire, len, NULL);
	assert_int_equal(knot_pkt_parse(pkt, 0), KNOT_EOK);
	assert_non_null(pkt->opt_rr);
	*ecs_count = 0;
	bool found = false;
	const uint8_t *o = knot_pkt_edns_option(pkt, KNOT_EDNS_OPTION_CLIENT_SUBNET);
	if (o != NULL) {
		found = true;
		assert_int_equal(knot_edns_client_subnet_parse(out, knot_edns_opt_get_data(
		                 (uint8_t *)o), knot_edns_opt_get_length((uint8_t *)o)), KNOT_EOK);
	}
	/* Count ECS options by hand: libknot's lookup finds only one. */
	uint8_t *rd = pkt->opt_rr->rrs.rdata->data;
	uint16_t rdlen = pkt->opt_rr->rrs.rdata->len;
	for (uint16_t i = 0; i + 4 <= rdlen; i += 4 + knot_wire_read_u16(rd + i + 2)) {
		*ecs_count += knot_wire_read_u16(rd + i) == KNOT_EDNS_OPTION_CLIENT_SUBNET;
	}
	knot_pkt_free(pkt);
	return found;
}

static void test_add_without_opt(void **state)
{
	(void)state;
	uint8_t q[CAP];
	size_t len = px_query(q, sizeof(q), "www.example.", KNOT_RRTYPE_A, 1, 0, false);
	proxy_ecs_t ecs = ecs_of("192.0.2.77", 24, 56);
	assert_int_equal(ecs.family, 1);
	assert_int_equal(ecs.source, 24);
	int n = proxy_msg_set_ecs(q, len, sizeof(q), &ecs);
	assert_true(n > (int)len);
	assert_int_equal(knot_wire_get_arcount(q), 1);
	knot_edns_client_subnet_t got;
	int count;
	assert_true(read_ecs(q, n, &got, &count));
	assert_int_equal(count, 1);
	assert_int_equal(got.family, 1);
	assert_int_equal(got.source_len, 24);
	assert_int_equal(got.scope_len, 0);
	static const uint8_t want[] = { 192, 0, 2, 0 };   /* the host part is cleared */
	assert_memory_equal(got.address, want, 3);
	/* Only 3 address bytes on the wire (RFC 7871 6). */
	assert_int_equal((size_t)n, len + 11 + 4 + 4 + 3);
	/* No room: nothing changes. */
	uint8_t small[CAP];
	len = px_query(small, sizeof(small), "www.example.", KNOT_RRTYPE_A, 1, 0, false);
	assert_int_equal(proxy_msg_set_ecs(small, len, len + 5, &ecs), CIRRUS_ESPACE);
	assert_int_equal(knot_wire_get_arcount(small), 0);
}

static void test_add_keeps_options(void **state)
{
	(void)state;
	uint8_t q[CAP];
	knot_pkt_t *pkt = knot_pkt_new(q, sizeof(q), NULL);
	knot_pkt_clear(pkt);
	knot_dname_t *qname = knot_dname_from_str_alloc("www.example.");
	knot_pkt_put_question(pkt, qname, KNOT_CLASS_IN, KNOT_RRTYPE_A);
	free(qname);
	px_put_opt(pkt, 4096, true, KNOT_EDNS_OPTION_NSID, NULL, 0);
	size_t len = pkt->size;
	knot_pkt_free(pkt);

	proxy_ecs_t ecs = ecs_of("2001:db8:aaaa:bbcc::1", 24, 56);
	assert_int_equal(ecs.family, 2);
	int n = proxy_msg_set_ecs(q, len, sizeof(q), &ecs);
	assert_true(n > 0);
	pkt = knot_pkt_new(q, n, NULL);
	assert_int_equal(knot_pkt_parse(pkt, 0), KNOT_EOK);
	assert_true(knot_pkt_has_dnssec(pkt));                     /* DO kept */
	assert_int_equal(knot_edns_get_payload(pkt->opt_rr), 4096);
	assert_non_null(knot_pkt_edns_option(pkt, KNOT_EDNS_OPTION_NSID));  /* NSID kept */
	knot_pkt_free(pkt);
	knot_edns_client_subnet_t got;
	int count;
	assert_true(read_ecs(q, n, &got, &count));
	assert_int_equal(count, 1);
	assert_int_equal(got.source_len, 56);
	static const uint8_t want[7] = { 0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xaa, 0xbb };
	assert_memory_equal(got.address, want, 7);   /* /56: 0xcc cut off */
}

static void test_override_client_ecs(void **state)
{
	(void)state;
	uint8_t q[CAP];
	knot_pkt_t *pkt = knot_pkt_new(q, sizeof(q), NULL);
	knot_pkt_clear(pkt);
	knot_dname_t *qname = knot_dname_from_str_alloc("www.example.");
	knot_pkt_put_question(pkt, qname, KNOT_CLASS_IN, KNOT_RRTYPE_A);
	free(qname);
	static const uint8_t client_ecs[] = { 0, 1, 16, 0, 10, 1 };   /* 10.1.0.0/16 */
	px_put_opt(pkt, 1232, false, KNOT_EDNS_OPTION_CLIENT_SUBNET, client_ecs, 6);
	size_t len = pkt->size;
	knot_pkt_free(pkt);

	proxy_query_t pq;
	assert_int_equal(proxy_msg_parse(q, len, &pq), PROXY_FORWARD);
	assert_true(pq.has_ecs);
	assert_int_equal(pq.ecs.family, 1);
	assert_int_equal(pq.ecs.source, 16);
	assert_int_equal(pq.ecs.addr[0], 10);
	assert_int_equal(pq.ecs.addr[1], 1);

	proxy_ecs_t ecs = ecs_of("198.51.100.9", 24, 56);
	int n = proxy_msg_set_ecs(q, len, sizeof(q), &ecs);
	knot_edns_client_subnet_t got;
	int count;
	assert_true(read_ecs(q, n, &got, &count));
	assert_int_equal(count, 1);                    /* replaced, not added */
	assert_int_equal(got.source_len, 24);
	assert_int_equal(got.address[0], 198);
	/* And removed: the OPT stays, without options. */
	n = proxy_msg_set_ecs(q, n, sizeof(q), NULL);
	assert_int_equal((size_t)n, len - 4 - 6);
	assert_false(read_ecs(q, n, &got, &count));
	assert_int_equal(count, 0);
}

static void test_mapped_and_prefixes(void **state)
{
	(void)state;
	proxy_ecs_t e = ecs_of("::ffff:203.0.113.9", 24, 56);
	assert_int_equal(e.family, 1);
	assert_int_equal(e.source, 24);
	assert_int_equal(e.addr[0], 203);
	assert_int_equal(e.addr[2], 113);
	assert_int_equal(e.addr[3], 0);
	e = ecs_of("203.0.113.9", 20, 56);
	assert_int_equal(e.addr[2], 112);            /* 113 = 0111 0001, /20 keeps 0111 */
	e = ecs_of("203.0.113.9", 0, 56);
	assert_int_equal(e.source, 0);
	assert_int_equal(e.addr[0], 0);
	e = ecs_of("203.0.113.9", 99, 200);         /* clamped */
	assert_int_equal(e.source, 32);
	e = ecs_of("2001:db8::1", 24, 200);
	assert_int_equal(e.source, 128);
}

static void test_tsig_after_opt(void **state)
{
	(void)state;
	uint8_t q[CAP];
	size_t len = px_query(q, sizeof(q), "www.example.", KNOT_RRTYPE_A, 1, 1232, false);
	/* A record after the OPT (a TSIG would be one): leave the message be. */
	static const uint8_t rr[] = { 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1 };
	memcpy(q + len, rr, sizeof(rr));
	knot_wire_add_arcount(q, 1);
	uint8_t copy[CAP];
	memcpy(copy, q, len + sizeof(rr));
	proxy_ecs_t ecs = ecs_of("192.0.2.1", 24, 56);
	assert_int_equal(proxy_msg_set_ecs(q, len + sizeof(rr), sizeof(q), &ecs), CIRRUS_EINVAL);
	assert_memory_equal(q, copy, len + sizeof(rr));
	assert_int_equal(proxy_msg_strip_opt(q, len + sizeof(rr)), len + sizeof(rr));
}

static void test_parse_verdicts(void **state)
{
	(void)state;
	uint8_t q[CAP];
	proxy_query_t pq;
	size_t len = px_query(q, sizeof(q), "WWW.example.", KNOT_RRTYPE_MX, 0x1234, 0, false);
	assert_int_equal(proxy_msg_parse(q, len, &pq), PROXY_FORWARD);
	assert_int_equal(pq.id, 0x1234);
	assert_int_equal(pq.qtype, KNOT_RRTYPE_MX);
	assert_int_equal(pq.udp_size, 512);
	assert_false(pq.edns);
	assert_int_equal(pq.qname[1], 'W');         /* the client's case kept */

	len = px_query(q, sizeof(q), "www.example.", KNOT_RRTYPE_A, 1, 4000, true);
	assert_int_equal(proxy_msg_parse(q, len, &pq), PROXY_FORWARD);
	assert_true(pq.edns && pq.do_bit);
	assert_int_equal(pq.udp_size, 4000);
	len = px_query(q, sizeof(q), "www.example.", KNOT_RRTYPE_A, 1, 100, false);
	assert_int_equal(proxy_msg_parse(q, len, &pq), PROXY_FORWARD);
	assert_int_equal(pq.udp_size, 512);         /* never below 512 */

	assert_int_equal(proxy_msg_parse(q, 11, &pq), PROXY_DROP);       /* runt */
	assert_int_equal(proxy_msg_parse(q, len - 1, &pq), PROXY_FORMERR); /* cut OPT */
	knot_wire_set_qdcount(q, 2);
	assert_int_equal(proxy_msg_parse(q, len, &pq), PROXY_FORMERR);
	knot_wire_set_qdcount(q, 1);
	knot_wire_set_opcode(q, KNOT_OPCODE_NOTIFY);
	assert_int_equal(proxy_msg_parse(q, len, &pq), PROXY_NOTIMP);
	knot_wire_set_opcode(q, KNOT_OPCODE_QUERY);
	knot_wire_set_qr(q);
	assert_int_equal(proxy_msg_parse(q, len, &pq), PROXY_DROP);

	/* A malformed ECS option: FORMERR (RFC 7871 7.1.2). */
	knot_pkt_t *pkt = knot_pkt_new(q, sizeof(q), NULL);
	knot_pkt_clear(pkt);
	knot_dname_t *qname = knot_dname_from_str_alloc("www.example.");
	knot_pkt_put_question(pkt, qname, KNOT_CLASS_IN, KNOT_RRTYPE_A);
	free(qname);
	static const uint8_t bad[] = { 0, 9, 16, 0, 10, 1 };   /* family 9 */
	px_put_opt(pkt, 1232, false, KNOT_EDNS_OPTION_CLIENT_SUBNET, bad, 6);
	len = pkt->size;
	knot_pkt_free(pkt);
	assert_int_equal(proxy_msg_parse(q, len, &pq), PROXY_FORMERR);

	/* The error answers: header + question + OPT, or the header alone. */
	len = px_query(q, sizeof(q), "www.example.", KNOT_RRTYPE_A, 77, 1232, false);
	assert_int_equal(proxy_msg_parse(q, len, &pq), PROXY_FORWARD);
	uint8_t out[CAP];
	size_t n = proxy_msg_error(q, len, &pq, KNOT_RCODE_SERVFAIL, out, sizeof(out));
	pkt = knot_pkt_new(out, n, NULL);
	assert_int_equal(knot_pkt_parse(pkt, 0), KNOT_EOK);
	assert_int_equal(knot_wire_get_id(out), 77);
	assert_true(knot_wire_get_qr(out));
	assert_int_equal(knot_wire_get_rcode(out), KNOT_RCODE_SERVFAIL);
	assert_int_equal(knot_pkt_qtype(pkt), KNOT_RRTYPE_A);
	assert_true(knot_pkt_has_edns(pkt));
	knot_pkt_free(pkt);
	assert_int_equal(proxy_msg_error(q, len, NULL, KNOT_RCODE_FORMERR, out, sizeof(out)), 12);
	assert_int_equal(proxy_msg_error(q, 5, NULL, KNOT_RCODE_FORMERR, out, sizeof(out)), 0);
}

static void test_answer_for_client(void **state)
{
	(void)state;
	uint8_t q[CAP], a[CAP];
	proxy_query_t pq;
	/* The client: no EDNS, mixed case, ID 4242. */
	size_t qlen = px_query(q, sizeof(q), "wWw.ExAmple.", KNOT_RRTYPE_A, 4242, 0, false);
	assert_int_equal(proxy_msg_parse(q, qlen, &pq), PROXY_FORWARD);
	/* The upstream's answer: lower case, ID 0, OPT with the ECS we added. */
	px_rr_t an[] = { px_a("www.example.", 300, "192.0.2.1") };
	size_t len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_A, 0, an, 1, NULL, 0, 1232);
	proxy_ecs_t ecs = ecs_of("192.0.2.1", 24, 56);
	len = proxy_msg_set_ecs(a, len, sizeof(a), &ecs);
	assert_true(proxy_msg_matches(a, len, &pq));

	size_t n = proxy_msg_for_client(a, len, &pq);
	knot_pkt_t *pkt = knot_pkt_new(a, n, NULL);
	assert_int_equal(knot_pkt_parse(pkt, 0), KNOT_EOK);
	assert_int_equal(knot_wire_get_id(a), 4242);
	assert_memory_equal(a + 12, pq.qname, pq.qname_len);
	assert_false(knot_pkt_has_edns(pkt));          /* no OPT for a non-EDNS client */
	assert_int_equal(knot_wire_get_ancount(a), 1);
	knot_pkt_free(pkt);

	/* A different question does not match. */
	len = px_answer(a, sizeof(a), "mail.example.", KNOT_RRTYPE_A, 0, an, 1, NULL, 0, 0);
	assert_false(proxy_msg_matches(a, len, &pq));
	len = px_answer(a, sizeof(a), "www.example.", KNOT_RRTYPE_AAAA, 0, NULL, 0, NULL, 0, 0);
	assert_false(proxy_msg_matches(a, len, &pq));
}

static void test_truncate(void **state)
{
	(void)state;
	uint8_t q[CAP], a[CAP];
	proxy_query_t pq;
	size_t qlen = px_query(q, sizeof(q), "big.example.", KNOT_RRTYPE_A, 9, 0, false);
	assert_int_equal(proxy_msg_parse(q, qlen, &pq), PROXY_FORWARD);
	px_rr_t an[64];
	char addr[32];
	for (int i = 0; i < 64; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", i);
		an[i] = px_a("big.example.", 300, addr);
	}
	size_t len = px_answer(a, sizeof(a), "big.example.", KNOT_RRTYPE_A, 0, an, 64, NULL, 0, 0);
	assert_true(len > 512);
	size_t n = proxy_msg_truncate(a, len, &pq);
	assert_true(n <= 512);
	assert_true(knot_wire_get_tc(a));
	assert_int_equal(knot_wire_get_ancount(a), 0);
	assert_int_equal(knot_wire_get_qdcount(a), 1);
	assert_int_equal(n, pq.question_end);

	/* With EDNS 1232 the same answer (about 1 KB) fits as it is. */
	qlen = px_query(q, sizeof(q), "big.example.", KNOT_RRTYPE_A, 9, 1232, false);
	assert_int_equal(proxy_msg_parse(q, qlen, &pq), PROXY_FORWARD);
	len = px_answer(a, sizeof(a), "big.example.", KNOT_RRTYPE_A, 0, an, 64, NULL, 0, 1232);
	assert_true(len <= 1232);
	assert_int_equal(proxy_msg_truncate(a, len, &pq), len);
	pq.udp_size = 600;
	n = proxy_msg_truncate(a, len, &pq);
	knot_pkt_t *pkt = knot_pkt_new(a, n, NULL);
	assert_int_equal(knot_pkt_parse(pkt, 0), KNOT_EOK);
	assert_true(knot_pkt_has_edns(pkt));            /* the OPT stays */
	assert_true(knot_wire_get_tc(a));
	knot_pkt_free(pkt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_without_opt),
		cmocka_unit_test(test_add_keeps_options),
		cmocka_unit_test(test_override_client_ecs),
		cmocka_unit_test(test_mapped_and_prefixes),
		cmocka_unit_test(test_tsig_after_opt),
		cmocka_unit_test(test_parse_verdicts),
		cmocka_unit_test(test_answer_for_client),
		cmocka_unit_test(test_truncate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
