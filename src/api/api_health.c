/* SPDX-License-Identifier: Apache-2.0
 * api_health.c -- GET /api/v1/health (every health key: state, last result,
 * consecutive counts, drill) for any valid token, and failover drills:
 * POST /api/v1/health/{key}/drill {"down": "30s"} forces a key down for a
 * while, DELETE ends the drill early; both need the admin scope and are
 * audited with the token's name as the actor.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "health/health.h"
#include "util/error.h"

static json_t *time_or_null(int64_t us)
{
	char when[40];
	if (us == 0) {
		return json_null();
	}
	api_time_format(us, when);
	return json_string(when);
}

static json_t *last_result(const health_key_t *k)
{
	if (!k->has_result) {
		return json_null();
	}
	return json_pack("{s:b, s:s, s:o}", "ok", k->last_ok, "message", k->last_msg,
	                 "time", time_or_null(k->last_us));
}

static json_t *drill(const health_key_t *k)
{
	if (k->drill_until_us == 0) {
		return json_null();
	}
	return json_pack("{s:o, s:s}", "until", time_or_null(k->drill_until_us),
	                 "by", k->drill_by);
}

static const char *kind_of(const health_key_t *k)
{
	static const char *const names[] = {
		[HEALTH_KIND_HTTP] = "http", [HEALTH_KIND_HTTPS] = "https",
		[HEALTH_KIND_TCP] = "tcp", [HEALTH_KIND_DNS] = "dns",
		[HEALTH_KIND_CALCULATED] = "calculated",
	};
	return k->spec != NULL ? names[k->spec->kind] : "none";
}

static json_t *key_json(const health_key_t *k)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:I, s:b, s:o}",
	                 "key", k->name, "type", kind_of(k),
	                 "state", health_status_name(k->state),
	                 "checked", health_status_name(k->checked),
	                 "last_result", last_result(k), "last_change", time_or_null(k->change_us),
	                 "reason", k->reason, "successes", (json_int_t)k->successes,
	                 "failures", (json_int_t)k->failures, "static_down", k->static_down,
	                 "drill", drill(k));
}

static int add_key(void *ctx, const health_key_t *k)
{
	return json_array_append_new(ctx, key_json(k)) == 0 ? 0 : CIRRUS_ENOMEM;
}

/* The running checker, or NULL after a 503. */
static health_t *checker(api_req_t *req)
{
	health_t *h = health_current();
	if (h == NULL) {
		api_reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
		                "health checks are not running in this process");
	}
	return h;
}

void api_health_get(api_req_t *req)
{
	static const char *const known[] = { NULL };
	health_t *h;
	if (!api_query_known(req, known) || (h = checker(req)) == NULL) {
		return;
	}
	json_t *keys = json_array();
	if (keys == NULL || health_list(h, add_key, keys) != 0) {
		json_decref(keys);
		api_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
		return;
	}
	api_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "checks", keys));
}

typedef struct one {
	const char *name;
	json_t *found;
} one_t;

static int find_key(void *ctx, const health_key_t *k)
{
	one_t *one = ctx;
	if (strcmp(k->name, one->name) == 0) {
		one->found = key_json(k);
	}
	return 0;
}

/* Start (ms > 0) or end a drill and reply with the key. */
static void set_drill(api_req_t *req, health_t *h, uint64_t ms)
{
	int r = health_drill(h, req->arg, ms, req->actor);
	if (r == CIRRUS_ENOENT) {
		api_reply_error(req, MHD_HTTP_NOT_FOUND, NULL, "no health key '%.128s' (keys are "
		                "check names and the keys policies and health: name)", req->arg);
		return;
	}
	one_t one = { .name = req->arg };
	if (r == 0) {
		health_list(h, find_key, &one);
	}
	api_reply_json(req, r == 0 ? MHD_HTTP_OK : api_status_of(r), one.found);
}

void api_health_drill(api_req_t *req)
{
	static const char *const known[] = { "down", NULL };
	health_t *h;
	if (!api_need_admin(req) || (h = checker(req)) == NULL) {
		return;
	}
	json_t *body = api_body_object(req);
	if (body == NULL || !api_json_keys_known(req, body, "", known)) {
		json_decref(body);
		return;
	}
	const char *down = json_string_value(json_object_get(body, "down"));
	uint64_t ms = 0;
	if (down == NULL || health_duration_parse(down, &ms) != 0 || ms < 1000) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "down", "down must be a duration "
		                "from 1s to 24h, such as \"30s\" or \"5m\"");
	} else {
		set_drill(req, h, ms);
	}
	json_decref(body);
}

void api_health_drill_end(api_req_t *req)
{
	health_t *h;
	if (api_need_admin(req) && (h = checker(req)) != NULL) {
		set_drill(req, h, 0);
	}
}
