/* SPDX-License-Identifier: Apache-2.0
 * engine_lookup.c -- authoritative answering, RFC 1034 4.3.2 step 3:
 * exact matches, CNAME chains (across served zones, loop-safe), DNAME
 * synthesis (RFC 6672), wildcards (RFC 4592), referrals with glue
 * (RFC 9471), negative answers (RFC 2308), minimal ANY (RFC 8482) and
 * additional-section addresses for NS, MX and SRV targets. Wherever an
 * RRset is answered, a node flagged ZONE_NODE_POLICY may have its records
 * chosen per query by a routing policy instead (policy/policy.h), an
 * alias there answers A and AAAA with its target's (engine_alias.c), and
 * the A/AAAA answer of a registered service is shuffled and capped
 * (registry/registry_view.h).
 */
#include <string.h>

#include "engine/engine_internal.h"

#define CHAIN_MAX 16    /* CNAME/DNAME hops followed before giving up */

/* The name in one step of a CNAME/DNAME chain. */
typedef struct step {
	const knot_dname_t *name;       /*!< as it will appear in the answer */
	knot_dname_storage_t lower;     /*!< lower case for lookups */
	uint16_t hint;                  /*!< compression hint of name, or NONE */
} step_t;

/* Pointers to the suffixes of a name, index = number of labels kept; the
 * size of suffix i is end - by_labels[i]. */
static int suffixes(const knot_dname_t *name, const knot_dname_t **by_labels)
{
	const knot_dname_t *p[KNOT_DNAME_MAXLABELS + 1];
	int n = 0;
	for (const knot_dname_t *l = name; *l != '\0'; l = knot_wire_next_label(l, NULL)) {
		p[n++] = l;
	}
	p[n] = name + knot_dname_size(name) - 1; /* the root label */
	for (int i = 0; i <= n; i++) {
		by_labels[n - i] = p[i];
	}
	return n;
}

static const zone_node_t *find_wildcard(const zone_t *zone, const zone_node_t *encloser)
{
	uint8_t wild[KNOT_DNAME_MAXLEN + 2] = { 1, '*' };
	if (encloser->owner_size + 2 > KNOT_DNAME_MAXLEN) {
		return NULL;
	}
	memcpy(wild + 2, encloser->owner, encloser->owner_size);
	return zone_find(zone, wild);
}

/* Where a lower-case name stands in a zone. Walks down from the apex when
 * the zone has cuts (the topmost cut wins), else looks the name up at once. */
void engine_zone_lookup(const zone_t *zone, const knot_dname_t *name, uint16_t qtype,
                        lookup_t *out)
{
	size_t size = knot_dname_size(name);
	const zone_node_t *node = zone->cut_count == 0 ? zone_find_sized(zone, name, size) : NULL;
	if (node != NULL) {
		*out = (lookup_t){ LOOKUP_FOUND, node };
		return;
	}
	const knot_dname_t *suffix[KNOT_DNAME_MAXLABELS + 1];
	const knot_dname_t *end = name + size;
	int labels = suffixes(name, suffix);
	const zone_node_t *encloser = zone->apex;
	for (int depth = zone->apex->labels + 1; depth <= labels; depth++) {
		node = zone_find_sized(zone, suffix[depth], (size_t)(end - suffix[depth]));
		if (node == NULL) {
			break;
		}
		bool last = depth == labels;
		if ((node->flags & ZONE_NODE_NS) && !(last && qtype == KNOT_RRTYPE_DS)) {
			*out = (lookup_t){ LOOKUP_DELEG, node };
			return;
		}
		if ((node->flags & ZONE_NODE_DNAME) && !last) {
			*out = (lookup_t){ LOOKUP_DNAME, node };
			return;
		}
		encloser = node;
		if (last) {
			*out = (lookup_t){ LOOKUP_FOUND, node };
			return;
		}
	}
	if (labels == zone->apex->labels) {
		*out = (lookup_t){ LOOKUP_FOUND, zone->apex };
		return;
	}
	const zone_node_t *wild = find_wildcard(zone, encloser);
	*out = wild ? (lookup_t){ LOOKUP_WILDCARD, wild } : (lookup_t){ LOOKUP_NXDOMAIN, encloser };
}

/* Put an RRset into the current section. Returns the libknot code. */
static int put(engine_ctx_t *ctx, const knot_dname_t *owner, uint16_t hint,
               uint16_t type, uint32_t ttl, const knot_rdataset_t *rrs, uint16_t flags)
{
	knot_rrset_t rr;
	knot_rrset_init(&rr, (knot_dname_t *)owner, type, KNOT_CLASS_IN, ttl);
	rr.rrs = *rrs;
	return knot_pkt_put(ctx->resp, hint, &rr, flags);
}

static int put_rrset(engine_ctx_t *ctx, const knot_dname_t *owner, uint16_t hint,
                     const zone_rrset_t *rs)
{
	return put(ctx, owner, hint, rs->type, rs->ttl, &rs->rrs, 0);
}

/* The client policies answer for: the trusted ECS subnet (set while
 * parsing EDNS) or the packet source, computed on first use only. */
static const policy_addr_t *client_of(engine_ctx_t *ctx)
{
	if (!ctx->client_set) {
		policy_addr_from_sockaddr(ctx->q->remote, &ctx->client);
		ctx->client_set = true;
	}
	return &ctx->client;
}

/* Records a policy chose, copied contiguously into the arena in the order
 * chosen (multivalue shuffles: no canonical sort). False when the policy
 * chose nothing (fail-closed with nothing healthy). An alias asked for its
 * own type answers its record. */
bool engine_policy_rrs(engine_ctx_t *ctx, const zone_t *zone, const zone_node_t *node,
                       const zone_rrset_t *rs, knot_rdataset_t *out)
{
	const policy_t *p = policy_zone_find(zone, node, rs->type);
	if (p == NULL || policy_alias_target(p) != NULL) {
		*out = rs->rrs;
		return true;
	}
	const policy_health_t *health = ctx->conf->health == NULL ? NULL :
		__atomic_load_n(ctx->conf->health, __ATOMIC_ACQUIRE);
	policy_rng_t *rng = ctx->q->rng != NULL ? ctx->q->rng : policy_rng_thread();
	policy_answer_t a;
	policy_eval(p, health, client_of(ctx), rng, &a);
	if (ctx->ecs_trusted && a.scope > ctx->ecs_scope) {
		ctx->ecs_scope = a.scope;
	}
	size_t size = 0;
	for (unsigned i = 0; i < a.count; i++) {
		size += knot_rdata_size(a.rdata[i]->len);
	}
	uint8_t *buf = a.count > 0 ? ctx->mm.alloc(ctx->mm.ctx, size) : NULL;
	if (buf == NULL) {
		return false;
	}
	*out = (knot_rdataset_t){ .count = (uint16_t)a.count, .size = (uint32_t)size,
	                          .rdata = (knot_rdata_t *)buf };
	for (unsigned i = 0; i < a.count; i++) {
		size_t len = knot_rdata_size(a.rdata[i]->len);
		memcpy(buf, a.rdata[i], len);
		buf += len;
	}
	return true;
}

/* A service answer (docs/services.md): at most N of the instances'
 * addresses, in an order drawn per query. The test costs nothing for an
 * RRset of one record, and one name lookup otherwise; the records chosen
 * go to the arena, contiguously, as policy answers do. */
static void service_rrs(engine_ctx_t *ctx, const zone_node_t *node, uint16_t type,
                        knot_rdataset_t *rrs)
{
	if ((type != KNOT_RRTYPE_A && type != KNOT_RRTYPE_AAAA) || rrs->count < 2 ||
	    ctx->conf->services == NULL) {
		return;
	}
	const registry_view_t *view = __atomic_load_n(ctx->conf->services, __ATOMIC_ACQUIRE);
	if (view == NULL || !registry_view_has(view, node->owner, node->owner_size)) {
		return;
	}
	unsigned max = registry_view_answer_max(view);
	size_t room = (size_t)max * knot_rdata_size(rrs->rdata->len);
	uint8_t *buf = ctx->mm.alloc(ctx->mm.ctx, room);
	policy_rng_t *rng = ctx->q->rng != NULL ? ctx->q->rng : policy_rng_thread();
	knot_rdataset_t chosen;
	if (buf != NULL && registry_view_pick(rrs, max, rng, buf, room, &chosen) == 0) {
		*rrs = chosen;
	}
}

/* Compression hint of the n-th RDATA name of the RRset written last. */
static uint16_t last_rdata_hint(const engine_ctx_t *ctx, uint16_t n)
{
	const knot_pkt_t *resp = ctx->resp;
	return knot_compr_hint(&resp->rr_info[resp->rrset_count - 1],
	                       KNOT_COMPR_HINT_RDATA + n);
}

/* Negative answer (RFC 2308 3, 5): the SOA in authority, TTL capped by
 * its MINIMUM field. */
static void put_negative(engine_ctx_t *ctx, const zone_t *zone)
{
	const zone_rrset_t *soa = zone->soa;
	uint32_t minimum = knot_soa_minimum(soa->rrs.rdata);
	uint32_t ttl = soa->ttl < minimum ? soa->ttl : minimum;
	if (knot_pkt_begin(ctx->resp, KNOT_AUTHORITY) != KNOT_EOK ||
	    put(ctx, zone_apex(zone), KNOT_COMPR_HINT_NONE, KNOT_RRTYPE_SOA, ttl,
	        &soa->rrs, 0) != KNOT_EOK) {
		engine_truncate(ctx);
	}
}

/* A/AAAA of a target name into the additional section. Returns false when
 * they did not fit. Only data the zone is authoritative for, or glue for
 * names below glue_cut, the delegation being answered. */
static bool put_addresses(engine_ctx_t *ctx, const knot_dname_t *target, uint16_t hint,
                          const zone_node_t *glue_cut)
{
	knot_dname_storage_t lower;
	zone_name_lower(lower, target);
	const zone_t *zone = zone_set_find(ctx->zones, lower, false);
	if (zone == NULL) {
		return true;
	}
	const zone_node_t *node;
	if (glue_cut != NULL && knot_dname_in_bailiwick(lower, glue_cut->owner) > 0) {
		node = zone_find(zone, lower);
	} else {
		lookup_t l;
		engine_zone_lookup(zone, lower, KNOT_RRTYPE_A, &l);
		node = l.kind == LOOKUP_FOUND ? l.node : NULL;
	}
	if (node == NULL) {
		return true;
	}
	static const uint16_t types[] = { KNOT_RRTYPE_A, KNOT_RRTYPE_AAAA };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const zone_rrset_t *rs = zone_node_rrset(node, types[i]);
		knot_rdataset_t rrs;
		uint32_t ttl = rs != NULL ? rs->ttl : 0;
		bool have = rs != NULL ? engine_node_rrs(ctx, zone, node, rs, &rrs) :
		            (node->flags & ZONE_NODE_POLICY) &&
		            engine_alias_rrs(ctx, zone, node, types[i], &rrs, &ttl) ==
		            ENGINE_ALIAS_DATA;
		if (have && put(ctx, target, hint, types[i], ttl, &rrs,
		                KNOT_PF_NOTRUNC | KNOT_PF_CHECKDUP) != KNOT_EOK) {
			return false;
		}
	}
	return true;
}

static const knot_dname_t *target_of(uint16_t type, const knot_rdata_t *rd)
{
	switch (type) {
	case KNOT_RRTYPE_NS:  return knot_ns_name(rd);
	case KNOT_RRTYPE_MX:  return knot_mx_name(rd);
	case KNOT_RRTYPE_SRV: return knot_srv_name(rd);
	default:              return NULL;
	}
}

/* Additional section processing (RFC 1034 4.3.2 step 6) for every RRset
 * written so far. Referral glue under the cut is required (RFC 9471): if
 * it does not fit, the answer is marked truncated. */
static void put_additionals(engine_ctx_t *ctx, const zone_node_t *cut)
{
	if (knot_pkt_begin(ctx->resp, KNOT_ADDITIONAL) != KNOT_EOK) {
		return;
	}
	uint16_t written = ctx->resp->rrset_count;
	for (uint16_t i = 0; i < written; i++) {
		const knot_rrset_t *rr = &ctx->resp->rr[i];
		const knot_rdata_t *rd = rr->rrs.rdata;
		for (uint16_t r = 0; r < rr->rrs.count; r++, rd = knot_rdataset_next((knot_rdata_t *)rd)) {
			const knot_dname_t *target = target_of(rr->type, rd);
			if (target == NULL) {
				break;
			}
			uint16_t hint = knot_compr_hint(&ctx->resp->rr_info[i],
			                                KNOT_COMPR_HINT_RDATA + r);
			if (!put_addresses(ctx, target, hint, cut)) {
				bool required = cut != NULL &&
				                knot_dname_in_bailiwick(target, cut->owner) > 0;
				if (required) {
					knot_wire_set_tc(ctx->resp->wire);
				}
				return;
			}
		}
	}
}

/* Referral: the cut's NS in authority, no AA (RFC 1034 4.3.2 3b). The DS
 * of a signed delegation (RFC 4035 3.1.4) comes with DNSSEC signing; an
 * unsigned zone has no RRSIGs to go with it, so it is left out, as NSD and
 * Knot DNS do. */
static void put_referral(engine_ctx_t *ctx, const zone_node_t *cut)
{
	const zone_rrset_t *ns = zone_node_rrset(cut, KNOT_RRTYPE_NS);
	if (knot_pkt_begin(ctx->resp, KNOT_AUTHORITY) != KNOT_EOK ||
	    put_rrset(ctx, cut->owner, KNOT_COMPR_HINT_NONE, ns) != KNOT_EOK) {
		engine_truncate(ctx);
		return;
	}
	put_additionals(ctx, cut);
}

/* DNAME (RFC 6672 2.2, 3.1): the DNAME and a CNAME synthesized for the
 * current name; the step moves to the new name. False ends the chain. */
static bool put_dname(engine_ctx_t *ctx, const zone_node_t *node, step_t *step)
{
	const zone_rrset_t *dname = zone_node_rrset(node, KNOT_RRTYPE_DNAME);
	const knot_dname_t *target = knot_dname_target(dname->rrs.rdata);
	knot_dname_t *synth = knot_dname_replace_suffix(step->name, node->labels,
	                                                target, &ctx->mm);
	if (put_rrset(ctx, node->owner, KNOT_COMPR_HINT_NONE, dname) != KNOT_EOK) {
		engine_truncate(ctx);
		return false;
	}
	if (synth == NULL || knot_dname_size(synth) > KNOT_DNAME_MAXLEN) {
		ctx->rcode = KNOT_RCODE_YXDOMAIN;
		return false;
	}
	uint8_t buf[sizeof(knot_rdata_t) + KNOT_DNAME_MAXLEN];
	knot_rdata_t *rd = (knot_rdata_t *)buf;
	knot_rdata_init(rd, knot_dname_size(synth), synth);
	knot_rdataset_t rrs = { 0 };
	if (knot_rdataset_add(&rrs, rd, &ctx->mm) != KNOT_EOK ||
	    put(ctx, step->name, step->hint, KNOT_RRTYPE_CNAME, dname->ttl, &rrs, 0) != KNOT_EOK) {
		engine_truncate(ctx);
		return false;
	}
	if (ctx->qtype == KNOT_RRTYPE_CNAME) {
		return false;
	}
	step->name = synth;
	step->hint = last_rdata_hint(ctx, 0);
	return true;
}

/* A or AAAA at a node with an alias (engine_alias.c): the target's
 * records, NODATA or SERVFAIL. False when the node has no alias. */
static bool put_alias(engine_ctx_t *ctx, const zone_t *zone, const zone_node_t *node,
                      const step_t *step)
{
	knot_rdataset_t rrs;
	uint32_t ttl;
	switch (engine_alias_rrs(ctx, zone, node, ctx->qtype, &rrs, &ttl)) {
	case ENGINE_ALIAS_NONE:
		return false;
	case ENGINE_ALIAS_DATA:
		if (put(ctx, step->name, step->hint, ctx->qtype, ttl, &rrs, 0) != KNOT_EOK) {
			engine_truncate(ctx);
		}
		return true;
	case ENGINE_ALIAS_NODATA:
		put_negative(ctx, zone);
		return true;
	case ENGINE_ALIAS_SERVFAIL:
		ctx->rcode = KNOT_RCODE_SERVFAIL;
		if (ctx->conf->aliases == NULL) {
			engine_set_ede(ctx, KNOT_EDNS_EDE_OTHER, "no resolver for ALIAS targets");
		} else {
			engine_set_ede(ctx, KNOT_EDNS_EDE_NREACH_AUTH, "ALIAS target not resolved");
		}
		return true;
	}
	return false;
}

/* The data at a node for the query type: an RRset, minimal ANY, a CNAME
 * to follow (returns true with the step moved on), or NODATA. */
static bool put_node_answer(engine_ctx_t *ctx, const zone_t *zone,
                            const zone_node_t *node, step_t *step)
{
	const zone_rrset_t *rs = NULL;
	knot_rdataset_t rrs;
	if (ctx->qtype == KNOT_RRTYPE_ANY) {
		rs = node->rrset_count > 0 ? &node->rrsets[0] : NULL; /* RFC 8482 */
	} else if (node->flags & ZONE_NODE_CNAME && ctx->qtype != KNOT_RRTYPE_CNAME) {
		const zone_rrset_t *cname = zone_node_rrset(node, KNOT_RRTYPE_CNAME);
		if (!engine_node_rrs(ctx, zone, node, cname, &rrs)) {
			put_negative(ctx, zone);
			return false;
		}
		if (put(ctx, step->name, step->hint, cname->type, cname->ttl, &rrs, 0) != KNOT_EOK) {
			engine_truncate(ctx);
			return false;
		}
		step->name = knot_cname_name(rrs.rdata);
		step->hint = last_rdata_hint(ctx, 0);
		return true;
	} else {
		rs = zone_node_rrset(node, ctx->qtype);
	}
	if (rs == NULL && (node->flags & ZONE_NODE_POLICY) && put_alias(ctx, zone, node, step)) {
		return false;
	}
	if (rs == NULL || !engine_node_rrs(ctx, zone, node, rs, &rrs)) {
		put_negative(ctx, zone);
		return false;
	}
	service_rrs(ctx, node, rs->type, &rrs);
	if (put(ctx, step->name, step->hint, rs->type, rs->ttl, &rrs, 0) != KNOT_EOK) {
		engine_truncate(ctx);
		return false;
	}
	return false;
}

static bool seen_before(const knot_dname_t *const *seen, int count, const knot_dname_t *name)
{
	for (int i = 0; i < count; i++) {
		if (knot_dname_is_equal(seen[i], name)) {
			return true;
		}
	}
	return false;
}

void engine_answer(engine_ctx_t *ctx)
{
	bool ds = ctx->qtype == KNOT_RRTYPE_DS;
	const zone_t *zone = zone_set_find(ctx->zones, ctx->qname_lower, ds);
	if (zone == NULL && ds) {
		zone = zone_set_find(ctx->zones, ctx->qname_lower, false);
	}
	if (zone == NULL) {
		ctx->rcode = KNOT_RCODE_REFUSED;
		return;
	}
	knot_wire_set_aa(ctx->resp->wire);

	step_t step = { .name = ctx->qname, .hint = KNOT_COMPR_HINT_QNAME };
	const knot_dname_t *seen[CHAIN_MAX];
	bool follow = true;
	for (int hop = 0; follow && hop < CHAIN_MAX; hop++) {
		zone_name_lower(step.lower, step.name);
		if (hop > 0) {
			if (seen_before(seen, hop, step.lower)) {
				break; /* CNAME loop: answer with the chain so far */
			}
			zone = zone_set_find(ctx->zones, step.lower, false);
			if (zone == NULL) {
				break; /* the chain leaves our zones; resolvers go on */
			}
		}
		seen[hop] = knot_dname_copy(step.lower, &ctx->mm);
		if (seen[hop] == NULL) {
			ctx->rcode = KNOT_RCODE_SERVFAIL;
			return;
		}
		lookup_t l;
		engine_zone_lookup(zone, step.lower, ctx->qtype, &l);
		switch (l.kind) {
		case LOOKUP_DELEG:
			if (hop == 0) {
				knot_wire_clear_aa(ctx->resp->wire);
			}
			put_referral(ctx, l.node);
			return;
		case LOOKUP_DNAME:
			follow = put_dname(ctx, l.node, &step);
			break;
		case LOOKUP_FOUND:
		case LOOKUP_WILDCARD:
			follow = put_node_answer(ctx, zone, l.node, &step);
			break;
		case LOOKUP_NXDOMAIN:
			ctx->rcode = KNOT_RCODE_NXDOMAIN;
			put_negative(ctx, zone);
			return;
		}
	}
	if (!ctx->truncated) {
		put_additionals(ctx, NULL);
	}
}
