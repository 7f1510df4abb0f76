/* SPDX-License-Identifier: Apache-2.0
 * policy_spec.c -- the plain form of a policy as the configuration gives
 * it: defaults before its keys are read, and release.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

void policy_spec_init(policy_spec_t *spec, uint64_t line)
{
	memset(spec, 0, sizeof(*spec));
	spec->line = line;
	spec->ttl = 60;
	spec->weight = 1;
}

static void strv_free(policy_strv_t *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i]);
	}
	free(s->v);
	*s = (policy_strv_t){ 0 };
}

void policy_spec_deinit(policy_spec_t *spec)
{
	if (spec == NULL) {
		return;
	}
	for (size_t i = 0; i < spec->endpoint_count; i++) {
		policy_spec_deinit(&spec->endpoints[i]);
	}
	free(spec->endpoints);
	free(spec->name);
	free(spec->type);
	free(spec->target);
	free(spec->fail);
	free(spec->rule);
	free(spec->map);
	free(spec->mmdb);
	free(spec->latency);
	free(spec->latency_table);
	free(spec->latency_data);
	free(spec->rdata);
	free(spec->region);
	free(spec->health);
	strv_free(&spec->countries);
	strv_free(&spec->continents);
	strv_free(&spec->subdivisions);
	strv_free(&spec->cidrs);
	memset(spec, 0, sizeof(*spec));
}
