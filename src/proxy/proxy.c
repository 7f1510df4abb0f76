/* SPDX-License-Identifier: Apache-2.0
 * proxy.c -- one client query through the proxy, on one libuv loop:
 *
 *   parse (proxy_msg) ─► cache hit? ─► answer
 *          │                 no
 *          ▼                 ▼
 *   FORMERR/NOTIMP      upstream query (ID 0, ECS) ─► pick upstream ─► POST
 *                            ▲                                          │
 *                            └──── failed and time left: next one ◄─────┤
 *                                                                       ▼
 *                                 cache, adapt to the client, answer ◄─ OK
 *
 * A timer per query enforces the deadline: when it fires the fetch in
 * flight is abandoned and the client gets SERVFAIL, so no client waits
 * longer than deadline-ms whatever the upstreams do.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <libknot/libknot.h>

#include "proxy/proxy_internal.h"
#include "util/error.h"
#include "util/log.h"

#define INFLIGHT_MAX 10000   /* queries waiting for upstreams; more get SERVFAIL */
#define ATTEMPT_MIN_MS 5     /* below this much time left, do not start a fetch */
#define ECS_ROOM 64          /* what adding an OPT with ECS may need */

typedef struct proxy proxy_t;
typedef struct request request_t;

struct request {
	proxy_t *px;
	request_t *prev, *next;      /* in flight */
	proxy_client_t client;
	proxy_query_t q;
	uv_timer_t deadline;
	proxy_fetch_t *fetch;
	uint32_t tried;              /* a bit per upstream index */
	uint64_t start_ms;
	uint8_t key[PROXY_KEY_MAX];
	size_t key_len;
	size_t len;                  /* of the upstream query */
	uint8_t wire[];
};

struct proxy {
	uv_loop_t loop;
	const proxy_conf_t *conf;
	proxy_listen_t *listen;
	proxy_upstreams_t *ups;
	proxy_cache_t *cache;
	request_t *requests;
	size_t inflight;
	uv_signal_t sigterm, sigint;
	uint8_t out[PROXY_MSG_MAX];  /* answers are built here, one at a time */
};

/* ------------------------------------------------------------------ */
/* Answers                                                             */

/* Adapt an answer in px->out to the client and send it. */
static void send_answer(proxy_t *px, proxy_client_t *client, const proxy_query_t *q,
                        size_t len)
{
	len = proxy_msg_for_client(px->out, len, q);
	if (client->udp != NULL) {
		len = proxy_msg_truncate(px->out, len, q);
	}
	proxy_client_reply(client, px->out, len);
}

static void send_error(proxy_t *px, proxy_client_t *client, const uint8_t *wire,
                       size_t len, const proxy_query_t *q, uint8_t rcode)
{
	size_t n = proxy_msg_error(wire, len, q, rcode, px->out, sizeof(px->out));
	if (n == 0) {
		proxy_client_release(client);
		return;
	}
	proxy_client_reply(client, px->out, n);
}

/* ------------------------------------------------------------------ */
/* Requests in flight                                                  */

static void on_request_closed(uv_handle_t *handle)
{
	free(handle->data);
}

/* Forget the request: unlink it, stop its timer, free it once closed. */
static void request_end(request_t *r)
{
	proxy_t *px = r->px;
	if (r->prev != NULL) {
		r->prev->next = r->next;
	} else {
		px->requests = r->next;
	}
	if (r->next != NULL) {
		r->next->prev = r->prev;
	}
	px->inflight--;
	proxy_fetch_cancel(r->fetch);
	r->fetch = NULL;
	uv_timer_stop(&r->deadline);
	uv_close((uv_handle_t *)&r->deadline, on_request_closed);
}

static void request_fail(request_t *r)
{
	/* The query as the client sent it is gone; its question is in r->q,
	 * and the upstream query has the same header and question. */
	knot_wire_set_id(r->wire, r->q.id);
	send_error(r->px, &r->client, r->wire, r->len, &r->q, KNOT_RCODE_SERVFAIL);
	request_end(r);
}

static void attempt(request_t *r);

static void on_fetch(void *arg, int status, const uint8_t *answer, size_t len)
{
	request_t *r = arg;
	proxy_t *px = r->px;
	r->fetch = NULL;
	if (status != 0 || !proxy_msg_matches(answer, len, &r->q)) {
		if (status == 0) {
			log_debug("proxy: an answer that does not match the question; next upstream");
		}
		attempt(r);
		return;
	}
	if (px->cache != NULL) {
		proxy_cache_put(px->cache, r->key, r->key_len, answer, len, proxy_now_ms());
	}
	memcpy(px->out, answer, len);
	send_answer(px, &r->client, &r->q, len);
	request_end(r);
}

/* Try the next upstream, or give up with SERVFAIL. */
static void attempt(request_t *r)
{
	proxy_t *px = r->px;
	const proxy_conf_t *conf = px->conf;
	for (;;) {
		uint64_t elapsed = proxy_now_ms() - r->start_ms;
		int idx = proxy_upstream_pick(px->ups, r->tried);
		if (idx < 0 || elapsed + ATTEMPT_MIN_MS >= conf->deadline_ms) {
			request_fail(r);
			return;
		}
		unsigned left = conf->deadline_ms - (unsigned)elapsed;
		unsigned timeout = left < conf->upstream_timeout_ms ? left : conf->upstream_timeout_ms;
		r->tried |= UINT32_C(1) << idx;
		r->fetch = proxy_fetch_start(px->ups, idx, r->wire, r->len, timeout, on_fetch, r);
		if (r->fetch != NULL) {
			return;
		}
		log_warning("proxy: cannot start a request to %s", proxy_upstream_url(px->ups, idx));
	}
}

static void on_deadline(uv_timer_t *timer)
{
	request_t *r = timer->data;
	log_debug("proxy: deadline passed; SERVFAIL");
	request_fail(r);
}

/* The upstream query: the client's with ID 0 (RFC 8484 4.1) and ECS. */
static request_t *request_new(proxy_t *px, const proxy_client_t *client,
                              const uint8_t *wire, size_t len, const proxy_ecs_t *add)
{
	request_t *r = malloc(sizeof(*r) + len + ECS_ROOM);
	if (r == NULL) {
		return NULL;
	}
	*r = (request_t){ .px = px, .client = *client, .start_ms = proxy_now_ms(), .len = len };
	memcpy(r->wire, wire, len);
	knot_wire_set_id(r->wire, 0);
	if (add != NULL) {
		int n = proxy_msg_set_ecs(r->wire, len, len + ECS_ROOM, add);
		r->len = n > 0 ? (size_t)n : len;   /* a TSIG after OPT: as it came */
	}
	uv_timer_init(&px->loop, &r->deadline);
	r->deadline.data = r;
	uv_timer_start(&r->deadline, on_deadline, px->conf->deadline_ms, 0);
	r->next = px->requests;
	if (r->next != NULL) {
		r->next->prev = r;
	}
	px->requests = r;
	px->inflight++;
	return r;
}

/* The subnet to add for this client, if any. */
static const proxy_ecs_t *ecs_to_add(const proxy_t *px, const proxy_client_t *client,
                                     const proxy_query_t *q, proxy_ecs_t *ecs)
{
	const proxy_conf_t *c = px->conf;
	if (c->ecs == PROXY_ECS_OFF || (q->has_ecs && c->ecs != PROXY_ECS_OVERRIDE)) {
		return NULL;
	}
	proxy_ecs_from_addr((const struct sockaddr *)&client->addr, c->ecs_prefix4,
	                    c->ecs_prefix6, ecs);
	return ecs->family != 0 ? ecs : NULL;
}

static bool answer_from_cache(proxy_t *px, proxy_client_t *client, const proxy_query_t *q,
                              const uint8_t *key, size_t key_len)
{
	size_t len = 0;
	if (px->cache == NULL ||
	    proxy_cache_get(px->cache, key, key_len, proxy_now_ms(), px->out,
	                    sizeof(px->out), &len) != 0) {
		return false;
	}
	send_answer(px, client, q, len);
	return true;
}

static void on_query(void *arg, const proxy_client_t *from, const uint8_t *wire, size_t len)
{
	proxy_t *px = arg;
	proxy_client_t client = *from;
	proxy_query_t q;
	switch (proxy_msg_parse(wire, len, &q)) {
	case PROXY_DROP:    proxy_client_release(&client); return;
	case PROXY_FORMERR: send_error(px, &client, wire, len, NULL, KNOT_RCODE_FORMERR); return;
	case PROXY_NOTIMP:  send_error(px, &client, wire, len, NULL, KNOT_RCODE_NOTIMPL); return;
	case PROXY_FORWARD: break;
	}
	proxy_ecs_t ecs;
	const proxy_ecs_t *add = ecs_to_add(px, &client, &q, &ecs);
	uint8_t key[PROXY_KEY_MAX];
	size_t key_len = proxy_cache_key(&q, add ? add : q.has_ecs ? &q.ecs : NULL, key);
	if (answer_from_cache(px, &client, &q, key, key_len)) {
		return;
	}
	request_t *r = px->inflight < INFLIGHT_MAX ? request_new(px, &client, wire, len, add) : NULL;
	if (r == NULL) {
		send_error(px, &client, wire, len, &q, KNOT_RCODE_SERVFAIL);
		return;
	}
	r->q = q;
	memcpy(r->key, key, key_len);
	r->key_len = key_len;
	attempt(r);
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                      */

static void stop(proxy_t *px)
{
	uv_signal_stop(&px->sigterm);
	uv_signal_stop(&px->sigint);
	/* Queries in flight first: they point at the listeners' sockets. */
	while (px->requests != NULL) {
		request_t *r = px->requests;
		proxy_client_release(&r->client);
		request_end(r);
	}
	proxy_listen_close(px->listen);
	proxy_upstreams_free(px->ups);
	px->ups = NULL;
	uv_close((uv_handle_t *)&px->sigterm, NULL);
	uv_close((uv_handle_t *)&px->sigint, NULL);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	proxy_t *px = sig->data;
	log_info("proxy: %s: stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
	stop(px);
}

static int start(proxy_t *px)
{
	uv_signal_init(&px->loop, &px->sigterm);
	uv_signal_init(&px->loop, &px->sigint);
	px->sigterm.data = px->sigint.data = px;
	uv_signal_start(&px->sigterm, on_signal, SIGTERM);
	uv_signal_start(&px->sigint, on_signal, SIGINT);
	int r = proxy_upstreams_new(&px->loop, px->conf, &px->ups);
	if (r != 0) {
		log_error("proxy: cannot set up the upstreams: %s", cirrus_strerror(r));
		return r;
	}
	if (px->conf->cache_size > 0) {
		px->cache = proxy_cache_new(px->conf->cache_size, px->conf->cache_min_ttl,
		                            px->conf->cache_max_ttl);
		if (px->cache == NULL) {
			log_error("proxy: no memory for a cache of %u entries", px->conf->cache_size);
			return CIRRUS_ENOMEM;
		}
	}
	return proxy_listen_start(&px->loop, px->conf, on_query, px, &px->listen);
}

int proxy_run(const proxy_conf_t *conf)
{
	proxy_t *px = calloc(1, sizeof(*px));
	if (px == NULL || uv_loop_init(&px->loop) != 0) {
		free(px);
		return CIRRUS_ENOMEM;
	}
	px->conf = conf;
	signal(SIGPIPE, SIG_IGN);
	int r = start(px);
	if (r == 0) {
		log_info("proxy: ready, %zu upstream%s, policy %s, deadline %u ms, cache %u",
		         conf->upstream_count, conf->upstream_count == 1 ? "" : "s",
		         conf->policy == PROXY_POLICY_LATENCY ? "latency" : "failover",
		         conf->deadline_ms, conf->cache_size);
	} else {
		stop(px);
	}
	uv_run(&px->loop, UV_RUN_DEFAULT);
	int closed = uv_loop_close(&px->loop);
	if (closed != 0) {
		log_warning("proxy: event loop closed with handles open: %s", uv_strerror(closed));
	}
	proxy_listen_free(px->listen);
	proxy_cache_free(px->cache);
	free(px);
	return r;
}
