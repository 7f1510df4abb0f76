/* SPDX-License-Identifier: Apache-2.0
 * fn_lambda.c -- the AWS Lambda custom runtime: a loop on the Lambda
 * Runtime API (version 2018-06-01) at $AWS_LAMBDA_RUNTIME_API. GET
 * invocation/next blocks until there is an event (no timeout: Lambda may
 * freeze the process in the middle of it); the event's answer goes to
 * POST invocation/{id}/response, or POST invocation/{id}/error for an event
 * that cannot be answered; POST init/error when the instance cannot start.
 * Lambda hands one event at a time to an instance, so one libcurl easy
 * handle is enough, and it keeps its connection to the API alive.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>

#include "fn/fn.h"
#include "util/error.h"
#include "util/log.h"

#define API_VERSION "2018-06-01"
/* Lambda's own limit for a synchronous event is 6 MB; a larger body is
 * not an event we could have been sent. */
#define EVENT_MAX (8u * 1024 * 1024)
/* Responses and error reports should be accepted at once; a Runtime API
 * that does not answer them in this long is broken. */
#define POST_TIMEOUT_S 30
#define ID_MAX 256
#define TRACE_MAX 1024
#define SCRATCH_CHUNK (64 * 1024)

struct fn_lambda {
	CURL *curl;
	char *base;                     /* http://HOST:PORT/2018-06-01/runtime/ */
	char errbuf[CURL_ERROR_SIZE];
	arena_t scratch;
};

/* A response body as it arrives. */
typedef struct body {
	char *data;
	size_t len;
	bool too_big;
} body_t;

/* What invocation/next says about the event besides the event itself. */
typedef struct invocation {
	char request_id[ID_MAX];
	char trace_id[TRACE_MAX];
	char deadline_ms[32];
	body_t event;
} invocation_t;

/* Set by SIGTERM or SIGINT; the transfer in progress is abandoned. */
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int fn_lambda_new(const char *api, fn_lambda_t **out, char *err, size_t errlen)
{
	if (api == NULL || *api == '\0') {
		snprintf(err, errlen, "AWS_LAMBDA_RUNTIME_API is not set (Lambda sets it to the "
		         "Runtime API's HOST:PORT)");
		return CIRRUS_EINVAL;
	}
	if (strpbrk(api, "/ ?#") != NULL) {
		snprintf(err, errlen, "AWS_LAMBDA_RUNTIME_API must be HOST:PORT, not '%.64s'", api);
		return CIRRUS_EINVAL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialize libcurl");
		return CIRRUS_ENOMEM;
	}
	fn_lambda_t *l = calloc(1, sizeof(*l));
	size_t size = strlen(api) + sizeof("http:///" API_VERSION "/runtime/");
	if (l == NULL) {
		curl_global_cleanup();
	}
	if (l == NULL || (l->base = malloc(size)) == NULL || (l->curl = curl_easy_init()) == NULL) {
		fn_lambda_free(l);
		snprintf(err, errlen, "out of memory");
		return CIRRUS_ENOMEM;
	}
	snprintf(l->base, size, "http://%s/" API_VERSION "/runtime/", api);
	arena_init(&l->scratch, SCRATCH_CHUNK);
	*out = l;
	return 0;
}

void fn_lambda_free(fn_lambda_t *l)
{
	if (l == NULL) {
		return;
	}
	if (l->curl != NULL) {
		curl_easy_cleanup(l->curl);
		arena_deinit(&l->scratch);
	}
	free(l->base);
	free(l);
	curl_global_cleanup();
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	body_t *b = arg;
	size_t len = size * n;
	if (b->len + len > EVENT_MAX) {
		b->too_big = true;
		return 0;   /* abandons the transfer */
	}
	char *grown = realloc(b->data, b->len + len + 1);
	if (grown == NULL) {
		return 0;
	}
	memcpy(grown + b->len, data, len);
	b->data = grown;
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

/* Copy a header's value (without the line end) when its name is name. */
static void header_value(const char *line, size_t len, const char *name, char *out,
                         size_t max)
{
	size_t nlen = strlen(name);
	if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0) {
		return;
	}
	const char *v = line + nlen + 1;
	size_t vlen = len - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ')) {
		vlen--;
	}
	if (vlen < max) {
		memcpy(out, v, vlen);
		out[vlen] = '\0';
	}
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	invocation_t *inv = arg;
	size_t len = size * n;
	header_value(line, len, "Lambda-Runtime-Aws-Request-Id", inv->request_id,
	             sizeof(inv->request_id));
	header_value(line, len, "Lambda-Runtime-Trace-Id", inv->trace_id, sizeof(inv->trace_id));
	header_value(line, len, "Lambda-Runtime-Deadline-Ms", inv->deadline_ms,
	             sizeof(inv->deadline_ms));
	return len;
}

/* Called at least once a second while a transfer waits: a non-zero
 * return ends the long poll when the process is asked to stop. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	(void)arg, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return stop_requested ? 1 : 0;
}

/* Options every request has; curl_easy_reset keeps the live connection. */
static void set_common(fn_lambda_t *l, const char *url, body_t *resp)
{
	CURL *c = l->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, l->errbuf);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* The Runtime API is local: an http_proxy in the environment is not for it. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	l->errbuf[0] = '\0';
}

/* Run the prepared transfer; the HTTP status, or -1 (logged). */
static long perform(fn_lambda_t *l, const char *what)
{
	CURLcode rc = curl_easy_perform(l->curl);
	if (rc == CURLE_ABORTED_BY_CALLBACK && stop_requested) {
		return -1;
	}
	if (rc != CURLE_OK) {
		log_error("lambda: %s: %s", what, l->errbuf[0] ? l->errbuf : curl_easy_strerror(rc));
		return -1;
	}
	long status = 0;
	curl_easy_getinfo(l->curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* POST a JSON body to base + path; the HTTP status, or -1. */
static long post(fn_lambda_t *l, const char *path, const char *json, const char *error_type)
{
	char url[1024];
	body_t resp = { 0 };
	snprintf(url, sizeof(url), "%s%s", l->base, path);
	set_common(l, url, &resp);
	char type_header[160];
	snprintf(type_header, sizeof(type_header), "Lambda-Runtime-Function-Error-Type: %s",
	         error_type != NULL ? error_type : "");
	/* The API answers at once: waiting for "100 Continue" only costs time. */
	const char *lines[] = { "Content-Type: application/json", "Expect:",
	                        error_type != NULL ? type_header : NULL };
	struct curl_slist *headers = NULL;
	bool ok = true;
	for (size_t i = 0; ok && i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct curl_slist *grown = lines[i] ? curl_slist_append(headers, lines[i]) : headers;
		ok = grown != NULL;
		headers = ok ? grown : headers;
	}
	long status = -1;
	if (ok) {
		curl_easy_setopt(l->curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(l->curl, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(l->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
		curl_easy_setopt(l->curl, CURLOPT_TIMEOUT, (long)POST_TIMEOUT_S);
		status = perform(l, path);
	}
	curl_slist_free_all(headers);
	if (status >= 300) {
		log_error("lambda: POST %s: the Runtime API answered %ld: %.200s", path, status,
		          resp.data != NULL ? resp.data : "");
	}
	free(resp.data);
	return status;
}

/* The error document of the Runtime API: errorMessage, errorType, stackTrace. */
static long post_error(fn_lambda_t *l, const char *path, const char *type, const char *message)
{
	json_t *doc = json_pack("{s:s, s:s, s:[]}", "errorMessage", message, "errorType", type,
	                        "stackTrace");
	char *json = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	long status = json != NULL ? post(l, path, json, type) : -1;
	free(json);
	return status;
}

int fn_lambda_init_error(fn_lambda_t *l, const char *type, const char *message)
{
	log_error("lambda: init error %s: %s", type, message);
	long status = post_error(l, "init/error", type, message);
	return status >= 200 && status < 300 ? 0 : CIRRUS_EIO;
}

/* GET invocation/next; 0 with an event, 1 when asked to stop, -CIRRUS_EIO. */
static int next(fn_lambda_t *l, invocation_t *inv)
{
	char url[1024];
	memset(inv, 0, sizeof(*inv));
	snprintf(url, sizeof(url), "%sinvocation/next", l->base);
	set_common(l, url, &inv->event);
	curl_easy_setopt(l->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(l->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(l->curl, CURLOPT_HEADERDATA, inv);
	long status = perform(l, "GET invocation/next");   /* no timeout: a long poll */
	if (status < 0) {
		return stop_requested ? 1 : CIRRUS_EIO;
	}
	if (status != 200) {
		log_error("lambda: GET invocation/next: the Runtime API answered %ld: %.200s",
		          status, inv->event.data != NULL ? inv->event.data : "");
		return CIRRUS_EIO;
	}
	return 0;
}

/* X-Ray: the trace header of this invocation, for any library that traces. */
static void set_trace(const invocation_t *inv)
{
	if (inv->trace_id[0] != '\0') {
		setenv("_X_AMZN_TRACE_ID", inv->trace_id, 1);
	} else {
		unsetenv("_X_AMZN_TRACE_ID");
	}
}

/* Milliseconds of the wall clock. A frozen instance's monotonic clock
 * stands still while it is frozen, and a store change made meanwhile must
 * still be noticed at the first event after the thaw. */
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Re-read the store before an event, at most every poll_ms. */
static void maybe_poll(const fn_lambda_conf_t *c, long long *last)
{
	long long now = now_ms();
	if (c->poll_ms == 0 || (now - *last < (long long)c->poll_ms && now >= *last)) {
		return;
	}
	*last = now;
	fn_zones_poll(c->zones);
}

/* The path of one invocation's resource; false for an ID no URL can carry. */
static bool invocation_path(fn_lambda_t *l, const char *id, const char *what, char *out,
                            size_t max)
{
	char *escaped = curl_easy_escape(l->curl, id, 0);
	bool ok = escaped != NULL && *id != '\0' &&
	          (size_t)snprintf(out, max, "invocation/%s/%s", escaped, what) < max;
	curl_free(escaped);
	return ok;
}

/* Answer one event; -CIRRUS_EIO when the Runtime API is gone. */
static int invoke(fn_lambda_t *l, const fn_lambda_conf_t *c, const invocation_t *inv)
{
	char path[ID_MAX * 3 + 32];
	if (!invocation_path(l, inv->request_id, "response", path, sizeof(path))) {
		log_error("lambda: an event without a usable Lambda-Runtime-Aws-Request-Id; "
		          "skipped");
		return 0;
	}
	fn_lambda_reply_t reply;
	fn_lambda_ctx_t ctx = { .engine = c->engine, .scratch = &l->scratch };
	if (inv->event.too_big) {
		memset(&reply, 0, sizeof(reply));
		reply.error_type = "Cirrus.BadEvent";
		snprintf(reply.error_message, sizeof(reply.error_message), "the event is larger "
		         "than %u bytes", EVENT_MAX);
	} else {
		ctx.zones = fn_zones_lock(c->zones);
		fn_lambda_handle(&ctx, inv->event.data != NULL ? inv->event.data : "",
		                 inv->event.len, &reply);
		fn_zones_unlock(c->zones);
	}
	long status;
	if (reply.payload != NULL) {
		status = post(l, path, reply.payload, NULL);
		free(reply.payload);
	} else {
		log_warning("lambda: request %s: %s: %s", inv->request_id, reply.error_type,
		            reply.error_message);
		invocation_path(l, inv->request_id, "error", path, sizeof(path));
		status = post_error(l, path, reply.error_type, reply.error_message);
	}
	/* 400 and 413 are about this one answer; a 500 says the API is gone. */
	return status < 0 || status >= 500 ? CIRRUS_EIO : 0;
}

int fn_lambda_run(fn_lambda_t *l, const fn_lambda_conf_t *c)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	long long last_poll = now_ms();
	int rc = 0;
	while (rc == 0 && !stop_requested) {
		invocation_t inv;
		rc = next(l, &inv);
		if (rc == 0) {
			log_debug("lambda: request %s, deadline %s", inv.request_id,
			          inv.deadline_ms[0] ? inv.deadline_ms : "-");
			set_trace(&inv);
			maybe_poll(c, &last_poll);
			rc = invoke(l, c, &inv);
		}
		free(inv.event.data);
	}
	if (stop_requested) {
		log_info("lambda: stopping");
		return 0;
	}
	return rc < 0 ? rc : 0;
}
