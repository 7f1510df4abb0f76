/* SPDX-License-Identifier: Apache-2.0
 * api_rrsets.c -- /api/v1/zones/{zone}/rrsets: list RRsets, and PATCH a list
 * of REPLACE/DELETE changes in the style of the PowerDNS API. api_patch.c
 * checks the JSON shape of each change; ctl_rrsets_patch() parses names and
 * rdata, checks the zone's rules and applies all changes or none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "util/error.h"

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

void api_rrsets_patch(api_req_t *req)
{
	char zone[API_ZONE_SIZE];
	if (!api_zone_name(req, req->arg, "zone", zone) ||
	    !api_need_zone(req, zone, API_ACCESS_WRITE)) {
		return;
	}
	json_t *body = api_body_object(req);
	api_patch_t p = { 0 };
	api_fail_t fail;
	int rp = body != NULL ? api_patch_read(body, &p, &fail) : 0;
	if (rp != 0) {
		api_reply_error(req, api_status_of(rp), fail.field, "%s", fail.message);
	} else if (body != NULL) {
		ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
		ctl_error_t err = { 0 };
		/* acknowledged once on disk, off this thread (api_sync.c) */
		req->lazy = true;
		int r = ctl_rrsets_patch_with(req->api->ctl, zone, p.changes, p.count, NULL, NULL,
		                              &who, &err);
		if (r != 0) {
			api_reply_ctl(req, r, &err);
		} else {
			api_reply_empty(req, MHD_HTTP_NO_CONTENT);
		}
	}
	api_patch_free(&p);
	json_decref(body);
}
