/* SPDX-License-Identifier: Apache-2.0
 * fn_http.c -- the HTTP server of `cirrus function http` (libmicrohttpd):
 * routing, the checks that need only headers (method, content type, body
 * size), reading a POST body within 65535 bytes, and draining on stop.
 * The endpoints themselves are in fn_handle.c.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fn/fn_internal.h"
#include "util/error.h"
#include "util/addr.h"
#include "util/log.h"

/* Idle keep-alive connections are closed after this many seconds. */
#define FN_IDLE_TIMEOUT 30
#define FN_MAX_CONNECTIONS 1024
/* A refused body is read and dropped (so the client sees the reply and
 * not a reset) up to this many bytes; beyond it the connection is closed. */
#define FN_DRAIN_MAX (4 * FN_MSG_MAX)

typedef struct route {
	const char *path;
	const char *methods;       /* for Allow */
	void (*handler)(fn_req_t *req);
	bool post;                 /* POST is allowed besides GET */
} route_t;

static const route_t routes[] = {
	{ "/dns-query", "GET, POST", fn_handle_doh, true },
	{ "/resolve", "GET", fn_handle_resolve, false },
	{ "/healthz", "GET", fn_handle_healthz, false },
	{ "/readyz", "GET", fn_handle_readyz, false },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

size_t fn_text_line(char text[FN_TEXT_MAX], const char *fmt, va_list ap)
{
	int n = vsnprintf(text, FN_TEXT_MAX - 1, fmt, ap);
	size_t len = n < 0 ? 0 : (size_t)n < FN_TEXT_MAX - 1 ? (size_t)n : FN_TEXT_MAX - 2;
	text[len++] = '\n';
	return len;
}

void fn_reply_text(fn_req_t *req, unsigned status, const char *fmt, ...)
{
	char text[FN_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	size_t len = fn_text_line(text, fmt, ap);
	va_end(ap);
	if (req->response != NULL) {
		MHD_destroy_response(req->response);
	}
	req->status = status;
	req->response = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_COPY);
	if (req->response != NULL) {
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE,
		                        "text/plain; charset=utf-8");
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
}

const char *fn_header(fn_req_t *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* Length of the path part of url (libmicrohttpd passes it without the
 * query string, but be sure). */
static size_t path_len(const char *url)
{
	return strcspn(url, "?");
}

/* Pick the handler, or reply 404/405. */
static void route(fn_req_t *req, const char *url)
{
	size_t len = path_len(url);
	for (size_t i = 0; i < COUNT(routes); i++) {
		const route_t *r = &routes[i];
		if (strlen(r->path) != len || strncmp(r->path, url, len) != 0) {
			continue;
		}
		if (strcmp(req->method, "GET") == 0 ||
		    (r->post && strcmp(req->method, "POST") == 0)) {
			req->handler = r->handler;
			return;
		}
		fn_reply_text(req, MHD_HTTP_METHOD_NOT_ALLOWED, "%s is not allowed on %s "
		              "(allowed: %s)", req->method, r->path, r->methods);
		if (req->response != NULL) {
			MHD_add_response_header(req->response, MHD_HTTP_HEADER_ALLOW, r->methods);
		}
		return;
	}
	fn_reply_text(req, MHD_HTTP_NOT_FOUND, "no such resource (try /dns-query, /resolve, "
	              "/healthz or /readyz)");
}

/* A POST must be application/dns-message of at most 65535 bytes. */
static void check_post(fn_req_t *req)
{
	const char *ct = fn_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!fn_doh_content_type_ok(ct)) {
		fn_reply_text(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "the body must be "
		              "application/dns-message, not %.64s", ct != NULL ? ct : "unlabelled");
		return;
	}
	const char *len = fn_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len != NULL && strtoull(len, NULL, 10) > FN_MSG_MAX) {
		fn_reply_text(req, MHD_HTTP_CONTENT_TOO_LARGE, "the body is larger than a DNS "
		              "message can be (65535 bytes)");
	}
}

/* Whether the request announces a body. */
static bool has_body(fn_req_t *req)
{
	const char *len = fn_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return fn_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL ||
	       (len != NULL && strspn(len, "0") != strlen(len));
}

/* The client as the engine saw it, else the peer, as text. */
static void client_text(fn_req_t *req, char *out, size_t size)
{
	const struct sockaddr *sa = (const struct sockaddr *)&req->client;
	if (req->client.ss_family == AF_UNSPEC) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		sa = ci != NULL ? ci->client_addr : NULL;
	}
	const void *addr = sa == NULL ? NULL : sa->sa_family == AF_INET ?
	                   (const void *)&((const struct sockaddr_in *)sa)->sin_addr :
	                   sa->sa_family == AF_INET6 ?
	                   (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr : NULL;
	if (addr == NULL || inet_ntop(sa->sa_family, addr, out, (socklen_t)size) == NULL) {
		snprintf(out, size, "-");
	}
}

/* Queue the reply; during a drain the connection closes after it. */
static enum MHD_Result send_reply(fn_req_t *req, const char *url)
{
	char client[INET6_ADDRSTRLEN];
	client_text(req, client, sizeof(client));
	log_debug("function: %s %s %s -> %u", client, req->method, url, req->status);
	if (req->response == NULL) {
		return MHD_NO;
	}
	if (atomic_load(&req->http->draining)) {
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONNECTION, "close");
	}
	return MHD_queue_response(req->conn, req->status, req->response);
}

/* The first call, with the headers only. A refused request is answered at
 * once when no body follows, the client waits for "100 Continue", or the
 * body is too large to drain; otherwise its body is read and dropped. */
static enum MHD_Result request_first(fn_http_t *h, struct MHD_Connection *conn,
                                     const char *url, const char *method, void **con_cls)
{
	fn_req_t *req = calloc(1, sizeof(*req));
	if (req == NULL) {
		return MHD_NO;
	}
	atomic_fetch_add(&h->inflight, 1);
	*con_cls = req;
	req->http = h;
	req->conn = conn;
	req->method = method;
	route(req, url);
	if (req->status == 0 && strcmp(method, "POST") == 0) {
		check_post(req);
	}
	const char *expect = fn_header(req, MHD_HTTP_HEADER_EXPECT);
	const char *len = fn_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (req->status != 0 &&
	    (!has_body(req) || (expect != NULL && strcasecmp(expect, "100-continue") == 0) ||
	     (len != NULL && strtoull(len, NULL, 10) > FN_DRAIN_MAX))) {
		return send_reply(req, url);
	}
	return MHD_YES;
}

/* Keep the body within 65535 bytes; drop it once a reply is decided.
 * False when too much was dropped: close the connection. */
static bool body_append(fn_req_t *req, const char *data, size_t size)
{
	if (req->status != 0) {
		req->dropped += size;
		return req->dropped <= FN_DRAIN_MAX;
	}
	if (size > FN_MSG_MAX - req->body_len) {
		fn_reply_text(req, MHD_HTTP_CONTENT_TOO_LARGE, "the body is larger than a DNS "
		              "message can be (65535 bytes)");
		req->dropped = req->body_len + size;
		return true;
	}
	if (req->body == NULL && (req->body = malloc(FN_MSG_MAX)) == NULL) {
		fn_reply_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return true;
	}
	memcpy(req->body + req->body_len, data, size);
	req->body_len += size;
	return true;
}

/* libmicrohttpd calls this once with the headers, once per piece of the
 * body, and once more when the request is complete. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size,
                                  void **con_cls)
{
	(void)version;
	fn_req_t *req = *con_cls;
	if (req == NULL) {
		return request_first(cls, conn, url, method, con_cls);
	}
	if (*upload_size > 0) {
		if (!body_append(req, upload_data, *upload_size)) {
			return MHD_NO;  /* libmicrohttpd takes no reply mid-body */
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->status == 0) {
		req->handler(req);
	}
	return send_reply(req, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
	(void)conn, (void)why;
	fn_http_t *h = cls;
	fn_req_t *req = *con_cls;
	if (req == NULL) {
		return;
	}
	if (req->response != NULL) {
		MHD_destroy_response(req->response);
	}
	free(req->body);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&h->inflight, 1);
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
	fn_http_t *h = cls;
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	if (!atomic_load(&h->started)) {
		snprintf(h->start_err, sizeof(h->start_err), "%s", msg);
	}
	log_warning("function: http: %s", msg);
}

static struct MHD_Daemon *start_daemon(fn_http_t *h, const struct sockaddr_storage *ss)
{
	struct MHD_OptionItem ops[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, (void *)ss },
		{ MHD_OPTION_CONNECTION_LIMIT, FN_MAX_CONNECTIONS, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, FN_IDLE_TIMEOUT, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
		/* One thread is MHD's default; a pool of one draws a warning. */
		{ h->conf.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
		  h->conf.threads, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	/* ITC lets MHD_quiesce_daemon() stop the listener while requests finish. */
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	flags |= ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0;
	return MHD_start_daemon(flags, h->conf.port, NULL, NULL, on_request, h,
	                        MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
	                        MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
}

int fn_http_start(const fn_http_conf_t *conf, fn_http_t **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	if (!addr_parse(conf->listen, conf->port, &ss)) {
		snprintf(err, errlen, "listen address '%s' is not an IP address",
		         conf->listen ? conf->listen : "");
		return CIRRUS_EINVAL;
	}
	fn_http_t *h = calloc(1, sizeof(*h));
	if (h == NULL || pthread_key_create(&h->worker_key, fn_worker_free) != 0) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return CIRRUS_ENOMEM;
	}
	h->conf = *conf;
	h->conf.threads = conf->threads ? conf->threads : 1;
	h->daemon = start_daemon(h, &ss);
	atomic_store(&h->started, true);
	if (h->daemon == NULL) {
		snprintf(err, errlen, "cannot listen on %s port %u%s%s", conf->listen,
		         (unsigned)conf->port, h->start_err[0] ? ": " : "", h->start_err);
		pthread_key_delete(h->worker_key);
		free(h);
		return CIRRUS_EIO;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon,
	                                                     MHD_DAEMON_INFO_BIND_PORT);
	log_info("function: http listening on %s port %u", conf->listen,
	         di != NULL ? (unsigned)di->port : (unsigned)conf->port);
	*out = h;
	return 0;
}

unsigned fn_http_stop(fn_http_t *h, unsigned wait_ms)
{
	if (h == NULL) {
		return 0;
	}
	atomic_store(&h->draining, true);
	MHD_socket listener = MHD_quiesce_daemon(h->daemon);
	if (listener != MHD_INVALID_SOCKET) {
		close(listener);
	}
	unsigned waited = 0;
	while (atomic_load(&h->inflight) > 0 && waited < wait_ms) {
		usleep(5000);
		waited += 5;
	}
	unsigned left = atomic_load(&h->inflight);
	MHD_stop_daemon(h->daemon);
	pthread_key_delete(h->worker_key);
	free(h);
	return left;
}
