/* SPDX-License-Identifier: Apache-2.0
 * ctl_latency.c -- latency tables loaded through the API and kept in the
 * store, which latency rules of store-zone policies name with
 * `latency-table`. A new table is checked, stored with its audit row, and
 * every policy that names it is compiled again and served at once by a new
 * version of its zone (the zone's data and serial do not change: like a
 * health change, only the answers do).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_internal.h"
#include "util/error.h"

#define NAME_MAX_LEN 64

static int check_name(const char *name, ctl_error_t *err)
{
	size_t len = strlen(name);
	if (len == 0 || len > NAME_MAX_LEN ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, "name", "a latency table's name is 1 to "
		                "%d letters, digits, '.', '_' or '-'", NAME_MAX_LEN);
	}
	return 0;
}

int ctl_latency_resolve(store_t *st, policy_spec_t *spec, const char *name, const char *data)
{
	int rc = 0;
	if (spec->latency_table != NULL && spec->latency_data == NULL) {
		if (name != NULL && strcmp(spec->latency_table, name) == 0) {
			rc = (spec->latency_data = strdup(data)) != NULL ? 0 : CIRRUS_ENOMEM;
		} else {
			rc = store_latency_get(st, spec->latency_table, &spec->latency_data);
			rc = rc == CIRRUS_ENOENT ? 0 : rc; /* compiling says it is missing */
		}
	}
	for (size_t i = 0; rc == 0 && i < spec->endpoint_count; i++) {
		rc = ctl_latency_resolve(st, &spec->endpoints[i], name, data);
	}
	return rc;
}

/* Check a table by compiling a latency rule over it; an error names the
 * row ("rows[2]", the table's line 3). */
static int check_table(const char *name, const char *text, ctl_error_t *err)
{
	policy_spec_t top, ep;
	policy_spec_init(&top, 1);
	policy_spec_init(&ep, 2);
	top.name = (char *)".";
	top.type = (char *)"A";
	top.rule = (char *)"latency";
	top.latency_table = (char *)name;
	top.latency_data = (char *)text;
	top.endpoints = &ep;
	top.endpoint_count = 1;
	ep.rdata = (char *)"192.0.2.1";
	ep.is_default = true;
	policy_t *p = NULL;
	char msg[1024] = "";
	int rc = policy_compile(&top, (const knot_dname_t *)"", "policy", &p, msg, sizeof(msg));
	policy_free(p);
	if (rc == 0) {
		return 0;
	}
	size_t n = strlen(name);
	char *end = NULL;
	unsigned long line = strncmp(msg, name, n) == 0 && msg[n] == ':' ?
	                     strtoul(msg + n + 1, &end, 10) : 0;
	char field[32] = "rows";
	if (line > 0 && end != NULL && strncmp(end, ": ", 2) == 0) {
		snprintf(field, sizeof(field), "rows[%lu]", line - 1);
	}
	return ctl_fail(err, rc, rc == CIRRUS_ENOMEM ? 500 : 400, field, "%s",
	                end != NULL && strncmp(end, ": ", 2) == 0 ? end + 2 : msg);
}

/* A policy compiled again with the new table, for the zone at index. */
typedef struct fresh {
	size_t zone;
	policy_t *policy;
} fresh_t;

typedef struct recompile {
	ctl_t *ctl;
	const char *name, *text;
	size_t zone;
	fresh_t *v;
	size_t n;
	json_t *names;      /*!< "OWNER TYPE" of each, for the audit row */
	ctl_error_t *err;
} recompile_t;

static int recompile_one(void *ctx, const store_policy_t *row)
{
	recompile_t *r = ctx;
	char why[1536];
	policy_t *p = NULL;
	int rc = ctl_policy_compile_stored(r->ctl->st, row, zone_apex(r->ctl->store_zones[r->zone]),
	                                   r->name, r->text, &p, why, sizeof(why));
	fresh_t *grown = p != NULL ? realloc(r->v, (r->n + 1) * sizeof(*grown)) : NULL;
	if (grown != NULL) {
		r->v = grown;
		r->v[r->n++] = (fresh_t){ r->zone, p };
		char label[sizeof(row->owner) + sizeof(row->type) + 1];
		snprintf(label, sizeof(label), "%s %s", row->owner, row->type);
		json_array_append_new(r->names, json_string(label));
	} else if (p != NULL) {
		policy_free(p);
		rc = CIRRUS_ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
	}
	if (rc != 0) {
		ctl_fail(r->err, rc, rc == CIRRUS_ENOMEM ? 500 : 409, NULL, "zone %s: %s does not "
		         "compile with the new table", row->zone, why);
	}
	return rc;
}

/* Serve the zone at index with the fresh policies in place of those of the
 * same owner and type: a new version with the same data. */
static int republish(ctl_t *ctl, size_t index, const fresh_t *v, size_t n)
{
	zone_t *base = ctl->store_zones[index], *next = NULL;
	policy_t *const *old;
	size_t count = policy_zone_policies(base, &old);
	policy_t **list = malloc((count ? count : 1) * sizeof(*list));
	zone_update_t *u = NULL;
	int rc = list != NULL ? zone_update_new(base, &u) : CIRRUS_ENOMEM;
	for (size_t i = 0; rc == 0 && i < count; i++) {
		list[i] = old[i];
		for (size_t k = 0; k < n; k++) {
			if (v[k].zone == index && policy_type(v[k].policy) == policy_type(old[i]) &&
			    knot_dname_is_equal(policy_owner(v[k].policy), policy_owner(old[i]))) {
				list[i] = v[k].policy;
			}
		}
	}
	if (rc == 0 && (rc = zone_update_commit(u, &next)) != 0) {
		zone_update_abort(u);
	}
	if (rc == 0) {
		int pr = policy_zone_set(next, list, count);
		zone_ref(next);
		ctl->store_zones[index] = next;
		zone_unref(base);
		rc = pr;
	}
	free(list);
	return rc;
}

/* Rows of a table's text (one per line). */
static json_int_t rows_in(const char *text)
{
	json_int_t rows = 0;
	for (const char *c = text; c != NULL && *c != '\0'; c++) {
		rows += *c == '\n';
	}
	return rows;
}

/* The table, its audit row ("latency.put": name and rows before and after,
 * and the policies compiled again), in one store transaction. */
static int store_table(ctl_t *ctl, const char *name, const char *text, json_t *names,
                       const ctl_actor_t *who)
{
	char *old = NULL;
	int got = store_latency_get(ctl->st, name, &old);
	json_int_t before_rows = rows_in(old), after_rows = rows_in(text);
	free(old);
	json_t *b = got == 0 ? json_pack("{s:s, s:I}", "name", name, "rows", before_rows) :
	            json_null();
	json_t *a = json_pack("{s:s, s:I, s:O}", "name", name, "rows", after_rows,
	                      "policies", names);
	char *before = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
	char *after = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
	store_audit_t row = { .actor = who->actor, .request_id = who->request_id,
	                      .action = "latency.put", .before = before, .after = after };
	int rc = got != 0 && got != CIRRUS_ENOENT ? got : after == NULL ? CIRRUS_ENOMEM : 0;
	if (rc == 0 && (store_begin(ctl->st) != 0 || store_latency_put(ctl->st, name, text) != 0 ||
	                store_audit_append(ctl->st, &row) != 0 || store_commit(ctl->st) != 0)) {
		store_rollback(ctl->st);
		rc = CIRRUS_EIO;
	}
	json_decref(b);
	json_decref(a);
	free(before);
	free(after);
	return rc;
}

int ctl_latency_put(ctl_t *ctl, const char *name, const char *text, const ctl_actor_t *who,
                    ctl_error_t *err)
{
	int rc = check_name(name, err);
	if (rc == 0) {
		rc = check_table(name, text, err);
	}
	if (rc != 0) {
		return rc;
	}
	pthread_mutex_lock(&ctl->lock);
	recompile_t r = { .ctl = ctl, .name = name, .text = text, .names = json_array(),
	                  .err = err };
	rc = r.names != NULL ? 0 : ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
	for (size_t z = 0; rc == 0 && z < ctl->store_count; z++) {
		char zone[KNOT_DNAME_TXT_MAXLEN + 1];
		knot_dname_to_str(zone, zone_apex(ctl->store_zones[z]), sizeof(zone));
		r.zone = z;
		rc = store_policy_list(ctl->st, zone, NULL, NULL, recompile_one, &r);
	}
	if (rc == 0 && store_table(ctl, name, text, r.names, who) != 0) {
		rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "the store refused the table");
	}
	for (size_t z = 0; rc == 0 && z < ctl->store_count; z++) {
		bool touched = false;
		for (size_t k = 0; k < r.n; k++) {
			touched |= r.v[k].zone == z;
		}
		if (touched && republish(ctl, z, r.v, r.n) != 0) {
			rc = ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "stored, but not yet served: "
			              "out of memory");
		}
	}
	if (rc == 0 && r.n > 0) {
		rc = ctl_publish(ctl);
	}
	pthread_mutex_unlock(&ctl->lock);
	for (size_t k = 0; k < r.n; k++) {
		policy_free(r.v[k].policy); /* the versions hold their own references */
	}
	free(r.v);
	json_decref(r.names);
	return rc;
}

int ctl_latency_get(ctl_t *ctl, const char *name, char **text, ctl_error_t *err)
{
	*text = NULL;
	int rc = check_name(name, err);
	if (rc != 0) {
		return rc;
	}
	pthread_mutex_lock(&ctl->lock);
	rc = store_latency_get(ctl->st, name, text);
	pthread_mutex_unlock(&ctl->lock);
	if (rc == CIRRUS_ENOENT) {
		return ctl_fail(err, rc, 404, NULL, "no latency table '%s'", name);
	}
	return rc == 0 ? 0 : ctl_fail(err, rc, 500, NULL, "the store cannot read the table");
}

/* The first store policy that names the table, as "zone owner type". */
typedef struct user {
	ctl_t *ctl;
	size_t zone;
	const char *name;
	const char *text;
	char found[KNOT_DNAME_TXT_MAXLEN * 2 + 16];
} user_t;

static int find_user(void *ctx, const store_policy_t *row)
{
	user_t *u = ctx;
	char why[1536];
	policy_t *p = NULL;
	/* Compiled only when it names the table; one that cannot even be read
	 * counts as a user too, to be safe. */
	int rc = ctl_policy_compile_stored(u->ctl->st, row,
	                                   zone_apex(u->ctl->store_zones[u->zone]), u->name,
	                                   u->text, &p, why, sizeof(why));
	if (rc == 0 && p == NULL) {
		return 0;
	}
	policy_free(p);
	snprintf(u->found, sizeof(u->found), "%s %s %s", row->zone, row->owner, row->type);
	return 1;   /* stop: one is enough to refuse */
}

int ctl_latency_delete(ctl_t *ctl, const char *name, const ctl_actor_t *who, ctl_error_t *err)
{
	int rc = check_name(name, err);
	if (rc != 0) {
		return rc;
	}
	pthread_mutex_lock(&ctl->lock);
	char *old = NULL;
	rc = store_latency_get(ctl->st, name, &old);
	if (rc != 0) {
		rc = ctl_fail(err, rc, rc == CIRRUS_ENOENT ? 404 : 500, NULL, rc == CIRRUS_ENOENT ?
		              "no latency table '%s'" : "the store cannot read the table", name);
	}
	user_t u = { .ctl = ctl, .name = name, .text = old };
	for (size_t z = 0; rc == 0 && u.found[0] == '\0' && z < ctl->store_count; z++) {
		char zone[KNOT_DNAME_TXT_MAXLEN + 1];
		knot_dname_to_str(zone, zone_apex(ctl->store_zones[z]), sizeof(zone));
		u.zone = z;
		int r = store_policy_list(ctl->st, zone, NULL, NULL, find_user, &u);
		rc = r < 0 ? ctl_fail(err, r, 500, NULL, "the store cannot list policies") : 0;
	}
	if (rc == 0 && u.found[0] != '\0') {
		rc = ctl_fail(err, CIRRUS_EEXIST, 409, NULL, "latency table '%s' is named by the "
		              "policy %s: change or delete that first", name, u.found);
	}
	json_t *b = rc == 0 ? json_pack("{s:s, s:I}", "name", name, "rows", rows_in(old)) : NULL;
	char *before = b != NULL ? json_dumps(b, JSON_COMPACT) : NULL;
	store_audit_t row = { .actor = who->actor, .request_id = who->request_id,
	                      .action = "latency.delete", .before = before, .after = NULL };
	if (rc == 0 && (before == NULL || store_begin(ctl->st) != 0 ||
	                store_latency_delete(ctl->st, name) != 0 ||
	                store_audit_append(ctl->st, &row) != 0 || store_commit(ctl->st) != 0)) {
		store_rollback(ctl->st);
		rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "the store refused the deletion");
	}
	pthread_mutex_unlock(&ctl->lock);
	json_decref(b);
	free(before);
	free(old);
	return rc;
}
