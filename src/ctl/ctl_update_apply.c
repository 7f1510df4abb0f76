/* SPDX-License-Identifier: Apache-2.0
 * ctl_update_apply.c -- RFC 2136 sections 3.2 to 3.4 on an open ctl
 * transaction: prerequisites against the zone as it was, the prescan of the
 * update section, the key's rules, then each change (add to an RRset,
 * delete an RRset, every RRset of a name, or one RR) with the special cases
 * of 3.4.2 (SOA, apex NS, CNAME). Records are compared in canonical form
 * (RFC 4034 6.2). Not for the wire or TSIG (ctl_update.c), nor the
 * prescan of single records (ctl_update_rdata.c).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_update.h"
#include "util/error.h"

#define OK KNOT_RCODE_NOERROR

/* One record of a section, with its owner in lower case. */
typedef uint16_t (*rr_fn_t)(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner,
                            const knot_rrset_t *rr, const knot_rdata_t *rd);

/* fn on every record of a section, in order, until one is not NOERROR. */
static uint16_t each_rr(ctl_upd_t *upd, ctl_txn_t *t, knot_section_t section, rr_fn_t fn)
{
	const knot_pktsection_t *sec = knot_pkt_section(upd->pkt, section);
	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);
		knot_dname_storage_t owner;
		zone_name_lower(owner, rr->owner);
		for (uint16_t j = 0; j < rr->rrs.count; j++) {
			uint16_t rcode = fn(upd, t, owner, rr, knot_rdataset_at(&rr->rrs, j));
			if (rcode != OK) {
				return rcode;
			}
		}
	}
	return OK;
}

static bool in_zone(const ctl_upd_t *upd, const knot_dname_t *owner)
{
	return knot_dname_in_bailiwick(owner, upd->apex) >= 0;
}

static const zone_rrset_t *rrset(ctl_txn_t *t, const knot_dname_t *owner, uint16_t type)
{
	const zone_node_t *node = zone_update_find(ctl_txn_update(t), owner);
	return node != NULL ? zone_node_rrset(node, type) : NULL;
}

/* rd in canonical form, copied into buf. */
static const knot_rdata_t *canonical(uint16_t type, const knot_rdata_t *rd, uint8_t *buf)
{
	knot_rdata_t *copy = (knot_rdata_t *)buf;
	memcpy(copy, rd, knot_rdata_size(rd->len));
	uint8_t root[1] = { 0 };
	knot_rrset_t rr;
	knot_rrset_init(&rr, root, type, KNOT_CLASS_IN, 0);
	rr.rrs = (knot_rdataset_t){ .count = 1, .size = knot_rdata_size(rd->len), .rdata = copy };
	(void)knot_rrset_rr_to_canonical(&rr); /* valid rdata: cannot fail */
	return copy;
}

/* The record of rs equal to rd in canonical form, or NULL. */
static const knot_rdata_t *find_rdata(ctl_upd_t *upd, const zone_rrset_t *rs,
                                      const knot_rdata_t *rd)
{
	if (rs == NULL) {
		return NULL;
	}
	const knot_rdata_t *want = canonical(rs->type, rd, upd->scratch);
	for (uint16_t i = 0; i < rs->rrs.count; i++) {
		const knot_rdata_t *have = knot_rdataset_at(&rs->rrs, i);
		if (knot_rdata_cmp(canonical(rs->type, have, upd->scratch + CTL_UPD_RDATA_BUF),
		                   want) == 0) {
			return have;
		}
	}
	return NULL;
}

/* 3.2.5, first loop: everything but the value-dependent prerequisites. */
static uint16_t prereq(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner,
                       const knot_rrset_t *rr, const knot_rdata_t *rd)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_to_str(name, owner, sizeof(name));
	if (rr->ttl != 0) {
		return ctl_upd_fail(upd, KNOT_RCODE_FORMERR, "prerequisite %s has a TTL", name);
	}
	if (!in_zone(upd, owner)) {
		return ctl_upd_fail(upd, KNOT_RCODE_NOTZONE, "prerequisite %s is outside the zone",
		                    name);
	}
	if (rr->rclass == KNOT_CLASS_IN) {
		return ctl_upd_is_meta(rr->type) ? ctl_upd_fail(upd, KNOT_RCODE_FORMERR,
		                                        "prerequisite %s has a meta type", name) : OK;
	}
	if ((rr->rclass != KNOT_CLASS_ANY && rr->rclass != KNOT_CLASS_NONE) || rd->len != 0) {
		return ctl_upd_fail(upd, KNOT_RCODE_FORMERR, "bad prerequisite for %s", name);
	}
	const zone_node_t *node = zone_update_find(ctl_txn_update(t), owner);
	bool exists = rr->type == KNOT_RRTYPE_ANY ? node != NULL && node->rrset_count > 0 :
	                                           rrset(t, owner, rr->type) != NULL;
	bool want = rr->rclass == KNOT_CLASS_ANY;
	if (exists == want) {
		return OK;
	}
	uint16_t rcode = rr->type == KNOT_RRTYPE_ANY ?
	                 (want ? KNOT_RCODE_NXDOMAIN : KNOT_RCODE_YXDOMAIN) :
	                 (want ? KNOT_RCODE_NXRRSET : KNOT_RCODE_YXRRSET);
	return ctl_upd_fail(upd, rcode, "prerequisite on %s not met", name);
}

static bool same_rrset(const knot_rrset_t *a, const knot_rrset_t *b)
{
	return a->rclass == KNOT_CLASS_IN && b->rclass == KNOT_CLASS_IN &&
	       a->type == b->type && knot_dname_is_case_equal(a->owner, b->owner);
}

/* Whether the zone's RRset equals want, record for record. */
static bool rrset_equal(ctl_upd_t *upd, const zone_rrset_t *rs, const knot_rdataset_t *want)
{
	if (rs == NULL || rs->rrs.count != want->count) {
		return false;
	}
	for (uint16_t i = 0; i < want->count; i++) {
		if (find_rdata(upd, rs, knot_rdataset_at(want, i)) == NULL) {
			return false;
		}
	}
	return true;
}

/* 3.2.5, second loop: each RRset given in full (2.4.2) equals the zone's. */
static uint16_t prereq_values(ctl_upd_t *upd, ctl_txn_t *t)
{
	const knot_pktsection_t *sec = knot_pkt_section(upd->pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);
		bool seen = rr->rclass != KNOT_CLASS_IN;
		for (uint16_t k = 0; !seen && k < i; k++) {
			seen = same_rrset(knot_pkt_rr(sec, k), rr);
		}
		if (seen) {
			continue;
		}
		knot_rdataset_t want = { 0 };
		int rc = KNOT_EOK;
		for (uint16_t k = i; rc == KNOT_EOK && k < sec->count; k++) {
			if (same_rrset(knot_pkt_rr(sec, k), rr)) {
				rc = knot_rdataset_merge(&want, &knot_pkt_rr(sec, k)->rrs, NULL);
			}
		}
		knot_dname_storage_t owner;
		zone_name_lower(owner, rr->owner);
		bool equal = rc == KNOT_EOK && rrset_equal(upd, rrset(t, owner, rr->type), &want);
		knot_rdataset_clear(&want, NULL);
		if (rc != KNOT_EOK) {
			return ctl_upd_fail(upd, KNOT_RCODE_SERVFAIL, "out of memory");
		}
		if (!equal) {
			char name[KNOT_DNAME_TXT_MAXLEN + 1];
			knot_dname_to_str(name, owner, sizeof(name));
			return ctl_upd_fail(upd, KNOT_RCODE_NXRRSET,
			                    "prerequisite RRset at %s differs from the zone's", name);
		}
	}
	return OK;
}

static uint16_t prescan(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner,
                        const knot_rrset_t *rr, const knot_rdata_t *rd)
{
	(void)t;
	return ctl_upd_prescan(upd, owner, rr, rd);
}

static uint16_t allowed(ctl_upd_t *upd, const knot_dname_t *owner, uint16_t type)
{
	if (ctl_key_allows(&upd->key, upd->apex, owner, type)) {
		return OK;
	}
	char name[KNOT_DNAME_TXT_MAXLEN + 1], tname[32];
	knot_dname_to_str(name, owner, sizeof(name));
	knot_rrtype_to_string(type, tname, sizeof(tname));
	return ctl_upd_fail(upd, KNOT_RCODE_REFUSED, "key %s may not change %s %s",
	                    upd->key.name, name, tname);
}

/* 3.3: the key's rules (a name's every RRset: checked per type when applied). */
static uint16_t authorize(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner,
                          const knot_rrset_t *rr, const knot_rdata_t *rd)
{
	(void)t;
	(void)rd;
	return rr->type == KNOT_RRTYPE_ANY ? OK : allowed(upd, owner, rr->type);
}

static uint16_t touch(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner, uint16_t type)
{
	int rc = ctl_txn_touch(t, owner, type);
	if (rc == CIRRUS_EEXIST) {
		return ctl_upd_fail(upd, KNOT_RCODE_REFUSED, "a routing policy holds this "
		                    "name and type");
	}
	if (rc != 0) {
		return ctl_upd_fail(upd, KNOT_RCODE_SERVFAIL, "out of memory");
	}
	upd->changes++;
	return OK;
}

/* The rcode for a zone_update_* result. */
static uint16_t updated(ctl_upd_t *upd, ctl_txn_t *t, int rc)
{
	if (rc == CIRRUS_EINVAL) {
		return ctl_upd_fail(upd, KNOT_RCODE_REFUSED, "%s",
		                    zone_update_error(ctl_txn_update(t)));
	}
	return rc == 0 ? OK : ctl_upd_fail(upd, KNOT_RCODE_SERVFAIL, "out of memory");
}

/* The RRset owner/type becomes the one record rd. */
static uint16_t replace(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner,
                        const knot_rrset_t *rr, const knot_rdata_t *rd)
{
	uint16_t rcode = touch(upd, t, owner, rr->type);
	knot_rdataset_t one = { .count = 1, .size = knot_rdata_size(rd->len),
	                        .rdata = (knot_rdata_t *)rd };
	return rcode != OK ? rcode : updated(upd, t, zone_update_put_rrset(ctl_txn_update(t),
	                                     owner, rr->type, rr->ttl, &one));
}

/* 3.4.2.2: add, ignoring what the RFC ignores. */
static uint16_t add_rr(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner,
                       const knot_rrset_t *rr, const knot_rdata_t *rd)
{
	zone_update_t *u = ctl_txn_update(t);
	const zone_node_t *node = zone_update_find(u, owner);
	const zone_rrset_t *rs = node != NULL ? zone_node_rrset(node, rr->type) : NULL;
	switch (rr->type) {
	case KNOT_RRTYPE_SOA:
		/* only a newer serial (RFC 1982) replaces the SOA */
		if (!knot_dname_is_equal(owner, upd->apex) ||
		    (int32_t)(knot_soa_serial(rd) - zone_update_serial(u)) <= 0) {
			return OK;
		}
		return replace(upd, t, owner, rr, rd);
	case KNOT_RRTYPE_CNAME:
	case KNOT_RRTYPE_DNAME:
		/* singletons: replaced; next to data they may not share a name with: ignored */
		if (rs != NULL) {
			return find_rdata(upd, rs, rd) ? OK : replace(upd, t, owner, rr, rd);
		}
		if (node != NULL && (rr->type == KNOT_RRTYPE_CNAME ? node->rrset_count > 0 :
		                     zone_node_rrset(node, KNOT_RRTYPE_CNAME) != NULL)) {
			return OK; /* RFC 2136 3.4.2.2, RFC 6672 5.2 */
		}
		break;
	default:
		if ((node != NULL && zone_node_rrset(node, KNOT_RRTYPE_CNAME) != NULL) ||
		    find_rdata(upd, rs, rd) != NULL) {
			return OK; /* data next to a CNAME, or a record already there */
		}
	}
	uint16_t rcode = touch(upd, t, owner, rr->type);
	return rcode != OK ? rcode :
	       updated(upd, t, zone_update_add_rr(u, owner, rr->type, rr->ttl, rd));
}

static bool apex_guarded(const ctl_upd_t *upd, const knot_dname_t *owner, uint16_t type)
{
	return (type == KNOT_RRTYPE_SOA || type == KNOT_RRTYPE_NS) &&
	       knot_dname_is_equal(owner, upd->apex);
}

/* 3.4.2.3: delete an RRset (never the apex SOA or NS). */
static uint16_t remove_rrset(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner,
                             uint16_t type)
{
	if (apex_guarded(upd, owner, type) || rrset(t, owner, type) == NULL) {
		return OK;
	}
	uint16_t rcode = touch(upd, t, owner, type);
	return rcode != OK ? rcode : updated(upd, t, zone_update_put_rrset(ctl_txn_update(t),
	                                     owner, type, 0, NULL));
}

/* 3.4.2.3: delete every RRset of a name; the key must cover each type. */
static uint16_t remove_name(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner)
{
	const zone_node_t *node = zone_update_find(ctl_txn_update(t), owner);
	if (node == NULL || node->rrset_count == 0) {
		return OK;
	}
	size_t count = node->rrset_count;
	uint16_t *types = malloc(count * sizeof(*types));
	if (types == NULL) {
		return ctl_upd_fail(upd, KNOT_RCODE_SERVFAIL, "out of memory");
	}
	for (size_t i = 0; i < count; i++) {
		types[i] = node->rrsets[i].type; /* node changes as RRsets go */
	}
	uint16_t rcode = OK;
	for (size_t i = 0; rcode == OK && i < count; i++) {
		if (!apex_guarded(upd, owner, types[i])) {
			rcode = allowed(upd, owner, types[i]);
		}
		if (rcode == OK) {
			rcode = remove_rrset(upd, t, owner, types[i]);
		}
	}
	free(types);
	return rcode;
}

/* 3.4.2.4: delete one record (never the SOA, nor the last apex NS). */
static uint16_t remove_rr(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner,
                          uint16_t type, const knot_rdata_t *rd)
{
	const zone_rrset_t *rs = rrset(t, owner, type);
	const knot_rdata_t *have = find_rdata(upd, rs, rd);
	bool apex = knot_dname_is_equal(owner, upd->apex);
	if (have == NULL || (apex && type == KNOT_RRTYPE_SOA) ||
	    (apex && type == KNOT_RRTYPE_NS && rs->rrs.count == 1)) {
		return OK;
	}
	/* the zone's own bytes (the case of names in it may differ from rd's) */
	knot_rdata_t *hold = (knot_rdata_t *)(upd->scratch + 2 * CTL_UPD_RDATA_BUF);
	memcpy(hold, have, knot_rdata_size(have->len));
	uint16_t rcode = touch(upd, t, owner, type);
	return rcode != OK ? rcode : updated(upd, t, zone_update_remove_rr(ctl_txn_update(t),
	                                     owner, type, hold));
}

/* 3.4.2: one change. */
static uint16_t apply(ctl_upd_t *upd, ctl_txn_t *t, const knot_dname_t *owner,
                      const knot_rrset_t *rr, const knot_rdata_t *rd)
{
	switch (rr->rclass) {
	case KNOT_CLASS_IN:
		return add_rr(upd, t, owner, rr, rd);
	case KNOT_CLASS_NONE:
		return remove_rr(upd, t, owner, rr->type, rd);
	default:
		return rr->type == KNOT_RRTYPE_ANY ? remove_name(upd, t, owner) :
		                                    remove_rrset(upd, t, owner, rr->type);
	}
}

uint16_t ctl_upd_apply(ctl_upd_t *upd, ctl_txn_t *t)
{
	uint16_t rcode = each_rr(upd, t, KNOT_ANSWER, prereq);
	if (rcode == OK) {
		rcode = prereq_values(upd, t);
	}
	if (rcode == OK) {
		rcode = each_rr(upd, t, KNOT_AUTHORITY, prescan);
	}
	if (rcode == OK) {
		rcode = each_rr(upd, t, KNOT_AUTHORITY, authorize);
	}
	if (rcode == OK) {
		rcode = each_rr(upd, t, KNOT_AUTHORITY, apply);
	}
	return rcode;
}
