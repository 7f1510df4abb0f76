/* SPDX-License-Identifier: Apache-2.0
 * zone_load.c -- reading RFC 1035 master files into a zone builder.
 * libzscanner parses records; this file walks the text line by line to
 * handle the two directives it does not: $INCLUDE (so that included files
 * get their own name in diagnostics and may use $GENERATE) and BIND's
 * $GENERATE, which libzscanner lacks.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libzscanner/scanner.h>

#include "util/error.h"
#include "zone/zone_generate.h"
#include "zone/zone_internal.h"

#define INCLUDE_DEPTH_MAX 16
#define DEFAULT_TTL 3600      /* for records before any $TTL or explicit TTL */

typedef struct load_file {
	zone_builder_t *b;
	const char *file;       /*!< name used in diagnostics */
	int rc;                 /*!< first fatal error (memory) */
} load_file_t;

static void on_record(zs_scanner_t *s)
{
	load_file_t *f = s->process.data;
	int rc = zone_builder_add(f->b, s->r_owner, s->r_class, s->r_type, s->r_ttl,
	                          s->r_data, s->r_data_length, f->file, s->line_counter);
	if (rc != 0 && f->rc == 0) {
		f->rc = rc;
		s->state = ZS_STATE_STOP;
	}
}

static void on_error(zs_scanner_t *s)
{
	load_file_t *f = s->process.data;
	f->b->syntax_errors++;
	zone_builder_report(f->b, ZONE_DIAG_ERROR, f->file, s->line_counter,
	                    "%s", zs_strerror(s->error.code));
}

static int read_file(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return CIRRUS_EIO;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return CIRRUS_EIO;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return CIRRUS_ENOMEM;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0) {
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

/* Feed a block of zone text to the scanner; lines count from first_line. */
static void parse_block(zs_scanner_t *s, const char *text, size_t len,
                        uint64_t first_line)
{
	if (len == 0 || s->error.fatal || s->state == ZS_STATE_STOP) {
		return;
	}
	if (zs_set_input_string(s, text, len) != 0) {
		return;
	}
	s->line_counter = first_line;
	zs_parse_all(s);
}

static bool directive_is(const char *line, const char *name)
{
	size_t n = strlen(name);
	return strncasecmp(line, name, n) == 0 && (line[n] == ' ' || line[n] == '\t');
}

/* Paren depth after one line, ignoring quoted text, escapes and comments. */
static int paren_depth_after(const char *p, const char *end, int depth)
{
	bool quoted = false;
	for (; p < end; p++) {
		if (*p == '\\' && p + 1 < end) {
			p++;
		} else if (*p == '"') {
			quoted = !quoted;
		} else if (!quoted && *p == ';') {
			break;
		} else if (!quoted && *p == '(') {
			depth++;
		} else if (!quoted && *p == ')' && depth > 0) {
			depth--;
		}
	}
	return depth;
}

static int load_text(zone_builder_t *b, const char *file, const char *text,
                     size_t len, const char *origin, const zs_scanner_t *parent,
                     int depth);

/* Load one file; parent is the includer's scanner (NULL at the top). */
static int load_path(zone_builder_t *b, const char *path, const char *origin,
                     const zs_scanner_t *parent, int depth, const char *from,
                     uint64_t from_line)
{
	const char *from_file = from ? from : path;
	if (depth > INCLUDE_DEPTH_MAX) {
		zone_builder_report(b, ZONE_DIAG_ERROR, from_file, from_line,
		                    "$INCLUDE nested deeper than %d levels", INCLUDE_DEPTH_MAX);
		return CIRRUS_EPARSE;
	}
	char *text;
	size_t len;
	int rc = read_file(path, &text, &len);
	if (rc != 0) {
		zone_builder_report(b, ZONE_DIAG_ERROR, from_file, from_line,
		                    "cannot read %s: %s", path, strerror(errno));
		return rc;
	}
	rc = load_text(b, zone_builder_file(b, path), text, len, origin, parent, depth);
	free(text);
	return rc;
}

/* The directory of file joined with a relative name. */
static char *path_beside(const char *file, const char *name)
{
	if (name[0] == '/') {
		return strdup(name);
	}
	char *copy = strdup(file);
	if (copy == NULL) {
		return NULL;
	}
	char *joined = NULL;
	if (asprintf(&joined, "%s/%s", dirname(copy), name) < 0) {
		joined = NULL;
	}
	free(copy);
	return joined;
}

static void scanner_origin(const zs_scanner_t *s, char *out, size_t size)
{
	if (knot_dname_to_str(out, s->zone_origin, size) == NULL) {
		snprintf(out, size, ".");
	}
}

/* One blank-separated token of a directive into out. A file name is
 * unquoted and its \X and \DDD escapes resolved (RFC 1035 5.1); a domain
 * name (unescape false) keeps its escapes for the name parser. False at
 * the end of the line or at a comment. */
static bool directive_token(const char **pos, const char *end, char *out, size_t size,
                            bool unescape)
{
	const char *p = *pos;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) {
		p++;
	}
	if (p == end || *p == ';') {
		return false;
	}
	bool quoted = *p == '"';
	p += quoted;
	size_t n = 0;
	while (p < end && n + 1 < size) {
		if (quoted ? *p == '"' : (*p == ' ' || *p == '\t' || *p == '\r' || *p == ';')) {
			p += quoted;
			break;
		}
		if (*p == '\\' && !unescape && end - p >= 2 && n + 2 < size) {
			out[n++] = *p++;
			out[n++] = *p++;
		} else if (*p == '\\' && end - p >= 4 && isdigit((unsigned char)p[1]) &&
		    isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3])) {
			out[n++] = (char)((p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0'));
			p += 4;
		} else if (*p == '\\' && end - p >= 2) {
			out[n++] = p[1];
			p += 2;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	*pos = p;
	return true;
}

/* $INCLUDE file [origin]: the included text starts with the given origin
 * (relative to the current one, @ meaning the current one) and the owner
 * of the includer's last record, as BIND does; the includer's own origin
 * is left alone. */
static int handle_include(zs_scanner_t *s, zone_builder_t *b, const char *file,
                          uint64_t line_no, const char *line, size_t len, int depth)
{
	const char *p = line + strlen("$INCLUDE"), *end = line + len;
	char name[1024], origin_arg[KNOT_DNAME_TXT_MAXLEN + 1];
	if (!directive_token(&p, end, name, sizeof(name), true)) {
		zone_builder_report(b, ZONE_DIAG_ERROR, file, line_no, "$INCLUDE without a file name");
		b->syntax_errors++;
		return 0;
	}
	char origin[2 * KNOT_DNAME_TXT_MAXLEN + 4]; /* too long: zs_init refuses it */
	char current[KNOT_DNAME_TXT_MAXLEN + 1];
	scanner_origin(s, current, sizeof(current));
	if (!directive_token(&p, end, origin_arg, sizeof(origin_arg), false) ||
	    strcmp(origin_arg, "@") == 0) {
		snprintf(origin, sizeof(origin), "%s", current);
	} else if (origin_arg[strlen(origin_arg) - 1] == '.') {
		snprintf(origin, sizeof(origin), "%s", origin_arg);
	} else {
		snprintf(origin, sizeof(origin), "%s.%s", origin_arg,
		         strcmp(current, ".") == 0 ? "" : current);
	}
	char *path = path_beside(file, name);
	if (path == NULL) {
		return CIRRUS_ENOMEM;
	}
	int rc = load_path(b, path, origin, s, depth + 1, file, line_no);
	free(path);
	return rc == CIRRUS_ENOMEM ? rc : 0;
}

static void feed_generated(void *ctx, const char *record, size_t len, uint64_t line)
{
	parse_block(ctx, record, len, line);
}

static int load_text(zone_builder_t *b, const char *file, const char *text,
                     size_t len, const char *origin, const zs_scanner_t *parent,
                     int depth)
{
	uint32_t ttl = parent ? parent->default_ttl : DEFAULT_TTL;
	zs_scanner_t *s = malloc(sizeof(*s));
	if (s == NULL) {
		return CIRRUS_ENOMEM;
	}
	load_file_t f = { .b = b, .file = file };
	if (zs_init(s, origin, KNOT_CLASS_IN, ttl) != 0 ||
	    zs_set_processing(s, on_record, on_error, &f) != 0) {
		zone_builder_report(b, ZONE_DIAG_ERROR, file, 0, "invalid origin %s", origin);
		zs_deinit(s);
		free(s);
		return CIRRUS_EINVAL;
	}
	if (parent != NULL) {
		memcpy(s->r_owner, parent->r_owner, parent->r_owner_length);
		s->r_owner_length = parent->r_owner_length;
	}

	const char *block = text;
	uint64_t block_line = 1, line_no = 1;
	int parens = 0, rc = 0;
	const char *end = text + len;
	for (const char *line = text; line < end && rc != CIRRUS_ENOMEM; line_no++) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *next = eol ? eol + 1 : end;
		size_t line_len = (size_t)((eol ? eol : end) - line);
		bool include = parens == 0 && directive_is(line, "$INCLUDE");
		bool generate = parens == 0 && directive_is(line, "$GENERATE");
		if (include || generate) {
			parse_block(s, block, (size_t)(line - block), block_line);
			if (include) {
				rc = handle_include(s, b, file, line_no, line, line_len, depth);
			} else if (zone_generate(line, line_len, line_no, feed_generated, s) != 0) {
				b->syntax_errors++;
				zone_builder_report(b, ZONE_DIAG_ERROR, file, line_no,
				                    "invalid $GENERATE directive");
			}
			block = next;
			block_line = line_no + 1;
		} else {
			parens = paren_depth_after(line, line + line_len, parens);
		}
		line = next;
	}
	parse_block(s, block, (size_t)(end - block), block_line);
	if (f.rc != 0) {
		rc = f.rc;
	}
	zs_deinit(s);
	free(s);
	return rc;
}

int zone_load_file(const char *path, const char *origin, zone_diag_cb_t diag,
                   void *ctx, zone_t **out)
{
	*out = NULL;
	char fqdn[KNOT_DNAME_TXT_MAXLEN + 2];
	size_t olen = strlen(origin);
	snprintf(fqdn, sizeof(fqdn), "%s%s", origin,
	         (olen > 0 && origin[olen - 1] == '.') ? "" : ".");
	knot_dname_storage_t apex;
	if (knot_dname_from_str(apex, fqdn, sizeof(apex)) == NULL) {
		if (diag != NULL) {
			diag(ctx, ZONE_DIAG_ERROR, path, 0, "invalid zone origin");
		}
		return CIRRUS_EINVAL;
	}
	knot_dname_to_lower(apex);

	zone_builder_t b;
	int rc = zone_builder_init(&b, apex, diag, ctx);
	if (rc == 0) {
		rc = load_path(&b, path, fqdn, NULL, 0, NULL, 0);
	}
	if (rc == 0 && b.errors == 0) {
		zone_check_zone(&b, true);
	}
	if (rc == 0) {
		rc = zone_builder_finish(&b, out);
		if (rc != 0 && b.syntax_errors > 0) {
			rc = CIRRUS_EPARSE;
		}
	}
	if (*out != NULL) {
		(*out)->source = strdup(path);
		if ((*out)->source == NULL) {
			zone_free(*out);
			*out = NULL;
			rc = CIRRUS_ENOMEM;
		}
	}
	zone_builder_deinit(&b);
	return rc;
}
