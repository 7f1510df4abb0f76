/* SPDX-License-Identifier: Apache-2.0
 * health_state.c -- the state of every health key, with no I/O and no
 * clock: results move a check up after `rise` successes in a row and down
 * after `fall` failures in a row; calculated checks follow their children;
 * a static `down` or a running drill forces a key down whatever its check
 * says. health_set_update() reports each change once, for the audit log,
 * and health_set_snapshot() turns the result into what the engine reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/health.h"
#include "util/error.h"

const char *health_status_name(health_status_t s)
{
	return s == HEALTH_UP ? "up" : s == HEALTH_DOWN ? "down" : "unknown";
}

health_key_t *health_set_find(health_set_t *set, const char *name)
{
	for (size_t i = 0; name != NULL && i < set->count; i++) {
		if (strcmp(set->keys[i].name, name) == 0) {
			return &set->keys[i];
		}
	}
	return NULL;
}

/* Append a key that no check decides: always up unless forced down. */
static health_key_t *add_key(health_set_t *set, const char *name)
{
	health_key_t *k = health_set_find(set, name);
	if (k != NULL) {
		return k;
	}
	health_key_t *grown = realloc(set->keys, (set->count + 1) * sizeof(*grown));
	if (grown == NULL) {
		return NULL;
	}
	set->keys = grown;
	k = &set->keys[set->count];
	*k = (health_key_t) { .name = strdup(name), .checked = HEALTH_UP, .state = HEALTH_UP,
	                      .was_state = HEALTH_UP, .was_checked = HEALTH_UP };
	if (k->name == NULL) {
		return NULL;
	}
	set->count++;
	return k;
}

health_key_t *health_set_add(health_set_t *set, const health_spec_t *spec)
{
	if (health_set_find(set, spec->name) != NULL) {
		return NULL;
	}
	health_key_t *grown = realloc(set->keys, (set->count + 1) * sizeof(*grown));
	if (grown == NULL) {
		return NULL;
	}
	set->keys = grown;
	health_key_t *k = &set->keys[set->count];
	*k = (health_key_t) { .name = strdup(spec->name), .spec = spec };
	if (k->name == NULL) {
		return NULL;
	}
	set->count++;
	return k;
}

int health_set_remove(health_set_t *set, const health_spec_t *spec)
{
	for (size_t i = set->check_count; i < set->count; i++) {
		if (set->keys[i].spec == spec) {
			free(set->keys[i].name);
			memmove(&set->keys[i], &set->keys[i + 1],
			        (set->count - i - 1) * sizeof(set->keys[0]));
			set->count--;
			return 0;
		}
	}
	return CIRRUS_ENOENT;
}

int health_set_init(health_set_t *set, const health_spec_t *specs, size_t count,
                    const char *const *extra, size_t extra_count)
{
	*set = (health_set_t) { .keys = calloc(count ? count : 1, sizeof(health_key_t)) };
	if (set->keys == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		health_key_t *k = &set->keys[i];
		k->spec = &specs[i];
		if ((k->name = strdup(specs[i].name)) == NULL) {
			health_set_deinit(set);
			return CIRRUS_ENOMEM;
		}
		set->count = set->check_count = i + 1;
	}
	for (size_t i = 0; i < extra_count; i++) {
		if (add_key(set, extra[i]) == NULL) {
			health_set_deinit(set);
			return CIRRUS_ENOMEM;
		}
	}
	return 0;
}

void health_set_deinit(health_set_t *set)
{
	for (size_t i = 0; set->keys != NULL && i < set->count; i++) {
		free(set->keys[i].name);
	}
	free(set->keys);
	*set = (health_set_t) { 0 };
}

void health_set_result(health_set_t *set, size_t i, bool ok, const char *msg,
                       int64_t now_us)
{
	health_key_t *k = &set->keys[i];
	const health_spec_t *s = k->spec;
	k->successes = ok ? k->successes + 1 : 0;
	k->failures = ok ? 0 : k->failures + 1;
	k->has_result = true;
	k->last_ok = ok;
	k->last_us = now_us;
	snprintf(k->last_msg, sizeof(k->last_msg), "%s", msg);
	/* The first result decides at once: a server that starts while a
	 * backend is down should not send traffic there for fall intervals. */
	if (k->checked == HEALTH_UNKNOWN) {
		k->checked = ok ? HEALTH_UP : HEALTH_DOWN;
	} else if (k->checked == HEALTH_DOWN && k->successes >= s->rise) {
		k->checked = HEALTH_UP;
	} else if (k->checked == HEALTH_UP && k->failures >= s->fall) {
		k->checked = HEALTH_DOWN;
	}
}

bool health_set_static(health_set_t *set, const char *const *down, size_t count)
{
	for (size_t i = 0; i < set->count; i++) {
		set->keys[i].static_down = false;
	}
	for (size_t i = 0; i < count; i++) {
		health_key_t *k = add_key(set, down[i]);
		if (k == NULL) {
			return false;
		}
		k->static_down = true;
	}
	return true;
}

int health_set_drill(health_set_t *set, const char *key, int64_t until_us, const char *by)
{
	health_key_t *k = health_set_find(set, key);
	if (k == NULL) {
		return CIRRUS_ENOENT;
	}
	k->drill_until_us = until_us;
	snprintf(k->drill_by, sizeof(k->drill_by), "%s", until_us != 0 && by ? by : "");
	return 0;
}

void health_set_expire(health_set_t *set, int64_t now_us)
{
	for (size_t i = 0; i < set->count; i++) {
		health_key_t *k = &set->keys[i];
		if (k->drill_until_us != 0 && k->drill_until_us <= now_us) {
			k->drill_until_us = 0;
			k->drill_by[0] = '\0';
		}
	}
}

int64_t health_set_next_expiry(const health_set_t *set)
{
	int64_t next = INT64_MAX;
	for (size_t i = 0; i < set->count; i++) {
		int64_t until = set->keys[i].drill_until_us;
		if (until != 0 && until < next) {
			next = until;
		}
	}
	return next;
}

/* A calculated check from its children's states (unknown counts as up, as
 * it does in answers); unknown while no child has a result. */
static void calculate(health_set_t *set, health_key_t *k)
{
	const health_spec_t *s = k->spec;
	size_t up = 0, known = 0;
	for (size_t c = 0; c < s->child_count; c++) {
		health_status_t st = set->keys[s->children[c]].state;
		up += st != HEALTH_DOWN;
		known += st != HEALTH_UNKNOWN;
	}
	size_t need = s->rule_value == HEALTH_RULE_ALL ? s->child_count :
	              s->rule_value == HEALTH_RULE_ANY ? 1 : s->at_least;
	k->checked = known == 0 ? HEALTH_UNKNOWN : up >= need ? HEALTH_UP : HEALTH_DOWN;
	if (k->checked != k->was_checked) {
		snprintf(k->last_msg, sizeof(k->last_msg), "%zu of %zu checks up, %zu needed",
		         up, s->child_count, need);
	}
}

static bool forced(const health_key_t *k)
{
	return k->static_down || k->drill_until_us != 0;
}

/* Why k changed: what forces it, or what its check said last. */
static void explain(health_key_t *k)
{
	if (k->static_down && k->was_state != HEALTH_DOWN) {
		snprintf(k->reason, sizeof(k->reason), "held down by health: in the configuration");
	} else if (k->drill_until_us != 0 && k->was_state != HEALTH_DOWN) {
		snprintf(k->reason, sizeof(k->reason), "drill by %s", k->drill_by);
	} else if (k->checked != k->was_checked) {
		snprintf(k->reason, sizeof(k->reason), "%s", k->last_msg);
	} else {
		snprintf(k->reason, sizeof(k->reason), "drill or static hold ended");
	}
}

size_t health_set_update(health_set_t *set, int64_t now_us, const char *reason,
                         health_change_cb_t cb, void *ctx)
{
	size_t changes = 0;
	/* Checks come in declaration order and children are declared before
	 * their parents, so one pass sees every child's final state. */
	for (size_t i = 0; i < set->count; i++) {
		health_key_t *k = &set->keys[i];
		if (k->spec != NULL && k->spec->kind == HEALTH_KIND_CALCULATED) {
			calculate(set, k);
		}
		k->state = forced(k) ? HEALTH_DOWN : k->checked;
		if (k->state == k->was_state && k->checked == k->was_checked) {
			continue;
		}
		explain(k);
		if (reason != NULL) {
			snprintf(k->reason, sizeof(k->reason), "%s", reason);
		}
		k->change_us = now_us;
		health_change_t change = { .key = k, .old_state = k->was_state,
		                           .old_checked = k->was_checked };
		k->was_state = k->state;
		k->was_checked = k->checked;
		changes++;
		if (cb != NULL) {
			cb(ctx, &change);
		}
	}
	return changes;
}

int health_set_snapshot(const health_set_t *set, policy_health_t **out)
{
	const char **down = calloc(set->count ? set->count : 1, sizeof(*down));
	size_t n = 0;
	if (down == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < set->count; i++) {
		if (set->keys[i].state == HEALTH_DOWN) {
			down[n++] = set->keys[i].name;
		}
	}
	int r = policy_health_new(down, n, out);
	free(down);
	return r;
}
