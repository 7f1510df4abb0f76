/* SPDX-License-Identifier: Apache-2.0
 * api_services.c -- /api/v1/services: the service registry over HTTP
 * (docs/services.md). Register (PUT), renew (POST .../heartbeat) and
 * deregister (DELETE) need `service:<zone>/<name>:write`, a zone write
 * scope or admin; listing a zone needs zone read, listing one service also
 * its service scope. The registry (src/registry/) validates and changes.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/error.h"

/* The path segments after services/: zone, service, "instances", id. */
typedef struct svc_path {
	char zone[API_ZONE_SIZE];
	char service[REGISTRY_LABEL_SIZE];
	char id[REGISTRY_LABEL_SIZE];
} svc_path_t;

/* Split req->arg into want (1 to 4) segments; 400 or 404 when it does not. */
static bool split_path(api_req_t *req, int want, svc_path_t *p)
{
	char *seg[4] = { NULL };
	size_t len[4] = { 0 };
	const char *s = req->arg;
	int n = 0;
	for (; n < 4 && s != NULL; n++) { /* at most 4 segments */
		seg[n] = (char *)s;
		const char *slash = strchr(s, '/');
		len[n] = slash ? (size_t)(slash - s) : strlen(s);
		s = slash ? slash + 1 : NULL;
	}
	if (n != want || (want == 4 && (len[2] != 9 || memcmp(seg[2], "instances", 9) != 0))) {
		api_reply_error(req, MHD_HTTP_NOT_FOUND, NULL, "no such resource");
		return false;
	}
	if (req->api->registry == NULL) {
		api_reply_error(req, MHD_HTTP_NOT_FOUND, NULL, "the service registry is not running");
		return false;
	}
	char zone[API_ZONE_SIZE];
	snprintf(zone, sizeof(zone), "%.*s", (int)len[0], seg[0]);
	if (!api_zone_name(req, zone, "zone", p->zone)) {
		return false;
	}
	p->service[0] = p->id[0] = '\0';
	if (want >= 2 && len[1] >= sizeof(p->service)) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "service", "the service name is too long");
		return false;
	}
	if (want == 4 && len[3] >= sizeof(p->id)) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "id", "the instance id is too long");
		return false;
	}
	if (want >= 2) {
		snprintf(p->service, sizeof(p->service), "%.*s", (int)len[1], seg[1]);
	}
	if (want == 4) {
		snprintf(p->id, sizeof(p->id), "%.*s", (int)len[3], seg[3]);
	}
	return true;
}

/* 403 unless the token may change this service. */
static bool need_service(api_req_t *req, const svc_path_t *p)
{
	if (api_scopes_allow_service(req->scopes, p->zone, p->service)) {
		return true;
	}
	api_reply_error(req, MHD_HTTP_FORBIDDEN, NULL,
	                "token '%s' may not change service %s of zone %s (scopes: %s)",
	                req->actor, p->service, p->zone, req->scopes);
	return false;
}

static void reply_listing(api_req_t *req, int r, const ctl_error_t *err, unsigned status,
                          json_t *body)
{
	if (r != 0) {
		api_reply_ctl(req, r, err);
	} else {
		api_reply_json(req, status, body);
	}
}

void api_services_list(api_req_t *req)
{
	svc_path_t p;
	if (!split_path(req, 1, &p) || !api_need_zone(req, p.zone, API_ACCESS_READ)) {
		return;
	}
	ctl_error_t err = { 0 };
	json_t *out = NULL;
	int r = registry_list(req->api->registry, p.zone, NULL, &out, &err);
	reply_listing(req, r, &err, MHD_HTTP_OK, out);
}

void api_service_get(api_req_t *req)
{
	svc_path_t p;
	if (!split_path(req, 2, &p)) {
		return;
	}
	/* an instance may list its own service (to find its peers) */
	if (!api_scopes_allow(req->scopes, p.zone, API_ACCESS_READ) && !need_service(req, &p)) {
		return;
	}
	ctl_error_t err = { 0 };
	json_t *out = NULL;
	int r = registry_list(req->api->registry, p.zone, p.service, &out, &err);
	reply_listing(req, r, &err, MHD_HTTP_OK, out);
}

void api_instance_put(api_req_t *req)
{
	svc_path_t p;
	if (!split_path(req, 4, &p) || !need_service(req, &p)) {
		return;
	}
	json_t *body = api_body_object(req);
	if (body == NULL) {
		return;
	}
	ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
	ctl_error_t err = { 0 };
	json_t *out = NULL;
	req->lazy = true;  /* acknowledged once on disk (api_sync.c) */
	int r = registry_register(req->api->registry, p.zone, p.service, p.id, body, &who,
	                          &out, &err);
	json_decref(body);
	reply_listing(req, r, &err, MHD_HTTP_OK, out);
}

void api_instance_heartbeat(api_req_t *req)
{
	svc_path_t p;
	if (!split_path(req, 4, &p) || !need_service(req, &p)) {
		return;
	}
	req->renewal = true;
	ctl_error_t err = { 0 };
	json_t *out = NULL;
	int r = registry_heartbeat(req->api->registry, p.zone, p.service, p.id, &out, &err);
	reply_listing(req, r, &err, MHD_HTTP_OK, out);
}

void api_instance_delete(api_req_t *req)
{
	svc_path_t p;
	if (!split_path(req, 4, &p) || !need_service(req, &p)) {
		return;
	}
	ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
	ctl_error_t err = { 0 };
	req->lazy = true;  /* acknowledged once on disk (api_sync.c) */
	int r = registry_deregister(req->api->registry, p.zone, p.service, p.id, &who, &err);
	if (r != 0) {
		api_reply_ctl(req, r, &err);
	} else {
		api_reply_empty(req, MHD_HTTP_NO_CONTENT);
	}
}
