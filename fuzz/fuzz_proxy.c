/* SPDX-License-Identifier: Apache-2.0
 * fuzz_proxy.c -- libFuzzer target for the proxy's message handling
 * (src/proxy/proxy_msg.c and proxy_cache.c). The first byte picks a client
 * address and the ECS mode; the rest is a DNS message that goes through
 * every step the proxy takes with client input and upstream answers:
 *   as a client query: proxy_msg_parse(); for FORMERR/NOTIMP the error
 *     answer must parse with libknot; a forwarded query gets ECS added
 *     (it must still parse, with our ECS option) and removed again,
 *     and its error answer (SERVFAIL) must carry the query's ID;
 *   as an upstream answer to a fixed query: proxy_msg_matches(), the cache
 *     (put, then get some seconds later), proxy_msg_for_client() and
 *     proxy_msg_truncate(), whose result must fit the client's UDP size.
 * ASan and UBSan catch the rest.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libknot/libknot.h>

#include "proxy/proxy.h"

#define ROOM 64

static void check_parses(const uint8_t *wire, size_t len)
{
	knot_pkt_t *pkt = knot_pkt_new((void *)wire, (uint16_t)len, NULL);
	if (pkt == NULL || knot_pkt_parse(pkt, 0) != KNOT_EOK) {
		abort();
	}
	knot_pkt_free(pkt);
}

static void client_addr(uint8_t pick, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (pick & 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, (pick & 2) ? "::ffff:203.0.113.7" : "2001:db8:1:2::3",
		          &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, "192.0.2.77", &a->sin_addr);
	}
}

static void as_query(uint8_t pick, const uint8_t *data, size_t size)
{
	proxy_query_t q;
	uint8_t out[PROXY_MSG_MAX];
	proxy_verdict_t v = proxy_msg_parse(data, size, &q);
	if (v == PROXY_FORMERR || v == PROXY_NOTIMP) {
		size_t n = proxy_msg_error(data, size, NULL, KNOT_RCODE_FORMERR, out, sizeof(out));
		check_parses(out, n);
		return;
	}
	if (v != PROXY_FORWARD) {
		return;
	}
	size_t n = proxy_msg_error(data, size, &q, KNOT_RCODE_SERVFAIL, out, sizeof(out));
	check_parses(out, n);
	if (knot_wire_get_id(out) != q.id) {
		abort();
	}
	struct sockaddr_storage ss;
	client_addr(pick, &ss);
	proxy_ecs_t ecs;
	proxy_ecs_from_addr((struct sockaddr *)&ss, pick >> 2 & 31, 56, &ecs);
	uint8_t *wire = malloc(size + ROOM);
	memcpy(wire, data, size);
	int len = proxy_msg_set_ecs(wire, size, size + ROOM, &ecs);
	if (len > 0) {
		proxy_query_t again;
		if (proxy_msg_parse(wire, len, &again) != PROXY_FORWARD || !again.has_ecs ||
		    again.ecs.source != ecs.source) {
			abort();
		}
		/* Removed again. libknot refuses some OPTs without options (a
		 * payload under 512) that it takes with one, so only no ECS is
		 * asked of what parses. */
		len = proxy_msg_set_ecs(wire, len, size + ROOM, NULL);
		if (len <= 0 || (proxy_msg_parse(wire, len, &again) == PROXY_FORWARD &&
		                 again.has_ecs)) {
			abort();
		}
	}
	uint8_t key[PROXY_KEY_MAX];
	if (proxy_cache_key(&q, &ecs, key) > PROXY_KEY_MAX) {
		abort();
	}
	free(wire);
}

static void as_answer(uint8_t pick, const uint8_t *data, size_t size)
{
	static const uint8_t query[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
		3, 'W', 'w', 'W', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1,
		0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0,
	};
	proxy_query_t q;
	if (proxy_msg_parse(query, sizeof(query), &q) != PROXY_FORWARD) {
		abort();
	}
	q.edns = pick & 1;
	q.udp_size = (pick & 2) ? 512 : 1232;
	(void)proxy_msg_matches(data, size, &q);
	static proxy_cache_t *cache;
	if (cache == NULL) {
		cache = proxy_cache_new(64, 0, 86400);
	}
	uint8_t key[PROXY_KEY_MAX], out[PROXY_MSG_MAX];
	size_t key_len = proxy_cache_key(&q, NULL, key), len = 0;
	if (proxy_cache_put(cache, key, key_len, data, size, 1000) == 0) {
		if (proxy_cache_get(cache, key, key_len, 1000 + 1000 * (pick >> 2), out,
		                    sizeof(out), &len) != 0 && pick >> 2 == 0) {
			abort();   /* just stored, with a TTL of at least 1 s */
		}
	}
	memcpy(out, data, size);
	len = proxy_msg_for_client(out, size, &q);
	len = proxy_msg_truncate(out, len, &q);
	if (len > size || (size > q.udp_size && len > q.udp_size)) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > PROXY_MSG_MAX) {
		return 0;
	}
	as_query(data[0], data + 1, size - 1);
	as_answer(data[0], data + 1, size - 1);
	return 0;
}
