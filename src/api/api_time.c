/* SPDX-License-Identifier: Apache-2.0
 * api_time.c -- times as the API reads and writes them: RFC 3339 (section
 * 5.6 date-time, any offset, fractions of a second cut to microseconds) or
 * unix seconds in, RFC 3339 UTC with microseconds out. Written by hand:
 * strptime(3) takes neither offsets with a colon nor fractions.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_parse.h"

/* n decimal digits at *p into *out. */
static bool digits(const char **p, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p)) {
			return false;
		}
		*out = *out * 10 + (*(*p)++ - '0');
	}
	return true;
}

static bool expect(const char **p, const char *any)
{
	if (**p == '\0' || strchr(any, **p) == NULL) {
		return false;
	}
	(*p)++;
	return true;
}

/* Fraction of a second after the dot, as microseconds (extra digits cut). */
static bool fraction(const char **p, long *us)
{
	int n = 0;
	*us = 0;
	for (; isdigit((unsigned char)**p); n++, (*p)++) {
		if (n < 6) {
			*us = *us * 10 + (**p - '0');
		}
	}
	for (int k = n; k < 6; k++) {
		*us *= 10;
	}
	return n > 0;
}

/* "Z" or "+HH:MM"/"-HH:MM" as seconds east of UTC. */
static bool utc_offset(const char **p, long *offset)
{
	int h, m;
	*offset = 0;
	if (expect(p, "Zz")) {
		return true;
	}
	char sign = **p;
	if (!expect(p, "+-") || !digits(p, 2, &h) || !expect(p, ":") || !digits(p, 2, &m) ||
	    h > 23 || m > 59) {
		return false;
	}
	*offset = (sign == '-' ? -1 : 1) * (h * 3600L + m * 60L);
	return true;
}

/* RFC 3339 date-time (section 5.6), e.g. 2024-05-01T12:00:00.5+02:00. */
static bool parse_rfc3339(const char *s, int64_t *us)
{
	int y, mo, d, h, mi, sec;
	long frac = 0, offset = 0;
	const char *p = s;
	if (!digits(&p, 4, &y) || !expect(&p, "-") || !digits(&p, 2, &mo) || !expect(&p, "-") ||
	    !digits(&p, 2, &d) || !expect(&p, "Tt ") || !digits(&p, 2, &h) || !expect(&p, ":") ||
	    !digits(&p, 2, &mi) || !expect(&p, ":") || !digits(&p, 2, &sec)) {
		return false;
	}
	if ((*p == '.' && (p++, !fraction(&p, &frac))) || !utc_offset(&p, &offset) || *p != '\0') {
		return false;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
		return false;
	}
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
	                 .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	time_t t = timegm(&tm);
	if (tm.tm_mday != d && sec != 60) {
		return false;    /* February 30 and the like */
	}
	*us = ((int64_t)t - offset) * 1000000 + frac;
	return true;
}

bool api_time_parse(const char *s, int64_t *us)
{
	size_t len = strlen(s);
	if (len > 0 && len <= 12 && strspn(s, "0123456789") == len) {
		*us = strtoll(s, NULL, 10) * 1000000;
		return true;
	}
	return parse_rfc3339(s, us);
}

void api_time_format(int64_t us, char out[40])
{
	time_t sec = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	if (frac < 0) {
		sec--;
		frac += 1000000;
	}
	struct tm tm;
	size_t len = gmtime_r(&sec, &tm) != NULL ?
	             strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm) : 0;
	if (len == 0 || len > 30) {
		snprintf(out, 40, "1970-01-01T00:00:00.000000Z");
		return;
	}
	snprintf(out + len, 40 - len, ".%06ldZ", frac);
}
