/* SPDX-License-Identifier: Apache-2.0
 * alias_run.c -- the resolver thread: one job per target and type (A,
 * AAAA) with a timer. A job asks the upstream when it is due: at once for a
 * new target, shortly before its TTL runs out (so answers rarely see it
 * expire), and after a failure again with a backoff from 1 s to 30 s while
 * the old data is kept (served stale by the view within serve-stale).
 * After the results of a turn of its loop the thread builds a new view and
 * publishes it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alias/alias_internal.h"
#include "util/error.h"
#include "util/log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

typedef struct job {
	struct alias *a;
	knot_dname_t *target;
	uint16_t type;
	uv_timer_t timer;
	alias_exchange_t *x;         /* in flight, or NULL */
	uint8_t query[512];
	size_t query_len;
	unsigned failures;           /* in a row */
	policy_alias_result_t result;
} job_t;

struct alias {
	alias_conf_t conf;
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t publisher;        /* one view per loop turn, however many results */
	pthread_t thread;
	atomic_bool stopping;
	pthread_mutex_t lock;        /* guards pending and last */
	knot_dname_t **pending;      /* targets set by alias_set_targets, not yet applied */
	size_t pending_count;
	bool pending_set;
	knot_dname_t **last;         /* the targets last set, to skip repeats */
	size_t last_count;
	job_t **jobs;                /* the loop's own */
	size_t job_count;
};

static void on_publish(uv_timer_t *t)
{
	struct alias *a = t->data;
	policy_alias_result_t *results = calloc(a->job_count ? a->job_count : 1,
	                                        sizeof(*results));
	policy_alias_view_t *view = NULL;
	for (size_t i = 0; results != NULL && i < a->job_count; i++) {
		results[i] = a->jobs[i]->result;
	}
	if (results == NULL || policy_alias_view_new(results, a->job_count, &view) != 0) {
		log_error("alias: out of memory; answers keep the previous resolutions");
	} else {
		a->conf.publish(a->conf.publish_ctx, view);
	}
	free(results);
}

/* Publish on the next turn of the loop: the results of one turn (at start,
 * every target at once) make one view and one RCU grace period, not one
 * each, which would hold the loop while answers wait in their sockets. */
static void publish(struct alias *a)
{
	uv_timer_start(&a->publisher, on_publish, 0, 0);
}

static void job_due(uv_timer_t *t);

static void log_target(log_level_t level, const job_t *j, const char *what)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_to_str(name, j->target, sizeof(name));
	log_msg(level, "alias: %s %s: %s", name, j->type == KNOT_RRTYPE_A ? "A" : "AAAA", what);
}

static uint32_t clamp_ttl(const struct alias *a, uint32_t ttl)
{
	return ttl < a->conf.min_ttl ? a->conf.min_ttl : ttl > a->conf.max_ttl ?
	       a->conf.max_ttl : ttl;
}

/* A fresh answer: keep it for its TTL, ask again shortly before it ends. */
static void job_store(job_t *j, alias_reply_t *reply)
{
	struct alias *a = j->a;
	uint64_t ttl_ms = (uint64_t)clamp_ttl(a, reply->ttl) * 1000;
	uint64_t now = policy_alias_clock_ms();
	knot_rdataset_clear(&j->result.rrs, NULL);
	j->result.status = reply->status;
	j->result.rrs = reply->rrs;
	j->result.expire_ms = now + ttl_ms;
	j->result.stale_ms = j->result.expire_ms + (uint64_t)a->conf.serve_stale * 1000;
	if (j->failures > 0) {
		log_target(LOG_LEVEL_INFO, j, "the upstream answers again");
	}
	j->failures = 0;
	uint64_t early = ttl_ms / 10 < 1000 ? ttl_ms / 10 : 1000;
	uv_timer_start(&j->timer, job_due, ttl_ms - early, 0);
}

static void job_failed(job_t *j, const char *why)
{
	j->failures++;
	if (j->failures == 1) {
		char text[256];
		snprintf(text, sizeof(text), "%s; %s", why,
		         j->result.status == POLICY_ALIAS_UNKNOWN ? "answering SERVFAIL until it "
		         "resolves" : "keeping the last answer (served stale after its TTL)");
		log_target(LOG_LEVEL_WARNING, j, text);
	}
	uint64_t backoff = (uint64_t)BACKOFF_MIN_MS << (j->failures < 6 ? j->failures - 1 : 5);
	uv_timer_start(&j->timer, job_due, backoff < BACKOFF_MAX_MS ? backoff : BACKOFF_MAX_MS, 0);
}

static void on_done(void *ctx, const uint8_t *wire, size_t len, const char *why)
{
	job_t *j = ctx;
	j->x = NULL;
	char reason[256];
	alias_reply_t reply;
	if (wire == NULL) {
		job_failed(j, why);
		return;
	}
	int r = alias_reply_parse(j->query, j->query_len, wire, len, &reply, reason,
	                          sizeof(reason));
	if (r != 0) {
		job_failed(j, r == CIRRUS_ENOMEM ? "out of memory" : reason);
		return;
	}
	job_store(j, &reply);
	publish(j->a);
}

static void job_due(uv_timer_t *t)
{
	job_t *j = t->data;
	struct alias *a = j->a;
	uint16_t id;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id)) {
		id = (uint16_t)policy_alias_clock_ms();
	}
	int r = alias_query_build(j->target, j->type, id, j->query, sizeof(j->query),
	                          &j->query_len);
	if (r == 0) {
		r = alias_exchange_start(&a->loop, &a->conf.upstream, j->query, j->query_len,
		                         a->conf.timeout_ms, a->conf.retries, on_done, j, &j->x);
	}
	if (r != 0) {
		job_failed(j, cirrus_strerror(r));
	}
}

static void on_job_closed(uv_handle_t *h)
{
	job_t *j = h->data;
	knot_rdataset_clear(&j->result.rrs, NULL);
	free(j->target);
	free(j);
}

static void job_free(job_t *j)
{
	if (j->x != NULL) {
		alias_exchange_cancel(j->x);
	}
	uv_close((uv_handle_t *)&j->timer, on_job_closed);
}

static job_t *job_new(struct alias *a, const knot_dname_t *target, uint16_t type)
{
	job_t *j = calloc(1, sizeof(*j));
	if (j == NULL || (j->target = knot_dname_copy(target, NULL)) == NULL) {
		free(j);
		return NULL;
	}
	j->a = a;
	j->type = type;
	j->result = (policy_alias_result_t){ .target = j->target, .type = type,
	                                     .status = POLICY_ALIAS_UNKNOWN };
	uv_timer_init(&a->loop, &j->timer);
	j->timer.data = j;
	uv_timer_start(&j->timer, job_due, 0, 0);
	return j;
}

static bool in_list(knot_dname_t *const *names, size_t n, const knot_dname_t *name)
{
	for (size_t i = 0; i < n; i++) {
		if (knot_dname_is_equal(names[i], name)) {
			return true;
		}
	}
	return false;
}

static bool has_job(const struct alias *a, const knot_dname_t *target)
{
	for (size_t i = 0; i < a->job_count; i++) {
		if (knot_dname_is_equal(a->jobs[i]->target, target)) {
			return true;
		}
	}
	return false;
}

/* Make the jobs match targets: drop the others, add the new ones. */
static void apply_targets(struct alias *a, knot_dname_t **targets, size_t n)
{
	size_t kept = 0;
	for (size_t i = 0; i < a->job_count; i++) {
		if (in_list(targets, n, a->jobs[i]->target)) {
			a->jobs[kept++] = a->jobs[i];
		} else {
			job_free(a->jobs[i]);
		}
	}
	a->job_count = kept;
	job_t **grown = realloc(a->jobs, (kept + 2 * n + 1) * sizeof(*grown));
	if (grown != NULL) {
		a->jobs = grown;
	}
	for (size_t i = 0; grown != NULL && i < n; i++) {
		if (has_job(a, targets[i])) {
			continue;
		}
		static const uint16_t types[] = { KNOT_RRTYPE_A, KNOT_RRTYPE_AAAA };
		for (size_t t = 0; t < 2; t++) {
			job_t *j = job_new(a, targets[i], types[t]);
			if (j == NULL) {
				log_error("alias: out of memory; not resolving every target");
				break;
			}
			a->jobs[a->job_count++] = j;
		}
	}
	if (grown == NULL) {
		log_error("alias: out of memory; not resolving new targets");
	}
	publish(a);
}

static void free_names(knot_dname_t **names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(names[i]);
	}
	free(names);
}

static void on_wake(uv_async_t *w)
{
	struct alias *a = w->data;
	if (atomic_load(&a->stopping)) {
		for (size_t i = 0; i < a->job_count; i++) {
			job_free(a->jobs[i]);
		}
		a->job_count = 0;
		uv_close((uv_handle_t *)&a->publisher, NULL);
		uv_close((uv_handle_t *)&a->wake, NULL);
		return;
	}
	pthread_mutex_lock(&a->lock);
	knot_dname_t **targets = a->pending;
	size_t n = a->pending_count;
	bool set = a->pending_set;
	a->pending = NULL;
	a->pending_count = 0;
	a->pending_set = false;
	pthread_mutex_unlock(&a->lock);
	if (set) {
		apply_targets(a, targets, n);
	}
	free_names(targets, n);
}

static void *run(void *arg)
{
	struct alias *a = arg;
	uv_run(&a->loop, UV_RUN_DEFAULT);
	return NULL;
}

int alias_new(const alias_conf_t *conf, alias_t **out)
{
	struct alias *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return CIRRUS_ENOMEM;
	}
	a->conf = *conf;
	pthread_mutex_init(&a->lock, NULL);
	if (uv_loop_init(&a->loop) != 0) {
		pthread_mutex_destroy(&a->lock);
		free(a);
		return CIRRUS_EIO;
	}
	uv_async_init(&a->loop, &a->wake, on_wake);
	a->wake.data = a;
	uv_timer_init(&a->loop, &a->publisher);
	a->publisher.data = a;
	if (pthread_create(&a->thread, NULL, run, a) != 0) {
		uv_close((uv_handle_t *)&a->publisher, NULL);
		uv_close((uv_handle_t *)&a->wake, NULL);
		uv_run(&a->loop, UV_RUN_DEFAULT);
		uv_loop_close(&a->loop);
		pthread_mutex_destroy(&a->lock);
		free(a);
		return CIRRUS_EIO;
	}
	*out = a;
	return 0;
}

static knot_dname_t **copy_names(knot_dname_t *const *names, size_t count)
{
	knot_dname_t **copy = calloc(count ? count : 1, sizeof(*copy));
	for (size_t i = 0; copy != NULL && i < count; i++) {
		if ((copy[i] = knot_dname_copy(names[i], NULL)) == NULL) {
			free_names(copy, i);
			return NULL;
		}
	}
	return copy;
}

static bool same_names(knot_dname_t *const *a, size_t na, knot_dname_t *const *b, size_t nb)
{
	for (size_t i = 0; na == nb && i < na; i++) {
		if (!knot_dname_is_equal(a[i], b[i])) {
			return false;
		}
	}
	return na == nb;
}

int alias_set_targets(alias_t *a, knot_dname_t *const *targets, size_t count)
{
	pthread_mutex_lock(&a->lock);
	/* Every zone change sets the targets again; most change none. */
	bool same = a->last != NULL && same_names(a->last, a->last_count, targets, count);
	knot_dname_t **copy = same ? NULL : copy_names(targets, count);
	knot_dname_t **last = same ? NULL : copy_names(targets, count);
	int r = same ? 0 : copy == NULL || last == NULL ? CIRRUS_ENOMEM : 0;
	if (!same && r == 0) {
		free_names(a->pending, a->pending_count);
		free_names(a->last, a->last_count);
		a->pending = copy;
		a->pending_count = count;
		a->pending_set = true;
		a->last = last;
		a->last_count = count;
		uv_async_send(&a->wake);
	} else if (r != 0) {
		free_names(copy, copy ? count : 0);
		free_names(last, last ? count : 0);
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

void alias_free(alias_t *a)
{
	if (a == NULL) {
		return;
	}
	atomic_store(&a->stopping, true);
	uv_async_send(&a->wake);
	pthread_join(a->thread, NULL);
	uv_loop_close(&a->loop);
	free_names(a->pending, a->pending_count);
	free_names(a->last, a->last_count);
	free(a->jobs);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
