/* SPDX-License-Identifier: Apache-2.0
 * alias_message.c -- the query to the upstream resolver and the reading of
 * its answer, through libknot (knot_pkt_parse checks the wire, so nothing
 * here parses network input by hand). Pure: unit tested.
 */
#include <stdio.h>
#include <string.h>

#include "alias/alias.h"
#include "util/error.h"

#define CHAIN_MAX 16   /* CNAMEs followed in one answer */

int alias_query_build(const knot_dname_t *target, uint16_t type, uint16_t id,
                      uint8_t *buf, size_t size, size_t *len)
{
	if (size < KNOT_WIRE_HEADER_SIZE) {
		return CIRRUS_ESPACE;
	}
	memset(buf, 0, KNOT_WIRE_HEADER_SIZE); /* knot_pkt_new keeps a given buffer's header */
	knot_pkt_t *pkt = knot_pkt_new(buf, size, NULL);
	if (pkt == NULL) {
		return CIRRUS_ENOMEM;
	}
	knot_wire_set_id(pkt->wire, id);
	knot_wire_set_rd(pkt->wire);
	int r = knot_pkt_put_question(pkt, target, KNOT_CLASS_IN, type);
	*len = pkt->size;
	knot_pkt_free(pkt);
	return r == KNOT_EOK ? 0 : CIRRUS_ESPACE;
}

static int fail(char *why, size_t size, int code, const char *text)
{
	snprintf(why, size, "%s", text);
	return code;
}

/* Negative TTL (RFC 2308 5): the SOA's TTL capped by its MINIMUM. */
static uint32_t negative_ttl(const knot_pkt_t *pkt)
{
	const knot_pktsection_t *auth = knot_pkt_section(pkt, KNOT_AUTHORITY);
	for (uint16_t i = 0; i < auth->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(auth, i);
		if (rr->type == KNOT_RRTYPE_SOA && rr->rrs.count > 0) {
			uint32_t minimum = knot_soa_minimum(rr->rrs.rdata);
			return rr->ttl < minimum ? rr->ttl : minimum;
		}
	}
	return 0;
}

/* The records of type at name, following CNAMEs; sets out. */
static int read_chain(const knot_pkt_t *pkt, const knot_dname_t *qname, uint16_t type,
                      alias_reply_t *out)
{
	const knot_pktsection_t *ans = knot_pkt_section(pkt, KNOT_ANSWER);
	const knot_dname_t *name = qname;
	uint32_t ttl = UINT32_MAX;
	for (int hop = 0; hop < CHAIN_MAX; hop++) {
		const knot_dname_t *next = NULL;
		for (uint16_t i = 0; i < ans->count; i++) {
			const knot_rrset_t *rr = knot_pkt_rr(ans, i);
			if (rr->rclass != KNOT_CLASS_IN || !knot_dname_is_case_equal(rr->owner, name)) {
				continue;
			}
			if (rr->type == type) {
				knot_rdata_t *rd = rr->rrs.rdata;
				for (uint16_t k = 0; k < rr->rrs.count; k++, rd = knot_rdataset_next(rd)) {
					if (knot_rdataset_add(&out->rrs, rd, NULL) != KNOT_EOK) {
						return CIRRUS_ENOMEM;
					}
				}
				ttl = rr->ttl < ttl ? rr->ttl : ttl;
			} else if (rr->type == KNOT_RRTYPE_CNAME && next == NULL && rr->rrs.count > 0) {
				next = knot_cname_name(rr->rrs.rdata);
				ttl = rr->ttl < ttl ? rr->ttl : ttl;
			}
		}
		if (out->rrs.count > 0) {
			out->status = POLICY_ALIAS_DATA;
			out->ttl = ttl;
			return 0;
		}
		if (next == NULL) {
			break;
		}
		name = next;
	}
	out->status = POLICY_ALIAS_NODATA;
	out->ttl = negative_ttl(pkt);
	return 0;
}

int alias_reply_parse(const uint8_t *query, size_t query_len, const uint8_t *wire,
                      size_t len, alias_reply_t *out, char *why, size_t why_size)
{
	*out = (alias_reply_t){ .status = POLICY_ALIAS_UNKNOWN };
	if (len < KNOT_WIRE_HEADER_SIZE || query_len < KNOT_WIRE_HEADER_SIZE ||
	    !knot_wire_get_qr(wire) || knot_wire_get_id(wire) != knot_wire_get_id(query)) {
		return fail(why, why_size, CIRRUS_EINVAL, "not an answer to our query");
	}
	knot_pkt_t *pkt = knot_pkt_new((uint8_t *)wire, len, NULL);
	if (pkt == NULL) {
		return CIRRUS_ENOMEM;
	}
	int r = 0;
	const knot_dname_t *qname = query + KNOT_WIRE_HEADER_SIZE;
	uint16_t qtype = knot_wire_read_u16(qname + knot_dname_size(qname));
	if (knot_pkt_parse(pkt, 0) != KNOT_EOK) {
		r = fail(why, why_size, CIRRUS_EINVAL, "malformed answer");
	} else if (knot_wire_get_qdcount(wire) != 1 ||
	           !knot_dname_is_case_equal(knot_pkt_qname(pkt), qname) ||
	           knot_pkt_qtype(pkt) != qtype || knot_pkt_qclass(pkt) != KNOT_CLASS_IN) {
		r = fail(why, why_size, CIRRUS_EINVAL, "the answer is to another question");
	} else if (knot_pkt_ext_rcode(pkt) == KNOT_RCODE_NXDOMAIN) {
		out->status = POLICY_ALIAS_NODATA;
		out->ttl = negative_ttl(pkt);
	} else if (knot_pkt_ext_rcode(pkt) != KNOT_RCODE_NOERROR) {
		snprintf(why, why_size, "rcode %s", knot_pkt_ext_rcode_name(pkt));
		r = CIRRUS_EIO;
	} else {
		r = read_chain(pkt, qname, qtype, out);
	}
	knot_pkt_free(pkt);
	if (r != 0) {
		knot_rdataset_clear(&out->rrs, NULL);
		out->status = POLICY_ALIAS_UNKNOWN;
	}
	return r;
}
