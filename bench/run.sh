#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run.sh -- side-by-side benchmark of Cirrus, NSD and Knot DNS (make bench).
#
#   bench/run.sh CIRRUS_BIN
#
# Serves one generated zone from each server in turn (one worker, pinned to
# CPU 1), drives it with dnsperf pinned to CPU 0 over UDP and TCP, and
# measures throughput, server CPU per query, latency, cold start and memory.
# Results: a table on stdout and bench/out/results.md (raw data in
# bench/out/results.jsonl, dnsperf output in bench/out/raw/).
#
# Knobs (environment):
#   BENCH_SECONDS=10        length of each dnsperf run
#   BENCH_RUNS=3            dnsperf runs per server and transport (median reported)
#   BENCH_COLD_RUNS=RUNS    cold starts per zone size (median reported)
#   BENCH_SKIP_1M=1         skip the 1,000,000-record cold-start/memory part
#   BENCH_SERVERS="cirrus nsd knot"
#   BENCH_NAMES=10000       names in the main zone
#   BENCH_PORT=29530        port on 127.0.0.1 the servers listen on (below the
#                           ephemeral range, so no client connection can hold it)
#   BENCH_START_TIMEOUT=120 seconds a server may take to answer after exec
#   BENCH_RETRIES=2         repeats of a load run disturbed by other processes
#   BENCH_QUIET_WAIT=30     seconds to wait for idle CPUs before each load run
#   BENCH_UDP_CLIENTS=8 BENCH_TCP_CLIENTS=16 BENCH_OUTSTANDING=100   dnsperf -c / -q
#
# Then, if cirrus is among the servers, the control-plane phase (bench/writes.py:
# API write-to-visible latency, API writes per second, queries under writes;
# report in bench/out/writes.md).  It runs alone with
#   bench/writes.py build/src/cirrus
# Its knobs (BENCH_SECONDS, BENCH_RUNS, BENCH_SKIP_1M, BENCH_PORT and the ones
# above apply too; the API listens on BENCH_PORT + 1):
#   BENCH_SKIP_WRITES=1               skip the control-plane phase
#   BENCH_WRITE_SAMPLES_10K=300       writes timed per run, 10k-record zone
#   BENCH_WRITE_SAMPLES_1M=100        writes timed per run, 1M-record zone
#   BENCH_WRITE_RATE=50               PATCH/s of the writer during dnsperf
#   BENCH_WRITES_PERF=1               also perf record -g one extra 1M latency run
#
# Then two more Cirrus phases, each also runnable alone (bench/policy.sh BIN,
# bench/function.sh BIN); they use the knobs above too:
#   BENCH_SKIP_POLICY=1     skip routing policies (bench/policy.sh: static vs policy
#                           answers with per-query ECS, and PowerDNS LUA records;
#                           report in bench/out/policy.md)
#   BENCH_SKIP_PDNS=1       leave PowerDNS out of the policy phase
#   BENCH_POLICY_PERF=1     also perf record -g one Cirrus policy and one static run
#   BENCH_SKIP_FUNCTION=1   skip function mode (bench/function.sh: cold start of
#                           `function http` from file, image and store beside Knot
#                           and NSD, DoH requests/s on one core; bench/out/function.md)
#   BENCH_DOH_CLIENTS=8     h2load connections for the DoH throughput runs
#   BENCH_SKIP_CHURN=1      skip service-discovery churn (bench/churn.py BIN: 1,000
#                           instances heartbeating and leaving while dnsperf runs;
#                           registration-to-answer, lease-end removal, QPS under
#                           churn ÷ idle; report in bench/out/churn.md)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)   # used by servers.sh
OUT="$BENCH_DIR/out"
PY=/usr/bin/python3

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
RUNS=${BENCH_RUNS:-3}
COLD_RUNS=${BENCH_COLD_RUNS:-$RUNS}
SKIP_1M=${BENCH_SKIP_1M:-0}
SERVERS=${BENCH_SERVERS:-cirrus nsd knot}
NAMES=${BENCH_NAMES:-10000}
PORT=${BENCH_PORT:-29530}
START_TIMEOUT=${BENCH_START_TIMEOUT:-120}
RETRIES=${BENCH_RETRIES:-2}
QUIET_WAIT=${BENCH_QUIET_WAIT:-30}
QUIET_LIMIT=0.10   # a CPU busier than this before a run means someone else is working
UDP_CLIENTS=${BENCH_UDP_CLIENTS:-8}
TCP_CLIENTS=${BENCH_TCP_CLIENTS:-16}
OUTSTANDING=${BENCH_OUTSTANDING:-100}
SKIP_WRITES=${BENCH_SKIP_WRITES:-0}
WRITE_SAMPLES_10K=${BENCH_WRITE_SAMPLES_10K:-300}
WRITE_SAMPLES_1M=${BENCH_WRITE_SAMPLES_1M:-100}
WRITE_RATE=${BENCH_WRITE_RATE:-50}
WRITES_PERF=${BENCH_WRITES_PERF:-0}
ADDR=127.0.0.1
ZONE_ORIGIN=bench.test
LOADGEN_CPU=0
SERVER_CPU=1
SEED=20240101
RECORDS_1M=1000000

ZONE_10K="$OUT/data/bench.test.zone"
ZONE_1M="$OUT/data/bench.test-1m.zone"
QUERIES="$OUT/data/queries.txt"
QUERIES_1M="$OUT/data/queries-1m.txt"   # only for the answer cross-check
RESULTS="$OUT/results.jsonl"

CURRENT_PID=""   # the server now running, for the exit trap
FAILED=""        # servers that failed somewhere; makes the exit status non-zero

# shellcheck source=bench/servers.sh
. "$BENCH_DIR/servers.sh"
# shellcheck source=bench/policy.sh
. "$BENCH_DIR/policy.sh"
# shellcheck source=bench/function.sh
. "$BENCH_DIR/function.sh"

die() { echo "bench: error: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

# The command line as the user would retype it, knobs included.
command_line() {
	local knobs
	knobs=$(env | grep -E '^BENCH_[A-Z0-9_]+=' | sort | tr '\n' ' ' || true)
	echo "${knobs}bench/run.sh $*"
}

check_args_and_tools() {
	local tool
	for tool in dnsperf taskset "$PY"; do
		command -v "$tool" >/dev/null || die "'$tool' not found (scripts/deps.sh bench installs it)"
	done
	case " $SERVERS " in *" nsd "*) command -v nsd >/dev/null || die "nsd not found" ;; esac
	case " $SERVERS " in *" knot "*) command -v knotd >/dev/null || die "knotd not found" ;; esac
	case " $SERVERS " in *" cirrus "*)
		[ -n "${CIRRUS_BIN:-}" ] || die "usage: bench/run.sh CIRRUS_BIN (or BENCH_SERVERS='nsd knot')"
		[ -x "$CIRRUS_BIN" ] || die "$CIRRUS_BIN is not an executable; run 'make build' first"
		CIRRUS_BIN=$(cd "$(dirname "$CIRRUS_BIN")" && pwd)/$(basename "$CIRRUS_BIN") ;;
	esac
	[ "$(nproc)" -ge 2 ] || die "need 2 CPUs (load generator on CPU $LOADGEN_CPU, server on CPU $SERVER_CPU)"
	local n
	for n in "$SECONDS_PER_RUN" "$RUNS" "$COLD_RUNS" "$NAMES" "$PORT" "$START_TIMEOUT"; do
		[[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "knob value '$n' is not a positive integer"
	done
	for n in "$WRITE_SAMPLES_10K" "$WRITE_SAMPLES_1M" "$WRITE_RATE"; do
		[[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "knob value '$n' is not a positive integer"
	done
	for n in "$RETRIES" "$QUIET_WAIT"; do
		[[ "$n" =~ ^[0-9]+$ ]] || die "knob value '$n' is not a non-negative integer"
	done
}

# generate FILE STAMP ARGS... -- run gen_zone.py unless FILE was already made
# by the same generator with the same arguments (the 1M zone takes ~15 s).
generate() {
	local file=$1; shift
	local stamp
	stamp="$(sha1sum <"$BENCH_DIR/gen_zone.py" | cut -c1-40) $*"
	if [ -f "$file" ] && [ "$(cat "$file.stamp" 2>/dev/null)" = "$stamp" ]; then
		say "reusing $file"
		return
	fi
	rm -f "$file.stamp"   # an interrupted run must not leave a half file "valid"
	"$PY" "$BENCH_DIR/gen_zone.py" "$@" >&2
	echo "$stamp" >"$file.stamp"
}

generate_data() {
	mkdir -p "$OUT/data" "$OUT/raw" "$OUT/run"
	generate "$ZONE_10K" --seed "$SEED" --names "$NAMES" --zone "$ZONE_10K" --queries "$QUERIES"
	if [ "$SKIP_1M" != 1 ]; then
		generate "$ZONE_1M" --seed "$SEED" --records "$RECORDS_1M" --zone "$ZONE_1M" \
			--queries "$QUERIES_1M" --query-count 2000
	fi
}

# start_server NAME ZONEFILE TAG -- start, wait until it answers, record the
# cold start and memory.  Sets CURRENT_PID.  Returns non-zero on failure.
start_server() {
	local name=$1 zonefile=$2 tag=$3 out
	prepare_server "$name" "$zonefile" "$tag"
	if ! out=$("$PY" "$BENCH_DIR/start_server.py" --addr "$ADDR" --port "$PORT" \
		--zone "$ZONE_ORIGIN." --timeout "$START_TIMEOUT" --cpu "$SERVER_CPU" ${START_PROBE:-} \
		--log "$SERVER_DIR/server.log" --pidfile "$SERVER_DIR/bench.pid" \
		--record "$RESULTS" --server "$name" --label "$tag" -- "${SERVER_CMD[@]}"); then
		# A pid file means a process was started: make sure it is gone.
		[ -f "$SERVER_DIR/bench.pid" ] && stop_pid "$(cat "$SERVER_DIR/bench.pid")"
		say "$name did not start on the $tag zone (log: $SERVER_DIR/server.log)"
		return 1
	fi
	CURRENT_PID=${out%% *}
	say "$name ($tag zone) answering after ${out##* } ms, pid $CURRENT_PID"
}

# stop_pid PID -- TERM the server's process group, wait up to 10 s, then KILL.
# The server leads its own group (start_server.py uses a new session), so
# this reaches NSD's forked children too and nothing else.
stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM -- "-$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		group_alive "$pid" || return 0
		sleep 0.1
	done
	say "pid $pid ignored SIGTERM for 10 s; sending SIGKILL"
	kill -KILL -- "-$pid" 2>/dev/null || true
}

# group_alive PGID -- true while any process of the group is left (NSD's
# children may outlive the group leader for a moment).
group_alive() {
	pgrep -g "$1" >/dev/null
}

stop_server() {
	stop_pid "$CURRENT_PID"
	CURRENT_PID=""
}

cleanup() {
	if [ -n "$CURRENT_PID" ]; then
		say "stopping server pid $CURRENT_PID"
		stop_server
	fi
}

# wait_quiet -- give other work on the benchmark CPUs (a build, a test
# suite in another shell) up to QUIET_WAIT seconds to finish before a run.
wait_quiet() {
	local busy
	if ! busy=$("$PY" "$BENCH_DIR/procstat.py" quiet "$LOADGEN_CPU,$SERVER_CPU" \
		"$QUIET_LIMIT" "$QUIET_WAIT"); then
		say "CPUs still busy after ${QUIET_WAIT}s ($busy); running anyway"
	fi
}

# load_runs NAME MODE [DNSPERF_ARGS...] -- RUNS dnsperf runs against the
# running server.  A run that other processes disturbed (load_run.py exits 3)
# is repeated, at most RETRIES times per run; the report leaves disturbed runs
# out of the medians.  The query file is LOAD_DATA (default: QUERIES).
load_runs() {
	local name=$1 mode=$2 run try rc
	local args=(-s "$ADDR" -p "$PORT" -d "${LOAD_DATA:-$QUERIES}" -l "$SECONDS_PER_RUN"
		-q "$OUTSTANDING" "${@:3}")
	if [ "$mode" = tcp ]; then
		args+=(-m tcp -c "$TCP_CLIENTS")
	else
		args+=(-m udp -c "$UDP_CLIENTS")
	fi
	for ((run = 1; run <= RUNS; run++)); do
		for ((try = 0; try <= RETRIES; try++)); do
			wait_quiet
			rc=0
			"$PY" "$BENCH_DIR/load_run.py" --pid "$CURRENT_PID" --server "$name" \
				--mode "$mode" --run "$run" --record "$RESULTS" \
				--cpu "$SERVER_CPU" --loadgen-cpu "$LOADGEN_CPU" \
				--timeout $((SECONDS_PER_RUN + 120)) \
				--raw "$OUT/raw/$name-$mode-$run.txt" \
				-- taskset -c "$LOADGEN_CPU" dnsperf "${args[@]}" || rc=$?
			[ "$rc" = 3 ] && continue   # disturbed: try again
			[ "$rc" = 0 ] || return 1
			break
		done
	done
}

# cold_starts NAME ZONEFILE TAG COUNT -- start/stop COUNT times (each start
# records its own time to first answer and memory).
cold_starts() {
	local name=$1 zonefile=$2 tag=$3 count=$4 i
	for ((i = 0; i < count; i++)); do
		start_server "$name" "$zonefile" "$tag" || return 1
		stop_server
	done
}

# image_starts -- cold starts of Cirrus from a compiled image, both zones.
# A start that fell back to parsing the zone file would measure the wrong
# thing, so the log must say the zone came from the image.
image_starts() {
	local tag zonefile i
	for tag in 10k 1m; do
		[ "$tag" = 1m ] && [ "$SKIP_1M" = 1 ] && continue
		zonefile=$ZONE_10K
		[ "$tag" = 1m ] && zonefile=$ZONE_1M
		for ((i = 0; i < COLD_RUNS; i++)); do
			start_server cirrus-image "$zonefile" "$tag" || return 1
			grep -q "records from image" "$SERVER_DIR/server.log" ||
				{ say "cirrus-image did not start from its image (log: $SERVER_DIR/server.log)"; return 1; }
			stop_server
		done
	done
}

# dump_answers NAME TAG QUERYFILE -- save the running server's answers to a
# sample of the queries, for the cross-check between servers.
dump_answers() {
	"$PY" "$BENCH_DIR/check_answers.py" dump --addr "$ADDR" --port "$PORT" \
		--queries "$3.tsv" --out "$OUT/answers-$2-$1.json" >&2
}

# bench_server NAME -- everything for one server.  The first start on each
# zone is also its first cold-start sample and serves the answer check.
bench_server() {
	local name=$1
	say "=== $name: $(server_version "$name")"
	start_server "$name" "$ZONE_10K" 10k || return 1
	dump_answers "$name" 10k "$QUERIES" || return 1
	load_runs "$name" udp || return 1
	load_runs "$name" tcp || return 1
	stop_server
	cold_starts "$name" "$ZONE_10K" 10k $((COLD_RUNS - 1)) || return 1
	[ "$SKIP_1M" = 1 ] && return 0
	start_server "$name" "$ZONE_1M" 1m || return 1
	dump_answers "$name" 1m "$QUERIES_1M" || return 1
	stop_server
	cold_starts "$name" "$ZONE_1M" 1m $((COLD_RUNS - 1)) || return 1
}

# compare_answers TAG -- check every server's answers against Knot's.
compare_answers() {
	local tag=$1 name dumps=()
	for name in $SERVERS; do
		[ -f "$OUT/answers-$tag-$name.json" ] && dumps+=("$name=$OUT/answers-$tag-$name.json")
	done
	[ "${#dumps[@]}" -gt 1 ] || return 0
	"$PY" "$BENCH_DIR/check_answers.py" compare --ref knot --title "$tag zone" \
		--out "$OUT/answers-check-$tag.md" "${dumps[@]}" >/dev/null ||
		say "answer comparison for the $tag zone failed (the numbers still stand)"
}

# writes_phase CMDLINE -- the control-plane benchmark (bench/writes.py), Cirrus
# only.  It starts and stops its own servers, on the same port and CPUs.
writes_phase() {
	local args=(--runs "$RUNS" --seconds "$SECONDS_PER_RUN" --port "$PORT"
		--samples-10k "$WRITE_SAMPLES_10K" --samples-1m "$WRITE_SAMPLES_1M"
		--write-rate "$WRITE_RATE" --udp-clients "$UDP_CLIENTS" --outstanding "$OUTSTANDING"
		--retries "$RETRIES" --quiet-wait "$QUIET_WAIT" --start-timeout "$START_TIMEOUT"
		--out "$OUT" --locked --command "$1")
	[ "$SKIP_1M" = 1 ] && args+=(--skip-1m)
	[ "$WRITES_PERF" = 1 ] && args+=(--perf)
	say "=== control plane (bench/writes.py)"
	"$PY" "$BENCH_DIR/writes.py" "$CIRRUS_BIN" "${args[@]}"
}

# churn_phase CMDLINE -- the service-discovery churn benchmark (bench/churn.py),
# Cirrus only; it starts and stops its own servers, on the same port and CPUs.
churn_phase() {
	say "=== service discovery churn (bench/churn.py)"
	"$PY" "$BENCH_DIR/churn.py" "$CIRRUS_BIN" --runs "$RUNS" --seconds "$SECONDS_PER_RUN" \
		--port "$PORT" --udp-clients "$UDP_CLIENTS" --outstanding "$OUTSTANDING" \
		--quiet-wait "$QUIET_WAIT" --start-timeout "$START_TIMEOUT" --out "$OUT" --command "$1"
}

main() {
	CIRRUS_BIN=${1:-}
	local cmdline name versions=()
	cmdline=$(command_line "$@")
	echo "$cmdline"
	check_args_and_tools
	mkdir -p "$OUT"
	# Two benchmarks at once would share the port and the CPUs.
	exec 9>"$OUT/.lock"
	flock -n 9 || die "another bench/run.sh is running (lock $OUT/.lock)"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	generate_data
	rm -f "$RESULTS" "$OUT"/answers-* "$OUT"/raw/*.txt
	say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	# Versions now, not at the end: others may commit while we run.
	for name in $SERVERS; do versions+=("$(server_version "$name")"); done

	for name in $SERVERS; do
		if ! bench_server "$name"; then
			cleanup
			FAILED="$FAILED $name"
			echo "{\"kind\": \"error\", \"server\": \"$name\"}" >>"$RESULTS"
			say "$name FAILED; continuing with the other servers"
		fi
	done
	local reported=$SERVERS
	if [[ " $SERVERS " == *" cirrus "* ]]; then
		say "=== cirrus-image: cold starts from a compiled image"
		reported="$SERVERS cirrus-image"
		if ! image_starts; then
			cleanup
			FAILED="$FAILED cirrus-image"
			echo '{"kind": "error", "server": "cirrus-image"}' >>"$RESULTS"
		fi
	fi

	compare_answers 10k
	compare_answers 1m
	"$PY" "$BENCH_DIR/report.py" --results "$RESULTS" --out "$OUT/results.md" \
		--command "$cmdline" --servers "$reported" \
		--check "$OUT/answers-check-10k.md" --check "$OUT/answers-check-1m.md" \
		--params "seconds=$SECONDS_PER_RUN runs=$RUNS cold_runs=$COLD_RUNS names=$NAMES udp_clients=$UDP_CLIENTS tcp_clients=$TCP_CLIENTS outstanding=$OUTSTANDING" \
		"${versions[@]}"
	if [ "$SKIP_WRITES" = 1 ]; then
		say "control-plane phase skipped (BENCH_SKIP_WRITES=1)"
	elif [[ " $SERVERS " != *" cirrus "* ]]; then
		say "control-plane phase skipped (cirrus is not in BENCH_SERVERS)"
	elif ! writes_phase "$cmdline"; then
		FAILED="$FAILED cirrus-writes"
	fi
	if [ "${BENCH_SKIP_CHURN:-0}" = 1 ] || [[ " $SERVERS " != *" cirrus "* ]]; then
		say "service-discovery churn phase skipped (BENCH_SKIP_CHURN=1 or no cirrus)"
	elif ! churn_phase "$cmdline"; then
		FAILED="$FAILED cirrus-churn"
	fi
	if [ "${BENCH_SKIP_POLICY:-0}" = 1 ] || [[ " $SERVERS " != *" cirrus "* ]]; then
		say "routing-policy phase skipped (BENCH_SKIP_POLICY=1 or no cirrus)"
	elif ! policy_phase "$cmdline"; then
		cleanup
		FAILED="$FAILED cirrus-policy"
	fi
	if [ "${BENCH_SKIP_FUNCTION:-0}" = 1 ] || [[ " $SERVERS " != *" cirrus "* ]]; then
		say "function-mode phase skipped (BENCH_SKIP_FUNCTION=1 or no cirrus)"
	elif ! function_phase "$cmdline"; then
		cleanup
		FAILED="$FAILED cirrus-function"
	fi
	[ -z "$FAILED" ] || die "failed:$FAILED (see messages above)"
}

# standalone_phase SCRIPT PHASE_FUNCTION CIRRUS_BIN -- run one phase alone
# (bench/policy.sh BIN, bench/function.sh BIN), with the same checks, lock and
# clean-up as a whole run.
standalone_phase() {
	local script=$1 fn=$2 knobs
	CIRRUS_BIN=${3:-}
	knobs=$(env | grep -E '^BENCH_[A-Z0-9_]+=' | sort | tr '\n' ' ' || true)
	local cmdline="${knobs}bench/$script $CIRRUS_BIN"
	echo "$cmdline"
	BENCH_PHASE_ALONE=1
	check_args_and_tools
	mkdir -p "$OUT"
	exec 9>"$OUT/.lock"
	flock -n 9 || die "another benchmark is running (lock $OUT/.lock)"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	generate_data
	"$fn" "$cmdline"
}

# bench/policy.sh and bench/function.sh source this file for its functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
