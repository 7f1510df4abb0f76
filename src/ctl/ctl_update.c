/* SPDX-License-Identifier: Apache-2.0
 * ctl_update.c -- RFC 2136 UPDATE requests from the wire to the answer:
 * parse, verify TSIG (RFC 8945) with the key from the store, check the zone
 * section, run the update in one ctl transaction (ctl_update_apply.c), log
 * it, and answer with the header and zone section, signed when the request
 * was. Unsigned updates are refused: there is no address-based permission.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_update.h"
#include "util/error.h"
#include "util/log.h"

#define OK KNOT_RCODE_NOERROR

uint16_t ctl_upd_fail(ctl_upd_t *upd, uint16_t rcode, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(upd->why, sizeof(upd->why), fmt, ap);
	va_end(ap);
	return rcode;
}

/* RFC 8945 5.2: the key, then the MAC, then the time. */
static uint16_t verify(ctl_upd_t *upd, uint16_t *tsig_rcode)
{
	const knot_rrset_t *tsig = upd->tsig;
	char name[KNOT_DNAME_TXT_MAXLEN + 1] = "?";
	knot_dname_to_str(name, tsig->owner, sizeof(name));
	if (strlen(name) > 1) {
		name[strlen(name) - 1] = '\0'; /* as keys are named in the store */
	}
	int rc = ctl_key_load(upd->ctl->st, tsig->owner, &upd->key);
	if (rc == 0 && upd->key.tsig.algorithm != knot_tsig_rdata_alg(tsig)) {
		ctl_key_deinit(&upd->key);
		rc = CIRRUS_ENOENT;
	}
	if (rc == CIRRUS_ENOENT) {
		*tsig_rcode = KNOT_RCODE_BADKEY;
		return ctl_upd_fail(upd, KNOT_RCODE_NOTAUTH, "BADKEY: no key %s with that algorithm",
		                    name);
	}
	if (rc != 0) {
		return ctl_upd_fail(upd, KNOT_RCODE_SERVFAIL, "key %s cannot be loaded: %s", name,
		                    rc == CIRRUS_EIO ? store_last_error(upd->ctl->st) :
		                    cirrus_strerror(rc));
	}
	upd->have_key = true;
	rc = knot_tsig_server_check(tsig, upd->pkt->wire, upd->pkt->size, &upd->key.tsig);
	switch (rc) {
	case KNOT_EOK:
		return OK;
	case KNOT_TSIG_EBADTIME:
		*tsig_rcode = KNOT_RCODE_BADTIME;
		return ctl_upd_fail(upd, KNOT_RCODE_NOTAUTH, "BADTIME: key %s, clock skew", name);
	case KNOT_TSIG_EBADKEY:
		*tsig_rcode = KNOT_RCODE_BADKEY;
		break;
	case KNOT_TSIG_EBADTRUNC:
		*tsig_rcode = KNOT_RCODE_BADTRUNC;
		break;
	case KNOT_TSIG_EBADSIG:
		*tsig_rcode = KNOT_RCODE_BADSIG;
		break;
	default:
		return ctl_upd_fail(upd, KNOT_RCODE_FORMERR, "malformed TSIG: %s", knot_strerror(rc));
	}
	/* BADKEY, BADSIG, BADTRUNC: the response must not be signed. */
	ctl_key_deinit(&upd->key);
	upd->have_key = false;
	return ctl_upd_fail(upd, KNOT_RCODE_NOTAUTH, "TSIG of key %s does not verify: %s", name,
	                    knot_strerror(rc));
}

/* RFC 2136 3.1: exactly one SOA in the zone section, naming a store zone. */
static uint16_t check_zone(ctl_upd_t *upd)
{
	const knot_pkt_t *pkt = upd->pkt;
	if (knot_wire_get_qdcount(pkt->wire) != 1 || knot_pkt_qtype(pkt) != KNOT_RRTYPE_SOA) {
		return ctl_upd_fail(upd, KNOT_RCODE_FORMERR,
		                    "the zone section needs exactly one record of type SOA");
	}
	bool from_store = false;
	if (knot_pkt_qclass(pkt) != KNOT_CLASS_IN ||
	    ctl_find_zone(upd->ctl, upd->apex, &from_store) == NULL) {
		return ctl_upd_fail(upd, KNOT_RCODE_NOTAUTH, "not authoritative for %s",
		                    upd->zone_text);
	}
	if (!from_store) {
		return ctl_upd_fail(upd, KNOT_RCODE_REFUSED,
		                    "%s is served from a zone file: change the file", upd->zone_text);
	}
	return OK;
}

/* The changes in one transaction, committed when there are any. */
static uint16_t run(ctl_upd_t *upd, const char *client)
{
	ctl_error_t err = { 0 };
	ctl_txn_t *t = NULL;
	if (ctl_txn_begin(upd->ctl, upd->zone_text, &t, &err) != 0) {
		return ctl_upd_fail(upd, KNOT_RCODE_SERVFAIL, "%s", err.message);
	}
	uint16_t rcode = ctl_upd_apply(upd, t);
	if (rcode != OK || upd->changes == 0) {
		/* A failed update changes nothing; one with nothing to do
		 * (every change ignored) does not move the serial. */
		ctl_txn_abort(t);
		return rcode;
	}
	ctl_actor_t who = { .actor = upd->key.name, .request_id = client };
	int rc = ctl_txn_commit(t, "update", &who, &err);
	if (rc == CIRRUS_ESEMANTIC) {
		return ctl_upd_fail(upd, KNOT_RCODE_REFUSED, "the zone would be invalid: %s",
		                    err.message);
	}
	if (rc != 0) {
		return ctl_upd_fail(upd, KNOT_RCODE_SERVFAIL, "%s", err.message);
	}
	return OK;
}

static uint16_t process(ctl_upd_t *upd, const char *client, uint16_t *tsig_rcode)
{
	if (knot_wire_get_opcode(upd->pkt->wire) != KNOT_OPCODE_UPDATE) {
		return ctl_upd_fail(upd, KNOT_RCODE_NOTIMPL, "not an UPDATE");
	}
	int rc = knot_pkt_parse(upd->pkt, 0);
	if (rc != KNOT_EOK) {
		return ctl_upd_fail(upd, KNOT_RCODE_FORMERR, "malformed: %s", knot_strerror(rc));
	}
	upd->tsig = upd->pkt->tsig_rr;
	if (knot_pkt_qname(upd->pkt) != NULL) {
		zone_name_lower(upd->apex, knot_pkt_qname(upd->pkt));
		knot_dname_to_str(upd->zone_text, upd->apex, sizeof(upd->zone_text));
	}
	ctl_t *ctl = upd->ctl;
	pthread_mutex_lock(&ctl->lock);
	uint16_t rcode = upd->tsig != NULL ? verify(upd, tsig_rcode) : OK;
	if (rcode == OK) {
		rcode = check_zone(upd);
	}
	if (rcode == OK && !upd->have_key) {
		rcode = ctl_upd_fail(upd, KNOT_RCODE_REFUSED, "unsigned updates are not allowed");
	}
	if (rcode == OK) {
		rcode = run(upd, client);
	}
	pthread_mutex_unlock(&ctl->lock);
	ctl_error_t err = { 0 };
	/* also with nothing changed, or refused: prerequisites may have seen a
	 * change not yet on disk (a retry of an update whose sync is running) */
	if (ctl_sync(ctl, 0, &err) != 0 && rcode == OK) {
		rcode = ctl_upd_fail(upd, KNOT_RCODE_SERVFAIL, "%s", err.message);
	}
	return rcode;
}

/* Header and zone section of the request with QR and rcode, then TSIG:
 * signed when the key verified (or only the time was wrong), else unsigned
 * with the TSIG error (RFC 8945 5.3.2). */
static int respond(const ctl_upd_t *upd, const uint8_t *msg, uint16_t rcode,
                   uint16_t tsig_rcode, uint8_t *answer, size_t max, size_t *len)
{
	size_t zone_size = knot_pkt_question_size(upd->pkt); /* 0 without a pkt */
	if (KNOT_WIRE_HEADER_SIZE + zone_size > max) {
		return CIRRUS_ESPACE;
	}
	memset(answer, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_id(answer, knot_wire_get_id(msg));
	knot_wire_set_qr(answer);
	knot_wire_set_opcode(answer, knot_wire_get_opcode(msg));
	knot_wire_set_rcode(answer, rcode);
	knot_wire_set_qdcount(answer, zone_size > 0);
	memcpy(answer + KNOT_WIRE_HEADER_SIZE, msg + KNOT_WIRE_HEADER_SIZE, zone_size);
	*len = KNOT_WIRE_HEADER_SIZE + zone_size;
	const knot_rrset_t *tsig = upd->tsig;
	int rc = KNOT_EOK;
	if (tsig != NULL && upd->have_key) {
		uint8_t digest[64];
		size_t digest_len = sizeof(digest);
		rc = knot_tsig_sign(answer, len, max, knot_tsig_rdata_mac(tsig),
		                    knot_tsig_rdata_mac_length(tsig), digest, &digest_len,
		                    &upd->key.tsig, tsig_rcode, knot_tsig_rdata_time_signed(tsig));
	} else if (tsig != NULL) {
		rc = knot_tsig_add(answer, len, max, tsig_rcode, tsig);
	}
	return rc == KNOT_EOK ? 0 : CIRRUS_ESPACE;
}

static void client_text(const struct sockaddr *sa, uint16_t id, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, size, "%s#%u id %u", ip, port, id);
}

/* One log line per update: the zone, who asked, what came of it. */
static void log_outcome(const ctl_upd_t *upd, const char *client, uint16_t rcode)
{
	const knot_lookup_t *found = knot_lookup_by_id(knot_rcode_names, rcode);
	char changed[64];
	snprintf(changed, sizeof(changed), "%zu RRsets changed", upd->changes);
	log_info("update %s from %s%s%s: %s: %s", upd->zone_text, client,
	         upd->have_key ? " by key " : "", upd->have_key ? upd->key.name : "",
	         found != NULL ? found->name : "?", rcode == OK ? changed : upd->why);
}

int ctl_update_handle(ctl_t *ctl, const uint8_t *msg, size_t len,
                      const struct sockaddr *remote, uint8_t *answer,
                      size_t answer_max, size_t *answer_len)
{
	if (len < KNOT_WIRE_HEADER_SIZE || knot_wire_get_qr(msg) ||
	    answer_max < KNOT_WIRE_HEADER_SIZE) {
		return CIRRUS_EINVAL;
	}
	char client[INET6_ADDRSTRLEN + 32];
	client_text(remote, knot_wire_get_id(msg), client, sizeof(client));
	ctl_upd_t upd = { .ctl = ctl, .zone_text = "?" };
	uint8_t *wire = malloc(len);
	upd.scratch = malloc(3 * CTL_UPD_RDATA_BUF);
	upd.pkt = wire != NULL ? knot_pkt_new(wire, len, NULL) : NULL;
	uint16_t rcode, tsig_rcode = 0;
	if (upd.scratch == NULL || upd.pkt == NULL) {
		rcode = ctl_upd_fail(&upd, KNOT_RCODE_SERVFAIL, "out of memory");
	} else {
		memcpy(wire, msg, len);
		rcode = process(&upd, client, &tsig_rcode);
	}
	int rc = respond(&upd, msg, rcode, tsig_rcode, answer, answer_max, answer_len);
	log_outcome(&upd, client, rcode);
	if (upd.have_key) {
		ctl_key_deinit(&upd.key);
	}
	knot_pkt_free(upd.pkt);
	free(wire);
	free(upd.scratch);
	return rc;
}
