#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""load_run.py -- one dnsperf run against a running server, with its CPU cost.

Reads the server tree's CPU time, runs dnsperf (the command after "--",
already pinned by the caller), reads the CPU time again, and appends one JSON
line to the results file:

  qps, completed, lost, latency (ms), run time, rcode counts,
  server CPU microseconds per completed query, and server CPU utilisation.

Utilisation near 100 % means the server was the bottleneck; well below it
means dnsperf (one core) could not push harder, and QPS then says more about
the load generator than about the server -- us/query stays meaningful.

A run during which other processes used more than --max-other of a CPU on
the two benchmark CPUs is recorded with "disturbed": true and exits 3, so
run.sh can repeat it.

  load_run.py --pid PID --server nsd --mode udp --run 1 --record F --raw OUT -- dnsperf ...
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat  # noqa: E402


def parse_dnsperf(text):
    """Pick the numbers we need out of dnsperf's "Statistics:" block."""
    def num(pattern):
        m = re.search(pattern, text)
        return float(m.group(1)) if m else None
    rcodes = {}
    m = re.search(r"Response codes:\s+(.*)", text)
    if m:
        for code, count in re.findall(r"([A-Z]+) (\d+) \(", m.group(1)):
            rcodes[code] = int(count)
    return {
        "sent": num(r"Queries sent:\s+(\d+)"),
        "completed": num(r"Queries completed:\s+(\d+)"),
        "lost": num(r"Queries lost:\s+(\d+)"),
        "runtime_s": num(r"Run time \(s\):\s+([\d.]+)"),
        "qps": num(r"Queries per second:\s+([\d.]+)"),
        "latency_s": num(r"Average Latency \(s\):\s+([\d.]+)"),
        "rcodes": rcodes,
    }


def _children_cpu_us():
    """CPU time of our reaped children so far: dnsperf's own cost (taskset
    execs it, so it is our direct child)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (ru.ru_utime + ru.ru_stime) * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--run", type=int, required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--raw", required=True, help="where to keep dnsperf's output")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--cpu", type=int, default=1, help="the CPU the server must stay on")
    ap.add_argument("--loadgen-cpu", type=int, default=0)
    ap.add_argument("--max-other", type=float, default=0.15,
                    help="other load (share of a CPU) above which the run is 'disturbed'")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command

    moved = procstat.pin_tree(args.pid, args.cpu)
    if moved:
        print("load_run: %d server thread(s) had left CPU %d; pinned back" % (moved, args.cpu),
              file=sys.stderr)
    cpu0 = procstat.cpu_us(args.pid)
    wall0 = time.monotonic()
    gen0 = _children_cpu_us()
    busy0 = procstat.cpu_busy()
    ticks0 = procstat.all_cpu_ticks()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=args.timeout)
    cpu1 = procstat.cpu_us(args.pid)
    wall = time.monotonic() - wall0
    gen = _children_cpu_us() - gen0
    busy = procstat.cpu_busy_share(busy0, procstat.cpu_busy())
    others = procstat.top_others(ticks0, procstat.all_cpu_ticks(),
                                 set(procstat.tree(args.pid)) | {os.getpid()}, wall)
    with open(args.raw, "w") as f:
        f.write("$ %s\n%s" % (" ".join(cmd), proc.stdout))
    alive = os.path.exists("/proc/%d" % args.pid)

    stats = parse_dnsperf(proc.stdout)
    if proc.returncode != 0 or not stats["completed"] or not alive:
        why = "server died" if not alive else "dnsperf status %d" % proc.returncode
        print("load_run: %s %s run %d failed (%s); see %s" %
              (args.server, args.mode, args.run, why, args.raw), file=sys.stderr)
        sys.exit(1)

    cpu = cpu1 - cpu0
    # Busy time on the two CPUs that neither side of the test accounts for.
    other = (busy.get(str(args.cpu), 0) + busy.get(str(args.loadgen_cpu), 0)
             - cpu / 1e6 / wall - gen / 1e6 / wall)
    disturbed = other > args.max_other
    row = {"kind": "load", "server": args.server, "mode": args.mode, "run": args.run,
           "qps": stats["qps"], "completed": int(stats["completed"]),
           "lost": int(stats["lost"] or 0), "latency_ms": stats["latency_s"] * 1000.0,
           "runtime_s": stats["runtime_s"], "cpu_us": cpu,
           "us_per_query": cpu / stats["completed"],
           "cpu_util": cpu / 1e6 / stats["runtime_s"],
           "loadgen_us_per_query": gen / stats["completed"],
           # dnsperf's whole life (it waits for stragglers after -l ends).
           "loadgen_util": gen / 1e6 / wall,
           "cpu_busy": busy, "other_load": round(other, 3), "disturbed": disturbed,
           "other_top": others,
           "rcodes": stats["rcodes"]}
    with open(args.record, "a") as f:
        f.write(json.dumps(row) + "\n")
    print("  %-6s %-3s run %d: %9.0f qps  %6.2f us/query  cpu %3.0f%%  latency %.3f ms  "
          "lost %d  (dnsperf %.2f us/query, cpu %.0f%%; busy cpu0 %.0f%% cpu1 %.0f%%)"
          % (args.server, args.mode, args.run, row["qps"], row["us_per_query"],
             row["cpu_util"] * 100, row["latency_ms"], row["lost"],
             row["loadgen_us_per_query"], row["loadgen_util"] * 100,
             busy.get("0", 0) * 100, busy.get("1", 0) * 100)
          + ("  DISTURBED: other load %.0f%% (%s)" % (
              other * 100, ", ".join("%s %.0f%%" % (c, v * 100) for c, v in others)
              or "short-lived processes") if disturbed else ""))
    if disturbed:
        sys.exit(3)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)   # dnsperf got the same SIGINT; run.sh stops the server
