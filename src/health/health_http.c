/* SPDX-License-Identifier: Apache-2.0
 * health_http.c -- HTTP and HTTPS checks on libcurl's multi interface,
 * driven by the checker's libuv loop (curl_multi_socket_action from
 * uv_poll and uv_timer callbacks, libcurl's own pattern for event loops).
 * Each run is a fresh easy handle on a fresh connection, so a check sees
 * what a new client would: connect, TLS, status, body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "health/health_internal.h"
#include "util/error.h"
#include "util/log.h"

/* One socket libcurl asked us to watch. */
typedef struct curl_watch {
	uv_poll_t poll;
	curl_socket_t fd;
	health_t *h;
} curl_watch_t;

static void report(health_probe_t *p, CURLcode code);

static void read_done(health_t *h)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE) {
			continue;
		}
		health_probe_t *p = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
		report(p, msg->data.result);
		health_http_abort(p);
	}
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
	curl_watch_t *w = poll->data;
	int flags = status < 0 ? CURL_CSELECT_ERR :
	            ((events & UV_READABLE) ? CURL_CSELECT_IN : 0) |
	            ((events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
	int running;
	health_t *h = w->h;   /* w may be freed inside the call */
	curl_multi_socket_action(h->multi, w->fd, flags, &running);
	read_done(h);
}

static void on_watch_closed(uv_handle_t *handle)
{
	free(handle->data);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy;
	health_t *h = userp;
	curl_watch_t *w = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			uv_poll_stop(&w->poll);
			uv_close((uv_handle_t *)&w->poll, on_watch_closed);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL ||
		    uv_poll_init_socket(&h->loop, &w->poll, fd) != 0) {
			free(w);
			return -1;
		}
		w->fd = fd;
		w->h = h;
		w->poll.data = w;
		curl_multi_assign(h->multi, fd, w);
	}
	int events = ((what & CURL_POLL_IN) ? UV_READABLE : 0) |
	             ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
	uv_poll_start(&w->poll, events, on_poll);
	return 0;
}

static void on_curl_timer(uv_timer_t *t)
{
	health_t *h = t->data;
	int running;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	read_done(h);
}

static int on_timer(CURLM *multi, long ms, void *userp)
{
	(void)multi;
	health_t *h = userp;
	if (ms < 0) {
		uv_timer_stop(&h->curl_timer);
	} else {
		/* Never call back into libcurl from here: the loop does it. */
		uv_timer_start(&h->curl_timer, on_curl_timer, (uint64_t)ms, 0);
	}
	return 0;
}

int health_http_init(health_t *h)
{
	uv_timer_init(&h->loop, &h->curl_timer);
	h->curl_timer.data = h;
	return 0;
}

/* The multi handle, made on the loop at the first HTTP(S) check: a server
 * without one never loads libcurl (util/curl_dl.c), which would map a
 * second GnuTLS and twenty libraries into it. NULL when libcurl fails. */
static CURLM *multi(health_t *h)
{
	if (h->multi != NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		return h->multi;
	}
	if ((h->multi = curl_multi_init()) == NULL) {
		curl_global_cleanup();
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h->multi;
}

void health_http_deinit(health_t *h)
{
	if (h->multi != NULL) {
		curl_multi_cleanup(h->multi);
		h->multi = NULL;
		curl_global_cleanup();
	}
	if (!uv_is_closing((uv_handle_t *)&h->curl_timer)) {
		uv_close((uv_handle_t *)&h->curl_timer, NULL);
	}
}

/* Keep the first HEALTH_BODY_MAX bytes of the body; read the rest away. */
static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	health_probe_t *p = userp;
	size_t len = size * n, room = HEALTH_BODY_MAX - p->body_len;
	size_t take = len < room ? len : room;
	if (take > 0) {
		char *grown = realloc(p->body, p->body_len + take + 1);
		if (grown == NULL) {
			return 0;   /* the transfer fails: out of memory */
		}
		memcpy(grown + p->body_len, data, take);
		p->body = grown;
		p->body_len += take;
		p->body[p->body_len] = '\0';
	}
	return len;
}

static bool status_expected(const health_spec_t *s, long status)
{
	for (size_t i = 0; i < s->expect_count; i++) {
		if (status >= s->expect_lo[i] && status <= s->expect_hi[i]) {
			return true;
		}
	}
	return false;
}

static void report(health_probe_t *p, CURLcode code)
{
	const health_spec_t *s = p->spec;
	long status = 0;
	if (code != CURLE_OK) {
		health_probe_result(p, false, "%s: %s", s->type,
		                    p->curl_err[0] ? p->curl_err : curl_easy_strerror(code));
		return;
	}
	curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
	if (!status_expected(s, status)) {
		health_probe_result(p, false, "%s: status %ld not expected", s->type, status);
	} else if (s->body != NULL && (p->body == NULL || strstr(p->body, s->body) == NULL)) {
		health_probe_result(p, false, "%s: status %ld, body without '%.40s'", s->type,
		                    status, s->body);
	} else {
		health_probe_result(p, true, "%s: status %ld", s->type, status);
	}
}

/* scheme://host:port/path; the host is the `host` key when given (curl
 * then connects to address through CURLOPT_RESOLVE, and sends host as the
 * Host header and the TLS SNI), else the address itself. */
static int set_url(health_probe_t *p)
{
	const health_spec_t *s = p->spec;
	char ip[INET6_ADDRSTRLEN + 2], url[2048], resolve[512];
	const struct sockaddr_in6 *v6 = (const void *)&s->addr;
	const struct sockaddr_in *v4 = (const void *)&s->addr;
	unsigned port = ntohs(s->addr.ss_family == AF_INET6 ? v6->sin6_port : v4->sin_port);
	if (s->addr.ss_family == AF_INET6) {
		ip[0] = '[';
		inet_ntop(AF_INET6, &v6->sin6_addr, ip + 1, sizeof(ip) - 2);
		strcat(ip, "]");
	} else {
		inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
	}
	snprintf(url, sizeof(url), "%s://%s:%u%s", s->type, s->host ? s->host : ip, port,
	         s->path ? s->path : "/");
	if (s->host != NULL) {
		snprintf(resolve, sizeof(resolve), "%s:%u:%s", s->host, port, ip);
		if ((p->resolve = curl_slist_append(NULL, resolve)) == NULL) {
			return CIRRUS_ENOMEM;
		}
		curl_easy_setopt(p->easy, CURLOPT_RESOLVE, p->resolve);
	}
	return curl_easy_setopt(p->easy, CURLOPT_URL, url) == CURLE_OK ? 0 : CIRRUS_ENOMEM;
}

/* What verifies the server. Debian's libcurl-gnutls reads every file of
 * /etc/ssl/certs (its CA path) for each new handle, on this loop: about
 * 300 files per run. Give it one file instead: ca-file, else the system
 * bundle; nothing at all when the check does not verify. */
static void set_trust(CURL *e, const health_spec_t *s)
{
	static const char bundle[] = "/etc/ssl/certs/ca-certificates.crt";
	curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	if (s->insecure) {
		curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (s->ca_file != NULL) {
		curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
	} else if (access(bundle, R_OK) == 0) {
		curl_easy_setopt(e, CURLOPT_CAINFO, bundle);
	}
}

static void set_options(health_probe_t *p)
{
	const health_spec_t *s = p->spec;
	CURL *e = p->easy;
	curl_easy_setopt(e, CURLOPT_PRIVATE, p);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->curl_err);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");          /* ignore http_proxy and co. */
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "cirrus-health/" CIRRUS_VERSION);
	if (s->method != NULL && strcmp(s->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (s->method != NULL && strcmp(s->method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
	}
	set_trust(e, s);
}

void health_http_start(health_probe_t *p)
{
	p->curl_err[0] = '\0';
	p->body_len = 0;
	if (multi(p->h) == NULL) {
		health_probe_result(p, false, "%s: libcurl cannot start", p->spec->type);
		health_probe_idle(p);
		return;
	}
	if ((p->easy = curl_easy_init()) == NULL || set_url(p) != 0) {
		health_probe_result(p, false, "%s: out of memory", p->spec->type);
		health_http_abort(p);
		return;
	}
	set_options(p);
	CURLMcode mc = curl_multi_add_handle(p->h->multi, p->easy);
	if (mc != CURLM_OK) {
		health_probe_result(p, false, "%s: %s", p->spec->type, curl_multi_strerror(mc));
		health_http_abort(p);
	}
}

void health_http_abort(health_probe_t *p)
{
	if (p->easy != NULL) {
		curl_multi_remove_handle(p->h->multi, p->easy);
		curl_easy_cleanup(p->easy);
		p->easy = NULL;
	}
	curl_slist_free_all(p->resolve);
	p->resolve = NULL;
	free(p->body);
	p->body = NULL;
	p->body_len = 0;
	health_probe_idle(p);
}
