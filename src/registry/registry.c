/* SPDX-License-Identifier: Apache-2.0
 * registry.c -- the running registry: registrations, heartbeats and
 * deregistrations from the API, the lease sweeper thread, and the
 * reconciliation at start. One mutex serializes the registry's changes, so
 * the "before" set of instances a change is computed from is the one the
 * zone holds. Each change is two commits (the instances table, then the
 * zone through ctl); the order is chosen so that a crash between them
 * leaves an instance that is registered but not yet served, or served until
 * its lease ends -- and registry_new() repairs the first case on start.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry/registry.h"
#include "util/error.h"
#include "util/log.h"

#define SWEEP_MS_DEFAULT 200

struct registry {
	ctl_t *ctl;
	pthread_mutex_t lock;      /*!< one registry change at a time */
	unsigned sweep_ms;
	pthread_t thread;
	bool started;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	bool stop;
};

/* Instances of one zone, as read from the store. */
typedef struct ivec {
	registry_instance_t *v;
	size_t count, alloc;
	const char *zone;
} ivec_t;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fail(ctl_error_t *err, int code, int status, const char *field, const char *msg)
{
	err->status = status;
	snprintf(err->message, sizeof(err->message), "%s", msg);
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	return code;
}

/* "Example.COM" -> "example.com."; false when it is not a domain name. */
static bool zone_canon(const char *in, char out[256])
{
	knot_dname_storage_t wire;
	if (in == NULL || knot_dname_from_str(wire, in, sizeof(wire)) == NULL) {
		return false;
	}
	knot_dname_to_lower(wire);
	return knot_dname_to_str(out, wire, 256) != NULL;
}

/* A path label folded to lower case; false when it is not a label. */
static bool label_canon(const char *in, char out[REGISTRY_LABEL_SIZE])
{
	size_t len = strlen(in);
	if (len >= REGISTRY_LABEL_SIZE) {
		return false;
	}
	for (size_t i = 0; i <= len; i++) {
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
	}
	return registry_label_ok(out);
}

static int ivec_push(ivec_t *iv, const registry_instance_t *in)
{
	if (iv->count == iv->alloc) {
		size_t alloc = iv->alloc ? iv->alloc * 2 : 16;
		registry_instance_t *grown = realloc(iv->v, alloc * sizeof(*grown));
		if (grown == NULL) {
			return CIRRUS_ENOMEM;
		}
		iv->v = grown;
		iv->alloc = alloc;
	}
	iv->v[iv->count++] = *in;
	return 0;
}

/* A stored row to an instance; a row that no longer parses is skipped
 * with a warning rather than blocking its whole zone. */
static int row_instance(const store_instance_t *row, registry_instance_t *in)
{
	char field[64], why[256];
	json_t *data = json_loads(row->data, 0, NULL);
	int r = registry_instance_parse(data, in, field, sizeof(field), why, sizeof(why));
	json_decref(data);
	if (r != 0) {
		log_warning("registry: %s %s/%s: stored data unreadable (%s); ignored",
		            row->zone, row->service, row->instance, why);
		return r;
	}
	snprintf(in->service, sizeof(in->service), "%s", row->service);
	snprintf(in->id, sizeof(in->id), "%s", row->instance);
	in->expires_us = row->expires_us;
	return 0;
}

static int load_cb(void *ctx, const store_instance_t *row)
{
	ivec_t *iv = ctx;
	registry_instance_t *in = malloc(sizeof(*in));
	if (in == NULL) {
		return CIRRUS_ENOMEM;
	}
	int r = row_instance(row, in) == 0 ? ivec_push(iv, in) : 0;
	free(in);
	return r;
}

/* Every instance of a zone (service NULL) or of one service. */
static int load(registry_t *r, const char *zone, const char *service, ivec_t *out)
{
	memset(out, 0, sizeof(*out));
	out->zone = zone;
	store_t *st = ctl_store_lock(r->ctl);
	int rc = store_instance_list(st, zone, service, load_cb, out);
	ctl_store_unlock(r->ctl);
	if (rc != 0) {
		free(out->v);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

static ssize_t ivec_find(const ivec_t *iv, const char *service, const char *id)
{
	for (size_t i = 0; i < iv->count; i++) {
		if (strcmp(iv->v[i].service, service) == 0 && strcmp(iv->v[i].id, id) == 0) {
			return (ssize_t)i;
		}
	}
	return -1;
}

/* Patch zone from the records of old to those of new (nothing when equal). */
static int publish(registry_t *r, const char *zone, const ivec_t *old, const ivec_t *new,
                   const ctl_actor_t *who, ctl_error_t *err)
{
	registry_rrsets_t a, b;
	ctl_change_t *changes = NULL;
	size_t count = 0;
	int rc = registry_records(zone, old->v, old->count, &a);
	if (rc == 0) {
		rc = registry_records(zone, new->v, new->count, &b);
		if (rc != 0) {
			registry_rrsets_free(&a);
		}
	}
	if (rc != 0) {
		return fail(err, rc, rc == CIRRUS_EINVAL ? 400 : 500, NULL,
		            rc == CIRRUS_EINVAL ? "a service name is too long for the zone" :
		            "out of memory");
	}
	rc = registry_diff(&a, &b, &changes, &count);
	if (rc != 0) {
		fail(err, rc, 500, NULL, "out of memory");
	} else if (count > 0) {
		rc = ctl_rrsets_patch(r->ctl, zone, changes, count, who, err);
	}
	free(changes);
	registry_rrsets_free(&a);
	registry_rrsets_free(&b);
	return rc;
}

/* Put or delete one row in a transaction of its own. */
static int store_row(registry_t *r, const char *zone, const registry_instance_t *in,
                     bool put)
{
	store_instance_t *row = calloc(1, sizeof(*row));
	json_t *data = put ? registry_instance_json(in) : NULL;
	char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
	json_decref(data);
	int rc = row == NULL || (put && text == NULL) ? CIRRUS_ENOMEM : 0;
	if (rc == 0 && put && strlen(text) >= sizeof(row->data)) {
		rc = CIRRUS_EINVAL;
	}
	store_t *st = ctl_store_lock(r->ctl);
	if (rc == 0) {
		rc = store_begin(st);
	}
	if (rc == 0 && put) {
		snprintf(row->zone, sizeof(row->zone), "%s", zone);
		snprintf(row->service, sizeof(row->service), "%s", in->service);
		snprintf(row->instance, sizeof(row->instance), "%s", in->id);
		snprintf(row->data, sizeof(row->data), "%s", text);
		row->expires_us = in->expires_us;
		rc = store_instance_put(st, row);
	} else if (rc == 0) {
		rc = store_instance_delete(st, zone, in->service, in->id);
	}
	if (rc == 0) {
		rc = store_commit(st);
	} else if (rc != CIRRUS_ENOMEM && rc != CIRRUS_EINVAL) {
		store_rollback(st);
	}
	if (rc != 0) {
		log_warning("registry: %s %s/%s: store: %s", zone, in->service, in->id,
		            store_last_error(st));
	}
	ctl_store_unlock(r->ctl);
	free(text);
	free(row);
	return rc;
}

static int zone_kind(void *ctx, const ctl_zone_info_t *zone)
{
	*(bool *)ctx = strcmp(zone->source, "store") == 0;
	return 0;
}

/* 404 for no zone, 409 for a file zone: the registry writes store zones only. */
static int need_store_zone(registry_t *r, const char *zone, ctl_error_t *err)
{
	bool store = false;
	if (ctl_zone_info(r->ctl, zone, zone_kind, &store) != 0) {
		return fail(err, CIRRUS_ENOENT, 404, "zone", "no such zone");
	}
	if (!store) {
		return fail(err, CIRRUS_EEXIST, 409, "zone",
		            "the zone is served from a zone file; services need an API-managed zone");
	}
	return 0;
}

/* Canonical zone, service and id from the path; 400 with the field. */
static int path_names(const char *zone, const char *service, const char *id,
                      char z[256], char s[REGISTRY_LABEL_SIZE], char i[REGISTRY_LABEL_SIZE],
                      ctl_error_t *err)
{
	if (!zone_canon(zone, z)) {
		return fail(err, CIRRUS_EINVAL, 400, "zone", "not a domain name");
	}
	if (service != NULL && !label_canon(service, s)) {
		return fail(err, CIRRUS_EINVAL, 400, "service",
		            "a service name is 1 to 63 letters, digits and inner hyphens");
	}
	if (id != NULL && !label_canon(id, i)) {
		return fail(err, CIRRUS_EINVAL, 400, "id",
		            "an instance id is 1 to 63 letters, digits and inner hyphens");
	}
	return 0;
}

static void time_rfc3339(int64_t us, char out[40])
{
	time_t sec = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char date[32];
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%s.%03dZ", date, (int)(us % 1000000 / 1000));
}

/* The instance as listed: the registration plus id, service, lease end. */
static json_t *listing_of(const registry_instance_t *in)
{
	json_t *o = registry_instance_json(in);
	char expires[40];
	time_rfc3339(in->expires_us, expires);
	if (o != NULL) {
		json_object_set_new(o, "id", json_string(in->id));
		json_object_set_new(o, "service", json_string(in->service));
		json_object_set_new(o, "expires", json_string(expires));
		/* per-instance health checks are not built yet (docs/services.md) */
		json_object_set_new(o, "health", json_string("unchecked"));
	}
	return o;
}

int registry_register(registry_t *r, const char *zone, const char *service,
                      const char *id, const json_t *body, const ctl_actor_t *who,
                      json_t **listing, ctl_error_t *err)
{
	char z[256], field[64], why[256];
	registry_instance_t *in = calloc(1, sizeof(*in));
	if (in == NULL) {
		return fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
	}
	int rc = path_names(zone, service, id, z, in->service, in->id, err);
	if (rc == 0 && registry_instance_parse(body, in, field, sizeof(field), why,
	                                       sizeof(why)) != 0) {
		rc = fail(err, CIRRUS_EINVAL, 400, field, why);
	}
	if (rc == 0) {
		rc = need_store_zone(r, z, err);
	}
	if (rc != 0) {
		free(in);
		return rc;
	}
	pthread_mutex_lock(&r->lock);
	ivec_t old, new = { 0 };
	rc = load(r, z, NULL, &old);
	ssize_t at = rc == 0 ? ivec_find(&old, in->service, in->id) : -1;
	in->expires_us = now_us() + (int64_t)in->lease * 1000000;
	for (size_t i = 0; rc == 0 && i < old.count; i++) {
		rc = ivec_push(&new, (ssize_t)i == at ? in : &old.v[i]);
	}
	if (rc == 0 && at < 0) {
		rc = ivec_push(&new, in);
	}
	if (rc != 0) {
		fail(err, rc, 500, NULL, "cannot read the registry");
	} else if ((rc = store_row(r, z, in, true)) != 0) {
		fail(err, rc, 500, NULL, "the store refused the instance");
	} else if ((rc = publish(r, z, &old, &new, who, err)) != 0) {
		/* undo the row: the registration failed as a whole */
		store_row(r, z, at >= 0 ? &old.v[at] : in, at >= 0);
	}
	pthread_mutex_unlock(&r->lock);
	if (rc == 0 && listing != NULL) {
		*listing = listing_of(in);
	}
	free(old.v);
	free(new.v);
	free(in);
	return rc;
}

int registry_heartbeat(registry_t *r, const char *zone, const char *service,
                       const char *id, json_t **listing, ctl_error_t *err)
{
	char z[256], s[REGISTRY_LABEL_SIZE], i[REGISTRY_LABEL_SIZE];
	int rc = path_names(zone, service, id, z, s, i, err);
	if (rc != 0) {
		return rc;
	}
	pthread_mutex_lock(&r->lock);
	ivec_t cur;
	rc = load(r, z, s, &cur);
	ssize_t at = rc == 0 ? ivec_find(&cur, s, i) : -1;
	int64_t now = now_us();
	if (rc != 0) {
		fail(err, rc, 500, NULL, "cannot read the registry");
	} else if (at < 0 || cur.v[at].expires_us <= now) {
		/* an ended lease is not revived: the sweeper removes it within 1 s */
		rc = fail(err, CIRRUS_ENOENT, 404, NULL, at < 0 ? "no such instance" :
		          "the lease has ended; register the instance again");
	} else {
		registry_instance_t *in = &cur.v[at];
		in->expires_us = now + (int64_t)in->lease * 1000000;
		store_t *st = ctl_store_lock(r->ctl);
		rc = store_instance_renew(st, z, s, i, in->expires_us);
		ctl_store_unlock(r->ctl);
		if (rc != 0) {
			fail(err, rc, 500, NULL, "the store refused the heartbeat");
		} else if (listing != NULL) {
			*listing = listing_of(in);
		}
	}
	pthread_mutex_unlock(&r->lock);
	free(cur.v);
	return rc;
}

/* Remove instances of a zone (those matching drop) with one zone change,
 * then their rows. A zone that is gone or no longer a store zone has no
 * records to remove: the rows go anyway. */
static int remove_instances(registry_t *r, const char *zone,
                            bool (*drop)(const registry_instance_t *, void *), void *ctx,
                            const ctl_actor_t *who, size_t *removed, ctl_error_t *err)
{
	ivec_t old, keep = { 0 }, gone = { 0 };
	int rc = load(r, zone, NULL, &old);
	for (size_t i = 0; rc == 0 && i < old.count; i++) {
		rc = ivec_push(drop(&old.v[i], ctx) ? &gone : &keep, &old.v[i]);
	}
	if (rc != 0) {
		fail(err, rc, 500, NULL, "cannot read the registry");
	} else if (gone.count > 0) {
		rc = publish(r, zone, &old, &keep, who, err);
		if (rc == CIRRUS_ENOENT || rc == CIRRUS_EEXIST) {
			rc = 0;
		}
		for (size_t i = 0; rc == 0 && i < gone.count; i++) {
			int d = store_row(r, zone, &gone.v[i], false);
			rc = d == CIRRUS_ENOENT ? 0 : d;
		}
	}
	*removed = gone.count;
	free(old.v);
	free(keep.v);
	free(gone.v);
	return rc;
}

typedef struct one {
	const char *service, *id;
} one_t;

static bool is_one(const registry_instance_t *in, void *ctx)
{
	const one_t *o = ctx;
	return strcmp(in->service, o->service) == 0 && strcmp(in->id, o->id) == 0;
}

int registry_deregister(registry_t *r, const char *zone, const char *service,
                        const char *id, const ctl_actor_t *who, ctl_error_t *err)
{
	char z[256], s[REGISTRY_LABEL_SIZE], i[REGISTRY_LABEL_SIZE];
	int rc = path_names(zone, service, id, z, s, i, err);
	if (rc != 0) {
		return rc;
	}
	pthread_mutex_lock(&r->lock);
	size_t removed = 0;
	one_t o = { s, i };
	rc = remove_instances(r, z, is_one, &o, who, &removed, err);
	pthread_mutex_unlock(&r->lock);
	if (rc == 0 && removed == 0) {
		rc = fail(err, CIRRUS_ENOENT, 404, NULL, "no such instance");
	}
	return rc;
}

int registry_list(registry_t *r, const char *zone, const char *service, json_t **out,
                  ctl_error_t *err)
{
	char z[256], s[REGISTRY_LABEL_SIZE];
	int rc = path_names(zone, service, NULL, z, s, NULL, err);
	if (rc != 0) {
		return rc;
	}
	ivec_t cur;
	pthread_mutex_lock(&r->lock);
	rc = load(r, z, service ? s : NULL, &cur);
	pthread_mutex_unlock(&r->lock);
	if (rc != 0) {
		return fail(err, rc, 500, NULL, "cannot read the registry");
	}
	json_t *services = json_object();
	for (size_t i = 0; services != NULL && i < cur.count; i++) {
		json_t *list = json_object_get(services, cur.v[i].service);
		if (list == NULL) {
			list = json_array();
			json_object_set_new(services, cur.v[i].service, list);
		}
		json_array_append_new(list, listing_of(&cur.v[i]));
	}
	free(cur.v);
	*out = services ? json_pack("{s:s, s:o}", "zone", z, "services", services) : NULL;
	return *out ? 0 : fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
}

/* Zones that hold expired instances, each once. */
typedef struct zones {
	char (*v)[256];
	size_t count, alloc;
} zones_t;

static int expired_cb(void *ctx, const store_instance_t *row)
{
	zones_t *z = ctx;
	if (z->count > 0 && strcmp(z->v[z->count - 1], row->zone) == 0) {
		return 0; /* rows come ordered by zone */
	}
	if (z->count == z->alloc) {
		size_t alloc = z->alloc ? z->alloc * 2 : 4;
		char (*grown)[256] = realloc(z->v, alloc * sizeof(*grown));
		if (grown == NULL) {
			return CIRRUS_ENOMEM;
		}
		z->v = grown;
		z->alloc = alloc;
	}
	snprintf(z->v[z->count++], 256, "%s", row->zone);
	return 0;
}

static bool is_expired(const registry_instance_t *in, void *ctx)
{
	return in->expires_us <= *(const int64_t *)ctx;
}

int registry_sweep(registry_t *r)
{
	int64_t now = now_us();
	zones_t zones = { 0 };
	pthread_mutex_lock(&r->lock);
	store_t *st = ctl_store_lock(r->ctl);
	int rc = store_instance_expired(st, now, expired_cb, &zones);
	ctl_store_unlock(r->ctl);
	int total = 0;
	const ctl_actor_t who = { .actor = "lease", .request_id = "lease-sweep" };
	for (size_t i = 0; rc == 0 && i < zones.count; i++) {
		ctl_error_t err = { 0 };
		size_t removed = 0;
		int z = remove_instances(r, zones.v[i], is_expired, &now, &who, &removed, &err);
		if (z != 0) { /* the next sweep tries again */
			log_warning("registry: %s: expired instances not removed: %s", zones.v[i],
			            err.message);
		} else {
			log_info("registry: %s: %zu expired instance(s) removed", zones.v[i], removed);
			total += (int)removed;
		}
	}
	pthread_mutex_unlock(&r->lock);
	free(zones.v);
	return rc != 0 ? rc : total;
}

static void *sweeper(void *arg)
{
	registry_t *r = arg;
	pthread_mutex_lock(&r->wake_lock);
	while (!r->stop) { /* ends when registry_free sets stop */
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)(r->sweep_ms % 1000) * 1000000;
		until.tv_sec += r->sweep_ms / 1000 + until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		int w = 0;
		while (!r->stop && w != ETIMEDOUT) {
			w = pthread_cond_timedwait(&r->wake, &r->wake_lock, &until);
		}
		if (r->stop) {
			break;
		}
		pthread_mutex_unlock(&r->wake_lock);
		registry_sweep(r);
		pthread_mutex_lock(&r->wake_lock);
	}
	pthread_mutex_unlock(&r->wake_lock);
	return NULL;
}

typedef struct served {
	const registry_rrset_t *want;
	bool same;
} served_t;

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether the zone's RRset (from ctl_rrsets_list) is the one wanted. */
static int served_cb(void *ctx, const ctl_rrset_info_t *rs)
{
	served_t *s = ctx;
	if (rs->ttl != s->want->ttl || rs->record_count != s->want->count) {
		return 0;
	}
	const char **sorted = malloc(rs->record_count * sizeof(*sorted) + 1);
	if (sorted == NULL) {
		return 0;
	}
	memcpy(sorted, rs->records, rs->record_count * sizeof(*sorted));
	qsort(sorted, rs->record_count, sizeof(*sorted), str_cmp);
	s->same = true;
	for (size_t i = 0; i < rs->record_count; i++) {
		s->same = s->same && strcmp(sorted[i], s->want->records[i]) == 0;
	}
	free(sorted);
	return 0;
}

/* Zones with instances, each once. */
static int zone_cb(void *ctx, const store_instance_t *row)
{
	return expired_cb(ctx, row);
}

/* Make one zone's registry RRsets those of its instances, replacing only
 * those that differ (so a clean start changes nothing). */
static int reconcile_zone(registry_t *r, const char *zone)
{
	ivec_t cur;
	registry_rrsets_t want;
	int rc = load(r, zone, NULL, &cur);
	if (rc != 0) {
		return rc;
	}
	rc = registry_records(zone, cur.v, cur.count, &want);
	free(cur.v);
	if (rc != 0) {
		return rc;
	}
	ctl_change_t *changes = malloc((want.count ? want.count : 1) * sizeof(*changes));
	size_t n = 0;
	for (size_t k = 0; changes != NULL && k < want.count; k++) {
		served_t s = { .want = &want.v[k] };
		ctl_rrsets_list(r->ctl, zone, want.v[k].name, want.v[k].type, served_cb, &s);
		if (!s.same) {
			changes[n++] = (ctl_change_t){ .op = CTL_CHANGE_REPLACE,
			                               .name = want.v[k].name, .type = want.v[k].type,
			                               .ttl = want.v[k].ttl,
			                               .records = (const char *const *)want.v[k].records,
			                               .record_count = want.v[k].count };
		}
	}
	const ctl_actor_t who = { .actor = "registry", .request_id = "reconcile" };
	ctl_error_t err = { 0 };
	int p = n > 0 ? ctl_rrsets_patch(r->ctl, zone, changes, n, &who, &err) : 0;
	if (p != 0) { /* a zone deleted or conflicting: the sweeper or the owner sees to it */
		log_warning("registry: %s: cannot restore the service records: %s", zone,
		            err.message);
	} else if (n > 0) {
		log_info("registry: %s: restored %zu service RRset(s)", zone, n);
	}
	rc = changes == NULL ? CIRRUS_ENOMEM : 0;
	free(changes);
	registry_rrsets_free(&want);
	return rc;
}

/* Repair a crash between the two commits of a registration. */
static int reconcile(registry_t *r)
{
	zones_t zones = { 0 };
	store_t *st = ctl_store_lock(r->ctl);
	int rc = store_instance_list(st, NULL, NULL, zone_cb, &zones);
	ctl_store_unlock(r->ctl);
	for (size_t i = 0; rc == 0 && i < zones.count; i++) {
		rc = reconcile_zone(r, zones.v[i]);
	}
	free(zones.v);
	return rc;
}

int registry_new(ctl_t *ctl, unsigned sweep_ms, registry_t **out)
{
	registry_t *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return CIRRUS_ENOMEM;
	}
	r->ctl = ctl;
	r->sweep_ms = sweep_ms ? sweep_ms : SWEEP_MS_DEFAULT;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->wake_lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &attr);
	pthread_condattr_destroy(&attr);
	int rc = reconcile(r);
	if (rc == 0) {
		rc = pthread_create(&r->thread, NULL, sweeper, r) == 0 ? 0 : CIRRUS_ENOMEM;
		r->started = rc == 0;
	}
	if (rc != 0) {
		registry_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void registry_free(registry_t *r)
{
	if (r == NULL) {
		return;
	}
	if (r->started) {
		pthread_mutex_lock(&r->wake_lock);
		r->stop = true;
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->wake_lock);
		pthread_join(r->thread, NULL);
	}
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->wake_lock);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
