/* SPDX-License-Identifier: Apache-2.0
 * policy_json.h -- a policy spec to and from JSON: the form the REST API
 * takes and the store keeps, with the keys, nesting and limits of the YAML
 * form (docs/policies.md). Control plane only: the data plane never sees
 * JSON, and policy.h stays free of jansson.
 */
#pragma once

#include <jansson.h>

#include "policy/policy.h"

/*!
 * \brief Read a policy from a JSON object into spec. Each mapping (the
 * policy, each endpoint) gets as its `line` its 1-based index in paths,
 * which holds its JSON path ("" for the policy, "endpoints[1]",
 * "endpoints[0].endpoints[2]"), so that a compile error's line names the
 * part of the request it is about (policy_json_path).
 * \param obj     the policy: name and type optional, else as in YAML
 * \param spec    filled (policy_spec_deinit it in every case)
 * \param paths   filled with the paths (free with policy_json_paths_free)
 * \param field   on failure the JSON path of the bad key ("endpoints[1].weight")
 * \param err     on failure why
 * \retval 0, -CIRRUS_EINVAL (unknown key, wrong JSON type, out of range, a
 *         relative file name), -CIRRUS_ENOMEM
 */
int policy_json_read(json_t *obj, policy_spec_t *spec, policy_strv_t *paths,
                     char *field, size_t fieldlen, char *err, size_t errlen);

/*! \brief The path of the mapping a spec line stands for ("" when unknown). */
const char *policy_json_path(const policy_strv_t *paths, uint64_t line);

/*! \brief Free what policy_json_read() put in paths. */
void policy_json_paths_free(policy_strv_t *paths);

/*!
 * \brief A spec as JSON, keys in the documented order, with defaults left
 * out (ttl always written): policy_json_read() of it gives the same spec.
 * \return a new object, NULL when out of memory
 */
json_t *policy_json_write(const policy_spec_t *spec);
