/* SPDX-License-Identifier: Apache-2.0
 * ctl_txn.c -- one change to one store zone, whoever asks for it (REST
 * patch, RFC 2136 UPDATE): the copy-on-write update, the before and after
 * of every touched RRset for the audit row and the journal, the serial
 * bump, the store transaction, and publication of the new version. The
 * zone's routing policies go with it to the new version (their RRsets
 * cannot be touched); a policy change replaces or removes one of them.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_internal.h"
#include "util/error.h"
#include "util/grow.h"

typedef struct touched {
	knot_dname_storage_t owner;
	uint16_t type;
	bool records;              /*!< changed record by record (ctl_txn_records) */
	knot_rdataset_t removed;   /*!< then: the records it took away, */
	knot_rdataset_t added;     /*!< and those it put in */
} touched_t;

struct ctl_txn {
	ctl_t *ctl;
	int index;                 /*!< of the zone in ctl->store_zones */
	knot_dname_storage_t apex;
	char zone_text[KNOT_DNAME_TXT_MAXLEN + 1];
	zone_update_t *u;
	touched_t *touched;
	size_t count, alloc;
	json_t *before;
	json_t *after;
	FILE *removed, *added;     /*!< journal texts being written */
	char *removed_text, *added_text;
	size_t removed_len, added_len;
	policy_t **policies;       /*!< of the new version, a reference each */
	size_t policy_count;
	store_policy_t policy_row; /*!< a policy change for the store: put (spec
	                                set) or delete (spec NULL); owner "" = none */
	bool cuts;                 /*!< an NS or DNAME RRset was touched */
	ctl_store_hook_t hook;     /*!< the caller's writes in the transaction, or NULL */
	void *hook_ctx;
};

/* Index of the policy at owner/type in the new version, or -1. */
static ssize_t policy_at(const ctl_txn_t *t, const knot_dname_t *owner, uint16_t type)
{
	for (size_t i = 0; i < t->policy_count; i++) {
		if (policy_type(t->policies[i]) == type &&
		    knot_dname_is_equal(policy_owner(t->policies[i]), owner)) {
			return (ssize_t)i;
		}
	}
	return -1;
}

/* The base version's policies, shared with the new one. */
static int keep_policies(ctl_txn_t *t, const zone_t *base)
{
	policy_t *const *list;
	size_t n = policy_zone_policies(base, &list);
	if (n == 0) {
		return 0;
	}
	if ((t->policies = malloc((n + 1) * sizeof(*t->policies))) == NULL) {
		return CIRRUS_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		policy_ref(list[i]);
		t->policies[i] = list[i];
	}
	t->policy_count = n;
	return 0;
}

/* {"name","type","ttl","records":[...]} of an RRset, or null when absent
 * (or empty: a record-by-record change that took or put nothing). */
static json_t *rrset_json(const knot_dname_t *owner, uint16_t type, const zone_rrset_t *rs)
{
	if (rs == NULL || rs->rrs.count == 0) {
		return json_null();
	}
	char name[KNOT_DNAME_TXT_MAXLEN + 1], tname[32], text[4096];
	knot_dname_to_str(name, owner, sizeof(name));
	knot_rrtype_to_string(type, tname, sizeof(tname));
	json_t *records = json_array();
	for (uint16_t i = 0; i < rs->rrs.count; i++) {
		if (zone_rdata_dump(owner, rs, i, text, sizeof(text)) < 0) {
			snprintf(text, sizeof(text), "(%u bytes)", knot_rdataset_at(&rs->rrs, i)->len);
		}
		json_array_append_new(records, json_string(text));
	}
	return json_pack("{s:s, s:s, s:I, s:o}", "name", name, "type", tname,
	                 "ttl", (json_int_t)rs->ttl, "records", records);
}

/* Master-file lines of an RRset appended to a journal text. */
static void journal_lines(FILE *f, const knot_dname_t *owner, const zone_rrset_t *rs)
{
	if (rs == NULL || rs->rrs.count == 0) {
		return;
	}
	knot_rrset_t rr;
	knot_rrset_init(&rr, (knot_dname_t *)owner, rs->type, KNOT_CLASS_IN, rs->ttl);
	rr.rrs = rs->rrs;
	size_t size = 1024;
	char *buf = malloc(size);
	int n = buf ? knot_rrset_txt_dump(&rr, &buf, &size, &KNOT_DUMP_STYLE_DEFAULT) : -1;
	if (n > 0) {
		fwrite(buf, 1, (size_t)n, f);
	}
	free(buf);
}

static const zone_rrset_t *current(const ctl_txn_t *t, const knot_dname_t *owner,
                                   uint16_t type)
{
	const zone_node_t *node = zone_update_find(t->u, owner);
	return node ? zone_node_rrset(node, type) : NULL;
}

int ctl_txn_begin(ctl_t *ctl, const char *zone, ctl_txn_t **out, ctl_error_t *err)
{
	ctl_txn_t *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
	}
	t->ctl = ctl;
	if (ctl_zone_name(zone, t->apex, t->zone_text, sizeof(t->zone_text)) != 0) {
		free(t);
		return ctl_fail(err, CIRRUS_ENOENT, 404, NULL, "no such zone");
	}
	bool from_store;
	const zone_t *found = ctl_find_zone(ctl, t->apex, &from_store);
	int rc = 0;
	if (found == NULL) {
		rc = ctl_fail(err, CIRRUS_ENOENT, 404, NULL, "no zone %s", t->zone_text);
	} else if (!from_store) {
		rc = ctl_fail(err, CIRRUS_EEXIST, 409, NULL,
		              "zone %s is served from a zone file; change the file", t->zone_text);
	} else {
		t->index = ctl_store_index(ctl, t->apex);
		t->before = json_array();
		t->after = json_array();
		t->removed = open_memstream(&t->removed_text, &t->removed_len);
		t->added = open_memstream(&t->added_text, &t->added_len);
		if (t->before == NULL || t->after == NULL || t->removed == NULL ||
		    t->added == NULL || keep_policies(t, ctl->store_zones[t->index]) != 0 ||
		    zone_update_new(ctl->store_zones[t->index], &t->u) != 0) {
			rc = ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "out of memory");
		}
	}
	if (rc != 0) {
		ctl_txn_abort(t);
		return rc;
	}
	*out = t;
	return 0;
}

const knot_dname_t *ctl_txn_apex(const ctl_txn_t *t)
{
	return t->apex;
}

zone_update_t *ctl_txn_update(ctl_txn_t *t)
{
	return t->u;
}

/* A new entry for owner/type, zeroed but for its name; NULL when out of
 * memory (also when a routing policy holds it: *held). */
static touched_t *touched_new(ctl_txn_t *t, const knot_dname_t *owner, uint16_t type,
                              bool *held)
{
	knot_dname_storage_t lower;
	zone_name_lower(lower, owner);
	/* An ALIAS answers A and AAAA at its name: those are its too. */
	bool address = type == KNOT_RRTYPE_A || type == KNOT_RRTYPE_AAAA;
	*held = t->policy_count > 0 &&
	        (policy_at(t, lower, type) >= 0 ||
	         (address && policy_at(t, lower, POLICY_TYPE_ALIAS) >= 0));
	if (*held) {
		return NULL;
	}
	t->cuts |= type == KNOT_RRTYPE_NS || type == KNOT_RRTYPE_DNAME;
	touched_t *grown = grow_one(t->touched, t->count, &t->alloc, sizeof(*grown), 8);
	if (grown == NULL) {
		return NULL;
	}
	t->touched = grown;
	touched_t *rec = &t->touched[t->count++];
	memset(rec, 0, sizeof(*rec));
	memcpy(rec->owner, lower, knot_dname_size(lower));
	rec->type = type;
	return rec;
}

int ctl_txn_touch(ctl_txn_t *t, const knot_dname_t *owner, uint16_t type)
{
	if (ctl_txn_touched(t, owner, type)) {
		return 0;
	}
	bool held;
	touched_t *rec = touched_new(t, owner, type, &held);
	if (rec == NULL) {
		return held ? CIRRUS_EEXIST : CIRRUS_ENOMEM;
	}
	const zone_rrset_t *old = current(t, rec->owner, type);
	json_array_append_new(t->before, rrset_json(rec->owner, type, old));
	journal_lines(t->removed, rec->owner, old);
	return 0;
}

/* old without the records of removed, with those of added; *gone and *new
 * get the ones that really left or came. */
static int records_next(const zone_rrset_t *old, const knot_rdataset_t *removed,
                        const knot_rdataset_t *added, knot_rdataset_t *next,
                        knot_rdataset_t *gone, knot_rdataset_t *new)
{
	int rc = old != NULL ? knot_rdataset_copy(next, &old->rrs, NULL) : KNOT_EOK;
	for (uint16_t i = 0; rc == KNOT_EOK && i < removed->count; i++) {
		const knot_rdata_t *rd = knot_rdataset_at(removed, i);
		if (knot_rdataset_member(next, rd)) {
			rc = knot_rdataset_remove(next, rd, NULL);
			rc = rc == KNOT_EOK ? knot_rdataset_add(gone, rd, NULL) : rc;
		}
	}
	for (uint16_t i = 0; rc == KNOT_EOK && i < added->count; i++) {
		const knot_rdata_t *rd = knot_rdataset_at(added, i);
		if (!knot_rdataset_member(next, rd)) {
			rc = knot_rdataset_add(next, rd, NULL);
			rc = rc == KNOT_EOK ? knot_rdataset_add(new, rd, NULL) : rc;
		}
	}
	return rc == KNOT_EOK ? 0 : CIRRUS_ENOMEM;
}

int ctl_txn_records(ctl_txn_t *t, const knot_dname_t *owner, uint16_t type, uint32_t ttl,
                    const knot_rdataset_t *removed, const knot_rdataset_t *added)
{
	knot_dname_storage_t lower;
	zone_name_lower(lower, owner);
	const zone_rrset_t *old = current(t, lower, type);   /* gone once the RRset changes */
	uint32_t old_ttl = old != NULL ? old->ttl : ttl;
	knot_rdataset_t next = { 0 }, gone = { 0 }, new = { 0 };
	int rc = records_next(old, removed, added, &next, &gone, &new);
	bool whole = old_ttl != ttl && next.count > 0;
	touched_t *rec = NULL;
	if (rc == 0 && whole) {
		rc = ctl_txn_touch(t, lower, type);
	} else if (rc == 0 && (gone.count > 0 || new.count > 0)) {
		bool held;
		rec = touched_new(t, lower, type, &held);
		rc = rec == NULL ? (held ? CIRRUS_EEXIST : CIRRUS_ENOMEM) : 0;
	}
	if (rc == 0 && (whole || rec != NULL)) {
		rc = zone_update_put_rrset(t->u, lower, type, whole ? ttl : old_ttl, &next);
	}
	if (rc == 0 && rec != NULL) {
		zone_rrset_t was = { .type = type, .ttl = old_ttl, .rrs = gone };
		json_array_append_new(t->before, rrset_json(lower, type, &was));
		journal_lines(t->removed, lower, &was);
		rec->records = true;
		rec->removed = gone;
		rec->added = new;
		gone = new = (knot_rdataset_t){ 0 };
	}
	knot_rdataset_clear(&next, NULL);
	knot_rdataset_clear(&gone, NULL);
	knot_rdataset_clear(&new, NULL);
	return rc;
}

void ctl_txn_hook(ctl_txn_t *t, ctl_store_hook_t hook, void *ctx)
{
	t->hook = hook;
	t->hook_ctx = ctx;
}

int ctl_txn_policy(ctl_txn_t *t, const knot_dname_t *owner, uint16_t type, policy_t *p,
                   const store_policy_t *row, json_t *before, json_t *after,
                   ctl_error_t *err)
{
	ssize_t old = policy_at(t, owner, type);
	char reason[1024] = "out of memory";
	int rc = 0;
	if (p != NULL) {
		policy_t **grown = realloc(t->policies, (t->policy_count + 1) * sizeof(*grown));
		rc = grown != NULL ? 0 : CIRRUS_ENOMEM;
		t->policies = grown != NULL ? grown : t->policies;
	}
	if (rc == 0 && old >= 0 && (rc = zone_update_put_rrset(t->u, owner, type, 0, NULL)) == 0) {
		/* its placeholder is gone */
		policy_free(t->policies[old]);
		t->policies[old] = t->policies[--t->policy_count];
	}
	if (rc == 0 && p != NULL &&
	    (rc = policy_zone_place(t->u, t->apex, p, reason, sizeof(reason))) == 0) {
		t->policies[t->policy_count++] = p;
		p = NULL;
	}
	policy_free(p);
	if (rc != 0) {
		json_decref(before);
		json_decref(after);
		return ctl_fail(err, rc, rc == CIRRUS_ENOMEM ? 500 : 409, NULL, "%s", reason);
	}
	t->policy_row = *row;
	json_array_append_new(t->before, before);
	json_array_append_new(t->after, after);
	return 0;
}

bool ctl_txn_touched(const ctl_txn_t *t, const knot_dname_t *owner, uint16_t type)
{
	for (size_t i = 0; i < t->count; i++) {
		if (t->touched[i].type == type && knot_dname_is_equal(t->touched[i].owner, owner)) {
			return true;
		}
	}
	return false;
}

/* A record-by-record change into the store, the audit row and the journal. */
static int store_records(ctl_txn_t *t, const touched_t *c)
{
	const zone_rrset_t *rs = current(t, c->owner, c->type);
	uint32_t ttl = rs != NULL ? rs->ttl : 0;
	int rc = 0;
	for (int add = 0; add < 2; add++) {
		const knot_rdataset_t *set = add ? &c->added : &c->removed;
		for (uint16_t r = 0; rc == 0 && r < set->count; r++) {
			const knot_rdata_t *rd = knot_rdataset_at(set, r);
			store_record_t rec = { .owner = c->owner, .type = c->type, .ttl = ttl,
			                       .rdata = rd->data, .rdlen = rd->len };
			rc = add ? store_record_insert(t->ctl->st, t->zone_text, &rec) :
			     store_record_delete(t->ctl->st, t->zone_text, &rec);
		}
	}
	zone_rrset_t now = { .type = c->type, .ttl = ttl, .rrs = c->added };
	json_array_append_new(t->after, rrset_json(c->owner, c->type, &now));
	journal_lines(t->added, c->owner, &now);
	return rc;
}

/* The final state of every touched RRset (and the SOA) into the store,
 * and into the "after" side of the audit row and the journal. */
static int store_changes(ctl_txn_t *t)
{
	store_t *st = t->ctl->st;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i <= t->count; i++) {
		if (i < t->count && t->touched[i].records) {
			rc = store_records(t, &t->touched[i]);
			continue;
		}
		/* the extra round is the SOA, whose serial moved */
		const knot_dname_t *owner = i < t->count ? t->touched[i].owner : t->apex;
		uint16_t type = i < t->count ? t->touched[i].type : KNOT_RRTYPE_SOA;
		rc = store_rrset_delete(st, t->zone_text, owner, type);
		const zone_rrset_t *rs = current(t, owner, type);
		for (uint16_t r = 0; rc == 0 && rs != NULL && r < rs->rrs.count; r++) {
			const knot_rdata_t *rd = knot_rdataset_at(&rs->rrs, r);
			store_record_t rec = { .owner = owner, .type = type, .ttl = rs->ttl,
			                       .rdata = rd->data, .rdlen = rd->len };
			rc = store_record_insert(st, t->zone_text, &rec);
		}
		if (i < t->count) {
			json_array_append_new(t->after, rrset_json(owner, type, rs));
			journal_lines(t->added, owner, rs);
		}
	}
	const store_policy_t *p = &t->policy_row;
	if (rc == 0 && p->owner[0] != '\0') {
		rc = p->spec != NULL ? store_policy_put(st, p) :
		     store_policy_delete(st, p->zone, p->owner, p->type);
	}
	return rc;
}

/* Store transaction: records, serial, audit row, journal entry. Lazy:
 * the change is served once it is in the WAL; the caller syncs it
 * (ctl_sync) before acknowledging it. */
static int commit_to_store(ctl_txn_t *t, const char *action, uint32_t old_serial,
                           uint32_t new_serial, const ctl_actor_t *who)
{
	store_t *st = t->ctl->st;
	int rc = store_begin_lazy(st);
	if (rc == 0) {
		rc = store_changes(t);
	}
	if (rc == 0 && t->hook != NULL) {
		rc = t->hook(t->hook_ctx, st);
	}
	fflush(t->removed);
	fflush(t->added);
	char *before = json_dumps(t->before, JSON_COMPACT);
	char *after = json_dumps(t->after, JSON_COMPACT);
	store_audit_t row = {
		.actor = who->actor, .request_id = who->request_id, .zone = t->zone_text,
		.action = action, .before = before, .after = after,
	};
	if (rc == 0) {
		rc = store_zone_set_serial(st, t->zone_text, new_serial);
	}
	if (rc == 0) {
		rc = store_audit_append(st, &row);
	}
	if (rc == 0) {
		rc = store_journal_append(st, t->zone_text, old_serial, new_serial,
		                          t->removed_text, t->added_text);
	}
	if (rc == 0) {
		rc = store_commit(st);
	}
	if (rc != 0) {
		store_rollback(st);
	}
	free(before);
	free(after);
	return rc;
}

/* The policies are still where they answer after the other changes (a
 * new delegation or DNAME above one would hide it; nothing else can). */
static int check_policies(ctl_txn_t *t, ctl_error_t *err)
{
	char reason[1024];
	for (size_t i = 0; t->cuts && i < t->policy_count; i++) {
		if (policy_zone_check(t->u, t->apex, t->policies[i], reason, sizeof(reason)) != 0) {
			return ctl_fail(err, CIRRUS_ESEMANTIC, 422, NULL, "%s", reason);
		}
	}
	return 0;
}

int ctl_txn_commit(ctl_txn_t *t, const char *action, const ctl_actor_t *who,
                   ctl_error_t *err)
{
	ctl_t *ctl = t->ctl;
	uint32_t old_serial = zone_update_serial(t->u);
	uint32_t new_serial = ctl_next_serial(ctl->policy, old_serial);
	int rc = zone_update_set_serial(t->u, new_serial);
	if (rc == 0) {
		rc = zone_update_check(t->u);
	}
	if (rc != 0) {
		rc = ctl_fail(err, rc, rc == CIRRUS_ENOMEM ? 500 : 422, NULL, "%s",
		              zone_update_error(t->u));
	} else {
		rc = check_policies(t, err);
	}
	if (rc == 0 && commit_to_store(t, action, old_serial, new_serial, who) != 0) {
		rc = ctl_fail(err, CIRRUS_EIO, 500, NULL, "the store refused the change");
	}
	zone_t *base = ctl->store_zones[t->index], *next = NULL;
	if (rc == 0 && zone_update_commit(t->u, &next) != 0) {
		rc = ctl_fail(err, CIRRUS_ENOMEM, 500, NULL, "stored, but not yet served: out of memory");
	} else if (rc == 0) {
		t->u = NULL;
		int pr = policy_zone_set(next, t->policies, t->policy_count);
		zone_ref(next);
		ctl->store_zones[t->index] = next;
		zone_unref(base); /* still served until the new set is in */
		rc = ctl_publish(ctl);
		if (pr != 0) {
			rc = ctl_fail(err, pr, 500, NULL, "stored, but served without its policies "
			              "until the next change: out of memory");
		}
	}
	ctl_txn_abort(t);
	return rc;
}

void ctl_txn_abort(ctl_txn_t *t)
{
	if (t == NULL) {
		return;
	}
	zone_update_abort(t->u);
	for (size_t i = 0; i < t->policy_count; i++) {
		policy_free(t->policies[i]);
	}
	free(t->policies);
	for (size_t i = 0; i < t->count; i++) {
		knot_rdataset_clear(&t->touched[i].removed, NULL);
		knot_rdataset_clear(&t->touched[i].added, NULL);
	}
	free(t->touched);
	json_decref(t->before);
	json_decref(t->after);
	if (t->removed) {
		fclose(t->removed);
	}
	if (t->added) {
		fclose(t->added);
	}
	free(t->removed_text);
	free(t->added_text);
	free(t);
}
