/* SPDX-License-Identifier: Apache-2.0
 * cmd_health.c -- `cirrus health` and `cirrus drill`: clients of the running
 * server's REST API (GET /api/v1/health, POST and DELETE
 * /api/v1/health/KEY/drill). The checker's state lives in the server
 * process only, so asking it over the API it already serves, with a token,
 * is the one way that shows the truth and is authenticated and audited
 * like every other change.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>

#include "cmd.h"
#include "conf/conf.h"
#include "health/health.h"

#define REPLY_MAX (4 * 1024 * 1024)

static const char usage_health[] =
	"usage: cirrus health [-c FILE | -u URL] [--ca-file FILE] [--json]\n"
	"\n"
	"Show the health keys of a running server: state, last check result,\n"
	"consecutive successes and failures, drills. Asks the server's REST API\n"
	"with the token in $CIRRUS_TOKEN (any token may read).\n"
	"  -c, --config FILE    find the API from this configuration's api section\n"
	"  -u, --url URL        the API's base URL (default http://127.0.0.1:8053)\n"
	"      --ca-file FILE   CA bundle for an https API\n"
	"      --json           print the API's JSON as it is\n"
	"  -h, --help           show this help\n";

static const char usage_drill[] =
	"usage: cirrus drill KEY (--down DURATION | --end) [-c FILE | -u URL] [--ca-file FILE]\n"
	"\n"
	"Force a health key down for a while (a failover drill), or end a drill\n"
	"early; the key returns to its checked state by itself when the time is\n"
	"up. Needs an admin token in $CIRRUS_TOKEN; audited under its name.\n"
	"  -d, --down DURATION  how long: 30s, 5m, 1h (1s to 24h)\n"
	"  -e, --end            end the drill now\n"
	"  -c, --config FILE    find the API from this configuration's api section\n"
	"  -u, --url URL        the API's base URL (default http://127.0.0.1:8053)\n"
	"      --ca-file FILE   CA bundle for an https API\n"
	"  -h, --help           show this help\n";

typedef struct client {
	char url[1024];        /* base, without a final slash */
	const char *ca_file;
	const char *token;
	char *reply;
	size_t reply_len;
	long status;
} client_t;

static size_t on_reply(char *data, size_t size, size_t n, void *userp)
{
	client_t *c = userp;
	size_t len = size * n;
	if (c->reply_len + len > REPLY_MAX) {
		return 0;
	}
	char *grown = realloc(c->reply, c->reply_len + len + 1);
	if (grown == NULL) {
		return 0;
	}
	memcpy(grown + c->reply_len, data, len);
	c->reply = grown;
	c->reply_len += len;
	c->reply[c->reply_len] = '\0';
	return len;
}

/* The API's base URL from a configuration's api section. */
static int url_from_conf(client_t *c, const char *path)
{
	conf_t conf;
	char err[1024];
	if (conf_load(&conf, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	bool v6 = strchr(conf.api_listen, ':') != NULL;
	snprintf(c->url, sizeof(c->url), "%s://%s%s%s:%u", conf.api_tls_cert ? "https" : "http",
	         v6 ? "[" : "", conf.api_listen, v6 ? "]" : "", conf.api_port);
	conf_deinit(&conf);
	return 0;
}

/* One request; the reply goes to c->reply. Returns an exit code. */
static int request(client_t *c, const char *method, const char *path, const char *body)
{
	char url[2048], auth[1024];
	snprintf(url, sizeof(url), "%s/api/v1/%s", c->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
	CURL *e = curl_easy_init();
	struct curl_slist *headers = curl_slist_append(NULL, auth);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	if (c->ca_file != NULL) {
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	}
	CURLcode rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(e);
	if (rc != CURLE_OK) {
		fprintf(stderr, "cirrus: %s: %s\n", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return 1;
	}
	return 0;
}

/* The API's error message, or the whole reply. Returns 1. */
static int api_failed(const client_t *c)
{
	json_t *j = c->reply ? json_loads(c->reply, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "error"));
	fprintf(stderr, "cirrus: the API answered %ld: %s\n", c->status,
	        msg ? msg : c->reply ? c->reply : "");
	json_decref(j);
	return 1;
}

static const char *text(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : "-";
}

static void print_key(json_t *k)
{
	json_t *last = json_object_get(k, "last_result"), *drill = json_object_get(k, "drill");
	char counts[48], drilled[160] = "-";
	snprintf(counts, sizeof(counts), "%lld/%lld",
	         (long long)json_integer_value(json_object_get(k, "successes")),
	         (long long)json_integer_value(json_object_get(k, "failures")));
	if (json_is_object(drill)) {
		snprintf(drilled, sizeof(drilled), "until %s by %s", text(drill, "until"),
		         text(drill, "by"));
	}
	printf("%-20s %-10s %-7s %-7s %-7s %-20s %-40s %s\n", text(k, "key"), text(k, "type"),
	       text(k, "state"), text(k, "checked"), counts, text(k, "last_change"),
	       json_is_object(last) ? text(last, "message") : "-", drilled);
}

static int print_health(const client_t *c, bool raw)
{
	if (raw) {
		printf("%s\n", c->reply);
		return 0;
	}
	json_t *j = json_loads(c->reply, 0, NULL);
	json_t *checks = json_object_get(j, "checks");
	if (!json_is_array(checks)) {
		json_decref(j);
		fprintf(stderr, "cirrus: the API's answer is not a health list\n");
		return 1;
	}
	printf("%-20s %-10s %-7s %-7s %-7s %-20s %-40s %s\n", "KEY", "TYPE", "STATE",
	       "CHECKED", "OK/FAIL", "LAST CHANGE", "LAST RESULT", "DRILL");
	size_t i;
	json_t *k;
	json_array_foreach(checks, i, k) {
		print_key(k);
	}
	json_decref(j);
	return 0;
}

typedef struct args {
	const char *conf, *url, *down, *ca_file;
	bool json, end;
} args_t;

/* Options both commands take; -1 to go on, else the exit code. */
static int parse(int argc, char **argv, const char *cmd, const char *usage, args_t *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "down", required_argument, NULL, 'd' },
		{ "end", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool drill = strcmp(cmd, "drill") == 0;
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, drill ? ":c:u:d:eh" : ":c:u:h", longopts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'c': a->conf = optarg; break;
		case 'u': a->url = optarg; break;
		case 'C': a->ca_file = optarg; break;
		case 'j': if (drill) { return cmd_bad_usage(cmd, "--json is for health", usage); }
		          a->json = true; break;
		case 'd': if (!drill) { return cmd_bad_usage(cmd, "--down is for drill", usage); }
		          a->down = optarg; break;
		case 'e': if (!drill) { return cmd_bad_usage(cmd, "--end is for drill", usage); }
		          a->end = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default:  return cmd_bad_option(cmd, opt, argv, usage);
		}
	}
	if (a->conf != NULL && a->url != NULL) {
		return cmd_bad_usage(cmd, "give -c or -u, not both", usage);
	}
	return -1;
}

/* The client for a, with the token from the environment; -1 to go on. */
static int client_init(client_t *c, const args_t *a, const char *cmd)
{
	*c = (client_t) { .token = getenv("CIRRUS_TOKEN"), .ca_file = a->ca_file };
	if (c->token == NULL || c->token[0] == '\0') {
		fprintf(stderr, "cirrus %s: set CIRRUS_TOKEN to an API token (cirrus token "
		        "create)\n", cmd);
		return 1;
	}
	if (a->conf != NULL) {
		return url_from_conf(c, a->conf) != 0 ? 1 : -1;
	}
	snprintf(c->url, sizeof(c->url), "%s", a->url ? a->url : "http://127.0.0.1:8053");
	size_t len = strlen(c->url);
	if (len > 0 && c->url[len - 1] == '/') {
		c->url[len - 1] = '\0';
	}
	return -1;
}

int cmd_health(int argc, char **argv)
{
	args_t a = { 0 };
	client_t c;
	int rc = parse(argc, argv, "health", usage_health, &a);
	if (rc < 0 && optind < argc) {
		rc = cmd_bad_usage("health", "takes no positional arguments", usage_health);
	}
	if (rc >= 0 || (rc = client_init(&c, &a, "health")) >= 0) {
		return rc;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = request(&c, "GET", "health", NULL);
	if (rc == 0) {
		rc = c.status == 200 ? print_health(&c, a.json) : api_failed(&c);
	}
	free(c.reply);
	curl_global_cleanup();
	return rc;
}

static int print_drill(const client_t *c)
{
	json_t *k = json_loads(c->reply, 0, NULL);
	json_t *drill = json_object_get(k, "drill");
	if (json_is_object(drill)) {
		printf("%s: %s, drill until %s\n", text(k, "key"), text(k, "state"),
		       text(drill, "until"));
	} else {
		printf("%s: %s, no drill\n", text(k, "key"), text(k, "state"));
	}
	json_decref(k);
	return 0;
}

int cmd_drill(int argc, char **argv)
{
	args_t a = { 0 };
	client_t c;
	uint64_t ms;
	int rc = parse(argc, argv, "drill", usage_drill, &a);
	if (rc < 0 && optind + 1 != argc) {
		rc = cmd_bad_usage("drill", "needs one KEY", usage_drill);
	} else if (rc < 0 && (a.down != NULL) == a.end) {
		rc = cmd_bad_usage("drill", "needs --down DURATION or --end", usage_drill);
	} else if (rc < 0 && a.down != NULL &&
	           (health_duration_parse(a.down, &ms) != 0 || ms < 1000)) {
		rc = cmd_bad_usage("drill", "DURATION must be 1s to 24h, such as 30s or 5m",
		                   usage_drill);
	}
	if (rc >= 0 || (rc = client_init(&c, &a, "drill")) >= 0) {
		return rc;
	}
	char path[512], body[128];
	const char *key = argv[optind];
	char *escaped = curl_easy_escape(NULL, key, 0);
	snprintf(path, sizeof(path), "health/%s/drill", escaped ? escaped : key);
	curl_free(escaped);
	json_t *j = json_pack("{s:s}", "down", a.down ? a.down : "");
	char *dumped = j ? json_dumps(j, JSON_COMPACT) : NULL;
	snprintf(body, sizeof(body), "%s", dumped ? dumped : "{}");
	free(dumped);
	json_decref(j);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = request(&c, a.end ? "DELETE" : "POST", path, a.end ? NULL : body);
	if (rc == 0) {
		rc = c.status == 200 ? print_drill(&c) : api_failed(&c);
	}
	free(c.reply);
	curl_global_cleanup();
	return rc;
}
