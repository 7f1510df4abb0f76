/* SPDX-License-Identifier: Apache-2.0
 * engine_alias.c -- ALIAS flattening (docs/policies.md): the A or AAAA
 * answer of a name that holds an alias is its target's. A target in a zone
 * we serve is read from the zone set of this very query, so a change to it
 * shows at once: CNAMEs and aliases on the way are followed (a bounded
 * number of hops: a loop ends as NODATA), and the target's own policies
 * choose its records. Any other target is read from the resolver thread's
 * view (policy_alias_view.c), with the TTL it has left. The same serves
 * the additional section when an NS, MX or SRV target holds an alias.
 * Stale answers and SERVFAILs say why in an RFC 8914 Extended DNS Error.
 */
#include "engine/engine_internal.h"

#define ALIAS_HOPS 8   /* CNAMEs and aliases followed from the target */

static uint32_t min_ttl(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static engine_alias_t from_view(engine_ctx_t *ctx, const knot_dname_t *target,
                                uint16_t type, knot_rdataset_t *rrs, uint32_t *ttl)
{
	const policy_alias_view_t *v = ctx->conf->aliases == NULL ? NULL :
		__atomic_load_n(ctx->conf->aliases, __ATOMIC_ACQUIRE);
	uint32_t left = 0;
	bool stale = false;
	policy_alias_status_t status = policy_alias_view_answer(v, target, type,
	                                                        policy_alias_clock_ms(),
	                                                        rrs, &left, &stale);
	if (status != POLICY_ALIAS_UNKNOWN) {
		if (stale) {
			engine_set_ede(ctx, KNOT_EDNS_EDE_STALE, "ALIAS target served stale");
		}
		if (status == POLICY_ALIAS_NODATA) {
			return ENGINE_ALIAS_NODATA;
		}
		*ttl = min_ttl(*ttl, left);
		return ENGINE_ALIAS_DATA;
	}
	return ENGINE_ALIAS_SERVFAIL;
}

/* Where a chain goes on from node: its CNAME's target or its alias's
 * target, written lower case to next. False when it ends here. */
static bool next_name(engine_ctx_t *ctx, const zone_t *zone, const zone_node_t *node,
                      knot_dname_storage_t next, uint32_t *ttl)
{
	const zone_rrset_t *cname = zone_node_rrset(node, KNOT_RRTYPE_CNAME);
	knot_rdataset_t rrs;
	if (cname != NULL && engine_node_rrs(ctx, zone, node, cname, &rrs)) {
		*ttl = min_ttl(*ttl, cname->ttl);
		zone_name_lower(next, knot_cname_name(rrs.rdata));
		return true;
	}
	const policy_t *alias = (node->flags & ZONE_NODE_POLICY) ?
	                        policy_zone_find(zone, node, POLICY_TYPE_ALIAS) : NULL;
	if (alias != NULL) {
		*ttl = min_ttl(*ttl, policy_ttl(alias));
		zone_name_lower(next, policy_alias_target(alias));
		return true;
	}
	return false;
}

engine_alias_t engine_alias_rrs(engine_ctx_t *ctx, const zone_t *zone,
                                const zone_node_t *node, uint16_t type,
                                knot_rdataset_t *rrs, uint32_t *ttl)
{
	const policy_t *p = type == KNOT_RRTYPE_A || type == KNOT_RRTYPE_AAAA ?
	                    policy_zone_find(zone, node, POLICY_TYPE_ALIAS) : NULL;
	if (p == NULL) {
		return ENGINE_ALIAS_NONE;
	}
	*ttl = policy_ttl(p);
	knot_dname_storage_t name;
	zone_name_lower(name, policy_alias_target(p));
	for (int hop = 0; hop < ALIAS_HOPS; hop++) {
		const zone_t *z = zone_set_find(ctx->zones, name, false);
		if (z == NULL) {
			/* Only the alias's own target is resolved upstream; a chain
			 * that leaves the served zones ends here. */
			return hop == 0 ? from_view(ctx, name, type, rrs, ttl) : ENGINE_ALIAS_NODATA;
		}
		lookup_t l;
		engine_zone_lookup(z, name, type, &l);
		if (l.kind != LOOKUP_FOUND && l.kind != LOOKUP_WILDCARD) {
			return ENGINE_ALIAS_NODATA;
		}
		const zone_rrset_t *rs = zone_node_rrset(l.node, type);
		if (rs != NULL) {
			if (!engine_node_rrs(ctx, z, l.node, rs, rrs)) {
				return ENGINE_ALIAS_NODATA; /* a fail-closed policy chose nothing */
			}
			*ttl = min_ttl(*ttl, rs->ttl);
			return ENGINE_ALIAS_DATA;
		}
		if (!next_name(ctx, z, l.node, name, ttl)) {
			return ENGINE_ALIAS_NODATA;
		}
	}
	return ENGINE_ALIAS_NODATA; /* a loop, or too long a chain */
}
