/* SPDX-License-Identifier: Apache-2.0
 * test_engine.c -- engine_handle() in-process, no sockets: the answer rules
 * of RFC 1034, 2308, 4592, 6672 and 6891 on a small zone set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "helpers.h"

#define ZONE \
	"$TTL 300\n" \
	"@ 3600 SOA ns1 hostmaster 1 3600 900 604800 60\n" \
	"@ NS ns1\n@ NS ns2.example.net.\n" \
	"@ MX 10 mail\n" \
	"ns1 A 192.0.2.1\n" \
	"mail A 192.0.2.25\n" \
	"www A 192.0.2.80\n" \
	"alias CNAME www\n" \
	"chain CNAME alias\n" \
	"loop1 CNAME loop2\nloop2 CNAME loop1\n" \
	"*.wild TXT \"wildcard\"\n" \
	"a.b.c A 192.0.2.3\n" \
	"child NS ns.child\nns.child A 192.0.2.53\n" \
	"old DNAME new.example.com.\n" \
	"x.new A 192.0.2.99\n" \
	"$GENERATE 1-30 many TXT \"record-$-0123456789012345678901234567890123456789\"\n"

typedef struct fixture {
	zone_set_t *set;
	engine_conf_t conf;
	arena_t arena;
	uint8_t answer[65535];
	size_t answer_len;
	knot_pkt_t *pkt;
} fixture_t;

static int setup(void **state)
{
	static fixture_t f;
	memset(&f, 0, sizeof(f));
	zone_t *zone = must_load("example.com", ZONE);
	assert_int_equal(zone_set_new(&zone, 1, &f.set), 0);
	engine_conf_init(&f.conf);
	arena_init(&f.arena, 16384);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	knot_pkt_free(f->pkt);
	zone_set_free(f->set);
	arena_deinit(&f->arena);
	return 0;
}

static size_t make_query(uint8_t *wire, size_t size, const char *name, uint16_t type,
                         int edns_payload)
{
	memset(wire, 0, size);
	knot_pkt_t *q = knot_pkt_new(wire, size, NULL);
	knot_dname_storage_t qname;
	assert_non_null(knot_dname_from_str(qname, name, sizeof(qname)));
	knot_wire_set_id(wire, 0x1234);
	assert_int_equal(knot_pkt_put_question(q, qname, KNOT_CLASS_IN, type), KNOT_EOK);
	if (edns_payload > 0) {
		knot_rrset_t opt;
		assert_int_equal(knot_edns_init(&opt, edns_payload, 0, 0, NULL), KNOT_EOK);
		knot_pkt_begin(q, KNOT_ADDITIONAL);
		assert_int_equal(knot_pkt_put(q, 0, &opt, KNOT_PF_FREE), KNOT_EOK);
	}
	size_t len = q->size;
	knot_pkt_free(q);
	return len;
}

/* Send a query through the engine and parse the answer into f->pkt. */
static engine_action_t ask_wire(fixture_t *f, const uint8_t *wire, size_t len,
                                engine_transport_t transport)
{
	engine_query_t q = { .transport = transport };
	knot_pkt_free(f->pkt);
	f->pkt = NULL;
	engine_action_t a = engine_handle(f->set, &f->conf, &q, wire, len, f->answer,
	                                  sizeof(f->answer), &f->answer_len, &f->arena);
	arena_reset(&f->arena);
	if (a == ENGINE_SEND) {
		f->pkt = knot_pkt_new(f->answer, f->answer_len, NULL);
		assert_int_equal(knot_pkt_parse(f->pkt, 0), KNOT_EOK);
		assert_int_equal(knot_wire_get_id(f->answer), knot_wire_get_id(wire));
		assert_true(knot_wire_get_qr(f->answer));
	}
	return a;
}

static void ask(fixture_t *f, const char *name, uint16_t type)
{
	uint8_t wire[512];
	size_t len = make_query(wire, sizeof(wire), name, type, 0);
	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_UDP), ENGINE_SEND);
}

static int section_count(const fixture_t *f, knot_section_t s)
{
	return knot_pkt_section(f->pkt, s)->count;
}

static const knot_rrset_t *section_rr(const fixture_t *f, knot_section_t s, int i)
{
	return knot_pkt_rr(knot_pkt_section(f->pkt, s), i);
}

static void test_exact(void **state)
{
	fixture_t *f = *state;
	ask(f, "www.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_NOERROR);
	assert_true(knot_wire_get_aa(f->answer));
	assert_int_equal(section_count(f, KNOT_ANSWER), 1);
	assert_int_equal(section_count(f, KNOT_AUTHORITY), 0);
	assert_int_equal(section_rr(f, KNOT_ANSWER, 0)->ttl, 300);
}

static void test_negative(void **state)
{
	fixture_t *f = *state;
	ask(f, "nothing.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_NXDOMAIN);
	assert_true(knot_wire_get_aa(f->answer));
	assert_int_equal(section_count(f, KNOT_AUTHORITY), 1);
	const knot_rrset_t *soa = section_rr(f, KNOT_AUTHORITY, 0);
	assert_int_equal(soa->type, KNOT_RRTYPE_SOA);
	assert_int_equal(soa->ttl, 60); /* min(3600, MINIMUM 60) */

	ask(f, "www.example.com.", KNOT_RRTYPE_AAAA);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_NOERROR);
	assert_int_equal(section_count(f, KNOT_ANSWER), 0);
	assert_int_equal(section_count(f, KNOT_AUTHORITY), 1);

	ask(f, "b.c.example.com.", KNOT_RRTYPE_A); /* empty non-terminal */
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_NOERROR);
	assert_int_equal(section_count(f, KNOT_ANSWER), 0);
}

static void test_cname_chain_and_loop(void **state)
{
	fixture_t *f = *state;
	ask(f, "chain.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(section_count(f, KNOT_ANSWER), 3);
	assert_int_equal(section_rr(f, KNOT_ANSWER, 2)->type, KNOT_RRTYPE_A);

	ask(f, "loop1.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_NOERROR);
	assert_int_equal(section_count(f, KNOT_ANSWER), 2);
}

static void test_wildcard(void **state)
{
	fixture_t *f = *state;
	ask(f, "Any.Wild.example.com.", KNOT_RRTYPE_TXT);
	assert_int_equal(section_count(f, KNOT_ANSWER), 1);
	/* the owner is the query name, case included */
	knot_dname_storage_t expect;
	knot_dname_from_str(expect, "Any.Wild.example.com.", sizeof(expect));
	assert_true(knot_dname_is_case_equal(section_rr(f, KNOT_ANSWER, 0)->owner, expect));
}

static void test_referral(void **state)
{
	fixture_t *f = *state;
	ask(f, "host.child.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_NOERROR);
	assert_false(knot_wire_get_aa(f->answer));
	assert_int_equal(section_count(f, KNOT_ANSWER), 0);
	assert_int_equal(section_rr(f, KNOT_AUTHORITY, 0)->type, KNOT_RRTYPE_NS);
	assert_int_equal(section_count(f, KNOT_ADDITIONAL), 1);

	ask(f, "child.example.com.", KNOT_RRTYPE_DS); /* parent side */
	assert_true(knot_wire_get_aa(f->answer));
	assert_int_equal(section_rr(f, KNOT_AUTHORITY, 0)->type, KNOT_RRTYPE_SOA);
}

static void test_dname(void **state)
{
	fixture_t *f = *state;
	ask(f, "x.old.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(section_count(f, KNOT_ANSWER), 3);
	assert_int_equal(section_rr(f, KNOT_ANSWER, 0)->type, KNOT_RRTYPE_DNAME);
	assert_int_equal(section_rr(f, KNOT_ANSWER, 1)->type, KNOT_RRTYPE_CNAME);
	assert_int_equal(section_rr(f, KNOT_ANSWER, 2)->type, KNOT_RRTYPE_A);
}

static void test_additional(void **state)
{
	fixture_t *f = *state;
	ask(f, "example.com.", KNOT_RRTYPE_MX);
	assert_int_equal(section_count(f, KNOT_ADDITIONAL), 1);
	ask(f, "example.com.", KNOT_RRTYPE_NS);
	assert_int_equal(section_count(f, KNOT_ANSWER), 2); /* one per record */
	assert_int_equal(section_count(f, KNOT_ADDITIONAL), 1); /* ns2 is outside */
}

static void test_refused_and_errors(void **state)
{
	fixture_t *f = *state;
	ask(f, "example.org.", KNOT_RRTYPE_A);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_REFUSED);
	assert_false(knot_wire_get_aa(f->answer));

	uint8_t wire[512];
	size_t len = make_query(wire, sizeof(wire), "www.example.com.", KNOT_RRTYPE_A, 0);
	knot_wire_set_qr(wire);
	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_UDP), ENGINE_DROP);

	len = make_query(wire, sizeof(wire), "www.example.com.", KNOT_RRTYPE_A, 0);
	knot_wire_set_opcode(wire, 2);
	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_UDP), ENGINE_SEND);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_NOTIMPL);

	len = make_query(wire, sizeof(wire), "www.example.com.", KNOT_RRTYPE_A, 0);
	knot_wire_set_qdcount(wire, 2);
	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_UDP), ENGINE_SEND);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_FORMERR);

	len = make_query(wire, sizeof(wire), "www.example.com.", KNOT_RRTYPE_A, 0);
	assert_int_equal(ask_wire(f, wire, len - 7, ENGINE_TRANSPORT_UDP), ENGINE_SEND);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_FORMERR);

	assert_int_equal(ask_wire(f, wire, 5, ENGINE_TRANSPORT_UDP), ENGINE_DROP);
}

static void test_edns(void **state)
{
	fixture_t *f = *state;
	uint8_t wire[512];
	size_t len = make_query(wire, sizeof(wire), "www.example.com.", KNOT_RRTYPE_A, 4096);
	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_UDP), ENGINE_SEND);
	assert_non_null(f->pkt->opt_rr);
	assert_int_equal(knot_edns_get_payload(f->pkt->opt_rr), 1232);

	wire[len - 11 + 6] = 1; /* OPT TTL: ext-rcode, version = 1, flags */
	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_UDP), ENGINE_SEND);
	assert_int_equal(knot_pkt_ext_rcode(f->pkt), KNOT_RCODE_BADVERS);
}

static void test_truncation(void **state)
{
	fixture_t *f = *state;
	uint8_t wire[512];
	size_t len = make_query(wire, sizeof(wire), "many.example.com.", KNOT_RRTYPE_TXT, 0);
	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_UDP), ENGINE_SEND);
	assert_true(knot_wire_get_tc(f->answer));
	assert_int_equal(section_count(f, KNOT_ANSWER), 0);
	assert_true(f->answer_len <= 512);

	len = make_query(wire, sizeof(wire), "many.example.com.", KNOT_RRTYPE_TXT, 4096);
	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_UDP), ENGINE_SEND);
	assert_true(knot_wire_get_tc(f->answer));
	assert_non_null(f->pkt->opt_rr); /* OPT survives truncation */
	assert_true(f->answer_len <= 1232);

	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_TCP), ENGINE_SEND);
	assert_false(knot_wire_get_tc(f->answer));
	assert_int_equal(section_count(f, KNOT_ANSWER), 30);
}

/* An RRset larger than any DNS message: TC would send the client to TCP,
 * where it still cannot fit, so TCP answers SERVFAIL. */
static void test_rrset_too_large_for_tcp(void **state)
{
	fixture_t *f = *state;
	static char text[80000];
	size_t n = (size_t)snprintf(text, sizeof(text), "$TTL 300\n"
		"@ SOA ns1 h 1 3600 900 604800 60\n@ NS ns1\nns1 A 192.0.2.1\n");
	for (int rec = 0; rec < 2; rec++) {
		n += (size_t)snprintf(text + n, sizeof(text) - n, "huge TXT");
		for (int i = 0; i < 130; i++) {
			n += (size_t)snprintf(text + n, sizeof(text) - n, " \"%0254d\"", rec);
		}
		n += (size_t)snprintf(text + n, sizeof(text) - n, "\n");
	}
	zone_t *zone = must_load("huge.test", text);
	zone_set_t *set = NULL, *saved = f->set;
	assert_int_equal(zone_set_new(&zone, 1, &set), 0);
	f->set = set;
	uint8_t wire[512];
	size_t len = make_query(wire, sizeof(wire), "huge.huge.test.", KNOT_RRTYPE_TXT, 0);
	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_UDP), ENGINE_SEND);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_NOERROR);
	assert_true(knot_wire_get_tc(f->answer));
	assert_int_equal(ask_wire(f, wire, len, ENGINE_TRANSPORT_TCP), ENGINE_SEND);
	assert_false(knot_wire_get_tc(f->answer));
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_SERVFAIL);
	assert_int_equal(section_count(f, KNOT_ANSWER), 0);
	f->set = saved;
	zone_set_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_cname_chain_and_loop),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_referral),
		cmocka_unit_test(test_dname),
		cmocka_unit_test(test_additional),
		cmocka_unit_test(test_refused_and_errors),
		cmocka_unit_test(test_edns),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_rrset_too_large_for_tcp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
