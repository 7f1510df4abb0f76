/* SPDX-License-Identifier: Apache-2.0
 * api_token_cache.c -- the tokens the API accepted lately, by hash, so that
 * a request does not queue for the store (its lock is held through every
 * zone change's commit) to learn who it is. Only tokens found are kept: a
 * token made by `cirrus token create` in another process is looked up in
 * the store at its first use. An entry is good while no token was made or
 * deleted through the API (that empties the cache) and no other process
 * wrote to the store (SQLite's data_version, read when the store's lock is
 * free: a few microseconds); so `cirrus token delete` takes effect at the
 * next request. Only while a change holds the lock is an entry trusted
 * without that check, and for at most API_TOKEN_CACHE_STALE_US since the
 * last one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api_internal.h"
#include "util/error.h"

/* Direct-mapped by the hash's first hex digits: a collision just costs a
 * store lookup. */
#define SLOTS 256

typedef struct slot {
	store_token_t tok;       /*!< hash "" = empty */
	uint64_t generation;     /*!< the cache's when it was looked up */
} slot_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static slot_t slots[SLOTS];          /* all below under lock */
static uint64_t generation;          /* moves when the cache is emptied */
static int64_t data_version = -1;    /* of the store when last checked */
static int64_t checked_us;           /* when (monotonic) */

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static slot_t *slot_of(const char *hash)
{
	unsigned v = 0;
	sscanf(hash, "%2x", &v);
	return &slots[v % SLOTS];
}

/* The store's data version, just read: entries from before another
 * process wrote are dropped (lock held). */
static void version_seen(int64_t version)
{
	if (version != data_version) {
		data_version = version;
		generation++;
	}
	checked_us = mono_us();
}

/* The cached token, if it is still good. */
static bool cached(ctl_t *ctl, const char *hash, store_token_t *out)
{
	slot_t *s = slot_of(hash);
	pthread_mutex_lock(&lock);
	bool hit = strcmp(s->tok.hash, hash) == 0 && s->generation == generation;
	if (hit) {
		*out = s->tok;
	}
	pthread_mutex_unlock(&lock);
	if (!hit) {
		return false;
	}
	int64_t version;
	store_t *st = ctl_store_trylock(ctl);
	int r = st != NULL ? store_data_version(st, &version) : 0;
	if (st != NULL) {
		ctl_store_unlock(ctl);
	}
	pthread_mutex_lock(&lock);
	if (st == NULL) {   /* a change commits: trust a recent check */
		hit = mono_us() - checked_us < API_TOKEN_CACHE_STALE_US;
	} else if (r != 0) {
		hit = false;
	} else {
		version_seen(version);
		hit = s->generation == generation;
	}
	pthread_mutex_unlock(&lock);
	return hit;
}

int api_token_find(ctl_t *ctl, const char *hash, store_token_t *out)
{
	if (cached(ctl, hash, out)) {
		return 0;
	}
	int64_t version = -1;
	store_t *st = ctl_store_lock(ctl);
	int r = store_token_find(st, hash, out);
	if (r == 0 && store_data_version(st, &version) != 0) {
		version = -1;
	}
	ctl_store_unlock(ctl);
	if (r == 0 && version >= 0) {
		pthread_mutex_lock(&lock);
		version_seen(version);
		slot_t *s = slot_of(hash);
		s->tok = *out;
		s->generation = generation;
		pthread_mutex_unlock(&lock);
	}
	return r;
}

void api_token_cache_forget(void)
{
	pthread_mutex_lock(&lock);
	generation++;
	pthread_mutex_unlock(&lock);
}
