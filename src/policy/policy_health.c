/* SPDX-License-Identifier: Apache-2.0
 * policy_health.c -- health snapshots: an immutable set of the health keys
 * that are down (every other key is up), built whole and published by
 * pointer. Today the configuration builds it; the health-check thread
 * will build a new one on each transition and swap it in under RCU.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "util/error.h"

struct policy_health {
	char **slots;     /* open addressing by FNV-1a; NULL = empty */
	size_t mask;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (; *s != '\0'; s++) {
		h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
	}
	return h;
}

/* Slot of key, or the empty slot where it would go. */
static size_t slot_of(const policy_health_t *h, const char *key)
{
	size_t i = fnv1a(key) & h->mask;
	for (size_t probes = 0; probes <= h->mask; probes++) {
		if (h->slots[i] == NULL || strcmp(h->slots[i], key) == 0) {
			return i;
		}
		i = (i + 1) & h->mask;
	}
	return SIZE_MAX; /* unreachable: the table is at most half full */
}

int policy_health_new(const char *const *down, size_t count, policy_health_t **out)
{
	policy_health_t *h = calloc(1, sizeof(*h));
	size_t slots = 8;
	while (slots < count * 2) {
		slots *= 2;
	}
	if (h == NULL || (h->slots = calloc(slots, sizeof(char *))) == NULL) {
		free(h);
		return CIRRUS_ENOMEM;
	}
	h->mask = slots - 1;
	for (size_t i = 0; i < count; i++) {
		size_t s = slot_of(h, down[i]);
		if (h->slots[s] == NULL && (h->slots[s] = strdup(down[i])) == NULL) {
			policy_health_free(h);
			return CIRRUS_ENOMEM;
		}
	}
	*out = h;
	return 0;
}

void policy_health_free(policy_health_t *h)
{
	if (h == NULL) {
		return;
	}
	for (size_t i = 0; i <= h->mask; i++) {
		free(h->slots[i]);
	}
	free(h->slots);
	free(h);
}

bool policy_health_up(const policy_health_t *h, const char *key)
{
	if (h == NULL || key == NULL) {
		return true;
	}
	size_t s = slot_of(h, key);
	return s == SIZE_MAX || h->slots[s] == NULL;
}
