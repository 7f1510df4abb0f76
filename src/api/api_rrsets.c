/* SPDX-License-Identifier: Apache-2.0
 * api_rrsets.c -- /api/v1/zones/{zone}/rrsets: list RRsets, and PATCH a list
 * of REPLACE/DELETE changes in the style of the PowerDNS API. This file
 * checks the JSON shape of each change; ctl_rrsets_patch() parses names and
 * rdata, checks the zone's rules and applies all changes or none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "util/error.h"

/* TTLs are 0 to 2^31 - 1 (RFC 2181 section 8). */
#define TTL_MAX 2147483647

static int rrset_one(void *ctx, const ctl_rrset_info_t *rs)
{
	json_t *list = ctx;
	json_t *records = json_array();
	for (size_t i = 0; records != NULL && i < rs->record_count; i++) {
		if (json_array_append_new(records, json_string(rs->records[i])) != 0) {
			json_decref(records);
			records = NULL;
		}
	}
	json_t *o = records == NULL ? NULL :
		json_pack("{s:s, s:s, s:I, s:o}", "name", rs->name, "type", rs->type,
		          "ttl", (json_int_t)rs->ttl, "records", records);
	return json_array_append_new(list, o) == 0 ? 0 : CIRRUS_ENOMEM;
}

void api_rrsets_get(api_req_t *req)
{
	static const char *const known[] = { "name", "type", NULL };
	char zone[API_ZONE_SIZE];
	if (!api_zone_name(req, req->arg, "zone", zone) ||
	    !api_need_zone(req, zone, API_ACCESS_READ) || !api_query_known(req, known)) {
		return;
	}
	const char *name = api_query(req, "name"), *type = api_query(req, "type");
	name = name != NULL && name[0] != '\0' ? name : NULL;
	type = type != NULL && type[0] != '\0' ? type : NULL;
	json_t *list = json_array();
	int r = list != NULL ? ctl_rrsets_list(req->api->ctl, zone, name, type, rrset_one, list) :
	        CIRRUS_ENOMEM;
	if (r != 0) {
		json_decref(list);
		if (api_code_is(r, CIRRUS_ENOENT)) {
			api_reply_error(req, MHD_HTTP_NOT_FOUND, NULL, "no zone %s", zone);
		} else if (api_code_is(r, CIRRUS_EINVAL)) {
			api_reply_error(req, MHD_HTTP_BAD_REQUEST, type != NULL ? "type" : "name",
			                "bad filter: name must be in the zone, type a known type");
		} else {
			api_reply_ctl(req, r, NULL);
		}
		return;
	}
	api_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "rrsets", list));
}

/* A change being read; the records array is malloc'ed, its strings belong
 * to the JSON body. */
typedef struct patch {
	ctl_change_t *changes;
	size_t count;
} patch_t;

static void patch_free(patch_t *p)
{
	for (size_t i = 0; i < p->count; i++) {
		free((void *)p->changes[i].records);
	}
	free(p->changes);
}

static bool bad(api_req_t *req, size_t i, const char *key, const char *msg)
{
	char field[64];
	snprintf(field, sizeof(field), "rrsets[%zu]%s%s", i, key[0] ? "." : "", key);
	api_reply_error(req, MHD_HTTP_BAD_REQUEST, field, "%s", msg);
	return false;
}

static bool read_records(api_req_t *req, size_t i, json_t *v, ctl_change_t *c)
{
	if (c->op == CTL_CHANGE_DELETE) {
		if (v != NULL && (!json_is_array(v) || json_array_size(v) != 0)) {
			return bad(req, i, "records", "DELETE removes the whole RRset: leave out "
			           "records (to drop some records, REPLACE with the rest)");
		}
		return true;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		return bad(req, i, "records", "REPLACE needs records: a list of at least one "
		           "rdata string (use DELETE to remove the RRset)");
	}
	const char **records = calloc(json_array_size(v), sizeof(*records));
	if (records == NULL) {
		api_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
		return false;
	}
	c->records = records;
	c->record_count = json_array_size(v);
	for (size_t k = 0; k < c->record_count; k++) {
		if ((records[k] = json_string_value(json_array_get(v, k))) == NULL) {
			char key[32];
			snprintf(key, sizeof(key), "records[%zu]", k);
			return bad(req, i, key, "a record is its rdata in presentation form, "
			           "as a string (\"192.0.2.1\")");
		}
	}
	return true;
}

/* Check the shape of change i and fill c; false has replied. */
static bool read_change(api_req_t *req, size_t i, json_t *o, ctl_change_t *c)
{
	static const char *const keys[] = { "name", "type", "ttl", "changetype", "records",
	                                    NULL };
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "rrsets[%zu].", i);
	if (!json_is_object(o)) {
		return bad(req, i, "", "a change is an object with name, type, changetype, "
		           "ttl and records");
	}
	if (!api_json_keys_known(req, o, prefix, keys)) {
		return false;
	}
	const char *op = json_string_value(json_object_get(o, "changetype"));
	if (op == NULL || (strcasecmp(op, "REPLACE") != 0 && strcasecmp(op, "DELETE") != 0)) {
		return bad(req, i, "changetype", "changetype must be REPLACE or DELETE");
	}
	c->op = strcasecmp(op, "REPLACE") == 0 ? CTL_CHANGE_REPLACE : CTL_CHANGE_DELETE;
	if ((c->name = json_string_value(json_object_get(o, "name"))) == NULL ||
	    c->name[0] == '\0') {
		return bad(req, i, "name", "name (the owner, a string) is required");
	}
	if ((c->type = json_string_value(json_object_get(o, "type"))) == NULL ||
	    c->type[0] == '\0') {
		return bad(req, i, "type", "type (\"A\", \"TXT\", ...) is required");
	}
	json_t *ttl = json_object_get(o, "ttl");
	if ((ttl != NULL || c->op == CTL_CHANGE_REPLACE) &&
	    (!json_is_integer(ttl) || json_integer_value(ttl) < 0 ||
	     json_integer_value(ttl) > TTL_MAX)) {
		return bad(req, i, "ttl", "ttl must be an integer from 0 to 2147483647 "
		           "(RFC 2181); REPLACE needs one");
	}
	c->ttl = ttl != NULL ? (uint32_t)json_integer_value(ttl) : 0;
	return read_records(req, i, json_object_get(o, "records"), c);
}

static bool read_patch(api_req_t *req, json_t *body, patch_t *p)
{
	static const char *const keys[] = { "rrsets", NULL };
	if (!api_json_keys_known(req, body, "", keys)) {
		return false;
	}
	json_t *list = json_object_get(body, "rrsets");
	if (!json_is_array(list) || json_array_size(list) == 0) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "rrsets",
		                "rrsets must be a list of at least one change");
		return false;
	}
	p->changes = calloc(json_array_size(list), sizeof(*p->changes));
	if (p->changes == NULL) {
		api_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
		return false;
	}
	for (size_t i = 0; i < json_array_size(list); i++) {
		p->count = i + 1;
		if (!read_change(req, i, json_array_get(list, i), &p->changes[i])) {
			return false;
		}
	}
	return true;
}

void api_rrsets_patch(api_req_t *req)
{
	char zone[API_ZONE_SIZE];
	if (!api_zone_name(req, req->arg, "zone", zone) ||
	    !api_need_zone(req, zone, API_ACCESS_WRITE)) {
		return;
	}
	json_t *body = api_body_object(req);
	patch_t p = { 0 };
	if (body != NULL && read_patch(req, body, &p)) {
		ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
		ctl_error_t err = { 0 };
		int r = ctl_rrsets_patch(req->api->ctl, zone, p.changes, p.count, &who, &err);
		if (r != 0) {
			api_reply_ctl(req, r, &err);
		} else {
			api_reply_empty(req, MHD_HTTP_NO_CONTENT);
		}
	}
	patch_free(&p);
	json_decref(body);
}
