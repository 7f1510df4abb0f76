/* SPDX-License-Identifier: Apache-2.0
 * test_fn_json.c -- the JSON API of function mode (fn/fn_json.c): the
 * /resolve parameters, the query they make (RD, CD, DO, the RFC 7871 client
 * subnet option, read back with libknot), and engine answers rendered as
 * application/dns-json.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "fn/fn.h"
#include "helpers.h"
#include "util/error.h"

/* Request parameters as name/value pairs, NULL-terminated. */
static const char *arg(void *ctx, const char *name)
{
	const char *const *kv = ctx;
	for (; kv[0] != NULL; kv += 2) {
		if (strcmp(kv[0], name) == 0) {
			return kv[1];
		}
	}
	return NULL;
}

static int parse(const char *const *kv, fn_resolve_t *r)
{
	char reason[256] = "";
	int rc = fn_resolve_parse(arg, (void *)kv, r, reason, sizeof(reason));
	assert_true(rc == 0 ? reason[0] == '\0' : reason[0] != '\0');
	return rc;
}

static void test_parse_defaults(void **state)
{
	(void)state;
	fn_resolve_t r;
	const char *kv[] = { "name", "WWW.Example.COM", NULL };
	assert_int_equal(parse(kv, &r), 0);
	assert_true(knot_dname_is_equal(r.qname, (const knot_dname_t *)"\3www\7example\3com"));
	assert_int_equal(r.qtype, KNOT_RRTYPE_A);
	assert_false(r.dnssec_ok);
	assert_false(r.checking_disabled);
	assert_false(r.has_ecs);
}

static void test_parse_types_and_flags(void **state)
{
	(void)state;
	fn_resolve_t r;
	static const struct { const char *text; uint16_t type; } types[] = {
		{ "AAAA", 28 }, { "aaaa", 28 }, { "28", 28 }, { "MX", 15 }, { "TYPE65534", 65534 },
		{ "65535", 65535 }, { "ANY", 255 }, { "", 1 },
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const char *kv[] = { "name", "example.com", "type", types[i].text, NULL };
		assert_int_equal(parse(kv, &r), 0);
		assert_int_equal(r.qtype, types[i].type);
	}
	const char *flags[] = { "name", "x.", "do", "1", "cd", "true", NULL };
	assert_int_equal(parse(flags, &r), 0);
	assert_true(r.dnssec_ok && r.checking_disabled);
	const char *off[] = { "name", "x.", "do", "false", "cd", "0", NULL };
	assert_int_equal(parse(off, &r), 0);
	assert_false(r.dnssec_ok || r.checking_disabled);
}

static void test_parse_bad(void **state)
{
	(void)state;
	fn_resolve_t r;
	const char *const bad[][9] = {
		{ NULL },
		{ "name", "", NULL },
		{ "name", "a..b", NULL },
		{ "name", "x.", "type", "BOGUS", NULL },
		{ "name", "x.", "type", "65536", NULL },
		{ "name", "x.", "type", "-1", NULL },
		{ "name", "x.", "do", "yes please", NULL },
		{ "name", "x.", "cd", "2", NULL },
		{ "name", "x.", "edns_client_subnet", "1.2.3.4/33", NULL },
		{ "name", "x.", "edns_client_subnet", "1.2.3.4/", NULL },
		{ "name", "x.", "edns_client_subnet", "1.2.3/24", NULL },
		{ "name", "x.", "edns_client_subnet", "2001:db8::/129", NULL },
		{ "name", "x.", "edns_client_subnet", "example.com", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &r), CIRRUS_EINVAL);
	}
	/* 63-octet labels are the limit. */
	char longname[80];
	memset(longname, 'a', 64);
	strcpy(longname + 64, ".com");
	const char *kv[] = { "name", longname, NULL };
	assert_int_equal(parse(kv, &r), CIRRUS_EINVAL);
}

static void test_parse_client_subnet(void **state)
{
	(void)state;
	fn_resolve_t r;
	const char *v4[] = { "name", "x.", "edns_client_subnet", "198.51.100.77", NULL };
	assert_int_equal(parse(v4, &r), 0);
	assert_true(r.has_ecs);
	assert_int_equal(r.ecs.family, 1);
	assert_int_equal(r.ecs.source_len, 24);   /* RFC 7871 11.1 default */
	assert_memory_equal(r.ecs.address, "\xc6\x33\x64\x00", 4);
	const char *v4p[] = { "name", "x.", "edns_client_subnet", "198.51.100.77/20", NULL };
	assert_int_equal(parse(v4p, &r), 0);
	assert_int_equal(r.ecs.source_len, 20);
	assert_memory_equal(r.ecs.address, "\xc6\x33\x60\x00", 4);
	const char *v6[] = { "name", "x.", "edns_client_subnet", "2001:db8:1:2::1", NULL };
	assert_int_equal(parse(v6, &r), 0);
	assert_int_equal(r.ecs.family, 2);
	assert_int_equal(r.ecs.source_len, 56);
	assert_memory_equal(r.ecs.address, "\x20\x01\x0d\xb8\x00\x01\x00\x00\0\0\0\0\0\0\0\0", 16);
	const char *off[] = { "name", "x.", "edns_client_subnet", "0.0.0.0/0", NULL };
	assert_int_equal(parse(off, &r), 0);
	assert_true(r.has_ecs);
	assert_int_equal(r.ecs.source_len, 0);
}

/* The query for kv, parsed back by libknot. */
static knot_pkt_t *query_of(const char *const *kv, uint8_t *wire, size_t size)
{
	fn_resolve_t r;
	size_t len;
	assert_int_equal(parse(kv, &r), 0);
	assert_int_equal(fn_resolve_query(&r, wire, size, &len), 0);
	knot_pkt_t *pkt = knot_pkt_new(wire, len, NULL);
	assert_int_equal(knot_pkt_parse(pkt, 0), KNOT_EOK);
	return pkt;
}

static void test_query_wire(void **state)
{
	(void)state;
	uint8_t wire[512];
	const char *plain[] = { "name", "www.example.com", "type", "MX", NULL };
	knot_pkt_t *pkt = query_of(plain, wire, sizeof(wire));
	assert_int_equal(knot_wire_get_id(wire), 0);
	assert_true(knot_wire_get_rd(wire));
	assert_false(knot_wire_get_cd(wire));
	assert_false(knot_wire_get_qr(wire));
	assert_int_equal(knot_pkt_qtype(pkt), KNOT_RRTYPE_MX);
	assert_int_equal(knot_pkt_qclass(pkt), KNOT_CLASS_IN);
	assert_null(pkt->opt_rr);
	knot_pkt_free(pkt);

	const char *ecs[] = { "name", "www.example.com", "do", "1", "cd", "1",
	                      "edns_client_subnet", "198.51.100.77/22", NULL };
	pkt = query_of(ecs, wire, sizeof(wire));
	assert_true(knot_wire_get_cd(wire));
	assert_non_null(pkt->opt_rr);
	assert_true(knot_edns_do(pkt->opt_rr));
	assert_int_equal(knot_edns_get_version(pkt->opt_rr), 0);
	uint8_t *opt = knot_edns_get_option(pkt->opt_rr, KNOT_EDNS_OPTION_CLIENT_SUBNET, NULL);
	assert_non_null(opt);
	knot_edns_client_subnet_t got;
	assert_int_equal(knot_edns_client_subnet_parse(&got, knot_edns_opt_get_data(opt),
	                                               knot_edns_opt_get_length(opt)), KNOT_EOK);
	assert_int_equal(got.family, 1);
	assert_int_equal(got.source_len, 22);
	assert_int_equal(got.scope_len, 0);
	assert_int_equal(knot_edns_opt_get_length(opt), 4 + 3);  /* 22 bits: 3 bytes */
	assert_memory_equal(got.address, "\xc6\x33\x64", 3);
	knot_pkt_free(pkt);

	/* Too small a buffer is an error, not an overflow. */
	fn_resolve_t r;
	size_t len;
	assert_int_equal(parse(ecs, &r), 0);
	size_t need;
	assert_int_equal(fn_resolve_query(&r, wire, sizeof(wire), &need), 0);
	assert_int_equal(need, 12 + 17 + 4 + 11 + 4 + 7);  /* header, question, OPT, ECS */
	for (size_t size = 0; size < need; size++) {
		assert_int_equal(fn_resolve_query(&r, wire, size, &len), CIRRUS_ESPACE);
	}
}

#define ZONE \
	"$TTL 300\n" \
	"@ 600 SOA ns1 hostmaster 7 3600 900 604800 120\n" \
	"@ NS ns1\n" \
	"ns1 A 192.0.2.1\n" \
	"www A 192.0.2.80\n" \
	"www A 192.0.2.81\n" \
	"alias 60 CNAME www\n" \
	"txt TXT \"say \\\"hi\\\"\" \"\\195\\169t\\195\\169\"\n" \
	"mail MX 10 www\n"

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

/* The JSON answer to /resolve?kv, parsed. */
static json_t *resolve(const char *const *kv)
{
	fn_resolve_t r;
	uint8_t query[512], answer[FN_MSG_MAX];
	size_t qlen, alen;
	assert_int_equal(parse(kv, &r), 0);
	assert_int_equal(fn_resolve_query(&r, query, sizeof(query), &qlen), 0);
	engine_conf_t conf;
	engine_conf_init(&conf);
	engine_query_t q = { .transport = ENGINE_TRANSPORT_TCP };
	arena_t arena;
	arena_init(&arena, 16384);
	assert_int_equal(engine_handle(set, &conf, &q, query, qlen, answer, sizeof(answer),
	                               &alen, &arena), ENGINE_SEND);
	arena_deinit(&arena);
	char *text = NULL;
	assert_int_equal(fn_json_render(answer, alen, &r, &text), 0);
	json_error_t e;
	json_t *doc = json_loads(text, 0, &e);
	if (doc == NULL) {
		fail_msg("not JSON: %s: %s", text, e.text);
	}
	free(text);
	return doc;
}

static void assert_json(json_t *doc, const char *want)
{
	json_error_t e;
	json_t *w = json_loads(want, 0, &e);
	assert_non_null(w);
	if (!json_equal(doc, w)) {
		char *got = json_dumps(doc, JSON_SORT_KEYS);
		fail_msg("got %s\nwant %s", got, want);
	}
	json_decref(w);
	json_decref(doc);
}

static void test_render_answer(void **state)
{
	(void)state;
	const char *kv[] = { "name", "www.example.com", NULL };
	assert_json(resolve(kv),
		"{\"Status\": 0, \"TC\": false, \"RD\": true, \"RA\": false, \"AD\": false,"
		" \"CD\": false, \"Question\": [{\"name\": \"www.example.com.\", \"type\": 1}],"
		" \"Answer\": [{\"name\": \"www.example.com.\", \"type\": 1, \"TTL\": 300,"
		"              \"data\": \"192.0.2.80\"},"
		"             {\"name\": \"www.example.com.\", \"type\": 1, \"TTL\": 300,"
		"              \"data\": \"192.0.2.81\"}]}");
}

static void test_render_nxdomain_and_cname(void **state)
{
	(void)state;
	const char *nx[] = { "name", "nothing.example.com", "type", "AAAA", NULL };
	assert_json(resolve(nx),
		"{\"Status\": 3, \"TC\": false, \"RD\": true, \"RA\": false, \"AD\": false,"
		" \"CD\": false, \"Question\": [{\"name\": \"nothing.example.com.\", \"type\": 28}],"
		" \"Authority\": [{\"name\": \"example.com.\", \"type\": 6, \"TTL\": 120,"
		"   \"data\": \"ns1.example.com. hostmaster.example.com. 7 3600 900 604800 120\"}]}");
	const char *cname[] = { "name", "alias.example.com", "cd", "1", NULL };
	json_t *doc = resolve(cname);
	assert_json(json_incref(json_object_get(doc, "Answer")),
		"[{\"name\": \"alias.example.com.\", \"type\": 5, \"TTL\": 60,"
		"  \"data\": \"www.example.com.\"},"
		" {\"name\": \"www.example.com.\", \"type\": 1, \"TTL\": 300, \"data\": \"192.0.2.80\"},"
		" {\"name\": \"www.example.com.\", \"type\": 1, \"TTL\": 300, \"data\": \"192.0.2.81\"}]");
	assert_true(json_is_true(json_object_get(doc, "CD")));
	json_decref(doc);
}

static void test_render_presentation_and_ecs(void **state)
{
	(void)state;
	const char *txt[] = { "name", "txt.example.com", "type", "TXT",
	                      "edns_client_subnet", "2001:db8:aa:bb::1/48", NULL };
	json_t *doc = resolve(txt);
	json_t *rr = json_array_get(json_object_get(doc, "Answer"), 0);
	/* Quotes escaped, bytes outside ASCII as \DDD: the text is valid JSON. */
	assert_string_equal(json_string_value(json_object_get(rr, "data")),
	                    "\"say \\\"hi\\\"\" \"\\195\\169t\\195\\169\"");
	assert_string_equal(json_string_value(json_object_get(doc, "edns_client_subnet")),
	                    "2001:db8:aa::/48");
	json_decref(doc);
	const char *mx[] = { "name", "mail.example.com", "type", "mx", NULL };
	doc = resolve(mx);
	rr = json_array_get(json_object_get(doc, "Answer"), 0);
	assert_string_equal(json_string_value(json_object_get(rr, "data")), "10 www.example.com.");
	assert_int_equal(json_array_size(json_object_get(doc, "Additional")), 2);
	json_decref(doc);
}

static void test_render_garbage(void **state)
{
	(void)state;
	uint8_t junk[30];
	memset(junk, 0x41, sizeof(junk));
	char *out = NULL;
	assert_int_equal(fn_json_render(junk, sizeof(junk), NULL, &out), CIRRUS_EINVAL);
	assert_null(out);
	assert_int_equal(fn_json_render(junk, 5, NULL, &out), CIRRUS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_defaults),
		cmocka_unit_test(test_parse_types_and_flags),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_client_subnet),
		cmocka_unit_test(test_query_wire),
		cmocka_unit_test(test_render_answer),
		cmocka_unit_test(test_render_nxdomain_and_cname),
		cmocka_unit_test(test_render_presentation_and_ecs),
		cmocka_unit_test(test_render_garbage),
	};
	return cmocka_run_group_tests(tests, set_up, tear_down);
}
