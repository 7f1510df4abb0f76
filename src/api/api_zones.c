/* SPDX-License-Identifier: Apache-2.0
 * api_zones.c -- /api/v1/zones: list the zones a token may read, create a
 * zone with SOA and NS defaults, get and delete one, export it as a master
 * file. The work is ctl's; this file checks JSON and scopes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/error.h"

/* Largest default TTL of a new zone (RFC 2181 section 8). */
#define TTL_MAX 2147483647
/* Most name servers a new zone may list. */
#define NS_MAX 16

static json_t *zone_json(const ctl_zone_info_t *z)
{
	return json_pack("{s:s, s:I, s:I, s:s}", "name", z->name,
	                 "serial", (json_int_t)z->serial, "records", (json_int_t)z->records,
	                 "source", z->source);
}

typedef struct list_ctx {
	json_t *zones;
	const char *scopes;
} list_ctx_t;

static int list_one(void *ctx, const ctl_zone_info_t *z)
{
	list_ctx_t *l = ctx;
	if (!api_scopes_allow(l->scopes, z->name, API_ACCESS_READ)) {
		return 0;
	}
	return json_array_append_new(l->zones, zone_json(z)) == 0 ? 0 : CIRRUS_ENOMEM;
}

void api_zones_list(api_req_t *req)
{
	static const char *const known[] = { NULL };
	if (!api_query_known(req, known)) {
		return;
	}
	list_ctx_t l = { .zones = json_array(), .scopes = req->scopes };
	int r = l.zones != NULL ? ctl_zone_list(req->api->ctl, list_one, &l) : CIRRUS_ENOMEM;
	if (r != 0) {
		json_decref(l.zones);
		api_reply_ctl(req, r, NULL);
		return;
	}
	api_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "zones", l.zones));
}

static int info_one(void *ctx, const ctl_zone_info_t *z)
{
	json_t **out = ctx;
	*out = zone_json(z);
	return *out != NULL ? 0 : CIRRUS_ENOMEM;
}

/* Reply with one zone's info; status 200 or 201. */
static void reply_zone(api_req_t *req, const char *zone, unsigned status)
{
	json_t *info = NULL;
	int r = ctl_zone_info(req->api->ctl, zone, info_one, &info);
	if (r != 0) {
		json_decref(info);
		if (api_code_is(r, CIRRUS_ENOENT)) {
			api_reply_error(req, MHD_HTTP_NOT_FOUND, NULL, "no zone %s", zone);
		} else {
			api_reply_ctl(req, r, NULL);
		}
		return;
	}
	api_reply_json(req, status, info);
}

/* The zone named in the path, canonical, if the token may access it. */
static bool path_zone(api_req_t *req, api_access_t access, char zone[API_ZONE_SIZE])
{
	return api_zone_name(req, req->arg, "zone", zone) && api_need_zone(req, zone, access);
}

void api_zone_get(api_req_t *req)
{
	char zone[API_ZONE_SIZE];
	if (path_zone(req, API_ACCESS_READ, zone)) {
		reply_zone(req, zone, MHD_HTTP_OK);
	}
}

void api_zone_delete(api_req_t *req)
{
	char zone[API_ZONE_SIZE];
	if (!path_zone(req, API_ACCESS_WRITE, zone)) {
		return;
	}
	ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
	ctl_error_t err = { 0 };
	int r = ctl_zone_delete(req->api->ctl, zone, &who, &err);
	if (r != 0) {
		api_reply_ctl(req, r, &err);
		return;
	}
	api_reply_empty(req, MHD_HTTP_NO_CONTENT);
}

void api_zone_export(api_req_t *req)
{
	char zone[API_ZONE_SIZE];
	if (!path_zone(req, API_ACCESS_READ, zone)) {
		return;
	}
	char *text = NULL;
	int r = ctl_zone_export(req->api->ctl, zone, &text);
	if (r != 0) {
		free(text);
		if (api_code_is(r, CIRRUS_ENOENT)) {
			api_reply_error(req, MHD_HTTP_NOT_FOUND, NULL, "no zone %s", zone);
		} else {
			api_reply_ctl(req, r, NULL);
		}
		return;
	}
	api_reply_text(req, MHD_HTTP_OK, "text/dns", text, strlen(text), true);
}

/* Fill d from the optional fields of a create request; false has replied.
 * The name server strings stay owned by body, or by ns1 (the default name
 * server, ns1.ZONE). */
static bool create_defaults(api_req_t *req, json_t *body, const char *zone,
                            ctl_zone_defaults_t *d, const char **ns,
                            char ns1[API_ZONE_SIZE + 4])
{
	json_t *v = json_object_get(body, "nameservers");
	if (v != NULL && (!json_is_array(v) || json_array_size(v) == 0 ||
	                  json_array_size(v) > NS_MAX)) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "nameservers",
		                "nameservers must be a list of 1 to %d names", NS_MAX);
		return false;
	}
	for (size_t i = 0; v != NULL && i < json_array_size(v); i++) {
		ns[i] = json_string_value(json_array_get(v, i));
		if (ns[i] == NULL) {
			char field[64];
			snprintf(field, sizeof(field), "nameservers[%zu]", i);
			api_reply_error(req, MHD_HTTP_BAD_REQUEST, field, "a name server is a string");
			return false;
		}
		d->nameserver_count = i + 1;
	}
	if (d->nameserver_count == 0) {
		snprintf(ns1, API_ZONE_SIZE + 4, "ns1.%s", strcmp(zone, ".") == 0 ? "" : zone);
		ns[0] = ns1;
		d->nameserver_count = 1;
	}
	d->nameservers = ns;
	v = json_object_get(body, "hostmaster");
	if (v != NULL && (d->hostmaster = json_string_value(v)) == NULL) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "hostmaster", "hostmaster is a string");
		return false;
	}
	v = json_object_get(body, "ttl");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 1 ||
	                  json_integer_value(v) > TTL_MAX)) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "ttl",
		                "ttl must be an integer from 1 to %d", TTL_MAX);
		return false;
	}
	d->ttl = v != NULL ? (uint32_t)json_integer_value(v) : 0;
	return true;
}

void api_zones_create(api_req_t *req)
{
	static const char *const keys[] = { "name", "nameservers", "hostmaster", "ttl", NULL };
	json_t *body = api_body_object(req);
	if (body == NULL || !api_json_keys_known(req, body, "", keys)) {
		json_decref(body);
		return;
	}
	const char *name = json_string_value(json_object_get(body, "name"));
	char zone[API_ZONE_SIZE];
	const char *ns[NS_MAX];
	char ns1[API_ZONE_SIZE + 4];
	ctl_zone_defaults_t d = { 0 };
	if (name == NULL) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "name",
		                "name (the zone's apex, a string) is required");
	} else if (api_zone_name(req, name, "name", zone) &&
	           api_need_zone(req, zone, API_ACCESS_WRITE) &&
	           create_defaults(req, body, zone, &d, ns, ns1)) {
		ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
		ctl_error_t err = { 0 };
		int r = ctl_zone_create(req->api->ctl, zone, &d, &who, &err);
		if (r != 0) {
			api_reply_ctl(req, r, &err);
		} else {
			reply_zone(req, zone, MHD_HTTP_CREATED);
		}
	}
	json_decref(body);
	if (req->status == MHD_HTTP_CREATED && req->response != NULL) {
		char location[API_ZONE_SIZE + 32];
		snprintf(location, sizeof(location), "/api/v1/zones/%s", zone);
		MHD_add_response_header(req->response, MHD_HTTP_HEADER_LOCATION, location);
	}
}
