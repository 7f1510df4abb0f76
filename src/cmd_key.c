/* SPDX-License-Identifier: Apache-2.0
 * cmd_key.c -- `cirrus key add|list|delete`: the TSIG keys (RFC 8945) that
 * sign RFC 2136 UPDATE messages, with their authorization rules, kept in
 * the store (audited). The server reads them on every UPDATE, so changes
 * apply while it runs. `add` prints the secret once, as a key file that
 * `nsupdate -k` and BIND read, with the `nsupdate -y` form in a comment.
 */
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "cmd.h"
#include "ctl/ctl.h"
#include "store/store.h"
#include "util/error.h"

static const char usage_key[] =
	"usage: cirrus key add NAME --rule RULE [--rule RULE ...] [--algorithm ALG]\n"
	"                      [--secret BASE64] [--db PATH]\n"
	"       cirrus key list [--db PATH]\n"
	"       cirrus key delete NAME [--db PATH]\n"
	"\n"
	"TSIG keys for RFC 2136 dynamic UPDATE (nsupdate, ACME clients).\n"
	"add     store a key and print it once (a key file for nsupdate -k)\n"
	"list    print every key with its rules (never the secret)\n"
	"delete  remove a key\n"
	"  -r, --rule RULE      'zone=ZONE name=GLOB types=TYPE,TYPE|*': a change\n"
	"                       to an RRset needs a rule of its key for its zone,\n"
	"                       name (fnmatch, no trailing dot) and type; repeat\n"
	"                       for more, e.g. --rule 'zone=example.com\n"
	"                       name=_acme-challenge.* types=TXT'\n"
	"  -a, --algorithm ALG  hmac-sha256 (default) or hmac-sha512\n"
	"  -s, --secret BASE64  the secret (default: 32 or 64 random bytes)\n"
	"  -d, --db PATH        the store (default ./cirrus.db, as `cirrus serve`)\n"
	"  -h, --help           show this help\n"
	"Exit status: 0 success, 1 failure, 2 bad usage.\n";

#define RULES_MAX 64

typedef struct key_args {
	const char *algorithm;
	const char *secret;
	const char *rules[RULES_MAX];
	size_t rule_count;
	const char *db;
	const char *name;
} key_args_t;

/* Options of a subcommand and its NAME when it takes one; -1 to go on,
 * else the exit code. */
static int parse_args(int argc, char **argv, const char *cmd, bool adds, bool named,
                      key_args_t *a)
{
	static const struct option longopts[] = {
		{ "rule", required_argument, NULL, 'r' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "secret", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*a = (key_args_t){ .algorithm = "hmac-sha256", .db = "cirrus.db" };
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":r:a:s:d:h", longopts, NULL)) != -1) {
		if (opt != 'd' && opt != 'h' && opt != '?' && opt != ':' && !adds) {
			return cmd_bad_usage(cmd, "takes only --db", usage_key);
		}
		switch (opt) {
		case 'a': a->algorithm = optarg; break;
		case 's': a->secret = optarg; break;
		case 'd': a->db = optarg; break;
		case 'h': fputs(usage_key, stdout); return 0;
		case 'r':
			if (a->rule_count == RULES_MAX) {
				return cmd_bad_usage(cmd, "too many --rule options", usage_key);
			}
			a->rules[a->rule_count++] = optarg;
			break;
		default:
			return cmd_bad_option(cmd, opt, argv, usage_key);
		}
	}
	if (argc - optind != (named ? 1 : 0)) {
		return cmd_bad_usage(cmd, named ? "needs exactly one NAME" : "takes no arguments",
		                     usage_key);
	}
	a->name = named ? argv[optind] : NULL;
	return -1;
}

/* The audit log names the local user behind a command-line change. */
static void cli_actor(char *out, size_t size)
{
	struct passwd *pw = getpwuid(getuid());
	snprintf(out, size, "cli:%s", pw != NULL ? pw->pw_name : "unknown");
}

/* A new random secret in base64 (32 bytes for SHA-256, 64 for SHA-512). */
static int random_secret(const char *algorithm, char *out, size_t size)
{
	uint8_t raw[64];
	gnutls_datum_t bin = { raw, strcmp(algorithm, "hmac-sha512") == 0 ? 64 : 32 };
	gnutls_datum_t b64 = { NULL, 0 };
	int rc = CIRRUS_EIO;
	if (gnutls_rnd(GNUTLS_RND_KEY, raw, bin.size) == 0 &&
	    gnutls_base64_encode2(&bin, &b64) == 0 && b64.size < size) {
		memcpy(out, b64.data, b64.size);
		out[b64.size] = '\0';
		rc = 0;
	}
	gnutls_memset(raw, 0, sizeof(raw));
	gnutls_free(b64.data);
	return rc;
}

/* Insert the key and its audit row in one transaction. */
static int store_key(store_t *st, const store_tsig_t *key)
{
	char actor[160];
	cli_actor(actor, sizeof(actor));
	json_t *after = json_pack("{s:s, s:s, s:s}", "name", key->name,
	                          "algorithm", key->algorithm, "rules", key->rules);
	char *text = after != NULL ? json_dumps(after, JSON_COMPACT) : NULL;
	store_audit_t row = { .actor = actor, .action = "key.add", .after = text };
	int rc = text == NULL ? CIRRUS_ENOMEM : store_begin(st);
	if (rc == 0 && (rc = store_tsig_insert(st, key)) == 0 &&
	    (rc = store_audit_append(st, &row)) == 0) {
		rc = store_commit(st);
	}
	if (rc != 0 && text != NULL) {
		store_rollback(st);
	}
	free(text);
	json_decref(after);
	return rc;
}

static void print_key(const store_tsig_t *key, const char *db)
{
	printf("# TSIG key %s, stored in %s; rules:\n", key->name, db);
	for (const char *p = key->rules; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		printf("#   %.*s\n", (int)len, p);
		p += len + (p[len] == '\n');
	}
	printf("# nsupdate -y %s:%s:%s\n", key->algorithm, key->name, key->secret);
	printf("key \"%s\" {\n\talgorithm %s;\n\tsecret \"%s\";\n};\n", key->name,
	       key->algorithm, key->secret);
}

static int key_add(int argc, char **argv)
{
	key_args_t a;
	int rc = parse_args(argc, argv, "key add", true, true, &a);
	if (rc >= 0) {
		return rc;
	}
	if (a.rule_count == 0) {
		return cmd_bad_usage("key add", "needs at least one --rule", usage_key);
	}
	store_tsig_t key = { 0 };
	char err[512];
	size_t used = 0;
	for (size_t i = 0; i < a.rule_count; i++) {
		size_t room = sizeof(key.rules) - used;
		int n = snprintf(key.rules + used, room, "%s%s", i ? "\n" : "", a.rules[i]);
		if (n < 0 || (size_t)n >= room) {
			return cmd_bad_usage("key add", "the rules are too long", usage_key);
		}
		used += (size_t)n;
	}
	if (snprintf(key.algorithm, sizeof(key.algorithm), "%s", a.algorithm) >=
	    (int)sizeof(key.algorithm) ||
	    (a.secret != NULL && snprintf(key.secret, sizeof(key.secret), "%s", a.secret) >=
	                         (int)sizeof(key.secret))) {
		return cmd_bad_usage("key add", "algorithm or secret too long", usage_key);
	}
	if (a.secret == NULL && random_secret(a.algorithm, key.secret, sizeof(key.secret)) != 0) {
		fprintf(stderr, "cirrus key add: no random secret\n");
		return 1;
	}
	if (ctl_key_check(a.name, key.algorithm, key.secret, key.rules, key.name,
	                  sizeof(key.name), err, sizeof(err)) != 0) {
		return cmd_bad_usage("key add", err, usage_key);
	}
	store_t *st = NULL;
	if (store_open(a.db, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "cirrus key add: cannot open the store %s: %s\n", a.db, err);
		return 1;
	}
	rc = store_key(st, &key);
	if (rc != 0) {
		fprintf(stderr, "cirrus key add: %s\n",
		        rc == CIRRUS_ENOMEM ? cirrus_strerror(rc) : store_last_error(st));
	} else {
		print_key(&key, a.db);
	}
	store_close(st);
	explicit_bzero(key.secret, sizeof(key.secret));
	return rc == 0 ? 0 : 1;
}

static int list_one(void *ctx, const store_tsig_t *key)
{
	(void)ctx;
	printf("%s %s\n", key->name, key->algorithm);
	for (const char *p = key->rules; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		printf("  %.*s\n", (int)len, p);
		p += len + (p[len] == '\n');
	}
	return 0;
}

/* list and delete: the store must exist already. */
static store_t *open_existing(const char *cmd, const char *db)
{
	char err[512];
	store_t *st = NULL;
	if (access(db, F_OK) != 0) {
		fprintf(stderr, "cirrus %s: no store at %s (give --db PATH)\n", cmd, db);
	} else if (store_open(db, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "cirrus %s: cannot open the store %s: %s\n", cmd, db, err);
		st = NULL;
	}
	return st;
}

static int key_list(int argc, char **argv)
{
	key_args_t a;
	int rc = parse_args(argc, argv, "key list", false, false, &a);
	if (rc >= 0) {
		return rc;
	}
	store_t *st = open_existing("key list", a.db);
	if (st == NULL) {
		return 1;
	}
	rc = store_tsig_list(st, list_one, NULL);
	if (rc != 0) {
		fprintf(stderr, "cirrus key list: %s\n", store_last_error(st));
	}
	store_close(st);
	return rc == 0 ? 0 : 1;
}

static int key_delete(int argc, char **argv)
{
	key_args_t a;
	int rc = parse_args(argc, argv, "key delete", false, true, &a);
	if (rc >= 0) {
		return rc;
	}
	char name[256];
	if (ctl_key_name(a.name, name, sizeof(name)) != 0) {
		return cmd_bad_usage("key delete", "not a valid key name", usage_key);
	}
	store_t *st = open_existing("key delete", a.db);
	if (st == NULL) {
		return 1;
	}
	char actor[160];
	cli_actor(actor, sizeof(actor));
	char before[300];
	snprintf(before, sizeof(before), "{\"name\":\"%s\"}", name);
	store_audit_t row = { .actor = actor, .action = "key.delete", .before = before };
	rc = store_begin(st);
	if (rc == 0 && (rc = store_tsig_delete(st, name)) == 0 &&
	    (rc = store_audit_append(st, &row)) == 0) {
		rc = store_commit(st);
	}
	if (rc != 0) {
		fprintf(stderr, "cirrus key delete: %s\n", store_last_error(st));
		store_rollback(st);
	} else {
		fprintf(stderr, "key %s deleted\n", name);
	}
	store_close(st);
	return rc == 0 ? 0 : 1;
}

int cmd_key(int argc, char **argv)
{
	if (argc < 2) {
		return cmd_bad_usage("key", "needs a subcommand", usage_key);
	}
	const char *sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(usage_key, stdout);
		return 0;
	}
	if (strcmp(sub, "add") == 0) {
		return key_add(argc - 1, argv + 1);
	}
	if (strcmp(sub, "list") == 0) {
		return key_list(argc - 1, argv + 1);
	}
	if (strcmp(sub, "delete") == 0) {
		return key_delete(argc - 1, argv + 1);
	}
	char problem[256];
	snprintf(problem, sizeof(problem), "unknown subcommand '%s'", sub);
	return cmd_bad_usage("key", problem, usage_key);
}
