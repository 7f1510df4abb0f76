/* SPDX-License-Identifier: Apache-2.0
 * api_audit.c -- GET /api/v1/audit: the audit log, newest first, filtered by
 * zone, actor and time. The whole log needs the admin scope; the log of one
 * zone needs read access to that zone. Times are RFC 3339 or unix seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/error.h"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000

/* Embed stored JSON as JSON; anything else as a string. */
static json_t *embedded(const char *text)
{
	if (text == NULL) {
		return json_null();
	}
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	return j != NULL ? j : json_string(text);
}

static json_t *text_or_null(const char *text)
{
	return text != NULL ? json_string(text) : json_null();
}

static int audit_one(void *ctx, const store_audit_t *row)
{
	char when[40];
	api_time_format(row->time_us, when);
	json_t *o = json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
	                      "id", (json_int_t)row->id, "time", when,
	                      "actor", text_or_null(row->actor),
	                      "request_id", text_or_null(row->request_id),
	                      "zone", text_or_null(row->zone),
	                      "action", text_or_null(row->action),
	                      "before", embedded(row->before), "after", embedded(row->after));
	return json_array_append_new(ctx, o) == 0 ? 0 : CIRRUS_ENOMEM;
}

/* Fill the filter from the query; false has replied. */
static bool audit_filter(api_req_t *req, store_audit_filter_t *f, char zone[API_ZONE_SIZE])
{
	static const char *const times[] = { "since", "until" };
	int64_t *bounds[] = { &f->since_us, &f->until_us };
	const char *z = api_query(req, "zone"), *limit = api_query(req, "limit");
	f->actor = api_query(req, "actor");
	if (z != NULL && !api_zone_name(req, z, "zone", zone)) {
		return false;
	}
	f->zone = z != NULL ? zone : NULL;
	if (f->zone != NULL ? !api_need_zone(req, zone, API_ACCESS_READ) : !api_need_admin(req)) {
		return false;
	}
	for (size_t i = 0; i < 2; i++) {
		const char *t = api_query(req, times[i]);
		if (t != NULL && !api_time_parse(t, bounds[i])) {
			api_reply_error(req, MHD_HTTP_BAD_REQUEST, times[i], "%s must be an RFC 3339 "
			                "time (2024-05-01T12:00:00Z) or unix seconds, not '%.64s'",
			                times[i], t);
			return false;
		}
	}
	size_t n = limit != NULL ? strlen(limit) : 0;
	f->limit = n > 0 && n <= 4 && strspn(limit, "0123456789") == n ? atoi(limit) :
	           limit == NULL ? LIMIT_DEFAULT : 0;
	if (f->limit < 1 || f->limit > LIMIT_MAX) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "limit",
		                "limit must be an integer from 1 to %d", LIMIT_MAX);
		return false;
	}
	return true;
}

void api_audit_get(api_req_t *req)
{
	static const char *const known[] = { "zone", "actor", "since", "until", "limit", NULL };
	store_audit_filter_t f = { 0 };
	char zone[API_ZONE_SIZE];
	if (!api_query_known(req, known) || !audit_filter(req, &f, zone)) {
		return;
	}
	json_t *entries = json_array();
	int r = CIRRUS_ENOMEM;
	if (entries != NULL) {
		store_t *st = ctl_store_lock(req->api->ctl);
		r = store_audit_list(st, &f, audit_one, entries);
		ctl_store_unlock(req->api->ctl);
	}
	if (r != 0) {
		json_decref(entries);
		api_reply_ctl(req, r, NULL);
		return;
	}
	api_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "entries", entries));
}
