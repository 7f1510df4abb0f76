/* SPDX-License-Identifier: Apache-2.0
 * health_internal.h -- what the checker's files share: the checker, one
 * probe per check that does I/O, and the kinds' start functions. Every
 * function here runs on the checker's loop thread.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <curl/curl.h>
#include <uv.h>

#include "health/health.h"

/*! \brief Largest DNS answer read, and HTTP body kept for `body`. */
#define HEALTH_DNS_BUF 4096
#define HEALTH_BODY_MAX (64 * 1024)

typedef struct health_probe health_probe_t;
typedef struct health_watch health_watch_t;

/*! \brief One check that does I/O, with at most one run in flight. */
struct health_probe {
	health_t *h;
	size_t index;              /*!< in h->set.keys (and h->specs, but for a watch) */
	health_watch_t *watch;     /*!< the added check it belongs to, or NULL */
	const health_spec_t *spec;
	uv_timer_t interval;       /*!< repeats every spec->interval_ms */
	uv_timer_t deadline;       /*!< tcp and dns: the run's timeout */
	bool busy;                 /*!< a run holds handles (until they are closed) */
	bool reported;             /*!< the current run's result is in */
	bool due;                  /*!< the interval fired while busy: run again at once */
	/* tcp */
	uv_tcp_t tcp;
	uv_connect_t connect;
	/* dns */
	uv_udp_t udp;
	uv_udp_send_t send;
	uint16_t dns_id;
	uint8_t query[512];
	size_t query_len;
	uint8_t answer[HEALTH_DNS_BUF];
	/* http, https */
	CURL *easy;
	struct curl_slist *resolve;
	char *body;
	size_t body_len;
	char curl_err[CURL_ERROR_SIZE];
};

/*! \brief The checker. */
struct health {
	pthread_mutex_t lock;      /*!< guards set (API threads read and drill) */
	health_set_t set;
	const health_spec_t *specs;
	size_t spec_count;
	health_publish_cb_t publish;
	void *publish_ctx;
	health_audit_cb_t audit;
	void *audit_ctx;
	uv_loop_t loop;
	uv_async_t wake;           /*!< drills changed, or stop */
	uv_timer_t drills;         /*!< fires at the next drill's end */
	uv_timer_t curl_timer;     /*!< libcurl's timeout */
	CURLM *multi;
	atomic_bool stopping;
	bool started;
	pthread_t thread;
	health_probe_t *probes;    /*!< one per spec; calculated ones stay idle */
	health_watch_t *watches;   /*!< checks added at run time (health_watch.c) */
};

/*! \brief A check added at run time: its own spec and probe. */
struct health_watch {
	health_spec_t spec;
	health_probe_t probe;
	health_watch_t *next;
	bool started;              /*!< loop thread: its timers run */
	bool closing;              /*!< loop thread: its timers are being closed */
	atomic_bool removed;       /*!< its key is gone: stop, then free */
	int open_handles;          /*!< loop thread: timers not closed yet */
};

/*! \brief Loop thread: start the runs of new watches, stop removed ones. */
void health_watch_sync(health_t *h);

/*! \brief Loop thread, on stop: close every watch's handles. */
void health_watch_stop(health_t *h);

/*! \brief Free every watch (the loop is no more). */
void health_watch_free_all(health_t *h);

/*! \brief Under the lock: the key index of a probe's result, false when the
 * probe's key was removed. */
bool health_probe_key(health_probe_t *p, size_t *index);

/*! \brief A watch's probe went idle: free the watch if it was removed. */
void health_watch_idle(health_probe_t *p);

/*! \brief Report the current run's result (once; later calls are ignored). */
void health_probe_result(health_probe_t *p, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*! \brief The run's handles are closed: the probe may run again. */
void health_probe_idle(health_probe_t *p);

/*! \brief Init a probe's timers on the loop and run it every interval,
 * the first time after first_ms. */
void health_probe_start(health_probe_t *p, uint64_t first_ms);

/*! \brief End the probe's run in flight, if any, without a result. */
void health_probe_abort(health_probe_t *p);

/* One start function per kind; each reports through health_probe_result()
 * and ends with health_probe_idle(). Abort ends a run without a result. */
int health_http_init(health_t *h);
void health_http_start(health_probe_t *p);
void health_http_abort(health_probe_t *p);
void health_http_deinit(health_t *h);
void health_tcp_start(health_probe_t *p);
void health_tcp_abort(health_probe_t *p);
void health_dns_start(health_probe_t *p);
void health_dns_abort(health_probe_t *p);
