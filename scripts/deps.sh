#!/bin/sh
# deps.sh -- install the Debian 12 packages Cirrus needs, only when missing.
# Usage: scripts/deps.sh GROUP...   (groups: build test bench fuzz)
# The Makefile calls this before every target, so a fresh machine needs no
# manual step; on a machine that has everything it returns at once.
set -eu

pkgs_build="gcc pkg-config meson ninja-build libknot-dev libuv1-dev liburcu-dev libyaml-dev libcmocka-dev
 libsqlite3-dev libjansson-dev libmicrohttpd-dev libgnutls28-dev libcurl4-gnutls-dev
 liblmdb-dev libunistring-dev libmaxminddb-dev"
pkgs_test="python3 python3-pytest python3-dnspython python3-httpx curl openssl knot-dnsutils knot-dnssecutils bind9-dnsutils bind9-utils nsd knot dnsdist mmdb-bin"
pkgs_bench="dnsperf nsd knot knot-dnsutils procps util-linux pdns-server pdns-backend-bind nghttp2-client"
pkgs_fuzz="clang libclang-rt-14-dev"

want=""
for group in "$@"; do
	case "$group" in
	build) want="$want $pkgs_build" ;;
	test)  want="$want $pkgs_build $pkgs_test" ;;
	bench) want="$want $pkgs_build $pkgs_bench" ;;
	fuzz)  want="$want $pkgs_build $pkgs_fuzz" ;;
	*) echo "deps.sh: unknown group '$group' (build test bench fuzz)" >&2; exit 2 ;;
	esac
done

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# The nsd, knot, dnsdist and pdns-server packages start their daemons on port 53; the tests and
# benchmarks run their own instances, so keep the packaged services off.
$SUDO apt-get install -y -q --no-install-recommends $missing
for svc in nsd knot dnsdist pdns; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
		$SUDO systemctl stop "$svc" || true
	fi
done
