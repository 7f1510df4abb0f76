/* SPDX-License-Identifier: Apache-2.0
 * api_reply.c -- building replies (JSON bodies, {"error","field"} errors,
 * status codes from error codes) and the small request checks handlers
 * share: query arguments, the JSON body, zone names, scopes, times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libknot/libknot.h>

#include "api/api_internal.h"
#include "util/error.h"

static void reply(api_req_t *req, unsigned status, struct MHD_Response *response,
                  const char *content_type)
{
	if (req->response != NULL) {
		/* A handler replies once; a second reply is a bug. Keep the first. */
		if (response != NULL) {
			MHD_destroy_response(response);
		}
		return;
	}
	req->status = status;
	req->response = response;
	if (response != NULL && content_type != NULL) {
		MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	}
}

void api_reply_text(api_req_t *req, unsigned status, const char *content_type,
                    const char *text, size_t len, bool owned)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text,
		owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (r == NULL && owned) {
		free((void *)text);
	}
	reply(req, status, r, content_type);
	if (r == NULL) {
		req->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

void api_reply_json(api_req_t *req, unsigned status, json_t *body)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		static const char nomem[] = "{\"error\":\"out of memory\",\"field\":\"\"}";
		api_reply_text(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
		               nomem, sizeof(nomem) - 1, false);
		return;
	}
	api_reply_text(req, status, "application/json", text, strlen(text), true);
}

void api_reply_error(api_req_t *req, unsigned status, const char *field,
                     const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status == MHD_HTTP_UNAUTHORIZED) {
		req->www_authenticate = true;
	}
	api_reply_json(req, status, json_pack("{s:s, s:s}", "error", msg,
	                                      "field", field != NULL ? field : ""));
}

void api_reply_empty(api_req_t *req, unsigned status)
{
	reply(req, status, MHD_create_response_from_buffer(0, (void *)"",
	                                                                 MHD_RESPMEM_PERSISTENT),
	      NULL);
}

bool api_code_is(int code, int want)
{
	return code == want || code == -want;
}

unsigned api_status_of(int code)
{
	if (api_code_is(code, CIRRUS_ENOENT)) {
		return MHD_HTTP_NOT_FOUND;
	}
	if (api_code_is(code, CIRRUS_EEXIST)) {
		return MHD_HTTP_CONFLICT;
	}
	if (api_code_is(code, CIRRUS_EINVAL) || api_code_is(code, CIRRUS_EPARSE)) {
		return MHD_HTTP_BAD_REQUEST;
	}
	if (api_code_is(code, CIRRUS_ESEMANTIC)) {
		return MHD_HTTP_UNPROCESSABLE_CONTENT;
	}
	if (api_code_is(code, CIRRUS_ELIMIT) || api_code_is(code, CIRRUS_ESPACE)) {
		return MHD_HTTP_CONTENT_TOO_LARGE;
	}
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

void api_reply_ctl(api_req_t *req, int code, const ctl_error_t *err)
{
	bool has_status = err != NULL && err->status >= 400 && err->status < 600;
	unsigned status = has_status ? (unsigned)err->status : api_status_of(code);
	const char *msg = err != NULL && err->message[0] != '\0' ? err->message :
	                  cirrus_strerror(code < 0 ? code : -code);
	api_reply_error(req, status, err != NULL ? err->field : NULL, "%s", msg);
}

const char *api_query(api_req_t *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

typedef struct known_args {
	const char *const *known;
	const char *unknown;
} known_args_t;

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
	(void)kind, (void)value;
	known_args_t *k = cls;
	for (const char *const *n = k->known; *n != NULL; n++) {
		if (strcmp(*n, key) == 0) {
			return MHD_YES;
		}
	}
	k->unknown = key;
	return MHD_NO;
}

bool api_query_known(api_req_t *req, const char *const *known)
{
	known_args_t k = { .known = known };
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_arg, &k);
	if (k.unknown == NULL) {
		return true;
	}
	char list[256] = "";
	for (const char *const *n = known; *n != NULL; n++) {
		size_t len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "", *n);
	}
	api_reply_error(req, MHD_HTTP_BAD_REQUEST, k.unknown,
	                "unknown query parameter '%s' (known: %s)", k.unknown,
	                list[0] ? list : "none");
	return false;
}

json_t *api_body_object(api_req_t *req)
{
	if (req->body_len == 0) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, NULL, "the request needs a JSON body");
		return NULL;
	}
	json_error_t e;
	json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
	if (root == NULL) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, NULL,
		                "malformed JSON at line %d, column %d: %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, NULL, "the body must be a JSON object");
		return NULL;
	}
	return root;
}

bool api_json_keys_known(api_req_t *req, json_t *obj, const char *prefix,
                         const char *const *known)
{
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value) {
		const char *const *n = known;
		while (*n != NULL && strcmp(*n, key) != 0) {
			n++;
		}
		if (*n == NULL) {
			char field[256];
			snprintf(field, sizeof(field), "%s%s", prefix, key);
			api_reply_error(req, MHD_HTTP_BAD_REQUEST, field, "unknown field '%s'", key);
			return false;
		}
	}
	return true;
}

bool api_zone_name(api_req_t *req, const char *name, const char *field,
                   char out[API_ZONE_SIZE])
{
	knot_dname_storage_t wire;
	if (name[0] == '\0' || knot_dname_from_str(wire, name, sizeof(wire)) == NULL) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, field,
		                "'%.300s' is not a domain name", name);
		return false;
	}
	knot_dname_to_lower(wire);
	if (knot_dname_to_str(out, wire, API_ZONE_SIZE) == NULL) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, field,
		                "'%.300s' is not a domain name", name);
		return false;
	}
	return true;
}

bool api_need_zone(api_req_t *req, const char *zone, api_access_t access)
{
	if (api_scopes_allow(req->scopes, zone, access)) {
		return true;
	}
	api_reply_error(req, MHD_HTTP_FORBIDDEN, NULL,
	                "token '%s' may not %s zone %s (scopes: %s)", req->actor,
	                access == API_ACCESS_WRITE ? "change" : "read", zone, req->scopes);
	return false;
}

bool api_need_admin(api_req_t *req)
{
	if (api_scopes_admin(req->scopes)) {
		return true;
	}
	api_reply_error(req, MHD_HTTP_FORBIDDEN, NULL,
	                "token '%s' needs the admin scope for this (scopes: %s)",
	                req->actor, req->scopes);
	return false;
}
