/* SPDX-License-Identifier: Apache-2.0
 * fn_handle.c -- the endpoints of `cirrus function http`: DoH (GET and
 * POST /dns-query), the JSON API (GET /resolve), /healthz and /readyz.
 * Each DNS request goes to engine_handle() with TCP semantics (answers up
 * to 65535 bytes, never truncated), since HTTP has no datagram limit.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fn/fn_internal.h"
#include "util/error.h"
#include "util/log.h"

/* First size of a worker's scratch arena; it grows on demand. */
#define SCRATCH_CHUNK (64 * 1024)
/* Longest Forwarded or X-Forwarded-For list read (all headers joined). */
#define FORWARDED_MAX (16 * 1024)

/* A worker thread's memory for answers: libmicrohttpd's threads live as
 * long as the server, so each keeps one arena and one answer buffer. */
typedef struct fn_worker {
	arena_t scratch;
	uint8_t query[FN_MSG_MAX];    /* a decoded GET query */
	uint8_t answer[FN_MSG_MAX];
} fn_worker_t;

void fn_worker_free(void *arg)
{
	fn_worker_t *w = arg;
	arena_deinit(&w->scratch);
	free(w);
}

static fn_worker_t *worker(fn_http_t *h)
{
	fn_worker_t *w = pthread_getspecific(h->worker_key);
	if (w == NULL && (w = malloc(sizeof(*w))) != NULL) {
		arena_init(&w->scratch, SCRATCH_CHUNK);
		if (pthread_setspecific(h->worker_key, w) != 0) {
			fn_worker_free(w);
			w = NULL;
		}
	}
	return w;
}

/* Every value of one header, joined with ',' as RFC 9110 5.3 allows. */
typedef struct joined {
	const char *name;
	char *text;
	size_t len;
	bool too_long;
} joined_t;

static enum MHD_Result join_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	(void)kind;
	joined_t *j = cls;
	if (key == NULL || value == NULL || strcasecmp(key, j->name) != 0) {
		return MHD_YES;
	}
	size_t vlen = strlen(value);
	if (j->len + vlen + 2 > FORWARDED_MAX) {
		j->too_long = true;
		return MHD_YES;
	}
	char *grown = realloc(j->text, j->len + vlen + 2);
	if (grown == NULL) {
		j->too_long = true;
		return MHD_YES;
	}
	if (j->len > 0) {
		grown[j->len++] = ',';
	}
	memcpy(grown + j->len, value, vlen + 1);
	j->text = grown;
	j->len += vlen;
	return MHD_YES;
}

/* A list that did not fit is not believed at all: a client could pad it
 * to push the proxy's own entry out. */
static char *joined(fn_req_t *req, const char *name)
{
	joined_t j = { .name = name };
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, join_header, &j);
	if (j.too_long) {
		free(j.text);
		return NULL;
	}
	return j.text;
}

/* The client for the engine: the peer, or whom trusted proxies name. */
static void client_addr(fn_req_t *req, struct sockaddr_storage *out)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	memset(out, 0, sizeof(*out));
	if (ci == NULL || ci->client_addr == NULL) {
		return;
	}
	const fn_http_conf_t *c = &req->http->conf;
	if (c->trusted_count == 0) {
		size_t size = ci->client_addr->sa_family == AF_INET6 ?
		              sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		memcpy(out, ci->client_addr, size);
		return;
	}
	char *fwd = joined(req, "Forwarded");
	char *xff = joined(req, "X-Forwarded-For");
	fn_client_addr(ci->client_addr, c->trusted, c->trusted_count, fwd, xff, out);
	free(fwd);
	free(xff);
}

/* Run the engine; false (and a reply) when there is no answer. */
static bool answer(fn_req_t *req, fn_worker_t *w, const uint8_t *msg, size_t len,
                   size_t *answer_len)
{
	client_addr(req, &req->client);
	engine_query_t q = {
		.transport = ENGINE_TRANSPORT_TCP,
		.remote = req->client.ss_family != AF_UNSPEC ?
		          (const struct sockaddr *)&req->client : NULL,
	};
	fn_zones_t *zones = req->http->conf.zones;
	const zone_set_t *set = fn_zones_lock(zones);
	engine_action_t act = engine_handle(set, req->http->conf.engine, &q, msg, len,
	                                    w->answer, sizeof(w->answer), answer_len,
	                                    &w->scratch);
	fn_zones_unlock(zones);
	arena_reset(&w->scratch);
	if (act != ENGINE_SEND) {
		fn_reply_text(req, MHD_HTTP_BAD_REQUEST, "the message is not a query that can be "
		              "answered");
		return false;
	}
	return true;
}

/* RFC 8484 5.1: cacheable for the smallest TTL; nothing said without records. */
static void cache_control(fn_req_t *req, const uint8_t *answer, size_t len)
{
	uint32_t ttl;
	if (req->response != NULL && fn_cache_ttl(answer, len, &ttl)) {
		char value[32];
		snprintf(value, sizeof(value), "max-age=%u", ttl);
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_CACHE_CONTROL, value);
	}
}

static void reply_body(fn_req_t *req, void *data, size_t len, enum MHD_ResponseMemoryMode mode,
                       const char *type)
{
	req->status = MHD_HTTP_OK;
	req->response = MHD_create_response_from_buffer(len, data, mode);
	if (req->response != NULL) {
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	}
}

/* The query of a DoH request: the dns parameter, or the POST body. */
static const uint8_t *doh_query(fn_req_t *req, uint8_t *buf, size_t *len)
{
	if (strcmp(req->method, "POST") == 0) {
		*len = req->body_len;
		return req->body != NULL ? req->body : buf;
	}
	const char *dns = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "dns");
	if (dns == NULL) {
		fn_reply_text(req, MHD_HTTP_BAD_REQUEST, "the dns parameter is missing");
		return NULL;
	}
	int rc = fn_b64url_decode(dns, strlen(dns), buf, FN_MSG_MAX, len);
	if (rc == CIRRUS_ESPACE) {
		fn_reply_text(req, MHD_HTTP_URI_TOO_LONG, "the dns parameter is longer than a "
		              "DNS message can be");
		return NULL;
	}
	if (rc != 0) {
		fn_reply_text(req, MHD_HTTP_BAD_REQUEST, "the dns parameter is not base64url "
		              "(RFC 4648 section 5, no padding)");
		return NULL;
	}
	return buf;
}

void fn_handle_doh(fn_req_t *req)
{
	fn_worker_t *w = worker(req->http);
	if (w == NULL) {
		fn_reply_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	size_t len = 0, alen = 0;
	const char *reason = NULL;
	const uint8_t *msg = doh_query(req, w->query, &len);
	if (msg == NULL) {
		return;
	}
	if (fn_doh_check_query(msg, len, &reason) != 0) {
		fn_reply_text(req, MHD_HTTP_BAD_REQUEST, "%s", reason);
	} else if (answer(req, w, msg, len, &alen)) {
		reply_body(req, w->answer, alen, MHD_RESPMEM_MUST_COPY, "application/dns-message");
		cache_control(req, w->answer, alen);
	}
}

static const char *get_arg(void *ctx, const char *name)
{
	fn_req_t *req = ctx;
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void fn_handle_resolve(fn_req_t *req)
{
	fn_resolve_t r;
	char reason[256];
	uint8_t query[KNOT_WIRE_HEADER_SIZE + KNOT_DNAME_MAXLEN + 64];
	size_t qlen = 0, alen = 0;
	fn_worker_t *w = worker(req->http);
	if (w == NULL) {
		fn_reply_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	if (fn_resolve_parse(get_arg, req, &r, reason, sizeof(reason)) != 0) {
		fn_reply_text(req, MHD_HTTP_BAD_REQUEST, "%s", reason);
		return;
	}
	if (fn_resolve_query(&r, query, sizeof(query), &qlen) != 0 ||
	    !answer(req, w, query, qlen, &alen)) {
		if (req->status == 0) {
			fn_reply_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot build the query");
		}
		return;
	}
	char *json = NULL;
	if (fn_json_render(w->answer, alen, &r, &json) != 0) {
		fn_reply_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the answer");
		return;
	}
	reply_body(req, json, strlen(json), MHD_RESPMEM_MUST_FREE, "application/dns-json");
	if (req->response == NULL) {
		free(json);
		return;
	}
	cache_control(req, w->answer, alen);
}

void fn_handle_healthz(fn_req_t *req)
{
	fn_reply_text(req, MHD_HTTP_OK, "ok");
}

/* Ready once the zones are loaded, which fn_zones_new() did before the
 * server started; the count tells an operator what is served. */
void fn_handle_readyz(fn_req_t *req)
{
	const zone_set_t *set = fn_zones_lock(req->http->conf.zones);
	bool loaded = set != NULL;
	size_t count = loaded ? set->count : 0;
	fn_zones_unlock(req->http->conf.zones);
	if (!loaded) {
		fn_reply_text(req, MHD_HTTP_SERVICE_UNAVAILABLE, "zones not loaded yet");
		return;
	}
	fn_reply_text(req, MHD_HTTP_OK, "ready: %zu zone%s", count, count == 1 ? "" : "s");
}
