/* SPDX-License-Identifier: Apache-2.0
 * ctl_change.c -- changes to store zones: create, import, delete, and
 * atomic RRset patches (through ctl_txn.c). Each is one store transaction
 * holding the data and the audit row; the new zone version is published
 * only after that transaction committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_internal.h"
#include "util/error.h"

#define RDATA_MAX 65535

/* Records (c->records, or c->removed when removed) as an rdataset. */
static int parse_records(const knot_dname_t *apex, uint16_t type, const ctl_change_t *c,
                         size_t index, bool removed, knot_rdataset_t *rrs, ctl_error_t *err)
{
	const char *const *records = removed ? c->removed : c->records;
	size_t count = removed ? c->removed_count : c->record_count;
	uint8_t *rdata = malloc(RDATA_MAX + sizeof(knot_rdata_t));
	uint8_t *rdbuf = malloc(RDATA_MAX + sizeof(knot_rdata_t) + 2);
	if (rdata == NULL || rdbuf == NULL) {
		free(rdata);
		free(rdbuf);
		return ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
	}
	int rc = 0;
	for (size_t j = 0; rc == 0 && j < count; j++) {
		char reason[256], field[64];
		uint16_t len = 0;
		if (zone_rdata_parse(apex, type, records[j], rdata, &len, reason,
		                     sizeof(reason)) != 0) {
			snprintf(field, sizeof(field), "rrsets[%zu].%s[%zu]", index,
			         removed ? "removed" : "records", j);
			rc = ctl_fail(err, CIRRUS_EINVAL, 400, field, "invalid %s record \"%s\": %s",
			              c->type, records[j], reason);
			break;
		}
		knot_rdata_t *rd = (knot_rdata_t *)rdbuf;
		knot_rdata_init(rd, len, rdata);
		if (knot_rdataset_add(rrs, rd, NULL) != KNOT_EOK) {
			rc = ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
		}
	}
	free(rdata);
	free(rdbuf);
	return rc;
}

/* Validate one change and apply it to the transaction. */
static int apply_change(ctl_txn_t *t, const ctl_change_t *c, size_t index, ctl_error_t *err)
{
	char field[64];
	knot_dname_storage_t owner;
	uint16_t type;
	const knot_dname_t *apex = ctl_txn_apex(t);
	snprintf(field, sizeof(field), "rrsets[%zu].name", index);
	if (c->name == NULL || zone_name_parse(owner, c->name, apex) == 0) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, field, "invalid name");
	}
	snprintf(field, sizeof(field), "rrsets[%zu].type", index);
	if (c->type == NULL || knot_rrtype_from_string(c->type, &type) != 0 ||
	    type == KNOT_RRTYPE_ANY) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, field, "unknown type \"%s\"",
		                c->type ? c->type : "");
	}
	if (ctl_txn_touched(t, owner, type)) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, field,
		                "the same RRset is changed twice in one request");
	}
	if (c->op == CTL_CHANGE_REPLACE && c->record_count == 0) {
		snprintf(field, sizeof(field), "rrsets[%zu].records", index);
		return ctl_fail(err, CIRRUS_EINVAL, 400, field,
		                "REPLACE needs at least one record (use DELETE to remove)");
	}
	knot_rdataset_t rrs = { 0 }, removed = { 0 };
	int rc = c->op == CTL_CHANGE_DELETE ? 0 :
	         parse_records(apex, type, c, index, false, &rrs, err);
	if (rc == 0 && c->op == CTL_CHANGE_RECORDS) {
		rc = parse_records(apex, type, c, index, true, &removed, err);
	}
	int touched = rc != 0 ? 0 : c->op == CTL_CHANGE_RECORDS ?
	              ctl_txn_records(t, owner, type, c->ttl, &removed, &rrs) :
	              ctl_txn_touch(t, owner, type);
	knot_rdataset_clear(&removed, NULL);
	if (touched == CIRRUS_EINVAL) {
		snprintf(field, sizeof(field), "rrsets[%zu]", index);
		rc = ctl_fail(err, touched, 400, field, "%s", zone_update_error(ctl_txn_update(t)));
	} else if (touched == CIRRUS_EEXIST) {
		snprintf(field, sizeof(field), "rrsets[%zu]", index);
		rc = ctl_fail(err, touched, 409, field, "%s %s is a routing policy: change it "
		              "at /policies, not as an RRset", c->name, c->type);
	} else if (touched != 0) {
		rc = ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
	}
	if (rc == 0 && c->op != CTL_CHANGE_RECORDS) {
		rc = zone_update_put_rrset(ctl_txn_update(t), owner, type, c->ttl, &rrs);
		if (rc == CIRRUS_EINVAL) {
			snprintf(field, sizeof(field), "rrsets[%zu]", index);
			rc = ctl_fail(err, rc, 400, field, "%s", zone_update_error(ctl_txn_update(t)));
		} else if (rc != 0) {
			rc = ctl_fail(err, rc, 500, NULL, "out of memory");
		}
	}
	knot_rdataset_clear(&rrs, NULL);
	return rc;
}

int ctl_rrsets_patch(ctl_t *ctl, const char *zone, const ctl_change_t *changes,
                     size_t count, const ctl_actor_t *who, ctl_error_t *err)
{
	int rc = ctl_rrsets_patch_with(ctl, zone, changes, count, NULL, NULL, who, err);
	return ctl_sync(ctl, rc, err);
}

int ctl_rrsets_patch_with(ctl_t *ctl, const char *zone, const ctl_change_t *changes,
                          size_t count, ctl_store_hook_t hook, void *hook_ctx,
                          const ctl_actor_t *who, ctl_error_t *err)
{
	pthread_mutex_lock(&ctl->lock);
	ctl_txn_t *t = NULL;
	int rc = ctl_txn_begin(ctl, zone, &t, err);
	if (rc == 0) {
		ctl_txn_hook(t, hook, hook_ctx);
	}
	for (size_t i = 0; rc == 0 && i < count; i++) {
		rc = apply_change(t, &changes[i], i, err);
	}
	if (rc == 0) {
		rc = ctl_txn_commit(t, "rrsets.patch", who, err);
	} else {
		ctl_txn_abort(t);
	}
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

/* One record parsed from text into the builder and the store. */
static int add_default_record(zone_builder_t *b, store_t *st, const char *zone_text,
                              const knot_dname_t *apex, uint16_t type, uint32_t ttl,
                              const char *text, const char *field, ctl_error_t *err)
{
	uint8_t *rdata = malloc(RDATA_MAX);
	if (rdata == NULL) {
		return ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
	}
	char reason[256];
	uint16_t len = 0;
	int rc = zone_rdata_parse(apex, type, text, rdata, &len, reason, sizeof(reason));
	if (rc != 0) {
		rc = ctl_fail(err, CIRRUS_EINVAL, 400, field, "\"%s\": %s", text, reason);
	} else {
		store_record_t rec = { .owner = apex, .type = type, .ttl = ttl,
		                       .rdata = rdata, .rdlen = len };
		rc = zone_builder_add_record(b, apex, type, ttl, rdata, len);
		if (rc == 0 && (rc = store_record_insert(st, zone_text, &rec)) != 0) {
			rc = ctl_fail(err, rc, 500, NULL, "the store refused the zone");
		}
	}
	free(rdata);
	return rc;
}

/* The new zone's SOA and NS into builder b and the open store transaction. */
static int create_records(ctl_t *ctl, zone_builder_t *b, const char *zone_text,
                          const knot_dname_t *apex, const ctl_zone_defaults_t *d,
                          uint32_t serial, ctl_error_t *err)
{
	uint32_t ttl = d->ttl ? d->ttl : 3600;
	char soa[2 * KNOT_DNAME_TXT_MAXLEN + 64], field[48];
	snprintf(soa, sizeof(soa), "%s %s %u 3600 900 1209600 300", d->nameservers[0],
	         d->hostmaster ? d->hostmaster : "hostmaster", serial);
	int rc = add_default_record(b, ctl->st, zone_text, apex, KNOT_RRTYPE_SOA, ttl, soa,
	                            d->hostmaster ? "hostmaster" : "nameservers[0]", err);
	for (size_t i = 0; rc == 0 && i < d->nameserver_count; i++) {
		snprintf(field, sizeof(field), "nameservers[%zu]", i);
		rc = add_default_record(b, ctl->st, zone_text, apex, KNOT_RRTYPE_NS, ttl,
		                        d->nameservers[i], field, err);
	}
	return rc;
}

int ctl_zone_create(ctl_t *ctl, const char *zone, const ctl_zone_defaults_t *defaults,
                    const ctl_actor_t *who, ctl_error_t *err)
{
	knot_dname_storage_t apex;
	char zone_text[KNOT_DNAME_TXT_MAXLEN + 1];
	if (ctl_zone_name(zone, apex, zone_text, sizeof(zone_text)) != 0) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, "name", "invalid zone name");
	}
	if (defaults == NULL || defaults->nameserver_count == 0) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, "nameservers",
		                "at least one name server is required");
	}
	pthread_mutex_lock(&ctl->lock);
	bool from_store;
	zone_builder_t *b = NULL;
	int rc = 0;
	if (ctl_find_zone(ctl, apex, &from_store) != NULL) {
		rc = ctl_fail(err, CIRRUS_EEXIST, 409, "name", "zone %s exists", zone_text);
	} else if (zone_builder_new(zone_text, NULL, NULL, &b) != 0 || store_begin(ctl->st) != 0) {
		rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "cannot start the change");
	} else {
		uint32_t serial = ctl_next_serial(ctl->policy, 0);
		rc = store_zone_insert(ctl->st, zone_text, serial);
		if (rc != 0) {
			rc = ctl_fail(err, rc, rc == CIRRUS_EEXIST ? 409 : 500, "name",
			              "the store refused zone %s", zone_text);
		}
		if (rc == 0) {
			rc = create_records(ctl, b, zone_text, apex, defaults, serial, err);
		}
		char after[KNOT_DNAME_TXT_MAXLEN + 64];
		snprintf(after, sizeof(after), "{\"name\":\"%s\",\"serial\":%u}", zone_text, serial);
		store_audit_t row = { .actor = who->actor, .request_id = who->request_id,
		                      .zone = zone_text, .action = "zone.create", .after = after };
		if (rc == 0 && (store_audit_append(ctl->st, &row) != 0 || store_commit(ctl->st) != 0)) {
			rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "the store refused zone %s", zone_text);
		}
		if (rc != 0) {
			store_rollback(ctl->st);
		}
	}
	zone_t *created = NULL;
	if (rc == 0 && zone_builder_build(b, false, &created) != 0) {
		rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "stored, but the zone does not build");
	} else if (rc != 0) {
		zone_builder_free(b);
	}
	if (rc == 0 && (rc = ctl_store_append(ctl, created)) == 0) {
		rc = ctl_publish(ctl);
	} else if (created != NULL) {
		zone_free(created);
	}
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

int ctl_zone_delete(ctl_t *ctl, const char *zone, const ctl_actor_t *who, ctl_error_t *err)
{
	knot_dname_storage_t apex;
	char zone_text[KNOT_DNAME_TXT_MAXLEN + 1];
	if (ctl_zone_name(zone, apex, zone_text, sizeof(zone_text)) != 0) {
		return ctl_fail(err, CIRRUS_ENOENT, 404, NULL, "no such zone");
	}
	pthread_mutex_lock(&ctl->lock);
	int index = ctl_store_index(ctl, apex), rc = 0;
	if (index < 0) {
		rc = ctl_fail(err, CIRRUS_ENOENT, 404, NULL, "no zone %s in the store", zone_text);
	} else {
		zone_t *z = ctl->store_zones[index];
		char before[KNOT_DNAME_TXT_MAXLEN + 64];
		snprintf(before, sizeof(before), "{\"name\":\"%s\",\"serial\":%u,\"records\":%zu}",
		         zone_text, knot_soa_serial(z->soa->rrs.rdata), z->record_count);
		store_audit_t row = { .actor = who->actor, .request_id = who->request_id,
		                      .zone = zone_text, .action = "zone.delete", .before = before };
		if (store_begin(ctl->st) != 0 || store_zone_remove(ctl->st, zone_text) != 0 ||
		    store_audit_append(ctl->st, &row) != 0 || store_commit(ctl->st) != 0) {
			store_rollback(ctl->st);
			rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "the store refused the deletion");
		} else {
			ctl->store_zones[index] = ctl->store_zones[--ctl->store_count];
			zone_unref(z);
			rc = ctl_publish(ctl);
		}
	}
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

/* Every record of a zone into the open store transaction. */
static int store_all_records(store_t *st, const char *zone_text, const zone_t *zone)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i <= zone->table_mask; i++) {
		const zone_node_t *n = zone_slot(zone, i);
		for (uint16_t r = 0; rc == 0 && n != NULL && r < n->rrset_count; r++) {
			const zone_rrset_t *rs = &n->rrsets[r];
			for (uint16_t k = 0; rc == 0 && k < rs->rrs.count; k++) {
				const knot_rdata_t *rd = knot_rdataset_at(&rs->rrs, k);
				store_record_t rec = { .owner = n->owner, .type = rs->type,
				                       .ttl = rs->ttl, .rdata = rd->data,
				                       .rdlen = rd->len };
				rc = store_record_insert(st, zone_text, &rec);
			}
		}
	}
	return rc;
}

int ctl_zone_import(ctl_t *ctl, zone_t *zone, const ctl_actor_t *who, ctl_error_t *err)
{
	char zone_text[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_to_str(zone_text, zone_apex(zone), sizeof(zone_text));
	uint32_t serial = knot_soa_serial(zone->soa->rrs.rdata);
	pthread_mutex_lock(&ctl->lock);
	bool from_store;
	int rc = 0;
	if (ctl_find_zone(ctl, zone_apex(zone), &from_store) != NULL && from_store) {
		rc = ctl_fail(err, CIRRUS_EEXIST, 409, "name", "zone %s is in the store already",
		              zone_text);
	} else {
		char after[KNOT_DNAME_TXT_MAXLEN + 96];
		snprintf(after, sizeof(after), "{\"name\":\"%s\",\"serial\":%u,\"records\":%zu}",
		         zone_text, serial, zone->record_count);
		store_audit_t row = { .actor = who->actor, .request_id = who->request_id,
		                      .zone = zone_text, .action = "zone.import", .after = after };
		if (store_begin(ctl->st) != 0 || store_zone_insert(ctl->st, zone_text, serial) != 0 ||
		    store_all_records(ctl->st, zone_text, zone) != 0 ||
		    store_audit_append(ctl->st, &row) != 0 || store_commit(ctl->st) != 0) {
			store_rollback(ctl->st);
			rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "the store refused zone %s", zone_text);
		} else if ((rc = ctl_store_append(ctl, zone)) == 0) {
			rc = ctl_publish(ctl);
		}
	}
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}
