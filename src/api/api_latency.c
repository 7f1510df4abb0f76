/* SPDX-License-Identifier: Apache-2.0
 * api_latency.c -- /api/v1/latency/{name}: load or replace (PUT), delete and read
 * a latency table kept in the store, which latency rules of policies name
 * with `latency-table` (docs/policies.md). The body is a list of rows,
 * each a client prefix, a region and milliseconds; it becomes the table
 * file's text, one line per row, which ctl checks, stores and applies.
 * Tables are shared by every zone: the admin scope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/error.h"

/* One row as a line of the table; false has replied. */
static bool row_line(api_req_t *req, json_t *row, size_t i, FILE *out)
{
	static const char *const keys[] = { "prefix", "region", "ms", NULL };
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "rows[%zu].", i);
	if (!json_is_object(row)) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, prefix, "a row is an object with "
		                "prefix, region and ms");
		return false;
	}
	if (!api_json_keys_known(req, row, prefix, keys)) {
		return false;
	}
	const char *cidr = json_string_value(json_object_get(row, "prefix"));
	const char *region = json_string_value(json_object_get(row, "region"));
	json_t *ms = json_object_get(row, "ms");
	const char *bad = cidr == NULL || strpbrk(cidr, " \t\r\n#") ? "prefix" :
	                  region == NULL || strpbrk(region, " \t\r\n#") ? "region" :
	                  !json_is_number(ms) ? "ms" : NULL;
	if (bad != NULL) {
		char field[48];
		snprintf(field, sizeof(field), "%s%s", prefix, bad);
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, field, "prefix and region are strings "
		                "without blanks or '#', ms a number");
		return false;
	}
	fprintf(out, "%s %s %.17g\n", cidr, region, json_number_value(ms));
	return true;
}

void api_latency_put(api_req_t *req)
{
	static const char *const keys[] = { "rows", NULL };
	json_t *body = api_need_admin(req) ? api_body_object(req) : NULL;
	if (body == NULL || !api_json_keys_known(req, body, "", keys)) {
		json_decref(body);
		return;
	}
	json_t *rows = json_object_get(body, "rows");
	char *text = NULL;
	size_t len = 0;
	FILE *out = NULL;
	bool ok = json_is_array(rows) && json_array_size(rows) > 0;
	if (!ok) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "rows", "rows must be a list of at "
		                "least one {\"prefix\", \"region\", \"ms\"}");
	} else if ((out = open_memstream(&text, &len)) == NULL) {
		ok = false;
		api_reply_json(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
	}
	for (size_t i = 0; ok && i < json_array_size(rows); i++) {
		ok = row_line(req, json_array_get(rows, i), i, out);
	}
	if (out != NULL) {
		fclose(out);
	}
	if (ok) {
		ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
		ctl_error_t err = { 0 };
		int r = ctl_latency_put(req->api->ctl, req->arg, text, &who, &err);
		if (r != 0) {
			api_reply_ctl(req, r, &err);
		} else {
			api_reply_empty(req, MHD_HTTP_NO_CONTENT);
		}
	}
	free(text);
	json_decref(body);
}

void api_latency_get(api_req_t *req)
{
	static const char *const known[] = { NULL };
	if (!api_need_admin(req) || !api_query_known(req, known)) {
		return;
	}
	ctl_error_t err = { 0 };
	char *text = NULL;
	int r = ctl_latency_get(req->api->ctl, req->arg, &text, &err);
	json_t *rows = r == 0 ? json_array() : NULL;
	char *save = NULL;
	for (char *line = r == 0 ? strtok_r(text, "\n", &save) : NULL; line != NULL && rows != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char cidr[64], region[72];
		double ms;
		if (sscanf(line, "%63s %71s %lf", cidr, region, &ms) == 3) {
			json_array_append_new(rows, json_pack("{s:s, s:s, s:f}", "prefix", cidr,
			                                      "region", region, "ms", ms));
		}
	}
	free(text);
	if (r != 0) {
		api_reply_ctl(req, r, &err);
	} else {
		api_reply_json(req, MHD_HTTP_OK, json_pack("{s:s, s:o}", "name", req->arg,
		                                           "rows", rows));
	}
}

void api_latency_delete(api_req_t *req)
{
	static const char *const known[] = { NULL };
	if (!api_need_admin(req) || !api_query_known(req, known)) {
		return;
	}
	ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
	ctl_error_t err = { 0 };
	int r = ctl_latency_delete(req->api->ctl, req->arg, &who, &err);
	if (r != 0) {
		api_reply_ctl(req, r, &err);
	} else {
		api_reply_empty(req, MHD_HTTP_NO_CONTENT);
	}
}
