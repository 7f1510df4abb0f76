#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# policy.sh -- routing-policy phase of make bench (issue 4).
#
#   bench/policy.sh CIRRUS_BIN      # alone (same knobs as bench/run.sh)
#   bench/run.sh CIRRUS_BIN         # as a phase after the main one
#
# One zone (pol.test., bench/policy_gen.py) whose names answer A either as
# static records or through routing policies (`ip` over 300 prefixes,
# `weighted`), queried by dnsperf -B from a file of wire queries that each
# carry their own EDNS Client Subnet option (dnsperf's -E would give every
# query the same subnet).  127.0.0.1 is a trusted ECS source in every server.
#
# Servers, one at a time, pinned to CPU 1, dnsperf on CPU 0, UDP only:
#   cirrus-static / cirrus-policy   the same names, static or as policies
#   pdns-static / pdns-policy       PowerDNS 4.7 (bind backend), plain A records
#                                   or the same policies as LUA records, its
#                                   packet cache at the default (cache-ttl 20)
#   pdns-nocache-policy             LUA records, packet cache off (cache-ttl=0)
# Report: bench/out/policy.md; raw: bench/out/policy.jsonl, bench/out/raw/policy-*.
# BENCH_SKIP_PDNS=1 leaves PowerDNS out (and so the 3x target unchecked).

# prepare_cirrus_static / prepare_cirrus_policy DIR ZONEFILE TAG -- the main
# benchmark's Cirrus configuration plus ECS trust for the load generator, and
# for the policy variant the zone's policies (the zone entry is the last
# thing prepare_cirrus writes, so the policies list can follow it).
prepare_cirrus_static() {
	prepare_cirrus "$1" "$2"
	sed -i 's/^  workers: 1$/&\n  ecs-trust: [127.0.0.1\/32]/' "$1/cirrus.yaml"
}

prepare_cirrus_policy() {
	prepare_cirrus_static "$@"
	cat "$POLICY_DATA/policies.yaml" >>"$1/cirrus.yaml"
}

# policy_server NAME TAG ZONEFILE -- start, check answers, load runs, stop.
policy_server() {
	local name=$1 tag=$2 zonefile=$3
	say "=== $name ($tag answers): $(server_version "${name%%-*}")"
	start_server "$name" "$zonefile" "$tag" || return 1
	"$PY" "$BENCH_DIR/policy_check.py" dump --addr "$ADDR" --port "$PORT" \
		--queries "$POLICY_DATA/queries.bin" --out "$OUT/policy-answers-$name-$tag.json" >&2 ||
		return 1
	load_runs "policy-$name-$tag" udp -B || return 1
	stop_server
}

# policy_perf NAME TAG ZONEFILE -- one extra dnsperf run under perf record -g
# (BENCH_POLICY_PERF=1); its numbers are not in the medians.
policy_perf() {
	local name=$1 tag=$2 zonefile=$3
	start_server "$name" "$zonefile" "$tag" || return 1
	perf record -g -o "$OUT/policy-perf-$name-$tag.data" -p "$CURRENT_PID" -- sleep \
		"$SECONDS_PER_RUN" >/dev/null 2>&1 &
	local perf_pid=$!
	taskset -c "$LOADGEN_CPU" dnsperf -B -s "$ADDR" -p "$PORT" -d "$POLICY_DATA/queries.bin" \
		-l "$SECONDS_PER_RUN" -q "$OUTSTANDING" -m udp -c "$UDP_CLIENTS" >/dev/null 2>&1
	wait "$perf_pid" || true
	stop_server
	say "perf profile: $OUT/policy-perf-$name-$tag.data"
}

# policy_phase CMDLINE
policy_phase() {
	local cmdline=$1 versions=() failed="" pdns=1
	# Seen by the run.sh functions called below (start_server, load_runs).
	local POLICY_DATA="$OUT/data/policy" ZONE_ORIGIN=pol.test
	local RESULTS="$OUT/policy.jsonl" LOAD_DATA="$OUT/data/policy/queries.bin"
	if [ "${BENCH_SKIP_PDNS:-0}" = 1 ]; then
		pdns=0
	elif ! command -v pdns_server >/dev/null; then
		say "pdns_server not found (scripts/deps.sh bench installs it); PowerDNS left out"
		pdns=0
	fi
	say "=== routing policies (bench/policy.sh)"
	"$PY" "$BENCH_DIR/policy_gen.py" --out "$POLICY_DATA" >&2 || return 1
	rm -f "$RESULTS" "$OUT"/policy-answers-* "$OUT"/raw/policy-*
	versions+=("$(server_version cirrus)")
	[ "$pdns" = 1 ] && versions+=("$(server_version pdns)")

	policy_server cirrus-static static "$POLICY_DATA/static.zone" || failed="$failed cirrus-static"
	policy_server cirrus-policy policy "$POLICY_DATA/policy.zone" || failed="$failed cirrus-policy"
	if [ "$pdns" = 1 ]; then
		policy_server pdns static "$POLICY_DATA/static.zone" || failed="$failed pdns-static"
		policy_server pdns policy "$POLICY_DATA/pdns.zone" || failed="$failed pdns-policy"
		policy_server pdns-nocache policy "$POLICY_DATA/pdns.zone" ||
			failed="$failed pdns-nocache-policy"
	fi
	cleanup   # a server left by a failure above
	if [ "${BENCH_POLICY_PERF:-0}" = 1 ]; then
		policy_perf cirrus-policy policy "$POLICY_DATA/policy.zone" || true
		policy_perf cirrus-static static "$POLICY_DATA/static.zone" || true
	fi
	"$PY" "$BENCH_DIR/policy_report.py" --results "$RESULTS" --out "$OUT/policy.md" \
		--answers "$OUT" --command "$cmdline" \
		--params "seconds=$SECONDS_PER_RUN runs=$RUNS udp_clients=$UDP_CLIENTS outstanding=$OUTSTANDING" \
		"${versions[@]}" || return 1
	[ -z "$failed" ] || { say "policy phase failed:$failed"; return 1; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ -z "${_BENCH_SOURCED:-}" ]; then
	_BENCH_SOURCED=1
	# shellcheck source=bench/run.sh
	. "$(dirname "${BASH_SOURCE[0]}")/run.sh"
	SKIP_1M=1   # the phase needs no 1M zone
	standalone_phase policy.sh policy_phase "${1:-}"
fi
