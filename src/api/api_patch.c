/* SPDX-License-Identifier: Apache-2.0
 * api_patch.c -- read the body of PATCH /zones/{zone}/rrsets into ctl
 * changes, checking its JSON shape: which fields, of which JSON types, TTL
 * range (RFC 2181 section 8), REPLACE with records, DELETE without. Names,
 * types and rdata are ctl's to parse. No HTTP here, so the unit tests and
 * the fuzz target call it directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_parse.h"
#include "util/error.h"

/* TTLs are 0 to 2^31 - 1 (RFC 2181 section 8). */
#define TTL_MAX 2147483647

static int bad(api_fail_t *fail, size_t i, const char *key, const char *msg)
{
	snprintf(fail->field, sizeof(fail->field), "rrsets[%zu]%s%s", i, key[0] ? "." : "", key);
	snprintf(fail->message, sizeof(fail->message), "%s", msg);
	return CIRRUS_EINVAL;
}

static int nomem(api_fail_t *fail)
{
	fail->field[0] = '\0';
	snprintf(fail->message, sizeof(fail->message), "out of memory");
	return CIRRUS_ENOMEM;
}

/* The first key of obj that is not in known (NULL-terminated), or NULL. */
static const char *unknown_key(json_t *obj, const char *const *known)
{
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value) {
		const char *const *n = known;
		while (*n != NULL && strcmp(*n, key) != 0) {
			n++;
		}
		if (*n == NULL) {
			return key;
		}
	}
	return NULL;
}

static int read_records(size_t i, json_t *v, ctl_change_t *c, api_fail_t *fail)
{
	if (c->op == CTL_CHANGE_DELETE) {
		if (v != NULL && (!json_is_array(v) || json_array_size(v) != 0)) {
			return bad(fail, i, "records", "DELETE removes the whole RRset: leave out "
			           "records (to drop some records, REPLACE with the rest)");
		}
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		return bad(fail, i, "records", "REPLACE needs records: a list of at least one "
		           "rdata string (use DELETE to remove the RRset)");
	}
	const char **records = calloc(json_array_size(v), sizeof(*records));
	if (records == NULL) {
		return nomem(fail);
	}
	c->records = records;
	c->record_count = json_array_size(v);
	for (size_t k = 0; k < c->record_count; k++) {
		if ((records[k] = json_string_value(json_array_get(v, k))) == NULL) {
			char key[32];
			snprintf(key, sizeof(key), "records[%zu]", k);
			return bad(fail, i, key, "a record is its rdata in presentation form, "
			           "as a string (\"192.0.2.1\")");
		}
	}
	return 0;
}

/* Check the shape of change i and fill c. */
static int read_change(size_t i, json_t *o, ctl_change_t *c, api_fail_t *fail)
{
	static const char *const keys[] = { "name", "type", "ttl", "changetype", "records",
	                                    NULL };
	if (!json_is_object(o)) {
		return bad(fail, i, "", "a change is an object with name, type, changetype, "
		           "ttl and records");
	}
	const char *unknown = unknown_key(o, keys);
	if (unknown != NULL) {
		bad(fail, i, unknown, "unknown field");
		snprintf(fail->message, sizeof(fail->message), "unknown field '%.200s'", unknown);
		return CIRRUS_EINVAL;
	}
	const char *op = json_string_value(json_object_get(o, "changetype"));
	if (op == NULL || (strcasecmp(op, "REPLACE") != 0 && strcasecmp(op, "DELETE") != 0)) {
		return bad(fail, i, "changetype", "changetype must be REPLACE or DELETE");
	}
	c->op = strcasecmp(op, "REPLACE") == 0 ? CTL_CHANGE_REPLACE : CTL_CHANGE_DELETE;
	if ((c->name = json_string_value(json_object_get(o, "name"))) == NULL ||
	    c->name[0] == '\0') {
		return bad(fail, i, "name", "name (the owner, a string) is required");
	}
	if ((c->type = json_string_value(json_object_get(o, "type"))) == NULL ||
	    c->type[0] == '\0') {
		return bad(fail, i, "type", "type (\"A\", \"TXT\", ...) is required");
	}
	json_t *ttl = json_object_get(o, "ttl");
	if ((ttl != NULL || c->op == CTL_CHANGE_REPLACE) &&
	    (!json_is_integer(ttl) || json_integer_value(ttl) < 0 ||
	     json_integer_value(ttl) > TTL_MAX)) {
		return bad(fail, i, "ttl", "ttl must be an integer from 0 to 2147483647 "
		           "(RFC 2181); REPLACE needs one");
	}
	c->ttl = ttl != NULL ? (uint32_t)json_integer_value(ttl) : 0;
	return read_records(i, json_object_get(o, "records"), c, fail);
}

int api_patch_read(json_t *body, api_patch_t *p, api_fail_t *fail)
{
	static const char *const keys[] = { "rrsets", NULL };
	*p = (api_patch_t) { 0 };
	*fail = (api_fail_t) { 0 };
	const char *unknown = json_is_object(body) ? unknown_key(body, keys) : NULL;
	if (unknown != NULL) {
		snprintf(fail->field, sizeof(fail->field), "%.63s", unknown);
		snprintf(fail->message, sizeof(fail->message), "unknown field '%.200s'", unknown);
		return CIRRUS_EINVAL;
	}
	json_t *list = json_object_get(body, "rrsets");
	if (!json_is_array(list) || json_array_size(list) == 0) {
		snprintf(fail->field, sizeof(fail->field), "rrsets");
		snprintf(fail->message, sizeof(fail->message),
		         "rrsets must be a list of at least one change");
		return CIRRUS_EINVAL;
	}
	p->changes = calloc(json_array_size(list), sizeof(*p->changes));
	if (p->changes == NULL) {
		return nomem(fail);
	}
	for (size_t i = 0; i < json_array_size(list); i++) {
		p->count = i + 1;
		int r = read_change(i, json_array_get(list, i), &p->changes[i], fail);
		if (r != 0) {
			return r;
		}
	}
	return 0;
}

void api_patch_free(api_patch_t *p)
{
	for (size_t i = 0; i < p->count; i++) {
		free((void *)p->changes[i].records);
	}
	free(p->changes);
	*p = (api_patch_t) { 0 };
}
