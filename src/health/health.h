/* SPDX-License-Identifier: Apache-2.0
 * health.h -- health checks: the `checks:` of cirrus.yaml (HTTP, HTTPS,
 * TCP, DNS and calculated checks), their state machine (rise/fall, static
 * overrides, drills) and the thread that runs them on libuv and libcurl
 * and publishes a new policy_health_t snapshot after every transition.
 * Not for evaluating policies (policy/) nor for serving HTTP (api/).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/policy.h"

/*
 * Specs: a check as cirrus.yaml states it (text as written, filled by
 * conf/), then checked and completed by health_spec_check() and linked to
 * the checks it names by health_specs_link().
 */

/*! \brief What a check does. */
typedef enum {
	HEALTH_KIND_HTTP,
	HEALTH_KIND_HTTPS,
	HEALTH_KIND_TCP,
	HEALTH_KIND_DNS,
	HEALTH_KIND_CALCULATED,
} health_kind_t;

/*! \brief How a calculated check combines its children. */
typedef enum {
	HEALTH_RULE_ALL,
	HEALTH_RULE_ANY,
	HEALTH_RULE_AT_LEAST,
} health_rule_t;

/*! \brief Most expected status codes (or ranges) of an HTTP check. */
#define HEALTH_EXPECT_MAX 16
/*! \brief Most children of a calculated check. */
#define HEALTH_CHILDREN_MAX 64
/*! \brief Shortest interval, in milliseconds. */
#define HEALTH_INTERVAL_MIN_MS 1000

typedef struct health_spec {
	uint64_t line;            /*!< line of this check in the file */
	/* as written */
	char *name;               /*!< the health key policies name */
	char *type;               /*!< http, https, tcp, dns, calculated */
	char *address;            /*!< numeric IP to connect to */
	unsigned port;            /*!< 0 = the kind's default */
	char *interval;           /*!< duration text, e.g. "1s"; NULL = 10s */
	char *timeout;            /*!< duration text; NULL = 1s (at most interval) */
	unsigned rise, fall;      /*!< 0 = default (2) */
	char *method;             /*!< http(s): GET (default), HEAD, POST, ... */
	char *path;               /*!< http(s): default "/" */
	char *host;               /*!< http(s): Host header and TLS SNI */
	policy_strv_t expect;     /*!< http(s): codes "200" or ranges "200-299" */
	char *body;               /*!< http(s): substring the body must contain */
	char *ca_file;            /*!< https: CA bundle (resolved path) */
	bool insecure;            /*!< https: do not verify the certificate */
	char *query;              /*!< dns: name to ask (default ".") */
	char *query_type;         /*!< dns: type (default SOA) */
	char *rcode;              /*!< dns: expected rcode (default NOERROR) */
	char *rule;               /*!< calculated: all, any, at-least */
	unsigned at_least;        /*!< calculated: N for at-least */
	policy_strv_t checks;     /*!< calculated: names of child checks */
	/* set by health_spec_check() and health_specs_link() */
	health_kind_t kind;
	unsigned interval_ms, timeout_ms;
	struct sockaddr_storage addr;   /*!< address with the port */
	unsigned expect_lo[HEALTH_EXPECT_MAX], expect_hi[HEALTH_EXPECT_MAX];
	size_t expect_count;
	uint16_t qtype;
	uint8_t rcode_value;
	health_rule_t rule_value;
	size_t children[HEALTH_CHILDREN_MAX];  /*!< indexes of earlier checks */
	size_t child_count;
} health_spec_t;

/*! \brief A zeroed spec that remembers its line. */
void health_spec_init(health_spec_t *spec, uint64_t line);

/*! \brief Free what a spec owns (not the spec itself). */
void health_spec_deinit(health_spec_t *spec);

/*!
 * \brief Check one spec and fill its parsed fields with defaults.
 * \param err  why it is wrong (without file and line)
 * \retval 0, CIRRUS_EINVAL
 */
int health_spec_check(health_spec_t *spec, char *err, size_t errlen);

/*!
 * \brief Check names are unique and link calculated checks to the earlier
 * checks they name (so there can be no cycle).
 * \param bad  on failure, the index of the spec that is wrong
 * \retval 0, CIRRUS_EINVAL
 */
int health_specs_link(health_spec_t *specs, size_t count, size_t *bad, char *err,
                      size_t errlen);

/*!
 * \brief Append the health keys that policy endpoints name, nested rules
 * included. The strings are borrowed from specs: free only out->v.
 * \retval 0, CIRRUS_ENOMEM
 */
int health_policy_keys(const policy_spec_t *specs, size_t count, policy_strv_t *out);

/*!
 * \brief Read a duration: an integer with an optional unit ms, s, m or h
 * ("30s", "500ms", "2m"; a bare number is seconds).
 * \retval 0, CIRRUS_EINVAL (not a duration, or above one day)
 */
int health_duration_parse(const char *text, uint64_t *ms);

/*
 * The state of every health key, the pure part (no I/O, no clock: times
 * are passed in, in microseconds since the epoch). Used by the checker
 * thread under its lock and by the unit tests directly.
 */

/*! \brief A key's state; unknown (no result yet) counts as up. */
typedef enum {
	HEALTH_UNKNOWN,
	HEALTH_UP,
	HEALTH_DOWN,
} health_status_t;

/*! \brief Text of a status: "unknown", "up" or "down". */
const char *health_status_name(health_status_t s);

/*! \brief One health key: a check, or a key only overridden (static, drill). */
typedef struct health_key {
	char *name;
	const health_spec_t *spec;   /*!< its check, or NULL */
	health_status_t checked;     /*!< what the check says (after rise/fall) */
	health_status_t state;       /*!< what answers see: checked, unless forced down */
	bool static_down;            /*!< `health: KEY: down` */
	int64_t drill_until_us;      /*!< forced down until then; 0 = no drill */
	char drill_by[128];          /*!< who started the drill */
	unsigned successes, failures;/*!< consecutive results */
	bool has_result, last_ok;
	char last_msg[160];          /*!< what the last result said */
	int64_t last_us, change_us;  /*!< last result; last change of state or checked */
	char reason[160];            /*!< why the last change happened */
	health_status_t was_state, was_checked; /*!< as of the last health_set_update() */
} health_key_t;

typedef struct health_set {
	health_key_t *keys;   /*!< the checks first, in spec order, then other keys */
	size_t count;
	size_t check_count;
} health_set_t;

/*! \brief A change of one key, for the audit log. */
typedef struct health_change {
	const health_key_t *key;
	health_status_t old_state, old_checked;
} health_change_t;

typedef void (*health_change_cb_t)(void *ctx, const health_change_t *change);

/*!
 * \brief Build the set: one key per check (specs must be linked and
 * outlive the set) and one per other name in extra (duplicates ignored).
 * \retval 0, CIRRUS_ENOMEM
 */
int health_set_init(health_set_t *set, const health_spec_t *specs, size_t count,
                    const char *const *extra, size_t extra_count);

void health_set_deinit(health_set_t *set);

/*! \brief The key with this name, or NULL. */
health_key_t *health_set_find(health_set_t *set, const char *name);

/*! \brief Record one result of check i (ok or not, and what it said). The
 * first result decides at once; later ones need rise or fall in a row. */
void health_set_result(health_set_t *set, size_t i, bool ok, const char *msg,
                       int64_t now_us);

/*! \brief Append a key decided by spec (which must outlive the key);
 * NULL when the name is taken or out of memory. */
health_key_t *health_set_add(health_set_t *set, const health_spec_t *spec);

/*! \brief Remove the key decided by spec (added with health_set_add);
 * later keys move down by one. \retval 0, CIRRUS_ENOENT */
int health_set_remove(health_set_t *set, const health_spec_t *spec);

/*! \brief Hold exactly the listed keys down (the `health:` section); keys
 * not in the set are added (false when out of memory). */
bool health_set_static(health_set_t *set, const char *const *down, size_t count);

/*! \brief Force key down until until_us (0 ends the drill).
 * \retval 0, CIRRUS_ENOENT (no such key) */
int health_set_drill(health_set_t *set, const char *key, int64_t until_us,
                     const char *by);

/*! \brief End drills that expired by now_us. */
void health_set_expire(health_set_t *set, int64_t now_us);

/*! \brief Earliest drill end, or INT64_MAX when none runs. */
int64_t health_set_next_expiry(const health_set_t *set);

/*!
 * \brief Work out calculated checks and every key's state again; call cb
 * for each key whose state or checked state changed since the last call.
 * \retval the number of changes
 */
size_t health_set_update(health_set_t *set, int64_t now_us, const char *reason,
                         health_change_cb_t cb, void *ctx);

/*! \brief A snapshot for the engine: the keys whose state is down.
 * \retval 0, CIRRUS_ENOMEM */
int health_set_snapshot(const health_set_t *set, policy_health_t **out);

/*
 * The checker: a thread with a libuv loop that runs the checks and
 * publishes snapshots. One per server process.
 */

typedef struct health health_t;

/*! \brief Take a new snapshot; the receiver owns it and frees the one it
 * replaces once no reader can see it. Called with the checker's lock held. */
typedef void (*health_publish_cb_t)(void *ctx, policy_health_t *fresh);

/*! \brief Write one audit row (NULL means: no audit log). */
typedef void (*health_audit_cb_t)(void *ctx, const char *actor, const char *action,
                                  const char *before, const char *after);

typedef struct health_conf {
	const health_spec_t *specs;   /*!< linked checks; must outlive the checker */
	size_t spec_count;
	const char *const *static_down;   /*!< `health:` keys held down */
	size_t static_count;
	const char *const *known;     /*!< other keys drills may name (policies') */
	size_t known_count;
	health_publish_cb_t publish;
	void *publish_ctx;
} health_conf_t;

/*!
 * \brief Build the checker and publish the first snapshot (static states;
 * checks count as up until their first result). No thread yet.
 * \retval 0, CIRRUS_ENOMEM, CIRRUS_EINVAL
 */
int health_new(const health_conf_t *conf, health_t **out);

/*! \brief Start the checks on a thread of their own; transitions and
 * drills go to audit from then on. \retval 0, CIRRUS_EIO, CIRRUS_ENOMEM */
int health_start(health_t *h, health_audit_cb_t audit, void *audit_ctx);

/*! \brief Stop the thread (if started) and free everything (NULL ok). The
 * last published snapshot stays with its receiver. */
void health_free(health_t *h);

/*! \brief The checker of this process, or NULL (for the REST API). */
health_t *health_current(void);

/*
 * Checks added and removed while the checker runs: the service registry's
 * per-instance checks (docs/services.md). They run on the same thread with
 * the same kinds, timing and rise/fall as the configured ones, and their
 * keys are in the snapshot, GET /api/v1/health, drills and the audit log
 * like any other; a calculated check cannot be one, nor name one.
 */

/*!
 * \brief Add a check (health_spec_check()ed, not calculated) as a new key,
 * unknown until its first result. spec is taken over in every case.
 * \retval 0, CIRRUS_EEXIST (a key of that name exists), CIRRUS_EINVAL, CIRRUS_ENOMEM
 */
int health_watch_add(health_t *h, health_spec_t *spec);

/*! \brief Remove a key added by health_watch_add; its runs stop.
 * \retval 0, CIRRUS_ENOENT (no such added key) */
int health_watch_remove(health_t *h, const char *name);

/*! \brief Replace the static states (SIGHUP). \retval 0, CIRRUS_ENOMEM */
int health_set_static_down(health_t *h, const char *const *down, size_t count);

/*!
 * \brief Start (ms > 0) or end (ms == 0) a drill on key, audited as done by
 * actor. \retval 0, CIRRUS_ENOENT (no such key), CIRRUS_ENOMEM
 */
int health_drill(health_t *h, const char *key, uint64_t ms, const char *actor);

/*! \brief Call cb with a consistent copy of every key, under the lock. */
typedef int (*health_key_cb_t)(void *ctx, const health_key_t *key);
int health_list(health_t *h, health_key_cb_t cb, void *ctx);

/*! \brief Microseconds since the epoch (CLOCK_REALTIME). */
int64_t health_now_us(void);

/*! \brief A health_audit_cb_t that writes the row through the control
 * plane's store (ctx is a ctl_t *); failures are logged. */
void health_audit_ctl(void *ctx, const char *actor, const char *action,
                      const char *before, const char *after);
