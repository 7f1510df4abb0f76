/* SPDX-License-Identifier: Apache-2.0
 * ctl_policy.c -- routing policies of store zones: list, create or
 * replace, delete, and compiling the stored ones when a store zone is
 * built. A spec is compiled before anything is written, so a bad one
 * changes nothing; a change goes through ctl_txn.c like an RRset change
 * (serial bump, store transaction with its audit row, new version).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_internal.h"
#include "policy/policy_json.h"
#include "util/error.h"

/* The file name policy_compile() errors carry: "policy:LINE: reason". */
#define SPEC_FILE "policy"

/* A compile error's reason without its "policy:LINE: " prefix; *line gets
 * LINE (the spec part it is about, see policy_json_read). */
static const char *compile_reason(const char *msg, uint64_t *line)
{
	static const char prefix[] = SPEC_FILE ":";
	char *end = NULL;
	*line = 0;
	if (strncmp(msg, prefix, sizeof(prefix) - 1) == 0) {
		*line = strtoull(msg + sizeof(prefix) - 1, &end, 10);
	}
	return end != NULL && strncmp(end, ": ", 2) == 0 ? end + 2 : msg;
}

/* A request's zone, owner and type, canonical. */
typedef struct target {
	knot_dname_storage_t apex;
	char zone[KNOT_DNAME_TXT_MAXLEN + 1];
	knot_dname_storage_t owner;
	char name[KNOT_DNAME_TXT_MAXLEN + 1];   /*!< "" when not given */
	uint16_t type;
	char type_text[16];                     /*!< "" when not given */
} target_t;

/* name and type may be NULL (a listing of every policy). */
static int parse_target(const char *zone, const char *name, const char *type, target_t *t,
                        ctl_error_t *err)
{
	*t = (target_t){ 0 };
	if (ctl_zone_name(zone, t->apex, t->zone, sizeof(t->zone)) != 0) {
		return ctl_fail(err, CIRRUS_ENOENT, 404, NULL, "no such zone");
	}
	if (name != NULL && (zone_name_parse(t->owner, name, t->apex) == 0 ||
	                     knot_dname_in_bailiwick(t->owner, t->apex) < 0)) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, "name", "'%s' is not a name in zone %s",
		                name, t->zone);
	}
	if (name != NULL) {
		knot_dname_to_str(t->name, t->owner, sizeof(t->name));
	}
	if (type != NULL && policy_type_from_string(type, &t->type) != 0) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, "type",
		                "a policy's type is A, AAAA, CNAME or ALIAS, not '%s'", type);
	}
	if (type != NULL) {
		snprintf(t->type_text, sizeof(t->type_text), "%s", policy_type_to_string(t->type));
	}
	return 0;
}

/* 404 for no zone, 409 for a file zone. Hold ctl->lock. */
static int need_store_zone(ctl_t *ctl, const target_t *t, ctl_error_t *err)
{
	bool from_store = false;
	if (ctl_find_zone(ctl, t->apex, &from_store) == NULL) {
		return ctl_fail(err, CIRRUS_ENOENT, 404, NULL, "no zone %s", t->zone);
	}
	if (!from_store) {
		return ctl_fail(err, CIRRUS_EEXIST, 409, NULL, "zone %s is served from a zone "
		                "file; its policies are declared next to it in cirrus.yaml",
		                t->zone);
	}
	return 0;
}

/* The body's name and type, if given, are those of the path; both become
 * the canonical ones (what is stored and listed). */
static int same_target(const target_t *t, policy_spec_t *spec, ctl_error_t *err)
{
	knot_dname_storage_t owner;
	if (spec->name != NULL && (zone_name_parse(owner, spec->name, t->apex) == 0 ||
	                           !knot_dname_is_equal(owner, t->owner))) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, "name", "name '%s' is not the %s of the "
		                "path", spec->name, t->name);
	}
	uint16_t type;
	if (spec->type != NULL && (policy_type_from_string(spec->type, &type) != 0 ||
	                           type != t->type)) {
		return ctl_fail(err, CIRRUS_EINVAL, 400, "type", "type '%s' is not the %s of the "
		                "path", spec->type, t->type_text);
	}
	free(spec->name);
	free(spec->type);
	spec->name = strdup(t->name);
	spec->type = strdup(t->type_text);
	return spec->name != NULL && spec->type != NULL ? 0 :
	       ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
}

static int keep_json(void *ctx, const store_policy_t *row)
{
	json_t **out = ctx;
	*out = json_loads(row->spec, 0, NULL);
	return *out != NULL ? 0 : CIRRUS_EIO;
}

/* The stored policy at the target as JSON, or NULL when there is none, of
 * a store zone (404, 409 as need_store_zone). Hold ctl->lock. */
static int stored(ctl_t *ctl, const target_t *t, json_t **out, ctl_error_t *err)
{
	*out = NULL;
	int rc = need_store_zone(ctl, t, err);
	if (rc == 0 && store_policy_list(ctl->st, t->zone, t->name, t->type_text, keep_json,
	                                 out) != 0) {
		rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "the store cannot read policy %s %s",
		              t->name, t->type_text);
	}
	return rc;
}

/* One change (put: p and after; delete: p NULL), as one transaction. */
static int change(ctl_t *ctl, const target_t *t, policy_t *p, const char *spec,
                  json_t *before, json_t *after, const ctl_actor_t *who, ctl_error_t *err)
{
	store_policy_t row = { .spec = spec };
	snprintf(row.zone, sizeof(row.zone), "%.*s", (int)sizeof(row.zone) - 1, t->zone);
	snprintf(row.owner, sizeof(row.owner), "%s", t->name);
	snprintf(row.type, sizeof(row.type), "%s", t->type_text);
	ctl_txn_t *x = NULL;
	int rc = ctl_txn_begin(ctl, t->zone, &x, err);
	if (rc != 0) {
		policy_free(p);
		json_decref(before);
		json_decref(after);
		return rc;
	}
	rc = ctl_txn_policy(x, t->owner, t->type, p, &row, before, after, err);
	if (rc != 0) {
		ctl_txn_abort(x);
		return rc;
	}
	return ctl_txn_commit(x, p != NULL ? "policy.put" : "policy.delete", who, err);
}

/* Compile spec for the target; a bad spec is 400 naming its part. */
static int compile(const target_t *t, const policy_spec_t *spec, const policy_strv_t *paths,
                   policy_t **out, ctl_error_t *err)
{
	char msg[1024] = "";
	int rc = policy_compile(spec, t->apex, SPEC_FILE, out, msg, sizeof(msg));
	if (rc != 0) {
		uint64_t line;
		const char *why = compile_reason(msg, &line);
		return ctl_fail(err, rc, rc == CIRRUS_ENOMEM ? 500 : 400,
		                policy_json_path(paths, line), "%s", why);
	}
	return 0;
}

/* Whether spec or a rule nested in it reads the latency table name (NULL:
 * any table). */
static bool names_table(const policy_spec_t *spec, const char *name)
{
	if (spec->latency_table != NULL &&
	    (name == NULL || strcmp(spec->latency_table, name) == 0)) {
		return true;
	}
	for (size_t i = 0; i < spec->endpoint_count; i++) {
		if (names_table(&spec->endpoints[i], name)) {
			return true;
		}
	}
	return false;
}

int ctl_policy_put(ctl_t *ctl, const char *zone, const char *name, const char *type,
                   policy_spec_t *spec, const policy_strv_t *paths, const ctl_actor_t *who,
                   bool *created, ctl_error_t *err)
{
	target_t t;
	policy_t *p = NULL;
	int rc = parse_target(zone, name, type, &t, err);
	if (rc == 0) {
		rc = same_target(&t, spec, err);
	}
	/* Compiling can take long (a MaxMind database is read whole): outside
	 * the lock, unless the spec reads latency tables from the store, which
	 * must not change between reading them and storing the policy. */
	bool tables = names_table(spec, NULL);
	if (rc == 0 && !tables) {
		rc = compile(&t, spec, paths, &p, err);
	}
	json_t *after = rc == 0 ? policy_json_write(spec) : NULL;
	char *text = after != NULL ? json_dumps(after, JSON_COMPACT) : NULL;
	if (rc == 0 && text == NULL) {
		rc = ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
	}
	if (rc != 0) {
		policy_free(p);
		json_decref(after);
		free(text);
		return rc;
	}
	pthread_mutex_lock(&ctl->lock);
	json_t *before = NULL;
	rc = stored(ctl, &t, &before, err);
	if (rc == 0 && tables && ctl_latency_resolve(ctl->st, spec, NULL, NULL) != 0) {
		rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "the store cannot read latency tables");
	}
	if (rc == 0 && tables) {
		rc = compile(&t, spec, paths, &p, err);
	}
	if (rc == 0) {
		*created = before == NULL;
		rc = change(ctl, &t, p, text, before != NULL ? before : json_null(), after, who, err);
	} else {
		policy_free(p);
		json_decref(before);
		json_decref(after);
	}
	pthread_mutex_unlock(&ctl->lock);
	free(text);
	return ctl_sync(ctl, rc, err);
}

int ctl_policy_delete(ctl_t *ctl, const char *zone, const char *name, const char *type,
                      const ctl_actor_t *who, ctl_error_t *err)
{
	target_t t;
	int rc = parse_target(zone, name, type, &t, err);
	if (rc != 0) {
		return rc;
	}
	pthread_mutex_lock(&ctl->lock);
	json_t *before = NULL;
	rc = stored(ctl, &t, &before, err);
	if (rc == 0 && before == NULL) {
		rc = ctl_fail(err, CIRRUS_ENOENT, 404, NULL, "no policy %s %s in zone %s", t.name,
		              t.type_text, t.zone);
	} else if (rc == 0) {
		rc = change(ctl, &t, NULL, NULL, before, json_null(), who, err);
	}
	pthread_mutex_unlock(&ctl->lock);
	return ctl_sync(ctl, rc, err);
}

typedef struct list_ctx {
	ctl_policy_cb_t cb;
	void *ctx;
} list_ctx_t;

static int list_one(void *ctx, const store_policy_t *row)
{
	list_ctx_t *l = ctx;
	ctl_policy_info_t info = { .name = row->owner, .type = row->type, .json = row->spec };
	return l->cb(l->ctx, &info);
}

int ctl_policy_list(ctl_t *ctl, const char *zone, const char *name, const char *type,
                    ctl_policy_cb_t cb, void *ctx, ctl_error_t *err)
{
	target_t t;
	int rc = parse_target(zone, name, type, &t, err);
	if (rc != 0) {
		return rc;
	}
	list_ctx_t l = { .cb = cb, .ctx = ctx };
	pthread_mutex_lock(&ctl->lock);
	rc = need_store_zone(ctl, &t, err);
	if (rc == 0) {
		rc = store_policy_list(ctl->st, t.zone, name ? t.name : NULL,
		                       type ? t.type_text : NULL, list_one, &l);
		if (rc == CIRRUS_EIO) {
			rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "the store cannot list policies");
		}
	}
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

int ctl_policy_compile_stored(store_t *st, const store_policy_t *row,
                              const knot_dname_t *apex, const char *table,
                              const char *data, policy_t **out, char *why, size_t whylen)
{
	char field[128] = "", msg[1024] = "could not be read as JSON";
	const char *reason = msg;
	uint64_t line = 0;
	json_t *o = json_loads(row->spec, 0, NULL);
	policy_spec_t spec;
	policy_strv_t paths;
	int rc = o != NULL ? policy_json_read(o, &spec, &paths, field, sizeof(field), msg,
	                                      sizeof(msg)) : CIRRUS_EIO;
	*out = NULL;
	bool wanted = rc == 0 && (table == NULL || names_table(&spec, table));
	if (wanted && (rc = ctl_latency_resolve(st, &spec, table, data)) != 0) {
		snprintf(msg, sizeof(msg), "its latency tables cannot be read");
	}
	if (wanted && rc == 0 &&
	    (rc = policy_compile(&spec, apex, SPEC_FILE, out, msg, sizeof(msg))) != 0) {
		reason = compile_reason(msg, &line);
		snprintf(field, sizeof(field), "%s", policy_json_path(&paths, line));
	}
	if (rc != 0) {
		snprintf(why, whylen, "policy %s %s%s%s: %s", row->owner, row->type,
		         field[0] ? " at " : "", field, rc == CIRRUS_ENOMEM ? "out of memory" : reason);
	}
	if (o != NULL) {
		policy_spec_deinit(&spec);
		policy_json_paths_free(&paths);
	}
	json_decref(o);
	return rc;
}

/* The compiled policies of a zone, as they come from the store. */
typedef struct loaded {
	store_t *st;
	const zone_t *zone;
	policy_t **v;
	size_t n;
	char *err;
	size_t errlen;
	bool reported;       /*!< err says why loading failed */
} loaded_t;

static int load_one(void *ctx, const store_policy_t *row)
{
	loaded_t *l = ctx;
	char why[1536];
	policy_t *p = NULL;
	int rc = ctl_policy_compile_stored(l->st, row, zone_apex(l->zone), NULL, NULL, &p, why,
	                                   sizeof(why));
	policy_t **grown = rc == 0 ? realloc(l->v, (l->n + 1) * sizeof(*grown)) : NULL;
	if (grown != NULL) {
		l->v = grown;
		l->v[l->n++] = p;
	} else if (rc == 0) {
		rc = CIRRUS_ENOMEM;
		policy_free(p);
		snprintf(why, sizeof(why), "out of memory");
	}
	if (rc != 0) {
		l->reported = true;
		snprintf(l->err, l->errlen, "stored zone %s: %s", row->zone, why);
	}
	return rc;
}

int ctl_policies_load(store_t *st, const char *name, zone_t **zone, char *err,
                      size_t errlen)
{
	loaded_t l = { .st = st, .zone = *zone, .err = err, .errlen = errlen };
	int rc = store_policy_list(st, name, NULL, NULL, load_one, &l);
	if (rc != 0 && !l.reported) {
		snprintf(err, errlen, "stored zone %s: its policies cannot be read: %s", name,
		         store_last_error(st));
	}
	uint64_t *lines = rc == 0 && l.n > 0 ? calloc(l.n, sizeof(*lines)) : NULL;
	if (rc == 0 && l.n > 0 && lines == NULL) {
		rc = CIRRUS_ENOMEM;
	}
	char msg[1024] = "out of memory";
	if (rc == 0 && l.n > 0 &&
	    (rc = policy_zone_attach(zone, l.v, l.n, SPEC_FILE, lines, msg, sizeof(msg))) != 0) {
		uint64_t line;
		snprintf(err, errlen, "stored zone %s: %s", name, compile_reason(msg, &line));
		l.n = 0; /* attach freed them */
	}
	for (size_t i = 0; i < l.n && rc != 0; i++) {
		policy_free(l.v[i]);
	}
	if (rc != 0 && *zone != NULL) {
		zone_free(*zone);
		*zone = NULL;
	}
	free(l.v);
	free(lines);
	return rc;
}
