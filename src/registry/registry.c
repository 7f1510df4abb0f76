/* SPDX-License-Identifier: Apache-2.0
 * registry.c -- the running registry: registrations, heartbeats and
 * deregistrations from the API, and the sweeper thread (lease ends, stored
 * heartbeats, instance health). The instances live in memory, read from
 * the store at start and changed under one mutex together with the store,
 * so the "before" records of a change are the ones the zone holds. Each
 * service keeps the RRsets it put in the zone: a change recomputes the
 * records of the services it touches only, plus the zone's DNS-SD browse
 * PTR (shared by all services), and patches what differs in one ctl
 * transaction, record by record where an RRset only gains or loses
 * records (so a change costs the instance, not the service).
 *
 * The instances table's rows go in that same store transaction (a ctl
 * store hook): the row and the records commit together or not at all.
 * registry_new() still reconciles the records with the rows on start, for
 * stores written before that. A heartbeat moves the lease end in memory;
 * the sweeper stores every lease end that moved in one transaction per
 * sweep.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry/registry.h"
#include "util/error.h"
#include "util/log.h"
#include "util/grow.h"

/* Each sweep stores the lease ends heartbeats moved since the last one,
 * holding the registry's and the store's locks while it does: every 50 ms
 * that is about 25 rows at 500 heartbeats a second (a registration waits
 * for at most that), and an ended lease leaves the answers within 60 ms.
 * At 200 ms the churn benchmark's registration-to-answer p99 was 7.61 ms
 * against 6.20 ms (801 samples each, alternated runs). */
#define SWEEP_MS_DEFAULT 50
/* Lease ends are synced to the disk at least this often (flush_leases). */
#define LEASE_SYNC_US 1000000

/* One service of a zone: its instances (by id) and the RRsets it serves. */
typedef struct svc {
	char name[REGISTRY_LABEL_SIZE];
	registry_instance_t *v;
	size_t count, alloc;
	registry_rrsets_t served;   /*!< of its instances that are not down */
} svc_t;

/* One zone with services (by name). */
typedef struct zstate {
	char name[256];
	svc_t *svcs;
	size_t count, alloc;
} zstate_t;

struct registry {
	ctl_t *ctl;
	health_t *health;
	unsigned answer_max;
	registry_publish_cb_t publish;
	void *publish_ctx;
	pthread_mutex_t lock;      /*!< everything below, one registry change at a time */
	zstate_t *zones;
	size_t zone_count, zone_alloc;
	size_t checked;            /*!< instances with a health check */
	int64_t leases_synced_us;  /*!< when lease ends last went to the disk */
	bool unsynced;             /*!< committed lazily; unlock_synced() syncs */
	char **view_names;         /*!< names of the last published view, sorted */
	size_t view_count;
	unsigned sweep_ms;
	pthread_t thread;
	bool started;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	bool stop;
};

/* A service's instances as a change would leave them. */
typedef struct stage {
	size_t svc;                /*!< index in the zone */
	registry_instance_t *v;    /*!< owned */
	size_t count;
	registry_rrsets_t served;
} stage_t;

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

/*
 * The in-memory registry. Arrays are reallocated as they grow: hold
 * indexes, not pointers, across calls that add.
 */

static ssize_t zst_find(const registry_t *r, const char *zone)
{
	for (size_t i = 0; i < r->zone_count; i++) {
		if (strcmp(r->zones[i].name, zone) == 0) {
			return (ssize_t)i;
		}
	}
	return -1;
}

static ssize_t zst_get(registry_t *r, const char *zone)
{
	ssize_t at = zst_find(r, zone);
	if (at >= 0) {
		return at;
	}
	zstate_t *grown = grow_one(r->zones, r->zone_count, &r->zone_alloc, sizeof(*grown), 4);
	if (grown == NULL) {
		return -1;
	}
	r->zones = grown;
	zstate_t *z = &r->zones[r->zone_count];
	memset(z, 0, sizeof(*z));
	snprintf(z->name, sizeof(z->name), "%s", zone);
	return (ssize_t)r->zone_count++;
}

/* Index of key in an array sorted by the string at offset key_at of each
 * element, or where it would go (*found false). */
static size_t sorted_find(const void *base, size_t count, size_t size, size_t key_at,
                          const char *key, bool *found)
{
	size_t lo = 0, hi = count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp((const char *)base + mid * size + key_at, key);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	*found = false;
	return lo;
}

/* Index of service name in z, or where it would go (*found false). */
static size_t svc_find(const zstate_t *z, const char *name, bool *found)
{
	return sorted_find(z->svcs, z->count, sizeof(*z->svcs), offsetof(svc_t, name), name,
	                   found);
}

static ssize_t svc_get(zstate_t *z, const char *name)
{
	bool found;
	size_t at = svc_find(z, name, &found);
	if (found) {
		return (ssize_t)at;
	}
	svc_t *grown = grow_one(z->svcs, z->count, &z->alloc, sizeof(*grown), 8);
	if (grown == NULL) {
		return -1;
	}
	z->svcs = grown;
	memmove(&z->svcs[at + 1], &z->svcs[at], (z->count - at) * sizeof(*z->svcs));
	memset(&z->svcs[at], 0, sizeof(*z->svcs));
	snprintf(z->svcs[at].name, sizeof(z->svcs[at].name), "%s", name);
	z->count++;
	return (ssize_t)at;
}

/* Index of instance id in s, or where it would go (*found false). */
static size_t inst_find(const registry_instance_t *v, size_t count, const char *id,
                        bool *found)
{
	return sorted_find(v, count, sizeof(*v), offsetof(registry_instance_t, id), id, found);
}

/* Append to a service as read from the store (rows come sorted by id). */
static int svc_push(svc_t *s, const registry_instance_t *in)
{
	registry_instance_t *grown = grow_one(s->v, s->count, &s->alloc, sizeof(*grown), 8);
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	s->v = grown;
	s->v[s->count++] = *in;
	return 0;
}

static void svc_deinit(svc_t *s)
{
	free(s->v);
	registry_rrsets_free(&s->served);
}

/* A copy of the service's instances, room for one more. */
static int stage_copy(const zstate_t *z, size_t svc, stage_t *st)
{
	const svc_t *s = &z->svcs[svc];
	memset(st, 0, sizeof(*st));
	st->svc = svc;
	st->v = malloc((s->count + 1) * sizeof(*st->v));
	if (st->v == NULL) {
		return CIRRUS_ENOMEM;
	}
	if (s->count > 0) {
		memcpy(st->v, s->v, s->count * sizeof(*st->v));
	}
	st->count = s->count;
	return 0;
}

static void stages_free(stage_t *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(st[i].v);
		registry_rrsets_free(&st[i].served);
	}
}

/*
 * Changes: the records of the staged services, the browse PTR, one patch.
 */

static void browse_name(const char *zone, char out[320])
{
	snprintf(out, 320, "_services._dns-sd._udp.%s", zone);
}

static bool is_browse(const registry_rrset_t *rs, const char *browse)
{
	return strcmp(rs->type, "PTR") == 0 && strcmp(rs->name, browse) == 0;
}

/* The RRsets of set but the browse PTR, shallow (records shared). */
static int without_browse(const registry_rrsets_t *set, const char *browse,
                          registry_rrsets_t *out)
{
	memset(out, 0, sizeof(*out));
	out->v = malloc((set->count ? set->count : 1) * sizeof(*out->v));
	if (out->v == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < set->count; i++) {
		if (!is_browse(&set->v[i], browse)) {
			out->v[out->count++] = set->v[i];
		}
	}
	return 0;
}

static const registry_rrset_t *find_browse(const registry_rrsets_t *set, const char *browse)
{
	for (size_t i = 0; i < set->count; i++) {
		if (is_browse(&set->v[i], browse)) {
			return &set->v[i];
		}
	}
	return NULL;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The zone's browse PTR: every service's own, merged (TTL: the smallest).
 * records point into the services' RRsets; count 0 when there is none. */
typedef struct browse {
	const char **records;
	size_t count;
	uint32_t ttl;
} browse_t;

static int browse_merge(const zstate_t *z, const stage_t *st, size_t n, const char *name,
                        browse_t *out)
{
	memset(out, 0, sizeof(*out));
	size_t total = 0;
	const registry_rrset_t **parts = calloc(z->count ? z->count : 1, sizeof(*parts));
	if (parts == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < z->count; i++) {
		const registry_rrsets_t *set = &z->svcs[i].served;
		for (size_t k = 0; st != NULL && k < n; k++) {
			set = st[k].svc == i ? &st[k].served : set;
		}
		parts[i] = find_browse(set, name);
		total += parts[i] ? parts[i]->count : 0;
	}
	out->records = malloc((total ? total : 1) * sizeof(char *));
	if (out->records == NULL) {
		free(parts);
		return CIRRUS_ENOMEM;
	}
	out->ttl = UINT32_MAX;
	for (size_t i = 0; i < z->count; i++) {
		for (size_t k = 0; parts[i] != NULL && k < parts[i]->count; k++) {
			out->records[out->count++] = parts[i]->records[k];
		}
		if (parts[i] != NULL && parts[i]->ttl < out->ttl) {
			out->ttl = parts[i]->ttl;
		}
	}
	free(parts);
	qsort(out->records, out->count, sizeof(char *), str_cmp);
	size_t kept = 0;
	for (size_t i = 0; i < out->count; i++) {
		if (kept == 0 || strcmp(out->records[kept - 1], out->records[i]) != 0) {
			out->records[kept++] = out->records[i];
		}
	}
	out->count = kept;
	return 0;
}

static bool browse_same(const browse_t *a, const browse_t *b)
{
	if (a->count != b->count || (a->count > 0 && a->ttl != b->ttl)) {
		return false;
	}
	for (size_t i = 0; i < a->count; i++) {
		if (strcmp(a->records[i], b->records[i]) != 0) {
			return false;
		}
	}
	return true;
}

/* Append src to the growing array *dst. */
static int changes_add(ctl_change_t **dst, size_t *count, const ctl_change_t *src, size_t n)
{
	if (n == 0) {
		return 0;
	}
	ctl_change_t *grown = realloc(*dst, (*count + n) * sizeof(*grown));
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	memcpy(grown + *count, src, n * sizeof(*grown));
	*dst = grown;
	*count += n;
	return 0;
}

/* The ctl changes from the zone's records to those of the staged services.
 * They point into shallow (2 per stage, free their v), diffs (1 per stage,
 * free each) and the browses. */
static int stage_changes(const zstate_t *z, const stage_t *st, size_t n, const char *browse,
                         registry_rrsets_t *shallow, ctl_change_t **diffs, browse_t *before,
                         browse_t *after, ctl_change_t **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < n; k++) {
		registry_rrsets_t *a = &shallow[2 * k], *b = &shallow[2 * k + 1];
		ctl_change_t *c = NULL;
		size_t m = 0;
		rc = without_browse(&z->svcs[st[k].svc].served, browse, a);
		if (rc == 0) {
			rc = without_browse(&st[k].served, browse, b);
		}
		if (rc == 0) {
			rc = registry_diff(a, b, &c, &m);
			diffs[k] = c;   /* holds the record lists of RECORDS changes */
			if (rc == 0) {
				rc = changes_add(out, count, c, m);
			}
		}
	}
	if (rc == 0) {
		rc = browse_merge(z, NULL, 0, browse, before);
	}
	if (rc == 0) {
		rc = browse_merge(z, st, n, browse, after);
	}
	if (rc == 0 && !browse_same(before, after)) {
		ctl_change_t c = { .op = after->count ? CTL_CHANGE_REPLACE : CTL_CHANGE_DELETE,
		                   .name = browse, .type = "PTR", .ttl = after->ttl,
		                   .records = after->records, .record_count = after->count };
		rc = changes_add(out, count, &c, 1);
	}
	return rc;
}

static int view_publish(registry_t *r);

/* Instance rows to put or delete together with a zone change. */
typedef struct rows {
	const char *zone;
	const registry_instance_t *const *in;
	size_t n;
	bool put;
} rows_t;

static int store_rows(registry_t *r, const rows_t *rows);
static int rows_write(void *ctx, store_t *st);

/* The bare tags of the served instances, sorted, each once; NULL when
 * out of memory. */
static const char **served_tags(const registry_instance_t *v, size_t n, size_t *count,
                                bool *any)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		total += v[i].tag_count;
	}
	const char **tags = malloc((total ? total : 1) * sizeof(*tags));
	*count = 0;
	*any = false;
	for (size_t i = 0; tags != NULL && i < n; i++) {
		*any = *any || !v[i].down;
		for (size_t t = 0; !v[i].down && t < v[i].tag_count; t++) {
			if (registry_label_ok(v[i].tags[t])) {
				tags[(*count)++] = v[i].tags[t];
			}
		}
	}
	if (tags != NULL && *count > 0) {
		qsort(tags, *count, sizeof(*tags), str_cmp);
	}
	size_t kept = 0;
	for (size_t i = 0; tags != NULL && i < *count; i++) {
		if (kept == 0 || strcmp(tags[kept - 1], tags[i]) != 0) {
			tags[kept++] = tags[i];
		}
	}
	*count = kept;
	return tags;
}

/* Whether a service's names in the view (SVC.Z when it serves anything,
 * TAG.SVC.Z per bare tag) are the same for both sets of instances: most
 * changes (an instance more or less) leave the view as it is. */
static bool view_same(const registry_instance_t *a, size_t na, const registry_instance_t *b,
                      size_t nb)
{
	size_t ca, cb;
	bool anya, anyb;
	const char **ta = served_tags(a, na, &ca, &anya);
	const char **tb = served_tags(b, nb, &cb, &anyb);
	bool same = ta != NULL && tb != NULL && anya == anyb && ca == cb;
	for (size_t i = 0; same && i < ca; i++) {
		same = strcmp(ta[i], tb[i]) == 0;
	}
	free(ta);
	free(tb);
	return same;
}

/* Release r->lock, then wait for the disk if a change committed under it
 * (ctl_rrsets_patch_with leaves that to us): outside the lock, so that
 * heartbeats and the next change need not wait for this one's fsync. */
static int unlock_synced(registry_t *r, int rc, ctl_error_t *err)
{
	bool due = r->unsynced;
	r->unsynced = false;
	pthread_mutex_unlock(&r->lock);
	return due ? ctl_sync(r->ctl, rc, err) : rc;
}

/* Release r->lock after a request's change: its caller syncs it before
 * acknowledging it (registry.h), off the thread if it likes (the API). */
static int unlock_unsynced(registry_t *r, int rc)
{
	r->unsynced = false;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* Make the staged services what the zone serves: one ctl patch (audited as
 * who) whose store transaction also writes rows (NULL: none), so both
 * commit or neither does; then the registry takes the stages over (even
 * when it fails with ENOENT or EEXIST and gone_ok: the zone is gone or no
 * longer a store zone, so there are no records to change). Rows with no
 * record to change go in a transaction of their own. On failure the stages
 * stay the caller's. */
static int apply(registry_t *r, size_t zi, stage_t *st, size_t n, const rows_t *rows,
                 const ctl_actor_t *who, bool gone_ok, ctl_error_t *err)
{
	zstate_t *z = &r->zones[zi];
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < n; k++) {
		rc = registry_records(z->name, st[k].v, st[k].count, &st[k].served);
	}
	if (rc != 0) {
		return fail(err, rc, rc == CIRRUS_EINVAL ? 400 : 500, NULL,
		            rc == CIRRUS_EINVAL ? "a service name is too long for the zone" :
		            "out of memory");
	}
	char browse[320];
	browse_name(z->name, browse);
	browse_t before = { 0 }, after = { 0 };
	ctl_change_t *changes = NULL;
	size_t count = 0;
	registry_rrsets_t *shallow = calloc(2 * n + 1, sizeof(*shallow));
	ctl_change_t **diffs = calloc(n + 1, sizeof(*diffs));
	rc = shallow == NULL || diffs == NULL ? CIRRUS_ENOMEM :
	     stage_changes(z, st, n, browse, shallow, diffs, &before, &after, &changes, &count);
	bool rows_done = rows == NULL;
	if (rc != 0) {
		fail(err, rc, 500, NULL, "out of memory");
	} else if (count > 0) {
		rc = ctl_rrsets_patch_with(r->ctl, z->name, changes, count,
		                           rows ? rows_write : NULL, (void *)rows, who, err);
		rows_done = rows_done || rc == 0;
		r->unsynced = r->unsynced || rc == 0;
		if (gone_ok && (rc == CIRRUS_ENOENT || rc == CIRRUS_EEXIST)) {
			rc = 0;
		}
	}
	if (rc == 0 && !rows_done && (rc = store_rows(r, rows)) != 0) {
		fail(err, rc, 500, NULL, "the store refused the instance");
	}
	free(changes);
	free(before.records);
	free(after.records);
	for (size_t k = 0; shallow != NULL && k < 2 * n; k++) {
		free(shallow[k].v);
	}
	for (size_t k = 0; diffs != NULL && k < n; k++) {
		free(diffs[k]);
	}
	free(shallow);
	free(diffs);
	if (rc != 0) {
		return rc;
	}
	bool names_same = true;
	for (size_t k = 0; names_same && k < n; k++) {
		const svc_t *s = &z->svcs[st[k].svc];
		names_same = view_same(s->v, s->count, st[k].v, st[k].count);
	}
	for (size_t k = 0; k < n; k++) {
		svc_t *s = &z->svcs[st[k].svc];
		svc_deinit(s);
		s->v = st[k].v;
		s->count = s->alloc = st[k].count;
		s->served = st[k].served;
		st[k].v = NULL;
		memset(&st[k].served, 0, sizeof(st[k].served));
	}
	if (!names_same) {
		view_publish(r);
	}
	return 0;
}

/*
 * The view the engine reads: the names of the services' A/AAAA answers.
 */

static int view_add(char ***v, size_t *n, size_t *alloc, const char *a, const char *b,
                    const char *zone)
{
	char **grown = grow_one(*v, *n, alloc, sizeof(*grown), 32);
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	*v = grown;
	char name[600];
	snprintf(name, sizeof(name), "%s%s%s.%s", a ? a : "", a ? "." : "", b, zone);
	if (((*v)[*n] = strdup(name)) == NULL) {
		return CIRRUS_ENOMEM;
	}
	(*n)++;
	return 0;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i]);
	}
	free(v);
}

/* SVC.Z of every service that serves an address, and TAG.SVC.Z of its
 * instances' bare tags: sorted, each once. */
static int view_names(const registry_t *r, char ***out, size_t *count)
{
	char **v = NULL;
	size_t n = 0, alloc = 0;
	int rc = 0;
	for (size_t zi = 0; rc == 0 && zi < r->zone_count; zi++) {
		const zstate_t *z = &r->zones[zi];
		for (size_t si = 0; rc == 0 && si < z->count; si++) {
			const svc_t *s = &z->svcs[si];
			bool any = false;
			for (size_t i = 0; rc == 0 && i < s->count; i++) {
				const registry_instance_t *in = &s->v[i];
				if (in->down) {
					continue;
				}
				any = true;
				for (size_t t = 0; rc == 0 && t < in->tag_count; t++) {
					if (registry_label_ok(in->tags[t])) {
						rc = view_add(&v, &n, &alloc, in->tags[t], s->name, z->name);
					}
				}
			}
			if (rc == 0 && any) {
				rc = view_add(&v, &n, &alloc, NULL, s->name, z->name);
			}
		}
	}
	if (rc != 0) {
		names_free(v, n);
		return rc;
	}
	if (n > 0) {
		qsort(v, n, sizeof(*v), str_cmp);
	}
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (kept > 0 && strcmp(v[kept - 1], v[i]) == 0) {
			free(v[i]);
		} else {
			v[kept++] = v[i];
		}
	}
	*out = v;
	*count = kept;
	return 0;
}

/* Publish a new view when its names changed (lock held). A failure keeps
 * the previous view: answers stay right, only maybe unshuffled. */
static int view_publish(registry_t *r)
{
	if (r->publish == NULL) {
		return 0;
	}
	char **names = NULL;
	size_t n = 0;
	int rc = view_names(r, &names, &n);
	if (rc != 0) {
		log_warning("registry: out of memory; service answers keep the previous view");
		return rc;
	}
	bool same = n == r->view_count && r->view_names != NULL;
	for (size_t i = 0; same && i < n; i++) {
		same = strcmp(names[i], r->view_names[i]) == 0;
	}
	if (same) {
		names_free(names, n);
		return 0;
	}
	registry_view_t *view = NULL;
	rc = registry_view_new((const char *const *)names, n, r->answer_max, &view);
	if (rc != 0) {
		log_warning("registry: cannot build the answer view (%s)", cirrus_strerror(rc));
		names_free(names, n);
		return rc;
	}
	r->publish(r->publish_ctx, view);
	names_free(r->view_names, r->view_count);
	r->view_names = names;
	r->view_count = n;
	return 0;
}

/*
 * The store: rows in and out.
 */

/* Put or delete rows in the open store transaction (a ctl store hook). */
static int rows_write(void *ctx, store_t *st)
{
	const rows_t *rows = ctx;
	store_instance_t *row = calloc(1, sizeof(*row));
	int rc = row == NULL ? CIRRUS_ENOMEM : 0;
	for (size_t i = 0; rc == 0 && i < rows->n; i++) {
		const registry_instance_t *in = rows->in[i];
		if (!rows->put) {
			rc = store_instance_delete(st, rows->zone, in->service, in->id);
			rc = rc == CIRRUS_ENOENT ? 0 : rc;
			continue;
		}
		json_t *data = registry_instance_json(in);
		char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
		json_decref(data);
		rc = text == NULL ? CIRRUS_ENOMEM : strlen(text) >= sizeof(row->data) ?
		     CIRRUS_EINVAL : 0;
		if (rc == 0) {
			memset(row, 0, sizeof(*row));
			snprintf(row->zone, sizeof(row->zone), "%s", rows->zone);
			snprintf(row->service, sizeof(row->service), "%s", in->service);
			snprintf(row->instance, sizeof(row->instance), "%s", in->id);
			snprintf(row->data, sizeof(row->data), "%s", text);
			row->expires_us = in->expires_us;
			rc = store_instance_put(st, row);
		}
		free(text);
	}
	free(row);
	return rc;
}

/* Put or delete rows in one transaction of their own. */
static int store_rows(registry_t *r, const rows_t *rows)
{
	store_t *st = ctl_store_lock(r->ctl);
	int rc = store_begin(st);
	rc = rc == 0 ? rows_write((void *)rows, st) : rc;
	if (rc == 0) {
		rc = store_commit(st);
	} else {
		store_rollback(st);
	}
	if (rc != 0) {
		log_warning("registry: %s: store: %s", rows->zone, store_last_error(st));
	}
	ctl_store_unlock(r->ctl);
	return rc;
}

/* A stored row to an instance; a row that no longer parses is skipped
 * with a warning rather than blocking its whole zone. */
static int row_instance(const store_instance_t *row, registry_instance_t *in)
{
	char field[64], why[256];
	json_t *data = json_loads(row->data, 0, NULL);
	memset(in, 0, sizeof(*in));
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
	in->health = HEALTH_UNKNOWN;
	return 0;
}

static int load_cb(void *ctx, const store_instance_t *row)
{
	registry_t *r = ctx;
	registry_instance_t *in = malloc(sizeof(*in));
	if (in == NULL) {
		return CIRRUS_ENOMEM;
	}
	int rc = 0;
	if (row_instance(row, in) == 0) {
		ssize_t zi = zst_get(r, row->zone);
		ssize_t si = zi >= 0 ? svc_get(&r->zones[zi], row->service) : -1;
		rc = si < 0 ? CIRRUS_ENOMEM : svc_push(&r->zones[zi].svcs[si], in);
		r->checked += rc == 0 && in->check[0] != '\0';
	}
	free(in);
	return rc;
}

/*
 * Instance health checks (run by the checker, health_watch_add).
 */

static void watch_add(registry_t *r, const char *zone, const registry_instance_t *in)
{
	char key[128], why[256];
	health_spec_t spec;
	if (r->health == NULL || in->check[0] == '\0' ||
	    registry_check_key(zone, in, key, sizeof(key)) != 0 ||
	    registry_check_spec(in, key, &spec, why, sizeof(why)) != 0) {
		return;
	}
	int rc = health_watch_add(r->health, &spec);
	if (rc != 0) {
		log_warning("registry: %s: cannot start its health check (%s); it counts as up",
		            key, cirrus_strerror(rc));
	}
}

static void watch_remove(registry_t *r, const char *zone, const registry_instance_t *in)
{
	char key[128];
	if (r->health != NULL && in->check[0] != '\0' &&
	    registry_check_key(zone, in, key, sizeof(key)) == 0) {
		health_watch_remove(r->health, key);
	}
}

/*
 * The API's requests.
 */

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

/* The instance as listed: the registration plus id, service, lease end
 * and health ("unchecked" without a check; else its check's state). */
static json_t *listing_of(const registry_instance_t *in)
{
	json_t *o = registry_instance_json(in);
	char expires[40];
	time_rfc3339(in->expires_us, expires);
	if (o != NULL) {
		json_object_set_new(o, "id", json_string(in->id));
		json_object_set_new(o, "service", json_string(in->service));
		json_object_set_new(o, "expires", json_string(expires));
		json_object_set_new(o, "health", json_string(in->check[0] == '\0' ? "unchecked" :
		                                             health_status_name(in->health)));
	}
	return o;
}

int registry_register(registry_t *r, const char *zone, const char *service,
                      const char *id, const json_t *body, const ctl_actor_t *who,
                      json_t **listing, ctl_error_t *err)
{
	char z[256], field[64], why[256], key[128];
	registry_instance_t *in = calloc(1, sizeof(*in));
	if (in == NULL) {
		return fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
	}
	int rc = path_names(zone, service, id, z, in->service, in->id, err);
	if (rc == 0 && registry_instance_parse(body, in, field, sizeof(field), why,
	                                       sizeof(why)) != 0) {
		rc = fail(err, CIRRUS_EINVAL, 400, field, why);
	}
	if (rc == 0 && in->check[0] != '\0' && r->health == NULL) {
		rc = fail(err, CIRRUS_EINVAL, 400, "check", "this server runs no health checker");
	}
	if (rc == 0 && in->check[0] != '\0' && registry_check_key(z, in, key, sizeof(key)) != 0) {
		rc = fail(err, CIRRUS_EINVAL, 400, "check", "the instance's name (svc@ID.SERVICE."
		          "ZONE) is longer than the 127 characters of a health key");
	}
	if (rc == 0) {
		rc = need_store_zone(r, z, err);
	}
	if (rc != 0) {
		free(in);
		return rc;
	}
	pthread_mutex_lock(&r->lock);
	ssize_t zi = zst_get(r, z);
	ssize_t si = zi >= 0 ? svc_get(&r->zones[zi], in->service) : -1;
	stage_t st = { 0 };
	rc = si < 0 ? CIRRUS_ENOMEM : stage_copy(&r->zones[zi], (size_t)si, &st);
	bool had = false;
	registry_instance_t old;
	if (rc == 0) {
		size_t at = inst_find(st.v, st.count, in->id, &had);
		in->expires_us = now_us() + (int64_t)in->lease * 1000000;
		in->health = HEALTH_UNKNOWN;
		if (had) {
			old = st.v[at];
			if (strcmp(old.check, in->check) == 0) { /* the same check goes on */
				in->down = old.down;
				in->health = old.health;
			}
			st.v[at] = *in;
		} else {
			memmove(&st.v[at + 1], &st.v[at], (st.count - at) * sizeof(*st.v));
			st.v[at] = *in;
			st.count++;
		}
	}
	const registry_instance_t *row = in;
	const rows_t rows = { .zone = z, .in = &row, .n = 1, .put = true };
	if (rc != 0) {
		fail(err, rc, 500, NULL, "out of memory");
	} else if ((rc = apply(r, (size_t)zi, &st, 1, &rows, who, false, err)) != 0) {
		/* nothing changed: the row and the records commit together */
	} else if (!had || strcmp(old.check, in->check) != 0) {
		if (had) {
			watch_remove(r, z, &old);
			r->checked -= old.check[0] != '\0';
		}
		watch_add(r, z, in);
		r->checked += in->check[0] != '\0';
	}
	stages_free(&st, 1);
	if (rc == 0 && listing != NULL) {
		*listing = listing_of(in);
	}
	rc = unlock_unsynced(r, rc);
	free(in);
	return rc;
}

/* The instance zone/service/id, or NULL (lock held). */
static registry_instance_t *lookup(registry_t *r, const char *zone, const char *service,
                                   const char *id)
{
	ssize_t zi = zst_find(r, zone);
	bool found = false;
	size_t si = zi >= 0 ? svc_find(&r->zones[zi], service, &found) : 0;
	if (!found) {
		return NULL;
	}
	svc_t *s = &r->zones[zi].svcs[si];
	size_t at = inst_find(s->v, s->count, id, &found);
	return found ? &s->v[at] : NULL;
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
	registry_instance_t *in = lookup(r, z, s, i);
	int64_t now = now_us();
	if (in == NULL || in->expires_us <= now) {
		/* an ended lease is not revived: the sweeper removes it within 1 s */
		rc = fail(err, CIRRUS_ENOENT, 404, NULL, in == NULL ? "no such instance" :
		          "the lease has ended; register the instance again");
	} else {
		in->expires_us = now + (int64_t)in->lease * 1000000;
		in->dirty = true;   /* stored by the next sweep */
		if (listing != NULL) {
			*listing = listing_of(in);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
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
	ssize_t zi = zst_find(r, z);
	bool found = false;
	size_t si = zi >= 0 ? svc_find(&r->zones[zi], s, &found) : 0;
	stage_t st = { 0 };
	size_t at = 0;
	if (found && (rc = stage_copy(&r->zones[zi], si, &st)) == 0) {
		at = inst_find(st.v, st.count, i, &found);
	}
	registry_instance_t gone;
	const registry_instance_t *row = &gone;
	const rows_t rows = { .zone = z, .in = &row, .n = 1, .put = false };
	if (rc != 0) {
		fail(err, rc, 500, NULL, "out of memory");
	} else if (!found) {
		rc = fail(err, CIRRUS_ENOENT, 404, NULL, "no such instance");
	} else {
		gone = st.v[at];
		memmove(&st.v[at], &st.v[at + 1], (st.count - at - 1) * sizeof(*st.v));
		st.count--;
		rc = apply(r, (size_t)zi, &st, 1, &rows, who, true, err);
	}
	if (rc == 0) {
		watch_remove(r, z, &gone);
		r->checked -= gone.check[0] != '\0';
	}
	stages_free(&st, 1);
	return unlock_unsynced(r, rc);
}

int registry_list(registry_t *r, const char *zone, const char *service, json_t **out,
                  ctl_error_t *err)
{
	char z[256], s[REGISTRY_LABEL_SIZE];
	int rc = path_names(zone, service, NULL, z, s, NULL, err);
	if (rc != 0) {
		return rc;
	}
	json_t *services = json_object();
	pthread_mutex_lock(&r->lock);
	ssize_t zi = zst_find(r, z);
	for (size_t si = 0; services != NULL && zi >= 0 && si < r->zones[zi].count; si++) {
		const svc_t *sv = &r->zones[zi].svcs[si];
		if (sv->count == 0 || (service != NULL && strcmp(sv->name, s) != 0)) {
			continue;
		}
		json_t *list = json_array();
		for (size_t i = 0; list != NULL && i < sv->count; i++) {
			json_array_append_new(list, listing_of(&sv->v[i]));
		}
		json_object_set_new(services, sv->name, list);
	}
	pthread_mutex_unlock(&r->lock);
	*out = services ? json_pack("{s:s, s:o}", "zone", z, "services", services) : NULL;
	return *out ? 0 : fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
}

/*
 * The sweeper: lease ends, stored heartbeats, health.
 */

/* Apply the services whose staged instances differ from the zone's: what
 * keep says stays, per instance. Returns the instances dropped. */
typedef bool (*keep_fn)(registry_t *r, const char *zone, registry_instance_t *in,
                        void *ctx, bool *changed);

static size_t sweep_zone(registry_t *r, size_t zi, keep_fn keep, void *ctx,
                         const ctl_actor_t *who)
{
	zstate_t *z = &r->zones[zi];
	stage_t *st = calloc(z->count ? z->count : 1, sizeof(*st));
	size_t n = 0, dropped = 0, removed = 0;
	int rc = st == NULL ? CIRRUS_ENOMEM : 0;
	for (size_t si = 0; rc == 0 && si < z->count; si++) {
		if ((rc = stage_copy(z, si, &st[n])) != 0) {
			break;
		}
		size_t kept = 0;
		bool changed = false;
		for (size_t i = 0; i < st[n].count; i++) {
			registry_instance_t *in = &st[n].v[i];
			if (keep(r, z->name, in, ctx, &changed)) {
				st[n].v[kept++] = *in;
			}
		}
		dropped += st[n].count - kept;
		changed = changed || kept != st[n].count;
		st[n].count = kept;
		if (changed) {
			n++;
		} else {
			stages_free(&st[n], 1);
		}
	}
	/* copies of the dropped instances, for their rows and checks: apply
	 * frees the services' arrays */
	registry_instance_t *gone = rc == 0 && dropped ? malloc(dropped * sizeof(*gone)) : NULL;
	size_t c = 0;
	for (size_t k = 0; gone != NULL && k < n; k++) {
		const svc_t *s = &z->svcs[st[k].svc];
		for (size_t i = 0; i < s->count && c < dropped; i++) {
			bool found;
			inst_find(st[k].v, st[k].count, s->v[i].id, &found);
			if (!found) {
				gone[c++] = s->v[i];
			}
		}
	}
	const registry_instance_t **ptrs = c > 0 ? malloc(c * sizeof(*ptrs)) : NULL;
	for (size_t i = 0; ptrs != NULL && i < c; i++) {
		ptrs[i] = &gone[i];
	}
	const rows_t rows = { .zone = z->name, .in = ptrs, .n = c, .put = false };
	ctl_error_t err = { 0 };
	if (rc != 0 || n == 0 || (dropped > 0 && ptrs == NULL)) {
		/* nothing to do, or out of memory: the next sweep tries again */
	} else if (apply(r, zi, st, n, c > 0 ? &rows : NULL, who, true, &err) != 0) {
		log_warning("registry: %s: %s: %s (the next sweep tries again)", z->name,
		            who->actor, err.message);
	} else if (c > 0) {
		for (size_t i = 0; i < c; i++) {
			watch_remove(r, z->name, &gone[i]);
			r->checked -= gone[i].check[0] != '\0';
		}
		removed = c;
		log_info("registry: %s: %zu expired instance(s) removed", z->name, c);
	}
	free(ptrs);
	free(gone);
	if (st != NULL) {
		stages_free(st, n);
	}
	free(st);
	return removed;
}

static bool keep_unexpired(registry_t *r, const char *zone, registry_instance_t *in,
                           void *ctx, bool *changed)
{
	(void)r, (void)zone, (void)changed;
	return in->expires_us > *(const int64_t *)ctx;
}

/* Whether any instance of the zone's lease ended. */
static bool zone_has_expired(const zstate_t *z, int64_t now)
{
	for (size_t si = 0; si < z->count; si++) {
		for (size_t i = 0; i < z->svcs[si].count; i++) {
			if (z->svcs[si].v[i].expires_us <= now) {
				return true;
			}
		}
	}
	return false;
}

/* Store the lease ends heartbeats moved since the last sweep: one
 * transaction. A failure leaves them to the next sweep. The commit does
 * not wait for the disk (the locks are held, and changes queue behind
 * them); every LEASE_SYNC_US a sweep, with or without lease ends of its
 * own, has registry_sweep sync once it has released the locks (the store
 * makes no fsync when no lazy commit waits for one). A crash of the server
 * loses nothing, one of the machine at most LEASE_SYNC_US (and a sweep)
 * of lease ends. */
static void flush_leases(registry_t *r)
{
	store_t *st = NULL;
	int rc = 0;
	size_t n = 0;
	for (size_t zi = 0; rc == 0 && zi < r->zone_count; zi++) {
		zstate_t *z = &r->zones[zi];
		for (size_t si = 0; rc == 0 && si < z->count; si++) {
			svc_t *s = &z->svcs[si];
			for (size_t i = 0; rc == 0 && i < s->count; i++) {
				if (!s->v[i].dirty) {
					continue;
				}
				if (st == NULL) {
					st = ctl_store_lock(r->ctl);
					rc = store_begin_lazy(st);
				}
				int w = rc == 0 ? store_instance_renew(st, z->name, s->name, s->v[i].id,
				                                       s->v[i].expires_us) : rc;
				rc = w == CIRRUS_ENOENT ? 0 : w;
				n++;
			}
		}
	}
	if (st != NULL) {
		rc = rc == 0 ? store_commit(st) : rc;
		if (rc != 0) {
			store_rollback(st);
			log_warning("registry: %zu heartbeat(s) not stored: %s; the next sweep tries "
			            "again", n, store_last_error(st));
		}
		ctl_store_unlock(r->ctl);
	}
	for (size_t zi = 0; st != NULL && rc == 0 && zi < r->zone_count; zi++) {
		for (size_t si = 0; si < r->zones[zi].count; si++) {
			for (size_t i = 0; i < r->zones[zi].svcs[si].count; i++) {
				r->zones[zi].svcs[si].v[i].dirty = false;
			}
		}
	}
	if (now_us() - r->leases_synced_us >= LEASE_SYNC_US) {
		r->unsynced = true;
		r->leases_synced_us = now_us();
	}
}

/* The checker's state of each instance check, by health key. */
typedef struct hstate {
	char key[128];
	health_status_t state;
} hstate_t;

typedef struct hstates {
	hstate_t *v;
	size_t count, alloc;
} hstates_t;

static int hstate_cb(void *ctx, const health_key_t *k)
{
	hstates_t *hs = ctx;
	if (strncmp(k->name, REGISTRY_HEALTH_PREFIX, strlen(REGISTRY_HEALTH_PREFIX)) != 0 ||
	    strlen(k->name) >= sizeof(hs->v[0].key)) {
		return 0;
	}
	hstate_t *grown = grow_one(hs->v, hs->count, &hs->alloc, sizeof(*grown), 64);
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	hs->v = grown;
	hstate_t *h = &hs->v[hs->count++];
	snprintf(h->key, sizeof(h->key), "%s", k->name);
	h->state = k->state;
	return 0;
}

static int hstate_cmp(const void *a, const void *b)
{
	return strcmp(((const hstate_t *)a)->key, ((const hstate_t *)b)->key);
}

/* Take the checker's states; an instance whose check says down leaves the
 * records (changed), and comes back when it is up again. */
static bool keep_follow_health(registry_t *r, const char *zone, registry_instance_t *in,
                               void *ctx, bool *changed)
{
	(void)r;
	const hstates_t *hs = ctx;
	hstate_t want;
	if (in->check[0] == '\0' || registry_check_key(zone, in, want.key, sizeof(want.key)) != 0) {
		return true;
	}
	const hstate_t *h = bsearch(&want, hs->v, hs->count, sizeof(*hs->v), hstate_cmp);
	if (h == NULL) {
		return true;
	}
	in->health = h->state;
	bool down = h->state == HEALTH_DOWN;
	*changed = *changed || down != in->down;
	in->down = down;
	return true;
}

static void follow_health(registry_t *r)
{
	if (r->health == NULL || r->checked == 0) {
		return;
	}
	hstates_t hs = { 0 };
	if (health_list(r->health, hstate_cb, &hs) != 0) {
		free(hs.v);
		return;
	}
	qsort(hs.v, hs.count, sizeof(*hs.v), hstate_cmp);
	const ctl_actor_t who = { .actor = "health", .request_id = "instance-check" };
	for (size_t zi = 0; zi < r->zone_count; zi++) {
		sweep_zone(r, zi, keep_follow_health, &hs, &who);
	}
	/* The states of instances whose down flag did not move (unknown -> up)
	 * are not staged: take them too, for the listing. */
	for (size_t zi = 0; zi < r->zone_count; zi++) {
		zstate_t *z = &r->zones[zi];
		for (size_t si = 0; si < z->count; si++) {
			for (size_t i = 0; i < z->svcs[si].count; i++) {
				registry_instance_t *in = &z->svcs[si].v[i];
				hstate_t want;
				if (in->check[0] == '\0' ||
				    registry_check_key(z->name, in, want.key, sizeof(want.key)) != 0) {
					continue;
				}
				const hstate_t *h = bsearch(&want, hs.v, hs.count, sizeof(*hs.v),
				                            hstate_cmp);
				if (h != NULL && (h->state == HEALTH_DOWN) == in->down) {
					in->health = h->state;
				}
			}
		}
	}
	free(hs.v);
}

int registry_sweep(registry_t *r)
{
	int64_t now = now_us();
	const ctl_actor_t who = { .actor = "lease", .request_id = "lease-sweep" };
	int total = 0;
	pthread_mutex_lock(&r->lock);
	for (size_t zi = 0; zi < r->zone_count; zi++) {
		if (zone_has_expired(&r->zones[zi], now)) {
			total += (int)sweep_zone(r, zi, keep_unexpired, &now, &who);
		}
	}
	flush_leases(r);
	follow_health(r);
	ctl_error_t err = { 0 };
	unlock_synced(r, 0, &err);  /* logged */
	return total;
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

/*
 * Start: load, reconcile, checks, view.
 */

typedef struct served {
	const registry_rrset_t *want;
	bool same;
} served_t;

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

/* Make one zone's registry RRsets those of its instances, replacing only
 * those that differ (so a clean start changes nothing), and note what each
 * service serves. */
static int reconcile_zone(registry_t *r, zstate_t *z)
{
	size_t total = 0;
	for (size_t si = 0; si < z->count; si++) {
		total += z->svcs[si].count;
	}
	registry_instance_t *all = malloc((total ? total : 1) * sizeof(*all));
	if (all == NULL) {
		return CIRRUS_ENOMEM;
	}
	size_t n = 0;
	int rc = 0;
	for (size_t si = 0; rc == 0 && si < z->count; si++) {
		memcpy(all + n, z->svcs[si].v, z->svcs[si].count * sizeof(*all));
		n += z->svcs[si].count;
		rc = registry_records(z->name, z->svcs[si].v, z->svcs[si].count,
		                      &z->svcs[si].served);
	}
	registry_rrsets_t want = { 0 };
	rc = rc == 0 ? registry_records(z->name, all, n, &want) : rc;
	free(all);
	if (rc != 0) {
		return rc;
	}
	ctl_change_t *changes = malloc((want.count ? want.count : 1) * sizeof(*changes));
	size_t count = 0;
	for (size_t k = 0; changes != NULL && k < want.count; k++) {
		served_t s = { .want = &want.v[k] };
		ctl_rrsets_list(r->ctl, z->name, want.v[k].name, want.v[k].type, served_cb, &s);
		if (!s.same) {
			changes[count++] = (ctl_change_t){
				.op = CTL_CHANGE_REPLACE, .name = want.v[k].name, .type = want.v[k].type,
				.ttl = want.v[k].ttl, .records = (const char *const *)want.v[k].records,
				.record_count = want.v[k].count };
		}
	}
	const ctl_actor_t who = { .actor = "registry", .request_id = "reconcile" };
	ctl_error_t err = { 0 };
	int p = count > 0 ? ctl_rrsets_patch(r->ctl, z->name, changes, count, &who, &err) : 0;
	if (p != 0) { /* a zone deleted or conflicting: the sweeper or the owner sees to it */
		log_warning("registry: %s: cannot restore the service records: %s", z->name,
		            err.message);
	} else if (count > 0) {
		log_info("registry: %s: restored %zu service RRset(s)", z->name, count);
	}
	rc = changes == NULL ? CIRRUS_ENOMEM : 0;
	free(changes);
	registry_rrsets_free(&want);
	return rc;
}

/* Every instance into memory; repair a crash between the two commits of a
 * registration; start the checks. */
static int registry_load(registry_t *r)
{
	store_t *st = ctl_store_lock(r->ctl);
	int rc = store_instance_list(st, NULL, NULL, load_cb, r);
	ctl_store_unlock(r->ctl);
	for (size_t zi = 0; rc == 0 && zi < r->zone_count; zi++) {
		rc = reconcile_zone(r, &r->zones[zi]);
	}
	for (size_t zi = 0; rc == 0 && zi < r->zone_count; zi++) {
		const zstate_t *z = &r->zones[zi];
		for (size_t si = 0; si < z->count; si++) {
			for (size_t i = 0; i < z->svcs[si].count; i++) {
				watch_add(r, z->name, &z->svcs[si].v[i]);
			}
		}
	}
	return rc;
}

int registry_new(ctl_t *ctl, const registry_conf_t *conf, registry_t **out)
{
	unsigned max = conf->answer_max ? conf->answer_max : REGISTRY_ANSWER_MAX_DEFAULT;
	if (max > REGISTRY_ANSWER_MAX_LIMIT) {
		return CIRRUS_EINVAL;
	}
	registry_t *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return CIRRUS_ENOMEM;
	}
	r->ctl = ctl;
	r->health = conf->health;
	r->answer_max = max;
	r->publish = conf->publish;
	r->publish_ctx = conf->publish_ctx;
	r->sweep_ms = conf->sweep_ms ? conf->sweep_ms : SWEEP_MS_DEFAULT;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->wake_lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_lock(&r->lock);
	int rc = registry_load(r);
	if (rc == 0) {
		rc = view_publish(r);
	}
	pthread_mutex_unlock(&r->lock);
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
	pthread_mutex_lock(&r->lock);
	flush_leases(r);   /* the heartbeats since the last sweep */
	r->unsynced = true;  /* and on disk: no fsync if nothing waits for one */
	for (size_t zi = 0; zi < r->zone_count; zi++) {
		zstate_t *z = &r->zones[zi];
		for (size_t si = 0; si < z->count; si++) {
			for (size_t i = 0; i < z->svcs[si].count; i++) {
				watch_remove(r, z->name, &z->svcs[si].v[i]);
			}
			svc_deinit(&z->svcs[si]);
		}
		free(z->svcs);
	}
	ctl_error_t err = { 0 };
	unlock_synced(r, 0, &err);  /* logged */
	free(r->zones);
	names_free(r->view_names, r->view_count);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->wake_lock);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
