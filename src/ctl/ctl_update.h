/* SPDX-License-Identifier: Apache-2.0
 * ctl_update.h -- shared by the RFC 2136 UPDATE files of ctl/ only: TSIG
 * keys with their rules (ctl_tsig.c), and one update on its way through
 * (ctl_update.c checks and answers it, ctl_update_apply.c changes the zone).
 */
#pragma once

#include <libknot/libknot.h>

#include "ctl/ctl_internal.h"

#define CTL_RULE_TYPES_MAX 32

/*! \brief One authorization rule of a key. */
typedef struct ctl_rule {
	knot_dname_storage_t zone;              /*!< lower-case wire */
	char name[KNOT_DNAME_TXT_MAXLEN + 1];   /*!< fnmatch glob, lower case */
	bool any_type;                          /*!< types=* */
	uint16_t types[CTL_RULE_TYPES_MAX];
	size_t type_count;
} ctl_rule_t;

/*! \brief A TSIG key from the store, ready to verify and sign. */
typedef struct ctl_key {
	char name[256];          /*!< as stored: the actor in the audit log */
	knot_tsig_key_t tsig;
	ctl_rule_t *rules;
	size_t rule_count;
} ctl_key_t;

/*!
 * \brief Load the key named by a TSIG record (any case) from the store.
 * \retval 0 (release with ctl_key_deinit), -CIRRUS_ENOENT (no such key),
 *         -CIRRUS_EINVAL (the stored key is unusable), -CIRRUS_EIO, -CIRRUS_ENOMEM
 */
int ctl_key_load(store_t *st, const knot_dname_t *name, ctl_key_t *out);

/*! \brief Free what ctl_key_load() allocated (the secret is wiped). */
void ctl_key_deinit(ctl_key_t *key);

/*! \brief Whether a rule of key allows changing owner/type in zone (type
 * ANY only through a rule with types=*). Names are lower-case wire. */
bool ctl_key_allows(const ctl_key_t *key, const knot_dname_t *zone,
                    const knot_dname_t *owner, uint16_t type);

/*! \brief Room for one rdata in canonical form. */
#define CTL_UPD_RDATA_BUF (sizeof(knot_rdata_t) + KNOT_RDATA_MAXLEN + 1)

/*! \brief One UPDATE request being processed. */
typedef struct ctl_upd {
	ctl_t *ctl;
	knot_pkt_t *pkt;             /*!< the request, parsed, TSIG stripped */
	const knot_rrset_t *tsig;    /*!< its TSIG record, NULL when unsigned */
	ctl_key_t key;
	bool have_key;               /*!< key loaded: the response can be signed */
	knot_dname_storage_t apex;   /*!< the zone section's name, lower case */
	char zone_text[KNOT_DNAME_TXT_MAXLEN + 1];
	size_t changes;              /*!< RRsets touched in the transaction */
	uint8_t *scratch;            /*!< 3 x CTL_UPD_RDATA_BUF */
	char why[512];               /*!< reason for a failure rcode, for the log */
} ctl_upd_t;

/*! \brief Set upd->why; returns rcode. */
uint16_t ctl_upd_fail(ctl_upd_t *upd, uint16_t rcode, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*! \brief Meta types and query types (ANY, AXFR, IXFR, MAILA, MAILB, OPT,
 * TSIG, ...), which no zone holds. */
bool ctl_upd_is_meta(uint16_t type);

/*!
 * \brief RFC 2136 3.4.1.3 for one update record (ctl_update_rdata.c): in
 * the zone, a class and type that fit, no TTL or rdata where none belongs,
 * and for an add, rdata that is well formed and of a type UPDATE adds.
 * \param owner  the record's owner in lower case
 * \return NOERROR; NOTZONE; FORMERR; REFUSED (a type UPDATE does not add:
 *         DNSSEC records a signer keeps, or a layout not checked here)
 */
uint16_t ctl_upd_prescan(ctl_upd_t *upd, const knot_dname_t *owner,
                         const knot_rrset_t *rr, const knot_rdata_t *rd);

/*!
 * \brief RFC 2136 sections 3.2 to 3.4 in an open transaction of the zone:
 * prerequisites, prescan, the key's rules, then every change.
 * \return the rcode; NOERROR means t holds the changes (upd->changes of them)
 */
uint16_t ctl_upd_apply(ctl_upd_t *upd, ctl_txn_t *t);
