/* SPDX-License-Identifier: Apache-2.0
 * test_policy_fixture.h -- building policy specs in C for the policy unit
 * tests, as the configuration loader would from YAML.
 */
#pragma once

#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

#define FIXTURE_EP_MAX 16

/* A spec mapping with room for FIXTURE_EP_MAX endpoints. */
static inline void fx_rule(policy_spec_t *s, const char *rule)
{
	s->rule = strdup(rule);
	s->endpoints = calloc(FIXTURE_EP_MAX, sizeof(*s->endpoints));
	assert_non_null(s->endpoints);
}

static inline policy_spec_t *fx_top(policy_spec_t *s, const char *name, const char *type,
                                    const char *rule)
{
	policy_spec_init(s, 1);
	s->name = strdup(name);
	s->type = strdup(type);
	fx_rule(s, rule);
	return s;
}

/* Append an endpoint (a record when rdata is not NULL); line = 100 + position. */
static inline policy_spec_t *fx_ep(policy_spec_t *s, const char *rdata, unsigned weight)
{
	assert_true(s->endpoint_count < FIXTURE_EP_MAX);
	policy_spec_t *e = &s->endpoints[s->endpoint_count];
	policy_spec_init(e, 100 + s->endpoint_count);
	s->endpoint_count++;
	e->rdata = rdata ? strdup(rdata) : NULL;
	e->weight = weight;
	return e;
}

static inline void fx_add(policy_strv_t *v, const char *text)
{
	v->v = realloc(v->v, (v->n + 1) * sizeof(*v->v));
	assert_non_null(v->v);
	v->v[v->n++] = strdup(text);
}

static inline const knot_dname_t *fx_origin(void)
{
	static knot_dname_storage_t origin;
	assert_non_null(knot_dname_from_str(origin, "example.com.", sizeof(origin)));
	return origin;
}

/* Compile, expecting success; the spec is released. */
static inline policy_t *fx_compile(policy_spec_t *s)
{
	char err[512] = "";
	policy_t *p = NULL;
	int r = policy_compile(s, fx_origin(), "test.yaml", &p, err, sizeof(err));
	if (r != 0) {
		fail_msg("compile failed (%d): %s", r, err);
	}
	policy_spec_deinit(s);
	return p;
}

/* Compile, expecting failure; the reason goes to err, the spec is released. */
static inline void fx_compile_fails(policy_spec_t *s, char *err, size_t errlen)
{
	policy_t *p = NULL;
	err[0] = '\0';
	int r = policy_compile(s, fx_origin(), "test.yaml", &p, err, errlen);
	policy_spec_deinit(s);
	assert_int_not_equal(r, 0);
	assert_null(p);
}

/* IPv4 address of the i-th record of an answer, last octet. */
static inline unsigned fx_last_octet(const policy_answer_t *a, unsigned i)
{
	assert_true(i < a->count);
	assert_int_equal(a->rdata[i]->len, 4);
	return a->rdata[i]->data[3];
}

static inline policy_addr_t fx_addr(const char *text)
{
	policy_addr_t a;
	assert_int_equal(policy_cidr_parse(text, &a), 0);
	return a;
}

/* The one record a rule answers client with (a prefix or an address);
 * scope gets the answer's ECS scope. */
static inline unsigned fx_answer(const policy_t *p, const policy_health_t *h,
                                 const char *client, uint8_t *scope)
{
	policy_addr_t c = fx_addr(client);
	policy_rng_t rng;
	policy_rng_seed(&rng, 1);
	policy_answer_t a;
	policy_eval(p, h, &c, &rng, &a);
	assert_int_equal(a.count, 1);
	*scope = a.scope;
	return fx_last_octet(&a, 0);
}
