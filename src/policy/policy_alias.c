/* SPDX-License-Identifier: Apache-2.0
 * policy_alias.c -- ALIAS policies (docs/policies.md): the checks of an
 * alias's spec and of its place in the zone, its target, and the list of
 * targets outside the served zones that the resolver thread resolves. Answering
 * is the engine's (engine_alias.c); resolving is alias/'s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"
#include "util/error.h"

/* Keys of a rule mean nothing to an alias: refuse them rather than drop
 * them silently. */
static const char *stray_key(const policy_spec_t *spec)
{
	return spec->rule != NULL ? "rule" : spec->endpoint_count > 0 ? "endpoints" :
	       spec->pick != 0 ? "pick" : spec->map != NULL ? "map" :
	       spec->mmdb != NULL ? "mmdb" : spec->latency != NULL ? "latency" :
	       spec->fail != NULL ? "fail" : NULL;
}

int policy_alias_compile(policy_errbuf_t *e, const policy_spec_t *spec,
                         const knot_dname_t *origin, policy_t *p)
{
	const char *stray = stray_key(spec);
	if (stray != NULL) {
		return policy_fail(e, spec->line, "'%s' does not apply to an ALIAS, which "
		                   "names only a 'target' (and a 'ttl')", stray);
	}
	knot_dname_storage_t target;
	size_t size = spec->target != NULL ? zone_name_parse(target, spec->target, origin) : 0;
	if (size == 0) {
		return policy_fail(e, spec->line, "an ALIAS needs a 'target' that is a domain "
		                   "name, not '%s'", spec->target ? spec->target : "(missing)");
	}
	if (knot_dname_is_equal(target, p->owner)) {
		return policy_fail(e, spec->line, "an ALIAS cannot name its own owner as target");
	}
	if ((p->alias = malloc(knot_rdata_size(size))) == NULL) {
		return CIRRUS_ENOMEM;
	}
	knot_rdata_init(p->alias, (uint16_t)size, target);
	return 0;
}

const knot_dname_t *policy_alias_target(const policy_t *p)
{
	return p->alias != NULL ? p->alias->data : NULL;
}

static bool is_address(uint16_t type)
{
	return type == KNOT_RRTYPE_A || type == KNOT_RRTYPE_AAAA;
}

int policy_alias_check_node(const policy_t *p, const zone_node_t *node, char *err,
                            size_t errlen)
{
	if (node == NULL) {
		return 0;
	}
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_to_str(name, p->owner, sizeof(name));
	if (p->alias != NULL && (zone_node_rrset(node, KNOT_RRTYPE_A) != NULL ||
	                         zone_node_rrset(node, KNOT_RRTYPE_AAAA) != NULL)) {
		snprintf(err, errlen, "ALIAS at %s: the name has A or AAAA records (static or "
		         "a policy), which the alias would answer instead", name);
		return CIRRUS_EINVAL;
	}
	if (is_address(p->type) && zone_node_rrset(node, POLICY_TYPE_ALIAS) != NULL) {
		snprintf(err, errlen, "policy at %s: the name has an ALIAS, which answers A and "
		         "AAAA there", name);
		return CIRRUS_EINVAL;
	}
	return 0;
}

static bool listed(knot_dname_t *const *names, size_t n, const knot_dname_t *name)
{
	for (size_t i = 0; i < n; i++) {
		if (knot_dname_is_equal(names[i], name)) {
			return true;
		}
	}
	return false;
}

/* Add the outside targets of one zone's aliases to *out. */
static int zone_targets(const zone_t *zone, const zone_set_t *served, knot_dname_t ***out,
                        size_t *n)
{
	policy_t *const *list;
	size_t count = policy_zone_policies(zone, &list);
	for (size_t i = 0; i < count; i++) {
		const knot_dname_t *target = policy_alias_target(list[i]);
		if (target == NULL || knot_dname_in_bailiwick(target, zone_apex(zone)) >= 0 ||
		    (served != NULL && zone_set_find(served, target, false) != NULL) ||
		    listed(*out, *n, target)) {
			continue;
		}
		knot_dname_t **grown = realloc(*out, (*n + 1) * sizeof(*grown));
		if (grown == NULL) {
			return CIRRUS_ENOMEM;
		}
		*out = grown;
		if ((grown[*n] = knot_dname_copy(target, NULL)) == NULL) {
			return CIRRUS_ENOMEM;
		}
		(*n)++;
	}
	return 0;
}

int policy_alias_targets(zone_t *const *zones, size_t count, const zone_set_t *served,
                         knot_dname_t ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int r = 0;
	for (size_t i = 0; r == 0 && i < count; i++) {
		r = zones[i] != NULL ? zone_targets(zones[i], served, out, n) : 0;
	}
	if (r != 0) {
		for (size_t i = 0; i < *n; i++) {
			free((*out)[i]);
		}
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return r;
}
