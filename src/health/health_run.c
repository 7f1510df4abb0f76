/* SPDX-License-Identifier: Apache-2.0
 * health_run.c -- the checker: a thread with a libuv loop that starts each
 * check every interval, feeds results into the state set, and after every
 * change publishes a new snapshot (first) and writes the audit rows (then).
 * API threads read the set and start drills under the same lock; a drill's
 * end is a timer on the loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "health/health_internal.h"
#include "util/error.h"
#include "util/log.h"

/* The checker of this process, for the REST API (one server per process). */
static _Atomic(health_t *) current;

health_t *health_current(void)
{
	return atomic_load(&current);
}

int64_t health_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* {"key": ..., "state": ..., "checked": ..., "reason": ...} as JSON text,
 * or NULL. */
static char *state_json(const char *key, health_status_t state, health_status_t checked,
                        const char *reason)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "key", key, "state", health_status_name(state),
	                      "checked", health_status_name(checked));
	if (o != NULL && reason != NULL) {
		json_object_set_new(o, "reason", json_string(reason));
	}
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

static void audit_change(health_t *h, const health_key_t *k, health_status_t old_state,
                         health_status_t old_checked)
{
	log_info("health: %s %s -> %s (checked %s): %s", k->name,
	         health_status_name(old_state), health_status_name(k->state),
	         health_status_name(k->checked), k->reason);
	if (h->audit == NULL) {
		return;
	}
	char *before = state_json(k->name, old_state, old_checked, NULL);
	char *after = state_json(k->name, k->state, k->checked, k->reason);
	h->audit(h->audit_ctx, "health", "health.transition", before, after);
	free(before);
	free(after);
}

typedef struct changes {
	health_change_t *v;
	size_t n;
} changes_t;

static void collect(void *ctx, const health_change_t *change)
{
	changes_t *c = ctx;
	c->v[c->n++] = *change;
}

static void publish(health_t *h)
{
	policy_health_t *fresh = NULL;
	if (health_set_snapshot(&h->set, &fresh) != 0) {
		log_error("health: out of memory; answers keep the previous health states");
		return;
	}
	h->publish(h->publish_ctx, fresh);
}

/* Work the states out again; publish, then audit, what changed. Lock held. */
static void commit(health_t *h)
{
	changes_t c = { .v = calloc(h->set.count ? h->set.count : 1, sizeof(*c.v)) };
	if (c.v == NULL) {
		log_error("health: out of memory");
		return;
	}
	if (health_set_update(&h->set, health_now_us(), NULL, collect, &c) > 0) {
		publish(h);
	}
	for (size_t i = 0; i < c.n; i++) {
		audit_change(h, c.v[i].key, c.v[i].old_state, c.v[i].old_checked);
	}
	free(c.v);
}

void health_probe_result(health_probe_t *p, bool ok, const char *fmt, ...)
{
	if (p->reported) {
		return;
	}
	p->reported = true;
	char msg[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	health_t *h = p->h;
	log_debug("health: %s: %s", p->spec->name, msg);
	pthread_mutex_lock(&h->lock);
	size_t index;
	if (health_probe_key(p, &index)) {
		health_set_result(&h->set, index, ok, msg, health_now_us());
		commit(h);
	}
	pthread_mutex_unlock(&h->lock);
}

static void probe_run(health_probe_t *p)
{
	p->busy = true;
	p->reported = false;
	p->due = false;
	switch (p->spec->kind) {
	case HEALTH_KIND_HTTP:
	case HEALTH_KIND_HTTPS: health_http_start(p); break;
	case HEALTH_KIND_TCP:   health_tcp_start(p); break;
	case HEALTH_KIND_DNS:   health_dns_start(p); break;
	default:                p->busy = false; break;
	}
}

void health_probe_idle(health_probe_t *p)
{
	p->busy = false;
	if (p->watch != NULL && p->watch->removed) {
		health_watch_idle(p);   /* may free p */
		return;
	}
	if (p->due && !atomic_load(&p->h->stopping)) {
		probe_run(p);
	}
}


/* Runs are started on a fixed schedule, so a failure is seen within one
 * interval plus the timeout whatever the previous run took. */
static void on_interval(uv_timer_t *t)
{
	health_probe_t *p = t->data;
	if (p->busy) {
		p->due = true;   /* timeout == interval: the run ends this very tick */
		return;
	}
	probe_run(p);
}

void health_probe_start(health_probe_t *p, uint64_t first_ms)
{
	uv_timer_init(&p->h->loop, &p->interval);
	uv_timer_init(&p->h->loop, &p->deadline);
	p->interval.data = p->deadline.data = p;
	uv_timer_start(&p->interval, on_interval, first_ms, p->spec->interval_ms);
}

void health_probe_abort(health_probe_t *p)
{
	p->reported = true;
	p->due = false;
	if (!p->busy) {
		return;
	}
	if (p->spec->kind == HEALTH_KIND_HTTP || p->spec->kind == HEALTH_KIND_HTTPS) {
		health_http_abort(p);
	} else if (p->spec->kind == HEALTH_KIND_TCP) {
		health_tcp_abort(p);
	} else {
		health_dns_abort(p);
	}
}

static void on_drills(uv_timer_t *t);

/* Set the drill timer to the earliest drill end (none: stopped). */
static void arm_drills(health_t *h)
{
	pthread_mutex_lock(&h->lock);
	int64_t next = health_set_next_expiry(&h->set);
	pthread_mutex_unlock(&h->lock);
	if (next == INT64_MAX) {
		uv_timer_stop(&h->drills);
		return;
	}
	int64_t wait_us = next - health_now_us();
	uint64_t ms = wait_us <= 0 ? 0 : (uint64_t)(wait_us + 999) / 1000;
	uv_timer_start(&h->drills, on_drills, ms, 0);
}

static void on_drills(uv_timer_t *t)
{
	health_t *h = t->data;
	pthread_mutex_lock(&h->lock);
	health_set_expire(&h->set, health_now_us());
	commit(h);
	pthread_mutex_unlock(&h->lock);
	arm_drills(h);
}

static void close_handle(uv_handle_t *handle)
{
	if (!uv_is_closing(handle)) {
		uv_close(handle, NULL);
	}
}

/* Stop: end every run without a result and close every handle; the loop
 * returns once they are closed. */
static void stop_loop(health_t *h)
{
	for (size_t i = 0; i < h->spec_count; i++) {
		health_probe_t *p = &h->probes[i];
		if (p->spec->kind == HEALTH_KIND_CALCULATED) {
			continue;
		}
		health_probe_abort(p);
		close_handle((uv_handle_t *)&p->interval);
		close_handle((uv_handle_t *)&p->deadline);
	}
	health_watch_stop(h);
	health_http_deinit(h);
	close_handle((uv_handle_t *)&h->drills);
	close_handle((uv_handle_t *)&h->wake);
}

static void on_wake(uv_async_t *a)
{
	health_t *h = a->data;
	if (atomic_load(&h->stopping)) {
		stop_loop(h);
		return;
	}
	arm_drills(h);
	health_watch_sync(h);
}

static void *run(void *arg)
{
	health_t *h = arg;
	uv_run(&h->loop, UV_RUN_DEFAULT);
	return NULL;
}

static void probes_init(health_t *h)
{
	for (size_t i = 0; i < h->spec_count; i++) {
		health_probe_t *p = &h->probes[i];
		*p = (health_probe_t) { .h = h, .index = i, .spec = &h->specs[i] };
		if (p->spec->kind == HEALTH_KIND_CALCULATED) {
			continue;
		}
		/* Start spread over 100 ms so a long list does not go out at once. */
		health_probe_start(p, (i * 7) % 100);
	}
}

int health_new(const health_conf_t *conf, health_t **out)
{
	health_t *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return CIRRUS_ENOMEM;
	}
	h->specs = conf->specs;
	h->spec_count = conf->spec_count;
	h->publish = conf->publish;
	h->publish_ctx = conf->publish_ctx;
	pthread_mutex_init(&h->lock, NULL);
	int r = health_set_init(&h->set, conf->specs, conf->spec_count, conf->known,
	                        conf->known_count);
	if (r == 0 && !health_set_static(&h->set, conf->static_down, conf->static_count)) {
		r = CIRRUS_ENOMEM;
	}
	if (r != 0) {
		health_free(h);
		return r;
	}
	/* The first snapshot: static states; checks count as up until their
	 * first result. Not audited: it is the configuration, not a change. */
	health_set_update(&h->set, health_now_us(), NULL, NULL, NULL);
	publish(h);
	atomic_store(&current, h);
	*out = h;
	return 0;
}

int health_start(health_t *h, health_audit_cb_t audit, void *audit_ctx)
{
	h->audit = audit;
	h->audit_ctx = audit_ctx;
	h->probes = calloc(h->spec_count ? h->spec_count : 1, sizeof(*h->probes));
	if (h->probes == NULL || uv_loop_init(&h->loop) != 0) {
		return CIRRUS_ENOMEM;
	}
	uv_async_init(&h->loop, &h->wake, on_wake);
	uv_timer_init(&h->loop, &h->drills);
	h->wake.data = h->drills.data = h;
	int r = health_http_init(h);
	if (r != 0) {
		return r;
	}
	probes_init(h);
	if (pthread_create(&h->thread, NULL, run, h) != 0) {
		return CIRRUS_EIO;
	}
	h->started = true;
	return 0;
}

void health_free(health_t *h)
{
	if (h == NULL) {
		return;
	}
	health_t *self = h;
	atomic_compare_exchange_strong(&current, &self, NULL);
	if (h->started) {
		atomic_store(&h->stopping, true);
		uv_async_send(&h->wake);
		pthread_join(h->thread, NULL);
		uv_loop_close(&h->loop);
	}
	health_set_deinit(&h->set);
	health_watch_free_all(h);
	pthread_mutex_destroy(&h->lock);
	free(h->probes);
	free(h);
}

int health_set_static_down(health_t *h, const char *const *down, size_t count)
{
	pthread_mutex_lock(&h->lock);
	bool ok = health_set_static(&h->set, down, count);
	commit(h);
	pthread_mutex_unlock(&h->lock);
	return ok ? 0 : CIRRUS_ENOMEM;
}

int health_drill(health_t *h, const char *key, uint64_t ms, const char *actor)
{
	int64_t until = ms > 0 ? health_now_us() + (int64_t)ms * 1000 : 0;
	pthread_mutex_lock(&h->lock);
	int r = health_set_drill(&h->set, key, until, actor);
	if (r == 0 && h->audit != NULL) {
		json_t *o = json_pack("{s:s, s:I}", "key", key, "down_ms", (json_int_t)ms);
		char *after = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
		h->audit(h->audit_ctx, actor, "health.drill", NULL, after);
		free(after);
		json_decref(o);
	}
	if (r == 0) {
		commit(h);
	}
	pthread_mutex_unlock(&h->lock);
	if (r == 0 && h->started) {
		uv_async_send(&h->wake);   /* the loop re-arms the drill timer */
	}
	return r;
}

int health_list(health_t *h, health_key_cb_t cb, void *ctx)
{
	int r = 0;
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; r == 0 && i < h->set.count; i++) {
		r = cb(ctx, &h->set.keys[i]);
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}
