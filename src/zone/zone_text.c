/* SPDX-License-Identifier: Apache-2.0
 * zone_text.c -- records in presentation form, both ways: one RDATA parsed
 * with libzscanner (the same parser zone files go through), RRsets and whole
 * zones written as master-file text with libknot's dumper.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libzscanner/scanner.h>

#include "util/error.h"
#include "zone/zone_internal.h"

typedef struct parsed {
	int records;
	uint8_t *out;
	uint16_t *out_len;
	char *err;
	size_t errlen;
} parsed_t;

static void on_rdata(zs_scanner_t *s)
{
	parsed_t *p = s->process.data;
	if (++p->records == 1) {
		memcpy(p->out, s->r_data, s->r_data_length);
		*p->out_len = (uint16_t)s->r_data_length;
	}
}

static void on_rdata_error(zs_scanner_t *s)
{
	parsed_t *p = s->process.data;
	if (p->err[0] == '\0') {
		snprintf(p->err, p->errlen, "%s", zs_strerror(s->error.code));
	}
}

int zone_rdata_parse(const knot_dname_t *origin, uint16_t type, const char *text,
                     uint8_t *out, uint16_t *out_len, char *err, size_t errlen)
{
	err[0] = '\0';
	if (strpbrk(text, "\n\r") != NULL || text[0] == '\0') {
		snprintf(err, errlen, "%s", text[0] ? "line breaks are not allowed" : "empty record");
		return CIRRUS_EINVAL;
	}
	char origin_txt[KNOT_DNAME_TXT_MAXLEN + 1], type_txt[32];
	knot_dname_to_str(origin_txt, origin, sizeof(origin_txt));
	knot_rrtype_to_string(type, type_txt, sizeof(type_txt));
	size_t len = strlen(text) + strlen(type_txt) + 16;
	char *line = malloc(len);
	zs_scanner_t *s = malloc(sizeof(*s));
	int rc = CIRRUS_ENOMEM;
	if (line != NULL && s != NULL) {
		snprintf(line, len, "@ 0 IN %s %s\n", type_txt, text);
		parsed_t p = { .out = out, .out_len = out_len, .err = err, .errlen = errlen };
		rc = CIRRUS_EINVAL;
		if (zs_init(s, origin_txt, KNOT_CLASS_IN, 0) == 0 &&
		    zs_set_processing(s, on_rdata, on_rdata_error, &p) == 0 &&
		    zs_set_input_string(s, line, strlen(line)) == 0) {
			zs_parse_all(s);
			if (err[0] == '\0' && p.records == 1) {
				rc = 0;
			} else if (err[0] == '\0') {
				snprintf(err, errlen, "expected exactly one record");
			}
		}
		zs_deinit(s);
	}
	free(s);
	free(line);
	return rc;
}

static knot_rrset_t as_knot(const knot_dname_t *owner, const zone_rrset_t *rs)
{
	knot_rrset_t rr;
	knot_rrset_init(&rr, (knot_dname_t *)owner, rs->type, KNOT_CLASS_IN, rs->ttl);
	rr.rrs = rs->rrs;
	return rr;
}

int zone_rdata_dump(const knot_dname_t *owner, const zone_rrset_t *rs, uint16_t pos,
                    char *out, size_t size)
{
	knot_rrset_t rr = as_knot(owner, rs);
	int n = knot_rrset_txt_dump_data(&rr, pos, out, size, &KNOT_DUMP_STYLE_DEFAULT);
	return n < 0 ? CIRRUS_ESPACE : n;
}

static int cmp_nodes(const void *a, const void *b)
{
	const zone_node_t *x = *(const zone_node_t *const *)a;
	const zone_node_t *y = *(const zone_node_t *const *)b;
	return knot_dname_cmp(x->owner, y->owner);
}

int zone_nodes_sorted(const zone_t *zone, const zone_node_t ***out, size_t *count)
{
	const zone_node_t **nodes = malloc((zone->node_count + 1) * sizeof(*nodes));
	if (nodes == NULL) {
		return CIRRUS_ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i <= zone->table_mask; i++) {
		if (zone_slot(zone, i) != NULL) {
			nodes[n++] = zone_slot(zone, i);
		}
	}
	qsort(nodes, n, sizeof(*nodes), cmp_nodes); /* canonical order, RFC 4034 6.1 */
	*out = nodes;
	*count = n;
	return 0;
}

/* Append one RRset's records as master-file lines. */
static int dump_rrset(const knot_dname_t *owner, const zone_rrset_t *rs, FILE *f,
                      char **buf, size_t *size)
{
	knot_rrset_t rr = as_knot(owner, rs);
	int n = knot_rrset_txt_dump(&rr, buf, size, &KNOT_DUMP_STYLE_DEFAULT);
	if (n < 0) {
		return CIRRUS_ENOMEM;
	}
	fwrite(*buf, 1, (size_t)n, f);
	return 0;
}

int zone_export_text(const zone_t *zone, char **text)
{
	const zone_node_t **nodes;
	size_t count;
	int rc = zone_nodes_sorted(zone, &nodes, &count);
	if (rc != 0) {
		return rc;
	}
	size_t text_len = 0;
	FILE *f = open_memstream(text, &text_len);
	size_t size = 4096;
	char *buf = malloc(size);
	if (f == NULL || buf == NULL) {
		rc = CIRRUS_ENOMEM;
	}
	/* SOA first: the apex sorts first, and its SOA before its other RRsets. */
	if (rc == 0 && zone->soa != NULL) {
		rc = dump_rrset(zone_apex(zone), zone->soa, f, &buf, &size);
	}
	for (size_t i = 0; rc == 0 && i < count; i++) {
		for (uint16_t r = 0; rc == 0 && r < nodes[i]->rrset_count; r++) {
			const zone_rrset_t *rs = &nodes[i]->rrsets[r];
			if (rs != zone->soa) {
				rc = dump_rrset(nodes[i]->owner, rs, f, &buf, &size);
			}
		}
	}
	free(buf);
	free(nodes);
	if (f != NULL && fclose(f) != 0 && rc == 0) {
		rc = CIRRUS_ENOMEM;
	}
	if (rc != 0 && f != NULL) {
		free(*text);
		*text = NULL;
	}
	return rc;
}
