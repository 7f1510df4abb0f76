/* SPDX-License-Identifier: Apache-2.0
 * fn_zones.c -- the zones a function instance answers from: zone files
 * loaded once at start, and the store's zones read through a read-only
 * connection. A poll thread compares each store zone's serial and times
 * with the version it built and rebuilds only the zones that changed (all
 * of them when a latency table changed: a table moves no serial, and the
 * policies of any zone may read it); the new set is published by pointer
 * swap (RCU, bulletproof flavour: reader threads belong to libmicrohttpd
 * and need no registration), so queries
 * never wait for the store. A zone in the store and in a file is served
 * from the store, as in `cirrus serve`.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>

#include "conf/conf_zones.h"
#include "ctl/ctl.h"
#include "fn/fn.h"
#include "fn/fn_internal.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"
#include "util/grow.h"

/* One store zone as built, with the row it was built from. */
typedef struct stored {
	store_zone_t row;
	zone_t *zone;     /* a reference */
} stored_t;

typedef struct rows {
	store_zone_t *v;
	size_t count, alloc;
} rows_t;

struct fn_zones {
	zone_set_t *set;            /* RCU-protected */
	zone_t **files;             /* references */
	size_t file_count;
	char *store_path;
	char *image_path;           /* the image file zones came from, or NULL */
	bool store_required;
	store_t *st;                /* NULL until the file exists */
	stored_t *stored;           /* sorted by name, as store_zone_list */
	size_t stored_count;
	store_latency_stamp_t tables;   /* as the stored zones were built with */
	char last_err[640];         /* last store failure, logged once */
	unsigned poll_ms;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;       /* guards stop, for the condition */
	pthread_cond_t wake;
	bool stop;
	atomic_bool done;           /* the poll thread has returned */
};

static int load_files(fn_zones_t *z, const fn_zones_conf_t *conf)
{
	z->files = calloc(conf->file_count ? conf->file_count : 1, sizeof(*z->files));
	if (z->files == NULL) {
		return CIRRUS_ENOMEM;
	}
	int rc = 0;
	conf_image_t image;
	conf_image_open(conf->image_path, true, &image);
	for (size_t i = 0; i < conf->file_count; i++) {
		const conf_zone_t *f = &conf->files[i];
		int r = conf_zone_load(conf->conf_path, f, &image, &z->files[z->file_count]);
		if (r != 0) {
			log_error("zone %s: cannot load %s (%s)", f->origin, f->file, cirrus_strerror(r));
			rc = CIRRUS_EINVAL;
			continue;
		}
		zone_ref(z->files[z->file_count++]);
	}
	conf_image_close(&image);
	return rc;
}

/* Log a store problem when it is new, so a missing store is not logged
 * every poll. */
static void store_problem(fn_zones_t *z, log_level_t level, const char *msg)
{
	if (strcmp(z->last_err, msg) != 0) {
		log_msg(level, "function: %s", msg);
		snprintf(z->last_err, sizeof(z->last_err), "%s", msg);
	}
}

/* Open the store once its file exists. 0 when open, 1 when not there yet. */
static int open_store(fn_zones_t *z)
{
	if (z->st != NULL || z->store_path == NULL) {
		return z->st != NULL ? 0 : 1;
	}
	if (!z->store_required && access(z->store_path, F_OK) != 0) {
		char msg[512];
		snprintf(msg, sizeof(msg), "store %s does not exist (yet); serving zone files",
		         z->store_path);
		store_problem(z, LOG_LEVEL_INFO, msg);
		return 1;
	}
	char err[512];
	int rc = store_open_readonly(z->store_path, &z->st, err, sizeof(err));
	if (rc != 0) {
		store_problem(z, LOG_LEVEL_ERROR, err);
		return rc;
	}
	return 0;
}

static int collect_row(void *ctx, const store_zone_t *row)
{
	rows_t *r = ctx;
	store_zone_t *grown = grow_one(r->v, r->count, &r->alloc, sizeof(*grown), 16);
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	r->v = grown;
	r->v[r->count++] = *row;
	return 0;
}

static bool same_version(const store_zone_t *a, const store_zone_t *b)
{
	return a->serial == b->serial && a->created_us == b->created_us &&
	       a->updated_us == b->updated_us;
}

/* The version built before from this row's zone, or NULL. */
static const stored_t *find_stored(const fn_zones_t *z, const char *name)
{
	for (size_t i = 0; i < z->stored_count; i++) {
		if (strcmp(z->stored[i].row.name, name) == 0) {
			return &z->stored[i];
		}
	}
	return NULL;
}

/* The next store zones, one per listed row: unchanged zones are shared,
 * changed ones rebuilt. A zone that fails to build keeps its previous
 * version (or none: NULL) until its row changes again, so a broken zone is
 * logged once rather than every poll. */
static int build_stored(fn_zones_t *z, const rows_t *rows, bool tables_changed,
                        stored_t *next)
{
	for (size_t i = 0; i < rows->count; i++) {
		const store_zone_t *row = &rows->v[i];
		const stored_t *old = find_stored(z, row->name);
		zone_t *zone = old != NULL ? old->zone : NULL;
		if (old == NULL || tables_changed || !same_version(&old->row, row)) {
			char err[1024];
			zone_t *fresh = NULL;
			int rc = ctl_store_zone_load(z->st, row->name, &fresh, err, sizeof(err));
			if (rc == CIRRUS_ENOMEM) {
				return rc;
			}
			if (rc != 0) {
				log_error("function: %s%s", err,
				          zone ? "; keeping the previous version" : "");
			} else {
				zone = fresh;
				log_info("function: zone %s serial %u loaded from the store",
				         row->name, row->serial);
			}
		}
		if (zone != NULL) {
			zone_ref(zone);
		}
		next[i] = (stored_t){ .row = *row, .zone = zone };
	}
	return 0;
}

/* Whether next serves other zones than the current store zones. */
static bool stored_differ(const fn_zones_t *z, const stored_t *next, size_t count)
{
	if (count != z->stored_count) {
		return true;
	}
	for (size_t i = 0; i < count; i++) {
		if (next[i].zone != z->stored[i].zone) {
			return true;
		}
	}
	return false;
}

static bool in_store(const stored_t *stored, size_t count, const zone_t *zone)
{
	for (size_t i = 0; i < count; i++) {
		if (stored[i].zone != NULL &&
		    knot_dname_is_equal(zone_apex(stored[i].zone), zone_apex(zone))) {
			return true;
		}
	}
	return false;
}

/* Publish the store zones in next with the file zones they do not shadow. */
static int publish(fn_zones_t *z, const stored_t *next, size_t count)
{
	zone_t **all = malloc((count + z->file_count + 1) * sizeof(*all));
	if (all == NULL) {
		return CIRRUS_ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		if (next[i].zone != NULL) {
			all[n++] = next[i].zone;
		}
	}
	for (size_t i = 0; i < z->file_count; i++) {
		if (!in_store(next, count, z->files[i])) {
			all[n++] = z->files[i];
		}
	}
	zone_set_t *set = NULL;
	int rc = zone_set_new(all, n, &set);
	free(all);
	if (rc != 0) {
		return rc;
	}
	zone_set_t *old = urcu_bp_xchg_pointer(&z->set, set);
	if (old != NULL) {
		urcu_bp_synchronize_rcu();
		zone_set_free(old);
	}
	return 0;
}

static void unref_stored(stored_t *v, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (v[i].zone != NULL) {
			zone_unref(v[i].zone);
		}
	}
	free(v);
}

/* Take the listed rows as the store zones; 1 when a new set was published. */
static int apply(fn_zones_t *z, const rows_t *rows, const store_latency_stamp_t *tables)
{
	stored_t *next = calloc(rows->count + 1, sizeof(*next));
	if (next == NULL) {
		return CIRRUS_ENOMEM;
	}
	bool tables_changed = tables->count != z->tables.count ||
	                      tables->latest_us != z->tables.latest_us;
	int rc = build_stored(z, rows, tables_changed, next);
	bool publishing = rc == 0 && stored_differ(z, next, rows->count);
	if (publishing) {
		rc = publish(z, next, rows->count);
	}
	if (rc != 0) {
		unref_stored(next, rows->count);
		return rc;
	}
	/* Keep the rows even when nothing is published: a failed rebuild is
	 * not retried until the zone changes again. */
	unref_stored(z->stored, z->stored_count);
	z->stored = next;
	z->stored_count = rows->count;
	z->tables = *tables;
	return publishing ? 1 : 0;
}

int fn_zones_poll(fn_zones_t *z)
{
	int rc = open_store(z);
	if (rc != 0) {
		return rc > 0 ? 0 : rc;
	}
	rows_t rows = { 0 };
	store_latency_stamp_t tables;
	rc = store_zone_list(z->st, collect_row, &rows);
	if (rc == 0) {
		rc = store_latency_stamp(z->st, &tables);
	}
	if (rc == 0) {
		z->last_err[0] = '\0';
		rc = apply(z, &rows, &tables);
	} else if (rc != CIRRUS_ENOMEM) {
		char msg[600];
		snprintf(msg, sizeof(msg), "store %s: %s; still serving the previous zones",
		         z->store_path, store_last_error(z->st));
		store_problem(z, LOG_LEVEL_ERROR, msg);
		rc = CIRRUS_EIO;
	}
	free(rows.v);
	return rc;
}

int fn_zones_new(const fn_zones_conf_t *conf, fn_zones_t **out, char *err, size_t errlen)
{
	fn_zones_t *z = calloc(1, sizeof(*z));
	if (z == NULL || (conf->store_path && !(z->store_path = strdup(conf->store_path))) ||
	    (conf->image_path && !(z->image_path = strdup(conf->image_path)))) {
		if (z != NULL) {
			free(z->store_path);
		}
		free(z);
		snprintf(err, errlen, "out of memory");
		return CIRRUS_ENOMEM;
	}
	z->store_required = conf->store_required;
	z->poll_ms = conf->poll_ms;
	pthread_mutex_init(&z->lock, NULL);
	pthread_cond_init(&z->wake, NULL);
	int rc = load_files(z, conf);
	if (rc != 0) {
		snprintf(err, errlen, "a zone file failed to load");
	} else if ((rc = fn_zones_poll(z)) < 0) {
		snprintf(err, errlen, "%s", z->last_err[0] ? z->last_err : cirrus_strerror(rc));
	} else if (z->set == NULL && (rc = publish(z, NULL, 0)) != 0) {
		snprintf(err, errlen, "cannot build the zone set: %s", cirrus_strerror(rc));
	}
	if (rc < 0) {
		fn_zones_free(z);
		return rc;
	}
	for (size_t i = 0; i < z->file_count; i++) {
		if (in_store(z->stored, z->stored_count, z->files[i])) {
			log_warning("function: zone %s is in the store and in a file; the store's "
			            "version is served", z->files[i]->source ? z->files[i]->source : "");
		}
	}
	*out = z;
	return 0;
}

static void *poll_main(void *arg)
{
	fn_zones_t *z = arg;
	pthread_mutex_lock(&z->lock);
	while (!z->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += z->poll_ms / 1000;
		until.tv_nsec += (long)(z->poll_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&z->wake, &z->lock, &until);
		if (z->stop) {
			break;
		}
		pthread_mutex_unlock(&z->lock);
		fn_zones_poll(z);
		pthread_mutex_lock(&z->lock);
	}
	pthread_mutex_unlock(&z->lock);
	atomic_store(&z->done, true);
	return NULL;
}

int fn_zones_verify_image(fn_zones_t *z)
{
	return z->image_path != NULL ?
	       fn_image_verify_start(z->files, z->file_count, z->image_path) : 0;
}

int fn_zones_start(fn_zones_t *z)
{
	if (z->poll_ms == 0 || z->store_path == NULL) {
		return 0;
	}
	if (pthread_create(&z->thread, NULL, poll_main, z) != 0) {
		return CIRRUS_EIO;
	}
	z->running = true;
	return 0;
}

int fn_zones_stop(fn_zones_t *z, unsigned wait_ms)
{
	if (!z->running) {
		return 0;
	}
	pthread_mutex_lock(&z->lock);
	z->stop = true;
	pthread_cond_signal(&z->wake);
	pthread_mutex_unlock(&z->lock);
	/* A rebuild of a large zone cannot be cut short; wait a bounded time. */
	for (unsigned waited = 0; !atomic_load(&z->done) && waited < wait_ms; waited += 5) {
		usleep(5000);
	}
	if (!atomic_load(&z->done)) {
		return CIRRUS_ELIMIT;
	}
	pthread_join(z->thread, NULL);
	z->running = false;
	return 0;
}

void fn_zones_free(fn_zones_t *z)
{
	if (z == NULL) {
		return;
	}
	zone_set_free(z->set);
	unref_stored(z->stored, z->stored_count);
	for (size_t i = 0; i < z->file_count; i++) {
		zone_unref(z->files[i]);
	}
	free(z->files);
	store_close(z->st);
	free(z->store_path);
	free(z->image_path);
	pthread_mutex_destroy(&z->lock);
	pthread_cond_destroy(&z->wake);
	free(z);
}

const zone_set_t *fn_zones_lock(fn_zones_t *z)
{
	urcu_bp_read_lock();
	return urcu_bp_dereference(z->set);
}

void fn_zones_unlock(fn_zones_t *z)
{
	(void)z;
	urcu_bp_read_unlock();
}

size_t fn_zones_count(fn_zones_t *z)
{
	const zone_set_t *set = fn_zones_lock(z);
	size_t n = set != NULL ? set->count : 0;
	fn_zones_unlock(z);
	return n;
}
