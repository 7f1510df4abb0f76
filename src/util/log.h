/* SPDX-License-Identifier: Apache-2.0
 * log.h -- log lines to stderr with a level; the only place text is printed
 * by the daemon. Not for the query hot path.
 */
#pragma once

typedef enum {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
} log_level_t;

/*! \brief Only messages at or above this level are printed (default INFO). */
void log_set_level(log_level_t level);

/*! \brief printf-style log line, prefixed with time and level. */
void log_msg(log_level_t level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...)   log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
