/* SPDX-License-Identifier: Apache-2.0
 * test_alias_engine.c -- ALIAS through engine_handle(), in-process: the
 * apex answering A from an in-zone target (wildcards too) while its other
 * types stay the zone's (an MX to it gets its addresses as additionals), and targets outside read from a resolver view
 * built here: the TTL left, stale answers, NODATA, SERVFAIL without a
 * view or before a result; the targets the resolver is given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alias/alias.h"
#include "engine/engine.h"
#include "helpers.h"
#include "test_policy_fixture.h"

typedef struct fixture {
	zone_set_t *set;
	engine_conf_t conf;
	const policy_alias_view_t *view;   /* the slot the engine reads */
	arena_t arena;
	uint8_t answer[4096];
	knot_pkt_t *pkt;
} fixture_t;

static policy_t *alias(const char *name, const char *target, unsigned ttl)
{
	policy_spec_t s;
	policy_spec_init(&s, 1);
	s.name = strdup(name);
	s.type = strdup("ALIAS");
	s.target = strdup(target);
	s.ttl = ttl;
	return fx_compile(&s);
}

static int setup(void **state)
{
	static fixture_t f;
	memset(&f, 0, sizeof(f));
	zone_t *zone = must_load("example.com",
		"$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 604800 60\n@ NS ns1\n@ MX 10 @\n"
		"ns1 A 192.0.2.1\nwww 120 A 192.0.2.10\n*.w 30 A 192.0.2.40\n");
	policy_t *p[] = { alias("@", "www", 60), alias("out", "www.example.net.", 300),
	                  alias("wc", "x.w", 600) };
	uint64_t lines[] = { 1, 2, 3 };
	char err[256];
	assert_int_equal(policy_zone_attach(&zone, p, 3, "t.yaml", lines, err, sizeof(err)), 0);
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
	policy_alias_view_free((policy_alias_view_t *)f->view);
	arena_deinit(&f->arena);
	return 0;
}

/* Ask name/type, with EDNS (an OPT with payload 1232 and no options)
 * when edns; the answer is parsed into f->pkt. Returns the rcode. */
static uint16_t ask_with(fixture_t *f, const char *name, uint16_t type, bool edns)
{
	knot_dname_storage_t qname;
	assert_non_null(knot_dname_from_str(qname, name, sizeof(qname)));
	uint8_t wire[512];
	size_t len;
	assert_int_equal(alias_query_build(qname, type, 7, wire, sizeof(wire), &len), 0);
	if (edns) {
		static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };
		memcpy(wire + len, opt, sizeof(opt));
		len += sizeof(opt);
		knot_wire_set_arcount(wire, 1);
	}
	engine_query_t q = { .transport = ENGINE_TRANSPORT_UDP };
	size_t answer_len;
	assert_int_equal(engine_handle(f->set, &f->conf, &q, wire, len, f->answer,
	                               sizeof(f->answer), &answer_len, &f->arena), ENGINE_SEND);
	arena_reset(&f->arena);
	knot_pkt_free(f->pkt);
	f->pkt = knot_pkt_new(f->answer, answer_len, NULL);
	assert_int_equal(knot_pkt_parse(f->pkt, 0), KNOT_EOK);
	return knot_wire_get_rcode(f->answer);
}

static uint16_t ask(fixture_t *f, const char *name, uint16_t type)
{
	return ask_with(f, name, type, false);
}

/* The answer's Extended DNS Error code (RFC 8914), -1 when it has none. */
static int ede_of(const fixture_t *f)
{
	if (f->pkt->opt_rr == NULL) {
		return -1;
	}
	const uint8_t *o = knot_edns_get_option(f->pkt->opt_rr, KNOT_EDNS_OPTION_EDE, NULL);
	return o == NULL ? -1 : knot_wire_read_u16(o + KNOT_EDNS_OPTION_HDRLEN);
}

static const knot_rrset_t *only_answer(const fixture_t *f, uint16_t type)
{
	const knot_pktsection_t *an = knot_pkt_section(f->pkt, KNOT_ANSWER);
	assert_int_equal(an->count, 1);
	assert_int_equal(knot_pkt_rr(an, 0)->type, type);
	return knot_pkt_rr(an, 0);
}

static void assert_nodata(const fixture_t *f)
{
	assert_int_equal(knot_pkt_section(f->pkt, KNOT_ANSWER)->count, 0);
	assert_int_equal(knot_pkt_section(f->pkt, KNOT_AUTHORITY)->count, 1);
	assert_int_equal(knot_pkt_rr(knot_pkt_section(f->pkt, KNOT_AUTHORITY), 0)->type,
	                 KNOT_RRTYPE_SOA);
}

static void test_in_zone(void **state)
{
	fixture_t *f = *state;
	assert_int_equal(ask(f, "example.com.", KNOT_RRTYPE_A), KNOT_RCODE_NOERROR);
	const knot_rrset_t *rr = only_answer(f, KNOT_RRTYPE_A);
	assert_int_equal(rr->ttl, 60);                 /* min(alias 60, www 120) */
	assert_int_equal(rr->rrs.rdata->data[3], 10);
	/* The MX host is the apex: its addresses in the additional section. */
	assert_int_equal(ask(f, "example.com.", KNOT_RRTYPE_MX), KNOT_RCODE_NOERROR);
	only_answer(f, KNOT_RRTYPE_MX);
	const knot_pktsection_t *add = knot_pkt_section(f->pkt, KNOT_ADDITIONAL);
	assert_int_equal(add->count, 1);
	assert_int_equal(knot_pkt_rr(add, 0)->type, KNOT_RRTYPE_A);
	assert_int_equal(knot_pkt_rr(add, 0)->ttl, 60);
	assert_int_equal(knot_pkt_rr(add, 0)->rrs.rdata->data[3], 10);
	assert_int_equal(ask(f, "example.com.", KNOT_RRTYPE_TXT), KNOT_RCODE_NOERROR);
	assert_nodata(f);
	assert_int_equal(ask(f, "example.com.", KNOT_RRTYPE_AAAA), KNOT_RCODE_NOERROR);
	assert_nodata(f);
	/* A wildcard answers for the target; TTL min(600, 30). */
	assert_int_equal(ask(f, "wc.example.com.", KNOT_RRTYPE_A), KNOT_RCODE_NOERROR);
	rr = only_answer(f, KNOT_RRTYPE_A);
	assert_int_equal(rr->ttl, 30);
	assert_int_equal(rr->rrs.rdata->data[3], 40);
}

/* Publish a view in which www.example.net. has A expiring at expire_ms
 * (stale until stale_ms) and no AAAA. */
static void publish(fixture_t *f, uint64_t expire_ms, uint64_t stale_ms)
{
	knot_dname_storage_t target;
	knot_dname_from_str(target, "www.example.net.", sizeof(target));
	uint8_t addr[4] = { 198, 51, 100, 7 }, buf[sizeof(knot_rdata_t) + 4];
	knot_rdata_init((knot_rdata_t *)buf, 4, addr);
	knot_rdataset_t rrs = { .count = 1, .size = knot_rdata_size(4),
	                        .rdata = (knot_rdata_t *)buf };
	policy_alias_result_t r[] = {
		{ target, KNOT_RRTYPE_A, POLICY_ALIAS_DATA, expire_ms, stale_ms, rrs },
		{ target, KNOT_RRTYPE_AAAA, POLICY_ALIAS_NODATA, expire_ms, stale_ms, { 0 } },
	};
	policy_alias_view_free((policy_alias_view_t *)f->view);
	policy_alias_view_t *v = NULL;
	assert_int_equal(policy_alias_view_new(r, 2, &v), 0);
	f->view = v;
}

static void test_out_of_zone(void **state)
{
	fixture_t *f = *state;
	/* No resolver at all (function mode): SERVFAIL, the rest unchanged. */
	f->conf.aliases = NULL;
	assert_int_equal(ask(f, "out.example.com.", KNOT_RRTYPE_A), KNOT_RCODE_SERVFAIL);
	/* A resolver that has no result yet: SERVFAIL. */
	f->conf.aliases = &f->view;
	assert_int_equal(ask(f, "out.example.com.", KNOT_RRTYPE_A), KNOT_RCODE_SERVFAIL);
	/* Fresh: the TTL left (100 s), under the alias's 300. */
	uint64_t now = policy_alias_clock_ms();
	publish(f, now + 100500, now + 200000);
	assert_int_equal(ask(f, "out.example.com.", KNOT_RRTYPE_A), KNOT_RCODE_NOERROR);
	const knot_rrset_t *rr = only_answer(f, KNOT_RRTYPE_A);
	assert_in_range(rr->ttl, 99, 100);
	assert_int_equal(rr->rrs.rdata->data[3], 7);
	assert_int_equal(ask(f, "out.example.com.", KNOT_RRTYPE_AAAA), KNOT_RCODE_NOERROR);
	assert_nodata(f);
	/* Expired but within serve-stale: TTL 30; past it: SERVFAIL. */
	publish(f, now - 1000, now + 100000);
	assert_int_equal(ask(f, "out.example.com.", KNOT_RRTYPE_A), KNOT_RCODE_NOERROR);
	assert_int_equal(only_answer(f, KNOT_RRTYPE_A)->ttl, POLICY_ALIAS_STALE_TTL);
	publish(f, now - 2000, now - 1000);
	assert_int_equal(ask(f, "out.example.com.", KNOT_RRTYPE_A), KNOT_RCODE_SERVFAIL);
}

/* RFC 8914: with EDNS, stale answers say so (Stale Answer) and SERVFAILs
 * say why; fresh answers and queries without EDNS carry nothing. */
static void test_extended_errors(void **state)
{
	fixture_t *f = *state;
	f->conf.aliases = NULL;
	assert_int_equal(ask_with(f, "out.example.com.", KNOT_RRTYPE_A, true),
	                 KNOT_RCODE_SERVFAIL);
	assert_int_equal(ede_of(f), KNOT_EDNS_EDE_OTHER);
	assert_int_equal(ask(f, "out.example.com.", KNOT_RRTYPE_A), KNOT_RCODE_SERVFAIL);
	assert_null(f->pkt->opt_rr);
	f->conf.aliases = &f->view;
	policy_alias_view_free((policy_alias_view_t *)f->view);
	f->view = NULL;
	assert_int_equal(ask_with(f, "out.example.com.", KNOT_RRTYPE_A, true),
	                 KNOT_RCODE_SERVFAIL);
	assert_int_equal(ede_of(f), KNOT_EDNS_EDE_NREACH_AUTH);
	uint64_t now = policy_alias_clock_ms();
	publish(f, now + 100500, now + 200000);
	assert_int_equal(ask_with(f, "out.example.com.", KNOT_RRTYPE_A, true),
	                 KNOT_RCODE_NOERROR);
	assert_int_equal(ede_of(f), -1);
	publish(f, now - 1000, now + 100000);
	assert_int_equal(ask_with(f, "out.example.com.", KNOT_RRTYPE_A, true),
	                 KNOT_RCODE_NOERROR);
	assert_int_equal(only_answer(f, KNOT_RRTYPE_A)->ttl, POLICY_ALIAS_STALE_TTL);
	assert_int_equal(ede_of(f), KNOT_EDNS_EDE_STALE);
	assert_int_equal(ask_with(f, "out.example.com.", KNOT_RRTYPE_AAAA, true),
	                 KNOT_RCODE_NOERROR);
	assert_nodata(f);
	assert_int_equal(ede_of(f), KNOT_EDNS_EDE_STALE);
	/* In-zone targets are never stale. */
	assert_int_equal(ask_with(f, "example.com.", KNOT_RRTYPE_A, true), KNOT_RCODE_NOERROR);
	assert_int_equal(ede_of(f), -1);
	f->conf.aliases = NULL;
}

/* The names the resolver is given: outside targets, once, and none that
 * a served zone holds. */
static void test_targets(void **state)
{
	fixture_t *f = *state;
	knot_dname_t **names = NULL;
	size_t n = 0;
	zone_t *zones[] = { f->set->zones[0], f->set->zones[0] };
	assert_int_equal(policy_alias_targets(zones, 2, NULL, &names, &n), 0);
	assert_int_equal(n, 1);
	char text[KNOT_DNAME_TXT_MAXLEN + 1];
	assert_string_equal(knot_dname_to_str(text, names[0], sizeof(text)), "www.example.net.");
	free(names[0]);
	free(names);
	zone_t *both[] = { zones[0], must_load("example.net",
	                   "@ 60 SOA ns1 h 1 2 3 4 5\n@ 60 NS ns1\nns1 60 A 192.0.2.1\n") };
	zone_set_t *set = NULL;
	assert_int_equal(zone_set_new(both, 2, &set), 0);
	assert_int_equal(policy_alias_targets(both, 2, set, &names, &n), 0);
	assert_int_equal(n, 0);
	free(names);
	zone_set_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_zone),
		cmocka_unit_test(test_out_of_zone),
		cmocka_unit_test(test_extended_errors),
		cmocka_unit_test(test_targets),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
