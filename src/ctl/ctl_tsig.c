/* SPDX-License-Identifier: Apache-2.0
 * ctl_tsig.c -- TSIG keys for RFC 2136 UPDATE: checking a key before it is
 * stored, loading it for a request, and its authorization rules
 * (`zone=<zone> name=<glob> types=<TYPE,...|*>`, one per line). Not for
 * the signature itself: libknot's tsig-op does that (ctl_update.c).
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_update.h"
#include "util/error.h"

#define RULE_LINE_MAX 2048

/* A key name in the form it is stored and matched: lower case, no final dot. */
static int key_name_text(const knot_dname_t *wire, char *out, size_t size)
{
	if (wire[0] == 0 || knot_dname_to_str(out, wire, size) == NULL) {
		return CIRRUS_EINVAL;
	}
	for (char *p = out; *p != '\0'; p++) {
		*p = (char)tolower((unsigned char)*p);
	}
	out[strlen(out) - 1] = '\0';
	return 0;
}

int ctl_key_name(const char *name, char *out, size_t size)
{
	knot_dname_storage_t wire;
	if (knot_dname_from_str(wire, name, sizeof(wire)) == NULL) {
		return CIRRUS_EINVAL;
	}
	return key_name_text(wire, out, size);
}

static bool algorithm_known(const char *algorithm)
{
	return strcmp(algorithm, "hmac-sha256") == 0 || strcmp(algorithm, "hmac-sha512") == 0;
}

static int rule_types(ctl_rule_t *r, char *list, size_t line, char *err, size_t errlen)
{
	if (strcmp(list, "*") == 0) {
		r->any_type = true;
		return 0;
	}
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		uint16_t type;
		if (knot_rrtype_from_string(t, &type) != 0 || knot_rrtype_is_metatype(type)) {
			snprintf(err, errlen, "rule %zu: '%s' is not a record type", line, t);
			return CIRRUS_EINVAL;
		}
		if (r->type_count == CTL_RULE_TYPES_MAX) {
			snprintf(err, errlen, "rule %zu: more than %d types", line, CTL_RULE_TYPES_MAX);
			return CIRRUS_EINVAL;
		}
		r->types[r->type_count++] = type;
	}
	if (r->type_count == 0) {
		snprintf(err, errlen, "rule %zu: types= needs a list of types or *", line);
		return CIRRUS_EINVAL;
	}
	return 0;
}

static int rule_name(ctl_rule_t *r, const char *glob, size_t line, char *err, size_t errlen)
{
	size_t len = strlen(glob);
	if (len > 1 && glob[len - 1] == '.') {
		len--;
	}
	if (len == 0 || len >= sizeof(r->name)) {
		snprintf(err, errlen, "rule %zu: name= needs a glob such as _acme-challenge.*", line);
		return CIRRUS_EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		r->name[i] = (char)tolower((unsigned char)glob[i]);
	}
	r->name[len] = '\0';
	return 0;
}

/* One `key=value ...` line into r. */
static int rule_parse(ctl_rule_t *r, char *text, size_t line, char *err, size_t errlen)
{
	bool zone = false, name = false, types = false;
	char *save = NULL;
	int rc = 0;
	for (char *tok = strtok_r(text, " \t\r", &save); rc == 0 && tok != NULL;
	     tok = strtok_r(NULL, " \t\r", &save)) {
		char *value = strchr(tok, '=');
		if (value != NULL) {
			*value++ = '\0';
		}
		if (value != NULL && strcmp(tok, "zone") == 0 && !zone) {
			zone = true;
			if (zone_name_parse(r->zone, value, (const knot_dname_t *)"") == 0) {
				snprintf(err, errlen, "rule %zu: '%s' is not a zone name", line, value);
				rc = CIRRUS_EINVAL;
			}
		} else if (value != NULL && strcmp(tok, "name") == 0 && !name) {
			name = true;
			rc = rule_name(r, value, line, err, errlen);
		} else if (value != NULL && strcmp(tok, "types") == 0 && !types) {
			types = true;
			rc = rule_types(r, value, line, err, errlen);
		} else {
			snprintf(err, errlen, "rule %zu: unexpected '%s' (want zone=, name=, types=,"
			         " each once)", line, tok);
			rc = CIRRUS_EINVAL;
		}
	}
	if (rc == 0 && !(zone && name && types)) {
		snprintf(err, errlen, "rule %zu: needs zone=, name= and types=", line);
		rc = CIRRUS_EINVAL;
	}
	return rc;
}

/* Every non-empty line of text as a rule; *out is malloc'ed. */
static int rules_parse(const char *text, ctl_rule_t **out, size_t *count,
                       char *err, size_t errlen)
{
	*out = NULL;
	*count = 0;
	size_t line = 0;
	int rc = 0;
	for (const char *p = text; rc == 0 && *p != '\0';) {
		size_t len = strcspn(p, "\n");
		char buf[RULE_LINE_MAX];
		line++;
		if (len >= sizeof(buf)) {
			snprintf(err, errlen, "rule %zu: longer than %d bytes", line, RULE_LINE_MAX - 1);
			rc = CIRRUS_EINVAL;
			break;
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		p += len + (p[len] == '\n');
		if (strspn(buf, " \t\r") == len) {
			continue;
		}
		ctl_rule_t *grown = realloc(*out, (*count + 1) * sizeof(*grown));
		if (grown == NULL) {
			rc = CIRRUS_ENOMEM;
			snprintf(err, errlen, "out of memory");
			break;
		}
		*out = grown;
		memset(&grown[*count], 0, sizeof(grown[*count]));
		rc = rule_parse(&grown[(*count)++], buf, line, err, errlen);
	}
	if (rc == 0 && *count == 0) {
		snprintf(err, errlen, "a key needs at least one rule");
		rc = CIRRUS_EINVAL;
	}
	if (rc != 0) {
		free(*out);
		*out = NULL;
		*count = 0;
	}
	return rc;
}

int ctl_key_check(const char *name, const char *algorithm, const char *secret,
                  const char *rules, char *name_out, size_t name_len,
                  char *err, size_t errlen)
{
	if (ctl_key_name(name, name_out, name_len) != 0) {
		snprintf(err, errlen, "'%s' is not a valid key name", name);
		return CIRRUS_EINVAL;
	}
	if (!algorithm_known(algorithm)) {
		snprintf(err, errlen, "algorithm '%s' is not hmac-sha256 or hmac-sha512", algorithm);
		return CIRRUS_EINVAL;
	}
	knot_tsig_key_t key;
	if (knot_tsig_key_init(&key, algorithm, name_out, secret) != KNOT_EOK) {
		snprintf(err, errlen, "the secret is not valid base64");
		return CIRRUS_EINVAL;
	}
	bool empty = key.secret.size == 0;
	knot_tsig_key_deinit(&key);
	if (empty) {
		snprintf(err, errlen, "the secret is empty");
		return CIRRUS_EINVAL;
	}
	ctl_rule_t *parsed = NULL;
	size_t count = 0;
	int rc = rules_parse(rules, &parsed, &count, err, errlen);
	free(parsed);
	return rc;
}

int ctl_key_load(store_t *st, const knot_dname_t *name, ctl_key_t *out)
{
	memset(out, 0, sizeof(*out));
	store_tsig_t row;
	int rc = key_name_text(name, out->name, sizeof(out->name));
	if (rc == 0) {
		rc = store_tsig_find(st, out->name, &row);
	}
	if (rc != 0) {
		return rc;
	}
	char err[256];
	if (!algorithm_known(row.algorithm) ||
	    knot_tsig_key_init(&out->tsig, row.algorithm, row.name, row.secret) != KNOT_EOK) {
		rc = CIRRUS_EINVAL;
	} else if ((rc = rules_parse(row.rules, &out->rules, &out->rule_count, err,
	                             sizeof(err))) != 0) {
		knot_tsig_key_deinit(&out->tsig);
	}
	explicit_bzero(row.secret, sizeof(row.secret));
	return rc;
}

void ctl_key_deinit(ctl_key_t *key)
{
	if (key->tsig.secret.data != NULL) {
		explicit_bzero(key->tsig.secret.data, key->tsig.secret.size);
	}
	knot_tsig_key_deinit(&key->tsig);
	free(key->rules);
	key->rules = NULL;
	key->rule_count = 0;
}

static bool rule_has_type(const ctl_rule_t *r, uint16_t type)
{
	if (r->any_type) {
		return true;
	}
	for (size_t i = 0; i < r->type_count; i++) {
		if (r->types[i] == type) {
			return true;
		}
	}
	return false;
}

bool ctl_key_allows(const ctl_key_t *key, const knot_dname_t *zone,
                    const knot_dname_t *owner, uint16_t type)
{
	char name[KNOT_DNAME_TXT_MAXLEN + 1];
	if (knot_dname_to_str(name, owner, sizeof(name)) == NULL) {
		return false;
	}
	size_t len = strlen(name);
	if (len > 1) {
		name[len - 1] = '\0';
	}
	for (size_t i = 0; i < key->rule_count; i++) {
		const ctl_rule_t *r = &key->rules[i];
		if (knot_dname_is_equal(r->zone, zone) && rule_has_type(r, type) &&
		    fnmatch(r->name, name, FNM_CASEFOLD) == 0) {
			return true;
		}
	}
	return false;
}
