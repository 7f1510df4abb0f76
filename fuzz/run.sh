#!/bin/bash
# run.sh -- run the libFuzzer engine target for a while.
# Usage: fuzz/run.sh BUILD_DIR SECONDS     (`make fuzz` calls it)
#
# Seeds go to fuzz/corpus-work/seeds (gitignored): BIND's dns_message_parse
# corpus from ../shared/corpora when it is there, plus queries generated here
# for the names of the harness's zone. New inputs libFuzzer finds are kept in
# fuzz/corpus-work/corpus across runs; crashes land in
# fuzz/corpus-work/artifacts/. Exit status: 0 no crash, non-zero otherwise.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
fi
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
target="$build/fuzz/fuzz_engine"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
if [ ! -x "$target" ]; then
	echo "$0: $target not found; build with CC=clang meson setup $build -Dfuzz=true" >&2
	exit 2
fi

work="$here/corpus-work"
seeds="$work/seeds"
corpus="$work/corpus"
artifacts="$work/artifacts"
mkdir -p "$seeds" "$corpus" "$artifacts"

bind_seeds="$repo/../shared/corpora/bind9-fuzz-seeds/dns_message_parse.in"
if [ -d "$bind_seeds" ]; then
	for f in "$bind_seeds"/*; do
		[ -f "$f" ] && cp "$f" "$seeds/bind-$(basename "$f")"
	done
	echo "run.sh: $(ls "$bind_seeds" | wc -l) seeds from $bind_seeds"
else
	echo "run.sh: $bind_seeds not found; generated seeds only"
fi

# Wire-format name: each label as a length byte and the label.
wire_name() {
	local name=$1 out="" label
	local IFS=.
	for label in $name; do
		[ -n "$label" ] || continue
		out+=$(printf '\\x%02x' "${#label}")
		out+=$label
	done
	printf '%s\\x00' "$out"
}

# query FILE ID NAME TYPE CLASS [edns]: a query with RD=0, optionally with an
# OPT record (payload 1232, DO=1, NSID and TCP keepalive options).
query() {
	local file=$1 id=$2 name=$3 type=$4 class=$5 edns=${6:-}
	local arcount='\x00\x00' opt=""
	if [ -n "$edns" ]; then
		arcount='\x00\x01'
		opt='\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x08\x00\x03\x00\x00\x00\x0b\x00\x00'
	fi
	printf "$(printf '\\x%02x\\x%02x' $((id >> 8)) $((id & 255)))"'\x00\x00\x00\x01\x00\x00\x00\x00'"$arcount$(wire_name "$name")$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((type >> 8)) $((type & 255)) $((class >> 8)) $((class & 255)))$opt" >"$file"
}

names="example.com www.example.com WwW.ExAmPlE.cOm alias.example.com
chain.example.com tochild.example.com out.example.com dangling.example.com
loop1.example.com self.example.com _sip._udp.example.com c.ent.example.com
a.b.c.ent.example.com nx.example.com foo.wild.example.com a.b.wild.example.com
q.cw.example.com y.x.ent.example.com deleg.example.com a.deleg.example.com
ns.deleg.example.com noglue.example.com sub.example.com www.sub.example.com
x.old.example.com y.old.example.com a.tosub.example.com q.w.sub.example.com
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.long.example.com
txt.example.com caa.example.com gen.example.com example.net"
# A NS CNAME SOA MX TXT AAAA SRV DNAME DS ANY CAA TYPE65280
types="1 2 5 6 15 16 28 33 39 43 255 257 65280"
n=0
for name in $names; do
	for type in $types; do
		n=$((n + 1))
		query "$seeds/gen-$n" $((n * 7919 & 65535)) "$name" "$type" 1
		if [ $((n % 2)) -eq 1 ]; then
			query "$seeds/gen-$n-edns" $n "$name" "$type" 1 edns
		fi
	done
done
query "$seeds/gen-ch-version" 1 version.bind 16 3
query "$seeds/gen-ch-id" 2 id.server 16 3 edns
query "$seeds/gen-axfr" 3 example.com 252 1
query "$seeds/gen-class-any" 4 www.example.com 1 255
echo "run.sh: $(ls "$seeds" | wc -l) seeds in $seeds"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
exec "$target" -max_total_time="$seconds" -timeout=10 -max_len=4096 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds"
