/* SPDX-License-Identifier: Apache-2.0
 * health_spec.c -- check a health check as cirrus.yaml states it: its kind,
 * which keys apply to that kind, durations, status codes, DNS names and
 * rcodes, and link calculated checks to the checks they combine. conf/
 * reads the YAML; the rules for the values live here, next to their users.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libknot/libknot.h>

#include "health/health.h"
#include "util/addr.h"
#include "util/error.h"

#define DEFAULT_INTERVAL_MS 10000
#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_THRESHOLD 2
#define INTERVAL_MAX_MS (3600 * 1000)
#define DURATION_MAX_MS (UINT64_C(86400) * 1000)

static const char *const kind_names[] = {
	[HEALTH_KIND_HTTP] = "http", [HEALTH_KIND_HTTPS] = "https", [HEALTH_KIND_TCP] = "tcp",
	[HEALTH_KIND_DNS] = "dns", [HEALTH_KIND_CALCULATED] = "calculated",
};

void health_spec_init(health_spec_t *spec, uint64_t line)
{
	memset(spec, 0, sizeof(*spec));
	spec->line = line;
}

static void strv_free(policy_strv_t *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->v[i]);
	}
	free(v->v);
}

void health_spec_deinit(health_spec_t *spec)
{
	char *texts[] = { spec->name, spec->type, spec->address, spec->interval,
	                  spec->timeout, spec->method, spec->path, spec->host, spec->body,
	                  spec->ca_file, spec->query, spec->query_type, spec->rcode,
	                  spec->rule };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		free(texts[i]);
	}
	strv_free(&spec->expect);
	strv_free(&spec->checks);
	health_spec_init(spec, 0);
}

int health_duration_parse(const char *text, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	char *end = NULL;
	errno = 0;
	unsigned long long v = text != NULL && *text >= '0' && *text <= '9' ?
	                       strtoull(text, &end, 10) : 0;
	if (end == NULL || errno != 0 || v > DURATION_MAX_MS) {
		return CIRRUS_EINVAL;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0 && v * units[i].ms <= DURATION_MAX_MS) {
			*ms = v * units[i].ms;
			return 0;
		}
	}
	return CIRRUS_EINVAL;
}

/* Health keys appear in URLs (/api/v1/health/KEY/drill): keep them plain. */
static bool key_name_ok(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;
	return n >= 1 && n <= 127 &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                    "0123456789._-@") == n;
}

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CIRRUS_EINVAL;
}

/* The first key set that the kind does not use, or NULL. */
static const char *stray_key(const health_spec_t *s)
{
	bool web = s->kind == HEALTH_KIND_HTTP || s->kind == HEALTH_KIND_HTTPS;
	bool probe = s->kind != HEALTH_KIND_CALCULATED;
	const struct { bool set, allowed; const char *name; } keys[] = {
		{ s->address != NULL, probe, "address" },
		{ s->port != 0, probe, "port" },
		{ s->interval != NULL, probe, "interval" },
		{ s->timeout != NULL, probe, "timeout" },
		{ s->rise != 0, probe, "rise" },
		{ s->fall != 0, probe, "fall" },
		{ s->method != NULL, web, "method" },
		{ s->path != NULL, web, "path" },
		{ s->host != NULL, web, "host" },
		{ s->expect.n != 0, web, "expect" },
		{ s->body != NULL, web, "body" },
		{ s->ca_file != NULL, s->kind == HEALTH_KIND_HTTPS, "ca-file" },
		{ s->insecure, s->kind == HEALTH_KIND_HTTPS, "insecure" },
		{ s->query != NULL, s->kind == HEALTH_KIND_DNS, "query" },
		{ s->query_type != NULL, s->kind == HEALTH_KIND_DNS, "query-type" },
		{ s->rcode != NULL, s->kind == HEALTH_KIND_DNS, "rcode" },
		{ s->rule != NULL, !probe, "rule" },
		{ s->at_least != 0, !probe, "at-least" },
		{ s->checks.n != 0, !probe, "checks" },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].set && !keys[i].allowed) {
			return keys[i].name;
		}
	}
	return NULL;
}

/* "200" or "200-299", each from 100 to 599. */
static int parse_expect(health_spec_t *s, char *err, size_t errlen)
{
	if (s->expect.n > HEALTH_EXPECT_MAX) {
		return bad(err, errlen, "expect lists at most %d codes", HEALTH_EXPECT_MAX);
	}
	for (size_t i = 0; i < s->expect.n; i++) {
		unsigned lo = 0, hi = 0;
		int used = 0;
		const char *t = s->expect.v[i];
		int n = sscanf(t, "%3u%n-%3u%n", &lo, &used, &hi, &used);
		if (n == 1) {
			hi = lo;
		}
		if (n < 1 || t[used] != '\0' || lo < 100 || hi > 599 || lo > hi) {
			return bad(err, errlen, "expect: '%s' is not a status code (200) or a "
			           "range of them (200-299)", t);
		}
		s->expect_lo[i] = lo;
		s->expect_hi[i] = hi;
	}
	s->expect_count = s->expect.n;
	if (s->expect_count == 0) {
		s->expect_lo[0] = 200;
		s->expect_hi[0] = 399;
		s->expect_count = 1;
	}
	return 0;
}

static int check_web(health_spec_t *s, char *err, size_t errlen)
{
	if (s->method != NULL && (strlen(s->method) > 16 ||
	    strspn(s->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(s->method) ||
	    s->method[0] == '\0')) {
		return bad(err, errlen, "method must be an HTTP method in capitals (GET, "
		           "HEAD, ...), not '%s'", s->method);
	}
	if (s->path != NULL && (s->path[0] != '/' || strpbrk(s->path, " \r\n\t") != NULL)) {
		return bad(err, errlen, "path must start with / and hold no spaces, not '%s'",
		           s->path);
	}
	if (s->host != NULL && strpbrk(s->host, " \r\n\t/:@[]") != NULL) {
		return bad(err, errlen, "host must be a host name, not '%s'", s->host);
	}
	return parse_expect(s, err, errlen);
}

static int check_dns(health_spec_t *s, char *err, size_t errlen)
{
	knot_dname_storage_t name;
	const char *q = s->query != NULL ? s->query : ".";
	if (knot_dname_from_str(name, q, sizeof(name)) == NULL) {
		return bad(err, errlen, "query '%s' is not a domain name", q);
	}
	const char *t = s->query_type != NULL ? s->query_type : "SOA";
	if (knot_rrtype_from_string(t, &s->qtype) != 0) {
		return bad(err, errlen, "query-type '%s' is not a record type", t);
	}
	const char *rc = s->rcode != NULL ? s->rcode : "NOERROR";
	const knot_lookup_t *l = knot_lookup_by_name(knot_rcode_names, rc);
	if (l == NULL || l->id > 15) {
		return bad(err, errlen, "rcode '%s' is not an rcode (NOERROR, NXDOMAIN, "
		           "REFUSED, ...)", rc);
	}
	s->rcode_value = (uint8_t)l->id;
	return 0;
}

static int check_timing(health_spec_t *s, char *err, size_t errlen)
{
	uint64_t interval = DEFAULT_INTERVAL_MS, timeout = DEFAULT_TIMEOUT_MS;
	if (s->interval != NULL && (health_duration_parse(s->interval, &interval) != 0 ||
	    interval < HEALTH_INTERVAL_MIN_MS || interval > INTERVAL_MAX_MS)) {
		return bad(err, errlen, "interval must be a duration from 1s to 1h, not '%s'",
		           s->interval);
	}
	if (s->timeout == NULL && timeout > interval) {
		timeout = interval;
	}
	/* A probe still running when the next one is due would overlap it. */
	if (s->timeout != NULL && (health_duration_parse(s->timeout, &timeout) != 0 ||
	    timeout < 10 || timeout > interval)) {
		return bad(err, errlen, "timeout must be a duration from 10ms to the interval "
		           "(%llums), not '%s'", (unsigned long long)interval, s->timeout);
	}
	s->interval_ms = (unsigned)interval;
	s->timeout_ms = (unsigned)timeout;
	s->rise = s->rise ? s->rise : DEFAULT_THRESHOLD;
	s->fall = s->fall ? s->fall : DEFAULT_THRESHOLD;
	return 0;
}

static int check_probe(health_spec_t *s, char *err, size_t errlen)
{
	static const unsigned ports[] = {
		[HEALTH_KIND_HTTP] = 80, [HEALTH_KIND_HTTPS] = 443, [HEALTH_KIND_DNS] = 53,
		[HEALTH_KIND_TCP] = 0,
	};
	unsigned port = s->port ? s->port : ports[s->kind];
	if (port == 0) {
		return bad(err, errlen, "a tcp check needs a port");
	}
	if (s->address == NULL || !addr_parse(s->address, (uint16_t)port, &s->addr)) {
		return bad(err, errlen, "a %s check needs an address (a numeric IP), not '%s'",
		           kind_names[s->kind], s->address ? s->address : "");
	}
	int r = check_timing(s, err, errlen);
	if (r == 0 && (s->kind == HEALTH_KIND_HTTP || s->kind == HEALTH_KIND_HTTPS)) {
		r = check_web(s, err, errlen);
	}
	if (r == 0 && s->kind == HEALTH_KIND_DNS) {
		r = check_dns(s, err, errlen);
	}
	return r;
}

static int check_calculated(health_spec_t *s, char *err, size_t errlen)
{
	static const char *const rules[] = {
		[HEALTH_RULE_ALL] = "all", [HEALTH_RULE_ANY] = "any",
		[HEALTH_RULE_AT_LEAST] = "at-least",
	};
	size_t i = 0;
	while (s->rule != NULL && i < 3 && strcmp(s->rule, rules[i]) != 0) {
		i++;
	}
	if (s->rule == NULL || i == 3) {
		return bad(err, errlen, "a calculated check needs rule: all, any or at-least");
	}
	s->rule_value = (health_rule_t)i;
	if (s->checks.n == 0 || s->checks.n > HEALTH_CHILDREN_MAX) {
		return bad(err, errlen, "a calculated check needs checks: a list of 1 to %d "
		           "check names", HEALTH_CHILDREN_MAX);
	}
	if ((s->rule_value == HEALTH_RULE_AT_LEAST) != (s->at_least != 0)) {
		return bad(err, errlen, "at-least: N goes with rule: at-least, and only with it");
	}
	if (s->at_least > s->checks.n) {
		return bad(err, errlen, "at-least: %u is more than the %zu checks listed",
		           s->at_least, s->checks.n);
	}
	return 0;
}

int health_spec_check(health_spec_t *s, char *err, size_t errlen)
{
	if (!key_name_ok(s->name)) {
		return bad(err, errlen, "a check needs a name of 1 to 127 letters, digits and "
		           ". _ - @ (the health key policies name), not '%s'",
		           s->name ? s->name : "");
	}
	size_t k = 0;
	while (s->type != NULL && k < 5 && strcmp(s->type, kind_names[k]) != 0) {
		k++;
	}
	if (s->type == NULL || k == 5) {
		return bad(err, errlen, "check %s: type must be http, https, tcp, dns or "
		           "calculated", s->name);
	}
	s->kind = (health_kind_t)k;
	const char *stray = stray_key(s);
	if (stray != NULL) {
		return bad(err, errlen, "check %s: '%s' does not apply to a %s check", s->name,
		           stray, s->type);
	}
	char why[200];
	int r = s->kind == HEALTH_KIND_CALCULATED ? check_calculated(s, why, sizeof(why)) :
	        check_probe(s, why, sizeof(why));
	return r == 0 ? 0 : bad(err, errlen, "check %s: %s", s->name, why);
}

static size_t find_before(const health_spec_t *specs, size_t before, const char *name)
{
	for (size_t i = 0; i < before; i++) {
		if (strcmp(specs[i].name, name) == 0) {
			return i;
		}
	}
	return SIZE_MAX;
}

int health_specs_link(health_spec_t *specs, size_t count, size_t *bad_index, char *err,
                      size_t errlen)
{
	for (size_t i = 0; i < count; i++) {
		health_spec_t *s = &specs[i];
		*bad_index = i;
		if (find_before(specs, i, s->name) != SIZE_MAX) {
			return bad(err, errlen, "check %s is declared twice", s->name);
		}
		s->child_count = 0;
		for (size_t c = 0; c < s->checks.n; c++) {
			size_t at = find_before(specs, i, s->checks.v[c]);
			if (at == SIZE_MAX) {
				return bad(err, errlen, "check %s: '%s' is not a check declared above it",
				           s->name, s->checks.v[c]);
			}
			for (size_t d = 0; d < s->child_count; d++) {
				if (s->children[d] == at) {
					return bad(err, errlen, "check %s: '%s' is listed twice", s->name,
					           s->checks.v[c]);
				}
			}
			s->children[s->child_count++] = at;
		}
	}
	return 0;
}

int health_policy_keys(const policy_spec_t *specs, size_t count, policy_strv_t *out)
{
	for (size_t i = 0; i < count; i++) {
		const policy_spec_t *e = &specs[i];
		if (e->health != NULL) {
			char **grown = realloc(out->v, (out->n + 1) * sizeof(*grown));
			if (grown == NULL) {
				return CIRRUS_ENOMEM;
			}
			out->v = grown;
			out->v[out->n++] = e->health;
		}
		int r = health_policy_keys(e->endpoints, e->endpoint_count, out);
		if (r != 0) {
			return r;
		}
	}
	return 0;
}
