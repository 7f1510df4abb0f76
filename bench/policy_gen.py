#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""policy_gen.py -- data for the routing-policy benchmark (bench/policy.sh).

One zone, pol.test., whose names answer A either statically or through a
routing policy, in the forms each server under test reads (fixed seed, so
every run gets byte-identical files):

  static.zone      SOA, NS, and one A record at every benchmark name
  policy.zone      SOA and NS only: the names come from the policies
  policies.yaml    the `policies:` list of cirrus.yaml (indented for a zone entry)
  pdns.zone        SOA, NS and the same policies as PowerDNS LUA records
  queries.bin      dnsperf -B input: one wire query per line of the mix, each
                   with its own EDNS Client Subnet option
  queries.tsv      the same queries as text (name, ECS subnet), for the
                   answer cross-check

Names:
  ip-NNN  an `ip` rule over PREFIXES non-overlapping IPv4 prefixes (/12 to
          /24, the same map for every name) spread over 16 endpoints, plus a
          default endpoint.  PowerDNS: view(), whose first match is the
          longest one because no two prefixes overlap.
  w-NNN   a `weighted` rule, 4 endpoints of weights 1, 2, 3, 4, pick 1.
          PowerDNS: pickwrandom().

ECS mix (every query carries one; 127.0.0.1 is a trusted resolver in both
servers): 80 % a client inside a mapped prefix, 20 % outside every prefix
(the default answers); source prefix /24 for 90 %, /32 for 10 %.
"""

import argparse
import ipaddress
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire  # noqa: E402

ORIGIN = "pol.test."
TTL = 60
ENDPOINTS = 16
LENGTHS = (12, 14, 16, 18, 20, 22, 24)
WEIGHTS = (1, 2, 3, 4)
ECS_OPTION = 8


def endpoint_addr(name_index, endpoint):
    return "10.%d.%d.%d" % (name_index // 250, name_index % 250, endpoint + 1)


def make_prefixes(rng, count):
    """COUNT random non-overlapping public IPv4 prefixes."""
    out = []
    while len(out) < count:
        plen = rng.choice(LENGTHS)
        first = rng.randrange(1, 224)
        if first in (10, 127):
            continue
        addr = (first << 24) | rng.getrandbits(24)
        net = ipaddress.IPv4Network((addr, plen), strict=False)
        if any(net.overlaps(o) for o in out):
            continue
        out.append(net)
    return out


def soa_ns():
    return ("$ORIGIN %s\n$TTL %d\n"
            "@ IN SOA ns1 hostmaster 2024010101 3600 900 604800 300\n"
            "@ IN NS ns1\n"
            "ns1 IN A 192.0.2.53\n" % (ORIGIN, TTL))


def lua_strings(code):
    """A LUA record's code as quoted strings of at most 250 bytes (a
    zone-file string stops at 255).  PowerDNS joins them with a space, so
    split only after a comma, never inside a Lua string."""
    parts, cur = [], ""
    for piece in code.split(","):
        piece += ","
        if cur and len(cur) + len(piece) > 250:
            parts.append(cur)
            cur = ""
        cur += piece
    parts.append(cur[:-1])   # the last piece got a comma it did not have
    return " ".join('"%s"' % p for p in parts)


def ecs_query(name, subnet):
    """Wire query for NAME A with an OPT record carrying SUBNET as ECS."""
    q = bytearray(dnswire.build_query(0, name, "A"))
    q[10:12] = struct.pack("!H", 1)   # ARCOUNT
    plen = subnet.prefixlen
    addr = subnet.network_address.packed[:(plen + 7) // 8]
    opt = struct.pack("!HBB", 1, plen, 0) + addr   # family IPv4, source, scope 0
    opt = struct.pack("!HH", ECS_OPTION, len(opt)) + opt
    q += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(opt)) + opt
    return bytes(q)


def client_subnet(rng, prefixes):
    if rng.random() < 0.8:
        net = rng.choice(prefixes)
        addr = int(net.network_address) + rng.randrange(net.num_addresses)
    else:
        while True:
            addr = rng.randrange(1 << 24, 224 << 24)
            ip = ipaddress.IPv4Address(addr)
            if (addr >> 24) not in (10, 127) and not any(ip in n for n in prefixes):
                break
    plen = 24 if rng.random() < 0.9 else 32
    return ipaddress.IPv4Network((addr, plen), strict=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="directory for the files")
    ap.add_argument("--seed", type=int, default=20240104)
    ap.add_argument("--ip-names", type=int, default=20)
    ap.add_argument("--weighted-names", type=int, default=20)
    ap.add_argument("--prefixes", type=int, default=300)
    ap.add_argument("--queries", type=int, default=100000)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    prefixes = make_prefixes(rng, args.prefixes)
    groups = [prefixes[e::ENDPOINTS] for e in range(ENDPOINTS)]
    ip_names = ["ip-%03d" % i for i in range(args.ip_names)]
    w_names = ["w-%03d" % i for i in range(args.weighted_names)]
    names = ip_names + w_names

    static, policy_yaml, pdns = [soa_ns()], [], [soa_ns()]
    for i, name in enumerate(names):
        # The static answer is one A record, like every policy answer.
        static.append("%s IN A %s\n" % (name, endpoint_addr(i, 0)))
        if name in ip_names:
            policy_yaml.append("      - name: %s\n        type: A\n        ttl: %d\n"
                               "        rule: ip\n        endpoints:\n" % (name, TTL))
            views = []
            for e, group in enumerate(groups):
                cidrs = ", ".join(str(n) for n in group)
                policy_yaml.append("          - { rdata: %s, cidrs: [%s] }\n"
                                   % (endpoint_addr(i, e), cidrs))
                views.append("{{%s},{'%s'}}" % (",".join("'%s'" % n for n in group),
                                                endpoint_addr(i, e)))
            default = endpoint_addr(i, ENDPOINTS)
            policy_yaml.append("          - { rdata: %s, default: true }\n" % default)
            views.append("{{'0.0.0.0/0'},{'%s'}}" % default)
            code = "view({%s})" % ",".join(views)
        else:
            policy_yaml.append("      - name: %s\n        type: A\n        ttl: %d\n"
                               "        rule: weighted\n        endpoints:\n" % (name, TTL))
            picks = []
            for e, w in enumerate(WEIGHTS):
                policy_yaml.append("          - { rdata: %s, weight: %d }\n"
                                   % (endpoint_addr(i, e), w))
                picks.append("{%d,'%s'}" % (w, endpoint_addr(i, e)))
            code = "pickwrandom({%s})" % ",".join(picks)
        pdns.append("%s %d IN LUA A %s\n" % (name, TTL, lua_strings(code)))

    def write(fname, text):
        with open(os.path.join(args.out, fname), "w") as f:
            f.write(text)
    write("static.zone", "".join(static))
    write("policy.zone", soa_ns())
    write("policies.yaml", "    policies:\n" + "".join(policy_yaml))
    write("pdns.zone", "".join(pdns))

    with open(os.path.join(args.out, "queries.bin"), "wb") as fb, \
            open(os.path.join(args.out, "queries.tsv"), "w") as ft:
        for _ in range(args.queries):
            name = rng.choice(names) + "." + ORIGIN
            subnet = client_subnet(rng, prefixes)
            q = ecs_query(name, subnet)
            fb.write(struct.pack("!H", len(q)) + q)
            ft.write("%s\t%s\n" % (name, subnet))
    print("policy_gen: %d ip names over %d prefixes, %d weighted names, %d queries in %s"
          % (len(ip_names), len(prefixes), len(w_names), args.queries, args.out),
          file=sys.stderr)


if __name__ == "__main__":
    main()
