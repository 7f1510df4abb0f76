/* SPDX-License-Identifier: Apache-2.0
 * policy_latency.c -- the latency rule: endpoints serve from regions, and a
 * table measured by the operator says how many milliseconds each client
 * network is from each region. Each line of the table file is "PREFIX
 * REGION MILLISECONDS"; '#' starts a comment; a prefix has one line per
 * region measured. At load the rule's regions are sorted by latency for
 * every prefix, so a query does one longest-prefix lookup and walks a
 * short list of region ids: no string compare, no arithmetic.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"
#include "util/error.h"
#include "util/grow.h"

/*! Most milliseconds a line can state (ten minutes: surely a typo beyond). */
#define LATENCY_MS_MAX 600000.0

/* One line of the table. */
typedef struct measure {
	policy_addr_t prefix;
	char *region;
	int16_t region_id;   /* among the rule's regions, -1: none serves it */
	double ms;
	unsigned long line;
} measure_t;

typedef struct table {
	const char *path;         /* file, or the name of a table from the store */
	const char *data;         /* a table from the store: its text, else NULL */
	policy_errbuf_t *e;
	measure_t *v;
	size_t n, alloc;
} table_t;

static int table_fail(table_t *t, unsigned long line, const char *what, const char *text)
{
	snprintf(t->e->text, t->e->size, "%s:%lu: %s '%s' (lines are PREFIX REGION "
	         "MILLISECONDS, e.g. 192.0.2.0/24 eu-west 23)", t->path, line, what, text);
	return CIRRUS_EINVAL;
}

/* Give each endpoint the id of its region (ids in order of first use). */
static int assign_regions(policy_node_t *n, const policy_spec_t *spec, policy_errbuf_t *e)
{
	for (size_t i = 0; i < spec->endpoint_count; i++) {
		const policy_spec_t *ep = &spec->endpoints[i];
		n->items[i].region_id = -1;
		if (ep->region == NULL && !ep->is_default) {
			return policy_fail(e, ep->line, "an endpoint of the latency rule needs "
			                   "'region' (or 'default: true' for the fallback)");
		}
		for (size_t j = 0; ep->region != NULL && j <= i; j++) {
			if (spec->endpoints[j].region != NULL &&
			    strcmp(spec->endpoints[j].region, ep->region) == 0) {
				n->items[i].region_id = (int16_t)j;
				break;
			}
		}
	}
	return 0;
}

static int16_t region_id(const policy_spec_t *spec, const char *region)
{
	for (size_t i = 0; i < spec->endpoint_count; i++) {
		if (spec->endpoints[i].region != NULL && strcmp(spec->endpoints[i].region, region) == 0) {
			return (int16_t)i;
		}
	}
	return -1;
}

/* One line (comment already cut off) appended to t. */
static int table_line(table_t *t, const policy_spec_t *spec, char *text, unsigned long line)
{
	char *save = NULL;
	char *prefix = strtok_r(text, " \t\r\n", &save);
	if (prefix == NULL) {
		return 0;
	}
	char *region = strtok_r(NULL, " \t\r\n", &save);
	char *ms = strtok_r(NULL, " \t\r\n", &save);
	char *extra = strtok_r(NULL, " \t\r\n", &save);
	measure_t m = { .line = line };
	if (policy_cidr_parse(prefix, &m.prefix) != 0) {
		return table_fail(t, line, "not a prefix:", prefix);
	}
	if (region == NULL || ms == NULL) {
		return table_fail(t, line, "too few fields after", prefix);
	}
	char *end = NULL;
	m.ms = strtod(ms, &end);
	if (end == ms || *end != '\0' || !isfinite(m.ms) || m.ms < 0 || m.ms > LATENCY_MS_MAX) {
		return table_fail(t, line, "not milliseconds from 0 to 600000:", ms);
	}
	if (extra != NULL) {
		return table_fail(t, line, "more than three fields:", extra);
	}
	measure_t *grown = grow_one(t->v, t->n, &t->alloc, sizeof(*grown), 64);
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	t->v = grown;
	if ((m.region = strdup(region)) == NULL) {
		return CIRRUS_ENOMEM;
	}
	m.region_id = region_id(spec, region);
	t->v[t->n++] = m;
	return 0;
}

static int read_table(table_t *t, const policy_spec_t *spec)
{
	FILE *f = t->data != NULL ? fmemopen((void *)t->data, strlen(t->data), "r") :
	          fopen(t->path, "r");
	if (f == NULL) {
		policy_fail(t->e, spec->line, "latency %s: %s", t->path, strerror(errno));
		return CIRRUS_EIO;
	}
	char *buf = NULL;
	size_t cap = 0;
	unsigned long line = 0;
	int r = 0;
	while (r == 0 && getline(&buf, &cap, f) >= 0) {
		line++;
		char *hash = strchr(buf, '#');
		if (hash != NULL) {
			*hash = '\0';
		}
		r = table_line(t, spec, buf, line);
	}
	if (r == 0 && ferror(f)) {
		policy_fail(t->e, spec->line, "latency %s: read error", t->path);
		r = CIRRUS_EIO;
	}
	free(buf);
	fclose(f);
	return r;
}

static int cmp_prefix(const policy_addr_t *a, const policy_addr_t *b)
{
	if (a->family != b->family) {
		return a->family < b->family ? -1 : 1;
	}
	if (a->prefix != b->prefix) {
		return a->prefix < b->prefix ? -1 : 1;
	}
	return memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

/* By prefix, then fastest first; ties keep the file's order. */
static int cmp_measure(const void *x, const void *y)
{
	const measure_t *a = x, *b = y;
	int c = cmp_prefix(&a->prefix, &b->prefix);
	if (c != 0) {
		return c;
	}
	if (a->ms != b->ms) {
		return a->ms < b->ms ? -1 : 1;
	}
	return a->line < b->line ? -1 : a->line > b->line;
}

/* The measures v[0..count) of one prefix: check, then add their order of
 * the rule's regions to n (nothing when the rule serves none of them). */
static int add_prefix(table_t *t, policy_node_t *n, const measure_t *v, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(v[i].region, v[j].region) == 0) {
				unsigned long line = v[i].line > v[j].line ? v[i].line : v[j].line;
				return table_fail(t, line, "region measured twice for this prefix:",
				                  v[i].region);
			}
		}
	}
	uint32_t start = (uint32_t)n->region_order_len;
	for (size_t i = 0; i < count; i++) {
		if (v[i].region_id >= 0) {
			n->region_order[n->region_order_len++] = v[i].region_id;
		}
	}
	uint16_t used = (uint16_t)(n->region_order_len - start);
	if (used == 0) {
		return 0;
	}
	policy_latency_choice_t *grown = realloc(n->orders, (n->order_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		return CIRRUS_ENOMEM;
	}
	n->orders = grown;
	n->orders[n->order_count] = (policy_latency_choice_t){ start, used };
	const policy_addr_t *a = &v[0].prefix;
	return policy_trie_insert(&n->trie[a->family == POLICY_FAMILY_IPV6], a->bytes, a->prefix,
	                          (int32_t)n->order_count++);
}

static int build_orders(table_t *t, policy_node_t *n)
{
	if (t->n == 0) {
		return 0;
	}
	qsort(t->v, t->n, sizeof(*t->v), cmp_measure);
	if ((n->region_order = calloc(t->n, sizeof(*n->region_order))) == NULL) {
		return CIRRUS_ENOMEM;
	}
	int r = 0;
	for (size_t i = 0, j; r == 0 && i < t->n; i = j) {
		for (j = i + 1; j < t->n && cmp_prefix(&t->v[i].prefix, &t->v[j].prefix) == 0; j++) {
		}
		r = add_prefix(t, n, &t->v[i], j - i);
	}
	return r;
}

int policy_latency_load(policy_node_t *n, const policy_spec_t *spec, policy_errbuf_t *e)
{
	int r = assign_regions(n, spec, e);
	if (r != 0) {
		return r;
	}
	if (spec->latency == NULL && spec->latency_table == NULL) {
		return policy_fail(e, spec->line, "the latency rule needs 'latency', a table file "
		                   "of PREFIX REGION MILLISECONDS lines");
	}
	if (spec->latency_table != NULL && spec->latency_data == NULL) {
		return policy_fail(e, spec->line, "there is no latency table '%s' (PUT "
		                   "/api/v1/latency/%s makes one)", spec->latency_table,
		                   spec->latency_table);
	}
	table_t t = { .path = spec->latency ? spec->latency : spec->latency_table,
	              .data = spec->latency_data, .e = e };
	r = read_table(&t, spec);
	if (r == 0) {
		r = build_orders(&t, n);
	}
	for (size_t i = 0; i < t.n; i++) {
		free(t.v[i].region);
	}
	free(t.v);
	return r;
}
