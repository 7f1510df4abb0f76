/* SPDX-License-Identifier: Apache-2.0
 * conf.h -- the server configuration: one YAML file (cirrus.yaml) read into
 * plain values with every default filled in. Errors name the file and line.
 * Not for applying the values (cmd_serve.c does that) nor for zone contents.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "health/health.h"
#include "policy/policy.h"
#include "util/log.h"

/*! \brief One listen address as written and as parsed (port left 0). */
typedef struct conf_addr {
	char *text;                     /*!< as written in the file */
	struct sockaddr_storage addr;   /*!< numeric address, port 0 */
} conf_addr_t;

/*! \brief One zone to serve. */
typedef struct conf_zone {
	char *origin;   /*!< apex as written */
	char *file;     /*!< master file, resolved against the config directory */
	policy_spec_t *policies;   /*!< routing policies (docs/policies.md) */
	size_t policy_count;
} conf_zone_t;

/*! \brief The upstream resolver of ALIAS targets outside the served zones
 * (docs/configuration.md#resolver). */
typedef struct conf_resolver {
	char *address;            /*!< numeric IP address, NULL = none */
	unsigned port;
	unsigned timeout_ms;      /*!< per try */
	unsigned retries;         /*!< tries after the first */
	unsigned min_ttl;         /*!< seconds: floor of the upstream TTL */
	unsigned max_ttl;         /*!< seconds: ceiling of the upstream TTL */
	unsigned serve_stale;     /*!< seconds data is served after a failed refresh */
} conf_resolver_t;

/*! \brief How the SOA serial of a store zone moves on each change. */
typedef enum {
	CONF_SERIAL_INCREMENT,   /*!< serial + 1 */
	CONF_SERIAL_DATE,        /*!< YYYYMMDDnn */
} conf_serial_policy_t;

/*! \brief The whole configuration; see docs/configuration.md for each key. */
typedef struct conf {
	char *path;                 /*!< file it was read from */
	conf_addr_t *listen;
	size_t listen_count;
	unsigned port;
	unsigned workers;           /*!< 0 = one per CPU */
	unsigned udp_payload;
	unsigned udp_coalesce_us;   /*!< pause after a small UDP batch; 0 = off */
	unsigned tcp_idle_timeout;  /*!< seconds */
	unsigned tcp_max_clients;
	unsigned tcp_io_timeout;    /*!< seconds */
	char *nsid;                 /*!< NULL = off */
	char *identity;             /*!< NULL = REFUSED */
	char *version;              /*!< NULL = REFUSED */
	log_level_t log_level;
	conf_zone_t *zones;
	size_t zone_count;
	char *store_path;           /*!< SQLite file, resolved against the config directory */
	conf_serial_policy_t serial_policy;
	bool api_enabled;
	char *api_listen;           /*!< numeric IP address */
	unsigned api_port;
	unsigned api_max_body;      /*!< bytes */
	unsigned services_answer_max; /*!< addresses per service A/AAAA answer */
	char *api_tls_cert;         /*!< resolved path, or NULL for plain HTTP */
	char *api_tls_key;          /*!< resolved path; set exactly when api_tls_cert is */
	policy_addr_t *ecs_trust;   /*!< server.ecs-trust: resolvers whose ECS is used */
	size_t ecs_trust_count;
	policy_strv_t health_down;  /*!< health: keys held down */
	health_spec_t *checks;      /*!< checks: checked and linked */
	size_t check_count;
	conf_resolver_t resolver;   /*!< resolver: for ALIAS targets */
} conf_t;

/*! \brief Largest accepted value of server.workers. */
#define CONF_WORKERS_MAX 1024

/*!
 * \brief Read a configuration file; keys it does not set keep their defaults.
 *
 * \param conf      filled on success; release with conf_deinit()
 * \param path      YAML file
 * \param err       on failure, "FILE:LINE: reason" (or "FILE: reason")
 * \param err_size  size of err
 * \retval 0 on success (nothing to release on failure)
 * \retval CIRRUS_EIO      the file cannot be opened
 * \retval CIRRUS_EPARSE   not valid YAML
 * \retval CIRRUS_EINVAL   an unknown key or a bad value
 * \retval CIRRUS_ENOMEM
 */
int conf_load(conf_t *conf, const char *path, char *err, size_t err_size);

/*! \brief Release everything conf_load() allocated. */
void conf_deinit(conf_t *conf);
