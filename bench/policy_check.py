#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""policy_check.py -- answers of the routing-policy benchmark, for checking.

  policy_check.py dump --port P --queries queries.bin --out answers.json [--count 1000]

Sends the first COUNT queries of a dnsperf -B file (each with its own ECS
option) one at a time and saves rcode, answer records and the ECS scope
prefix of each response.  policy_report.py compares the dumps: the `ip`
names must answer the same in Cirrus and PowerDNS (their policies are the
same map), static answers must be the same everywhere, and every weighted
answer must be one of the name's endpoints.
"""

import argparse
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire  # noqa: E402


def read_queries(path, count):
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off < len(data) and len(out) < count:
        (n,) = struct.unpack("!H", data[off:off + 2])
        out.append(data[off + 2:off + 2 + n])
        off += 2 + n
    return out


def ecs_of(msg):
    """(source, scope) of the ECS option in MSG's OPT record, or None."""
    _, _, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        _, off = dnswire.read_name(msg, off)
        off += 4
    for i in range(an + ns + ar):
        _, off = dnswire.read_name(msg, off)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if rtype == 41 and i >= an + ns:
            o, end = off, off + rdlen
            while o + 4 <= end:
                code, olen = struct.unpack("!HH", msg[o:o + 4])
                if code == 8 and olen >= 4:
                    return msg[o + 6], msg[o + 7]
                o += 4 + olen
        off += rdlen
    return None


def question(q):
    name, off = dnswire.read_name(q, 12)
    return name


def dump(args):
    rows = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for i, q in enumerate(read_queries(args.queries, args.count)):
            qid = (i + 1) & 0xFFFF
            q = struct.pack("!H", qid) + q[2:]
            s.sendto(q, (args.addr, args.port))
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                rows.append({"name": question(q), "timeout": True})
                continue
            resp = dnswire.parse_response(data)
            ecs = ecs_of(data)
            rows.append({"name": question(q), "rcode": resp["rcode"],
                         "answer": sorted(r[3] for r in resp["answer"]),
                         "scope": ecs[1] if ecs else None})
    with open(args.out, "w") as f:
        json.dump(rows, f)
    bad = sum(1 for r in rows if r.get("timeout") or r["rcode"] != "NOERROR" or not r["answer"])
    print("policy_check: %d answers to %s (%d timeouts or not NOERROR with an answer)"
          % (len(rows), args.out, bad), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--addr", default="127.0.0.1")
    d.add_argument("--port", type=int, required=True)
    d.add_argument("--queries", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--count", type=int, default=1000)
    args = ap.parse_args()
    dump(args)


if __name__ == "__main__":
    main()
