/* SPDX-License-Identifier: Apache-2.0
 * ctl_update_rdata.c -- the prescan of each update record (RFC 2136
 * 3.4.1.3), and which records an UPDATE may add, checked in wire form
 * before they reach the zone. libknot's packet parser checks fixed fields
 * and names, but takes an opaque "remainder" for many types whose fields
 * its presentation code (audit, journal, export) then trusts: a DS of two
 * bytes or a TXT whose string length runs past the end would be read out
 * of bounds there. Types with such a remainder are accepted only when their
 * layout is checked here; the rest are refused, and so are the DNSSEC
 * records a signer maintains.
 */
#include "ctl/ctl_update.h"

#define TYPE_MAILB 253
#define TYPE_MAILA 254

/* A layout: fixed-size fields, then what fills the rest. */
typedef enum {
	REST_SOME,      /*!< at least one byte */
	REST_STRINGS,   /*!< one or more <character-string>s */
	REST_TWO_STRINGS,
	REST_CAA,       /*!< tag length (1..255), tag, value */
	REST_LOC,       /*!< nothing more; version 0, sizes in range (RFC 1876) */
} rest_t;

typedef struct layout {
	uint16_t type;
	uint8_t fixed;  /*!< bytes of fixed-size fields first */
	rest_t rest;
} layout_t;

static const layout_t layouts[] = {
	{ KNOT_RRTYPE_HINFO, 0, REST_TWO_STRINGS },
	{ KNOT_RRTYPE_TXT, 0, REST_STRINGS },
	{ KNOT_RRTYPE_SPF, 0, REST_STRINGS },
	{ KNOT_RRTYPE_KEY, 4, REST_SOME },         /* flags, protocol, algorithm, key */
	{ KNOT_RRTYPE_CERT, 5, REST_SOME },        /* type, key tag, algorithm, data */
	{ KNOT_RRTYPE_DS, 4, REST_SOME },          /* key tag, algorithm, digest type */
	{ KNOT_RRTYPE_CDS, 4, REST_SOME },
	{ KNOT_RRTYPE_SSHFP, 2, REST_SOME },       /* algorithm, type, fingerprint */
	{ KNOT_RRTYPE_DNSKEY, 4, REST_SOME },      /* flags, protocol, algorithm, key */
	{ KNOT_RRTYPE_CDNSKEY, 4, REST_SOME },
	{ KNOT_RRTYPE_DHCID, 0, REST_SOME },
	{ KNOT_RRTYPE_TLSA, 3, REST_SOME },        /* usage, selector, matching type */
	{ KNOT_RRTYPE_SMIMEA, 3, REST_SOME },
	{ KNOT_RRTYPE_OPENPGPKEY, 0, REST_SOME },
	{ KNOT_RRTYPE_URI, 4, REST_SOME },         /* priority, weight, target */
	{ KNOT_RRTYPE_CAA, 1, REST_CAA },          /* flags, then tag and value */
	{ KNOT_RRTYPE_LOC, 16, REST_LOC },         /* sized by the parser, not checked */
};

static bool strings_ok(const uint8_t *p, size_t len, size_t want)
{
	size_t count = 0;
	while (len > 0) {
		size_t size = 1 + (size_t)p[0];
		if (size > len) {
			return false;
		}
		p += size;
		len -= size;
		count++;
	}
	return want ? count == want : count > 0;
}

/* A LOC size or precision: mantissa and exponent 0..9. */
static bool loc_size_ok(uint8_t b)
{
	return (b >> 4) <= 9 && (b & 0x0f) <= 9;
}

/* Whether the len bytes after the fixed fields fit; LOC checks its fixed ones. */
static bool rest_ok(rest_t rest, const uint8_t *data, uint8_t fixed, size_t len)
{
	const uint8_t *p = data + fixed;
	switch (rest) {
	case REST_SOME:
		return len > 0;
	case REST_STRINGS:
		return strings_ok(p, len, 0);
	case REST_TWO_STRINGS:
		return strings_ok(p, len, 2);
	case REST_CAA:
		return len >= 1 && p[0] > 0 && (size_t)p[0] + 1 <= len;
	case REST_LOC:
		return len == 0 && data[0] == 0 && loc_size_ok(data[1]) && loc_size_ok(data[2]) &&
		       loc_size_ok(data[3]);
	}
	return false;
}

/* Whether libknot's parser checked every byte: no remainder in the layout. */
static bool parser_checked(const knot_rdata_descriptor_t *d)
{
	for (int i = 0; i < KNOT_MAX_RDATA_BLOCKS && d->block_types[i] != KNOT_RDATA_WF_END;
	     i++) {
		if (d->block_types[i] == KNOT_RDATA_WF_REMAINDER) {
			return false;
		}
	}
	return true;
}

/* NOERROR, FORMERR (malformed) or REFUSED (a type not added by UPDATE). */
static uint16_t rdata_check(uint16_t type, const knot_rdata_t *rd)
{
	const knot_rdata_descriptor_t *d = knot_get_rdata_descriptor(type);
	if (d->type_name == NULL) {
		/* unknown to libknot: opaque (RFC 3597), shown as \# hex; but an
		 * obsolete type would be read by its old layout */
		return knot_get_obsolete_rdata_descriptor(type)->type_name == NULL ?
		       KNOT_RCODE_NOERROR : KNOT_RCODE_REFUSED;
	}
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		const layout_t *l = &layouts[i];
		if (l->type == type) {
			return rd->len >= l->fixed &&
			       rest_ok(l->rest, rd->data, l->fixed, rd->len - l->fixed) ?
			       KNOT_RCODE_NOERROR : KNOT_RCODE_FORMERR;
		}
	}
	if (parser_checked(d)) {
		return rd->len > 0 ? KNOT_RCODE_NOERROR : KNOT_RCODE_FORMERR;
	}
	return KNOT_RCODE_REFUSED; /* NSEC*, RRSIG, ZONEMD, SVCB, APL, IPSECKEY, ... */
}

bool ctl_upd_is_meta(uint16_t type)
{
	return knot_rrtype_is_metatype(type) || type == KNOT_RRTYPE_AXFR ||
	       type == KNOT_RRTYPE_IXFR || type == TYPE_MAILA || type == TYPE_MAILB;
}

/* 3.4.1.3: every update record is in the zone and well formed. */
uint16_t ctl_upd_prescan(ctl_upd_t *upd, const knot_dname_t *owner,
                         const knot_rrset_t *rr, const knot_rdata_t *rd)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_to_str(name, owner, sizeof(name));
	if (knot_dname_in_bailiwick(owner, upd->apex) < 0) {
		return ctl_upd_fail(upd, KNOT_RCODE_NOTZONE, "%s is outside the zone", name);
	}
	bool meta = ctl_upd_is_meta(rr->type), bad = true;
	switch (rr->rclass) {
	case KNOT_CLASS_IN:
		bad = meta;
		break;
	case KNOT_CLASS_ANY:
		bad = rr->ttl != 0 || rd->len != 0 || (meta && rr->type != KNOT_RRTYPE_ANY);
		break;
	case KNOT_CLASS_NONE:
		bad = rr->ttl != 0 || meta;
		break;
	}
	if (bad) {
		return ctl_upd_fail(upd, KNOT_RCODE_FORMERR, "bad update record for %s", name);
	}
	uint16_t rcode = rr->rclass == KNOT_CLASS_IN ? rdata_check(rr->type, rd) :
	                                              KNOT_RCODE_NOERROR;
	if (rcode != KNOT_RCODE_NOERROR) {
		char tname[32];
		knot_rrtype_to_string(rr->type, tname, sizeof(tname));
		return ctl_upd_fail(upd, rcode, rcode == KNOT_RCODE_REFUSED ?
		                    "%s records cannot be added by UPDATE (%s)" :
		                    "malformed %s record for %s", tname, name);
	}
	return rcode;
}
