/* SPDX-License-Identifier: Apache-2.0
 * store_policy.c -- routing policies of store zones: one row per (zone,
 * owner, type) with the spec as JSON, which the control plane checks by
 * compiling it before it writes. Rows go with their zone (ON DELETE CASCADE).
 */
#include <string.h>

#include "store/store_internal.h"
#include "util/error.h"

#define POLICY_FIELD(f) sizeof(((store_policy_t *)0)->f)

int store_policy_put(store_t *st, const store_policy_t *p)
{
	if (p->owner[0] == '\0' || strlen(p->owner) >= POLICY_FIELD(owner) ||
	    p->type[0] == '\0' || strlen(p->type) >= POLICY_FIELD(type) ||
	    p->spec == NULL || p->spec[0] == '\0') {
		return store_failf(st, CIRRUS_EINVAL, "policy owner, type or spec empty or too long");
	}
	int64_t zone_id;
	int ret = store_zone_id(st, p->zone, &zone_id);
	if (ret < 0) {
		return ret;
	}
	sqlite3_stmt *s;
	/* A new spec for the same owner and type keeps its created_us. */
	ret = store_prepare(st, "INSERT INTO policies (zone_id, owner, type, spec, created_us,"
	                    " updated_us) VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
	                    " ON CONFLICT (zone_id, owner, type) DO UPDATE SET"
	                    " spec = excluded.spec, updated_us = excluded.updated_us", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_int64(s, 1, zone_id);
	sqlite3_bind_text(s, 2, p->owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, p->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, p->spec, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, store_now_us());
	ret = store_step_done(st, s);
	sqlite3_finalize(s);
	return ret;
}

int store_policy_delete(store_t *st, const char *zone, const char *owner, const char *type)
{
	int64_t zone_id;
	int ret = store_zone_id(st, zone, &zone_id);
	sqlite3_stmt *s;
	if (ret == 0) {
		ret = store_prepare(st, "DELETE FROM policies WHERE zone_id = ?1 AND owner = ?2"
		                    " AND type = ?3", &s);
	}
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_int64(s, 1, zone_id);
	sqlite3_bind_text(s, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, type, -1, SQLITE_STATIC);
	ret = store_step_done(st, s);
	if (ret == 0 && sqlite3_changes(st->db) == 0) {
		ret = store_failf(st, CIRRUS_ENOENT, "no policy %s %s in zone %s", owner, type, zone);
	}
	sqlite3_finalize(s);
	return ret;
}

int store_policy_list(store_t *st, const char *zone, const char *owner, const char *type,
                      store_policy_cb_t cb, void *ctx)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, "SELECT z.name, p.owner, p.type, p.spec, p.created_us,"
	                        " p.updated_us FROM policies p JOIN zones z ON z.id = p.zone_id"
	                        " WHERE z.name = ?1 AND (?2 IS NULL OR p.owner = ?2)"
	                        " AND (?3 IS NULL OR p.type = ?3) ORDER BY p.owner, p.type", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, type, -1, SQLITE_STATIC);
	store_policy_t row;
	int rc = SQLITE_DONE;
	while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		row.spec = (const char *)sqlite3_column_text(s, 3);
		row.created_us = sqlite3_column_int64(s, 4);
		row.updated_us = sqlite3_column_int64(s, 5);
		ret = store_copy_text(st, s, 0, row.zone, sizeof(row.zone));
		if (ret == 0) {
			ret = store_copy_text(st, s, 1, row.owner, sizeof(row.owner));
		}
		if (ret == 0) {
			ret = store_copy_text(st, s, 2, row.type, sizeof(row.type));
		}
		if (ret == 0) {
			ret = row.spec != NULL ? cb(ctx, &row) : store_fail(st);
		}
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}
