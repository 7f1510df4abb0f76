/* SPDX-License-Identifier: Apache-2.0
 * zone_generate.c -- $GENERATE expansion (BIND 9 semantics) into record text
 * that the normal zone-file scanner then parses, so generated records get
 * exactly the same checks as written ones.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "zone/zone_generate.h"

#define GENERATE_MAX_COUNT 1000000 /* a typo in a range must not hang a load */
#define TOKEN_MAX 8

typedef struct gen_range {
	long start, stop, step;
} gen_range_t;

static int parse_range(const char *tok, gen_range_t *r)
{
	char *end;
	r->step = 1;
	r->start = strtol(tok, &end, 10);
	if (end == tok || *end != '-' || r->start < 0) {
		return CIRRUS_EPARSE;
	}
	const char *p = end + 1;
	r->stop = strtol(p, &end, 10);
	if (end == p || r->stop < r->start) {
		return CIRRUS_EPARSE;
	}
	if (*end == '/') {
		p = end + 1;
		r->step = strtol(p, &end, 10);
		if (end == p || r->step <= 0) {
			return CIRRUS_EPARSE;
		}
	}
	if (*end != '\0' || (r->stop - r->start) / r->step >= GENERATE_MAX_COUNT) {
		return CIRRUS_EPARSE;
	}
	return 0;
}

/* Reverse-nibble form: value's hex digits least significant first, dot
 * separated; width counts output characters, dots included. */
static int put_nibbles(char *out, size_t size, unsigned long value, long width,
                       bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t n = 0;
	do {
		if (n + 2 >= size) {
			return -1;
		}
		out[n++] = digits[value & 0xf];
		value >>= 4;
		width--;
		if (width > 0 || value != 0) {
			out[n++] = '.';
			width--;
		}
	} while (value != 0 || width > 0);
	out[n] = '\0';
	return (int)n;
}

/* One ${offset,width,base} modifier at p (after "${"); sets *after. */
static int put_modified(char *out, size_t size, const char *p, const char **after,
                        long value)
{
	const char *close = strchr(p, '}');
	if (close == NULL || close - p > 64) {
		return -1;
	}
	char spec[72];
	snprintf(spec, sizeof(spec), "%.*s", (int)(close - p), p);
	long offset = 0, width = 0;
	char base = 'd', extra;
	int fields = sscanf(spec, "%ld,%ld,%c%c", &offset, &width, &base, &extra);
	if (fields < 1 || fields > 3 || width < 0 || width > 255 ||
	    strchr("doxXnN", base) == NULL) {
		return -1;
	}
	*after = close + 1;
	/* BIND computes in 32-bit ints: a sum outside them is an error, a
	 * negative one prints as signed decimal or as unsigned otherwise. */
	long v = value + offset;
	if (v > INT32_MAX || v < INT32_MIN) {
		return -1;
	}
	unsigned long u = (uint32_t)v;
	if (base == 'n' || base == 'N') {
		return put_nibbles(out, size, u, width, base == 'N');
	}
	char fmt[8] = { '%', '0', '*', 'l', base, '\0' };
	int n = base == 'd' ? snprintf(out, size, fmt, (int)width, v)
	                    : snprintf(out, size, fmt, (int)width, u);
	return (n < 0 || (size_t)n >= size) ? -1 : n;
}

/* Expand $ and ${...} in a template for one iteration value. */
static int expand(char *out, size_t size, const char *tmpl, long value)
{
	size_t n = 0;
	for (const char *p = tmpl; *p != '\0';) {
		int w;
		if (*p == '\\' && p[1] != '\0') {
			w = snprintf(out + n, size - n, "%c%c", p[0], p[1]);
			p += 2;
		} else if (*p == '$' && p[1] == '{') {
			w = put_modified(out + n, size - n, p + 2, &p, value);
		} else if (*p == '$') {
			w = snprintf(out + n, size - n, "%ld", value);
			p++;
		} else {
			w = snprintf(out + n, size - n, "%c", *p);
			p++;
		}
		if (w < 0 || (size_t)w >= size - n) {
			return -1;
		}
		n += (size_t)w;
	}
	return (int)n;
}

/* Split on blanks, stopping at a comment; the last token takes the rest. */
static int tokenize(char *buf, char **tok, int max)
{
	int count = 0;
	char *p = buf;
	while (*p != '\0' && count < max) {
		while (*p == ' ' || *p == '\t' || *p == '\r') {
			p++;
		}
		if (*p == '\0' || *p == ';') {
			break;
		}
		tok[count++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r') {
			p++;
		}
		if (*p != '\0') {
			*p++ = '\0';
		}
	}
	return count;
}

int zone_generate(const char *line, size_t len, uint64_t line_no,
                  zone_generate_cb_t cb, void *ctx)
{
	char buf[4096];
	if (len >= sizeof(buf)) {
		return CIRRUS_EPARSE;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	char *tok[TOKEN_MAX];
	int count = tokenize(buf, tok, TOKEN_MAX);
	/* $GENERATE range lhs [ttl] [class] type rhs: 5 to 7 tokens. */
	gen_range_t r;
	if (count < 5 || count > 7 || parse_range(tok[1], &r) != 0) {
		return CIRRUS_EPARSE;
	}
	const char *lhs = tok[2], *rhs = tok[count - 1];
	char middle[256] = "";
	for (int i = 3; i < count - 1; i++) {
		strncat(middle, tok[i], sizeof(middle) - strlen(middle) - 2);
		strcat(middle, " ");
	}
	char record[2048], owner[1024], rdata[1024];
	for (long v = r.start; v <= r.stop; v += r.step) {
		if (expand(owner, sizeof(owner), lhs, v) < 0 ||
		    expand(rdata, sizeof(rdata), rhs, v) < 0) {
			return CIRRUS_EPARSE;
		}
		int n = snprintf(record, sizeof(record), "%s %s%s\n", owner, middle, rdata);
		if (n < 0 || (size_t)n >= sizeof(record)) {
			return CIRRUS_EPARSE;
		}
		cb(ctx, record, (size_t)n, line_no);
	}
	return 0;
}
