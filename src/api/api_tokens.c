/* SPDX-License-Identifier: Apache-2.0
 * api_tokens.c -- /api/v1/tokens, for admin tokens only: list tokens (never
 * their secrets, which are not stored), make one (its secret is in that
 * reply and nowhere else) and delete one. See api_token.c.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/error.h"

/* Most scopes one token may carry. */
#define SCOPES_MAX 64

/* "a b c" as ["a", "b", "c"]. */
static json_t *scope_list(const char *scopes)
{
	json_t *list = json_array();
	for (const char *p = scopes; list != NULL && *p != '\0';) {
		p += strspn(p, " ");
		size_t len = strcspn(p, " ");
		if (len > 0 && json_array_append_new(list, json_stringn(p, len)) != 0) {
			json_decref(list);
			return NULL;
		}
		p += len;
	}
	return list;
}

static int token_one(void *ctx, const store_token_t *tok)
{
	char created[40];
	api_time_format(tok->created_us, created);
	json_t *o = json_pack("{s:s, s:o, s:s}", "name", tok->name,
	                      "scopes", scope_list(tok->scopes), "created", created);
	return json_array_append_new(ctx, o) == 0 ? 0 : CIRRUS_ENOMEM;
}

void api_tokens_list(api_req_t *req)
{
	static const char *const known[] = { NULL };
	if (!api_need_admin(req) || !api_query_known(req, known)) {
		return;
	}
	json_t *list = json_array();
	int r = CIRRUS_ENOMEM;
	if (list != NULL) {
		store_t *st = ctl_store_lock(req->api->ctl);
		r = store_token_list(st, token_one, list);
		ctl_store_unlock(req->api->ctl);
	}
	if (r != 0) {
		json_decref(list);
		api_reply_ctl(req, r, NULL);
		return;
	}
	api_reply_json(req, MHD_HTTP_OK, json_pack("{s:o}", "tokens", list));
}

/* The scopes of a create request; false has replied. */
static bool create_scopes(api_req_t *req, json_t *body, const char **scopes, size_t *count)
{
	json_t *v = json_object_get(body, "scopes");
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > SCOPES_MAX) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "scopes", "scopes must be a list of "
		                "1 to %d scopes (admin, zone:PATTERN:read, zone:PATTERN:write)",
		                SCOPES_MAX);
		return false;
	}
	*count = json_array_size(v);
	for (size_t i = 0; i < *count; i++) {
		if ((scopes[i] = json_string_value(json_array_get(v, i))) == NULL) {
			char field[32];
			snprintf(field, sizeof(field), "scopes[%zu]", i);
			api_reply_error(req, MHD_HTTP_BAD_REQUEST, field, "a scope is a string");
			return false;
		}
	}
	return true;
}

void api_tokens_create(api_req_t *req)
{
	static const char *const keys[] = { "name", "scopes", NULL };
	if (!api_need_admin(req)) {
		return;
	}
	json_t *body = api_body_object(req);
	if (body == NULL || !api_json_keys_known(req, body, "", keys)) {
		json_decref(body);
		return;
	}
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *scopes[SCOPES_MAX];
	size_t count = 0;
	if (name == NULL) {
		api_reply_error(req, MHD_HTTP_BAD_REQUEST, "name", "name (a string) is required");
	} else if (create_scopes(req, body, scopes, &count)) {
		char secret[API_TOKEN_SECRET_SIZE], canonical[API_SCOPES_SIZE], err[512];
		size_t bad = SIZE_MAX;
		ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
		store_t *st = ctl_store_lock(req->api->ctl);
		int r = api_token_create(st, name, scopes, count, &who, secret, canonical,
		                         &bad, err, sizeof(err));
		ctl_store_unlock(req->api->ctl);
		api_token_cache_forget();
		char field[32] = "name";
		if (bad != SIZE_MAX) {
			snprintf(field, sizeof(field), "scopes[%zu]", bad);
		}
		if (r == 0) {
			api_reply_json(req, MHD_HTTP_CREATED,
			               json_pack("{s:s, s:s, s:o}", "name", name, "token", secret,
			                         "scopes", scope_list(canonical)));
		} else {
			api_reply_error(req, api_status_of(r), r == CIRRUS_EIO ? NULL : field,
			                "%s", err);
		}
		memset(secret, 0, sizeof(secret));
	}
	json_decref(body);
}

void api_token_delete(api_req_t *req)
{
	if (!api_need_admin(req)) {
		return;
	}
	char err[512];
	ctl_actor_t who = { .actor = req->actor, .request_id = req->id };
	store_t *st = ctl_store_lock(req->api->ctl);
	int r = api_token_remove(st, req->arg, &who, err, sizeof(err));
	ctl_store_unlock(req->api->ctl);
	api_token_cache_forget();   /* after the commit: no lookup can bring it back */
	if (r != 0) {
		api_reply_error(req, api_status_of(r), NULL, "%s", err);
		return;
	}
	api_reply_empty(req, MHD_HTTP_NO_CONTENT);
}
