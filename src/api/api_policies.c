/* SPDX-License-Identifier: Apache-2.0
 * api_policies.c -- /api/v1/zones/{zone}/policies: list the routing
 * policies of a store zone, and get, create or replace (PUT) and delete one
 * at /policies/{name}/{type}. The body is the policy as docs/policies.md
 * gives it in YAML, as JSON; policy_json.c reads it, ctl compiles, checks
 * and stores it. Zone read or write scopes as for RRsets.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "policy/policy_json.h"
#include "util/error.h"

/* The path after zones/: zone, "policies", name, type. */
typedef struct pol_path {
	char zone[API_ZONE_SIZE];
	char name[API_ZONE_SIZE];
	char type[16];
} pol_path_t;

/* Split req->arg ("zone/policies/name/type"); 400 or 404 when it does not. */
static bool split_path(api_req_t *req, api_access_t access, pol_path_t *p)
{
	const char *s = req->arg, *seg[4];
	size_t len[4];
	int n = 0;
	for (; n < 4 && s != NULL; n++) {
		const char *slash = strchr(s, '/');
		seg[n] = s;
		len[n] = slash ? (size_t)(slash - s) : strlen(s);
		s = slash ? slash + 1 : NULL;
	}
	if (n != 4 || s != NULL || len[1] != 8 || memcmp(seg[1], "policies", 8) != 0) {
		api_reply_error(req, MHD_HTTP_NOT_FOUND, NULL, "no such resource");
		return false;
	}
	if (len[0] >= sizeof(p->zone) || len[2] >= sizeof(p->name) || len[3] >= sizeof(p->type)) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, len[3] >= sizeof(p->type) ? "type" : "name",
		                "the name or type in the path is too long");
		return false;
	}
	char zone[API_ZONE_SIZE];
	snprintf(zone, sizeof(zone), "%.*s", (int)len[0], seg[0]);
	snprintf(p->name, sizeof(p->name), "%.*s", (int)len[2], seg[2]);
	snprintf(p->type, sizeof(p->type), "%.*s", (int)len[3], seg[3]);
	return api_zone_name(req, zone, "zone", p->zone) && api_need_zone(req, p->zone, access);
}

static int list_one(void *ctx, const ctl_policy_info_t *info)
{
	json_t *list = ctx;
	json_t *o = json_loads(info->json, 0, NULL);
	return json_array_append_new(list, o) == 0 ? 0 : CIRRUS_ENOMEM;
}

/* The policies at the path (or every one, name NULL) as a JSON list. */
static json_t *listing(api_req_t *req, const char *zone, const char *name, const char *type)
{
	json_t *list = json_array();
	ctl_error_t err = { 0 };
	int r = list != NULL ? ctl_policy_list(req->api->ctl, zone, name, type, list_one, list,
	                                       &err) : CIRRUS_ENOMEM;
	if (r != 0) {
		json_decref(list);
		api_reply_ctl(req, r, &err);
		return NULL;
	}
	return list;
}

void api_policies_list(api_req_t *req)
{
	static const char *const known[] = { NULL };
	char zone[API_ZONE_SIZE];
	if (!api_zone_name(req, req->arg, "zone", zone) ||
	    !api_need_zone(req, zone, API_ACCESS_READ) || !api_query_known(req, known)) {
		return;
	}
	json_t *list = listing(req, zone, NULL, NULL);
	if (list != NULL) {
		api_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "policies", list));
	}
}

/* Reply with the one policy at p: status, or 404 when there is none. */
static void reply_one(api_req_t *req, const pol_path_t *p, unsigned status)
{
	json_t *list = listing(req, p->zone, p->name, p->type);
	if (list == NULL) {
		return;
	}
	if (json_array_size(list) == 0) {
		api_reply_error(req, MHD_HTTP_NOT_FOUND, NULL, "no policy %s %s in zone %s",
		                p->name, p->type, p->zone);
	} else {
		api_reply_json(req, status, json_incref(json_array_get(list, 0)));
	}
	json_decref(list);
}

void api_policy_get(api_req_t *req)
{
	pol_path_t p;
	if (split_path(req, API_ACCESS_READ, &p)) {
		reply_one(req, &p, MHD_HTTP_OK);
	}
}

void api_policy_put(api_req_t *req)
{
	pol_path_t p;
	json_t *body = split_path(req, API_ACCESS_WRITE, &p) ? api_body_object(req) : NULL;
	if (body == NULL) {
		return;
	}
	policy_spec_t spec;
	policy_strv_t paths;
	char field[256], msg[512];
	int r = policy_json_read(body, &spec, &paths, field, sizeof(field), msg, sizeof(msg));
	json_decref(body);
	if (r != 0) {
		api_reply_error(req, api_status_of(r), field, "%s", msg);
	} else {
		ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
		ctl_error_t err = { 0 };
		bool created = false;
		r = ctl_policy_put(req->api->ctl, p.zone, p.name, p.type, &spec, &paths, &who,
		                   &created, &err);
		if (r != 0) {
			api_reply_ctl(req, r, &err);
		} else {
			reply_one(req, &p, created ? MHD_HTTP_CREATED : MHD_HTTP_OK);
		}
	}
	policy_spec_deinit(&spec);
	policy_json_paths_free(&paths);
}

void api_policy_delete(api_req_t *req)
{
	pol_path_t p;
	if (!split_path(req, API_ACCESS_WRITE, &p)) {
		return;
	}
	ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
	ctl_error_t err = { 0 };
	int r = ctl_policy_delete(req->api->ctl, p.zone, p.name, p.type, &who, &err);
	if (r != 0) {
		api_reply_ctl(req, r, &err);
	} else {
		api_reply_empty(req, MHD_HTTP_NO_CONTENT);
	}
}
