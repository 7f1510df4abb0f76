/* SPDX-License-Identifier: Apache-2.0
 * log.c -- timestamped log lines on stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "util/log.h"

static log_level_t g_level = LOG_LEVEL_INFO;

static const char *level_name(log_level_t level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:   return "error";
	case LOG_LEVEL_WARNING: return "warning";
	case LOG_LEVEL_INFO:    return "info";
	case LOG_LEVEL_DEBUG:   return "debug";
	}
	return "?";
}

void log_set_level(log_level_t level)
{
	g_level = level;
}

void log_msg(log_level_t level, const char *fmt, ...)
{
	if (level > g_level) {
		return;
	}
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s: %s\n", stamp, level_name(level), line);
}
