/* SPDX-License-Identifier: Apache-2.0
 * fn_lambda_event.c -- one AWS Lambda event in, one reply out, with no
 * network: API Gateway HTTP API (payload format 2.0) and Function URL
 * requests (the same shape) carrying DoH or the JSON API, answered in the
 * 2.0 response format; and direct invocations {"name", "type"} and
 * {"query"}. The routes, refusals and headers are those of `cirrus
 * function http` (fn_http.c, fn_handle.c), so a client sees the same
 * service behind a Function URL as behind Cloud Run.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "fn/fn.h"
#include "util/error.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* Parameter values taken from a raw query string or a JSON number are
 * written here; one slot per parameter, enough for a presentation name. */
#define ARG_SLOTS 8
#define ARG_MAX 1024

/* One event's buffers: a decoded query and the answer. */
typedef struct work {
	uint8_t query[FN_MSG_MAX];
	uint8_t answer[FN_MSG_MAX];
	size_t query_len, answer_len;
	struct sockaddr_storage client;   /* AF_UNSPEC when not known */
} work_t;

/* An HTTP reply in the 2.0 response format, being built. */
typedef struct http_reply {
	int status;
	json_t *headers;
	char *body;            /* malloc'ed */
	bool base64;
} http_reply_t;

/* The request parameters of one event, for fn_resolve_parse and "dns". */
typedef struct args {
	json_t *object;        /* queryStringParameters, or the direct event */
	const char *raw;       /* rawQueryString, when there is no object */
	char slot[ARG_SLOTS][ARG_MAX];
	unsigned used;
} args_t;

/*
 * Base64 (RFC 4648 4). Lambda hands binary bodies over in the standard,
 * padded alphabet; fn_b64url_decode (fn_doh.c) does the work once the two
 * alphabet differences are mapped, so there is one decoder to trust.
 */

char *fn_b64_encode(const uint8_t *in, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (out == NULL) {
		return NULL;
	}
	size_t n = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		v |= i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0;
		v |= i + 2 < len ? in[i + 2] : 0;
		out[n++] = alphabet[(v >> 18) & 63];
		out[n++] = alphabet[(v >> 12) & 63];
		out[n++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[n++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[n] = '\0';
	return out;
}

int fn_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_max,
                  size_t *out_len)
{
	/* Refuse what cannot fit before copying it. */
	if (in_len / 4 * 3 > out_max + 2) {
		return CIRRUS_ESPACE;
	}
	char *url = malloc(in_len + 1);
	if (url == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < in_len; i++) {
		url[i] = in[i] == '+' ? '-' : in[i] == '/' ? '_' : in[i];
	}
	int rc = fn_b64url_decode(url, in_len, out, out_max, out_len);
	free(url);
	return rc;
}

/*
 * Events.
 */

static int bad_event(fn_lambda_reply_t *out, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad_event(fn_lambda_reply_t *out, const char *type, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->error_message, sizeof(out->error_message), fmt, ap);
	va_end(ap);
	out->error_type = type;
	return CIRRUS_EINVAL;
}

/* A member that is a string, or NULL. */
static const char *string_of(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* A header of a 2.0 event: the names are lower case there, but a test
 * harness or a hand-made event may not be. */
static const char *header_of(const json_t *event, const char *name)
{
	json_t *headers = json_object_get(event, "headers");
	const char *key;
	json_t *value;
	json_object_foreach(headers, key, value) {
		if (strcasecmp(key, name) == 0) {
			return json_string_value(value);
		}
	}
	return NULL;
}

/* Percent-decoding of one query-string value ('+' is a space). */
static void url_decode(const char *s, size_t len, char *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < max; i++) {
		if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], '\0' };
			out[n++] = (char)strtoul(hex, NULL, 16);
			i += 2;
		} else {
			out[n++] = s[i] == '+' ? ' ' : s[i];
		}
	}
	out[n] = '\0';
}

/* name's value in a raw query string ("a=1&b=2"), decoded into buf. */
static const char *raw_param(const char *raw, const char *name, char *buf, size_t max)
{
	size_t nlen = strlen(name);
	for (const char *p = raw; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, "&");
		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			url_decode(p + nlen + 1, len - nlen - 1, buf, max);
			return buf;
		}
		if (len == nlen && strncmp(p, name, nlen) == 0) {
			buf[0] = '\0';
			return buf;
		}
		p += len + (p[len] == '&');
	}
	return NULL;
}

/* A parameter as text: strings as they are; in a direct invocation also
 * numbers ("type": 28) and booleans ("do": true). */
static const char *get_arg(void *ctx, const char *name)
{
	args_t *a = ctx;
	char *buf = a->slot[a->used++ % ARG_SLOTS];
	if (a->object == NULL) {
		return a->raw != NULL ? raw_param(a->raw, name, buf, ARG_MAX) : NULL;
	}
	json_t *v = json_object_get(a->object, name);
	if (v == NULL || json_is_null(v)) {
		return NULL;
	}
	if (json_is_string(v)) {
		return json_string_value(v);
	}
	if (json_is_integer(v)) {
		snprintf(buf, ARG_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, ARG_MAX, "%s", json_is_true(v) ? "true" : "false");
	} else {
		snprintf(buf, ARG_MAX, "(a JSON %s)", json_is_object(v) ? "object" :
		         json_is_array(v) ? "array" : "number");
	}
	return buf;
}

/* sourceIp of requestContext.http: the client for routing policies. */
static void source_ip(const json_t *http, struct sockaddr_storage *out)
{
	const char *ip = string_of(http, "sourceIp");
	memset(out, 0, sizeof(*out));
	if (ip == NULL) {
		return;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
	}
}

/* Run the engine on w->query; false when it would send nothing. */
static bool run_engine(const fn_lambda_ctx_t *ctx, work_t *w)
{
	engine_query_t q = {
		.transport = ENGINE_TRANSPORT_TCP,   /* no datagram limit over HTTP */
		.remote = w->client.ss_family != AF_UNSPEC ?
		          (const struct sockaddr *)&w->client : NULL,
	};
	engine_action_t act = engine_handle(ctx->zones, ctx->engine, &q, w->query,
	                                    w->query_len, w->answer, sizeof(w->answer),
	                                    &w->answer_len, ctx->scratch);
	arena_reset(ctx->scratch);
	return act == ENGINE_SEND;
}

/*
 * HTTP replies (the 2.0 response format).
 */

static int reply_init(http_reply_t *r, int status, const char *type)
{
	*r = (http_reply_t){ .status = status, .headers = json_object() };
	if (r->headers == NULL ||
	    json_object_set_new(r->headers, "content-type", json_string(type)) != 0) {
		return CIRRUS_ENOMEM;
	}
	return 0;
}

static void reply_text(http_reply_t *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A refusal: one line of text/plain, never cached (as fn_reply_text). */
static void reply_text(http_reply_t *r, int status, const char *fmt, ...)
{
	json_decref(r->headers);
	free(r->body);
	if (reply_init(r, status, "text/plain; charset=utf-8") != 0) {
		return;
	}
	json_object_set_new(r->headers, "cache-control", json_string("no-store"));
	char text[FN_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	size_t len = fn_text_line(text, fmt, ap);
	va_end(ap);
	r->body = strndup(text, len);
}

/* RFC 8484 5.1: cacheable for the smallest TTL; nothing said without records. */
static void reply_cache(http_reply_t *r, const work_t *w)
{
	uint32_t ttl;
	char value[32];
	if (r->headers != NULL && fn_cache_ttl(w->answer, w->answer_len, &ttl)) {
		snprintf(value, sizeof(value), "max-age=%u", ttl);
		json_object_set_new(r->headers, "cache-control", json_string(value));
	}
}

/* The 2.0 response object, as text. */
static int reply_finish(http_reply_t *r, fn_lambda_reply_t *out)
{
	json_t *doc = NULL;
	if (r->headers != NULL && r->body != NULL) {
		doc = json_pack("{s:i, s:O, s:s, s:b}", "statusCode", r->status,
		                "headers", r->headers, "body", r->body,
		                "isBase64Encoded", r->base64);
	}
	out->payload = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	json_decref(r->headers);
	free(r->body);
	return out->payload != NULL ? 0 : CIRRUS_ENOMEM;
}

/* The query of a DoH GET: the dns parameter, base64url. */
static bool doh_get_query(args_t *a, work_t *w, http_reply_t *r)
{
	const char *dns = get_arg(a, "dns");
	if (dns == NULL) {
		reply_text(r, 400, "the dns parameter is missing");
		return false;
	}
	int rc = fn_b64url_decode(dns, strlen(dns), w->query, sizeof(w->query), &w->query_len);
	if (rc == CIRRUS_ESPACE) {
		reply_text(r, 414, "the dns parameter is longer than a DNS message can be");
		return false;
	}
	if (rc != 0) {
		reply_text(r, 400, "the dns parameter is not base64url (RFC 4648 section 5, "
		           "no padding)");
		return false;
	}
	return true;
}

/* The query of a DoH POST: the body, base64 when Lambda says so. */
static bool doh_post_query(const json_t *event, work_t *w, http_reply_t *r)
{
	const char *ct = header_of(event, "content-type");
	if (!fn_doh_content_type_ok(ct)) {
		reply_text(r, 415, "the body must be application/dns-message, not %.64s",
		           ct != NULL ? ct : "unlabelled");
		return false;
	}
	json_t *body = json_object_get(event, "body");
	const char *text = json_string_value(body);
	size_t len = json_string_length(body);
	int rc = 0;
	if (text == NULL) {
		w->query_len = 0;   /* no body: a message shorter than a header */
	} else if (json_is_true(json_object_get(event, "isBase64Encoded"))) {
		rc = fn_b64_decode(text, len, w->query, sizeof(w->query), &w->query_len);
	} else if (len > sizeof(w->query)) {
		rc = CIRRUS_ESPACE;
	} else {
		memcpy(w->query, text, len);
		w->query_len = len;
	}
	if (rc == CIRRUS_ESPACE) {
		reply_text(r, 413, "the body is larger than a DNS message can be (65535 bytes)");
	} else if (rc != 0) {
		reply_text(r, rc == CIRRUS_ENOMEM ? 500 : 400, "the body is not base64 although "
		           "isBase64Encoded is true");
	}
	return rc == 0;
}

static void handle_doh(const fn_lambda_ctx_t *ctx, const json_t *event, const char *method,
                       args_t *a, work_t *w, http_reply_t *r)
{
	const char *reason = NULL;
	bool ok = strcmp(method, "POST") == 0 ? doh_post_query(event, w, r) :
	          doh_get_query(a, w, r);
	if (!ok) {
		return;
	}
	if (fn_doh_check_query(w->query, w->query_len, &reason) != 0) {
		reply_text(r, 400, "%s", reason);
		return;
	}
	if (!run_engine(ctx, w)) {
		reply_text(r, 400, "the message is not a query that can be answered");
		return;
	}
	if (reply_init(r, 200, "application/dns-message") == 0) {
		r->body = fn_b64_encode(w->answer, w->answer_len);
		r->base64 = true;
		reply_cache(r, w);
	}
}

/* The JSON API answer for the parameters in a; *reason on a bad one. */
static int resolve(const fn_lambda_ctx_t *ctx, args_t *a, work_t *w, char **json,
                   char *reason, size_t reason_len)
{
	fn_resolve_t req;
	if (fn_resolve_parse(get_arg, a, &req, reason, reason_len) != 0) {
		return CIRRUS_EINVAL;
	}
	if (fn_resolve_query(&req, w->query, sizeof(w->query), &w->query_len) != 0 ||
	    !run_engine(ctx, w)) {
		snprintf(reason, reason_len, "cannot build the query");
		return CIRRUS_EINVAL;
	}
	int rc = fn_json_render(w->answer, w->answer_len, &req, json);
	if (rc != 0) {
		snprintf(reason, reason_len, "cannot render the answer");
	}
	return rc;
}

static void handle_resolve(const fn_lambda_ctx_t *ctx, args_t *a, work_t *w,
                           http_reply_t *r)
{
	char reason[256], *json = NULL;
	int rc = resolve(ctx, a, w, &json, reason, sizeof(reason));
	if (rc != 0) {
		reply_text(r, rc == CIRRUS_ENOMEM ? 500 : 400, "%s", reason);
		return;
	}
	if (reply_init(r, 200, "application/dns-json") == 0) {
		r->body = json;
		reply_cache(r, w);
	} else {
		free(json);
	}
}

/* The path the function was asked for: rawPath, without the stage a
 * named API Gateway stage puts in front ("/prod/dns-query"). */
static const char *event_path(const json_t *event, const json_t *http, size_t *len)
{
	const char *path = string_of(event, "rawPath");
	if (path == NULL && (path = string_of(http, "path")) == NULL) {
		path = "/";
	}
	const char *stage = string_of(json_object_get(event, "requestContext"), "stage");
	size_t slen = stage != NULL ? strlen(stage) : 0;
	if (slen > 0 && strcmp(stage, "$default") != 0 && path[0] == '/' &&
	    strncmp(path + 1, stage, slen) == 0 && path[slen + 1] == '/') {
		path += slen + 1;
	}
	*len = strcspn(path, "?");
	return path;
}

typedef struct route {
	const char *path;
	const char *methods;   /* for Allow */
	bool post;             /* POST is allowed besides GET */
} route_t;

static const route_t routes[] = {
	{ "/dns-query", "GET, POST", true },
	{ "/resolve", "GET", false },
	{ "/healthz", "GET", false },
	{ "/readyz", "GET", false },
};

/* The route for path and method; NULL after a 404 or 405 reply. */
static const route_t *route(const char *path, size_t len, const char *method,
                            http_reply_t *r)
{
	for (size_t i = 0; i < COUNT(routes); i++) {
		const route_t *rt = &routes[i];
		if (strlen(rt->path) != len || strncmp(rt->path, path, len) != 0) {
			continue;
		}
		if (strcmp(method, "GET") == 0 || (rt->post && strcmp(method, "POST") == 0)) {
			return rt;
		}
		reply_text(r, 405, "%.16s is not allowed on %s (allowed: %s)", method, rt->path,
		           rt->methods);
		if (r->headers != NULL) {
			json_object_set_new(r->headers, "allow", json_string(rt->methods));
		}
		return NULL;
	}
	reply_text(r, 404, "no such resource (try /dns-query, /resolve, /healthz or /readyz)");
	return NULL;
}

static int http_event(const fn_lambda_ctx_t *ctx, const json_t *event, const json_t *http,
                      work_t *w, fn_lambda_reply_t *out)
{
	const char *method = string_of(http, "method");
	if (method == NULL) {
		return bad_event(out, "Cirrus.BadEvent", "requestContext.http.method is missing");
	}
	size_t len;
	const char *path = event_path(event, http, &len);
	source_ip(http, &w->client);
	args_t *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return CIRRUS_ENOMEM;
	}
	a->object = json_object_get(event, "queryStringParameters");
	a->raw = a->object == NULL ? string_of(event, "rawQueryString") : NULL;
	http_reply_t r = { 0 };
	const route_t *rt = route(path, len, method, &r);
	if (rt == NULL) {
		/* refused above */
	} else if (strcmp(rt->path, "/dns-query") == 0) {
		handle_doh(ctx, event, method, a, w, &r);
	} else if (strcmp(rt->path, "/resolve") == 0) {
		handle_resolve(ctx, a, w, &r);
	} else if (strcmp(rt->path, "/healthz") == 0) {
		reply_text(&r, 200, "ok");
	} else {
		size_t n = ctx->zones != NULL ? ctx->zones->count : 0;
		reply_text(&r, 200, "ready: %zu zone%s", n, n == 1 ? "" : "s");
	}
	free(a);
	return reply_finish(&r, out);
}

/* {"name": ..., "type": ...}: the JSON API's answer object itself. */
static int direct_resolve(const fn_lambda_ctx_t *ctx, json_t *event, work_t *w,
                          fn_lambda_reply_t *out)
{
	args_t *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return CIRRUS_ENOMEM;
	}
	a->object = event;
	char reason[256];
	int rc = resolve(ctx, a, w, &out->payload, reason, sizeof(reason));
	free(a);
	if (rc == CIRRUS_EINVAL) {
		return bad_event(out, "Cirrus.BadRequest", "%s", reason);
	}
	return rc;
}

/* {"query": BASE64}: {"answer": BASE64}, DNS messages in wire form. */
static int direct_query(const fn_lambda_ctx_t *ctx, json_t *event, work_t *w,
                        fn_lambda_reply_t *out)
{
	json_t *q = json_object_get(event, "query");
	const char *reason = NULL;
	if (!json_is_string(q)) {
		return bad_event(out, "Cirrus.BadRequest", "query must be a string: a DNS "
		                 "message in base64");
	}
	int rc = fn_b64_decode(json_string_value(q), json_string_length(q), w->query,
	                       sizeof(w->query), &w->query_len);
	if (rc == CIRRUS_ENOMEM) {
		return rc;
	}
	if (rc != 0) {
		return bad_event(out, "Cirrus.BadRequest", "query is not base64 of a DNS message "
		                 "(at most 65535 bytes)");
	}
	if (fn_doh_check_query(w->query, w->query_len, &reason) != 0) {
		return bad_event(out, "Cirrus.BadRequest", "%s", reason);
	}
	if (!run_engine(ctx, w)) {
		return bad_event(out, "Cirrus.BadRequest", "the message is not a query that can "
		                 "be answered");
	}
	char *b64 = fn_b64_encode(w->answer, w->answer_len);
	json_t *doc = b64 != NULL ? json_pack("{s:s}", "answer", b64) : NULL;
	out->payload = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	free(b64);
	return out->payload != NULL ? 0 : CIRRUS_ENOMEM;
}

/* Which kind of event this is, by its shape, and its answer. */
static int dispatch(const fn_lambda_ctx_t *ctx, json_t *event, work_t *w,
                    fn_lambda_reply_t *out)
{
	json_t *http = json_object_get(json_object_get(event, "requestContext"), "http");
	if (json_is_object(http)) {
		return http_event(ctx, event, http, w, out);
	}
	if (json_object_get(event, "query") != NULL) {
		return direct_query(ctx, event, w, out);
	}
	if (json_object_get(event, "name") != NULL) {
		return direct_resolve(ctx, event, w, out);
	}
	if (json_object_get(event, "httpMethod") != NULL) {
		return bad_event(out, "Cirrus.BadEvent", "API Gateway payload format 1.0 is not "
		                 "supported; use an HTTP API with payload format 2.0 or a "
		                 "Function URL");
	}
	return bad_event(out, "Cirrus.BadEvent", "unknown event: expected an HTTP API "
	                 "(payload 2.0) or Function URL request, {\"name\": ..., \"type\": ...} "
	                 "or {\"query\": BASE64}");
}

int fn_lambda_handle(const fn_lambda_ctx_t *ctx, const char *event, size_t len,
                     fn_lambda_reply_t *out)
{
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	/* NUL is allowed in strings: a body Lambda did not encode may hold one. */
	json_t *doc = json_loadb(event, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return bad_event(out, "Cirrus.BadEvent", "the event is not a JSON object%s%.200s",
		                 doc == NULL ? ": " : "", doc == NULL ? jerr.text : "");
	}
	work_t *w = calloc(1, sizeof(*w));
	int rc = w != NULL ? dispatch(ctx, doc, w, out) : CIRRUS_ENOMEM;
	free(w);
	json_decref(doc);
	if (rc == CIRRUS_ENOMEM) {
		free(out->payload);
		out->payload = NULL;
		bad_event(out, "Cirrus.OutOfMemory", "out of memory");
	}
	return rc;
}
