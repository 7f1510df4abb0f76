/* SPDX-License-Identifier: Apache-2.0
 * policy_mmdb.c -- the geo rule over a MaxMind DB (GeoIP2, GeoLite2 or
 * any database in that format with country/continent/subdivisions), read
 * through libmaxminddb from a read-only mapping of the file.
 *
 * Decoding a record (maps of names in many languages) per query would
 * cost more than the rest of the answer, so at load every node of the
 * search tree is read once, each distinct data record is decoded once and
 * resolved to a geo choice, and a query does only MMDB_lookup_sockaddr()
 * (a tree walk, no allocation) and one probe or two of a hash table from
 * record offset to choice (a binary search cost a cache miss a step).
 * Reading every record at load also finds a corrupt file then, not while
 * answering.
 */
#include <errno.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"
#include "util/error.h"

/*! Most subdivisions of a record looked at (GeoIP2 City has at most 2). */
#define SUBDIVISIONS_MAX 4

/*! A free slot of the table (a data section is smaller than 4 GiB). */
#define SLOT_FREE UINT32_MAX

typedef struct record_choice {
	uint32_t offset;   /* of the record in the data section */
	int32_t choice;
} record_choice_t;

struct policy_mmdb {
	MMDB_s db;
	/* Open addressing, linear probing, at most half full: only the
	 * records an endpoint serves. */
	record_choice_t *slots;
	uint32_t mask;     /* slot count - 1; the count is a power of two */
	unsigned shift;    /* 32 - log2(slot count) */
};

/* Fibonacci hashing: the top bits of offset times 2^32 / phi. */
static inline uint32_t slot_of(const policy_mmdb_t *m, uint32_t offset)
{
	return (offset * 0x9e3779b1u) >> m->shift;
}

static void table_put(policy_mmdb_t *m, uint32_t offset, int32_t choice)
{
	uint32_t i = slot_of(m, offset);
	while (m->slots[i].offset != SLOT_FREE) {
		i = (i + 1) & m->mask;
	}
	m->slots[i] = (record_choice_t){ offset, choice };
}

static int32_t table_get(const policy_mmdb_t *m, uint32_t offset)
{
	for (uint32_t i = slot_of(m, offset);; i = (i + 1) & m->mask) {
		if (m->slots[i].offset == offset) {
			return m->slots[i].choice;
		}
		if (m->slots[i].offset == SLOT_FREE) {
			return -1;
		}
	}
}

/* "CONF:LINE: mmdb FILE: reason" */
static int mmdb_fail(policy_errbuf_t *e, const policy_spec_t *spec, const char *reason)
{
	policy_fail(e, spec->line, "mmdb %s: %s", spec->mmdb, reason);
	return CIRRUS_EIO;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The offsets of every data record the search tree points at, sorted and
 * unique. */
static int tree_records(MMDB_s *db, uint32_t **out, size_t *count)
{
	size_t n = 0, alloc = 0;
	uint32_t *offs = NULL;
	for (uint32_t i = 0; i < db->metadata.node_count; i++) {
		MMDB_search_node_s node;
		int status = MMDB_read_node(db, i, &node);
		if (status != MMDB_SUCCESS) {
			free(offs);
			return status;
		}
		const uint8_t types[2] = { node.left_record_type, node.right_record_type };
		const uint32_t at[2] = { node.left_record_entry.offset, node.right_record_entry.offset };
		for (int side = 0; side < 2; side++) {
			if (types[side] == MMDB_RECORD_TYPE_INVALID) {
				free(offs);
				return MMDB_CORRUPT_SEARCH_TREE_ERROR;
			}
			if (types[side] != MMDB_RECORD_TYPE_DATA) {
				continue;
			}
			if (n == alloc) {
				alloc = alloc ? alloc * 2 : 256;
				uint32_t *grown = realloc(offs, alloc * sizeof(*grown));
				if (grown == NULL) {
					free(offs);
					return MMDB_OUT_OF_MEMORY_ERROR;
				}
				offs = grown;
			}
			offs[n++] = at[side];
		}
	}
	if (n > 0) {
		qsort(offs, n, sizeof(*offs), cmp_u32);
	}
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (u == 0 || offs[u - 1] != offs[i]) {
			offs[u++] = offs[i];
		}
	}
	*out = offs;
	*count = u;
	return MMDB_SUCCESS;
}

/* A string at path in the record, copied to buf ("" when absent). */
static int record_text(MMDB_entry_s *entry, char *buf, size_t size, const char *const *path)
{
	MMDB_entry_data_s data;
	buf[0] = '\0';
	int status = MMDB_aget_value(entry, &data, path);
	if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR ||
	    (status == MMDB_SUCCESS && !data.has_data)) {
		return MMDB_SUCCESS;
	}
	if (status != MMDB_SUCCESS) {
		return status;
	}
	if (data.type == MMDB_DATA_TYPE_UTF8_STRING && data.data_size < size) {
		memcpy(buf, data.utf8_string, data.data_size);
		buf[data.data_size] = '\0';
	}
	return MMDB_SUCCESS;
}

/* Decode one record's location and resolve it to a choice of n (-1: none
 * of the endpoints serves it). */
static int record_choice(policy_node_t *n, const policy_spec_t *spec, MMDB_entry_s *entry,
                         int32_t *choice)
{
	static const char *const country_path[] = { "country", "iso_code", NULL };
	static const char *const continent_path[] = { "continent", "code", NULL };
	char country[8], continent[8], sub[SUBDIVISIONS_MAX][16];
	const char *subs[SUBDIVISIONS_MAX];
	size_t nsub = 0;
	int status = record_text(entry, country, sizeof(country), country_path);
	if (status == MMDB_SUCCESS) {
		status = record_text(entry, continent, sizeof(continent), continent_path);
	}
	/* GeoIP2 lists subdivisions largest first; the most specific is last. */
	for (int i = SUBDIVISIONS_MAX - 1; status == MMDB_SUCCESS && i >= 0; i--) {
		char index[4], code[8];
		snprintf(index, sizeof(index), "%d", i);
		const char *const path[] = { "subdivisions", index, "iso_code", NULL };
		status = record_text(entry, code, sizeof(code), path);
		if (status == MMDB_SUCCESS && code[0] != '\0' && country[0] != '\0') {
			snprintf(sub[nsub], sizeof(sub[nsub]), "%s-%s", country, code);
			subs[nsub] = sub[nsub];
			nsub++;
		}
	}
	if (status != MMDB_SUCCESS) {
		return status;
	}
	int32_t c = policy_geo_choose(n, spec, subs, nsub, country[0] ? country : NULL,
	                              continent[0] ? continent : NULL);
	if (c < 0) {
		return MMDB_OUT_OF_MEMORY_ERROR;
	}
	const policy_geo_choice_t *g = &n->choices[c];
	*choice = (g->subdivision[0] < 0 && g->country < 0 && g->continent < 0) ? -1 : c;
	return MMDB_SUCCESS;
}

/* Resolve every record of the tree; keeps those an endpoint serves. */
static int resolve_records(policy_node_t *n, const policy_spec_t *spec, policy_mmdb_t *m)
{
	uint32_t *offs = NULL;
	size_t count = 0, slots = 2;
	unsigned shift = 31;
	int status = tree_records(&m->db, &offs, &count);
	while (slots < 2 * count) {
		slots *= 2;
		shift--;
	}
	if (status == MMDB_SUCCESS && (slots > UINT32_MAX ||
	    (m->slots = malloc(slots * sizeof(*m->slots))) == NULL)) {
		status = MMDB_OUT_OF_MEMORY_ERROR;
	}
	if (status == MMDB_SUCCESS) {
		memset(m->slots, 0xff, slots * sizeof(*m->slots)); /* every offset SLOT_FREE */
		m->mask = (uint32_t)(slots - 1);
		m->shift = shift;
	}
	for (size_t i = 0; status == MMDB_SUCCESS && i < count; i++) {
		MMDB_entry_s entry = { .mmdb = &m->db, .offset = offs[i] };
		int32_t choice = -1;
		status = record_choice(n, spec, &entry, &choice);
		if (status == MMDB_SUCCESS && choice >= 0) {
			table_put(m, offs[i], choice);
		}
	}
	free(offs);
	return status;
}

int policy_mmdb_load(policy_node_t *n, const policy_spec_t *spec, policy_errbuf_t *e)
{
	policy_mmdb_t *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return CIRRUS_ENOMEM;
	}
	errno = 0;
	int status = MMDB_open(spec->mmdb, MMDB_MODE_MMAP, &m->db);
	if (status != MMDB_SUCCESS) {
		free(m);
		if ((status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) && errno != 0) {
			char reason[256];
			snprintf(reason, sizeof(reason), "%s (%s)", MMDB_strerror(status),
			         strerror(errno));
			return mmdb_fail(e, spec, reason);
		}
		return mmdb_fail(e, spec, MMDB_strerror(status));
	}
	n->mmdb = m;
	status = resolve_records(n, spec, m);
	if (status == MMDB_OUT_OF_MEMORY_ERROR) {
		return CIRRUS_ENOMEM;
	}
	if (status != MMDB_SUCCESS) {
		return mmdb_fail(e, spec, MMDB_strerror(status));
	}
	return 0;
}

int32_t policy_mmdb_lookup(const policy_mmdb_t *m, const policy_addr_t *client,
                           unsigned *scope)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	const struct sockaddr *sa = (const struct sockaddr *)&sin6;
	unsigned skip = 0; /* leading bits of the tree that are not the client's */
	if (client->family == POLICY_FAMILY_IPV4) {
		memcpy(&sin.sin_addr, client->bytes, 4);
		sa = (const struct sockaddr *)&sin;
		skip = m->db.metadata.ip_version == 6 ? 96 : 0; /* IPv4 sits at ::/96 */
	} else {
		memcpy(&sin6.sin6_addr, client->bytes, 16);
	}
	int error = MMDB_SUCCESS;
	MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&m->db, sa, &error);
	*scope = 0;
	if (error != MMDB_SUCCESS) {
		return -1; /* an IPv6 client in an IPv4 database: nothing is known */
	}
	/* libmaxminddb sets netmask for an empty record too: where the walk
	 * stopped, which is the scope of "no location" as well. */
	*scope = r.netmask > skip ? r.netmask - skip : 0;
	return r.found_entry ? table_get(m, r.entry.offset) : -1;
}

void policy_mmdb_free(policy_mmdb_t *m)
{
	if (m != NULL) {
		MMDB_close(&m->db);
		free(m->slots);
		free(m);
	}
}
