/* SPDX-License-Identifier: Apache-2.0
 * fn_doh.c -- the DoH-specific parts of a request and its answer (RFC 8484):
 * base64url decoding of the `dns` parameter, the content type, the check
 * that a message is a query, and the answer's freshness for Cache-Control.
 * Base64url is decoded here because libknot's base64 decoder takes only the
 * standard alphabet with padding, and GnuTLS's only PEM-style input.
 */
#include <string.h>
#include <strings.h>

#include "fn/fn.h"
#include "util/error.h"

/* Value of a base64url character, or -1. */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

int fn_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_max,
                     size_t *out_len)
{
	/* Tolerate padding: some clients send it although RFC 8484 says not to. */
	size_t pad = 0;
	while (in_len > 0 && in[in_len - 1] == '=' && pad < 2) {
		in_len--;
		pad++;
	}
	if (in_len % 4 == 1 || (pad > 0 && (in_len + pad) % 4 != 0)) {
		return CIRRUS_EINVAL;
	}
	size_t need = in_len / 4 * 3 + (in_len % 4 ? in_len % 4 - 1 : 0);
	if (need > out_max) {
		return CIRRUS_ESPACE;
	}
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < in_len; i++) {
		int v = b64url_value((unsigned char)in[i]);
		if (v < 0) {
			return CIRRUS_EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero, so each message has one encoding. */
	if ((acc & ((1u << bits) - 1)) != 0) {
		return CIRRUS_EINVAL;
	}
	*out_len = n;
	return 0;
}

bool fn_doh_content_type_ok(const char *ct)
{
	static const char type[] = "application/dns-message";
	if (ct == NULL || strncasecmp(ct, type, sizeof(type) - 1) != 0) {
		return false;
	}
	ct += sizeof(type) - 1;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

int fn_doh_check_query(const uint8_t *msg, size_t len, const char **reason)
{
	if (len < KNOT_WIRE_HEADER_SIZE) {
		*reason = "the message is shorter than a DNS header";
		return CIRRUS_EINVAL;
	}
	if (knot_wire_get_qr(msg)) {
		*reason = "the message is a response (QR=1), not a query";
		return CIRRUS_EINVAL;
	}
	if (knot_wire_get_opcode(msg) != KNOT_OPCODE_QUERY) {
		*reason = "only standard queries (opcode QUERY) are answered over HTTP";
		return CIRRUS_EINVAL;
	}
	return 0;
}

/* Lowest TTL in a section; OPT, TSIG and SIG(0) are not cached data. */
static void section_min(const knot_pktsection_t *sec, uint32_t *min, bool *any)
{
	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);
		if (rr->type == KNOT_RRTYPE_OPT || rr->type == KNOT_RRTYPE_TSIG ||
		    rr->type == KNOT_RRTYPE_SIG) {
			continue;
		}
		if (!*any || rr->ttl < *min) {
			*min = rr->ttl;
		}
		*any = true;
	}
}

/* Whether a SOA RDATA holds two names and the five numbers: libknot's
 * parser leaves a short one to its accessors, which read past it. */
static bool soa_complete(const knot_rdata_t *rd)
{
	const uint8_t *p = rd->data, *end = rd->data + rd->len;
	for (int i = 0; i < 2; i++) {
		int size = knot_dname_wire_check(p, end, NULL);
		if (size <= 0) {
			return false;
		}
		p += size;
	}
	return end - p >= 20;
}

/* RFC 2308 5: a negative answer is cached for min(SOA TTL, SOA MINIMUM). */
static void negative_min(const knot_pktsection_t *auth, uint32_t *min)
{
	for (uint16_t i = 0; i < auth->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(auth, i);
		if (rr->type == KNOT_RRTYPE_SOA && rr->rrs.count > 0 &&
		    soa_complete(rr->rrs.rdata)) {
			uint32_t minimum = knot_soa_minimum(rr->rrs.rdata);
			if (minimum < *min) {
				*min = minimum;
			}
		}
	}
}

bool fn_cache_ttl(const uint8_t *answer, size_t len, uint32_t *ttl)
{
	knot_pkt_t *pkt = knot_pkt_new((void *)answer, len, NULL);
	if (pkt == NULL) {
		return false;
	}
	bool any = false;
	uint32_t min = 0;
	if (knot_pkt_parse(pkt, 0) == KNOT_EOK) {
		section_min(knot_pkt_section(pkt, KNOT_ANSWER), &min, &any);
		bool negative = !any;
		section_min(knot_pkt_section(pkt, KNOT_AUTHORITY), &min, &any);
		section_min(knot_pkt_section(pkt, KNOT_ADDITIONAL), &min, &any);
		if (negative && any) {
			negative_min(knot_pkt_section(pkt, KNOT_AUTHORITY), &min);
		}
	}
	knot_pkt_free(pkt);
	*ttl = min;
	return any;
}
