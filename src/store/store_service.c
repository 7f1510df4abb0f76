/* SPDX-License-Identifier: Apache-2.0
 * store_service.c -- service instances of the registry (src/registry/):
 * one row per (zone, service, instance) with the registration as JSON and
 * the lease expiry. A heartbeat is one UPDATE of expires_us; the records
 * an instance puts in its zone go through ctl like every other change.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/error.h"

#define INSTANCE_FIELD(f) sizeof(((store_instance_t *)0)->f)

static bool instance_key_ok(const char *zone, const char *service, const char *instance)
{
	return zone[0] != '\0' && strlen(zone) < INSTANCE_FIELD(zone) &&
	       service[0] != '\0' && strlen(service) < INSTANCE_FIELD(service) &&
	       instance[0] != '\0' && strlen(instance) < INSTANCE_FIELD(instance);
}

int store_instance_put(store_t *st, const store_instance_t *in)
{
	if (!instance_key_ok(in->zone, in->service, in->instance) ||
	    strlen(in->data) >= INSTANCE_FIELD(data)) {
		return store_failf(st, CIRRUS_EINVAL, "instance key empty or too long");
	}
	sqlite3_stmt *s;
	int ret = store_stmt(st, STMT_INSTANCE_PUT, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, in->zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, in->service, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, in->instance, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, in->data, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, in->expires_us);
	sqlite3_bind_int64(s, 6, in->updated_us ? in->updated_us : store_now_us());
	return store_step_done(st, s);
}

/* Run a statement on (zone, service, instance) [+ ?4]; ENOENT when no row changed. */
static int instance_write(store_t *st, store_stmt_id_t id, const char *zone,
                          const char *service, const char *instance, int64_t value)
{
	sqlite3_stmt *s;
	int ret = store_stmt(st, id, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, service, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, instance, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(s) >= 4) {
		sqlite3_bind_int64(s, 4, value);
	}
	ret = store_step_done(st, s);
	if (ret == 0 && sqlite3_changes(st->db) == 0) {
		ret = store_failf(st, CIRRUS_ENOENT, "no such instance");
	}
	return ret;
}

int store_instance_delete(store_t *st, const char *zone, const char *service,
                          const char *instance)
{
	return instance_write(st, STMT_INSTANCE_DELETE, zone, service, instance, 0);
}

int store_instance_renew(store_t *st, const char *zone, const char *service,
                         const char *instance, int64_t expires_us)
{
	return instance_write(st, STMT_INSTANCE_RENEW, zone, service, instance, expires_us);
}

static int instance_from_row(store_t *st, sqlite3_stmt *s, store_instance_t *out)
{
	out->expires_us = sqlite3_column_int64(s, 4);
	out->created_us = sqlite3_column_int64(s, 5);
	out->updated_us = sqlite3_column_int64(s, 6);
	int ret = store_copy_text(st, s, 0, out->zone, sizeof(out->zone));
	if (ret == 0) {
		ret = store_copy_text(st, s, 1, out->service, sizeof(out->service));
	}
	if (ret == 0) {
		ret = store_copy_text(st, s, 2, out->instance, sizeof(out->instance));
	}
	if (ret == 0) {
		ret = store_copy_text(st, s, 3, out->data, sizeof(out->data));
	}
	return ret;
}

#define INSTANCE_COLUMNS "SELECT zone, service, instance, data, expires_us, created_us," \
	" updated_us FROM service_instances "

/* Walk the rows of a prepared statement into cb; finalizes it. */
static int instance_walk(store_t *st, sqlite3_stmt *s, store_instance_cb_t cb, void *ctx)
{
	store_instance_t *in = malloc(sizeof(*in));
	int ret = in == NULL ? CIRRUS_ENOMEM : 0, rc = SQLITE_DONE;
	while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		ret = instance_from_row(st, s, in);
		if (ret == 0) {
			ret = cb(ctx, in);
		}
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		ret = store_fail(st);
	}
	free(in);
	sqlite3_finalize(s);
	return ret;
}

int store_instance_list(store_t *st, const char *zone, const char *service,
                        store_instance_cb_t cb, void *ctx)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, INSTANCE_COLUMNS
	                        "WHERE (?1 IS NULL OR zone = ?1) AND (?2 IS NULL OR service = ?2)"
	                        " ORDER BY zone, service, instance", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, service, -1, SQLITE_STATIC);
	return instance_walk(st, s, cb, ctx);
}

int store_instance_expired(store_t *st, int64_t now_us, store_instance_cb_t cb, void *ctx)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, INSTANCE_COLUMNS "WHERE expires_us <= ?1"
	                        " ORDER BY zone, service, instance", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_int64(s, 1, now_us);
	return instance_walk(st, s, cb, ctx);
}
