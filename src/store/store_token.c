/* SPDX-License-Identifier: Apache-2.0
 * store_token.c -- API tokens: a name, the hex SHA-256 of the secret and
 * the scopes. The secret itself never reaches the store; checking a bearer
 * token is one indexed lookup of its hash.
 */
#include <string.h>

#include "store/store_internal.h"
#include "util/error.h"

#define TOKEN_FIELD(f) sizeof(((store_token_t *)0)->f)

int store_token_insert(store_t *st, const char *name, const char *hash, const char *scopes)
{
	if (name[0] == '\0' || strlen(name) >= TOKEN_FIELD(name) ||
	    strlen(hash) >= TOKEN_FIELD(hash) || strlen(scopes) >= TOKEN_FIELD(scopes)) {
		return store_failf(st, CIRRUS_EINVAL, "token name, hash or scopes empty or too long");
	}
	sqlite3_stmt *s;
	int ret = store_prepare(st, "INSERT INTO tokens (name, hash, scopes, created_us)"
	                            " VALUES (?1, ?2, ?3, ?4)", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, scopes, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, store_now_us());
	ret = store_step_done(st, s);
	sqlite3_finalize(s);
	return ret;
}

static int token_from_row(store_t *st, sqlite3_stmt *s, store_token_t *out)
{
	out->id = sqlite3_column_int64(s, 0);
	out->created_us = sqlite3_column_int64(s, 4);
	int ret = store_copy_text(st, s, 1, out->name, sizeof(out->name));
	if (ret == 0) {
		ret = store_copy_text(st, s, 2, out->hash, sizeof(out->hash));
	}
	if (ret == 0) {
		ret = store_copy_text(st, s, 3, out->scopes, sizeof(out->scopes));
	}
	return ret;
}

int store_token_find(store_t *st, const char *hash, store_token_t *out)
{
	sqlite3_stmt *s;
	int ret = store_stmt(st, STMT_TOKEN_FIND, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ret = token_from_row(st, s, out);
	} else if (rc == SQLITE_DONE) {
		ret = store_failf(st, CIRRUS_ENOENT, "no such token");
	} else {
		ret = store_fail(st);
	}
	sqlite3_reset(s);
	return ret;
}

int store_token_list(store_t *st, store_token_cb_t cb, void *ctx)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, "SELECT id, name, hash, scopes, created_us FROM tokens"
	                            " ORDER BY name", &s);
	if (ret < 0) {
		return ret;
	}
	int rc = SQLITE_DONE;
	while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_token_t tok;
		ret = token_from_row(st, s, &tok);
		if (ret == 0) {
			ret = cb(ctx, &tok);
		}
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}

int store_token_delete(store_t *st, const char *name)
{
	return store_delete_named(st, "DELETE FROM tokens WHERE name = ?1", name,
	                          "no token named '%s'");
}

int store_data_version(store_t *st, int64_t *out)
{
	sqlite3_stmt *s;
	int ret = store_stmt(st, STMT_DATA_VERSION, &s);
	if (ret < 0) {
		return ret;
	}
	int rc = sqlite3_step(s);
	*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : store_fail(st);
}
