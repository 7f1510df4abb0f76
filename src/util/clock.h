/* SPDX-License-Identifier: Apache-2.0
 * clock.h -- elapsed time for log lines and reports.
 */
#pragma once

#include <time.h>

/*! \brief Milliseconds on the monotonic clock (for differences only). */
static inline double clock_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
