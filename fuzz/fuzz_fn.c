/* SPDX-License-Identifier: Apache-2.0
 * fuzz_fn.c -- libFuzzer target for the request decoders of function mode
 * (src/fn/): the first byte picks one, the rest is its input.
 * 0: the DoH dns parameter: fn_b64url_decode(), then fn_doh_check_query();
 *    every input's own base64url encoding must decode back to it.
 * 1: /resolve parameters as "name\0type\0do\0cd\0ecs": fn_resolve_parse();
 *    an accepted request must make a query libknot parses, with the name
 *    and type asked for.
 * 2: forwarding headers as "forwarded\0xff" from a trusted peer:
 *    fn_client_addr() must give an IPv4 or IPv6 address.
 * 3: a DNS message as an answer: fn_cache_ttl() and fn_json_render(),
 *    whose output must be JSON that jansson reads back.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "fn/fn.h"

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Base64url without padding; out holds 4 * size / 3 + 4 bytes. */
static size_t encode(const uint8_t *in, size_t size, char *out)
{
	size_t n = 0, i = 0;
	for (; i + 3 <= size; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[n++] = b64url[v >> 18];
		out[n++] = b64url[(v >> 12) & 63];
		out[n++] = b64url[(v >> 6) & 63];
		out[n++] = b64url[v & 63];
	}
	if (size - i == 1) {
		out[n++] = b64url[in[i] >> 2];
		out[n++] = b64url[(in[i] & 3) << 4];
	} else if (size - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
		out[n++] = b64url[v >> 10];
		out[n++] = b64url[(v >> 4) & 63];
		out[n++] = b64url[(v & 15) << 2];
	}
	return n;
}

static void fuzz_doh(const uint8_t *data, size_t size)
{
	static uint8_t out[FN_MSG_MAX];
	static char text[FN_MSG_MAX * 2];
	size_t len = 0;
	const char *reason;
	if (fn_b64url_decode((const char *)data, size, out, sizeof(out), &len) == 0) {
		(void)fn_doh_check_query(out, len, &reason);
	}
	if (size > FN_MSG_MAX) {
		return;
	}
	size_t tlen = encode(data, size, text);
	if (fn_b64url_decode(text, tlen, out, sizeof(out), &len) != 0 || len != size ||
	    memcmp(out, data, size) != 0) {
		abort();
	}
}

/* The n-th NUL-separated field of data (a copy), or NULL. */
static char *field(const uint8_t *data, size_t size, int n)
{
	size_t start = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *nul = memchr(data + start, 0, size - start);
		if (nul == NULL) {
			return NULL;
		}
		start = (size_t)(nul - data) + 1;
	}
	const uint8_t *nul = memchr(data + start, 0, size - start);
	size_t end = nul ? (size_t)(nul - data) : size;
	char *s = malloc(end - start + 1);
	memcpy(s, data + start, end - start);
	s[end - start] = '\0';
	return s;
}

typedef struct args {
	char *v[5];
} args_t;

static const char *arg(void *ctx, const char *name)
{
	static const char *const names[] = { "name", "type", "do", "cd", "edns_client_subnet" };
	args_t *a = ctx;
	for (int i = 0; i < 5; i++) {
		if (strcmp(names[i], name) == 0) {
			return a->v[i];
		}
	}
	return NULL;
}

static void check_query(const fn_resolve_t *r)
{
	uint8_t wire[512];
	size_t len;
	if (fn_resolve_query(r, wire, sizeof(wire), &len) != 0) {
		abort();
	}
	knot_pkt_t *pkt = knot_pkt_new(wire, len, NULL);
	if (pkt == NULL || knot_pkt_parse(pkt, 0) != KNOT_EOK ||
	    !knot_dname_is_equal(knot_pkt_qname(pkt), r->qname) ||
	    knot_pkt_qtype(pkt) != r->qtype ||
	    (pkt->opt_rr != NULL) != (r->dnssec_ok || r->has_ecs)) {
		abort();
	}
	knot_pkt_free(pkt);
}

static void fuzz_resolve(const uint8_t *data, size_t size)
{
	args_t a;
	for (int i = 0; i < 5; i++) {
		a.v[i] = field(data, size, i);
	}
	fn_resolve_t r;
	char reason[256];
	if (fn_resolve_parse(arg, &a, &r, reason, sizeof(reason)) == 0) {
		check_query(&r);
	} else if (reason[0] == '\0') {
		abort();
	}
	for (int i = 0; i < 5; i++) {
		free(a.v[i]);
	}
}

static void fuzz_client(const uint8_t *data, size_t size)
{
	char *forwarded = field(data, size, 0), *xff = field(data, size, 1);
	fn_cidr_t trusted[2];
	fn_cidr_parse("0.0.0.0/1", &trusted[0]);
	fn_cidr_parse("::/1", &trusted[1]);
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000001) };
	struct sockaddr_storage out;
	fn_client_addr((struct sockaddr *)&peer, trusted, 2, forwarded, xff, &out);
	if (out.ss_family != AF_INET && out.ss_family != AF_INET6) {
		abort();
	}
	free(forwarded);
	free(xff);
}

static void fuzz_answer(const uint8_t *data, size_t size)
{
	uint32_t ttl;
	(void)fn_cache_ttl(data, size, &ttl);
	char *json = NULL;
	if (fn_json_render(data, size, NULL, &json) == 0) {
		json_t *doc = json_loads(json, 0, NULL);
		if (doc == NULL || !json_is_integer(json_object_get(doc, "Status"))) {
			abort();
		}
		json_decref(doc);
		free(json);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) {
		return 0;
	}
	switch (data[0] % 4) {
	case 0: fuzz_doh(data + 1, size - 1); break;
	case 1: fuzz_resolve(data + 1, size - 1); break;
	case 2: fuzz_client(data + 1, size - 1); break;
	default: fuzz_answer(data + 1, size - 1); break;
	}
	return 0;
}
