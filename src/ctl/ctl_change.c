/* SPDX-License-Identifier: Apache-2.0
 * ctl_change.c -- changes to store zones: create, delete, and atomic RRset
 * patches. Each is one store transaction holding the data, the audit row
 * and (for patches) the journal entry; the new zone version is published
 * only after that transaction committed.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_internal.h"
#include "util/error.h"

#define RDATA_MAX 65535

/* {"name","type","ttl","records":[...]} of an RRset, or null when absent. */
static json_t *rrset_json(const knot_dname_t *owner, uint16_t type, const zone_rrset_t *rs)
{
	if (rs == NULL) {
		return json_null();
	}
	char name[KNOT_DNAME_TXT_MAXLEN + 1], tname[32], text[4096];
	knot_dname_to_str(name, owner, sizeof(name));
	knot_rrtype_to_string(type, tname, sizeof(tname));
	json_t *records = json_array();
	for (uint16_t i = 0; i < rs->rrs.count; i++) {
		if (zone_rdata_dump(owner, rs, i, text, sizeof(text)) < 0) {
			snprintf(text, sizeof(text), "(%u bytes)", knot_rdataset_at(&rs->rrs, i)->len);
		}
		json_array_append_new(records, json_string(text));
	}
	return json_pack("{s:s, s:s, s:I, s:o}", "name", name, "type", tname,
	                 "ttl", (json_int_t)rs->ttl, "records", records);
}

/* Master-file lines of an RRset appended to a journal text. */
static void journal_lines(FILE *f, const knot_dname_t *owner, const zone_rrset_t *rs)
{
	if (rs == NULL) {
		return;
	}
	knot_rrset_t rr;
	knot_rrset_init(&rr, (knot_dname_t *)owner, rs->type, KNOT_CLASS_IN, rs->ttl);
	rr.rrs = rs->rrs;
	char *buf = NULL;
	size_t size = 0;
	buf = malloc(size = 1024);
	int n = buf ? knot_rrset_txt_dump(&rr, &buf, &size, &KNOT_DUMP_STYLE_DEFAULT) : -1;
	if (n > 0) {
		fwrite(buf, 1, (size_t)n, f);
	}
	free(buf);
}

/* Everything one change needs to reach the store and the logs. */
typedef struct change_record {
	knot_dname_storage_t owner;
	uint16_t type;
} change_record_t;

typedef struct patch {
	ctl_t *ctl;
	const char *zone_text;
	zone_update_t *u;
	change_record_t *changed;   /*!< owner/type of every change */
	size_t count;
	json_t *before;
	json_t *after;
	FILE *removed;
	FILE *added;
	char *removed_text, *added_text;
	size_t removed_len, added_len;
} patch_t;

static int parse_records(const knot_dname_t *apex, uint16_t type, const ctl_change_t *c,
                         size_t index, knot_rdataset_t *rrs, ctl_error_t *err)
{
	uint8_t *rdata = malloc(RDATA_MAX + sizeof(knot_rdata_t));
	uint8_t *rdbuf = malloc(RDATA_MAX + sizeof(knot_rdata_t) + 2);
	if (rdata == NULL || rdbuf == NULL) {
		free(rdata);
		free(rdbuf);
		return ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
	}
	int rc = 0;
	for (size_t j = 0; rc == 0 && j < c->record_count; j++) {
		char reason[256], field[64];
		uint16_t len = 0;
		if (zone_rdata_parse(apex, type, c->records[j], rdata, &len, reason,
		                     sizeof(reason)) != 0) {
			snprintf(field, sizeof(field), "rrsets[%zu].records[%zu]", index, j);
			rc = ctl_fail(err, CIRRUS_EINVAL, 400, field, "invalid %s record \"%s\": %s",
			              c->type, c->records[j], reason);
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

/* Validate and apply one change to the update; record it for the store. */
static int apply_change(patch_t *p, const knot_dname_t *apex, const ctl_change_t *c,
                        size_t index, ctl_error_t *err)
{
	char field[64];
	change_record_t *rec = &p->changed[p->count];
	snprintf(field, sizeof(field), "rrsets[%zu].name", index);
	if (c->name == NULL || zone_name_parse(rec->owner, c->name, apex) == 0) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, field, "invalid name");
	}
	snprintf(field, sizeof(field), "rrsets[%zu].type", index);
	if (c->type == NULL || knot_rrtype_from_string(c->type, &rec->type) != 0 ||
	    rec->type == KNOT_RRTYPE_ANY) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, field, "unknown type \"%s\"",
		                c->type ? c->type : "");
	}
	for (size_t k = 0; k < p->count; k++) {
		if (p->changed[k].type == rec->type &&
		    knot_dname_is_equal(p->changed[k].owner, rec->owner)) {
			return ctl_fail(err, CIRRUS_EINVAL, 400, field,
			                "the same RRset is changed twice in one request");
		}
	}
	if (c->op == CTL_CHANGE_REPLACE && c->record_count == 0) {
		snprintf(field, sizeof(field), "rrsets[%zu].records", index);
		return ctl_fail(err, CIRRUS_EINVAL, 400, field,
		                "REPLACE needs at least one record (use DELETE to remove)");
	}
	const zone_node_t *node = zone_update_find(p->u, rec->owner);
	const zone_rrset_t *old = node ? zone_node_rrset(node, rec->type) : NULL;
	json_array_append_new(p->before, rrset_json(rec->owner, rec->type, old));
	journal_lines(p->removed, rec->owner, old);

	knot_rdataset_t rrs = { 0 };
	int rc = c->op == CTL_CHANGE_REPLACE ?
	         parse_records(apex, rec->type, c, index, &rrs, err) : 0;
	if (rc == 0) {
		rc = zone_update_put_rrset(p->u, rec->owner, rec->type, c->ttl, &rrs);
		if (rc == CIRRUS_EINVAL) {
			snprintf(field, sizeof(field), "rrsets[%zu]", index);
			rc = ctl_fail(err, rc, 400, field, "%s", zone_update_error(p->u));
		} else if (rc != 0) {
			rc = ctl_fail(err, rc, 500, NULL, "out of memory");
		}
	}
	knot_rdataset_clear(&rrs, NULL);
	if (rc == 0) {
		p->count++;
	}
	return rc;
}

static const zone_rrset_t *update_rrset(const zone_update_t *u, const knot_dname_t *owner,
                                        uint16_t type)
{
	const zone_node_t *node = zone_update_find(u, owner);
	return node ? zone_node_rrset(node, type) : NULL;
}

/* Write the final state of every changed RRset (and the SOA) to the store. */
static int store_changes(patch_t *p, const knot_dname_t *apex)
{
	store_t *st = p->ctl->st;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i <= p->count; i++) {
		/* the extra round is the SOA, whose serial moved */
		const knot_dname_t *owner = i < p->count ? p->changed[i].owner : apex;
		uint16_t type = i < p->count ? p->changed[i].type : KNOT_RRTYPE_SOA;
		rc = store_rrset_delete(st, p->zone_text, owner, type);
		const zone_rrset_t *rs = update_rrset(p->u, owner, type);
		for (uint16_t r = 0; rc == 0 && rs != NULL && r < rs->rrs.count; r++) {
			const knot_rdata_t *rd = knot_rdataset_at(&rs->rrs, r);
			store_record_t rec = { .owner = owner, .type = type, .ttl = rs->ttl,
			                       .rdata = rd->data, .rdlen = rd->len };
			rc = store_record_insert(st, p->zone_text, &rec);
		}
		if (i < p->count) {
			json_array_append_new(p->after, rrset_json(owner, type, rs));
			journal_lines(p->added, owner, rs);
		}
	}
	return rc;
}

static void patch_deinit(patch_t *p)
{
	free(p->changed);
	json_decref(p->before);
	json_decref(p->after);
	if (p->removed) {
		fclose(p->removed);
	}
	if (p->added) {
		fclose(p->added);
	}
	free(p->removed_text);
	free(p->added_text);
}

/* Store transaction: records, serial, audit row, journal entry. */
static int commit_to_store(patch_t *p, const knot_dname_t *apex, uint32_t old_serial,
                           uint32_t new_serial, const ctl_actor_t *who)
{
	store_t *st = p->ctl->st;
	int rc = store_begin(st);
	if (rc == 0) {
		rc = store_changes(p, apex);
	}
	fflush(p->removed);
	fflush(p->added);
	char *before = json_dumps(p->before, JSON_COMPACT);
	char *after = json_dumps(p->after, JSON_COMPACT);
	store_audit_t row = {
		.actor = who->actor, .request_id = who->request_id, .zone = p->zone_text,
		.action = "rrsets.patch", .before = before, .after = after,
	};
	if (rc == 0) {
		rc = store_zone_set_serial(st, p->zone_text, new_serial);
	}
	if (rc == 0) {
		rc = store_audit_append(st, &row);
	}
	if (rc == 0) {
		rc = store_journal_append(st, p->zone_text, old_serial, new_serial,
		                          p->removed_text, p->added_text);
	}
	if (rc == 0) {
		rc = store_commit(st);
	}
	if (rc != 0) {
		store_rollback(st);
	}
	free(before);
	free(after);
	return rc;
}

int ctl_rrsets_patch(ctl_t *ctl, const char *zone, const ctl_change_t *changes,
                     size_t count, const ctl_actor_t *who, ctl_error_t *err)
{
	knot_dname_storage_t apex;
	char zone_text[KNOT_DNAME_TXT_MAXLEN + 1];
	if (ctl_zone_name(zone, apex, zone_text, sizeof(zone_text)) != 0) {
		return ctl_fail(err, CIRRUS_ENOENT, 404, NULL, "no such zone");
	}
	pthread_mutex_lock(&ctl->lock);
	bool from_store;
	const zone_t *found = ctl_find_zone(ctl, apex, &from_store);
	int rc = 0;
	if (found == NULL || !from_store) {
		rc = found ? ctl_fail(err, CIRRUS_EEXIST, 409, NULL,
		                      "zone %s is served from a zone file; change the file", zone_text)
		           : ctl_fail(err, CIRRUS_ENOENT, 404, NULL, "no zone %s", zone_text);
		pthread_mutex_unlock(&ctl->lock);
		return rc;
	}
	int index = ctl_store_index(ctl, apex);
	zone_t *base = ctl->store_zones[index];
	patch_t p = { .ctl = ctl, .zone_text = zone_text };
	p.changed = calloc(count ? count : 1, sizeof(*p.changed));
	p.before = json_array();
	p.after = json_array();
	p.removed = open_memstream(&p.removed_text, &p.removed_len);
	p.added = open_memstream(&p.added_text, &p.added_len);
	if (p.changed == NULL || p.before == NULL || p.after == NULL || p.removed == NULL ||
	    p.added == NULL || zone_update_new(base, &p.u) != 0) {
		rc = ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
	}
	for (size_t i = 0; rc == 0 && i < count; i++) {
		rc = apply_change(&p, apex, &changes[i], i, err);
	}
	uint32_t old_serial = 0, new_serial = 0;
	if (rc == 0) {
		old_serial = zone_update_serial(p.u);
		new_serial = ctl_next_serial(ctl->policy, old_serial);
		rc = zone_update_set_serial(p.u, new_serial);
		if (rc == 0 && (rc = zone_update_check(p.u)) != 0) {
			rc = ctl_fail(err, rc, 422, NULL, "%s", zone_update_error(p.u));
		} else if (rc != 0) {
			rc = ctl_fail(err, rc, 422, NULL, "%s", zone_update_error(p.u));
		}
	}
	if (rc == 0 && (rc = commit_to_store(&p, apex, old_serial, new_serial, who)) != 0) {
		rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "the store refused the change");
	}
	zone_t *next = NULL;
	if (rc == 0 && zone_update_commit(p.u, &next) != 0) {
		rc = ctl_fail(err, CIRRUS_ENOMEM, 500, NULL,
		              "stored, but not yet served: out of memory");
	} else if (rc == 0) {
		p.u = NULL;
		zone_ref(next);
		ctl->store_zones[index] = next;
		zone_unref(base); /* still served until the new set is in */
		rc = ctl_publish(ctl);
	}
	zone_update_abort(p.u);
	patch_deinit(&p);
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
		const zone_node_t *n = zone->table[i];
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
