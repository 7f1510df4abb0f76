/* SPDX-License-Identifier: Apache-2.0
 * policy_zone.c -- policies inside a zone version. Placing a policy puts
 * an ordinary RRset (its first endpoint) at its owner so that every zone
 * check applies, and marks the node ZONE_NODE_POLICY; the version then gets
 * a small hash table from (node, type) to policy. Attaching does both for a
 * freshly loaded zone; the control plane places policies in its updates and
 * hangs the same (shared, counted) policies on each new version. Each
 * version owns its table and drops its references with itself, so policies
 * live exactly as long as the versions readers may still hold under RCU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"
#include "util/error.h"

typedef struct zone_entry {
	const zone_node_t *node;
	uint16_t type;
	policy_t *policy;
} zone_entry_t;

typedef struct policy_zone {
	zone_entry_t *slots;
	size_t mask;
	policy_t **all;
	size_t count;
} policy_zone_t;

static size_t node_hash(const zone_node_t *node, uint16_t type)
{
	uint64_t h = ((uint64_t)(uintptr_t)node ^ type) * UINT64_C(0x9e3779b97f4a7c15);
	return (size_t)(h >> 32);
}

static void policy_zone_free(void *ptr)
{
	policy_zone_t *pz = ptr;
	if (pz == NULL) {
		return;
	}
	for (size_t i = 0; i < pz->count; i++) {
		policy_free(pz->all[i]);
	}
	free(pz->all);
	free(pz->slots);
	free(pz);
}

const policy_t *policy_zone_find(const zone_t *zone, const zone_node_t *node, uint16_t type)
{
	const policy_zone_t *pz = zone->policy;
	if (pz == NULL || zone->policy_free != policy_zone_free) {
		return NULL;
	}
	size_t i = node_hash(node, type) & pz->mask;
	for (size_t probes = 0; probes <= pz->mask; probes++) {
		const zone_entry_t *e = &pz->slots[i];
		if (e->node == NULL) {
			return NULL;
		}
		if (e->node == node && e->type == type) {
			return e->policy;
		}
		i = (i + 1) & pz->mask;
	}
	return NULL;
}

static void table_put(policy_zone_t *pz, const zone_node_t *node, policy_t *p)
{
	size_t i = node_hash(node, p->type) & pz->mask;
	while (pz->slots[i].node != NULL) { /* at most half full: ends */
		i = (i + 1) & pz->mask;
	}
	pz->slots[i] = (zone_entry_t){ node, p->type, p };
}

/* The first record a policy could answer with: the zone's view of it. */
static const knot_rdata_t *first_leaf(const policy_node_t *n)
{
	for (int depth = 0; depth < POLICY_DEPTH_MAX && n != NULL; depth++) {
		if (n->items[0].rdata != NULL) {
			return n->items[0].rdata;
		}
		n = n->items[0].nested;
	}
	return NULL;
}

typedef struct attach {
	zone_update_t *u;
	const zone_t *zone;
	policy_errbuf_t e;
} attach_t;

/* "NAME TYPE" of a policy, for messages. */
static void label(const policy_t *p, char *out, size_t size)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1], type[16];
	knot_dname_to_str(name, p->owner, sizeof(name));
	knot_rrtype_to_string(p->type, type, sizeof(type));
	snprintf(out, size, "%s %s", name, type);
}

/* A policy must not sit at or under a cut, nor under a DNAME. */
int policy_zone_check(const zone_update_t *u, const knot_dname_t *apex, const policy_t *p,
                      char *err, size_t errlen)
{
	for (const knot_dname_t *up = p->owner; !knot_dname_is_equal(up, apex);
	     up = knot_wire_next_label(up, NULL)) {
		const zone_node_t *anc = zone_update_find(u, up);
		bool below = up != p->owner;
		if (anc != NULL && ((anc->flags & ZONE_NODE_NS) ||
		                    (below && (anc->flags & ZONE_NODE_DNAME)))) {
			char what[KNOT_DNAME_TXT_MAXLEN + 20];
			label(p, what, sizeof(what));
			snprintf(err, errlen, "policy %s is at or below a zone cut or DNAME, "
			         "where the zone does not answer", what);
			return CIRRUS_EINVAL;
		}
	}
	return 0;
}

int policy_zone_place(zone_update_t *u, const knot_dname_t *apex, const policy_t *p,
                      char *err, size_t errlen)
{
	char what[KNOT_DNAME_TXT_MAXLEN + 20];
	label(p, what, sizeof(what));
	const zone_node_t *n = zone_update_find(u, p->owner);
	if (n != NULL && zone_node_rrset(n, p->type) != NULL) {
		char type[16];
		knot_rrtype_to_string(p->type, type, sizeof(type));
		snprintf(err, errlen, "policy %s: the zone has static %s records at this name; "
		         "a name and type is either static or a policy", what, type);
		return CIRRUS_EINVAL;
	}
	int r = policy_zone_check(u, apex, p, err, errlen);
	if (r == 0) {
		r = policy_alias_check_node(p, n, err, errlen);
	}
	if (r != 0) {
		return r;
	}
	const knot_rdata_t *rd = p->alias != NULL ? p->alias : first_leaf(p->root);
	knot_rdataset_t rrs = { .count = 1, .size = knot_rdata_size(rd->len),
	                        .rdata = (knot_rdata_t *)rd };
	r = zone_update_put_rrset(u, p->owner, p->type, p->ttl, &rrs);
	if (r == 0) {
		r = zone_update_mark_policy(u, p->owner);
	}
	if (r == 0) {
		r = zone_update_check(u);
	}
	if (r == CIRRUS_EINVAL || r == CIRRUS_ESEMANTIC) {
		char name[KNOT_DNAME_TXT_MAXLEN + 1];
		knot_dname_to_str(name, p->owner, sizeof(name));
		snprintf(err, errlen, "policy at %s: %s", name, zone_update_error(u));
	}
	return r;
}

static int attach_one(attach_t *a, const policy_t *p, uint64_t line)
{
	char reason[1024];
	int r = policy_zone_place(a->u, zone_apex(a->zone), p, reason, sizeof(reason));
	if (r == CIRRUS_EINVAL || r == CIRRUS_ESEMANTIC) {
		r = policy_fail(&a->e, line, "%s", reason);
	}
	return r;
}

static int duplicate(attach_t *a, policy_t *const *policies, size_t i, const uint64_t *lines)
{
	for (size_t j = 0; j < i; j++) {
		if (policies[j]->type == policies[i]->type &&
		    knot_dname_is_equal(policies[j]->owner, policies[i]->owner)) {
			return policy_fail(&a->e, lines[i], "a policy for this name and type is "
			                   "already declared on line %llu",
			                   (unsigned long long)lines[j]);
		}
	}
	return 0;
}

static policy_zone_t *table_new(policy_t *const *policies, size_t count)
{
	policy_zone_t *pz = calloc(1, sizeof(*pz));
	size_t slots = 8;
	while (slots < count * 2) {
		slots *= 2;
	}
	if (pz == NULL || (pz->slots = calloc(slots, sizeof(*pz->slots))) == NULL ||
	    (pz->all = malloc(count * sizeof(*pz->all))) == NULL) {
		policy_zone_free(pz);
		return NULL;
	}
	pz->mask = slots - 1;
	memcpy(pz->all, policies, count * sizeof(*pz->all));
	pz->count = count;
	return pz;
}

/* The table's policies keyed by their nodes in zone, which takes the table. */
static void hang(policy_zone_t *pz, zone_t *zone)
{
	for (size_t i = 0; i < pz->count; i++) {
		table_put(pz, zone_find(zone, pz->all[i]->owner), pz->all[i]);
	}
	zone->policy = pz;
	zone->policy_free = policy_zone_free;
}

int policy_zone_attach(zone_t **zone, policy_t **policies, size_t count,
                       const char *file, const uint64_t *lines,
                       char *err, size_t errlen)
{
	if (count == 0) {
		return 0;
	}
	attach_t a = { .zone = *zone, .e = { .file = file, .text = err, .size = errlen } };
	policy_zone_t *pz = table_new(policies, count);
	int r = pz == NULL ? CIRRUS_ENOMEM : zone_update_new(*zone, &a.u);
	for (size_t i = 0; r == 0 && i < count; i++) {
		r = duplicate(&a, policies, i, lines);
		if (r == 0) {
			r = attach_one(&a, policies[i], lines[i]);
		}
	}
	zone_t *next = NULL;
	if (r == 0) {
		r = zone_update_commit(a.u, &next);
	}
	if (r != 0) {
		zone_update_abort(a.u);
		if (pz == NULL) {
			for (size_t i = 0; i < count; i++) {
				policy_free(policies[i]);
			}
		}
		policy_zone_free(pz);
		if (r == CIRRUS_ENOMEM) {
			snprintf(err, errlen, "%s: out of memory attaching policies", file);
		}
		return r;
	}
	hang(pz, next);
	zone_free(*zone); /* superseded: frees only what next replaced */
	*zone = next;
	return 0;
}

int policy_zone_set(zone_t *zone, policy_t *const *policies, size_t count)
{
	if (count == 0) {
		return 0;
	}
	for (size_t i = 0; i < count; i++) {
		if (zone_find(zone, policies[i]->owner) == NULL) {
			return CIRRUS_ENOENT;
		}
	}
	policy_zone_t *pz = table_new(policies, count);
	if (pz == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		policy_ref(policies[i]);
	}
	hang(pz, zone);
	return 0;
}

size_t policy_zone_policies(const zone_t *zone, policy_t *const **out)
{
	const policy_zone_t *pz = zone->policy;
	if (pz == NULL || zone->policy_free != policy_zone_free) {
		*out = NULL;
		return 0;
	}
	*out = pz->all;
	return pz->count;
}
