/* SPDX-License-Identifier: Apache-2.0
 * test_alias.c -- the pure parts of ALIAS: compiling alias specs, the
 * resolver's view (fresh TTL counting down, stale within the window, then
 * unknown), the upstream query and the reading of answers (records, CNAME
 * chains, NXDOMAIN and NODATA with their negative TTL, failures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alias/alias.h"
#include "test_policy_fixture.h"
#include "util/error.h"

static policy_spec_t *alias_spec(policy_spec_t *s, const char *name, const char *target)
{
	policy_spec_init(s, 7);
	s->name = strdup(name);
	s->type = strdup("ALIAS");
	s->target = target ? strdup(target) : NULL;
	return s;
}

static void test_compile(void **state)
{
	(void)state;
	policy_spec_t s;
	policy_t *p = fx_compile(alias_spec(&s, "@", "www.example.net."));
	assert_int_equal(policy_type(p), POLICY_TYPE_ALIAS);
	knot_dname_storage_t want;
	knot_dname_from_str(want, "www.example.net.", sizeof(want));
	assert_true(knot_dname_is_equal(policy_alias_target(p), want));
	policy_free(p);
	p = fx_compile(alias_spec(&s, "@", "CDN")); /* relative, lower-cased */
	knot_dname_from_str(want, "cdn.example.com.", sizeof(want));
	assert_true(knot_dname_is_equal(policy_alias_target(p), want));
	policy_free(p);
}

static void test_compile_errors(void **state)
{
	(void)state;
	char err[512];
	policy_spec_t s;
	fx_compile_fails(alias_spec(&s, "@", NULL), err, sizeof(err));
	assert_string_equal(err, "test.yaml:7: an ALIAS needs a 'target' that is a domain "
	                    "name, not '(missing)'");
	alias_spec(&s, "@", "www");
	fx_rule(&s, "weighted");
	fx_compile_fails(&s, err, sizeof(err));
	assert_non_null(strstr(err, "test.yaml:7: 'rule' does not apply to an ALIAS"));
	fx_compile_fails(alias_spec(&s, "www", "www.example.com."), err, sizeof(err));
	assert_non_null(strstr(err, "cannot name its own owner"));
	fx_top(&s, "www", "A", "weighted");
	fx_ep(&s, "192.0.2.1", 1);
	s.target = strdup("x");
	fx_compile_fails(&s, err, sizeof(err));
	assert_non_null(strstr(err, "'target' applies to type ALIAS only"));
}

static void test_view(void **state)
{
	(void)state;
	knot_dname_storage_t t1, t2;
	knot_dname_from_str(t1, "www.example.net.", sizeof(t1));
	knot_dname_from_str(t2, "gone.example.net.", sizeof(t2));
	uint8_t addr[4] = { 192, 0, 2, 7 };
	knot_rdataset_t rrs = { 0 };
	uint8_t buf[sizeof(knot_rdata_t) + 4];
	knot_rdata_init((knot_rdata_t *)buf, 4, addr);
	assert_int_equal(knot_rdataset_add(&rrs, (knot_rdata_t *)buf, NULL), KNOT_EOK);
	policy_alias_result_t results[] = {
		{ t1, KNOT_RRTYPE_A, POLICY_ALIAS_DATA, 10000, 20000, rrs },
		{ t1, KNOT_RRTYPE_AAAA, POLICY_ALIAS_NODATA, 10000, 20000, { 0 } },
		{ t2, KNOT_RRTYPE_A, POLICY_ALIAS_UNKNOWN, 0, 0, { 0 } },
	};
	policy_alias_view_t *v = NULL;
	assert_int_equal(policy_alias_view_new(results, 3, &v), 0);
	knot_rdataset_clear(&rrs, NULL);   /* the view has its own copy */
	knot_rdataset_t got;
	uint32_t ttl = 0;
	bool stale = true;
	/* Fresh: the TTL left, counting down, at least 1. */
	assert_int_equal(policy_alias_view_answer(v, t1, KNOT_RRTYPE_A, 1000, &got, &ttl, &stale),
	                 POLICY_ALIAS_DATA);
	assert_int_equal(ttl, 9);
	assert_false(stale);
	assert_int_equal(got.count, 1);
	assert_memory_equal(got.rdata->data, addr, 4);
	assert_int_equal(policy_alias_view_answer(v, t1, KNOT_RRTYPE_A, 9500, &got, &ttl, NULL),
	                 POLICY_ALIAS_DATA);
	assert_int_equal(ttl, 1);
	/* Expired: stale within the window, then unknown. */
	assert_int_equal(policy_alias_view_answer(v, t1, KNOT_RRTYPE_A, 15000, &got, &ttl, &stale),
	                 POLICY_ALIAS_DATA);
	assert_int_equal(ttl, POLICY_ALIAS_STALE_TTL);
	assert_true(stale);
	assert_int_equal(policy_alias_view_answer(v, t1, KNOT_RRTYPE_A, 20000, &got, &ttl, NULL),
	                 POLICY_ALIAS_UNKNOWN);
	assert_int_equal(policy_alias_view_answer(v, t1, KNOT_RRTYPE_AAAA, 1000, &got, &ttl, NULL),
	                 POLICY_ALIAS_NODATA);
	assert_int_equal(policy_alias_view_answer(v, t2, KNOT_RRTYPE_A, 0, &got, &ttl, NULL),
	                 POLICY_ALIAS_UNKNOWN);
	assert_int_equal(policy_alias_view_answer(v, t2, KNOT_RRTYPE_AAAA, 0, &got, &ttl, NULL),
	                 POLICY_ALIAS_UNKNOWN);
	assert_int_equal(policy_alias_view_answer(NULL, t1, KNOT_RRTYPE_A, 0, &got, &ttl, NULL),
	                 POLICY_ALIAS_UNKNOWN);
	policy_alias_view_free(v);
}

/* An answer to query: rcode, then records given as (owner, type, ttl,
 * rdata, len) in the answer or authority section. */
typedef struct rec {
	const char *owner;
	uint16_t type;
	uint32_t ttl;
	const void *rdata;
	uint16_t len;
	int section;
} rec_t;

static size_t make_reply(const uint8_t *query, size_t qlen, uint16_t rcode,
                         const rec_t *recs, size_t n, uint8_t *out, size_t size)
{
	memset(out, 0, KNOT_WIRE_HEADER_SIZE);
	knot_pkt_t *pkt = knot_pkt_new(out, size, NULL);
	const knot_dname_t *qname = query + KNOT_WIRE_HEADER_SIZE;
	uint16_t qtype = knot_wire_read_u16(qname + knot_dname_size(qname));
	assert_int_equal(knot_pkt_put_question(pkt, qname, KNOT_CLASS_IN, qtype), KNOT_EOK);
	knot_wire_set_id(pkt->wire, knot_wire_get_id(query));
	knot_wire_set_qr(pkt->wire);
	knot_wire_set_rcode(pkt->wire, rcode);
	(void)qlen;
	int section = KNOT_ANSWER;
	knot_pkt_begin(pkt, KNOT_ANSWER);
	for (size_t i = 0; i < n; i++) {
		if (recs[i].section != section) {
			section = recs[i].section;
			knot_pkt_begin(pkt, section);
		}
		knot_dname_storage_t owner;
		knot_dname_from_str(owner, recs[i].owner, sizeof(owner));
		knot_rrset_t *rr = knot_rrset_new(owner, recs[i].type, KNOT_CLASS_IN, recs[i].ttl,
		                                  NULL);
		assert_int_equal(knot_rrset_add_rdata(rr, recs[i].rdata, recs[i].len, NULL),
		                 KNOT_EOK);
		assert_int_equal(knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, rr, 0), KNOT_EOK);
		knot_rrset_free(rr, NULL);
	}
	size_t len = pkt->size;
	knot_pkt_free(pkt);
	return len;
}

static const uint8_t A1[4] = { 198, 51, 100, 7 };
static const uint8_t A2[4] = { 198, 51, 100, 8 };
static const uint8_t CDN[] = "\3cdn\7example\3net";   /* with its final 0 */
/* SOA . . 1 7200 3600 1209600 MINIMUM=60 */
static const uint8_t SOA[22] = { 0, 0, 0, 0, 0, 1, 0, 0, 0x1c, 0x20, 0, 0, 0x0e, 0x10,
                                 0, 0x12, 0x75, 0, 0, 0, 0, 60 };

static void query_for(const char *name, uint16_t type, uint8_t *q, size_t *qlen)
{
	knot_dname_storage_t target;
	knot_dname_from_str(target, name, sizeof(target));
	assert_int_equal(alias_query_build(target, type, 0x1234, q, 512, qlen), 0);
	assert_true(knot_wire_get_rd(q));
	assert_int_equal(knot_wire_get_qdcount(q), 1);
}

static void test_reply_records(void **state)
{
	(void)state;
	uint8_t q[512], r[4096];
	size_t qlen;
	char why[128];
	alias_reply_t rep;
	query_for("www.example.net.", KNOT_RRTYPE_A, q, &qlen);
	/* The CNAME chain: the records at its end, the lowest TTL on the way. */
	rec_t chain[] = {
		{ "www.example.net.", KNOT_RRTYPE_CNAME, 300, CDN, sizeof(CDN), KNOT_ANSWER },
		{ "cdn.example.net.", KNOT_RRTYPE_A, 40, A1, 4, KNOT_ANSWER },
		{ "cdn.example.net.", KNOT_RRTYPE_A, 50, A2, 4, KNOT_ANSWER },
		{ "other.example.net.", KNOT_RRTYPE_A, 5, A2, 4, KNOT_ANSWER },
	};
	size_t len = make_reply(q, qlen, KNOT_RCODE_NOERROR, chain, 4, r, sizeof(r));
	int rc = alias_reply_parse(q, qlen, r, len, &rep, why, sizeof(why));
	if (rc != 0) {
		fail_msg("%s", why);
	}
	assert_int_equal(rep.status, POLICY_ALIAS_DATA);
	assert_int_equal(rep.rrs.count, 2);
	assert_int_equal(rep.ttl, 40);
	knot_rdataset_clear(&rep.rrs, NULL);
	/* NODATA: the SOA's TTL capped by its MINIMUM. */
	rec_t soa[] = { { "example.net.", KNOT_RRTYPE_SOA, 3600, SOA, sizeof(SOA), KNOT_AUTHORITY } };
	len = make_reply(q, qlen, KNOT_RCODE_NOERROR, soa, 1, r, sizeof(r));
	assert_int_equal(alias_reply_parse(q, qlen, r, len, &rep, why, sizeof(why)), 0);
	assert_int_equal(rep.status, POLICY_ALIAS_NODATA);
	assert_int_equal(rep.ttl, 60);
	/* NXDOMAIN is NODATA to the alias. */
	len = make_reply(q, qlen, KNOT_RCODE_NXDOMAIN, soa, 1, r, sizeof(r));
	assert_int_equal(alias_reply_parse(q, qlen, r, len, &rep, why, sizeof(why)), 0);
	assert_int_equal(rep.status, POLICY_ALIAS_NODATA);
	/* A CNAME chain to nowhere, without SOA: NODATA with TTL 0. */
	len = make_reply(q, qlen, KNOT_RCODE_NOERROR, chain, 1, r, sizeof(r));
	assert_int_equal(alias_reply_parse(q, qlen, r, len, &rep, why, sizeof(why)), 0);
	assert_int_equal(rep.status, POLICY_ALIAS_NODATA);
	assert_int_equal(rep.ttl, 0);
}

static void test_reply_failures(void **state)
{
	(void)state;
	uint8_t q[512], r[4096], other[512];
	size_t qlen, olen;
	char why[128];
	alias_reply_t rep;
	query_for("www.example.net.", KNOT_RRTYPE_A, q, &qlen);
	size_t len = make_reply(q, qlen, KNOT_RCODE_SERVFAIL, NULL, 0, r, sizeof(r));
	assert_int_equal(alias_reply_parse(q, qlen, r, len, &rep, why, sizeof(why)), CIRRUS_EIO);
	assert_string_equal(why, "rcode SERVFAIL");
	/* Another id, another question, not a response, garbage. */
	len = make_reply(q, qlen, KNOT_RCODE_NOERROR, NULL, 0, r, sizeof(r));
	knot_wire_set_id(r, 0x4321);
	assert_int_equal(alias_reply_parse(q, qlen, r, len, &rep, why, sizeof(why)), CIRRUS_EINVAL);
	query_for("www.example.org.", KNOT_RRTYPE_A, other, &olen);
	len = make_reply(other, olen, KNOT_RCODE_NOERROR, NULL, 0, r, sizeof(r));
	assert_int_equal(alias_reply_parse(q, qlen, r, len, &rep, why, sizeof(why)), CIRRUS_EINVAL);
	assert_string_equal(why, "the answer is to another question");
	assert_int_equal(alias_reply_parse(q, qlen, q, qlen, &rep, why, sizeof(why)), CIRRUS_EINVAL);
	len = make_reply(q, qlen, KNOT_RCODE_NOERROR, NULL, 0, r, sizeof(r));
	assert_int_equal(alias_reply_parse(q, qlen, r, len - 3, &rep, why, sizeof(why)),
	                 CIRRUS_EINVAL);
	assert_int_equal(alias_reply_parse(q, qlen, r, 5, &rep, why, sizeof(why)), CIRRUS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_reply_records),
		cmocka_unit_test(test_reply_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
