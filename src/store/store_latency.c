/* SPDX-License-Identifier: Apache-2.0
 * store_latency.c -- latency tables loaded through the API: one row per
 * name with the table's text, which the policies of store zones read when
 * they are compiled. The control plane checks a table before it writes it.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/error.h"

int store_latency_put(store_t *st, const char *name, const char *data)
{
	if (name[0] == '\0' || data[0] == '\0') {
		return store_failf(st, CIRRUS_EINVAL, "latency table name or data empty");
	}
	sqlite3_stmt *s;
	int ret = store_prepare(st, "INSERT INTO latency_tables (name, data, created_us,"
	                        " updated_us) VALUES (?1, ?2, ?3, ?3) ON CONFLICT (name) DO UPDATE"
	                        " SET data = excluded.data, updated_us = excluded.updated_us", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, data, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, store_now_us());
	ret = store_step_done(st, s);
	sqlite3_finalize(s);
	return ret;
}

int store_latency_delete(store_t *st, const char *name)
{
	return store_delete_named(st, "DELETE FROM latency_tables WHERE name = ?1", name,
	                          "no latency table '%s'");
}

int store_latency_stamp(store_t *st, store_latency_stamp_t *out)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, "SELECT count(*), coalesce(max(updated_us), 0)"
	                        " FROM latency_tables", &s);
	if (ret < 0) {
		return ret;
	}
	if (sqlite3_step(s) == SQLITE_ROW) {
		out->count = sqlite3_column_int64(s, 0);
		out->latest_us = sqlite3_column_int64(s, 1);
	} else {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}

int store_latency_get(store_t *st, const char *name, char **data)
{
	sqlite3_stmt *s;
	*data = NULL;
	int ret = store_prepare(st, "SELECT data FROM latency_tables WHERE name = ?1", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(s, 0);
		ret = text == NULL ? store_fail(st) :
		      (*data = strdup(text)) == NULL ? CIRRUS_ENOMEM : 0;
	} else if (rc == SQLITE_DONE) {
		ret = store_failf(st, CIRRUS_ENOENT, "no latency table '%s'", name);
	} else {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}
