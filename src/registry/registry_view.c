/* SPDX-License-Identifier: Apache-2.0
 * registry_view.c -- the registry's face to the query engine: an immutable
 * open-addressing set of service owner names, and the per-answer choice of
 * at most N of a service's addresses in random order. Built by the
 * registry on its own thread, read by every worker without locks.
 */
#include <stdlib.h>
#include <string.h>

#include "registry/registry_view.h"
#include "util/error.h"

struct registry_view {
	unsigned answer_max;
	size_t mask;            /*!< slots - 1; at most half full */
	uint32_t *slots;        /*!< offset + 1 into names; 0 = empty */
	uint8_t *names;         /*!< wire names back to back, lower case */
	size_t count;
};

/* FNV-1a over the wire bytes: names are short and this runs once per
 * service answer. */
static uint64_t name_hash(const uint8_t *name, size_t size)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < size; i++) {
		h = (h ^ name[i]) * UINT64_C(0x100000001b3);
	}
	return h;
}

static bool slot_is(const registry_view_t *v, uint32_t slot, const uint8_t *name, size_t size)
{
	const uint8_t *have = v->names + slot - 1;
	return knot_dname_size(have) == size && memcmp(have, name, size) == 0;
}

int registry_view_new(const char *const *names, size_t count, unsigned answer_max,
                      registry_view_t **out)
{
	if (answer_max < 1 || answer_max > REGISTRY_ANSWER_MAX_LIMIT) {
		return CIRRUS_EINVAL;
	}
	size_t slots = 16;
	while (slots < count * 2) {
		slots *= 2;
	}
	registry_view_t *v = calloc(1, sizeof(*v));
	uint32_t *table = calloc(slots, sizeof(*table));
	uint8_t *blob = malloc(count ? count * KNOT_DNAME_MAXLEN : 1);
	if (v == NULL || table == NULL || blob == NULL) {
		free(v);
		free(table);
		free(blob);
		return CIRRUS_ENOMEM;
	}
	*v = (registry_view_t){ .answer_max = answer_max, .mask = slots - 1, .slots = table,
	                        .names = blob };
	size_t used = 0;
	for (size_t i = 0; i < count; i++) {
		uint8_t *name = blob + used;
		if (knot_dname_from_str(name, names[i], KNOT_DNAME_MAXLEN) == NULL) {
			registry_view_free(v);
			return CIRRUS_EINVAL;
		}
		knot_dname_to_lower(name);
		size_t size = knot_dname_size(name);
		size_t at = name_hash(name, size) & v->mask;
		while (v->slots[at] != 0 && !slot_is(v, v->slots[at], name, size)) {
			at = (at + 1) & v->mask;
		}
		if (v->slots[at] == 0) { /* a name given twice is kept once */
			v->slots[at] = (uint32_t)used + 1;
			used += size;
			v->count++;
		}
	}
	*out = v;
	return 0;
}

void registry_view_free(registry_view_t *view)
{
	if (view != NULL) {
		free(view->slots);
		free(view->names);
		free(view);
	}
}

bool registry_view_has(const registry_view_t *view, const knot_dname_t *owner, size_t size)
{
	if (view == NULL || view->count == 0) {
		return false;
	}
	size_t at = name_hash(owner, size) & view->mask;
	for (size_t probes = 0; probes <= view->mask; probes++) {
		uint32_t slot = view->slots[at];
		if (slot == 0) {
			return false;
		}
		if (slot_is(view, slot, owner, size)) {
			return true;
		}
		at = (at + 1) & view->mask;
	}
	return false;
}

unsigned registry_view_answer_max(const registry_view_t *view)
{
	return view->answer_max;
}

int registry_view_pick(const knot_rdataset_t *rrs, unsigned max, policy_rng_t *rng,
                       uint8_t *buf, size_t bufsize, knot_rdataset_t *out)
{
	if (rrs->count == 0 || max == 0) {
		return CIRRUS_EINVAL;
	}
	size_t one = knot_rdata_size(rrs->rdata->len);
	size_t n = rrs->count;
	size_t k = n < max ? n : max;
	if ((size_t)rrs->size != n * one || k * one > bufsize || k > REGISTRY_ANSWER_MAX_LIMIT) {
		return CIRRUS_EINVAL;
	}
	/* Floyd: a uniform k-subset of [0, n) in k steps, no table of n. */
	uint32_t pick[REGISTRY_ANSWER_MAX_LIMIT];
	size_t got = 0;
	for (size_t j = n - k; j < n; j++) {
		uint32_t t = (uint32_t)policy_rng_below(rng, j + 1);
		bool seen = false;
		for (size_t i = 0; i < got && !seen; i++) {
			seen = pick[i] == t;
		}
		pick[got++] = seen ? (uint32_t)j : t;
	}
	/* Floyd's order is not uniform: shuffle the subset (Fisher-Yates). */
	for (size_t i = k - 1; i > 0; i--) {
		size_t r = (size_t)policy_rng_below(rng, i + 1);
		uint32_t tmp = pick[i];
		pick[i] = pick[r];
		pick[r] = tmp;
	}
	const uint8_t *base = (const uint8_t *)rrs->rdata;
	for (size_t i = 0; i < k; i++) {
		memcpy(buf + i * one, base + (size_t)pick[i] * one, one);
	}
	*out = (knot_rdataset_t){ .count = (uint16_t)k, .size = (uint32_t)(k * one),
	                          .rdata = (knot_rdata_t *)buf };
	return 0;
}
