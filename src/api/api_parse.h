/* SPDX-License-Identifier: Apache-2.0
 * api_parse.h -- inside api/: the parsers of what clients send, the PATCH
 * body reader (api_patch.c) and the time parser (api_time.c), kept free of
 * HTTP so that unit tests and fuzz targets call them directly. Other
 * modules use api.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ctl/ctl.h"

/*! \brief Why a request body is refused: the field at fault and a message. */
typedef struct api_fail {
	char field[64];
	char message[256];
} api_fail_t;

/*! \brief The changes of one PATCH; strings point into the JSON body. */
typedef struct api_patch {
	ctl_change_t *changes;
	size_t count;
} api_patch_t;

/*!
 * \brief Read {"rrsets": [...]} into changes for ctl_rrsets_patch().
 * \param body  the parsed body (keeps owning the strings p points to)
 * \param p     filled; release with api_patch_free() whatever the result
 * \param fail  on CIRRUS_EINVAL, the field ("rrsets[1].ttl") and why
 * \retval 0, CIRRUS_EINVAL, CIRRUS_ENOMEM
 */
int api_patch_read(json_t *body, api_patch_t *p, api_fail_t *fail);

/*! \brief Free what api_patch_read() allocated (not the body). */
void api_patch_free(api_patch_t *p);

/*!
 * \brief A time as unix seconds ("1714564800") or RFC 3339 section 5.6
 * ("2024-05-01T12:00:00.5+02:00"), as microseconds since the epoch.
 * \retval true, false when it is neither
 */
bool api_time_parse(const char *text, int64_t *us);

/*! \brief RFC 3339 UTC time with microseconds ("2024-05-01T12:00:00.000000Z"). */
void api_time_format(int64_t us, char out[40]);
