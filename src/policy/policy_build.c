/* SPDX-License-Identifier: Apache-2.0
 * policy_build.c -- compiling a policy spec: owner and type checked, each
 * endpoint's RDATA parsed to wire once, CIDR lists put in a trie, every
 * attribute checked against the rule it belongs to. Errors name the
 * configuration line and say what to change.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/policy_internal.h"
#include "util/error.h"

static const char *const rule_names[] = {
	[POLICY_RULE_WEIGHTED] = "weighted", [POLICY_RULE_FAILOVER] = "failover",
	[POLICY_RULE_MULTIVALUE] = "multivalue", [POLICY_RULE_IP] = "ip",
	[POLICY_RULE_GEO] = "geo", [POLICY_RULE_LATENCY] = "latency",
};

const char *policy_rule_name(policy_rule_t rule)
{
	return rule_names[rule];
}

int policy_fail(policy_errbuf_t *e, uint64_t line, const char *fmt, ...)
{
	int n = snprintf(e->text, e->size, "%s:%llu: ", e->file, (unsigned long long)line);
	if (n >= 0 && (size_t)n < e->size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->text + n, e->size - n, fmt, ap);
		va_end(ap);
	}
	return CIRRUS_EINVAL;
}

/* What compiling one rule needs besides its spec. */
typedef struct build {
	policy_errbuf_t *e;
	const knot_dname_t *origin;
	uint16_t type;
} build_t;

static int compile_rule(build_t *b, const policy_spec_t *spec, int depth, policy_node_t **out);

static int parse_rule(build_t *b, const policy_spec_t *spec, policy_rule_t *rule)
{
	for (size_t i = 0; spec->rule != NULL && i < sizeof(rule_names) / sizeof(rule_names[0]); i++) {
		if (strcmp(spec->rule, rule_names[i]) == 0) {
			*rule = (policy_rule_t)i;
			return 0;
		}
	}
	return policy_fail(b->e, spec->line, "rule must be weighted, failover, multivalue, "
	                   "ip, geo or latency, not '%s'", spec->rule ? spec->rule : "(missing)");
}

static int leaf_rdata(build_t *b, const policy_spec_t *spec, policy_item_t *it)
{
	uint8_t *wire = malloc(UINT16_MAX);
	char reason[256];
	uint16_t len = 0;
	if (wire == NULL) {
		return CIRRUS_ENOMEM;
	}
	int r = zone_rdata_parse(b->origin, b->type, spec->rdata, wire, &len, reason,
	                         sizeof(reason));
	if (r == 0 && (it->rdata = malloc(knot_rdata_size(len))) == NULL) {
		r = CIRRUS_ENOMEM;
	} else if (r == 0) {
		knot_rdata_init(it->rdata, len, wire);
	} else if (r == CIRRUS_EINVAL) {
		char type[16];
		knot_rrtype_to_string(b->type, type, sizeof(type));
		r = policy_fail(b->e, spec->line, "rdata '%s' is not a valid %s record: %s",
		                spec->rdata, type, reason);
	}
	free(wire);
	return r;
}

/* Attributes that only some rules read: refuse them elsewhere, so that a
 * typo in the rule name does not silently drop an operator's intent. */
static int check_attributes(build_t *b, policy_rule_t rule, const policy_spec_t *ep)
{
	const char *stray = NULL;
	if (ep->cidrs.n > 0 && rule != POLICY_RULE_IP) {
		stray = "cidrs";
	} else if ((ep->countries.n > 0 || ep->continents.n > 0 || ep->subdivisions.n > 0) &&
	           rule != POLICY_RULE_GEO) {
		stray = ep->countries.n > 0 ? "countries" : ep->continents.n > 0 ? "continents" :
		        "subdivisions";
	} else if (ep->level != 0 && rule != POLICY_RULE_FAILOVER) {
		stray = "level";
	} else if (ep->is_default && rule != POLICY_RULE_IP && rule != POLICY_RULE_GEO &&
	           rule != POLICY_RULE_LATENCY) {
		stray = "default";
	} else if (ep->region != NULL && rule != POLICY_RULE_LATENCY) {
		stray = "region";
	}
	if (stray != NULL) {
		return policy_fail(b->e, ep->line, "'%s' does not apply to the %s rule",
		                   stray, policy_rule_name(rule));
	}
	return 0;
}

static int compile_item(build_t *b, policy_rule_t rule, const policy_spec_t *ep,
                        size_t pos, int depth, policy_item_t *it)
{
	int r = check_attributes(b, rule, ep);
	if (r != 0) {
		return r;
	}
	if ((ep->rdata == NULL) == (ep->rule == NULL)) {
		return policy_fail(b->e, ep->line, "an endpoint needs either 'rdata' or a "
		                   "nested 'rule' (with its own endpoints), not %s",
		                   ep->rdata ? "both" : "neither");
	}
	it->weight = ep->weight;
	it->level = ep->level ? ep->level : (uint32_t)pos + 1;
	if ((ep->health && !(it->health = strdup(ep->health))) ||
	    (ep->region && !(it->region = strdup(ep->region)))) {
		return CIRRUS_ENOMEM;
	}
	if (ep->rdata != NULL) {
		return leaf_rdata(b, ep, it);
	}
	if (depth + 1 >= POLICY_DEPTH_MAX) {
		return policy_fail(b->e, ep->line, "rules nest at most %d deep", POLICY_DEPTH_MAX);
	}
	return compile_rule(b, ep, depth + 1, &it->nested);
}

static int compare_level(const void *a, const void *b)
{
	const policy_item_t *x = a, *y = b;
	return x->level < y->level ? -1 : x->level > y->level;
}

/* Failover: stable sort by level (insertion sort: at most 64 items). */
static void sort_levels(policy_node_t *n)
{
	for (uint16_t i = 1; i < n->item_count; i++) {
		policy_item_t cur = n->items[i];
		uint16_t j = i;
		for (; j > 0 && compare_level(&n->items[j - 1], &cur) > 0; j--) {
			n->items[j] = n->items[j - 1];
		}
		n->items[j] = cur;
	}
}

static int find_default(build_t *b, const policy_spec_t *spec, policy_node_t *n)
{
	for (size_t i = 0; i < spec->endpoint_count; i++) {
		const policy_spec_t *ep = &spec->endpoints[i];
		if (!ep->is_default) {
			continue;
		}
		if (n->default_item >= 0) {
			return policy_fail(b->e, ep->line, "only one endpoint can be the default");
		}
		n->default_item = (int16_t)i;
	}
	return 0;
}

/* ip: every prefix of every endpoint into the trie of its family. */
static int load_cidrs(build_t *b, const policy_spec_t *spec, policy_node_t *n)
{
	for (size_t i = 0; i < spec->endpoint_count; i++) {
		const policy_spec_t *ep = &spec->endpoints[i];
		if (ep->cidrs.n == 0 && !ep->is_default) {
			return policy_fail(b->e, ep->line, "an endpoint of the ip rule needs "
			                   "'cidrs' (or 'default: true' for the fallback)");
		}
		for (size_t c = 0; c < ep->cidrs.n; c++) {
			policy_addr_t a;
			if (policy_cidr_parse(ep->cidrs.v[c], &a) != 0) {
				return policy_fail(b->e, ep->line, "'%s' is not a prefix such as "
				                   "192.0.2.0/24 or 2001:db8::/32 (with no host bits "
				                   "set)", ep->cidrs.v[c]);
			}
			int r = policy_trie_insert(&n->trie[a.family == POLICY_FAMILY_IPV6],
			                           a.bytes, a.prefix, (int32_t)i);
			if (r == CIRRUS_EEXIST) {
				return policy_fail(b->e, ep->line, "prefix %s is listed twice",
				                   ep->cidrs.v[c]);
			}
			if (r != 0) {
				return r;
			}
		}
	}
	return 0;
}

/* Checks and defaults of the rule's own keys (pick, map). */
static int rule_settings(build_t *b, const policy_spec_t *spec, policy_node_t *n)
{
	const char *name = policy_rule_name(n->rule);
	bool picks = n->rule == POLICY_RULE_WEIGHTED || n->rule == POLICY_RULE_MULTIVALUE;
	if (spec->pick != 0 && !picks) {
		return policy_fail(b->e, spec->line, "'pick' does not apply to the %s rule", name);
	}
	if ((spec->map != NULL || spec->mmdb != NULL) && n->rule != POLICY_RULE_GEO) {
		return policy_fail(b->e, spec->line, "'%s' does not apply to the %s rule",
		                   spec->map ? "map" : "mmdb", name);
	}
	if ((spec->latency != NULL || spec->latency_table != NULL) &&
	    n->rule != POLICY_RULE_LATENCY) {
		return policy_fail(b->e, spec->line, "'%s' does not apply to the %s rule",
		                   spec->latency ? "latency" : "latency-table", name);
	}
	if (spec->latency != NULL && spec->latency_table != NULL) {
		return policy_fail(b->e, spec->line, "a latency rule reads 'latency' (a file) or "
		                   "'latency-table' (kept in the store), not both");
	}
	n->pick = spec->pick ? (uint16_t)spec->pick : n->rule == POLICY_RULE_WEIGHTED ? 1 : 8;
	/* pick is the weighted rule's count of answers; for the others it
	 * only caps multivalue, so it does not make them answer several */
	if (b->type == KNOT_RRTYPE_CNAME && (n->rule == POLICY_RULE_MULTIVALUE ||
	                                     (n->rule == POLICY_RULE_WEIGHTED && n->pick > 1))) {
		return policy_fail(b->e, spec->line, "a CNAME answers one target: use "
		                   "weighted with pick 1, failover, ip or geo");
	}
	if (n->rule == POLICY_RULE_WEIGHTED && n->pick > n->item_count) {
		return policy_fail(b->e, spec->line, "pick %u is more than the %u endpoints",
		                   n->pick, n->item_count);
	}
	if (n->pick > POLICY_ANSWER_MAX) {
		return policy_fail(b->e, spec->line, "pick is at most %d", POLICY_ANSWER_MAX);
	}
	return 0;
}

static int rule_checks(build_t *b, const policy_spec_t *spec, policy_node_t *n)
{
	int r = rule_settings(b, spec, n);
	if (r == 0 && n->rule == POLICY_RULE_WEIGHTED) {
		uint64_t total = 0;
		for (uint16_t i = 0; i < n->item_count; i++) {
			total += n->items[i].weight;
		}
		if (total == 0) {
			r = policy_fail(b->e, spec->line, "every endpoint has weight 0 (drained): "
			                "nothing could answer");
		}
	}
	if (r == 0 && n->rule == POLICY_RULE_FAILOVER) {
		sort_levels(n);
	}
	if (r == 0 && (n->rule == POLICY_RULE_IP || n->rule == POLICY_RULE_GEO ||
	               n->rule == POLICY_RULE_LATENCY)) {
		r = find_default(b, spec, n);
	}
	if (r == 0 && n->rule == POLICY_RULE_IP) {
		r = load_cidrs(b, spec, n);
	}
	if (r == 0 && n->rule == POLICY_RULE_GEO) {
		r = policy_geo_load(n, spec, b->e);
	}
	if (r == 0 && n->rule == POLICY_RULE_LATENCY) {
		r = policy_latency_load(n, spec, b->e);
	}
	return r;
}

static int compile_rule(build_t *b, const policy_spec_t *spec, int depth, policy_node_t **out)
{
	policy_rule_t rule = POLICY_RULE_WEIGHTED; /* set by parse_rule(); GCC -O3 cannot tell */
	int r = parse_rule(b, spec, &rule);
	if (r != 0) {
		return r;
	}
	if (spec->endpoint_count == 0 || spec->endpoint_count > POLICY_ITEMS_MAX) {
		return policy_fail(b->e, spec->line, "a rule needs 1 to %d endpoints, not %zu",
		                   POLICY_ITEMS_MAX, spec->endpoint_count);
	}
	policy_node_t *n = calloc(1, sizeof(*n));
	if (n == NULL || (n->items = calloc(spec->endpoint_count, sizeof(*n->items))) == NULL) {
		free(n);
		return CIRRUS_ENOMEM;
	}
	n->rule = rule;
	n->default_item = -1;
	n->item_count = (uint16_t)spec->endpoint_count;
	for (size_t i = 0; r == 0 && i < spec->endpoint_count; i++) {
		r = compile_item(b, rule, &spec->endpoints[i], i, depth, &n->items[i]);
	}
	if (r == 0) {
		r = rule_checks(b, spec, n);
	}
	if (r != 0) {
		policy_node_free(n);
		return r;
	}
	*out = n;
	return 0;
}

void policy_node_free(policy_node_t *n)
{
	if (n == NULL) {
		return;
	}
	for (uint16_t i = 0; i < n->item_count; i++) {
		free(n->items[i].rdata);
		free(n->items[i].health);
		free(n->items[i].region);
		policy_node_free(n->items[i].nested);
	}
	free(n->items);
	policy_trie_deinit(&n->trie[0]);
	policy_trie_deinit(&n->trie[1]);
	free(n->choices);
	policy_mmdb_free(n->mmdb);
	free(n->orders);
	free(n->region_order);
	free(n);
}

static const struct { const char *name; uint16_t type; } policy_types[] = {
	{ "A", KNOT_RRTYPE_A }, { "AAAA", KNOT_RRTYPE_AAAA }, { "CNAME", KNOT_RRTYPE_CNAME },
	{ "ALIAS", POLICY_TYPE_ALIAS },
};

int policy_type_from_string(const char *text, uint16_t *type)
{
	for (size_t i = 0; text != NULL && i < sizeof(policy_types) / sizeof(policy_types[0]); i++) {
		if (strcasecmp(text, policy_types[i].name) == 0) {
			*type = policy_types[i].type;
			return 0;
		}
	}
	return CIRRUS_EINVAL;
}

const char *policy_type_to_string(uint16_t type)
{
	for (size_t i = 0; i < sizeof(policy_types) / sizeof(policy_types[0]); i++) {
		if (policy_types[i].type == type) {
			return policy_types[i].name;
		}
	}
	return NULL;
}

static int parse_type(policy_errbuf_t *e, const policy_spec_t *spec, uint16_t *type)
{
	if (policy_type_from_string(spec->type, type) == 0) {
		return 0;
	}
	return policy_fail(e, spec->line, "type must be A, AAAA, CNAME or ALIAS, not '%s'",
	                   spec->type ? spec->type : "(missing)");
}

static int policy_head(policy_errbuf_t *e, const policy_spec_t *spec,
                       const knot_dname_t *origin, policy_t *p)
{
	if (spec->name == NULL || zone_name_parse(p->owner, spec->name, origin) == 0) {
		return policy_fail(e, spec->line, "name '%s' is not a domain name",
		                   spec->name ? spec->name : "(missing)");
	}
	if (knot_dname_in_bailiwick(p->owner, origin) < 0) {
		return policy_fail(e, spec->line, "name '%s' is outside the zone", spec->name);
	}
	if (spec->fail != NULL && strcmp(spec->fail, "open") != 0 &&
	    strcmp(spec->fail, "closed") != 0) {
		return policy_fail(e, spec->line, "fail must be open or closed, not '%s'",
		                   spec->fail);
	}
	p->fail_closed = spec->fail != NULL && strcmp(spec->fail, "closed") == 0;
	p->ttl = spec->ttl;
	return parse_type(e, spec, &p->type);
}

int policy_compile(const policy_spec_t *spec, const knot_dname_t *origin,
                   const char *file, policy_t **out, char *err, size_t errlen)
{
	policy_errbuf_t e = { .file = file, .text = err, .size = errlen };
	policy_t *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return CIRRUS_ENOMEM;
	}
	int r = policy_head(&e, spec, origin, p);
	if (r == 0 && p->type == POLICY_TYPE_ALIAS) {
		r = policy_alias_compile(&e, spec, origin, p);
	} else if (r == 0 && spec->target != NULL) {
		r = policy_fail(&e, spec->line, "'target' applies to type ALIAS only");
	} else if (r == 0) {
		build_t b = { .e = &e, .origin = origin, .type = p->type };
		r = compile_rule(&b, spec, 0, &p->root);
	}
	if (r == CIRRUS_ENOMEM) {
		snprintf(err, errlen, "%s:%llu: out of memory", file, (unsigned long long)spec->line);
	}
	if (r != 0) {
		policy_free(p);
		return r;
	}
	*out = p;
	return 0;
}

void policy_ref(policy_t *p)
{
	__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

void policy_free(policy_t *p)
{
	/* refs counts the holders besides the first: 0 here means the last */
	if (p != NULL && __atomic_fetch_sub(&p->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		policy_node_free(p->root);
		free(p->alias);
		free(p);
	}
}

const knot_dname_t *policy_owner(const policy_t *p)
{
	return p->owner;
}

uint16_t policy_type(const policy_t *p)
{
	return p->type;
}

uint32_t policy_ttl(const policy_t *p)
{
	return p->ttl;
}
