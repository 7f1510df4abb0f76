/* SPDX-License-Identifier: Apache-2.0
 * policy_eval.c -- choosing the records of one answer. Pure and bounded:
 * reads the compiled policy, a health snapshot and the client address,
 * advances the caller's PRNG, allocates nothing. Nested rules recurse at
 * most POLICY_DEPTH_MAX deep (checked when compiling).
 *
 * Health: a leaf endpoint is healthy when its health key is up; a nested
 * rule is healthy when it chose at least one record. Only the policy as a
 * whole fails open (answers as if everything were up) when nothing is
 * healthy; nested rules never do, so that failover can move past them.
 */
#include "policy/policy_internal.h"

typedef struct eval {
	const policy_health_t *health;
	bool ignore_health;
	const policy_addr_t *client;
	policy_rng_t *rng;
	policy_answer_t *out;
} eval_t;

static bool eval_node(eval_t *e, const policy_node_t *n);

static bool leaf_up(const eval_t *e, const policy_item_t *it)
{
	return e->ignore_health || policy_health_up(e->health, it->health);
}

/* Add a record unless it is already in the answer or the answer is full. */
static void append(policy_answer_t *out, const knot_rdata_t *rd)
{
	for (unsigned i = 0; i < out->count; i++) {
		if (knot_rdata_cmp(out->rdata[i], rd) == 0) {
			return;
		}
	}
	if (out->count < POLICY_ANSWER_MAX) {
		out->rdata[out->count++] = rd;
	}
}

/* Answer with one item; false when it is unhealthy. */
static bool eval_item(eval_t *e, const policy_item_t *it)
{
	if (it->nested != NULL) {
		return eval_node(e, it->nested);
	}
	if (!leaf_up(e, it)) {
		return false;
	}
	append(e->out, it->rdata);
	return true;
}

/* Draw up to pick distinct items, each with probability proportional to
 * its weight among those not drawn yet; an unhealthy draw is dropped and
 * does not count. */
static bool eval_weighted(eval_t *e, const policy_node_t *n)
{
	uint64_t weight[POLICY_ITEMS_MAX], total = 0;
	for (uint16_t i = 0; i < n->item_count; i++) {
		const policy_item_t *it = &n->items[i];
		weight[i] = (it->nested == NULL && !leaf_up(e, it)) ? 0 : it->weight;
		total += weight[i];
	}
	unsigned picked = 0;
	for (uint16_t round = 0; round < n->item_count && picked < n->pick && total > 0; round++) {
		uint64_t r = policy_rng_below(e->rng, total);
		uint16_t i = 0;
		while (i + 1 < n->item_count && r >= weight[i]) {
			r -= weight[i++];
		}
		total -= weight[i];
		weight[i] = 0;
		picked += eval_item(e, &n->items[i]);
	}
	return picked > 0;
}

/* Items are sorted by level: the first level with a healthy item answers
 * with every healthy item of that level. */
static bool eval_failover(eval_t *e, const policy_node_t *n)
{
	uint16_t i = 0;
	while (i < n->item_count) {
		uint32_t level = n->items[i].level;
		bool any = false;
		for (; i < n->item_count && n->items[i].level == level; i++) {
			any |= eval_item(e, &n->items[i]);
		}
		if (any) {
			return true;
		}
	}
	return false;
}

/* Up to pick records from the healthy items, in a fresh random order. */
static bool eval_multivalue(eval_t *e, const policy_node_t *n)
{
	uint8_t order[POLICY_ITEMS_MAX];
	for (uint16_t i = 0; i < n->item_count; i++) {
		order[i] = (uint8_t)i;
	}
	for (uint16_t i = n->item_count; i > 1; i--) { /* Fisher-Yates */
		uint16_t j = (uint16_t)policy_rng_below(e->rng, i);
		uint8_t t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	unsigned start = e->out->count;
	bool any = false;
	for (uint16_t k = 0; k < n->item_count && e->out->count - start < n->pick; k++) {
		any |= eval_item(e, &n->items[order[k]]);
	}
	if (e->out->count - start > n->pick) {
		e->out->count = start + n->pick; /* a nested rule gave more */
	}
	return any;
}

/* Geo: the subdivisions' endpoints, else the country's, else the continent's. */
static bool eval_geo(eval_t *e, const policy_node_t *n, int32_t choice)
{
	const policy_geo_choice_t *c = &n->choices[choice];
	return (c->subdivision[0] >= 0 && eval_item(e, &n->items[c->subdivision[0]])) ||
	       (c->subdivision[1] >= 0 && eval_item(e, &n->items[c->subdivision[1]])) ||
	       (c->country >= 0 && eval_item(e, &n->items[c->country])) ||
	       (c->continent >= 0 && eval_item(e, &n->items[c->continent]));
}

/* Latency: regions from the fastest; the first with a healthy endpoint
 * answers with every healthy endpoint of that region. */
static bool eval_latency(eval_t *e, const policy_node_t *n, int32_t choice)
{
	const policy_latency_choice_t *c = &n->orders[choice];
	for (uint16_t k = 0; k < c->count; k++) {
		int16_t region = n->region_order[c->start + k];
		bool any = false;
		for (uint16_t i = 0; i < n->item_count; i++) {
			if (n->items[i].region_id == region) {
				any |= eval_item(e, &n->items[i]);
			}
		}
		if (any) {
			return true;
		}
	}
	return false;
}

static bool eval_match(eval_t *e, const policy_node_t *n, int32_t match)
{
	switch (n->rule) {
	case POLICY_RULE_GEO:     return eval_geo(e, n, match);
	case POLICY_RULE_LATENCY: return eval_latency(e, n, match);
	default:                  return eval_item(e, &n->items[match]);
	}
}

/* The client's matches, most specific first; the scope of the lookup is
 * recorded. */
static unsigned client_matches(eval_t *e, const policy_node_t *n, int32_t *matches)
{
	const policy_addr_t *c = e->client;
	unsigned count = 0, scope = 0;
	if (c->family == POLICY_FAMILY_NONE || c->prefix == 0) {
		return 0;
	}
	if (n->mmdb != NULL) {
		matches[0] = policy_mmdb_lookup(n->mmdb, c, &scope);
		count = matches[0] >= 0;
	} else {
		const policy_trie_t *t = &n->trie[c->family == POLICY_FAMILY_IPV6];
		scope = policy_trie_lookup(t, c->bytes, c->prefix, matches, &count);
	}
	if (scope > e->out->scope) {
		e->out->scope = (uint8_t)scope;
	}
	return count;
}

/* ip, geo and latency: the most specific match with a healthy answer,
 * then less specific ones, then the default. */
static bool eval_prefix(eval_t *e, const policy_node_t *n)
{
	int32_t matches[POLICY_TRIE_MATCH_MAX];
	unsigned count = client_matches(e, n, matches);
	for (unsigned i = 0; i < count; i++) {
		if (eval_match(e, n, matches[i])) {
			return true;
		}
	}
	return n->default_item >= 0 && eval_item(e, &n->items[n->default_item]);
}

static bool eval_node(eval_t *e, const policy_node_t *n)
{
	switch (n->rule) {
	case POLICY_RULE_WEIGHTED:   return eval_weighted(e, n);
	case POLICY_RULE_FAILOVER:   return eval_failover(e, n);
	case POLICY_RULE_MULTIVALUE: return eval_multivalue(e, n);
	case POLICY_RULE_IP:
	case POLICY_RULE_GEO:
	case POLICY_RULE_LATENCY:    return eval_prefix(e, n);
	}
	return false;
}

void policy_eval(const policy_t *p, const policy_health_t *health,
                 const policy_addr_t *client, policy_rng_t *rng, policy_answer_t *out)
{
	static const policy_addr_t unknown = { 0 };
	out->count = 0;
	out->scope = 0;
	eval_t e = { .health = health, .client = client ? client : &unknown, .rng = rng,
	             .out = out };
	eval_node(&e, p->root);
	if (out->count == 0 && !p->fail_closed) {
		e.ignore_health = true; /* fail open, as Route 53 does */
		eval_node(&e, p->root);
	}
	if (p->type == KNOT_RRTYPE_CNAME && out->count > 1) {
		out->count = 1; /* one target per name (RFC 2181 10.1) */
	}
}
