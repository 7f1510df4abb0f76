/* SPDX-License-Identifier: Apache-2.0
 * policy_geo.c -- the geo rule: endpoint codes, locations resolved to
 * endpoints, and the CIDR map file. Each line of the map is "PREFIX
 * COUNTRY CONTINENT [SUBDIVISION]" (ISO 3166 alpha-2 code, one of AF AN AS
 * EU NA OC SA, and an ISO 3166-2 code such as US-CA), '#' starts a comment.
 * At load every location is resolved to the endpoints that serve it
 * (subdivision, then country, then continent), so a query does one lookup
 * and no string compare. MaxMind databases are read by policy_mmdb.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"
#include "util/error.h"

static bool is_country(const char *s)
{
	return strlen(s) == 2 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]);
}

static bool is_continent(const char *s)
{
	static const char *const codes[] = { "AF", "AN", "AS", "EU", "NA", "OC", "SA" };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		if (strcmp(s, codes[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* ISO 3166-2: the country, '-', then 1 to 3 upper-case letters or digits. */
static bool is_subdivision(const char *s)
{
	size_t len = strlen(s);
	if (len < 4 || len > 6 || s[2] != '-' || !isupper((unsigned char)s[0]) ||
	    !isupper((unsigned char)s[1])) {
		return false;
	}
	for (size_t i = 3; i < len; i++) {
		if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* Endpoint codes: upper case, countries and continents that exist. */
static int check_codes(const policy_spec_t *spec, policy_errbuf_t *e)
{
	for (size_t i = 0; i < spec->endpoint_count; i++) {
		const policy_spec_t *ep = &spec->endpoints[i];
		for (size_t c = 0; c < ep->subdivisions.n; c++) {
			if (!is_subdivision(ep->subdivisions.v[c])) {
				return policy_fail(e, ep->line, "subdivision '%s' is not an upper-case "
				                   "ISO 3166-2 code such as US-CA", ep->subdivisions.v[c]);
			}
		}
		for (size_t c = 0; c < ep->countries.n; c++) {
			if (!is_country(ep->countries.v[c])) {
				return policy_fail(e, ep->line, "country '%s' is not a two-letter "
				                   "upper-case ISO 3166 code", ep->countries.v[c]);
			}
		}
		for (size_t c = 0; c < ep->continents.n; c++) {
			if (!is_continent(ep->continents.v[c])) {
				return policy_fail(e, ep->line, "continent '%s' is not one of AF AN AS "
				                   "EU NA OC SA", ep->continents.v[c]);
			}
		}
		if (ep->countries.n == 0 && ep->continents.n == 0 && ep->subdivisions.n == 0 &&
		    !ep->is_default) {
			return policy_fail(e, ep->line, "an endpoint of the geo rule needs "
			                   "'subdivisions', 'countries' or 'continents' (or "
			                   "'default: true')");
		}
	}
	return 0;
}

typedef enum { GEO_SUBDIVISION, GEO_COUNTRY, GEO_CONTINENT } geo_level_t;

static const policy_strv_t *codes_of(const policy_spec_t *ep, geo_level_t level)
{
	switch (level) {
	case GEO_SUBDIVISION: return &ep->subdivisions;
	case GEO_COUNTRY:     return &ep->countries;
	case GEO_CONTINENT:   return &ep->continents;
	}
	return NULL;
}

/* First endpoint listing code at level, or -1 (also for a NULL code). */
static int16_t endpoint_for(const policy_spec_t *spec, const char *code, geo_level_t level)
{
	for (size_t i = 0; code != NULL && i < spec->endpoint_count; i++) {
		const policy_strv_t *v = codes_of(&spec->endpoints[i], level);
		for (size_t c = 0; c < v->n; c++) {
			if (strcmp(v->v[c], code) == 0) {
				return (int16_t)i;
			}
		}
	}
	return -1;
}

int32_t policy_geo_choose(policy_node_t *n, const policy_spec_t *spec,
                          const char *const *subdivisions, size_t nsub,
                          const char *country, const char *continent)
{
	policy_geo_choice_t c = { { -1, -1 }, endpoint_for(spec, country, GEO_COUNTRY),
	                          endpoint_for(spec, continent, GEO_CONTINENT) };
	size_t found = 0;
	for (size_t i = 0; i < nsub && found < 2; i++) {
		int16_t item = endpoint_for(spec, subdivisions[i], GEO_SUBDIVISION);
		if (item >= 0 && (found == 0 || c.subdivision[0] != item)) {
			c.subdivision[found++] = item;
		}
	}
	for (size_t i = 0; i < n->choice_count; i++) {
		if (memcmp(&n->choices[i], &c, sizeof(c)) == 0) {
			return (int32_t)i;
		}
	}
	policy_geo_choice_t *grown = realloc(n->choices, (n->choice_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		return -1;
	}
	n->choices = grown;
	n->choices[n->choice_count] = c;
	return (int32_t)n->choice_count++;
}

typedef struct map_file {
	const char *path;
	unsigned long line;
	policy_errbuf_t *e;
} map_file_t;

static int map_fail(map_file_t *m, const char *what, const char *text)
{
	snprintf(m->e->text, m->e->size, "%s:%lu: %s '%s' (lines are PREFIX COUNTRY "
	         "CONTINENT [SUBDIVISION], e.g. 192.0.2.0/24 DE EU DE-BY)", m->path, m->line,
	         what, text);
	return CIRRUS_EINVAL;
}

/* One line of the map (comments already cut off). */
static int map_line(map_file_t *m, policy_node_t *n, const policy_spec_t *spec, char *text)
{
	char *save = NULL;
	char *prefix = strtok_r(text, " \t\r\n", &save);
	if (prefix == NULL) {
		return 0;
	}
	char *country = strtok_r(NULL, " \t\r\n", &save);
	char *continent = strtok_r(NULL, " \t\r\n", &save);
	char *subdivision = strtok_r(NULL, " \t\r\n", &save);
	char *extra = strtok_r(NULL, " \t\r\n", &save);
	policy_addr_t a;
	if (policy_cidr_parse(prefix, &a) != 0) {
		return map_fail(m, "not a prefix:", prefix);
	}
	if (country == NULL || !is_country(country)) {
		return map_fail(m, "not a country code:", country ? country : "");
	}
	if (continent == NULL || !is_continent(continent)) {
		return map_fail(m, "not a continent code:", continent ? continent : "");
	}
	if (subdivision != NULL && (!is_subdivision(subdivision) || extra != NULL)) {
		return map_fail(m, extra ? "more than four fields:" : "not a subdivision code:",
		                extra ? extra : subdivision);
	}
	const char *const subs[1] = { subdivision };
	int32_t choice = policy_geo_choose(n, spec, subs, subdivision != NULL, country, continent);
	if (choice < 0) {
		return CIRRUS_ENOMEM;
	}
	int r = policy_trie_insert(&n->trie[a.family == POLICY_FAMILY_IPV6], a.bytes,
	                           a.prefix, choice);
	return r == CIRRUS_EEXIST ? map_fail(m, "prefix listed twice:", prefix) : r;
}

/* The CIDR map file into n's tries. */
static int map_load(policy_node_t *n, const policy_spec_t *spec, policy_errbuf_t *e)
{
	int r = 0;
	FILE *f = fopen(spec->map, "r");
	if (f == NULL) {
		policy_fail(e, spec->line, "map %s: %s", spec->map, strerror(errno));
		return CIRRUS_EIO;
	}
	map_file_t m = { .path = spec->map, .e = e };
	char *buf = NULL;
	size_t cap = 0;
	while (r == 0 && getline(&buf, &cap, f) >= 0) {
		m.line++;
		char *hash = strchr(buf, '#');
		if (hash != NULL) {
			*hash = '\0';
		}
		r = map_line(&m, n, spec, buf);
	}
	if (r == 0 && ferror(f)) {
		policy_fail(e, spec->line, "map %s: read error", spec->map);
		r = CIRRUS_EIO;
	}
	free(buf);
	fclose(f);
	return r;
}

int policy_geo_load(policy_node_t *n, const policy_spec_t *spec, policy_errbuf_t *e)
{
	int r = check_codes(spec, e);
	if (r != 0) {
		return r;
	}
	if ((spec->map == NULL) == (spec->mmdb == NULL)) {
		return policy_fail(e, spec->line, "the geo rule needs either 'map' (a CIDR map "
		                   "file) or 'mmdb' (a MaxMind database), not %s",
		                   spec->map ? "both" : "neither");
	}
	return spec->mmdb != NULL ? policy_mmdb_load(n, spec, e) : map_load(n, spec, e);
}
