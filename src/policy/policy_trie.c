/* SPDX-License-Identifier: Apache-2.0
 * policy_trie.c -- longest-prefix match for the ip and geo rules: a binary
 * trie, one level per bit, in one array. A lookup is at most 32 (IPv4) or
 * 128 (IPv6) steps and also yields the ECS scope: how many leading bits
 * of the client address the answer really depended on.
 */
#include <stdlib.h>

#include "policy/policy_internal.h"
#include "util/error.h"

static inline unsigned bit_at(const uint8_t *addr, unsigned i)
{
	return (addr[i / 8] >> (7 - i % 8)) & 1;
}

static int32_t new_node(policy_trie_t *t)
{
	if (t->count == t->alloc) {
		uint32_t alloc = t->alloc ? t->alloc * 2 : 64;
		policy_trie_node_t *grown = realloc(t->nodes, alloc * sizeof(*grown));
		if (grown == NULL) {
			return -1;
		}
		t->nodes = grown;
		t->alloc = alloc;
	}
	t->nodes[t->count] = (policy_trie_node_t){ { 0, 0 }, -1 };
	return (int32_t)t->count++;
}

int policy_trie_insert(policy_trie_t *t, const uint8_t *addr, unsigned prefix,
                       int32_t value)
{
	if (t->count == 0 && new_node(t) < 0) {
		return CIRRUS_ENOMEM;
	}
	uint32_t at = 0;
	for (unsigned i = 0; i < prefix; i++) {
		unsigned b = bit_at(addr, i);
		if (t->nodes[at].child[b] == 0) {
			int32_t n = new_node(t);
			if (n < 0) {
				return CIRRUS_ENOMEM;
			}
			t->nodes[at].child[b] = (uint32_t)n;
		}
		at = t->nodes[at].child[b];
	}
	if (t->nodes[at].value >= 0) {
		return CIRRUS_EEXIST;
	}
	t->nodes[at].value = value;
	return 0;
}

/*
 * The scope: the walk stops at depth d, either because the address ran
 * out of known bits or because the trie has no child in the address's
 * direction. Every prefix that does not contain the address branches off
 * the path at some depth below d, so all addresses sharing the first d
 * bits reach the same node and get the same matches -- unless that node
 * has children of its own (prefixes longer than d that the address did
 * not follow), and then one more bit is needed to rule them out.
 */
unsigned policy_trie_lookup(const policy_trie_t *t, const uint8_t *addr, unsigned bits,
                            int32_t *matches, unsigned *count)
{
	*count = 0;
	if (t->count == 0) {
		return 0;
	}
	uint32_t at = 0;
	unsigned depth = 0;
	if (t->nodes[0].value >= 0) {
		matches[(*count)++] = t->nodes[0].value;
	}
	while (depth < bits) {
		uint32_t next = t->nodes[at].child[bit_at(addr, depth)];
		if (next == 0) {
			break;
		}
		at = next;
		depth++;
		if (t->nodes[at].value >= 0) {
			matches[(*count)++] = t->nodes[at].value;
		}
	}
	/* longest first */
	for (unsigned i = 0; i < *count / 2; i++) {
		int32_t v = matches[i];
		matches[i] = matches[*count - 1 - i];
		matches[*count - 1 - i] = v;
	}
	const policy_trie_node_t *end = &t->nodes[at];
	bool branches = end->child[0] != 0 || end->child[1] != 0;
	return depth + (branches ? 1 : 0);
}

void policy_trie_deinit(policy_trie_t *t)
{
	free(t->nodes);
	*t = (policy_trie_t){ 0 };
}
