/* SPDX-License-Identifier: Apache-2.0
 * proxy_upstream.c -- the DoH upstreams: RFC 8484 POSTs through libcurl's
 * multi interface driven by the libuv loop (curl_multi_socket_action with
 * a uv_poll per socket and one uv_timer, the pattern of curl's multi-uv.c),
 * HTTP/2 multiplexed over one connection per https upstream and HTTP/1.1
 * keep-alive for http ones. Each upstream has a health state (periodic
 * probe queries plus the outcome of real requests: down after `fall`
 * failures in a row, up after `rise` successes) and an EWMA of its
 * response time for the latency policy.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <libknot/libknot.h>

#include "proxy/proxy_internal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define EWMA_WEIGHT 0.3         /* share of a new sample in the average */
#define FETCH_BODY_MAX 65535

typedef struct upstream {
	proxy_upstreams_t *ups;
	int index;
	char *url;
	char *ca_file;
	bool https;
	bool up;
	unsigned fails, successes;   /* in a row */
	double ewma_ms;              /* 0 until the first answer */
	uv_timer_t check_timer;
	proxy_fetch_t *probe;        /* the health probe in flight */
	uint64_t probe_start_ms;
} upstream_t;

struct proxy_fetch {
	proxy_upstreams_t *ups;
	upstream_t *up;
	CURL *easy;
	proxy_fetch_cb cb;
	void *arg;
	uint64_t start_ms;
	proxy_fetch_t *prev, *next;  /* every fetch in flight */
	size_t len;
	uint8_t body[FETCH_BODY_MAX];
	uint8_t query[];             /* POSTFIELDS points here */
};

/* A socket curl asked us to watch. */
typedef struct sock_ctx sock_ctx_t;
struct sock_ctx {
	uv_poll_t poll;
	curl_socket_t fd;
	proxy_upstreams_t *ups;
	sock_ctx_t *prev, *next;     /* every socket watched */
};

struct proxy_upstreams {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;            /* curl's timeout */
	struct curl_slist *headers;
	const proxy_conf_t *conf;
	upstream_t *list;
	size_t count;
	proxy_fetch_t *fetches;
	sock_ctx_t *socks;
	uint8_t probe[KNOT_WIRE_HEADER_SIZE + KNOT_DNAME_MAXLEN + 4];
	size_t probe_len;
	int open_handles;            /* libuv handles not closed yet */
	bool closing;
};

uint64_t proxy_now_ms(void)
{
	return (uint64_t)clock_monotonic_ms();
}

/* ------------------------------------------------------------------ */
/* Health and choice                                                   */

static void record(upstream_t *u, bool ok, uint64_t elapsed_ms)
{
	const proxy_conf_t *conf = u->ups->conf;
	if (ok) {
		u->ewma_ms = u->ewma_ms == 0 ? (double)elapsed_ms + 0.001 :
		             u->ewma_ms * (1 - EWMA_WEIGHT) + (double)elapsed_ms * EWMA_WEIGHT;
		u->fails = 0;
		if (!u->up && ++u->successes >= conf->rise) {
			u->up = true;
			log_info("proxy: upstream %s is up", u->url);
		}
		return;
	}
	u->successes = 0;
	if (u->up && ++u->fails >= conf->fall) {
		u->up = false;
		log_warning("proxy: upstream %s is down after %u failures", u->url, u->fails);
	}
}

int proxy_upstream_pick(const proxy_upstreams_t *ups, uint32_t tried)
{
	int best = -1, fallback = -1;
	for (size_t i = 0; i < ups->count; i++) {
		const upstream_t *u = &ups->list[i];
		if (tried & (UINT32_C(1) << i)) {
			continue;
		}
		if (!u->up) {
			fallback = fallback < 0 ? (int)i : fallback;
			continue;
		}
		if (best < 0) {
			best = (int)i;
			if (ups->conf->policy == PROXY_POLICY_FAILOVER) {
				break;
			}
		} else if (u->ewma_ms < ups->list[best].ewma_ms) {
			/* Unmeasured upstreams (0) come first, so each gets measured. */
			best = (int)i;
		}
	}
	return best >= 0 ? best : fallback;
}

const char *proxy_upstream_url(const proxy_upstreams_t *ups, int index)
{
	return ups->list[index].url;
}

/* ------------------------------------------------------------------ */
/* Fetches                                                             */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	proxy_fetch_t *f = arg;
	size_t n = size * nmemb;
	if (n > FETCH_BODY_MAX - f->len) {
		return 0;   /* too big for DNS: curl fails the transfer */
	}
	memcpy(f->body + f->len, data, n);
	f->len += n;
	return n;
}

static void fetch_unlink(proxy_fetch_t *f)
{
	if (f->prev != NULL) {
		f->prev->next = f->next;
	} else {
		f->ups->fetches = f->next;
	}
	if (f->next != NULL) {
		f->next->prev = f->prev;
	}
}

static void fetch_free(proxy_fetch_t *f)
{
	curl_multi_remove_handle(f->ups->multi, f->easy);
	curl_easy_cleanup(f->easy);
	fetch_unlink(f);
	free(f);
}

void proxy_fetch_cancel(proxy_fetch_t *f)
{
	if (f != NULL) {
		fetch_free(f);
	}
}

static bool set_options(proxy_fetch_t *f, size_t len, unsigned timeout_ms)
{
	CURL *e = f->easy;
	const upstream_t *u = f->up;
	bool ok = curl_easy_setopt(e, CURLOPT_URL, u->url) == CURLE_OK &&
	          curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)f->query) == CURLE_OK &&
	          curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len) == CURLE_OK &&
	          curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->ups->headers) == CURLE_OK &&
	          curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
	          curl_easy_setopt(e, CURLOPT_WRITEDATA, f) == CURLE_OK &&
	          curl_easy_setopt(e, CURLOPT_PRIVATE, f) == CURLE_OK &&
	          curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms) == CURLE_OK &&
	          curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	          curl_easy_setopt(e, CURLOPT_USERAGENT, "cirrus-proxy/" CIRRUS_VERSION) == CURLE_OK &&
	          /* HTTP/2 over TLS, HTTP/1.1 for plain http (function mode). */
	          curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
	                           (long)CURL_HTTP_VERSION_2TLS) == CURLE_OK;
	if (ok && u->https) {
		/* Wait for the connection being set up rather than open a second
		 * one, so that requests multiplex over one HTTP/2 connection. */
		ok = curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L) == CURLE_OK;
	}
	if (ok && u->ca_file != NULL) {
		ok = curl_easy_setopt(e, CURLOPT_CAINFO, u->ca_file) == CURLE_OK;
	}
	return ok;
}

proxy_fetch_t *proxy_fetch_start(proxy_upstreams_t *ups, int index, const uint8_t *query,
                                 size_t len, unsigned timeout_ms, proxy_fetch_cb cb,
                                 void *arg)
{
	if (ups->closing || index < 0 || (size_t)index >= ups->count) {
		return NULL;
	}
	proxy_fetch_t *f = malloc(sizeof(*f) + len);
	if (f == NULL) {
		return NULL;
	}
	*f = (proxy_fetch_t){ .ups = ups, .up = &ups->list[index], .cb = cb, .arg = arg,
	                      .start_ms = proxy_now_ms(), .easy = curl_easy_init() };
	memcpy(f->query, query, len);
	if (f->easy == NULL || !set_options(f, len, timeout_ms) ||
	    curl_multi_add_handle(ups->multi, f->easy) != CURLM_OK) {
		curl_easy_cleanup(f->easy);
		free(f);
		return NULL;
	}
	f->next = ups->fetches;
	if (f->next != NULL) {
		f->next->prev = f;
	}
	ups->fetches = f;
	return f;
}

/* A finished transfer: an answer, or why not (for the debug log). */
static int fetch_status(proxy_fetch_t *f, CURLcode result)
{
	long code = 0;
	char *type = NULL;
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &type);
	if (result != CURLE_OK) {
		log_debug("proxy: %s: %s", f->up->url, curl_easy_strerror(result));
		return CIRRUS_EIO;
	}
	if (code != 200 || type == NULL ||
	    strncasecmp(type, "application/dns-message", 23) != 0 ||
	    f->len < KNOT_WIRE_HEADER_SIZE) {
		log_debug("proxy: %s: HTTP %ld, %s, %zu bytes", f->up->url, code,
		          type ? type : "no content type", f->len);
		return CIRRUS_EINVAL;
	}
	return 0;
}

static void on_probe(void *arg, int status, const uint8_t *answer, size_t len);

static void fetch_done(proxy_fetch_t *f, CURLcode result)
{
	int status = fetch_status(f, result);
	if (f->cb != on_probe) {
		record(f->up, status == 0, proxy_now_ms() - f->start_ms);
	}
	/* Unlink first: the callback may start fetches (the next upstream). */
	curl_multi_remove_handle(f->ups->multi, f->easy);
	fetch_unlink(f);
	f->cb(f->arg, status, status == 0 ? f->body : NULL, status == 0 ? f->len : 0);
	curl_easy_cleanup(f->easy);
	free(f);
}

static void check_multi_info(proxy_upstreams_t *ups)
{
	CURLMsg *msg;
	int pending;
	while ((msg = curl_multi_info_read(ups->multi, &pending)) != NULL) {
		if (msg->msg != CURLMSG_DONE) {
			continue;
		}
		proxy_fetch_t *f = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
		fetch_done(f, msg->data.result);
	}
}

/* ------------------------------------------------------------------ */
/* curl multi on libuv                                                 */

static void ups_release(proxy_upstreams_t *ups);

static void on_sock_closed(uv_handle_t *handle)
{
	sock_ctx_t *s = handle->data;
	proxy_upstreams_t *ups = s->ups;
	free(s);
	ups_release(ups);
}

static void sock_close(sock_ctx_t *s)
{
	proxy_upstreams_t *ups = s->ups;
	if (s->prev != NULL) {
		s->prev->next = s->next;
	} else {
		ups->socks = s->next;
	}
	if (s->next != NULL) {
		s->next->prev = s->prev;
	}
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
	sock_ctx_t *s = poll->data;
	int flags = status < 0 ? CURL_CSELECT_ERR : 0, running = 0;
	flags |= (events & UV_READABLE) ? CURL_CSELECT_IN : 0;
	flags |= (events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0;
	proxy_upstreams_t *ups = s->ups;
	curl_multi_socket_action(ups->multi, s->fd, flags, &running);
	check_multi_info(ups);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int action, void *arg, void *socketp)
{
	(void)easy;
	proxy_upstreams_t *ups = arg;
	sock_ctx_t *s = socketp;
	if (action == CURL_POLL_REMOVE) {
		if (s != NULL) {
			curl_multi_assign(ups->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL || uv_poll_init_socket(ups->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->fd = fd;
		s->ups = ups;
		s->poll.data = s;
		s->next = ups->socks;
		if (s->next != NULL) {
			s->next->prev = s;
		}
		ups->socks = s;
		ups->open_handles++;
		curl_multi_assign(ups->multi, fd, s);
	}
	int events = (action != CURL_POLL_OUT ? UV_READABLE : 0) |
	             (action != CURL_POLL_IN ? UV_WRITABLE : 0);
	return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_curl_timeout(uv_timer_t *timer)
{
	proxy_upstreams_t *ups = timer->data;
	int running = 0;
	curl_multi_socket_action(ups->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(ups);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
	(void)multi;
	proxy_upstreams_t *ups = arg;
	if (timeout_ms < 0) {
		uv_timer_stop(&ups->timer);
	} else {
		/* 0 means at once, but not from inside this callback: next turn. */
		uv_timer_start(&ups->timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Health probes                                                       */

static void on_probe(void *arg, int status, const uint8_t *answer, size_t len)
{
	upstream_t *u = arg;
	(void)len;
	u->probe = NULL;
	/* Any DNS answer but SERVFAIL: REFUSED for a name it does not serve
	 * still shows the upstream alive. */
	bool ok = status == 0 && knot_wire_get_qr(answer) &&
	          knot_wire_get_rcode(answer) != KNOT_RCODE_SERVFAIL;
	if (status == 0 && !ok) {
		log_debug("proxy: %s: probe answered SERVFAIL", u->url);
	}
	record(u, ok, proxy_now_ms() - u->probe_start_ms);
}

static void on_check(uv_timer_t *timer)
{
	upstream_t *u = timer->data;
	proxy_upstreams_t *ups = u->ups;
	if (u->probe == NULL) {
		u->probe_start_ms = proxy_now_ms();
		u->probe = proxy_fetch_start(ups, u->index, ups->probe, ups->probe_len,
		                             ups->conf->check_timeout_ms, on_probe, u);
	}
}

static int build_probe(proxy_upstreams_t *ups)
{
	uint8_t *p = ups->probe;
	memset(p, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_rd(p);
	knot_wire_set_qdcount(p, 1);
	const char *name = ups->conf->check_name ? ups->conf->check_name : ".";
	if (knot_dname_from_str(p + KNOT_WIRE_HEADER_SIZE, name, KNOT_DNAME_MAXLEN) == NULL) {
		return CIRRUS_EINVAL;
	}
	size_t n = KNOT_WIRE_HEADER_SIZE + knot_dname_size(p + KNOT_WIRE_HEADER_SIZE);
	knot_wire_write_u16(p + n, ups->conf->check_type);
	knot_wire_write_u16(p + n + 2, KNOT_CLASS_IN);
	ups->probe_len = n + 4;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Set up and tear down                                                */

static bool init_multi(proxy_upstreams_t *ups)
{
	ups->multi = curl_multi_init();
	ups->headers = curl_slist_append(NULL, "Content-Type: application/dns-message");
	ups->headers = ups->headers ? curl_slist_append(ups->headers,
	                                                "Accept: application/dns-message") : NULL;
	return ups->multi != NULL && ups->headers != NULL &&
	       curl_multi_setopt(ups->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) == CURLM_OK &&
	       curl_multi_setopt(ups->multi, CURLMOPT_SOCKETDATA, ups) == CURLM_OK &&
	       curl_multi_setopt(ups->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) == CURLM_OK &&
	       curl_multi_setopt(ups->multi, CURLMOPT_TIMERDATA, ups) == CURLM_OK &&
	       curl_multi_setopt(ups->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX) == CURLM_OK;
}

static int init_upstream(proxy_upstreams_t *ups, size_t i)
{
	const proxy_upstream_conf_t *c = &ups->conf->upstreams[i];
	upstream_t *u = &ups->list[i];
	const char *ca = c->ca_file ? c->ca_file : ups->conf->ca_file;
	*u = (upstream_t){ .ups = ups, .index = (int)i, .up = true,
	                   .https = strncasecmp(c->url, "https:", 6) == 0,
	                   .url = strdup(c->url), .ca_file = ca ? strdup(ca) : NULL };
	uv_timer_init(ups->loop, &u->check_timer);
	u->check_timer.data = u;
	ups->open_handles++;
	if (u->url == NULL || (ca != NULL && u->ca_file == NULL)) {
		return CIRRUS_ENOMEM;
	}
	unsigned every = ups->conf->check_interval * 1000;
	if (every > 0) {
		/* The first probe soon, so a dead upstream is found before the
		 * clients find it; spread the upstreams a little. */
		uv_timer_start(&u->check_timer, on_check, 100 + 50 * i, every);
	}
	return 0;
}

int proxy_upstreams_new(uv_loop_t *loop, const proxy_conf_t *conf, proxy_upstreams_t **out)
{
	proxy_upstreams_t *ups = calloc(1, sizeof(*ups));
	if (ups == NULL) {
		return CIRRUS_ENOMEM;
	}
	ups->loop = loop;
	ups->conf = conf;
	uv_timer_init(loop, &ups->timer);
	ups->timer.data = ups;
	ups->open_handles = 1;
	ups->list = calloc(conf->upstream_count, sizeof(*ups->list));
	int r = ups->list != NULL && init_multi(ups) ? build_probe(ups) : CIRRUS_ENOMEM;
	for (size_t i = 0; r == 0 && i < conf->upstream_count; i++) {
		ups->count++;   /* counted first: its timer is closed on failure too */
		r = init_upstream(ups, i);
	}
	*out = ups;
	return r;
}

static void ups_release(proxy_upstreams_t *ups)
{
	if (--ups->open_handles > 0) {
		return;
	}
	for (size_t i = 0; i < ups->count; i++) {
		free(ups->list[i].url);
		free(ups->list[i].ca_file);
	}
	free(ups->list);
	free(ups);
}

static void on_check_timer_closed(uv_handle_t *handle)
{
	ups_release(((upstream_t *)handle->data)->ups);
}

static void on_timer_closed(uv_handle_t *handle)
{
	ups_release(handle->data);
}

void proxy_upstreams_free(proxy_upstreams_t *ups)
{
	if (ups == NULL) {
		return;
	}
	ups->closing = true;
	while (ups->fetches != NULL) {
		fetch_free(ups->fetches);
	}
	/* curl closes its connections here and tells on_curl_socket to drop
	 * their polls. */
	if (ups->multi != NULL) {
		curl_multi_cleanup(ups->multi);
	}
	curl_slist_free_all(ups->headers);
	while (ups->socks != NULL) {
		sock_close(ups->socks);
	}
	for (size_t i = 0; i < ups->count; i++) {
		uv_close((uv_handle_t *)&ups->list[i].check_timer, on_check_timer_closed);
	}
	uv_close((uv_handle_t *)&ups->timer, on_timer_closed);
}
