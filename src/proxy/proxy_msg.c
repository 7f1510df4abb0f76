/* SPDX-License-Identifier: Apache-2.0
 * proxy_msg.c -- the proxy's work on DNS messages: judge a client's query
 * (libknot parses it), build error answers, add or remove EDNS Client
 * Subnet, and adapt an upstream's answer to the client (ID, name case, OPT,
 * truncation, TTLs). Pure functions over wire buffers, so the unit tests and
 * the fuzz target drive them without sockets.
 *
 * Answers are touched in place with a small record walker rather than by
 * parsing and rewriting them with libknot: the proxy passes the upstream's
 * bytes through (its compression, its order) and only edits fields, which
 * is cheaper and cannot change what the upstream meant.
 */
#include <string.h>
#include <netinet/in.h>
#include <libknot/libknot.h>

#include "proxy/proxy.h"
#include "util/error.h"

#define HDR KNOT_WIRE_HEADER_SIZE
#define OPT_FIXED 11          /* root owner, type, class, TTL, rdlength */
#define ECS_FAMILY_IP4 1
#define ECS_FAMILY_IP6 2
#define DEFAULT_PAYLOAD 1232  /* the OPT we write ourselves (DNS flag day 2020) */

/* One resource record's place in a message. */
typedef struct rr {
	size_t start;         /* owner name */
	size_t fixed;         /* TYPE, then CLASS, TTL, RDLENGTH */
	size_t rdata;
	size_t end;
	uint16_t type;
	unsigned section;     /* 0 answer, 1 authority, 2 additional */
} rr_t;

typedef struct walk {
	const uint8_t *wire;
	size_t len;
	size_t pos;           /* next record */
	unsigned left[3];     /* records left in each section */
	unsigned section;
} walk_t;

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* Wire size of the name at pos (pointers allowed); 0 if it is broken. */
static size_t name_size(const uint8_t *wire, size_t len, size_t pos)
{
	if (pos >= len) {
		return 0;
	}
	int r = knot_dname_wire_check(wire + pos, wire + len, wire);
	return r > 0 ? (size_t)r : 0;
}

/* Offset just past the question section; 0 if it does not parse. */
static size_t question_end(const uint8_t *wire, size_t len)
{
	if (len < HDR) {
		return 0;
	}
	size_t pos = HDR;
	for (unsigned n = knot_wire_get_qdcount(wire); n > 0; n--) {
		size_t s = name_size(wire, len, pos);
		if (s == 0 || pos + s + 4 > len) {
			return 0;
		}
		pos += s + 4;
	}
	return pos;
}

/* Start walking the records after the question; false if it does not parse. */
static bool walk_init(walk_t *w, const uint8_t *wire, size_t len)
{
	size_t q = question_end(wire, len);
	*w = (walk_t){ .wire = wire, .len = len, .pos = q,
	               .left = { knot_wire_get_ancount(wire), knot_wire_get_nscount(wire),
	                         knot_wire_get_arcount(wire) } };
	return q != 0;
}

/* 1: the next record is in rr; 0: no more; -1: the message is broken. */
static int walk_next(walk_t *w, rr_t *rr)
{
	while (w->section < 3 && w->left[w->section] == 0) {
		w->section++;
	}
	if (w->section == 3) {
		return 0;
	}
	size_t s = name_size(w->wire, w->len, w->pos);
	if (s == 0 || w->pos + s + 10 > w->len) {
		return -1;
	}
	rr->start = w->pos;
	rr->fixed = w->pos + s;
	rr->rdata = rr->fixed + 10;
	rr->end = rr->rdata + get16(w->wire + rr->fixed + 8);
	rr->type = get16(w->wire + rr->fixed);
	rr->section = w->section;
	if (rr->end > w->len) {
		return -1;
	}
	w->pos = rr->end;
	w->left[w->section]--;
	return 1;
}

/* Find the OPT record; its end is the end of the last record walked.
 * 1 found (in opt), 0 none, -1 broken message. */
static int find_opt(const uint8_t *wire, size_t len, rr_t *opt, size_t *msg_end)
{
	walk_t w;
	if (!walk_init(&w, wire, len)) {
		return -1;
	}
	rr_t rr;
	int r, found = 0;
	while ((r = walk_next(&w, &rr)) == 1) {
		if (rr.type == KNOT_RRTYPE_OPT && rr.section == 2) {
			if (wire[rr.start] != 0) {
				return -1;   /* OPT's owner is the root, written as such */
			}
			*opt = rr;
			found = 1;
		}
	}
	*msg_end = w.pos;
	return r < 0 ? -1 : found;
}

static void parse_ecs_option(knot_pkt_t *pkt, proxy_query_t *q, proxy_verdict_t *v)
{
	const uint8_t *opt = knot_pkt_edns_option(pkt, KNOT_EDNS_OPTION_CLIENT_SUBNET);
	if (opt == NULL) {
		return;
	}
	knot_edns_client_subnet_t ecs;
	if (knot_edns_client_subnet_parse(&ecs, knot_edns_opt_get_data((uint8_t *)opt),
	                                  knot_edns_opt_get_length((uint8_t *)opt)) != KNOT_EOK) {
		*v = PROXY_FORMERR;   /* RFC 7871 7.1.2 */
		return;
	}
	q->has_ecs = true;
	q->ecs.family = ecs.family;
	q->ecs.source = ecs.source_len;
	memset(q->ecs.addr, 0, sizeof(q->ecs.addr));
	memcpy(q->ecs.addr, ecs.address, (ecs.source_len + 7) / 8);
}

/* The question and EDNS of a parsed query into q. */
static proxy_verdict_t describe(knot_pkt_t *pkt, const uint8_t *wire, size_t len,
                                proxy_query_t *q)
{
	proxy_verdict_t v = PROXY_FORWARD;
	q->id = knot_wire_get_id(wire);
	q->qtype = knot_pkt_qtype(pkt);
	q->qclass = knot_pkt_qclass(pkt);
	q->qname_len = knot_dname_size(knot_pkt_wire_qname(pkt));
	memcpy(q->qname, wire + HDR, q->qname_len);
	q->question_end = HDR + q->qname_len + 4;
	q->udp_size = KNOT_WIRE_MIN_PKTSIZE;
	if (knot_pkt_has_edns(pkt)) {
		if (pkt->opt_rr->owner[0] != 0) {
			return PROXY_FORMERR;   /* RFC 6891 6.1.2; libknot does not check */
		}
		q->edns = true;
		q->do_bit = knot_pkt_has_dnssec(pkt);
		uint16_t size = knot_edns_get_payload(pkt->opt_rr);
		q->udp_size = size > KNOT_WIRE_MIN_PKTSIZE ? size : KNOT_WIRE_MIN_PKTSIZE;
		parse_ecs_option(pkt, q, &v);
	}
	(void)len;
	return v;
}

proxy_verdict_t proxy_msg_parse(const uint8_t *wire, size_t len, proxy_query_t *q)
{
	memset(q, 0, sizeof(*q));
	if (len < HDR || len > PROXY_MSG_MAX || knot_wire_get_qr(wire)) {
		return PROXY_DROP;
	}
	if (knot_wire_get_opcode(wire) != KNOT_OPCODE_QUERY) {
		return PROXY_NOTIMP;
	}
	if (knot_wire_get_qdcount(wire) != 1) {
		return PROXY_FORMERR;
	}
	/* libknot only reads the buffer (KNOT_PF_KEEPWIRE). */
	knot_pkt_t *pkt = knot_pkt_new((void *)wire, (uint16_t)len, NULL);
	if (pkt == NULL) {
		return PROXY_DROP;
	}
	proxy_verdict_t v = PROXY_FORMERR;
	if (knot_pkt_parse(pkt, KNOT_PF_KEEPWIRE | KNOT_PF_NOCANON) == KNOT_EOK &&
	    pkt->parsed == len) {
		v = describe(pkt, wire, len, q);
	}
	knot_pkt_free(pkt);
	return v;
}

/* An OPT record of our own with an empty RDATA. */
static void write_opt(uint8_t *p, uint16_t payload)
{
	p[0] = 0;
	put16(p + 1, KNOT_RRTYPE_OPT);
	put16(p + 3, payload);
	put32(p + 5, 0);
	put16(p + 9, 0);
}

size_t proxy_msg_error(const uint8_t *wire, size_t len, const proxy_query_t *q,
                       uint8_t rcode, uint8_t *out, size_t cap)
{
	size_t qlen = q != NULL ? q->question_end - HDR : 0;
	size_t need = HDR + qlen + (q != NULL && q->edns ? OPT_FIXED : 0);
	if (len < HDR || cap < need) {
		return 0;
	}
	memset(out, 0, HDR);
	knot_wire_set_id(out, knot_wire_get_id(wire));
	knot_wire_set_opcode(out, knot_wire_get_opcode(wire));
	knot_wire_set_qr(out);
	if (knot_wire_get_rd(wire)) {
		knot_wire_set_rd(out);
	}
	knot_wire_set_rcode(out, rcode);
	if (q == NULL) {
		return HDR;
	}
	memcpy(out + HDR, wire + HDR, qlen);
	knot_wire_set_qdcount(out, 1);
	if (q->edns) {
		write_opt(out + HDR + qlen, DEFAULT_PAYLOAD);
		knot_wire_set_arcount(out, 1);
	}
	return need;
}

/* Clear the bits of addr past prefix. */
static void mask(uint8_t *addr, size_t size, unsigned prefix)
{
	for (size_t i = 0; i < size; i++) {
		unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
		addr[i] &= bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
	}
}

void proxy_ecs_from_addr(const struct sockaddr *addr, unsigned prefix4,
                         unsigned prefix6, proxy_ecs_t *ecs)
{
	memset(ecs, 0, sizeof(*ecs));
	if (addr->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
		if (!IN6_IS_ADDR_V4MAPPED(a6)) {
			ecs->family = ECS_FAMILY_IP6;
			ecs->source = prefix6 > 128 ? 128 : prefix6;
			memcpy(ecs->addr, a6, 16);
			mask(ecs->addr, 16, ecs->source);
			return;
		}
		/* A v4-mapped client is an IPv4 client. */
		memcpy(ecs->addr, a6->s6_addr + 12, 4);
	} else if (addr->sa_family == AF_INET) {
		memcpy(ecs->addr, &((const struct sockaddr_in *)addr)->sin_addr, 4);
	} else {
		return;
	}
	ecs->family = ECS_FAMILY_IP4;
	ecs->source = prefix4 > 32 ? 32 : prefix4;
	mask(ecs->addr, 4, ecs->source);
}

/* Write the option (code, length, data) for ecs at p; its size. */
static size_t write_ecs(uint8_t *p, size_t room, const proxy_ecs_t *ecs)
{
	knot_edns_client_subnet_t k = { .family = ecs->family, .source_len = ecs->source };
	memcpy(k.address, ecs->addr, sizeof(k.address));
	uint16_t size = knot_edns_client_subnet_size(&k);
	if (room < KNOT_EDNS_OPTION_HDRLEN + (size_t)size ||
	    knot_edns_client_subnet_write(p + KNOT_EDNS_OPTION_HDRLEN, size, &k) != KNOT_EOK) {
		return 0;
	}
	put16(p, KNOT_EDNS_OPTION_CLIENT_SUBNET);
	put16(p + 2, size);
	return KNOT_EDNS_OPTION_HDRLEN + size;
}

/* Drop ECS options from the OPT's RDATA in place; the new RDATA length, or
 * -1 if the options do not parse. */
static int drop_ecs(uint8_t *wire, const rr_t *opt)
{
	size_t r = opt->rdata, w = opt->rdata;
	while (r < opt->end) {
		if (r + KNOT_EDNS_OPTION_HDRLEN > opt->end) {
			return -1;
		}
		size_t size = KNOT_EDNS_OPTION_HDRLEN + get16(wire + r + 2);
		if (r + size > opt->end) {
			return -1;
		}
		if (get16(wire + r) != KNOT_EDNS_OPTION_CLIENT_SUBNET) {
			memmove(wire + w, wire + r, size);
			w += size;
		}
		r += size;
	}
	return (int)(w - opt->rdata);
}

/* Add an OPT record carrying ecs at the end of the message. */
static int append_opt(uint8_t *wire, size_t end, size_t cap, const proxy_ecs_t *ecs)
{
	if (end + OPT_FIXED > cap) {
		return CIRRUS_ESPACE;
	}
	write_opt(wire + end, DEFAULT_PAYLOAD);
	size_t n = write_ecs(wire + end + OPT_FIXED, cap - end - OPT_FIXED, ecs);
	if (n == 0 || knot_wire_get_arcount(wire) == UINT16_MAX) {
		return CIRRUS_ESPACE;
	}
	put16(wire + end + 9, (uint16_t)n);
	knot_wire_add_arcount(wire, 1);
	return (int)(end + OPT_FIXED + n);
}

int proxy_msg_set_ecs(uint8_t *wire, size_t len, size_t cap, const proxy_ecs_t *ecs)
{
	rr_t opt;
	size_t end = 0;
	int found = find_opt(wire, len, &opt, &end);
	if (found < 0) {
		return CIRRUS_EINVAL;
	}
	if (found == 0) {
		return ecs == NULL ? (int)end : append_opt(wire, end, cap, ecs);
	}
	if (opt.end != end) {
		return CIRRUS_EINVAL;   /* a record (TSIG) follows: do not touch it */
	}
	/* Check there is room before changing anything. */
	uint8_t option[KNOT_EDNS_OPTION_HDRLEN + 4 + 16];
	size_t add = ecs != NULL ? write_ecs(option, sizeof(option), ecs) : 0;
	if (ecs != NULL && (add == 0 || opt.end + add > cap)) {
		return CIRRUS_ESPACE;
	}
	int kept = drop_ecs(wire, &opt);
	if (kept < 0) {
		return CIRRUS_EINVAL;
	}
	memcpy(wire + opt.rdata + kept, option, add);
	put16(wire + opt.fixed + 8, (uint16_t)(kept + add));
	return (int)(opt.rdata + kept + add);
}

size_t proxy_msg_strip_opt(uint8_t *wire, size_t len)
{
	rr_t opt;
	size_t end = 0;
	if (find_opt(wire, len, &opt, &end) != 1 || opt.end != end) {
		return len;
	}
	knot_wire_set_arcount(wire, knot_wire_get_arcount(wire) - 1);
	return opt.start;
}

bool proxy_msg_matches(const uint8_t *answer, size_t len, const proxy_query_t *q)
{
	size_t qend = question_end(answer, len);
	if (qend == 0 || !knot_wire_get_qr(answer) ||
	    knot_wire_get_opcode(answer) != KNOT_OPCODE_QUERY ||
	    knot_wire_get_qdcount(answer) != 1 || qend != q->question_end) {
		return false;
	}
	const uint8_t *type = answer + HDR + q->qname_len;
	return name_size(answer, len, HDR) == q->qname_len &&
	       knot_dname_is_case_equal(answer + HDR, q->qname) &&
	       get16(type) == q->qtype && get16(type + 2) == q->qclass;
}

/* min(SOA TTL, SOA MINIMUM) of rr, the RFC 2308 negative TTL. */
static uint32_t soa_negative_ttl(const uint8_t *wire, const rr_t *rr)
{
	uint32_t ttl = get32(wire + rr->fixed + 4);
	uint32_t minimum = get32(wire + rr->end - 4);
	return ttl < minimum ? ttl : minimum;
}

int64_t proxy_msg_cache_ttl(const uint8_t *wire, size_t len)
{
	walk_t w;
	if (len < HDR || knot_wire_get_tc(wire) || !walk_init(&w, wire, len)) {
		return -1;
	}
	uint8_t rcode = knot_wire_get_rcode(wire);
	bool negative = rcode == KNOT_RCODE_NXDOMAIN || knot_wire_get_ancount(wire) == 0;
	bool soa = false, ns = false;
	uint32_t min = UINT32_MAX;
	rr_t rr;
	int r;
	if (rcode != KNOT_RCODE_NOERROR && rcode != KNOT_RCODE_NXDOMAIN) {
		return -1;
	}
	while ((r = walk_next(&w, &rr)) == 1) {
		uint32_t ttl = get32(wire + rr.fixed + 4);
		if (rr.type == KNOT_RRTYPE_OPT) {
			if (ttl >> 24 != 0) {
				return -1;   /* an extended rcode */
			}
			continue;
		}
		if (rr.section == 1 && rr.type == KNOT_RRTYPE_SOA && rr.end - rr.rdata >= 22) {
			soa = true;
			ttl = negative ? soa_negative_ttl(wire, &rr) : ttl;
		}
		ns = ns || (rr.section == 1 && rr.type == KNOT_RRTYPE_NS);
		min = ttl < min ? ttl : min;
	}
	/* A negative answer needs its SOA (RFC 2308 5); a referral is NOERROR
	 * without answers but with NS, and lives as long as its records. */
	bool referral = rcode == KNOT_RCODE_NOERROR && ns && !soa;
	if (r < 0 || min == UINT32_MAX || (negative && !soa && !referral)) {
		return -1;
	}
	return min;
}

void proxy_msg_age(uint8_t *wire, size_t len, uint32_t seconds)
{
	walk_t w;
	rr_t rr;
	if (!walk_init(&w, wire, len)) {
		return;
	}
	while (walk_next(&w, &rr) == 1) {
		if (rr.type != KNOT_RRTYPE_OPT) {
			uint32_t ttl = get32(wire + rr.fixed + 4);
			put32(wire + rr.fixed + 4, ttl > seconds ? ttl - seconds : 0);
		}
	}
}

size_t proxy_msg_for_client(uint8_t *wire, size_t len, const proxy_query_t *q)
{
	if (len < HDR) {
		return len;
	}
	knot_wire_set_id(wire, q->id);
	if (question_end(wire, len) == q->question_end) {
		memcpy(wire + HDR, q->qname, q->qname_len);
	}
	if (!q->has_ecs) {
		int r = proxy_msg_set_ecs(wire, len, len, NULL);
		len = r > 0 ? (size_t)r : len;
	}
	return q->edns ? len : proxy_msg_strip_opt(wire, len);
}

size_t proxy_msg_truncate(uint8_t *wire, size_t len, const proxy_query_t *q)
{
	if (len <= q->udp_size) {
		return len;
	}
	/* One question at most: a truncated answer must stay small. */
	size_t qend = knot_wire_get_qdcount(wire) == 1 ? question_end(wire, len) : 0;
	rr_t opt;
	size_t end = 0;
	bool has_opt = q->edns && find_opt(wire, len, &opt, &end) == 1 && wire[opt.start] == 0;
	uint8_t opt_fixed[OPT_FIXED];
	if (has_opt) {
		memcpy(opt_fixed, wire + opt.start, OPT_FIXED);
		put16(opt_fixed + 9, 0);
	}
	if (qend == 0) {
		qend = HDR;
		knot_wire_set_qdcount(wire, 0);
	}
	knot_wire_set_tc(wire);
	knot_wire_set_ancount(wire, 0);
	knot_wire_set_nscount(wire, 0);
	knot_wire_set_arcount(wire, has_opt ? 1 : 0);
	if (has_opt) {
		memcpy(wire + qend, opt_fixed, OPT_FIXED);
		return qend + OPT_FIXED;
	}
	return qend;
}

size_t proxy_cache_key(const proxy_query_t *q, const proxy_ecs_t *ecs, uint8_t *key)
{
	/* Lower-casing every byte of a wire name is safe: length bytes are
	 * below 64, under 'A'. */
	for (size_t i = 0; i < q->qname_len; i++) {
		uint8_t c = q->qname[i];
		key[i] = c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
	}
	size_t n = q->qname_len;
	put16(key + n, q->qtype);
	put16(key + n + 2, q->qclass);
	key[n + 4] = q->do_bit;
	n += 5;
	if (ecs == NULL) {
		return n;
	}
	put16(key + n, ecs->family);
	key[n + 2] = ecs->source;
	size_t bytes = (ecs->source + 7) / 8;
	memcpy(key + n + 3, ecs->addr, bytes > 16 ? 16 : bytes);
	return n + 3 + (bytes > 16 ? 16 : bytes);
}
