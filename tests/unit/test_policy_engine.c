/* SPDX-License-Identifier: Apache-2.0
 * test_policy_engine.c -- policies inside a zone and through
 * engine_handle(), in-process: attaching (and what it refuses), answers
 * for A, CNAME chains, ANY and the additional section, fail-closed
 * NODATA, and EDNS Client Subnet (RFC 7871): trust, scope, FORMERR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "helpers.h"
#include "test_policy_fixture.h"
#include "util/error.h"

#define ZONE \
	"$TTL 300\n" \
	"@ SOA ns1 hostmaster 1 3600 900 604800 60\n" \
	"@ NS ns1\n" \
	"@ MX 10 mail\n" \
	"ns1 A 192.0.2.1\n" \
	"static A 192.0.2.2\n" \
	"alias CNAME near\n" \
	"child NS ns.child\nns.child A 192.0.2.53\n"

/* near A: ip rule (10.1/16 -> .16, 10/8 -> .8, default .99)
 * mail A: failover, level 1 held down by health key "m1"
 * go CNAME: weighted pick 1 over two targets
 * closed A: fail-closed, its only endpoint down */
static zone_t *policy_zone(char *err, size_t errlen, int *rc)
{
	zone_t *zone = must_load("example.com", ZONE);
	policy_t *p[4];
	uint64_t lines[4] = { 10, 20, 30, 40 };
	policy_spec_t s;

	fx_top(&s, "near", "A", "ip");
	fx_add(&fx_ep(&s, "192.0.2.8", 1)->cidrs, "10.0.0.0/8");
	fx_add(&fx_ep(&s, "192.0.2.16", 1)->cidrs, "10.1.0.0/16");
	fx_ep(&s, "192.0.2.99", 1)->is_default = true;
	p[0] = fx_compile(&s);

	fx_top(&s, "mail", "A", "failover");
	fx_ep(&s, "192.0.2.25", 1)->health = strdup("m1");
	fx_ep(&s, "192.0.2.26", 1);
	p[1] = fx_compile(&s);

	fx_top(&s, "go", "CNAME", "weighted");
	fx_ep(&s, "static", 1);
	fx_ep(&s, "ns1", 1);
	p[2] = fx_compile(&s);

	fx_top(&s, "closed", "A", "weighted");
	s.fail = strdup("closed");
	fx_ep(&s, "192.0.2.77", 1)->health = strdup("m1");
	p[3] = fx_compile(&s);

	*rc = policy_zone_attach(&zone, p, 4, "test.yaml", lines, err, errlen);
	return zone;
}

typedef struct fixture {
	zone_set_t *set;
	engine_conf_t conf;
	policy_addr_t trust[1];
	policy_health_t *health;
	const policy_health_t *health_slot;
	policy_rng_t rng;
	arena_t arena;
	uint8_t answer[65535];
	size_t answer_len;
	knot_pkt_t *pkt;
	struct sockaddr_in from;
} fixture_t;

static int setup(void **state)
{
	static fixture_t f;
	memset(&f, 0, sizeof(f));
	char err[512];
	int rc;
	zone_t *zone = policy_zone(err, sizeof(err), &rc);
	if (rc != 0) {
		fail_msg("attach: %s", err);
	}
	assert_int_equal(zone_set_new(&zone, 1, &f.set), 0);
	engine_conf_init(&f.conf);
	const char *down[] = { "m1" };
	assert_int_equal(policy_health_new(down, 1, &f.health), 0);
	f.health_slot = f.health;
	f.conf.health = &f.health_slot;
	f.trust[0] = fx_addr("127.0.0.0/8");
	f.conf.ecs_trust = f.trust;
	f.conf.ecs_trust_count = 1;
	policy_rng_seed(&f.rng, 99);
	arena_init(&f.arena, 16384);
	f.from.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &f.from.sin_addr);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	knot_pkt_free(f->pkt);
	zone_set_free(f->set);
	policy_health_free(f->health);
	arena_deinit(&f->arena);
	return 0;
}

/* A query with an optional raw ECS option (NULL: no EDNS at all). */
static size_t make_query(uint8_t *wire, size_t size, const char *name, uint16_t type,
                         const uint8_t *ecs, uint16_t ecs_len, bool edns)
{
	memset(wire, 0, size);
	knot_pkt_t *q = knot_pkt_new(wire, size, NULL);
	knot_dname_storage_t qname;
	assert_non_null(knot_dname_from_str(qname, name, sizeof(qname)));
	knot_wire_set_id(wire, 0x4242);
	assert_int_equal(knot_pkt_put_question(q, qname, KNOT_CLASS_IN, type), KNOT_EOK);
	if (edns) {
		knot_rrset_t opt;
		assert_int_equal(knot_edns_init(&opt, 1232, 0, 0, NULL), KNOT_EOK);
		if (ecs != NULL) {
			assert_int_equal(knot_edns_add_option(&opt, KNOT_EDNS_OPTION_CLIENT_SUBNET,
			                                      ecs_len, ecs, NULL), KNOT_EOK);
		}
		knot_pkt_begin(q, KNOT_ADDITIONAL);
		assert_int_equal(knot_pkt_put(q, 0, &opt, KNOT_PF_FREE), KNOT_EOK);
	}
	size_t len = q->size;
	knot_pkt_free(q);
	return len;
}

static void ask_wire(fixture_t *f, const uint8_t *wire, size_t len, const char *from)
{
	inet_pton(AF_INET, from, &f->from.sin_addr);
	engine_query_t q = { .transport = ENGINE_TRANSPORT_UDP,
	                     .remote = (struct sockaddr *)&f->from, .rng = &f->rng };
	knot_pkt_free(f->pkt);
	f->pkt = NULL;
	engine_action_t a = engine_handle(f->set, &f->conf, &q, wire, len, f->answer,
	                                  sizeof(f->answer), &f->answer_len, &f->arena);
	arena_reset(&f->arena);
	assert_int_equal(a, ENGINE_SEND);
	f->pkt = knot_pkt_new(f->answer, f->answer_len, NULL);
	assert_int_equal(knot_pkt_parse(f->pkt, 0), KNOT_EOK);
}

static void ask(fixture_t *f, const char *name, uint16_t type)
{
	uint8_t wire[512];
	ask_wire(f, wire, make_query(wire, sizeof(wire), name, type, NULL, 0, false),
	         "127.0.0.1");
}

/* ECS for an IPv4 prefix, as a resolver would send it. */
static uint16_t ecs_v4(uint8_t *out, const char *addr, uint8_t source)
{
	uint8_t bytes[4];
	inet_pton(AF_INET, addr, bytes);
	out[0] = 0;
	out[1] = 1;
	out[2] = source;
	out[3] = 0;
	memcpy(out + 4, bytes, (source + 7u) / 8);
	return (uint16_t)(4 + (source + 7u) / 8);
}

static void ask_ecs(fixture_t *f, const char *name, const uint8_t *ecs, uint16_t len,
                    const char *from)
{
	uint8_t wire[512];
	ask_wire(f, wire, make_query(wire, sizeof(wire), name, KNOT_RRTYPE_A, ecs, len, true),
	         from);
}

static const knot_rrset_t *rr_at(const fixture_t *f, knot_section_t s, int i)
{
	assert_true(i < knot_pkt_section(f->pkt, s)->count);
	return knot_pkt_rr(knot_pkt_section(f->pkt, s), i);
}

static unsigned a_octet(const knot_rrset_t *rr)
{
	assert_int_equal(rr->type, KNOT_RRTYPE_A);
	return rr->rrs.rdata->data[3];
}

/* Scope of the response's ECS option; -1 when there is none. */
static int echoed_scope(const fixture_t *f)
{
	if (f->pkt->opt_rr == NULL) {
		return -1;
	}
	uint8_t *o = knot_edns_get_option(f->pkt->opt_rr, KNOT_EDNS_OPTION_CLIENT_SUBNET, NULL);
	return o == NULL ? -1 : o[4 + 3];
}

static void test_attach_marks_nodes(void **state)
{
	fixture_t *f = *state;
	const zone_t *zone = f->set->zones[0];
	knot_dname_storage_t name;
	knot_dname_from_str(name, "near.example.com.", sizeof(name));
	const zone_node_t *n = zone_find(zone, name);
	assert_non_null(n);
	assert_true(n->flags & ZONE_NODE_POLICY);
	assert_non_null(policy_zone_find(zone, n, KNOT_RRTYPE_A));
	assert_null(policy_zone_find(zone, n, KNOT_RRTYPE_AAAA));
	knot_dname_from_str(name, "static.example.com.", sizeof(name));
	n = zone_find(zone, name);
	assert_false(n->flags & ZONE_NODE_POLICY);
}

/* Policies that clash with the zone are refused with their line. */
static void test_attach_refusals(void **state)
{
	(void)state;
	static const struct { const char *name, *type, *want; } cases[] = {
		{ "static", "A", "test.yaml:7: policy static.example.com. A: the zone has static A" },
		{ "alias", "A", "test.yaml:7: policy at alias.example.com.:" },
		{ "x.child", "A", "test.yaml:7: policy x.child.example.com. A is at or below a zone cut" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		zone_t *zone = must_load("example.com", ZONE);
		policy_spec_t s;
		fx_top(&s, cases[i].name, cases[i].type, "weighted");
		fx_ep(&s, "192.0.2.1", 1);
		policy_t *p = fx_compile(&s);
		uint64_t line = 7;
		char err[512];
		int rc = policy_zone_attach(&zone, &p, 1, "test.yaml", &line, err, sizeof(err));
		assert_int_equal(rc, CIRRUS_EINVAL);
		if (strstr(err, cases[i].want) == NULL) {
			fail_msg("'%s' lacks '%s'", err, cases[i].want);
		}
		zone_free(zone);
	}
	/* the same name and type twice */
	zone_t *zone = must_load("example.com", ZONE);
	policy_t *p[2];
	for (int i = 0; i < 2; i++) {
		policy_spec_t s;
		fx_top(&s, "dup", "A", "weighted");
		fx_ep(&s, "192.0.2.1", 1);
		p[i] = fx_compile(&s);
	}
	uint64_t lines[2] = { 3, 9 };
	char err[512];
	assert_int_equal(policy_zone_attach(&zone, p, 2, "test.yaml", lines, err, sizeof(err)),
	                 CIRRUS_EINVAL);
	assert_non_null(strstr(err, "test.yaml:9: a policy for this name and type is already "
	                            "declared on line 3"));
	zone_free(zone);
}

/* Without ECS the packet source decides; an ECS-less answer has no ECS. */
static void test_answer_by_source(void **state)
{
	fixture_t *f = *state;
	uint8_t wire[512];
	size_t len = make_query(wire, sizeof(wire), "near.example.com.", KNOT_RRTYPE_A,
	                        NULL, 0, true);
	ask_wire(f, wire, len, "10.1.9.9");
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 16);
	assert_int_equal(rr_at(f, KNOT_ANSWER, 0)->ttl, 60);
	assert_int_equal(echoed_scope(f), -1);
	ask_wire(f, wire, len, "10.7.0.1");
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 8);
	ask_wire(f, wire, len, "127.0.0.1");
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 99);
}

/* Trusted ECS decides, and the scope echoed is the one used. */
static void test_ecs_trusted(void **state)
{
	fixture_t *f = *state;
	uint8_t ecs[20];
	ask_ecs(f, "near.example.com.", ecs, ecs_v4(ecs, "10.1.2.0", 24), "127.0.0.1");
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 16);
	assert_int_equal(echoed_scope(f), 16);
	ask_ecs(f, "near.example.com.", ecs, ecs_v4(ecs, "10.9.0.0", 16), "127.0.0.1");
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 8);
	assert_int_equal(echoed_scope(f), 13);
	/* static answer: echoed with scope 0 */
	ask_ecs(f, "static.example.com.", ecs, ecs_v4(ecs, "10.1.2.0", 24), "127.0.0.1");
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 2);
	assert_int_equal(echoed_scope(f), 0);
	/* source prefix 0: the client asks not to be located */
	ask_ecs(f, "near.example.com.", ecs, ecs_v4(ecs, "0.0.0.0", 0), "127.0.0.1");
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 99);
	assert_int_equal(echoed_scope(f), 0);
	/* the family, source prefix and address come back as sent */
	ask_ecs(f, "near.example.com.", ecs, ecs_v4(ecs, "10.1.2.0", 23), "127.0.0.1");
	uint8_t *o = knot_edns_get_option(f->pkt->opt_rr, KNOT_EDNS_OPTION_CLIENT_SUBNET, NULL);
	assert_int_equal(knot_edns_opt_get_length(o), 7);
	assert_memory_equal(o + 4, "\x00\x01\x17\x10\x0a\x01\x02", 7);
}

/* From an untrusted resolver ECS is ignored: answered by the source, scope 0. */
static void test_ecs_untrusted(void **state)
{
	fixture_t *f = *state;
	uint8_t ecs[20];
	ask_ecs(f, "near.example.com.", ecs, ecs_v4(ecs, "10.1.2.0", 24), "192.0.2.200");
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 99);
	assert_int_equal(echoed_scope(f), 0);
	ask_ecs(f, "near.example.com.", ecs, ecs_v4(ecs, "192.0.2.0", 24), "10.1.0.1");
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 16);
	assert_int_equal(echoed_scope(f), 0);
}

static void expect_formerr(fixture_t *f, const uint8_t *ecs, uint16_t len)
{
	uint8_t wire[512];
	ask_wire(f, wire, make_query(wire, sizeof(wire), "static.example.com.", KNOT_RRTYPE_A,
	                             ecs, len, true), "127.0.0.1");
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_FORMERR);
}

/* RFC 7871 6, 7.1.1: malformed ECS is FORMERR. */
static void test_ecs_formerr(void **state)
{
	fixture_t *f = *state;
	expect_formerr(f, (const uint8_t *)"\x00\x01\x21\x00\x0a\x00\x00\x00\x00", 9); /* /33 */
	expect_formerr(f, (const uint8_t *)"\x00\x03\x08\x00\x0a", 5);   /* family 3 */
	expect_formerr(f, (const uint8_t *)"\x00\x01\x10\x00\x0a\x01\x02", 7); /* too long */
	expect_formerr(f, (const uint8_t *)"\x00\x01\x18\x00\x0a\x01", 6); /* too short */
	expect_formerr(f, (const uint8_t *)"\x00\x01\x0f\x00\x0a\x01", 6); /* bit 15 set, /15 */
	expect_formerr(f, (const uint8_t *)"\x00\x01\x08", 3);           /* no header */
	expect_formerr(f, (const uint8_t *)"\x00\x02\x81\x00", 4);       /* /129 */
	/* two ECS options */
	uint8_t wire[512];
	memset(wire, 0, sizeof(wire));
	knot_pkt_t *q = knot_pkt_new(wire, sizeof(wire), NULL);
	knot_dname_storage_t qname;
	knot_dname_from_str(qname, "static.example.com.", sizeof(qname));
	knot_pkt_put_question(q, qname, KNOT_CLASS_IN, KNOT_RRTYPE_A);
	knot_rrset_t opt;
	knot_edns_init(&opt, 1232, 0, 0, NULL);
	for (int i = 0; i < 2; i++) {
		knot_edns_add_option(&opt, KNOT_EDNS_OPTION_CLIENT_SUBNET, 5,
		                     (const uint8_t *)"\x00\x01\x08\x00\x0a", NULL);
	}
	knot_pkt_begin(q, KNOT_ADDITIONAL);
	knot_pkt_put(q, 0, &opt, KNOT_PF_FREE);
	size_t len = q->size;
	knot_pkt_free(q);
	ask_wire(f, wire, len, "127.0.0.1");
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_FORMERR);
	/* and a good one passes */
	uint8_t ecs[20];
	ask_ecs(f, "static.example.com.", ecs, ecs_v4(ecs, "10.0.0.0", 15), "127.0.0.1");
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_NOERROR);
}

/* A static CNAME into a policy, a policy CNAME into static data. */
static void test_cname_chains(void **state)
{
	fixture_t *f = *state;
	uint8_t ecs[20];
	ask_ecs(f, "alias.example.com.", ecs, ecs_v4(ecs, "10.1.0.0", 16), "127.0.0.1");
	assert_int_equal(rr_at(f, KNOT_ANSWER, 0)->type, KNOT_RRTYPE_CNAME);
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 1)), 16);
	assert_int_equal(echoed_scope(f), 16);
	unsigned seen[256] = { 0 };
	for (int i = 0; i < 200; i++) {
		ask(f, "go.example.com.", KNOT_RRTYPE_A);
		assert_int_equal(knot_pkt_section(f->pkt, KNOT_ANSWER)->count, 2);
		const knot_rrset_t *cname = rr_at(f, KNOT_ANSWER, 0);
		assert_int_equal(cname->type, KNOT_RRTYPE_CNAME);
		assert_int_equal(cname->rrs.count, 1);
		seen[a_octet(rr_at(f, KNOT_ANSWER, 1))]++;
	}
	assert_int_equal(seen[1] + seen[2], 200);
	assert_in_range(seen[1], 60, 140);
}

/* ANY and the additional section answer from the policy too. */
static void test_any_and_additional(void **state)
{
	fixture_t *f = *state;
	ask(f, "mail.example.com.", KNOT_RRTYPE_ANY);
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 26);
	ask(f, "example.com.", KNOT_RRTYPE_MX);
	const knot_rrset_t *add = NULL;
	for (int i = 0; i < knot_pkt_section(f->pkt, KNOT_ADDITIONAL)->count; i++) {
		if (rr_at(f, KNOT_ADDITIONAL, i)->type == KNOT_RRTYPE_A) {
			add = rr_at(f, KNOT_ADDITIONAL, i);
		}
	}
	assert_non_null(add);
	assert_int_equal(add->rrs.count, 1);
	assert_int_equal(a_octet(add), 26);
}

/* Fail-closed with nothing healthy: NODATA with the SOA. */
static void test_fail_closed_nodata(void **state)
{
	fixture_t *f = *state;
	ask(f, "closed.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(knot_wire_get_rcode(f->answer), KNOT_RCODE_NOERROR);
	assert_int_equal(knot_pkt_section(f->pkt, KNOT_ANSWER)->count, 0);
	assert_int_equal(rr_at(f, KNOT_AUTHORITY, 0)->type, KNOT_RRTYPE_SOA);
	/* once the health snapshot changes, it answers */
	f->health_slot = NULL;
	ask(f, "closed.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 77);
	ask(f, "mail.example.com.", KNOT_RRTYPE_A);
	assert_int_equal(a_octet(rr_at(f, KNOT_ANSWER, 0)), 25);
	f->health_slot = f->health;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attach_marks_nodes),
		cmocka_unit_test(test_attach_refusals),
		cmocka_unit_test(test_answer_by_source),
		cmocka_unit_test(test_ecs_trusted),
		cmocka_unit_test(test_ecs_untrusted),
		cmocka_unit_test(test_ecs_formerr),
		cmocka_unit_test(test_cname_chains),
		cmocka_unit_test(test_any_and_additional),
		cmocka_unit_test(test_fail_closed_nodata),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
