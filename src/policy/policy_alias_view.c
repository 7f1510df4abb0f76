/* SPDX-License-Identifier: Apache-2.0
 * policy_alias_view.c -- the resolver's results as an immutable view that
 * the engine reads per query with no lock and no allocation: an open
 * addressing table from (target, type) to records and the monotonic times
 * when they expire and when serving them stale ends. The resolver thread
 * (alias/) builds a new one after every result and swaps it in under RCU,
 * as the health checker does with its snapshots.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy.h"
#include "util/error.h"

typedef struct view_entry {
	knot_dname_t *target;     /* NULL = empty slot */
	uint16_t type;
	policy_alias_status_t status;
	uint64_t expire_ms;
	uint64_t stale_ms;
	knot_rdataset_t rrs;
} view_entry_t;

struct policy_alias_view {
	view_entry_t *slots;
	size_t mask;
};

uint64_t policy_alias_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t slot_hash(const knot_dname_t *name, uint16_t type)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325) ^ type;
	for (size_t i = 0, n = knot_dname_size(name); i < n; i++) {
		h = (h ^ name[i]) * UINT64_C(0x100000001b3);
	}
	return (size_t)h;
}

/* Slot of (name, type), or the empty slot where it would go. The table is
 * at most half full, so the walk ends. */
static size_t slot_of(const policy_alias_view_t *v, const knot_dname_t *name, uint16_t type)
{
	size_t i = slot_hash(name, type) & v->mask;
	while (v->slots[i].target != NULL &&
	       !(v->slots[i].type == type && knot_dname_is_equal(v->slots[i].target, name))) {
		i = (i + 1) & v->mask;
	}
	return i;
}

int policy_alias_view_new(const policy_alias_result_t *results, size_t count,
                          policy_alias_view_t **out)
{
	policy_alias_view_t *v = calloc(1, sizeof(*v));
	size_t slots = 8;
	while (slots < count * 2) {
		slots *= 2;
	}
	if (v == NULL || (v->slots = calloc(slots, sizeof(*v->slots))) == NULL) {
		free(v);
		return CIRRUS_ENOMEM;
	}
	v->mask = slots - 1;
	for (size_t i = 0; i < count; i++) {
		const policy_alias_result_t *r = &results[i];
		view_entry_t *e = &v->slots[slot_of(v, r->target, r->type)];
		if (e->target != NULL) {
			continue; /* listed twice: the first result stands */
		}
		*e = (view_entry_t){ .type = r->type, .status = r->status,
		                     .expire_ms = r->expire_ms, .stale_ms = r->stale_ms };
		if ((e->target = knot_dname_copy(r->target, NULL)) == NULL ||
		    (r->status == POLICY_ALIAS_DATA &&
		     knot_rdataset_copy(&e->rrs, &r->rrs, NULL) != KNOT_EOK)) {
			policy_alias_view_free(v);
			return CIRRUS_ENOMEM;
		}
	}
	*out = v;
	return 0;
}

void policy_alias_view_free(policy_alias_view_t *v)
{
	if (v == NULL) {
		return;
	}
	for (size_t i = 0; i <= v->mask; i++) {
		free(v->slots[i].target);
		knot_rdataset_clear(&v->slots[i].rrs, NULL);
	}
	free(v->slots);
	free(v);
}

policy_alias_status_t policy_alias_view_answer(const policy_alias_view_t *v,
                                               const knot_dname_t *target, uint16_t type,
                                               uint64_t now_ms, knot_rdataset_t *rrs,
                                               uint32_t *ttl, bool *stale)
{
	if (v == NULL) {
		return POLICY_ALIAS_UNKNOWN;
	}
	const view_entry_t *e = &v->slots[slot_of(v, target, type)];
	if (e->target == NULL || e->status == POLICY_ALIAS_UNKNOWN) {
		return POLICY_ALIAS_UNKNOWN;
	}
	if (now_ms < e->expire_ms) {
		uint64_t left = (e->expire_ms - now_ms) / 1000;
		*ttl = left < 1 ? 1 : left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
	} else if (now_ms < e->stale_ms) {
		*ttl = POLICY_ALIAS_STALE_TTL; /* RFC 8767: the upstream fails */
	} else {
		return POLICY_ALIAS_UNKNOWN;
	}
	if (stale != NULL) {
		*stale = now_ms >= e->expire_ms;
	}
	*rrs = e->rrs;
	return e->status;
}
