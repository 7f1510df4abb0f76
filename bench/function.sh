#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# function.sh -- function-mode phase of make bench (issue 5).
#
#   bench/function.sh CIRRUS_BIN    # alone (same knobs as bench/run.sh)
#   bench/run.sh CIRRUS_BIN         # as a phase after the main one
#
# Cold start: exec to the first authoritative DoH answer (GET /dns-query for
# bench.test. SOA, a new connection every few ms; start_server.py --http) of
# `cirrus function http --threads 1` pinned to CPU 1, on the main benchmark's
# 10k and 1M zones, loading
#   function-file    the zone file (-c CONF)
#   function-image   a compiled image (cirrus zone compile -c CONF -O IMG; -c CONF --image IMG)
#   function-db      the SQLite store (cirrus zone import; --db DB)
# beside Knot DNS and NSD loading the same zone file.  Knot's and NSD's starts
# are the main phase's records in bench/out/results.jsonl when this phase
# runs inside run.sh after them; run alone (or without them in
# BENCH_SERVERS) it starts them again itself, BENCH_COLD_RUNS times.
#
# DoH throughput: function-image on the 10k zone, h2load --h1 (HTTP/1.1
# keep-alive, no pipelining) pinned to CPU 0, BENCH_DOH_CLIENTS connections,
# BENCH_SECONDS per run: GET with the main benchmark's query mix (10,000
# URLs), and POST of one query.  Requests/s and server CPU per request.
#
# Report: bench/out/function.md; raw: bench/out/function.jsonl, bench/out/raw/doh-*.

# prepare_function_{file,image,db} DIR ZONEFILE TAG -- the command only: the
# configuration, image and store of ZONEFILE were made by function_data
# before the clock.
function_cmd() {
	SERVER_CMD=("$CIRRUS_BIN" function http --listen "$ADDR"
		--port "$PORT" --threads 1 "$@")
}
zone_tag() { if [ "$1" = "$ZONE_1M" ]; then echo 1m; else echo 10k; fi; }
prepare_function_file() { function_cmd -c "$FUNCTION_DATA/$(zone_tag "$2")/cirrus.yaml"; }
prepare_function_image() {
	local t
	t=$(zone_tag "$2")
	function_cmd -c "$FUNCTION_DATA/$t/cirrus.yaml" --image "$FUNCTION_DATA/$t.img"
}
prepare_function_db() { function_cmd --db "$FUNCTION_DATA/$(zone_tag "$2").db" --poll-interval 0; }

# function_data -- per zone: a cirrus.yaml (the main benchmark's, written by
# prepare_cirrus), its compiled image, and a store holding the zone.
function_data() {
	local tag zonefile t0
	for tag in 10k 1m; do
		[ "$tag" = 1m ] && [ "$SKIP_1M" = 1 ] && continue
		zonefile=$ZONE_10K
		[ "$tag" = 1m ] && zonefile=$ZONE_1M
		rm -rf "${FUNCTION_DATA:?}/$tag" "$FUNCTION_DATA/$tag".*
		mkdir -p "$FUNCTION_DATA/$tag"
		prepare_cirrus "$FUNCTION_DATA/$tag" "$zonefile"
		t0=$(date +%s.%N)
		"$CIRRUS_BIN" zone compile -c "$FUNCTION_DATA/$tag/cirrus.yaml" \
			-O "$FUNCTION_DATA/$tag.img" >&2 || return 1
		say "$tag image compiled in $(echo "$(date +%s.%N) - $t0" | bc) s"
		t0=$(date +%s.%N)
		"$CIRRUS_BIN" zone import "$zonefile" --origin "$ZONE_ORIGIN" \
			--db "$FUNCTION_DATA/$tag.db" >&2 || return 1
		say "$tag store imported in $(echo "$(date +%s.%N) - $t0" | bc) s"
	done
	# The kernel writes the new files back in the background (about 200 MB
	# with the 1M zone): that must not overlap the timed starts.
	sync
}

# function_starts -- COLD_RUNS cold starts of each way of loading, each zone.
function_starts() {
	local tag zonefile how i
	for tag in 10k 1m; do
		[ "$tag" = 1m ] && [ "$SKIP_1M" = 1 ] && continue
		zonefile=$ZONE_10K
		[ "$tag" = 1m ] && zonefile=$ZONE_1M
		for how in file image db; do
			for ((i = 0; i < COLD_RUNS; i++)); do
				wait_quiet
				start_server "function-$how" "$zonefile" "$tag" || return 1
				if [ "$how" = image ] && ! grep -q "from image" "$SERVER_DIR/server.log"; then
					say "function-image did not start from its image (log: $SERVER_DIR/server.log)"
					return 1
				fi
				stop_server
			done
		done
	done
}

# reference_starts -- Knot's and NSD's cold starts: the main phase's records
# when it ran them in this invocation, else new ones.
reference_starts() {
	local name tag zonefile main_results=$1
	for name in knot nsd; do
		command -v "$([ "$name" = knot ] && echo knotd || echo nsd)" >/dev/null || continue
		for tag in 10k 1m; do
			[ "$tag" = 1m ] && [ "$SKIP_1M" = 1 ] && continue
			if [ -z "${BENCH_PHASE_ALONE:-}" ] && [ -f "$main_results" ] &&
				grep -q "\"kind\": \"start\", \"server\": \"$name\", \"zone\": \"$tag\"" "$main_results"; then
				grep "\"kind\": \"start\", \"server\": \"$name\", \"zone\": \"$tag\"" "$main_results" |
					sed 's/^{/{"source": "main phase", /' >>"$RESULTS"
				continue
			fi
			zonefile=$ZONE_10K
			[ "$tag" = 1m ] && zonefile=$ZONE_1M
			say "=== $name: cold starts on the $tag zone ($(server_version "$name"))"
			wait_quiet
			cold_starts "$name" "$zonefile" "$tag" "$COLD_RUNS" || return 1
		done
	done
}

# doh_runs LABEL H2LOAD_ARGS... -- RUNS h2load runs against the running
# server; disturbed runs are repeated like load_runs does for dnsperf.
doh_runs() {
	local label=$1 run try rc
	shift
	for ((run = 1; run <= RUNS; run++)); do
		for ((try = 0; try <= RETRIES; try++)); do
			wait_quiet
			rc=0
			"$PY" "$BENCH_DIR/function_load.py" run --pid "$CURRENT_PID" --label "$label" \
				--run "$run" --record "$RESULTS" --cpu "$SERVER_CPU" \
				--loadgen-cpu "$LOADGEN_CPU" --timeout $((SECONDS_PER_RUN + 60)) \
				--raw "$OUT/raw/doh-$label-$run.txt" -- \
				taskset -c "$LOADGEN_CPU" h2load --h1 -t 1 -c "$DOH_CLIENTS" -m 1 \
				-D "$SECONDS_PER_RUN" "$@" || rc=$?
			[ "$rc" = 3 ] && continue
			[ "$rc" = 0 ] || return 1
			break
		done
	done
}

function_throughput() {
	local url="http://$ADDR:$PORT/dns-query"
	"$PY" "$BENCH_DIR/function_load.py" inputs --queries "$QUERIES" --count 10000 \
		--url "$url" --urls "$FUNCTION_DATA/urls.txt" --body "$FUNCTION_DATA/post.bin" || return 1
	START_PROBE=--http start_server function-image "$ZONE_10K" doh || return 1
	doh_runs get -i "$FUNCTION_DATA/urls.txt" || return 1
	doh_runs post -d "$FUNCTION_DATA/post.bin" -H "Content-Type: application/dns-message" \
		"$url" || return 1
	stop_server
}

# function_phase CMDLINE
function_phase() {
	local cmdline=$1 versions=() failed=""
	local main_results=$RESULTS
	local FUNCTION_DATA="$OUT/data/function" RESULTS="$OUT/function.jsonl"
	local DOH_CLIENTS=${BENCH_DOH_CLIENTS:-8}
	say "=== function mode (bench/function.sh)"
	command -v h2load >/dev/null || { say "h2load not found (scripts/deps.sh bench)"; return 1; }
	rm -f "$RESULTS" "$OUT"/raw/doh-*
	mkdir -p "$FUNCTION_DATA"
	versions+=("$(server_version cirrus)" "$(server_version knot)" "$(server_version nsd)"
		"$(h2load --version | sed -n 1p)")
	function_data || { say "function mode: could not make the image or the store"; return 1; }
	START_PROBE=--http function_starts || failed="$failed starts"
	cleanup
	reference_starts "$main_results" || failed="$failed knot/nsd-starts"
	cleanup
	function_throughput || failed="$failed doh"
	cleanup
	"$PY" "$BENCH_DIR/function_report.py" --results "$RESULTS" --out "$OUT/function.md" \
		--command "$cmdline" \
		--params "seconds=$SECONDS_PER_RUN runs=$RUNS cold_runs=$COLD_RUNS doh_clients=$DOH_CLIENTS" \
		"${versions[@]}" || return 1
	[ -z "$failed" ] || { say "function phase failed:$failed"; return 1; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ -z "${_BENCH_SOURCED:-}" ]; then
	_BENCH_SOURCED=1
	# shellcheck source=bench/run.sh
	. "$(dirname "${BASH_SOURCE[0]}")/run.sh"
	standalone_phase function.sh function_phase "${1:-}"
fi
