/* SPDX-License-Identifier: Apache-2.0
 * ctl.c -- control-plane lifecycle: loading the store's zones, combining
 * them with file zones, publishing zone sets, and the read-only views
 * (zone list, RRsets, export) the API serves.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl_internal.h"
#include "util/error.h"
#include "util/log.h"
#include "util/grow.h"

int ctl_fail(ctl_error_t *err, int code, int status, const char *field,
             const char *fmt, ...)
{
	if (err != NULL) {
		err->status = status;
		snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

int ctl_zone_name(const char *input, knot_dname_storage_t wire, char *text, size_t textlen)
{
	if (input == NULL || zone_name_parse(wire, input, (const knot_dname_t *)"") == 0) {
		return CIRRUS_EINVAL;
	}
	if (knot_dname_to_str(text, wire, textlen) == NULL) {
		return CIRRUS_EINVAL;
	}
	return 0;
}

int ctl_store_index(const ctl_t *ctl, const knot_dname_t *apex)
{
	for (size_t i = 0; i < ctl->store_count; i++) {
		if (knot_dname_is_equal(zone_apex(ctl->store_zones[i]), apex)) {
			return (int)i;
		}
	}
	return -1;
}

const zone_t *ctl_find_zone(const ctl_t *ctl, const knot_dname_t *apex, bool *from_store)
{
	int i = ctl_store_index(ctl, apex);
	*from_store = i >= 0;
	if (i >= 0) {
		return ctl->store_zones[i];
	}
	for (size_t f = 0; f < ctl->file_count; f++) {
		if (knot_dname_is_equal(zone_apex(ctl->file_zones[f]), apex)) {
			return ctl->file_zones[f];
		}
	}
	return NULL;
}

int ctl_publish(ctl_t *ctl)
{
	size_t total = ctl->store_count + ctl->file_count, n = 0;
	zone_t **all = malloc((total ? total : 1) * sizeof(*all));
	if (all == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < ctl->store_count; i++) {
		all[n++] = ctl->store_zones[i];
	}
	for (size_t i = 0; i < ctl->file_count; i++) {
		if (ctl_store_index(ctl, zone_apex(ctl->file_zones[i])) < 0) {
			all[n++] = ctl->file_zones[i];
		}
	}
	zone_set_t *set = NULL;
	int rc = zone_set_new(all, n, &set);
	free(all);
	if (rc == 0) {
		ctl->publish(ctl->publish_ctx, set);
	}
	return rc;
}

/* Changes are served once their commit is in the WAL and acknowledged
 * after this (store_sync logs a failure): the WAL's fsync (a millisecond,
 * far more when a virtual disk stalls) is not between a change and its
 * answers, and, run outside the lock, not between the next change and its
 * answers either. A crash of the process in between loses nothing (the
 * commit is in the WAL); one of the machine can lose only changes nobody
 * was told were made. */
int ctl_sync(ctl_t *ctl, int rc, ctl_error_t *err)
{
	/* Also after a failure (404, 409...): what the request saw of others'
	 * changes is then on disk too when it is answered. */
	if (store_sync(ctl->st) == 0 || rc != 0) {
		return rc;
	}
	return ctl_fail(err, CIRRUS_EIO, 500, NULL, "served, but the disk did not confirm the "
	                "change; it may be lost if the machine stops");
}

bool ctl_sync_pending(ctl_t *ctl)
{
	return store_sync_pending(ctl->st);
}

uint32_t ctl_next_serial(ctl_serial_policy_t policy, uint32_t old)
{
	if (policy == CTL_SERIAL_DATE) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		uint32_t today = (uint32_t)((tm.tm_year + 1900) * 1000000 +
		                            (tm.tm_mon + 1) * 10000 + tm.tm_mday * 100);
		if ((int32_t)(today - old) > 0) {
			return today;
		}
	}
	uint32_t next = old + 1;
	return next == 0 ? 1 : next;
}

typedef struct load_ctx {
	zone_builder_t *b;
	int rc;
} load_ctx_t;

static int add_stored_record(void *ctx, const store_record_t *rec)
{
	load_ctx_t *l = ctx;
	return zone_builder_add_record(l->b, rec->owner, rec->type, rec->ttl, rec->rdata,
	                               rec->rdlen);
}

static void log_diag(void *ctx, zone_diag_level_t level, const char *file, uint64_t line,
                     const char *reason)
{
	(void)file;
	(void)line;
	snprintf(ctx, 512, "%s", reason);
	if (level == ZONE_DIAG_WARNING) {
		log_warning("store zone: %s", reason);
	}
}

/* Build a zone from the store's records (the API has checked them), with
 * its policies. */
int ctl_store_zone_load(store_t *st, const char *name, zone_t **out, char *err,
                        size_t errlen)
{
	char reason[512] = "";
	zone_builder_t *b = NULL;
	int rc = zone_builder_new(name, log_diag, reason, &b);
	if (rc != 0) {
		snprintf(err, errlen, "stored zone %s: invalid name", name);
		return rc;
	}
	load_ctx_t l = { .b = b };
	rc = store_zone_records(st, name, add_stored_record, &l);
	if (rc != 0) {
		zone_builder_free(b);
		snprintf(err, errlen, "stored zone %s: %s", name, cirrus_strerror(rc));
		return rc;
	}
	rc = zone_builder_build(b, false, out);
	if (rc != 0) {
		snprintf(err, errlen, "stored zone %s does not load: %s", name, reason);
	} else {
		rc = ctl_policies_load(st, name, out, err, errlen);
	}
	return rc;
}

int ctl_store_append(ctl_t *ctl, zone_t *zone)
{
	zone_t **grown = grow_one(ctl->store_zones, ctl->store_count, &ctl->store_alloc,
	                          sizeof(*grown), 16);
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	ctl->store_zones = grown;
	zone_ref(zone);
	ctl->store_zones[ctl->store_count++] = zone;
	return 0;
}

typedef struct list_ctx {
	ctl_t *ctl;
	char *err;
	size_t errlen;
} list_ctx_t;

static int load_listed(void *ctx, const store_zone_t *row)
{
	list_ctx_t *l = ctx;
	zone_t *zone = NULL;
	int rc = ctl_store_zone_load(l->ctl->st, row->name, &zone, l->err, l->errlen);
	if (rc == 0 && (rc = ctl_store_append(l->ctl, zone)) != 0) {
		zone_free(zone);
	}
	return rc;
}

int ctl_new(store_t *st, ctl_serial_policy_t policy, ctl_publish_cb_t publish,
            void *publish_ctx, ctl_t **out, char *err, size_t errlen)
{
	ctl_t *ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL) {
		return CIRRUS_ENOMEM;
	}
	*ctl = (ctl_t){ .st = st, .policy = policy, .publish = publish,
	                .publish_ctx = publish_ctx };
	pthread_mutex_init(&ctl->lock, NULL);
	list_ctx_t l = { .ctl = ctl, .err = err, .errlen = errlen };
	int rc = store_zone_list(st, load_listed, &l);
	if (rc == 0) {
		rc = ctl_publish(ctl);
	}
	if (rc != 0) {
		ctl_free(ctl);
		return rc;
	}
	*out = ctl;
	return 0;
}

void ctl_free(ctl_t *ctl)
{
	if (ctl == NULL) {
		return;
	}
	for (size_t i = 0; i < ctl->store_count; i++) {
		zone_unref(ctl->store_zones[i]);
	}
	for (size_t i = 0; i < ctl->file_count; i++) {
		zone_unref(ctl->file_zones[i]);
	}
	free(ctl->store_zones);
	free(ctl->file_zones);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl);
}

int ctl_set_file_zones(ctl_t *ctl, zone_t *const *zones, size_t count,
                       char *err, size_t errlen)
{
	zone_t **copy = malloc((count ? count : 1) * sizeof(*copy));
	if (copy == NULL) {
		return CIRRUS_ENOMEM;
	}
	pthread_mutex_lock(&ctl->lock);
	err[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		copy[i] = zones[i];
		zone_ref(zones[i]);
		if (ctl_store_index(ctl, zone_apex(zones[i])) >= 0) {
			char name[KNOT_DNAME_TXT_MAXLEN + 1];
			knot_dname_to_str(name, zone_apex(zones[i]), sizeof(name));
			snprintf(err, errlen, "zone %s is in the store and in a file; "
			         "the store's version is served", name);
		}
	}
	for (size_t i = 0; i < ctl->file_count; i++) {
		zone_unref(ctl->file_zones[i]);
	}
	free(ctl->file_zones);
	ctl->file_zones = copy;
	ctl->file_count = count;
	int rc = ctl_publish(ctl);
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

static int report_zone(const zone_t *zone, bool from_store, ctl_zone_cb_t cb, void *ctx)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_to_str(name, zone_apex(zone), sizeof(name));
	ctl_zone_info_t info = {
		.name = name,
		.serial = zone->soa ? knot_soa_serial(zone->soa->rrs.rdata) : 0,
		.records = zone->record_count,
		.source = from_store ? "store" : "file",
	};
	return cb(ctx, &info);
}

int ctl_zone_list(ctl_t *ctl, ctl_zone_cb_t cb, void *ctx)
{
	pthread_mutex_lock(&ctl->lock);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < ctl->store_count; i++) {
		rc = report_zone(ctl->store_zones[i], true, cb, ctx);
	}
	for (size_t i = 0; rc == 0 && i < ctl->file_count; i++) {
		if (ctl_store_index(ctl, zone_apex(ctl->file_zones[i])) < 0) {
			rc = report_zone(ctl->file_zones[i], false, cb, ctx);
		}
	}
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

int ctl_zone_info(ctl_t *ctl, const char *zone, ctl_zone_cb_t cb, void *ctx)
{
	knot_dname_storage_t apex;
	char text[KNOT_DNAME_TXT_MAXLEN + 1];
	if (ctl_zone_name(zone, apex, text, sizeof(text)) != 0) {
		return CIRRUS_ENOENT;
	}
	pthread_mutex_lock(&ctl->lock);
	bool from_store;
	const zone_t *z = ctl_find_zone(ctl, apex, &from_store);
	int rc = z ? report_zone(z, from_store, cb, ctx) : CIRRUS_ENOENT;
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

/* Report one RRset with its records as text. */
static int report_rrset(const zone_node_t *node, const zone_rrset_t *rs,
                        ctl_rrset_cb_t cb, void *ctx)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1], type[32];
	knot_dname_to_str(name, node->owner, sizeof(name));
	knot_rrtype_to_string(rs->type, type, sizeof(type));
	char **records = calloc(rs->rrs.count ? rs->rrs.count : 1, sizeof(*records));
	int rc = records ? 0 : CIRRUS_ENOMEM;
	for (uint16_t i = 0; rc == 0 && i < rs->rrs.count; i++) {
		size_t size = 256;
		for (;;) {
			records[i] = malloc(size);
			if (records[i] == NULL) {
				rc = CIRRUS_ENOMEM;
				break;
			}
			if (zone_rdata_dump(node->owner, rs, i, records[i], size) >= 0) {
				break;
			}
			free(records[i]);
			size *= 4;
		}
	}
	if (rc == 0) {
		ctl_rrset_info_t info = { .name = name, .type = type, .ttl = rs->ttl,
		                          .records = (const char *const *)records,
		                          .record_count = rs->rrs.count };
		rc = cb(ctx, &info);
	}
	for (uint16_t i = 0; records && i < rs->rrs.count; i++) {
		free(records[i]);
	}
	free(records);
	return rc;
}

int ctl_rrsets_list(ctl_t *ctl, const char *zone, const char *name, const char *type,
                    ctl_rrset_cb_t cb, void *ctx)
{
	knot_dname_storage_t apex, owner;
	char text[KNOT_DNAME_TXT_MAXLEN + 1];
	uint16_t want_type = 0;
	if (ctl_zone_name(zone, apex, text, sizeof(text)) != 0) {
		return CIRRUS_ENOENT;
	}
	if ((name != NULL && zone_name_parse(owner, name, apex) == 0) ||
	    (type != NULL && knot_rrtype_from_string(type, &want_type) != 0)) {
		return CIRRUS_EINVAL;
	}
	pthread_mutex_lock(&ctl->lock);
	bool from_store;
	const zone_t *z = ctl_find_zone(ctl, apex, &from_store);
	const zone_node_t **nodes = NULL;
	size_t count = 0;
	int rc = z ? zone_nodes_sorted(z, &nodes, &count) : CIRRUS_ENOENT;
	for (size_t i = 0; rc == 0 && i < count; i++) {
		if (name != NULL && !knot_dname_is_equal(nodes[i]->owner, owner)) {
			continue;
		}
		for (uint16_t r = 0; rc == 0 && r < nodes[i]->rrset_count; r++) {
			if (type == NULL || nodes[i]->rrsets[r].type == want_type) {
				rc = report_rrset(nodes[i], &nodes[i]->rrsets[r], cb, ctx);
			}
		}
	}
	free(nodes);
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

int ctl_zone_export(ctl_t *ctl, const char *zone, char **text)
{
	knot_dname_storage_t apex;
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	if (ctl_zone_name(zone, apex, name, sizeof(name)) != 0) {
		return CIRRUS_ENOENT;
	}
	pthread_mutex_lock(&ctl->lock);
	bool from_store;
	const zone_t *z = ctl_find_zone(ctl, apex, &from_store);
	int rc = z ? zone_export_text(z, text) : CIRRUS_ENOENT;
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

store_t *ctl_store_lock(ctl_t *ctl)
{
	pthread_mutex_lock(&ctl->lock);
	return ctl->st;
}

store_t *ctl_store_trylock(ctl_t *ctl)
{
	return pthread_mutex_trylock(&ctl->lock) == 0 ? ctl->st : NULL;
}

void ctl_store_unlock(ctl_t *ctl)
{
	pthread_mutex_unlock(&ctl->lock);
}
