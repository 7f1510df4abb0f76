/* SPDX-License-Identifier: Apache-2.0
 * proxy_cache.c -- the proxy's answer cache: a chained hash table of whole
 * answers (as the upstream sent them) with a least-recently-used list and
 * a fixed number of entries. An entry lives for the answer's TTL (RFC 2308
 * negative TTL for NXDOMAIN/NODATA) clamped to [min_ttl, max_ttl]; a hit is
 * copied out with its TTLs lowered by the whole seconds it has spent here.
 * Expired entries are dropped when found or when they reach the LRU tail.
 */
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"
#include "util/error.h"

typedef struct entry entry_t;

struct entry {
	entry_t *chain;          /* next in the bucket */
	entry_t *prev, *next;    /* LRU list: head is the most recent */
	uint64_t hash;
	uint64_t stored_ms, expire_ms;
	uint16_t key_len, len;
	uint8_t data[];          /* key, then answer */
};

struct proxy_cache {
	entry_t **buckets;
	size_t mask;             /* buckets - 1, a power of two minus one */
	entry_t *head, *tail;
	size_t count, size;
	uint32_t min_ttl, max_ttl;
};

/* FNV-1a: keys are short and made by us, not chosen by an attacker beyond
 * the query name, and a bucket chain is bounded by the entry count anyway. */
static uint64_t hash(const uint8_t *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h = (h ^ key[i]) * 0x100000001b3ULL;
	}
	return h;
}

proxy_cache_t *proxy_cache_new(size_t size, uint32_t min_ttl, uint32_t max_ttl)
{
	proxy_cache_t *c = calloc(1, sizeof(*c));
	size_t buckets = 16;
	while (buckets < size && buckets < (SIZE_MAX >> 2)) {
		buckets <<= 1;
	}
	if (c == NULL || size == 0 || (c->buckets = calloc(buckets, sizeof(entry_t *))) == NULL) {
		free(c);
		return NULL;
	}
	c->mask = buckets - 1;
	c->size = size;
	c->min_ttl = min_ttl;
	c->max_ttl = max_ttl;
	return c;
}

void proxy_cache_free(proxy_cache_t *cache)
{
	if (cache == NULL) {
		return;
	}
	for (entry_t *e = cache->head, *next; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	free(cache->buckets);
	free(cache);
}

size_t proxy_cache_count(const proxy_cache_t *cache)
{
	return cache->count;
}

static void lru_unlink(proxy_cache_t *c, entry_t *e)
{
	if (e->prev != NULL) {
		e->prev->next = e->next;
	} else {
		c->head = e->next;
	}
	if (e->next != NULL) {
		e->next->prev = e->prev;
	} else {
		c->tail = e->prev;
	}
	e->prev = e->next = NULL;
}

static void lru_push(proxy_cache_t *c, entry_t *e)
{
	e->next = c->head;
	e->prev = NULL;
	if (c->head != NULL) {
		c->head->prev = e;
	}
	c->head = e;
	if (c->tail == NULL) {
		c->tail = e;
	}
}

/* The slot that points at the entry for key (or the NULL ending its chain). */
static entry_t **find(proxy_cache_t *c, const uint8_t *key, size_t key_len, uint64_t h)
{
	entry_t **slot = &c->buckets[h & c->mask];
	while (*slot != NULL && ((*slot)->hash != h || (*slot)->key_len != key_len ||
	                         memcmp((*slot)->data, key, key_len) != 0)) {
		slot = &(*slot)->chain;
	}
	return slot;
}

static void remove_entry(proxy_cache_t *c, entry_t **slot)
{
	entry_t *e = *slot;
	*slot = e->chain;
	lru_unlink(c, e);
	c->count--;
	free(e);
}

static void evict_tail(proxy_cache_t *c)
{
	entry_t *e = c->tail;
	remove_entry(c, find(c, e->data, e->key_len, e->hash));
}

int proxy_cache_put(proxy_cache_t *cache, const uint8_t *key, size_t key_len,
                    const uint8_t *answer, size_t len, uint64_t now_ms)
{
	int64_t ttl = proxy_msg_cache_ttl(answer, len);
	if (ttl < 0 || key_len > PROXY_KEY_MAX || len > PROXY_MSG_MAX) {
		return CIRRUS_ENOENT;
	}
	ttl = ttl < cache->min_ttl ? cache->min_ttl : ttl > cache->max_ttl ? cache->max_ttl : ttl;
	if (ttl == 0) {
		return CIRRUS_ENOENT;
	}
	uint64_t h = hash(key, key_len);
	entry_t **slot = find(cache, key, key_len, h);
	if (*slot != NULL) {
		remove_entry(cache, slot);
	}
	if (cache->count == cache->size) {
		evict_tail(cache);
	}
	entry_t *e = malloc(sizeof(*e) + key_len + len);
	if (e == NULL) {
		return CIRRUS_ENOMEM;
	}
	*e = (entry_t){ .hash = h, .stored_ms = now_ms, .expire_ms = now_ms + ttl * 1000,
	                .key_len = (uint16_t)key_len, .len = (uint16_t)len };
	memcpy(e->data, key, key_len);
	memcpy(e->data + key_len, answer, len);
	slot = &cache->buckets[h & cache->mask];
	e->chain = *slot;
	*slot = e;
	lru_push(cache, e);
	cache->count++;
	return 0;
}

int proxy_cache_get(proxy_cache_t *cache, const uint8_t *key, size_t key_len,
                    uint64_t now_ms, uint8_t *out, size_t cap, size_t *len)
{
	entry_t **slot = find(cache, key, key_len, hash(key, key_len));
	entry_t *e = *slot;
	if (e == NULL) {
		return CIRRUS_ENOENT;
	}
	if (now_ms >= e->expire_ms) {
		remove_entry(cache, slot);
		return CIRRUS_ENOENT;
	}
	if (e->len > cap) {
		return CIRRUS_ESPACE;
	}
	memcpy(out, e->data + e->key_len, e->len);
	*len = e->len;
	uint64_t age = now_ms > e->stored_ms ? (now_ms - e->stored_ms) / 1000 : 0;
	proxy_msg_age(out, e->len, age > UINT32_MAX ? UINT32_MAX : (uint32_t)age);
	lru_unlink(cache, e);
	lru_push(cache, e);
	return 0;
}
