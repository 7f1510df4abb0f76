/* SPDX-License-Identifier: Apache-2.0
 * test_fn_lambda.c -- Lambda events to replies (fn/fn_lambda_event.c),
 * with no network: API Gateway HTTP API 2.0 / Function URL events carrying
 * DoH (GET with the dns parameter in queryStringParameters or
 * rawQueryString, POST with a base64 or plain body) and the JSON API, the
 * 2.0 response format and its headers, every refusal, direct invocations
 * ({"name"}, {"query"}), events of no known shape, and base64 itself.
 * Answers come from the real engine over a real zone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "fn/fn.h"
#include "helpers.h"
#include "util/error.h"

#define ZONE \
	"$TTL 300\n" \
	"@ SOA ns1 hostmaster 1 3600 900 604800 60\n" \
	"@ NS ns1\n" \
	"ns1 A 192.0.2.1\n" \
	"www A 192.0.2.80\n" \
	"mail 120 MX 10 www\n"

static zone_set_t *set;
static engine_conf_t engine;
static arena_t scratch;

static int set_up(void **state)
{
	(void)state;
	zone_t *zone = must_load("example.com", ZONE);
	engine_conf_init(&engine);
	arena_init(&scratch, 16384);
	return zone_set_new(&zone, 1, &set);
}

static int tear_down(void **state)
{
	(void)state;
	zone_set_free(set);
	arena_deinit(&scratch);
	return 0;
}

/* A query for name/type in wire form, with the given ID. */
static size_t make_query(const char *name, uint16_t type, uint16_t id, uint8_t *wire,
                         size_t max)
{
	fn_resolve_t r = { .qtype = type };
	size_t len = 0;
	assert_non_null(knot_dname_from_str(r.qname, name, sizeof(r.qname)));
	assert_int_equal(fn_resolve_query(&r, wire, max, &len), 0);
	knot_wire_set_id(wire, id);
	return len;
}

/* base64url without padding, as a DoH GET carries it. */
static char *b64url(const uint8_t *in, size_t len)
{
	char *s = fn_b64_encode(in, len);
	assert_non_null(s);
	for (char *p = s; *p != '\0'; p++) {
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	}
	char *pad = strchr(s, '=');
	if (pad != NULL) {
		*pad = '\0';
	}
	return s;
}

/* Handle an event given as JSON text; the reply's payload parsed, or NULL
 * on an invocation error (then *reply keeps the error). */
static json_t *handle(const char *event, fn_lambda_reply_t *reply)
{
	fn_lambda_ctx_t ctx = { .zones = set, .engine = &engine, .scratch = &scratch };
	int rc = fn_lambda_handle(&ctx, event, strlen(event), reply);
	if (rc != 0) {
		assert_int_equal(rc, CIRRUS_EINVAL);
		assert_null(reply->payload);
		assert_non_null(reply->error_type);
		assert_true(reply->error_message[0] != '\0');
		return NULL;
	}
	json_error_t e;
	json_t *doc = json_loads(reply->payload, 0, &e);
	if (doc == NULL) {
		fail_msg("not JSON: %s: %s", reply->payload, e.text);
	}
	free(reply->payload);
	return doc;
}

/* Handle a JSON event built by the caller (stolen). */
static json_t *handle_json(json_t *event, fn_lambda_reply_t *reply)
{
	char *text = json_dumps(event, JSON_COMPACT);
	json_decref(event);
	json_t *doc = handle(text, reply);
	free(text);
	return doc;
}

/* An HTTP API 2.0 event; query and body may be NULL. */
static json_t *http_event(const char *method, const char *path, json_t *query,
                          const char *content_type, const char *body, bool base64)
{
	json_t *ev = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s}}, s:{}}",
	                       "version", "2.0", "routeKey", "$default", "rawPath", path,
	                       "requestContext", "stage", "$default", "requestId", "id",
	                       "http", "method", method, "path", path,
	                       "sourceIp", "198.51.100.7", "headers");
	assert_non_null(ev);
	if (query != NULL) {
		json_object_set_new(ev, "queryStringParameters", query);
	}
	if (content_type != NULL) {
		json_object_set_new(json_object_get(ev, "headers"), "content-type",
		                    json_string(content_type));
	}
	if (body != NULL) {
		json_object_set_new(ev, "body", json_string(body));
		json_object_set_new(ev, "isBase64Encoded", json_boolean(base64));
	}
	return ev;
}

static const char *header(json_t *resp, const char *name)
{
	return json_string_value(json_object_get(json_object_get(resp, "headers"), name));
}

static int status_of(json_t *resp)
{
	return (int)json_integer_value(json_object_get(resp, "statusCode"));
}

/* A refusal: status, text/plain, no-store, and a reason that contains want. */
static void assert_refused(json_t *resp, int status, const char *want)
{
	const char *body = json_string_value(json_object_get(resp, "body"));
	if (status_of(resp) != status || body == NULL || strstr(body, want) == NULL) {
		fail_msg("want %d '%s', got %s", status, want, json_dumps(resp, 0));
	}
	assert_string_equal(header(resp, "content-type"), "text/plain; charset=utf-8");
	assert_string_equal(header(resp, "cache-control"), "no-store");
	assert_true(json_is_false(json_object_get(resp, "isBase64Encoded")));
	json_decref(resp);
}

/* The DNS answer in a DoH reply (base64 body): rcode, ID and first A. */
static void assert_doh_answer(json_t *resp, uint16_t id, const char *max_age)
{
	if (status_of(resp) != 200) {
		fail_msg("want 200, got %s", json_dumps(resp, 0));
	}
	assert_true(json_is_true(json_object_get(resp, "isBase64Encoded")));
	assert_string_equal(header(resp, "content-type"), "application/dns-message");
	assert_string_equal(header(resp, "cache-control"), max_age);
	const char *body = json_string_value(json_object_get(resp, "body"));
	uint8_t wire[FN_MSG_MAX];
	size_t len = 0;
	assert_int_equal(fn_b64_decode(body, strlen(body), wire, sizeof(wire), &len), 0);
	knot_pkt_t *pkt = knot_pkt_new(wire, len, NULL);
	assert_int_equal(knot_pkt_parse(pkt, 0), KNOT_EOK);
	assert_int_equal(knot_wire_get_id(wire), id);
	assert_int_equal(knot_wire_get_rcode(wire), KNOT_RCODE_NOERROR);
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	assert_int_equal(an->count, 1);
	assert_int_equal(knot_pkt_rr(an, 0)->type, KNOT_RRTYPE_A);
	assert_memory_equal(knot_pkt_rr(an, 0)->rrs.rdata->data, "\xc0\x00\x02\x50", 4);
	knot_pkt_free(pkt);
	json_decref(resp);
}

static void test_b64(void **state)
{
	(void)state;
	static const char *const dec[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
	                                   "Zm9vYmFy" };
	for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
		char *e = fn_b64_encode((const uint8_t *)dec[i], strlen(dec[i]));
		assert_string_equal(e, enc[i]);
		free(e);
		uint8_t out[16];
		size_t len = 99;
		assert_int_equal(fn_b64_decode(enc[i], strlen(enc[i]), out, sizeof(out), &len), 0);
		assert_int_equal(len, strlen(dec[i]));
		assert_memory_equal(out, dec[i], len);
	}
	uint8_t out[4];
	size_t len;
	/* Both alphabets: 0xfb 0xff is "+/8=" in one and "-_8=" in the other. */
	assert_int_equal(fn_b64_decode("+/8=", 4, out, sizeof(out), &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(out, "\xfb\xff", 2);
	assert_int_equal(fn_b64_decode("-_8", 3, out, sizeof(out), &len), 0);
	assert_memory_equal(out, "\xfb\xff", 2);
	assert_int_equal(fn_b64_decode("Zm9v!", 5, out, sizeof(out), &len), CIRRUS_EINVAL);
	assert_int_equal(fn_b64_decode("Zm9vY", 5, out, sizeof(out), &len), CIRRUS_EINVAL);
	assert_int_equal(fn_b64_decode("Zm9vYmFy", 8, out, sizeof(out), &len), CIRRUS_ESPACE);
}

static void test_doh_get(void **state)
{
	(void)state;
	uint8_t q[512];
	size_t qlen = make_query("www.example.com", KNOT_RRTYPE_A, 0, q, sizeof(q));
	char *dns = b64url(q, qlen);
	fn_lambda_reply_t reply;
	assert_doh_answer(handle_json(http_event("GET", "/dns-query",
	                                         json_pack("{s:s}", "dns", dns), NULL, NULL,
	                                         false), &reply), 0, "max-age=300");
	/* The same from rawQueryString, which Function URLs always carry. */
	json_t *ev = http_event("GET", "/dns-query", NULL, NULL, NULL, false);
	char raw[1024];
	snprintf(raw, sizeof(raw), "ct=1&dns=%s&x", dns);
	json_object_set_new(ev, "rawQueryString", json_string(raw));
	assert_doh_answer(handle_json(ev, &reply), 0, "max-age=300");
	free(dns);
}

static void test_doh_post(void **state)
{
	(void)state;
	uint8_t q[512];
	size_t qlen = make_query("www.example.com", KNOT_RRTYPE_A, 0xbeef, q, sizeof(q));
	char *body = fn_b64_encode(q, qlen);
	fn_lambda_reply_t reply;
	assert_doh_answer(handle_json(http_event("POST", "/dns-query", NULL,
	                                         "application/dns-message", body, true),
	                              &reply), 0xbeef, "max-age=300");
	free(body);
	/* A named stage puts itself before the path; and a body Lambda did not
	 * encode, which a query with no byte over 0x7f can be in JSON. */
	qlen = make_query("www.example.com", KNOT_RRTYPE_A, 0x4142, q, sizeof(q));
	json_t *ev = http_event("POST", "/prod/dns-query", NULL, "Application/DNS-Message",
	                        NULL, false);
	json_object_set_new(json_object_get(ev, "requestContext"), "stage", json_string("prod"));
	json_object_set_new(ev, "body", json_stringn((const char *)q, qlen));
	json_object_set_new(ev, "isBase64Encoded", json_false());
	assert_doh_answer(handle_json(ev, &reply), 0x4142, "max-age=300");
}

static void test_resolve(void **state)
{
	(void)state;
	fn_lambda_reply_t reply;
	json_t *resp = handle_json(http_event("GET", "/resolve",
	                                      json_pack("{s:s, s:s}", "name", "mail.example.com",
	                                                "type", "MX"), NULL, NULL, false),
	                           &reply);
	assert_int_equal(status_of(resp), 200);
	assert_string_equal(header(resp, "content-type"), "application/dns-json");
	assert_string_equal(header(resp, "cache-control"), "max-age=120");
	assert_true(json_is_false(json_object_get(resp, "isBase64Encoded")));
	json_t *doc = json_loads(json_string_value(json_object_get(resp, "body")), 0, NULL);
	assert_non_null(doc);
	json_t *ans = json_array_get(json_object_get(doc, "Answer"), 0);
	assert_string_equal(json_string_value(json_object_get(ans, "data")),
	                    "10 www.example.com.");
	json_decref(doc);
	json_decref(resp);
	/* rawQueryString, percent-encoded. */
	json_t *ev = http_event("GET", "/resolve", NULL, NULL, NULL, false);
	json_object_set_new(ev, "rawQueryString", json_string("name=www%2Eexample%2ecom&type=a"));
	resp = handle_json(ev, &reply);
	doc = json_loads(json_string_value(json_object_get(resp, "body")), 0, NULL);
	ans = json_array_get(json_object_get(doc, "Answer"), 0);
	assert_string_equal(json_string_value(json_object_get(ans, "data")), "192.0.2.80");
	json_decref(doc);
	json_decref(resp);
}

static void test_health(void **state)
{
	(void)state;
	fn_lambda_reply_t reply;
	json_t *resp = handle_json(http_event("GET", "/readyz", NULL, NULL, NULL, false), &reply);
	assert_int_equal(status_of(resp), 200);
	assert_string_equal(json_string_value(json_object_get(resp, "body")), "ready: 1 zone\n");
	json_decref(resp);
	resp = handle_json(http_event("GET", "/healthz", NULL, NULL, NULL, false), &reply);
	assert_string_equal(json_string_value(json_object_get(resp, "body")), "ok\n");
	json_decref(resp);
}

static void test_refusals(void **state)
{
	(void)state;
	fn_lambda_reply_t reply;
	assert_refused(handle_json(http_event("GET", "/nope", NULL, NULL, NULL, false), &reply),
	               404, "no such resource");
	json_t *resp = handle_json(http_event("DELETE", "/dns-query", NULL, NULL, NULL, false),
	                           &reply);
	assert_string_equal(header(resp, "allow"), "GET, POST");
	assert_refused(resp, 405, "DELETE is not allowed");
	assert_refused(handle_json(http_event("POST", "/resolve", NULL, NULL, NULL, false),
	                           &reply), 405, "allowed: GET");
	assert_refused(handle_json(http_event("GET", "/dns-query", NULL, NULL, NULL, false),
	                           &reply), 400, "dns parameter is missing");
	assert_refused(handle_json(http_event("GET", "/dns-query",
	                                      json_pack("{s:s}", "dns", "AA*A"), NULL, NULL,
	                                      false), &reply), 400, "not base64url");
	assert_refused(handle_json(http_event("POST", "/dns-query", NULL, "text/plain", "x",
	                                      false), &reply), 415, "not text/plain");
	assert_refused(handle_json(http_event("POST", "/dns-query", NULL, NULL, "x", false),
	                           &reply), 415, "unlabelled");
	assert_refused(handle_json(http_event("POST", "/dns-query", NULL,
	                                      "application/dns-message", "!!!!", true),
	                           &reply), 400, "not base64");
	assert_refused(handle_json(http_event("GET", "/resolve",
	                                      json_pack("{s:s}", "name", "a..b"), NULL, NULL,
	                                      false), &reply), 400, "not a domain name");
	/* Larger than a DNS message, encoded or not. */
	size_t big = 70000;
	uint8_t *raw = calloc(1, big);
	char *b64 = fn_b64_encode(raw, big);
	assert_refused(handle_json(http_event("POST", "/dns-query", NULL,
	                                      "application/dns-message", b64, true), &reply),
	               413, "65535 bytes");
	char *long_dns = b64url(raw, big);
	assert_refused(handle_json(http_event("GET", "/dns-query",
	                                      json_pack("{s:s}", "dns", long_dns), NULL, NULL,
	                                      false), &reply), 414, "longer than");
	free(long_dns);
	free(b64);
	free(raw);
	/* A response (QR=1) and a runt are not queries. */
	uint8_t q[512];
	size_t qlen = make_query("www.example.com", KNOT_RRTYPE_A, 1, q, sizeof(q));
	knot_wire_set_qr(q);
	char *dns = b64url(q, qlen);
	assert_refused(handle_json(http_event("GET", "/dns-query", json_pack("{s:s}", "dns", dns),
	                                      NULL, NULL, false), &reply), 400, "QR=1");
	free(dns);
	assert_refused(handle_json(http_event("POST", "/dns-query", NULL,
	                                      "application/dns-message", "AAAA", true),
	                           &reply), 400, "shorter than a DNS header");
}

static void test_direct_resolve(void **state)
{
	(void)state;
	fn_lambda_reply_t reply;
	json_t *doc = handle("{\"name\": \"mail.example.com\", \"type\": 15, \"do\": false}",
	                     &reply);
	assert_int_equal(json_integer_value(json_object_get(doc, "Status")), 0);
	json_t *ans = json_array_get(json_object_get(doc, "Answer"), 0);
	assert_int_equal(json_integer_value(json_object_get(ans, "type")), 15);
	assert_int_equal(json_integer_value(json_object_get(ans, "TTL")), 120);
	json_decref(doc);
	doc = handle("{\"name\": \"nothing.example.com\"}", &reply);
	assert_int_equal(json_integer_value(json_object_get(doc, "Status")), 3);  /* NXDOMAIN */
	json_decref(doc);
	assert_null(handle("{\"name\": \"www.example.com\", \"type\": \"NOPE\"}", &reply));
	assert_string_equal(reply.error_type, "Cirrus.BadRequest");
	assert_non_null(strstr(reply.error_message, "'NOPE' is not a record type"));
	assert_null(handle("{\"name\": \"www.example.com\", \"do\": {}}", &reply));
	assert_string_equal(reply.error_type, "Cirrus.BadRequest");
}

static void test_direct_query(void **state)
{
	(void)state;
	uint8_t q[512];
	size_t qlen = make_query("www.example.com", KNOT_RRTYPE_A, 0x1234, q, sizeof(q));
	char *b64 = fn_b64_encode(q, qlen);
	char event[1024];
	snprintf(event, sizeof(event), "{\"query\": \"%s\"}", b64);
	free(b64);
	fn_lambda_reply_t reply;
	json_t *doc = handle(event, &reply);
	assert_int_equal(json_object_size(doc), 1);
	/* Dress it as a DoH reply to check the answer the same way. */
	json_t *as_doh = json_pack("{s:i, s:b, s:{s:s, s:s}, s:O}", "statusCode", 200,
	                           "isBase64Encoded", 1, "headers", "content-type",
	                           "application/dns-message", "cache-control", "max-age=300",
	                           "body", json_object_get(doc, "answer"));
	json_decref(doc);
	assert_doh_answer(as_doh, 0x1234, "max-age=300");

	static const char *const bad[] = {
		"{\"query\": 5}", "{\"query\": \"@@@@\"}", "{\"query\": \"AAAA\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(handle(bad[i], &reply));
		assert_string_equal(reply.error_type, "Cirrus.BadRequest");
	}
	knot_wire_set_opcode(q, KNOT_OPCODE_UPDATE);
	b64 = fn_b64_encode(q, qlen);
	snprintf(event, sizeof(event), "{\"query\": \"%s\"}", b64);
	free(b64);
	assert_null(handle(event, &reply));
	assert_non_null(strstr(reply.error_message, "opcode QUERY"));
}

static void test_bad_events(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "not json", "[1, 2]", "\"x\"", "{}", "{\"foo\": 1}",
		"{\"httpMethod\": \"GET\", \"path\": \"/dns-query\"}",
		"{\"requestContext\": {\"http\": {\"path\": \"/dns-query\"}}}",
		"{\"name\": \"a\", \"name\": \"b\"}",
	};
	fn_lambda_reply_t reply;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(handle(bad[i], &reply));
		assert_string_equal(reply.error_type, "Cirrus.BadEvent");
	}
	assert_null(handle("{\"httpMethod\": \"GET\"}", &reply));
	assert_non_null(strstr(reply.error_message, "payload format 1.0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_doh_get),
		cmocka_unit_test(test_doh_post),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_direct_resolve),
		cmocka_unit_test(test_direct_query),
		cmocka_unit_test(test_bad_events),
	};
	return cmocka_run_group_tests(tests, set_up, tear_down);
}
