/* SPDX-License-Identifier: Apache-2.0
 * api.h -- the REST control plane: an HTTP/1.1 JSON server (libmicrohttpd)
 * that authenticates bearer tokens, checks their scopes and turns requests
 * into ctl_* calls. It writes nothing itself except API tokens; zones change
 * only through ctl/. Documented for clients in docs/api.yaml. Also exports
 * the token and scope helpers `cirrus token` needs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/ctl.h"
#include "registry/registry.h"

typedef struct api api_t;

/*! \brief Where and how the API listens (from the `api` section). */
typedef struct api_conf {
	const char *listen;     /*!< numeric IPv4 or IPv6 address (IPv6 may carry %scope) */
	uint16_t port;          /*!< 0 lets the kernel choose */
	size_t max_body;        /*!< largest request body; larger ones get 413 */
	const char *tls_cert;   /*!< PEM certificate chain file, or NULL for plain HTTP */
	const char *tls_key;    /*!< PEM private key file; set with tls_cert or not at all */
	registry_t *registry;   /*!< service registry (not owned), or NULL: no /services */
	unsigned threads;       /*!< request threads (0 = 4); a connection keeps one */
} api_conf_t;

/*!
 * \brief Start serving the API on threads of its own.
 *
 * \param conf    listen address, port, body limit, TLS files (copied)
 * \param ctl     the control plane (not owned; must outlive the API)
 * \param out     the running API; stop it with api_stop()
 * \param err     on failure, what went wrong ("api: cannot listen on ...")
 * \param errlen  size of err
 * \retval 0 on success
 * \retval CIRRUS_EINVAL  bad listen address, only one of the TLS files, or a
 *                        TLS build of libmicrohttpd missing
 * \retval CIRRUS_EIO     a TLS file cannot be read or the socket cannot be bound
 * \retval CIRRUS_ENOMEM
 */
int api_start(const api_conf_t *conf, ctl_t *ctl, api_t **out, char *err, size_t errlen);

/*! \brief Stop accepting, finish the requests in hand, free the API (NULL ok). */
void api_stop(api_t *api);

/*
 * Tokens. A secret is "cirrus_" followed by 43 base64url characters (32
 * random bytes from gnutls_rnd). Only its hex SHA-256 is ever stored.
 */

/*! \brief Room for a secret with its NUL. */
#define API_TOKEN_SECRET_SIZE 64
/*! \brief Room for a hex SHA-256 with its NUL. */
#define API_TOKEN_HASH_SIZE 65
/*! \brief Room for the scopes of one token, space-separated, with the NUL
 * (the size of store_token_t.scopes). */
#define API_SCOPES_SIZE 1024

/*!
 * \brief Make a new secret and its hash.
 * \param secret  filled with the secret (shown once to the user)
 * \param hash    filled with its hex SHA-256 (what the store keeps)
 * \retval 0, CIRRUS_EIO (no randomness)
 */
int api_token_generate(char secret[API_TOKEN_SECRET_SIZE], char hash[API_TOKEN_HASH_SIZE]);

/*! \brief Hex SHA-256 of a secret as sent by a client. \retval 0, CIRRUS_EIO */
int api_token_hash(const char *secret, char hash[API_TOKEN_HASH_SIZE]);

/*!
 * \brief Check a token name: 1 to 127 bytes of letters, digits and . _ - @
 * \retval 0, CIRRUS_EINVAL (err says why)
 */
int api_token_name_check(const char *name, char *err, size_t errlen);

/*!
 * \brief Make a token: check its name and scopes, store its hash and the
 * audit row ("token.create") in one transaction.
 * \param st           the store (the caller holds it alone)
 * \param scopes       as the user wrote them; stored canonical, each once
 * \param who          actor and request id for the audit log
 * \param secret       on success, the secret to show the user once
 * \param canonical    on success, the scopes as stored (space-separated)
 * \param bad_scope    index of the scope that is wrong, else SIZE_MAX
 * \param err          on failure, why
 * \retval 0, CIRRUS_EINVAL (bad name or scope), CIRRUS_EEXIST (name taken),
 *         CIRRUS_EIO (store or randomness), CIRRUS_ENOMEM
 */
int api_token_create(store_t *st, const char *name, const char *const *scopes,
                     size_t scope_count, const ctl_actor_t *who,
                     char secret[API_TOKEN_SECRET_SIZE], char canonical[API_SCOPES_SIZE],
                     size_t *bad_scope, char *err, size_t errlen);

/*!
 * \brief Delete a token with an audit row ("token.delete") in one transaction.
 * \retval 0, CIRRUS_ENOENT (no such token), CIRRUS_EIO, CIRRUS_ENOMEM
 */
int api_token_remove(store_t *st, const char *name, const ctl_actor_t *who, char *err,
                     size_t errlen);

/*! \brief What a request needs on a zone. */
typedef enum {
	API_ACCESS_READ = 1,   /*!< zone:<pattern>:read, :write or admin */
	API_ACCESS_WRITE = 2,  /*!< zone:<pattern>:write or admin */
} api_access_t;

/*!
 * \brief Check one scope and write its canonical form: `admin`,
 * `zone:<pattern>:read` or `zone:<pattern>:write`, where pattern is a zone
 * name (case-folded, final dot dropped; `.` for the root) in which `*`
 * stands for any run of characters, dots included.
 * \param scope  as the user wrote it
 * \param out    canonical form (at most strlen(scope) + 1 bytes)
 * \retval 0, CIRRUS_EINVAL (err says why), CIRRUS_ESPACE (out too small)
 */
int api_scope_normalize(const char *scope, char *out, size_t outlen, char *err, size_t errlen);

/*! \brief Whether a list of canonical scopes (space-separated) holds `admin`. */
bool api_scopes_admin(const char *scopes);

/*!
 * \brief Whether canonical scopes allow an access to a zone.
 * \param scopes  space-separated canonical scopes (as stored)
 * \param zone    zone name in presentation form, final dot optional, any case
 * \param want    API_ACCESS_READ or API_ACCESS_WRITE
 */
bool api_scopes_allow(const char *scopes, const char *zone, api_access_t want);

/*!
 * \brief Whether canonical scopes allow changing instances of a service:
 * `admin`, `zone:<pattern>:write` for the zone, or
 * `service:<pattern>/<service>:write` (docs/services.md).
 * \param zone     zone name in presentation form, final dot optional, any case
 * \param service  service name (a label), any case
 */
bool api_scopes_allow_service(const char *scopes, const char *zone, const char *service);
