/* SPDX-License-Identifier: Apache-2.0
 * fn_json.c -- the JSON API of public resolvers (Google's and Cloudflare's
 * `application/dns-json`): GET /resolve parameters to a DNS query, and a
 * DNS answer to JSON. Records are rendered by libknot's presentation-form
 * printer, so "data" reads as it would in a zone file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "fn/fn.h"
#include "util/error.h"

/* RFC 7871 11.1: without a prefix, a client subnet is truncated to these. */
#define ECS_DEFAULT_V4 24
#define ECS_DEFAULT_V6 56
/* The OPT record's payload: answers come over HTTP, so it limits nothing. */
#define QUERY_PAYLOAD 4096
/* Largest presentation form of one record's data (\DDD quadruples bytes). */
#define DATA_TEXT_MAX (4 * FN_MSG_MAX + 16)

static int bad(char *reason, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *reason, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, len, fmt, ap);
	va_end(ap);
	return CIRRUS_EINVAL;
}

/* A decimal number up to max, digits only. */
static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	errno = 0;
	if (*s < '0' || *s > '9') {
		return false;
	}
	unsigned long v = strtoul(s, &end, 10);
	if (*end != '\0' || errno != 0 || v > max) {
		return false;
	}
	*out = v;
	return true;
}

static int parse_type(const char *s, uint16_t *out, char *reason, size_t len)
{
	unsigned long v;
	if (s == NULL || *s == '\0') {
		*out = KNOT_RRTYPE_A;
		return 0;
	}
	if (parse_uint(s, UINT16_MAX, &v)) {
		*out = (uint16_t)v;
		return 0;
	}
	if (knot_rrtype_from_string(s, out) == 0) {
		return 0;
	}
	return bad(reason, len, "type '%.64s' is not a record type (a number or a"
	           " mnemonic such as AAAA)", s);
}

/* Google's API takes 1/0 and true/false; absent is false. */
static int parse_flag(const char *s, const char *name, bool *out, char *reason,
                      size_t len)
{
	if (s == NULL || *s == '\0' || strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0) {
		*out = false;
		return 0;
	}
	if (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0) {
		*out = true;
		return 0;
	}
	return bad(reason, len, "%s must be 1, 0, true or false, not '%.32s'", name, s);
}

/* "198.51.100.0/24", "2001:db8::/48" or a bare address. */
static int parse_ecs(const char *s, knot_edns_client_subnet_t *ecs, char *reason,
                     size_t len)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	uint8_t raw[16];
	bool v4 = false;
	if (alen < sizeof(addr)) {
		memcpy(addr, s, alen);
		addr[alen] = '\0';
		v4 = inet_pton(AF_INET, addr, raw) == 1;
	}
	if (alen >= sizeof(addr) || (!v4 && inet_pton(AF_INET6, addr, raw) != 1)) {
		return bad(reason, len, "edns_client_subnet '%.64s' is not ADDRESS[/PREFIX]", s);
	}
	unsigned max = v4 ? 32 : 128;
	unsigned long prefix = v4 ? ECS_DEFAULT_V4 : ECS_DEFAULT_V6;
	if (slash != NULL && !parse_uint(slash + 1, max, &prefix)) {
		return bad(reason, len, "edns_client_subnet prefix must be 0 to %u", max);
	}
	memset(ecs, 0, sizeof(*ecs));
	ecs->family = v4 ? 1 : 2;  /* IANA address family numbers */
	ecs->source_len = (uint8_t)prefix;
	memcpy(ecs->address, raw, v4 ? 4 : 16);
	fn_prefix_mask(ecs->address, v4 ? 4 : 16, (unsigned)prefix);
	return 0;
}

int fn_resolve_parse(fn_arg_cb_t arg, void *ctx, fn_resolve_t *out, char *reason,
                     size_t reason_len)
{
	memset(out, 0, sizeof(*out));
	const char *name = arg(ctx, "name");
	if (name == NULL || *name == '\0') {
		return bad(reason, reason_len, "the name parameter is required");
	}
	if (zone_name_parse(out->qname, name, (const knot_dname_t *)"") == 0) {
		return bad(reason, reason_len, "name '%.64s' is not a domain name", name);
	}
	int r = parse_type(arg(ctx, "type"), &out->qtype, reason, reason_len);
	if (r == 0) {
		r = parse_flag(arg(ctx, "do"), "do", &out->dnssec_ok, reason, reason_len);
	}
	if (r == 0) {
		r = parse_flag(arg(ctx, "cd"), "cd", &out->checking_disabled, reason, reason_len);
	}
	const char *ecs = arg(ctx, "edns_client_subnet");
	if (r == 0 && ecs != NULL && *ecs != '\0') {
		r = parse_ecs(ecs, &out->ecs, reason, reason_len);
		out->has_ecs = r == 0;
	}
	return r;
}

/* The OPT record of the query, in wire form, at pos. */
static int write_opt(const fn_resolve_t *r, uint8_t *wire, size_t max, size_t *pos)
{
	uint16_t opt_len = r->has_ecs ? knot_edns_client_subnet_size(&r->ecs) : 0;
	size_t need = 11 + (r->has_ecs ? 4u + opt_len : 0);
	if (max - *pos < need) {
		return CIRRUS_ESPACE;
	}
	uint8_t *p = wire + *pos;
	p[0] = 0;                                       /* owner: root */
	knot_wire_write_u16(p + 1, KNOT_RRTYPE_OPT);
	knot_wire_write_u16(p + 3, QUERY_PAYLOAD);      /* class: payload size */
	knot_wire_write_u32(p + 5, r->dnssec_ok ? 0x8000 : 0);  /* ext rcode, version, DO */
	knot_wire_write_u16(p + 9, (uint16_t)(need - 11));
	if (r->has_ecs) {
		knot_wire_write_u16(p + 11, KNOT_EDNS_OPTION_CLIENT_SUBNET);
		knot_wire_write_u16(p + 13, opt_len);
		if (knot_edns_client_subnet_write(p + 15, opt_len, &r->ecs) != KNOT_EOK) {
			return CIRRUS_ESPACE;
		}
	}
	*pos += need;
	return 0;
}

int fn_resolve_query(const fn_resolve_t *r, uint8_t *wire, size_t max, size_t *len)
{
	size_t qlen = knot_dname_size(r->qname);
	size_t pos = KNOT_WIRE_HEADER_SIZE + qlen + 4;
	if (max < pos) {
		return CIRRUS_ESPACE;
	}
	memset(wire, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_rd(wire);
	if (r->checking_disabled) {
		knot_wire_set_cd(wire);
	}
	knot_wire_set_qdcount(wire, 1);
	memcpy(wire + KNOT_WIRE_HEADER_SIZE, r->qname, qlen);
	knot_wire_write_u16(wire + KNOT_WIRE_HEADER_SIZE + qlen, r->qtype);
	knot_wire_write_u16(wire + KNOT_WIRE_HEADER_SIZE + qlen + 2, KNOT_CLASS_IN);
	if (r->dnssec_ok || r->has_ecs) {
		int rc = write_opt(r, wire, max, &pos);
		if (rc != 0) {
			return rc;
		}
		knot_wire_set_arcount(wire, 1);
	}
	*len = pos;
	return 0;
}

/* {name, type, TTL, data} for one record; NULL when out of memory. */
static json_t *record_json(const knot_rrset_t *rr, char *text)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	if (knot_dname_to_str(name, rr->owner, sizeof(name)) == NULL) {
		name[0] = '\0';
	}
	if (rr->rrs.count == 0 ||
	    knot_rrset_txt_dump_data(rr, 0, text, DATA_TEXT_MAX, &KNOT_DUMP_STYLE_DEFAULT) < 0) {
		text[0] = '\0';
	}
	return json_pack("{s:s, s:i, s:I, s:s}", "name", name, "type", (int)rr->type,
	                 "TTL", (json_int_t)rr->ttl, "data", text);
}

/* A section's records, OPT left out (its content is in the flags). */
static int section_json(json_t *root, const char *key, const knot_pktsection_t *sec,
                        char *text)
{
	json_t *list = json_array();
	if (list == NULL || json_object_set_new(root, key, list) != 0) {
		return CIRRUS_ENOMEM;
	}
	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);
		if (rr->type == KNOT_RRTYPE_OPT) {
			continue;
		}
		if (json_array_append_new(list, record_json(rr, text)) != 0) {
			return CIRRUS_ENOMEM;
		}
	}
	if (json_array_size(list) == 0) {
		json_object_del(root, key);  /* as Google: absent rather than empty */
	}
	return 0;
}

/* Status, the flags and Question. */
static json_t *header_json(const knot_pkt_t *pkt)
{
	const uint8_t *w = pkt->wire;
	char qname[KNOT_DNAME_TXT_MAXLEN + 1] = ".";
	if (knot_pkt_qname(pkt) != NULL) {
		knot_dname_to_str(qname, knot_pkt_qname(pkt), sizeof(qname));
	}
	return json_pack("{s:i, s:b, s:b, s:b, s:b, s:b, s:[{s:s, s:i}]}",
	                 "Status", (int)knot_pkt_ext_rcode(pkt),
	                 "TC", knot_wire_get_tc(w) != 0, "RD", knot_wire_get_rd(w) != 0,
	                 "RA", knot_wire_get_ra(w) != 0, "AD", knot_wire_get_ad(w) != 0,
	                 "CD", knot_wire_get_cd(w) != 0,
	                 "Question", "name", qname, "type", (int)knot_pkt_qtype(pkt));
}

/* "198.51.100.0/24" as Google echoes it. */
static int ecs_json(json_t *root, const knot_edns_client_subnet_t *ecs)
{
	char addr[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 8];
	int af = ecs->family == 1 ? AF_INET : AF_INET6;
	if (inet_ntop(af, ecs->address, addr, sizeof(addr)) == NULL) {
		return CIRRUS_EINVAL;
	}
	snprintf(text, sizeof(text), "%s/%u", addr, ecs->source_len);
	return json_object_set_new(root, "edns_client_subnet", json_string(text)) == 0 ?
	       0 : CIRRUS_ENOMEM;
}

static int render(const knot_pkt_t *pkt, const fn_resolve_t *r, char **out)
{
	json_t *root = header_json(pkt);
	char *text = malloc(DATA_TEXT_MAX);
	int rc = root != NULL && text != NULL ? 0 : CIRRUS_ENOMEM;
	static const char *const keys[] = { "Answer", "Authority", "Additional" };
	for (int s = KNOT_ANSWER; rc == 0 && s <= KNOT_ADDITIONAL; s++) {
		rc = section_json(root, keys[s - KNOT_ANSWER], knot_pkt_section(pkt, s), text);
	}
	if (rc == 0 && r != NULL && r->has_ecs) {
		rc = ecs_json(root, &r->ecs);
	}
	if (rc == 0) {
		*out = json_dumps(root, JSON_COMPACT);
		rc = *out != NULL ? 0 : CIRRUS_ENOMEM;
	}
	free(text);
	json_decref(root);
	return rc;
}

int fn_json_render(const uint8_t *answer, size_t len, const fn_resolve_t *r, char **out)
{
	knot_pkt_t *pkt = knot_pkt_new((void *)answer, len, NULL);
	if (pkt == NULL) {
		return CIRRUS_ENOMEM;
	}
	int rc = knot_pkt_parse(pkt, 0) == KNOT_EOK ? render(pkt, r, out) : CIRRUS_EINVAL;
	knot_pkt_free(pkt);
	return rc;
}
