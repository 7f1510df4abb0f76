/* SPDX-License-Identifier: Apache-2.0
 * api_http.c -- the HTTP side of the API: start and stop libmicrohttpd,
 * take each request through its stages (request id, route, authenticate,
 * read the body within its limit, run the handler) and send the reply with
 * the headers every reply carries. Handlers live in one file per resource.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "util/error.h"
#include "util/addr.h"
#include "util/log.h"

/* Worker threads: requests wait on the control plane's one lock anyway, so
 * a few suffice to keep a slow export from holding up everything else
 * (and no request waits for the disk on one, api_sync.c). A thread per
 * connection was slower under the churn benchmark (docs/benchmarks.md). */
#define API_THREADS 4
#define API_MAX_CONNECTIONS 256
/* Seconds a connection may stay idle (or trickle a request) before close. */
#define API_IDLE_TIMEOUT 30
/* A request refused before its body arrived: its body is read and dropped
 * (so the client sees the reply rather than a reset) up to this many times
 * api.max-body. A larger announced body gets the reply at once; a chunked
 * one that runs past it has its connection closed. */
#define API_DRAIN_FACTOR 16
/* Largest TLS certificate or key file read. */
#define API_PEM_MAX (1024 * 1024)

typedef struct route {
	const char *path;        /* after /api/v1/; "*" is one path segment */
	const char *method;
	api_handler_t handler;
	bool open;               /* needs no token */
} route_t;

static void openapi_get(api_req_t *req);

static const route_t routes[] = {
	{ "openapi.yaml", "GET", openapi_get, true },
	{ "zones", "GET", api_zones_list, false },
	{ "zones", "POST", api_zones_create, false },
	{ "zones/*", "GET", api_zone_get, false },
	{ "zones/*", "DELETE", api_zone_delete, false },
	{ "zones/*/rrsets", "GET", api_rrsets_get, false },
	{ "zones/*/rrsets", "PATCH", api_rrsets_patch, false },
	{ "zones/*/export", "GET", api_zone_export, false },
	{ "zones/*/policies", "GET", api_policies_list, false },
	{ "zones/*/policies/*/*", "GET", api_policy_get, false },
	{ "zones/*/policies/*/*", "PUT", api_policy_put, false },
	{ "zones/*/policies/*/*", "DELETE", api_policy_delete, false },
	{ "latency/*", "GET", api_latency_get, false },
	{ "latency/*", "PUT", api_latency_put, false },
	{ "latency/*", "DELETE", api_latency_delete, false },
	{ "audit", "GET", api_audit_get, false },
	{ "tokens", "GET", api_tokens_list, false },
	{ "tokens", "POST", api_tokens_create, false },
	{ "tokens/*", "DELETE", api_token_delete, false },
	{ "health", "GET", api_health_get, false },
	{ "health/*/drill", "POST", api_health_drill, false },
	{ "health/*/drill", "DELETE", api_health_drill_end, false },
	{ "services/*", "GET", api_services_list, false },
	{ "services/*/*", "GET", api_service_get, false },
	{ "services/*/*/instances/*", "PUT", api_instance_put, false },
	{ "services/*/*/instances/*", "DELETE", api_instance_delete, false },
	{ "services/*/*/instances/*/heartbeat", "POST", api_instance_heartbeat, false },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void openapi_get(api_req_t *req)
{
	req->response = MHD_create_response_from_buffer(api_openapi_yaml_len,
	                                                (void *)api_openapi_yaml,
	                                                MHD_RESPMEM_PERSISTENT);
	req->status = MHD_HTTP_OK;
	if (req->response != NULL) {
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE,
		                        "application/yaml");
	}
}

/* Whether path matches pattern; the "*" segment, if any, goes to *arg
 * (with several, *arg spans from the first to the end of the last). */
static bool path_match(const char *pattern, const char *path, const char **arg,
                       size_t *arg_len)
{
	while (*pattern != '\0') {
		if (*pattern == '*') {
			size_t len = strcspn(path, "/");
			if (len == 0) {
				return false;
			}
			*arg = *arg != NULL ? *arg : path;
			*arg_len = (size_t)(path + len - *arg);
			path += len;
			pattern++;
		} else if (*pattern++ != *path++) {
			return false;
		}
	}
	return *path == '\0';
}

/* Find the handler; 404 for an unknown path, 405 with Allow for a known
 * path and another method. Returns the route or NULL (replied). */
static const route_t *route(api_req_t *req, const char *url)
{
	static const char prefix[] = "/api/v1/";
	char allow[64] = "";
	const char *path = url + sizeof(prefix) - 1;
	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0) {
		api_reply_error(req, MHD_HTTP_NOT_FOUND, NULL,
		                "no such resource: the API lives under %s", prefix);
		return NULL;
	}
	for (size_t i = 0; i < COUNT(routes); i++) {
		const char *arg = NULL;
		size_t arg_len = 0;
		if (!path_match(routes[i].path, path, &arg, &arg_len)) {
			continue;
		}
		if (strcmp(routes[i].method, req->method) == 0) {
			if (arg != NULL && (req->arg = strndup(arg, arg_len)) == NULL) {
				api_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
				return NULL;
			}
			return &routes[i];
		}
		size_t len = strlen(allow);
		snprintf(allow + len, sizeof(allow) - len, "%s%s", len ? ", " : "",
		         routes[i].method);
	}
	if (allow[0] == '\0') {
		api_reply_error(req, MHD_HTTP_NOT_FOUND, NULL, "no such resource: %s", url);
		return NULL;
	}
	api_reply_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, NULL,
	                "%s is not allowed on %s (allowed: %s)", req->method, url, allow);
	if (req->response != NULL) {
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_ALLOW, allow);
	}
	return NULL;
}

static const char *header(api_req_t *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* Whether the request announces a body (that we must read or refuse). */
static bool has_body(api_req_t *req)
{
	const char *len = header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL ||
	       (len != NULL && strspn(len, "0") != strlen(len));
}

/* POST, PUT and PATCH bodies are JSON: application/json, parameters allowed. */
static bool json_content_type(api_req_t *req)
{
	const char *ct = header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
		return false;
	}
	ct += 16;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

/* The stages that need only the headers: route, token, body headers. */
static void request_begin(api_req_t *req, const char *url)
{
	api_request_id(req);
	const route_t *r = route(req, url);
	if (r == NULL || (!r->open && !api_authenticate(req))) {
		return;
	}
	req->handler = r->handler;
	/* A POST without a body (a heartbeat) need not label it. */
	bool wants_json = (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PATCH") == 0 ||
	                   strcmp(req->method, "PUT") == 0) && has_body(req);
	if (wants_json && !json_content_type(req)) {
		const char *ct = header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
		api_reply_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
		                "the body must be application/json, not %s",
		                ct != NULL ? ct : "unlabelled");
		return;
	}
	const char *len = header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len != NULL && strtoull(len, NULL, 10) > req->api->max_body) {
		api_reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
		                "the body is larger than the limit of %zu bytes (api.max-body)",
		                req->api->max_body);
	}
}

static size_t drain_max(const api_req_t *req)
{
	return req->api->max_body * API_DRAIN_FACTOR;
}

/* Keep the body within the limit; after a reply is decided, drop it.
 * Returns false when too much was dropped: the reply should go now. */
static bool body_append(api_req_t *req, const char *data, size_t size)
{
	if (req->status != 0) {
		req->dropped += size;
		return req->dropped <= drain_max(req);
	}
	size_t max = req->api->max_body;
	if (size > max || req->body_len > max - size) {
		free(req->body);
		req->body = NULL;
		api_reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
		                "the body is larger than the limit of %zu bytes (api.max-body)", max);
		req->dropped = req->body_len + size;
		return true;
	}
	char *grown = realloc(req->body, req->body_len + size + 1);
	if (grown == NULL) {
		api_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
		return true;
	}
	memcpy(grown + req->body_len, data, size);
	req->body = grown;
	req->body_len += size;
	req->body[req->body_len] = '\0';
	return true;
}

/* Whether a request is a change, logged at info when it succeeds. A lease
 * renewal is not: 1,000 instances heartbeating every 2 s would write 500
 * lines a second, and it changes neither the zone nor the audit log. */
static bool is_change(const api_req_t *req)
{
	return strcmp(req->method, "GET") != 0 && !req->renewal;
}

/* Queue the reply with the headers every reply carries. */
static enum MHD_Result send_reply(api_req_t *req, const char *url)
{
	if (req->response == NULL) {
		log_error("api: %s %s %s: out of memory", req->id, req->method, url);
		return MHD_NO;
	}
	MHD_add_response_header(req->response, "X-Request-Id", req->id);
	MHD_add_response_header(req->response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (req->www_authenticate) {
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        "Bearer realm=\"cirrus\"");
	}
	log_level_t level = is_change(req) && req->status < 300 ? LOG_LEVEL_INFO :
	                    LOG_LEVEL_DEBUG;
	log_msg(level, "api: %s %s %s %s -> %u", req->id,
	        req->actor[0] ? req->actor : "-", req->method, url, req->status);
	return MHD_queue_response(req->conn, req->status, req->response);
}

/* The first call for a request, with its headers only: start it, and
 * answer at once when it is refused and no body follows, the client waits
 * for "100 Continue" before sending one, or it announces more than we drop.
 * Otherwise a refused request's body is read to the end first, so that the
 * client reads our reply and not a reset. */
static enum MHD_Result request_first(api_t *api, struct MHD_Connection *conn,
                                     const char *url, const char *method, void **con_cls)
{
	api_req_t *req = calloc(1, sizeof(*req));
	if (req == NULL) {
		return MHD_NO;
	}
	*con_cls = req;
	req->api = api;
	req->conn = conn;
	req->method = method;
	request_begin(req, url);
	const char *expect = header(req, MHD_HTTP_HEADER_EXPECT);
	const char *len = header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (req->status != 0 &&
	    (!has_body(req) || (expect != NULL && strcasecmp(expect, "100-continue") == 0) ||
	     (len != NULL && strtoull(len, NULL, 10) > drain_max(req)))) {
		return send_reply(req, url);
	}
	return MHD_YES;
}

/* libmicrohttpd calls this once with the headers, once per piece of the
 * body, and once more when the body is complete (and again when a change
 * that waited for the disk is resumed, api_sync.c). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size,
                                  void **con_cls)
{
	(void)version;
	api_req_t *req = *con_cls;
	if (req == NULL) {
		return request_first(cls, conn, url, method, con_cls);
	}
	if (*upload_size > 0) {
		if (!body_append(req, upload_data, *upload_size)) {
			/* libmicrohttpd takes no reply in the middle of a body. */
			log_info("api: %s %s %s: closed after %zu bytes of a refused body",
			         req->id, req->method, url, req->dropped);
			return MHD_NO;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->status == 0) {
		req->handler(req);
	}
	if (req->lazy && req->response != NULL && api_sync_defer(req->api->sync, req)) {
		return MHD_YES;
	}
	return send_reply(req, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
	(void)cls, (void)conn, (void)why;
	api_req_t *req = *con_cls;
	if (req == NULL) {
		return;
	}
	if (req->response != NULL) {
		MHD_destroy_response(req->response);
	}
	free(req->arg);
	free(req->body);
	free(req);
	*con_cls = NULL;
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
	api_t *api = cls;
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	if (!atomic_load(&api->running)) {
		snprintf(api->start_err, sizeof(api->start_err), "%s", msg);
	}
	log_warning("api: %s", msg);
}

/* Read a whole PEM file into a string; CIRRUS_EIO with err. */
static int read_pem(const char *path, char **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = f != NULL ? malloc(API_PEM_MAX + 1) : NULL;
	size_t len = buf != NULL ? fread(buf, 1, API_PEM_MAX + 1, f) : 0;
	int r = 0;
	if (f == NULL || buf == NULL || ferror(f)) {
		snprintf(err, errlen, "api: cannot read %s: %s", path, strerror(errno));
		r = CIRRUS_EIO;
	} else if (len > API_PEM_MAX || len == 0) {
		snprintf(err, errlen, "api: %s is %s", path, len ? "larger than 1 MiB" : "empty");
		r = CIRRUS_EIO;
	}
	if (f != NULL) {
		fclose(f);
	}
	if (r != 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static int api_tls(api_t *api, const api_conf_t *conf, char *err, size_t errlen)
{
	if ((conf->tls_cert == NULL) != (conf->tls_key == NULL)) {
		snprintf(err, errlen, "api: TLS needs both tls-cert and tls-key");
		return CIRRUS_EINVAL;
	}
	if (conf->tls_cert == NULL) {
		return 0;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, errlen, "api: this libmicrohttpd was built without TLS");
		return CIRRUS_EINVAL;
	}
	int r = read_pem(conf->tls_cert, &api->cert_pem, err, errlen);
	return r != 0 ? r : read_pem(conf->tls_key, &api->key_pem, err, errlen);
}

int api_start(const api_conf_t *conf, ctl_t *ctl, api_t **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	if (conf->listen == NULL || !addr_parse(conf->listen, conf->port, &ss)) {
		snprintf(err, errlen, "api: listen address '%s' is not an IP address",
		         conf->listen ? conf->listen : "");
		return CIRRUS_EINVAL;
	}
	api_t *api = calloc(1, sizeof(*api));
	if (api == NULL) {
		snprintf(err, errlen, "api: out of memory");
		return CIRRUS_ENOMEM;
	}
	api->ctl = ctl;
	api->registry = conf->registry;
	api->max_body = conf->max_body;
	int r = api_tls(api, conf, err, errlen);
	if (r != 0) {
		api_stop(api);
		return r;
	}
	struct MHD_OptionItem ops[8];
	size_t n = 0;
	unsigned threads = conf->threads ? conf->threads : API_THREADS;
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	if (threads > 1) {  /* one is the daemon's own thread, without a pool */
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, threads, NULL };
	}
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, API_MAX_CONNECTIONS, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, API_IDLE_TIMEOUT, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, api };
	if (api->cert_pem != NULL) {
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, api->cert_pem };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, api->key_pem };
	}
	ops[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	if (api_sync_start(ctl, &api->sync) != 0) {
		snprintf(err, errlen, "api: cannot start a thread");
		api_stop(api);
		return CIRRUS_ENOMEM;
	}
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
	                 MHD_ALLOW_SUSPEND_RESUME;
	flags |= ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0;
	flags |= api->cert_pem != NULL ? MHD_USE_TLS : 0;
	/* The logger goes first, so that libmicrohttpd reports even problems
	 * with the options that follow through it. */
	api->daemon = MHD_start_daemon(flags, conf->port, NULL, NULL, on_request, api,
	                               MHD_OPTION_EXTERNAL_LOGGER, on_log, api,
	                               MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	atomic_store(&api->running, true);
	if (api->daemon == NULL) {
		snprintf(err, errlen, "api: cannot listen on %s port %u%s%s", conf->listen,
		         (unsigned)conf->port, api->start_err[0] ? ": " : "", api->start_err);
		api_stop(api);
		return CIRRUS_EIO;
	}
	log_info("api: listening on %s port %u (%s)", conf->listen, (unsigned)conf->port,
	         api->cert_pem ? "https" : "http");
	*out = api;
	return 0;
}

void api_stop(api_t *api)
{
	if (api == NULL) {
		return;
	}
	api_sync_stop(api->sync);  /* the queued changes are on disk first */
	if (api->daemon != NULL) {
		MHD_stop_daemon(api->daemon);
	}
	api_sync_free(api->sync);
	free(api->cert_pem);
	free(api->key_pem);
	free(api);
}
