/* SPDX-License-Identifier: Apache-2.0
 * store_audit.c -- the audit log (who changed what, when, before and
 * after; kept when a zone is removed) and the change journal (removed and
 * added records per serial step: the basis for IXFR; removed with its zone).
 */
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/error.h"

#define AUDIT_LIMIT_DEFAULT 1000

int store_audit_append(store_t *st, const store_audit_t *row)
{
	if (row->actor == NULL || row->action == NULL) {
		return store_failf(st, CIRRUS_EINVAL, "audit row needs an actor and an action");
	}
	sqlite3_stmt *s;
	int ret = store_stmt(st, STMT_AUDIT_INSERT, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_int64(s, 1, store_now_us());
	sqlite3_bind_text(s, 2, row->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, row->request_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, row->zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, row->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, row->before, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, row->after, -1, SQLITE_STATIC);
	return store_step_done(st, s);
}

/* Only the filters in use appear in the SQL, so SQLite can pick the
 * (zone, time_us), (actor, time_us) or (time_us) index. */
static void audit_sql(const store_audit_filter_t *f, char *sql, size_t size)
{
	snprintf(sql, size, "SELECT id, time_us, actor, request_id, zone, action, before, after"
	         " FROM audit WHERE 1 = 1%s%s%s%s ORDER BY time_us DESC, id DESC LIMIT ?5",
	         f->zone ? " AND zone = ?1" : "", f->actor ? " AND actor = ?2" : "",
	         f->since_us ? " AND time_us >= ?3" : "", f->until_us ? " AND time_us < ?4" : "");
}

static const char *column_text(sqlite3_stmt *s, int col)
{
	return (const char *)sqlite3_column_text(s, col);
}

int store_audit_list(store_t *st, const store_audit_filter_t *f, store_audit_cb_t cb,
                     void *ctx)
{
	if (f->limit < 0) {
		return store_failf(st, CIRRUS_EINVAL, "negative audit limit");
	}
	char sql[512];
	sqlite3_stmt *s;
	audit_sql(f, sql, sizeof(sql));
	int ret = store_prepare(st, sql, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, f->zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, f->actor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, f->since_us);
	sqlite3_bind_int64(s, 4, f->until_us);
	sqlite3_bind_int(s, 5, f->limit ? f->limit : AUDIT_LIMIT_DEFAULT);
	int rc = SQLITE_DONE;
	while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_audit_t row = {
			.id = sqlite3_column_int64(s, 0),
			.time_us = sqlite3_column_int64(s, 1),
			.actor = column_text(s, 2),
			.request_id = column_text(s, 3),
			.zone = column_text(s, 4),
			.action = column_text(s, 5),
			.before = column_text(s, 6),
			.after = column_text(s, 7),
		};
		ret = cb(ctx, &row);
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}

int store_journal_append(store_t *st, const char *zone, uint32_t old_serial,
                         uint32_t new_serial, const char *removed, const char *added)
{
	int64_t zone_id;
	int ret = store_zone_id(st, zone, &zone_id);
	sqlite3_stmt *s;
	if (ret == 0) {
		ret = store_stmt(st, STMT_JOURNAL_INSERT, &s);
	}
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_int64(s, 1, zone_id);
	sqlite3_bind_int64(s, 2, old_serial);
	sqlite3_bind_int64(s, 3, new_serial);
	sqlite3_bind_int64(s, 4, store_now_us());
	sqlite3_bind_text(s, 5, removed, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, added, -1, SQLITE_STATIC);
	return store_step_done(st, s);
}

int store_journal_count(store_t *st, const char *zone)
{
	int64_t zone_id;
	int ret = store_zone_id(st, zone, &zone_id);
	sqlite3_stmt *s;
	if (ret == 0) {
		ret = store_prepare(st, "SELECT count(*) FROM journal WHERE zone_id = ?1", &s);
	}
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_int64(s, 1, zone_id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		ret = sqlite3_column_int(s, 0);
	} else {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}
