/* SPDX-License-Identifier: Apache-2.0
 * store_zone.c -- zones and their records in the store. Owners are kept as
 * lower-case wire names so that a record is found and deduplicated by its
 * bytes; rdata is kept exactly as given.
 */
#include <string.h>

#include "store/store_internal.h"
#include "util/error.h"

#define DNAME_MAX 255

/* Length of the wire name at p, reading at most max bytes; 0 if malformed. */
static size_t dname_len(const uint8_t *p, size_t max)
{
	size_t pos = 0;
	if (max > DNAME_MAX) {
		max = DNAME_MAX;
	}
	while (pos < max) {
		uint8_t len = p[pos];
		if (len == 0) {
			return pos + 1;
		}
		if (len > 63) {
			return 0;
		}
		pos += 1 + (size_t)len;
	}
	return 0;
}

/* Lower-case copy of an owner; its length, or CIRRUS_EINVAL. Label length
 * bytes (0-63) are below 'A', so folding every byte is safe. */
static int owner_lower(store_t *st, const uint8_t *owner, uint8_t out[DNAME_MAX])
{
	size_t len = dname_len(owner, DNAME_MAX);
	if (len == 0) {
		return store_failf(st, CIRRUS_EINVAL, "malformed owner name");
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t c = owner[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
	}
	return (int)len;
}

static void bind_rdata(sqlite3_stmt *s, int col, const store_record_t *rec)
{
	/* A NULL blob would be SQL NULL; empty rdata (e.g. NULL RR) is valid. */
	if (rec->rdlen == 0) {
		sqlite3_bind_zeroblob(s, col, 0);
	} else {
		sqlite3_bind_blob(s, col, rec->rdata, rec->rdlen, SQLITE_STATIC);
	}
}

/* Look up the zone, bind its id and the lower-case owner as ?1 and ?2 of a
 * cached statement. The owner buffer must outlive the step. */
static int bind_owner(store_t *st, store_stmt_id_t id, const char *zone,
                      const uint8_t *owner, uint8_t buf[DNAME_MAX], sqlite3_stmt **out)
{
	int64_t zone_id;
	int len = owner_lower(st, owner, buf);
	if (len < 0) {
		return len;
	}
	int ret = store_zone_id(st, zone, &zone_id);
	if (ret == 0) {
		ret = store_stmt(st, id, out);
	}
	if (ret == 0) {
		sqlite3_bind_int64(*out, 1, zone_id);
		sqlite3_bind_blob(*out, 2, buf, len, SQLITE_STATIC);
	}
	return ret;
}

int store_record_insert(store_t *st, const char *zone, const store_record_t *rec)
{
	uint8_t owner[DNAME_MAX];
	sqlite3_stmt *s;
	int ret = bind_owner(st, STMT_RECORD_INSERT, zone, rec->owner, owner, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_int(s, 3, rec->type);
	sqlite3_bind_int64(s, 4, rec->ttl);
	bind_rdata(s, 5, rec);
	return store_step_done(st, s);
}

int store_rrset_delete(store_t *st, const char *zone, const uint8_t *owner, uint16_t type)
{
	uint8_t buf[DNAME_MAX];
	sqlite3_stmt *s;
	bool any = (type == 255);
	int ret = bind_owner(st, any ? STMT_OWNER_DELETE : STMT_RRSET_DELETE, zone, owner,
	                     buf, &s);
	if (ret < 0) {
		return ret;
	}
	if (!any) {
		sqlite3_bind_int(s, 3, type);
	}
	return store_step_done(st, s);
}

int store_record_delete(store_t *st, const char *zone, const store_record_t *rec)
{
	uint8_t owner[DNAME_MAX];
	sqlite3_stmt *s;
	int ret = bind_owner(st, STMT_RECORD_DELETE, zone, rec->owner, owner, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_int(s, 3, rec->type);
	bind_rdata(s, 4, rec);
	return store_step_done(st, s);
}

int store_zone_records(store_t *st, const char *name, store_record_cb_t cb, void *ctx)
{
	static const uint8_t empty[1];
	int64_t zone_id;
	int ret = store_zone_id(st, name, &zone_id);
	sqlite3_stmt *s;
	if (ret == 0) {
		ret = store_prepare(st, "SELECT owner, type, ttl, rdata FROM records"
		                        " WHERE zone_id = ?1", &s);
	}
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_int64(s, 1, zone_id);
	int rc = SQLITE_DONE;
	while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *owner = sqlite3_column_blob(s, 0);
		size_t olen = (size_t)sqlite3_column_bytes(s, 0);
		const uint8_t *rdata = sqlite3_column_blob(s, 3);
		int rdlen = sqlite3_column_bytes(s, 3);
		if (owner == NULL || dname_len(owner, olen) != olen || rdlen > UINT16_MAX) {
			ret = store_failf(st, CIRRUS_EIO, "corrupt record in zone '%s'", name);
			break;
		}
		store_record_t rec = {
			.owner = owner,
			.type = (uint16_t)sqlite3_column_int(s, 1),
			.ttl = (uint32_t)sqlite3_column_int64(s, 2),
			.rdata = rdata ? rdata : empty,
			.rdlen = (uint16_t)rdlen,
		};
		ret = cb(ctx, &rec);
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}

static int zone_from_row(store_t *st, sqlite3_stmt *s, store_zone_t *out)
{
	out->serial = (uint32_t)sqlite3_column_int64(s, 1);
	out->created_us = sqlite3_column_int64(s, 2);
	out->updated_us = sqlite3_column_int64(s, 3);
	return store_copy_text(st, s, 0, out->name, sizeof(out->name));
}

#define ZONE_COLUMNS "SELECT name, serial, created_us, updated_us FROM zones"

int store_zone_list(store_t *st, store_zone_cb_t cb, void *ctx)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, ZONE_COLUMNS " ORDER BY name", &s);
	if (ret < 0) {
		return ret;
	}
	int rc = SQLITE_DONE;
	while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_zone_t zone;
		ret = zone_from_row(st, s, &zone);
		if (ret == 0) {
			ret = cb(ctx, &zone);
		}
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}

int store_zone_get(store_t *st, const char *name, store_zone_t *out)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, ZONE_COLUMNS " WHERE name = ?1", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ret = zone_from_row(st, s, out);
	} else if (rc == SQLITE_DONE) {
		ret = store_failf(st, CIRRUS_ENOENT, "no zone '%s' in the store", name);
	} else {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}

int store_zone_insert(store_t *st, const char *name, uint32_t serial)
{
	if (strlen(name) >= sizeof(((store_zone_t *)0)->name)) {
		return store_failf(st, CIRRUS_EINVAL, "zone name too long");
	}
	sqlite3_stmt *s;
	int ret = store_prepare(st, "INSERT INTO zones (name, serial, created_us, updated_us)"
	                            " VALUES (?1, ?2, ?3, ?3)", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, serial);
	sqlite3_bind_int64(s, 3, store_now_us());
	ret = store_step_done(st, s);
	sqlite3_finalize(s);
	store_zone_id_forget(st);
	return ret;
}

/* Run a one-off write on one zone by name; CIRRUS_ENOENT if no row changed. */
static int zone_write(store_t *st, sqlite3_stmt *s, const char *name)
{
	int ret = store_step_done(st, s);
	if (ret == 0 && sqlite3_changes(st->db) == 0) {
		ret = store_failf(st, CIRRUS_ENOENT, "no zone '%s' in the store", name);
	}
	sqlite3_finalize(s);
	return ret;
}

int store_zone_remove(store_t *st, const char *name)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, "DELETE FROM zones WHERE name = ?1", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	store_zone_id_forget(st);
	return zone_write(st, s, name);
}

int store_zone_set_serial(store_t *st, const char *name, uint32_t serial)
{
	sqlite3_stmt *s;
	int ret = store_stmt(st, STMT_ZONE_SERIAL, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, serial);
	sqlite3_bind_int64(s, 3, store_now_us());
	ret = store_step_done(st, s);
	if (ret == 0 && sqlite3_changes(st->db) == 0) {
		ret = store_failf(st, CIRRUS_ENOENT, "no zone '%s' in the store", name);
	}
	return ret;
}
