/* SPDX-License-Identifier: Apache-2.0
 * registry_records.c -- the pure part of the registry: a registration's
 * JSON to an instance and back, the RRsets a set of instances puts in a
 * zone, and the ctl changes between two such sets. No I/O, no locks: the
 * unit tests (tests/unit/test_registry.c) drive it directly.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "util/arena.h"
#include "util/error.h"
#include "util/grow.h"

#define LEASE_DEFAULT 30
#define DNS_TTL_MAX 86400

bool registry_label_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len >= REGISTRY_LABEL_SIZE || s[0] == '-' || s[len - 1] == '-') {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			return false;
		}
	}
	return true;
}

static int bad(char *field, size_t fieldlen, const char *name, char *err, size_t errlen,
               const char *why)
{
	snprintf(field, fieldlen, "%s", name);
	snprintf(err, errlen, "%s: %s", name, why);
	return CIRRUS_EINVAL;
}

/* An optional integer member in [min, max], else def. */
static int get_uint(const json_t *obj, const char *key, long long min, long long max,
                    long long def, long long *out)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		return CIRRUS_EINVAL;
	}
	*out = json_integer_value(v);
	return 0;
}

static int parse_addresses(const json_t *obj, registry_instance_t *out, char *field,
                           size_t fieldlen, char *err, size_t errlen)
{
	const json_t *a = json_object_get(obj, "addresses");
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > REGISTRY_ADDR_MAX) {
		return bad(field, fieldlen, "addresses", err, errlen,
		           "must be an array of 1 to 16 IPv4 or IPv6 addresses");
	}
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *text = json_string_value(json_array_get(a, i));
		unsigned char bytes[16];
		int family = text && strchr(text, ':') ? AF_INET6 : AF_INET;
		char name[32];
		snprintf(name, sizeof(name), "addresses[%zu]", i);
		if (text == NULL || inet_pton(family, text, bytes) != 1) {
			return bad(field, fieldlen, name, err, errlen, "not an IPv4 or IPv6 address");
		}
		inet_ntop(family, bytes, out->addrs[i], sizeof(out->addrs[i]));
	}
	out->addr_count = json_array_size(a);
	return 0;
}

/* Tags become TXT strings (RFC 6763 6.3: "key=value" or a bare "key"):
 * printable ASCII without quote or backslash, so they need no escaping. */
static int parse_tags(const json_t *obj, registry_instance_t *out, char *field,
                      size_t fieldlen, char *err, size_t errlen)
{
	const json_t *t = json_object_get(obj, "tags");
	if (t == NULL) {
		return 0;
	}
	if (!json_is_array(t) || json_array_size(t) > REGISTRY_TAG_MAX) {
		return bad(field, fieldlen, "tags", err, errlen, "must be an array of at most 32 strings");
	}
	for (size_t i = 0; i < json_array_size(t); i++) {
		const char *text = json_string_value(json_array_get(t, i));
		char name[32];
		snprintf(name, sizeof(name), "tags[%zu]", i);
		size_t len = text ? strlen(text) : 0;
		bool ok = len > 0 && len < REGISTRY_TAG_SIZE && text[0] != '=';
		for (size_t k = 0; ok && k < len; k++) {
			ok = text[k] > ' ' && text[k] < 0x7f && text[k] != '"' && text[k] != '\\';
		}
		if (!ok) {
			return bad(field, fieldlen, name, err, errlen, "a tag is 1 to 127 printable "
			           "characters, no space, quote or backslash, \"key\" or \"key=value\"");
		}
		memcpy(out->tags[i], text, len + 1);
	}
	out->tag_count = json_array_size(t);
	return 0;
}

static int known_keys(const json_t *obj, char *field, size_t fieldlen, char *err,
                      size_t errlen)
{
	static const char *const known[] = { "addresses", "port", "protocol", "weight",
	                                     "priority", "tags", "ttl_lease", "ttl", "check",
	                                     NULL };
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		size_t i = 0;
		while (known[i] != NULL && strcmp(known[i], key) != 0) {
			i++;
		}
		if (known[i] == NULL) {
			return bad(field, fieldlen, key, err, errlen, "unknown field");
		}
	}
	return 0;
}

int registry_instance_parse(const json_t *obj, registry_instance_t *out, char *field,
                            size_t fieldlen, char *err, size_t errlen)
{
	memset(out->addrs, 0, sizeof(out->addrs));
	out->addr_count = out->tag_count = 0;
	out->check[0] = '\0';
	if (!json_is_object(obj)) {
		return bad(field, fieldlen, "", err, errlen, "the body must be a JSON object");
	}
	int r = known_keys(obj, field, fieldlen, err, errlen);
	if (r == 0) {
		r = parse_addresses(obj, out, field, fieldlen, err, errlen);
	}
	if (r == 0) {
		r = parse_tags(obj, out, field, fieldlen, err, errlen);
	}
	long long port, weight, priority, lease, ttl;
	if (r == 0 && (json_object_get(obj, "port") == NULL ||
	               get_uint(obj, "port", 1, 65535, 0, &port) != 0)) {
		r = bad(field, fieldlen, "port", err, errlen, "required, 1 to 65535");
	}
	if (r == 0 && get_uint(obj, "weight", 0, 65535, 1, &weight) != 0) {
		r = bad(field, fieldlen, "weight", err, errlen, "0 to 65535");
	}
	if (r == 0 && get_uint(obj, "priority", 0, 65535, 1, &priority) != 0) {
		r = bad(field, fieldlen, "priority", err, errlen, "0 to 65535");
	}
	if (r == 0 && get_uint(obj, "ttl_lease", REGISTRY_LEASE_MIN, REGISTRY_LEASE_MAX,
	                       LEASE_DEFAULT, &lease) != 0) {
		r = bad(field, fieldlen, "ttl_lease", err, errlen, "seconds, 1 to 86400");
	}
	if (r == 0 && get_uint(obj, "ttl", 0, DNS_TTL_MAX, REGISTRY_TTL_DEFAULT, &ttl) != 0) {
		r = bad(field, fieldlen, "ttl", err, errlen, "DNS TTL in seconds, 0 to 86400");
	}
	const json_t *proto = json_object_get(obj, "protocol");
	const char *p = proto ? json_string_value(proto) : "tcp";
	if (r == 0 && (p == NULL || (strcmp(p, "tcp") != 0 && strcmp(p, "udp") != 0))) {
		r = bad(field, fieldlen, "protocol", err, errlen, "\"tcp\" or \"udp\"");
	}
	if (r != 0) {
		return r;
	}
	snprintf(out->proto, sizeof(out->proto), "%s", p);
	out->port = (uint16_t)port;
	out->weight = (uint16_t)weight;
	out->priority = (uint16_t)priority;
	out->lease = (uint32_t)lease;
	out->ttl = (uint32_t)ttl;
	const json_t *check = json_object_get(obj, "check");
	if (check != NULL && !json_is_null(check)) {
		return registry_check_parse(check, out, field, fieldlen, err, errlen);
	}
	return 0;
}

json_t *registry_instance_json(const registry_instance_t *in)
{
	json_t *addrs = json_array(), *tags = json_array();
	for (size_t i = 0; addrs && i < in->addr_count; i++) {
		json_array_append_new(addrs, json_string(in->addrs[i]));
	}
	for (size_t i = 0; tags && i < in->tag_count; i++) {
		json_array_append_new(tags, json_string(in->tags[i]));
	}
	if (addrs == NULL || tags == NULL) {
		json_decref(addrs);
		json_decref(tags);
		return NULL;
	}
	json_t *o = json_pack("{s:o, s:i, s:s, s:i, s:i, s:o, s:I, s:I}", "addresses", addrs,
	                      "port", in->port, "protocol", in->proto, "weight", in->weight,
	                      "priority", in->priority, "tags", tags,
	                      "ttl_lease", (json_int_t)in->lease, "ttl", (json_int_t)in->ttl);
	if (o != NULL && in->check[0] != '\0') {
		json_t *check = json_loads(in->check, 0, NULL);
		if (check == NULL || json_object_set_new(o, "check", check) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* One record before grouping. Its strings live in the output set's arena
 * (the records keep pointing there), and the names every instance of a
 * service shares (the service's name, its SRV owner, the browse name) are
 * one copy each: most comparisons in the sort are then between equal
 * pointers, not strings (entry_cmp). */
typedef struct entry {
	const char *name;
	const char *type;
	uint32_t ttl;
	const char *rdata;
} entry_t;

typedef struct entries {
	entry_t *v;
	size_t count, alloc;
	arena_t *strings;
	int err;
} entries_t;

/* The shared names of the instance being added: made again only when the
 * service or protocol differs from the previous instance's. */
typedef struct shared_names {
	char service[REGISTRY_LABEL_SIZE];
	char proto[4];
	const char *service_name;   /* SERVICE.ZONE */
	const char *srv_owner;      /* _SERVICE._PROTO.ZONE */
	const char *browse;         /* _services._dns-sd._udp.ZONE */
} shared_names_t;

/* Small: every service keeps the arena of its served set, and a service of
 * one instance needs about 250 bytes (a 50-instance one about 10 KB). */
#define ENTRY_STRINGS_CHUNK 1024

/* A copy of s in the arena; a name longer than 254 bytes or no memory
 * sticks in e->err (NULL then), so that callers add freely. */
static const char *keep(entries_t *e, const char *s, bool is_name)
{
	size_t len = strlen(s);
	if (e->err == 0 && is_name && len > 254) {
		e->err = CIRRUS_EINVAL;
	}
	if (e->err != 0) {
		return NULL;
	}
	const char *copy = arena_memdup(e->strings, s, len + 1);
	if (copy == NULL) {
		e->err = CIRRUS_ENOMEM;
	}
	return copy;
}

/* Append name/type/rdata, both strings already kept (NULL after an error:
 * nothing is added). */
static void add(entries_t *e, const char *name, const char *type, uint32_t ttl,
                const char *rdata)
{
	if (e->err != 0 || name == NULL || rdata == NULL) {
		return;
	}
	entry_t *grown = grow_one(e->v, e->count, &e->alloc, sizeof(*grown), 64);
	if (grown == NULL) {
		e->err = CIRRUS_ENOMEM;
		return;
	}
	e->v = grown;
	e->v[e->count++] = (entry_t){ .name = name, .type = type, .ttl = ttl, .rdata = rdata };
}

static void add_addresses(entries_t *e, const char *name, const registry_instance_t *in)
{
	for (size_t a = 0; a < in->addr_count; a++) {
		add(e, name, strchr(in->addrs[a], ':') ? "AAAA" : "A", in->ttl,
		    keep(e, in->addrs[a], false));
	}
}

/* The TXT record of a DNS-SD instance: one string per tag, or the single
 * empty string RFC 6763 6.1 asks for when there are none. */
static void txt_rdata(const registry_instance_t *in, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t t = 0; t < in->tag_count && used < size; t++) {
		used += (size_t)snprintf(out + used, size - used, "%s\"%s\"", t ? " " : "",
		                         in->tags[t]);
	}
	if (in->tag_count == 0) {
		snprintf(out, size, "\"\"");
	}
}

static void share_names(entries_t *e, const char *zone, const registry_instance_t *in,
                        shared_names_t *n)
{
	if (n->browse != NULL && strcmp(n->service, in->service) == 0 &&
	    strcmp(n->proto, in->proto) == 0) {
		return;
	}
	char name[700];
	snprintf(n->service, sizeof(n->service), "%s", in->service);
	snprintf(n->proto, sizeof(n->proto), "%s", in->proto);
	snprintf(name, sizeof(name), "%s.%s", in->service, zone);
	n->service_name = keep(e, name, true);
	snprintf(name, sizeof(name), "_%s._%s.%s", in->service, in->proto, zone);
	n->srv_owner = keep(e, name, true);
	if (n->browse == NULL) {
		snprintf(name, sizeof(name), "_services._dns-sd._udp.%s", zone);
		n->browse = keep(e, name, true);
	}
}

static void add_instance(entries_t *e, const char *zone, const registry_instance_t *in,
                         shared_names_t *shared)
{
	char name[700], srv[700], rdata[REGISTRY_TAG_MAX * (REGISTRY_TAG_SIZE + 3)];
	const char *svc = in->service;
	share_names(e, zone, in, shared);
	add_addresses(e, shared->service_name, in);
	snprintf(name, sizeof(name), "%s.%s.%s", in->id, svc, zone);
	const char *target = keep(e, name, true);
	add_addresses(e, target, in);
	for (size_t t = 0; t < in->tag_count; t++) {
		if (registry_label_ok(in->tags[t])) { /* a bare tag that is a label */
			snprintf(name, sizeof(name), "%s.%s.%s", in->tags[t], svc, zone);
			add_addresses(e, keep(e, name, true), in);
		}
	}
	snprintf(srv, sizeof(srv), "%u %u %u %s", in->priority, in->weight, in->port,
	         target != NULL ? target : "");
	const char *srv_rdata = keep(e, srv, false);
	add(e, shared->srv_owner, "SRV", in->ttl, srv_rdata);
	add(e, shared->browse, "PTR", in->ttl, shared->srv_owner);
	snprintf(name, sizeof(name), "%s.%s", in->id, shared->srv_owner ? shared->srv_owner : "");
	const char *inst = keep(e, name, true);
	add(e, shared->srv_owner, "PTR", in->ttl, inst);
	add(e, inst, "SRV", in->ttl, srv_rdata);
	txt_rdata(in, rdata, sizeof(rdata));
	add(e, inst, "TXT", in->ttl, keep(e, rdata, false));
}

/* Equal strings are often the same copy (see entry_t): pointers first. */
static int str_cmp(const char *a, const char *b)
{
	return a == b ? 0 : strcmp(a, b);
}

static int entry_cmp(const void *a, const void *b)
{
	const entry_t *x = a, *y = b;
	int c = str_cmp(x->name, y->name);
	if (c == 0) {
		c = str_cmp(x->type, y->type);
	}
	return c != 0 ? c : str_cmp(x->rdata, y->rdata);
}

/* snprintf(dst, size, "%s", src) without the format parsing: this runs
 * for every RRset of a service at every change. */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t len = strnlen(src, size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static bool same_rrset(const entry_t *x, const entry_t *y)
{
	return str_cmp(x->name, y->name) == 0 && str_cmp(x->type, y->type) == 0;
}

/* Group sorted entries into RRsets; the records point at the entries' text
 * (out->strings). An RRset fed by several instances gets the smallest of
 * their TTLs. */
static int group(const entries_t *e, registry_rrsets_t *out)
{
	registry_rrset_t *rs = NULL;
	for (size_t i = 0; i < e->count; i++) {
		const entry_t *x = &e->v[i];
		if (rs == NULL || !same_rrset(&e->v[i - 1], x)) {
			registry_rrset_t *grown = grow_one(out->v, out->count, &out->alloc,
			                                   sizeof(*grown), 16);
			if (grown == NULL) {
				return CIRRUS_ENOMEM;
			}
			out->v = grown;
			rs = &out->v[out->count++];
			memset(rs, 0, sizeof(*rs));
			copy_text(rs->name, sizeof(rs->name), x->name);
			copy_text(rs->type, sizeof(rs->type), x->type);
			rs->ttl = x->ttl;
			size_t run = 1; /* entries of this RRset: they are adjacent */
			while (i + run < e->count && same_rrset(&e->v[i + run], x)) {
				run++;
			}
			if ((rs->records = malloc(run * sizeof(char *))) == NULL) {
				out->count--;
				return CIRRUS_ENOMEM;
			}
		}
		rs->ttl = x->ttl < rs->ttl ? x->ttl : rs->ttl;
		if (rs->count > 0 && str_cmp(rs->records[rs->count - 1], x->rdata) == 0) {
			continue; /* the same address from a tag and an id, or two instances */
		}
		rs->records[rs->count++] = (char *)x->rdata;
	}
	return 0;
}

int registry_records(const char *zone, const registry_instance_t *inst, size_t n,
                     registry_rrsets_t *out)
{
	memset(out, 0, sizeof(*out));
	arena_init(&out->strings, ENTRY_STRINGS_CHUNK);
	entries_t e = { .strings = &out->strings };
	shared_names_t shared = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (!inst[i].down) {
			add_instance(&e, zone, &inst[i], &shared);
		}
	}
	int r = e.err;
	if (r == 0 && e.count > 0) {
		qsort(e.v, e.count, sizeof(*e.v), entry_cmp);
		r = group(&e, out);
	}
	free(e.v);
	if (r != 0) {
		registry_rrsets_free(out);
	}
	return r;
}

void registry_rrsets_free(registry_rrsets_t *s)
{
	for (size_t i = 0; i < s->count; i++) {
		free(s->v[i].records);
	}
	free(s->v);
	arena_deinit(&s->strings);
	memset(s, 0, sizeof(*s));
}

static int rrset_cmp(const registry_rrset_t *a, const registry_rrset_t *b)
{
	int c = strcmp(a->name, b->name);
	return c != 0 ? c : strcmp(a->type, b->type);
}

static ctl_change_t change_of(ctl_change_op_t op, const registry_rrset_t *rs)
{
	return (ctl_change_t){ .op = op, .name = rs->name, .type = rs->type, .ttl = rs->ttl,
	                       .records = (const char *const *)rs->records,
	                       .record_count = op == CTL_CHANGE_REPLACE ? rs->count : 0 };
}

/* The records of a but not b (both sorted, each once) into out; their count. */
static size_t records_minus(const registry_rrset_t *a, const registry_rrset_t *b,
                            const char **out)
{
	size_t n = 0;
	for (size_t i = 0, j = 0; i < a->count; i++) {
		while (j < b->count && strcmp(b->records[j], a->records[i]) < 0) {
			j++;
		}
		if (j == b->count || strcmp(b->records[j], a->records[i]) != 0) {
			out[n++] = a->records[i];
		}
	}
	return n;
}

/* An RRset both hold: nothing when the same, the records that differ
 * when only records do (the change costs the instance, not the service),
 * else the whole RRset (its TTL moved). ptrs has room for both counts. */
static bool change_shared(const registry_rrset_t *a, const registry_rrset_t *b,
                          const char **ptrs, ctl_change_t *c)
{
	if (a->ttl != b->ttl) {
		*c = change_of(CTL_CHANGE_REPLACE, b);
		return true;
	}
	size_t gone = records_minus(a, b, ptrs);
	size_t came = records_minus(b, a, ptrs + gone);
	*c = (ctl_change_t){ .op = CTL_CHANGE_RECORDS, .name = b->name, .type = b->type,
	                     .ttl = b->ttl, .removed = ptrs, .removed_count = gone,
	                     .records = ptrs + gone, .record_count = came };
	return gone + came > 0;
}

int registry_diff(const registry_rrsets_t *old, const registry_rrsets_t *new,
                  ctl_change_t **changes, size_t *count)
{
	*changes = NULL;
	*count = 0;
	size_t max = old->count + new->count, records = 0;
	for (size_t i = 0; i < old->count; i++) {
		records += old->v[i].count;
	}
	for (size_t j = 0; j < new->count; j++) {
		records += new->v[j].count;
	}
	/* the changes, then the record lists of RECORDS changes: one block */
	ctl_change_t *c = max ? malloc(max * sizeof(*c) + records * sizeof(char *)) : NULL;
	if (max > 0 && c == NULL) {
		return CIRRUS_ENOMEM;
	}
	const char **ptrs = (const char **)(c + max);
	size_t i = 0, j = 0, n = 0;
	while (i < old->count || j < new->count) { /* a merge: each step consumes one */
		int cmp = i == old->count ? 1 : j == new->count ? -1 :
		          rrset_cmp(&old->v[i], &new->v[j]);
		if (cmp < 0) {
			c[n++] = change_of(CTL_CHANGE_DELETE, &old->v[i++]);
		} else if (cmp > 0) {
			c[n++] = change_of(CTL_CHANGE_REPLACE, &new->v[j++]);
		} else {
			if (change_shared(&old->v[i], &new->v[j], ptrs, &c[n])) {
				ptrs += c[n].removed_count + c[n].record_count;
				n++;
			}
			i++;
			j++;
		}
	}
	if (n == 0) {
		free(c);
		c = NULL;
	}
	*changes = c;
	*count = n;
	return 0;
}
