/* SPDX-License-Identifier: Apache-2.0
 * cmd.h -- the `cirrus` subcommands and what they share: each takes its own
 * argv (argv[0] is the subcommand's name) and returns the process exit code:
 * 0 success, 1 failure, 2 bad usage.
 */
#pragma once

/*! \brief `cirrus serve`: run the DNS server until SIGTERM or SIGINT. */
int cmd_serve(int argc, char **argv);

/*! \brief `cirrus zone check`: load a zone file and report what is wrong. */
int cmd_zone(int argc, char **argv);

/*! \brief `cirrus zone compile`: write zone files as a compiled image. */
int cmd_zone_compile(int argc, char **argv);

/*! \brief The origin a zone file's name implies: its base name without .zone
 *  or .db (malloc'ed; NULL when out of memory). */
char *cmd_zone_origin(const char *path);

/*! \brief `cirrus token`: create, list and delete API tokens in the store. */
int cmd_token(int argc, char **argv);

/*! \brief `cirrus key`: add, list and delete TSIG keys for RFC 2136 UPDATE. */
int cmd_key(int argc, char **argv);

/*! \brief `cirrus function http`: answer DoH and the JSON API as a serverless function. */
int cmd_function(int argc, char **argv);

/*! \brief `cirrus function lambda`, and the binary run as `bootstrap`: the AWS
 *  Lambda custom runtime (docs/deploy-lambda.md). */
int cmd_function_lambda(int argc, char **argv);

/*! \brief `cirrus health`: show a running server's health keys (REST API). */
int cmd_health(int argc, char **argv);

/*! \brief `cirrus drill`: force a health key down for a while, or end a drill. */
int cmd_drill(int argc, char **argv);

/*! \brief `cirrus proxy`: relay UDP/TCP DNS to DoH upstreams (docs/proxy.md). */
int cmd_proxy(int argc, char **argv);

/*!
 * \brief Report a getopt_long() failure and print usage to stderr.
 * \param cmd    command as the user typed it ("serve", "zone check")
 * \param opt    what getopt_long() returned ('?' unknown, ':' missing value)
 * \param argv   argument vector getopt_long() scanned
 * \param usage  usage text of the command
 * \return 2, the exit code for bad usage
 */
int cmd_bad_option(const char *cmd, int opt, char *const argv[], const char *usage);

/*!
 * \brief Report an argument problem and print usage to stderr.
 * \return 2, the exit code for bad usage
 */
int cmd_bad_usage(const char *cmd, const char *problem, const char *usage);

/*! \brief Initialise GnuTLS, once (src/crypto_defer.c): every command but
 *  `function` calls it before it starts; 0 or a negative GnuTLS error. */
int crypto_init(void);
