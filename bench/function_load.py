#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""function_load.py -- DoH load runs for bench/function.sh.

  function_load.py inputs --queries queries.txt --count N --url URL --urls OUT --body OUT
      h2load inputs: one GET URL per query of the main benchmark's mix
      (RFC 8484 base64url, ID 0) and the first query as a POST body.
  function_load.py run --pid PID --label get --run 1 --record F --raw OUT -- h2load ...
      one h2load run (already pinned by the caller) with the server's CPU
      time and the disturbed-run check of procstat.measured_run; appends a
      JSON line; exits 3 when the run was disturbed, 1 on failure.
"""

import argparse
import base64
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire  # noqa: E402
import procstat  # noqa: E402

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def inputs(args):
    n = 0
    with open(args.queries) as qf, open(args.urls, "w") as uf:
        for line in qf:
            parts = line.split()
            if len(parts) != 2 or parts[1] not in dnswire.TYPES:
                continue
            wire = dnswire.build_query(0, parts[0], parts[1])
            if n == 0:
                with open(args.body, "wb") as bf:
                    bf.write(wire)
            uf.write("%s?dns=%s\n" % (args.url, base64.urlsafe_b64encode(wire).rstrip(b"=")
                                       .decode()))
            n += 1
            if n >= args.count:
                break
    print("function_load: %d URLs in %s" % (n, args.urls), file=sys.stderr)


def parse_h2load(text):
    def num(pattern):
        m = re.search(pattern, text)
        return float(m.group(1)) if m else None
    lat = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+"
                    r"([\d.]+)(us|ms|s)", text)
    return {
        "rps": num(r"finished in [\d.]+\w+, ([\d.]+) req/s"),
        "runtime_s": num(r"finished in ([\d.]+)s"),
        "succeeded": num(r"(\d+) succeeded"),
        "failed": num(r"(\d+) failed"),
        "errored": num(r"(\d+) errored"),
        "status_2xx": num(r"status codes: (\d+) 2xx"),
        "latency_mean_ms": float(lat.group(5)) * UNITS[lat.group(6)] if lat else None,
        "latency_max_ms": float(lat.group(3)) * UNITS[lat.group(4)] if lat else None,
    }


def run(args, cmd):
    m = procstat.measured_run(args.pid, cmd, args.cpu, args.loadgen_cpu, args.timeout)
    proc = m["proc"]
    with open(args.raw, "w") as f:
        f.write("$ %s\n%s" % (" ".join(cmd), proc.stdout))
    st = parse_h2load(proc.stdout)
    ok = st["status_2xx"] or 0
    if proc.returncode != 0 or not ok or not m["alive"]:
        why = "server died" if not m["alive"] else "h2load status %d" % proc.returncode
        print("function_load: %s run %d failed (%s); see %s"
              % (args.label, args.run, why, args.raw), file=sys.stderr)
        sys.exit(1)
    row = {"kind": "doh", "label": args.label, "run": args.run, **st,
           "server_us": m["server_us"], "us_per_request": m["server_us"] / ok,
           "cpu_util": m["server_us"] / 1e6 / m["wall_s"],
           "loadgen_us_per_request": m["loadgen_us"] / ok,
           "loadgen_util": m["loadgen_us"] / 1e6 / m["wall_s"],
           "cpu_busy": m["cpu_busy"], "other_load": m["other_load"],
           "other_top": m["other_top"], "disturbed": m["disturbed"]}
    with open(args.record, "a") as f:
        f.write(json.dumps(row) + "\n")
    print("  doh %-4s run %d: %8.0f req/s  %6.2f us/request  cpu %3.0f%%  latency %.3f ms  "
          "non-2xx %d  (h2load cpu %.0f%%)%s"
          % (args.label, args.run, row["rps"] or 0, row["us_per_request"],
             row["cpu_util"] * 100, row["latency_mean_ms"] or 0,
             (st["succeeded"] or 0) - ok + (st["failed"] or 0), row["loadgen_util"] * 100,
             "  DISTURBED: other load %.0f%% (%s)" % (
                 m["other_load"] * 100,
                 ", ".join("%s %.0f%%" % (c, v * 100) for c, v in m["other_top"])
                 or "short-lived processes") if m["disturbed"] else ""))
    if m["disturbed"]:
        sys.exit(3)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("inputs")
    i.add_argument("--queries", required=True)
    i.add_argument("--count", type=int, default=10000)
    i.add_argument("--url", required=True)
    i.add_argument("--urls", required=True)
    i.add_argument("--body", required=True)
    r = sub.add_parser("run")
    r.add_argument("--pid", type=int, required=True)
    r.add_argument("--label", required=True)
    r.add_argument("--run", type=int, required=True)
    r.add_argument("--record", required=True)
    r.add_argument("--raw", required=True)
    r.add_argument("--timeout", type=float, default=600)
    r.add_argument("--cpu", type=int, default=1)
    r.add_argument("--loadgen-cpu", type=int, default=0)
    r.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.cmd == "inputs":
        inputs(args)
    else:
        cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
        run(args, cmd)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
