/* SPDX-License-Identifier: Apache-2.0
 * store_tsig.c -- TSIG keys (RFC 8945) for RFC 2136 UPDATE: name,
 * algorithm, secret and authorization rules. Unlike API tokens the secret
 * itself is kept (HMAC needs it); the file's mode 0600 protects it. Names
 * and rules are stored as the caller gives them (ctl_key_check()).
 */
#include <string.h>

#include "store/store_internal.h"
#include "util/error.h"

#define TSIG_FIELD(f) sizeof(((store_tsig_t *)0)->f)

static bool fits(const char *s, size_t size)
{
	return s[0] != '\0' && strlen(s) < size;
}

int store_tsig_insert(store_t *st, const store_tsig_t *key)
{
	if (!fits(key->name, TSIG_FIELD(name)) || !fits(key->algorithm, TSIG_FIELD(algorithm)) ||
	    !fits(key->secret, TSIG_FIELD(secret)) || !fits(key->rules, TSIG_FIELD(rules))) {
		return store_failf(st, CIRRUS_EINVAL,
		                   "TSIG key name, algorithm, secret or rules empty or too long");
	}
	sqlite3_stmt *s;
	int ret = store_prepare(st, "INSERT INTO tsig_keys (name, algorithm, secret, rules)"
	                            " VALUES (?1, ?2, ?3, ?4)", &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, key->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key->algorithm, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, key->secret, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, key->rules, -1, SQLITE_STATIC);
	ret = store_step_done(st, s);
	if (ret == CIRRUS_EEXIST) {
		ret = store_failf(st, ret, "a TSIG key named '%s' exists", key->name);
	}
	sqlite3_finalize(s);
	return ret;
}

static int tsig_from_row(store_t *st, sqlite3_stmt *s, store_tsig_t *out)
{
	out->id = sqlite3_column_int64(s, 0);
	int ret = store_copy_text(st, s, 1, out->name, sizeof(out->name));
	if (ret == 0) {
		ret = store_copy_text(st, s, 2, out->algorithm, sizeof(out->algorithm));
	}
	if (ret == 0) {
		ret = store_copy_text(st, s, 3, out->secret, sizeof(out->secret));
	}
	if (ret == 0) {
		ret = store_copy_text(st, s, 4, out->rules, sizeof(out->rules));
	}
	return ret;
}

#define TSIG_COLUMNS "SELECT id, name, algorithm, secret, rules FROM tsig_keys"

int store_tsig_find(store_t *st, const char *name, store_tsig_t *out)
{
	sqlite3_stmt *s;
	int ret = store_stmt(st, STMT_TSIG_FIND, &s);
	if (ret < 0) {
		return ret;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ret = tsig_from_row(st, s, out);
	} else if (rc == SQLITE_DONE) {
		ret = store_failf(st, CIRRUS_ENOENT, "no TSIG key named '%s'", name);
	} else {
		ret = store_fail(st);
	}
	sqlite3_reset(s);
	return ret;
}

int store_tsig_list(store_t *st, store_tsig_cb_t cb, void *ctx)
{
	sqlite3_stmt *s;
	int ret = store_prepare(st, TSIG_COLUMNS " ORDER BY name", &s);
	if (ret < 0) {
		return ret;
	}
	int rc = SQLITE_DONE;
	while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		store_tsig_t key;
		ret = tsig_from_row(st, s, &key);
		if (ret == 0) {
			ret = cb(ctx, &key);
		}
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		ret = store_fail(st);
	}
	sqlite3_finalize(s);
	return ret;
}

int store_tsig_delete(store_t *st, const char *name)
{
	return store_delete_named(st, "DELETE FROM tsig_keys WHERE name = ?1", name,
	                          "no TSIG key named '%s'");
}
