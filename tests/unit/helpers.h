/* SPDX-License-Identifier: Apache-2.0
 * helpers.h -- small fixtures shared by the unit tests: zone text to a
 * loaded zone, and diagnostics captured for assertions.
 */
#pragma once

#include <stddef.h>
#include "zone/zone.h"

typedef struct diag_capture {
	char text[8192];   /*!< every diagnostic, "file:line: level: reason\n" */
	size_t errors;
	size_t warnings;
} diag_capture_t;

/*! \brief zone_diag_cb_t that appends to a diag_capture_t. */
void diag_capture(void *ctx, zone_diag_level_t level, const char *file,
                  uint64_t line, const char *reason);

/*!
 * \brief Write text to a temporary file and load it as a zone.
 * Returns zone_load_file's code; *out as there. The file is removed.
 */
int load_zone_text(const char *origin, const char *text, diag_capture_t *diag,
                   zone_t **out);

/*! \brief Like load_zone_text, but asserts success and returns the zone. */
zone_t *must_load(const char *origin, const char *text);
