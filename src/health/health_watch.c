/* SPDX-License-Identifier: Apache-2.0
 * health_watch.c -- checks added and removed while the checker runs (the
 * service registry's instance checks). The key is added or removed at
 * once, under the lock, by the caller's thread; the probe's handles belong
 * to the loop, so the loop starts them (woken by uv_async) and closes them,
 * and frees a removed watch once its timers are closed and no run holds
 * handles. A result that arrives for a removed key is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "health/health_internal.h"
#include "util/error.h"

int health_watch_add(health_t *h, health_spec_t *spec)
{
	if (spec->kind == HEALTH_KIND_CALCULATED) {
		health_spec_deinit(spec);
		return CIRRUS_EINVAL;
	}
	health_watch_t *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		health_spec_deinit(spec);
		return CIRRUS_ENOMEM;
	}
	w->spec = *spec;   /* taken over: the caller's copy is not freed */
	health_spec_init(spec, 0);
	w->probe = (health_probe_t){ .h = h, .spec = &w->spec, .watch = w };
	pthread_mutex_lock(&h->lock);
	int r = 0;
	if (health_set_find(&h->set, w->spec.name) != NULL) {
		r = CIRRUS_EEXIST;
	} else if (health_set_add(&h->set, &w->spec) == NULL) {
		r = CIRRUS_ENOMEM;
	} else {
		w->probe.index = h->set.count - 1;
		w->next = h->watches;
		h->watches = w;
	}
	pthread_mutex_unlock(&h->lock);
	if (r != 0) {
		health_spec_deinit(&w->spec);
		free(w);
		return r;
	}
	if (h->started) {
		uv_async_send(&h->wake);   /* the loop starts its runs */
	}
	return 0;
}

int health_watch_remove(health_t *h, const char *name)
{
	pthread_mutex_lock(&h->lock);
	health_watch_t *w = h->watches;
	while (w != NULL && (w->removed || strcmp(w->spec.name, name) != 0)) {
		w = w->next;
	}
	if (w != NULL) {
		health_set_remove(&h->set, &w->spec);
		w->removed = true;
	}
	bool free_now = w != NULL && !h->started;
	if (free_now) {   /* no loop: nothing runs */
		health_watch_t **at = &h->watches;
		while (*at != w) {
			at = &(*at)->next;
		}
		*at = w->next;
	}
	pthread_mutex_unlock(&h->lock);
	if (w == NULL) {
		return CIRRUS_ENOENT;
	}
	if (free_now) {
		health_spec_deinit(&w->spec);
		free(w);
	} else {
		uv_async_send(&h->wake);   /* the loop stops it and frees it */
	}
	return 0;
}

bool health_probe_key(health_probe_t *p, size_t *index)
{
	health_watch_t *w = p->watch;
	if (w == NULL) {
		*index = p->index;
		return true;
	}
	if (w->removed) {
		return false;
	}
	health_set_t *set = &p->h->set;
	if (p->index < set->count && set->keys[p->index].spec == &w->spec) {
		*index = p->index;
		return true;
	}
	for (size_t i = set->check_count; i < set->count; i++) {   /* keys moved */
		if (set->keys[i].spec == &w->spec) {
			*index = p->index = i;
			return true;
		}
	}
	return false;
}

/* Free w if it is removed, closed and idle (loop thread). */
static void reap(health_watch_t *w)
{
	if (!atomic_load(&w->removed) || w->open_handles > 0 || w->probe.busy ||
	    (w->started && !w->closing)) {
		return;   /* still in use, or its timers still run */
	}
	health_t *h = w->probe.h;
	pthread_mutex_lock(&h->lock);
	health_watch_t **at = &h->watches;
	while (*at != NULL && *at != w) {
		at = &(*at)->next;
	}
	if (*at == w) {
		*at = w->next;
	}
	pthread_mutex_unlock(&h->lock);
	health_spec_deinit(&w->spec);
	free(w);
}

static void on_timer_closed(uv_handle_t *handle)
{
	health_watch_t *w = ((health_probe_t *)handle->data)->watch;
	w->open_handles--;
	reap(w);
}

void health_watch_idle(health_probe_t *p)
{
	reap(p->watch);
}

/* Close a started watch's timers and end its run (loop thread). */
static void stop_one(health_watch_t *w)
{
	if (!w->started || w->closing) {
		return;
	}
	w->closing = true;
	uv_handle_t *timers[] = { (uv_handle_t *)&w->probe.interval,
	                          (uv_handle_t *)&w->probe.deadline };
	for (size_t i = 0; i < 2; i++) {
		if (!uv_is_closing(timers[i])) {
			w->open_handles++;
			uv_close(timers[i], on_timer_closed);
		}
	}
	health_probe_abort(&w->probe);
}

/* The watches that need the loop (all of them with every), copied under
 * the lock: handling one may free it. NULL when out of memory or none. */
static health_watch_t **pending(health_t *h, bool every, size_t *n)
{
	pthread_mutex_lock(&h->lock);
	size_t count = 0;
	for (health_watch_t *w = h->watches; w != NULL; w = w->next) {
		count++;
	}
	health_watch_t **todo = calloc(count ? count : 1, sizeof(*todo));
	*n = 0;
	for (health_watch_t *w = h->watches; todo != NULL && w != NULL; w = w->next) {
		if (every || !w->started || (w->removed && !w->closing)) {
			todo[(*n)++] = w;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return todo;
}

void health_watch_sync(health_t *h)
{
	size_t n;
	health_watch_t **todo = pending(h, false, &n);
	for (size_t i = 0; i < n; i++) {
		health_watch_t *w = todo[i];
		if (w->removed && !w->started) {
			reap(w);   /* never ran: nothing to close */
		} else if (w->removed) {
			stop_one(w);
		} else {
			w->started = true;
			/* the first run soon, spread a little as at start */
			health_probe_start(&w->probe, (uint64_t)(((uintptr_t)w >> 4) % 50));
		}
	}
	free(todo);
}

void health_watch_stop(health_t *h)
{
	size_t n;
	health_watch_t **todo = pending(h, true, &n);
	for (size_t i = 0; i < n; i++) {
		stop_one(todo[i]);
	}
	free(todo);
}

void health_watch_free_all(health_t *h)
{
	while (h->watches != NULL) {
		health_watch_t *w = h->watches;
		h->watches = w->next;
		health_spec_deinit(&w->spec);
		free(w);
	}
}
