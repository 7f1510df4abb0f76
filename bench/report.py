#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""report.py -- turn bench/out/results.jsonl into the results table.

Medians over the runs (one noisy run on a shared 2-core machine should not
move the figure), ratios against Knot DNS and NSD, and warnings for things
that make a number mean less than it seems: an unsaturated server, lost
queries, or servers whose rcode mix differs.  Prints a plain-text table and
writes the same content as Markdown.

  report.py --results F --out results.md --command CMD --servers "cirrus nsd knot" \\
            [--check answers-check.md] [--params TEXT] VERSION_LINE...
"""

import argparse
import json
import os
import platform
import statistics
import time

SATURATED = 0.90      # server CPU share below which it was not the bottleneck
GEN_SATURATED = 0.85  # dnsperf CPU share above which dnsperf was the limit
LOST_WARN = 0.005     # lost-query share worth a warning
RCODE_WARN = 1.0      # percentage points of rcode-mix difference worth a warning
OTHER_WARN = 0.15     # share of a CPU used by others during load runs worth a warning


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(rows, server):
    """Medians for one server: {metric: value}."""
    s = {"failed": any(r["kind"] == "error" and r["server"] == server for r in rows)}
    for mode in ("udp", "tcp"):
        runs = [r for r in rows if r["kind"] == "load" and r["server"] == server and r["mode"] == mode]
        clean = [r for r in runs if not r.get("disturbed")]
        s[mode + "_total"] = len(runs)
        s[mode + "_disturbed"] = len(runs) - len(clean)
        s[mode + "_all_disturbed"] = bool(runs) and not clean
        runs = clean or runs   # medians over undisturbed runs when there are any
        s[mode + "_runs"] = len(runs)
        for key in ("qps", "us_per_query", "latency_ms", "cpu_util",
                    "loadgen_us_per_query", "loadgen_util"):
            s["%s_%s" % (mode, key)] = median([r.get(key) for r in runs])
        for cpu in ("0", "1"):
            s["%s_busy%s" % (mode, cpu)] = median([r.get("cpu_busy", {}).get(cpu) for r in runs])
        s[mode + "_lost"] = sum(r["lost"] for r in runs)
        s[mode + "_completed"] = sum(r["completed"] for r in runs)
        rc = {}
        for r in runs:
            for code, n in r["rcodes"].items():
                rc[code] = rc.get(code, 0) + n
        s[mode + "_rcodes"] = rc
    for zone in ("10k", "1m"):
        starts = [r for r in rows if r["kind"] == "start" and r["server"] == server and r["zone"] == zone]
        s["start_" + zone] = median([r["ready_ms"] for r in starts])
        s["rss_" + zone] = median([r["rss_kb"] for r in starts])
        s["pss_" + zone] = median([r["pss_kb"] for r in starts])
        s["procs_" + zone] = max([r["procs"] for r in starts], default=None)
        s["threads_" + zone] = max([r.get("threads", 0) for r in starts], default=None)
        s["starts_" + zone] = len(starts)
    return s


def fmt(value, spec, unit=""):
    return "-" if value is None else (spec % value) + unit


def fmt_ms(ms):
    if ms is None:
        return "-"
    return "%.0f ms" % ms if ms < 10000 else "%.1f s" % (ms / 1000)


def mib(kb):
    return "-" if kb is None else "%.1f MiB" % (kb / 1024)


COLUMNS = ["server", "UDP QPS", "UDP us/query", "UDP latency", "TCP QPS", "TCP us/query",
           "TCP latency", "cold start 10k", "cold start 1M", "RSS 10k", "RSS 1M"]


def table_rows(summaries):
    out = []
    for name, s in summaries.items():
        out.append([name + (" (FAILED)" if s["failed"] else ""),
                    fmt(s["udp_qps"], "%.0f"), fmt(s["udp_us_per_query"], "%.2f"),
                    fmt(s["udp_latency_ms"], "%.3f", " ms"),
                    fmt(s["tcp_qps"], "%.0f"), fmt(s["tcp_us_per_query"], "%.2f"),
                    fmt(s["tcp_latency_ms"], "%.3f", " ms"),
                    fmt_ms(s["start_10k"]), fmt_ms(s["start_1m"]),
                    mib(s["pss_10k"]), mib(s["pss_1m"])])
    return out


def ratio(a, b):
    return None if a is None or not b else a / b


def ratio_lines(summaries):
    """Cirrus (and Cirrus from a compiled image) against each other server,
    where both have numbers."""
    lines = []
    for mine, label in (("cirrus", "Cirrus"), ("cirrus-image", "Cirrus image")):
        if mine not in summaries:
            continue
        c = summaries[mine]
        for other in ("knot", "nsd"):
            if other not in summaries:
                continue
            o = summaries[other]
            name = "Knot" if other == "knot" else "NSD"
            for mode in ("udp", "tcp"):
                q = ratio(c[mode + "_qps"], o[mode + "_qps"])
                u = ratio(c[mode + "_us_per_query"], o[mode + "_us_per_query"])
                if q is None and u is None:
                    continue
                lines.append("%s/%s %s: QPS x%s, CPU per query x%s" %
                             (label, name, mode.upper(), fmt(q, "%.2f"), fmt(u, "%.2f")))
            for zone in ("10k", "1m"):
                t = ratio(c["start_" + zone], o["start_" + zone])
                m = ratio(c["pss_" + zone], o["pss_" + zone])
                if t is not None or m is not None:
                    lines.append("%s/%s %s zone: cold start x%s, memory x%s" %
                                 (label, name, zone.upper(), fmt(t, "%.2f"), fmt(m, "%.2f")))
    return lines


def warnings(summaries):
    out = []
    for name, s in summaries.items():
        if s["failed"]:
            out.append("%s failed during the run; its numbers are partial or missing." % name)
        for mode in ("udp", "tcp"):
            if s[mode + "_disturbed"]:
                out.append("%s %s: %d of %d run(s) were disturbed by other processes on the "
                           "benchmark CPUs%s." % (
                               name, mode.upper(), s[mode + "_disturbed"], s[mode + "_total"],
                               "; ALL were, so these numbers are unreliable"
                               if s[mode + "_all_disturbed"] else
                               "; the medians use the %d undisturbed run(s)" % s[mode + "_runs"]))
            w = _bottleneck_warning(s, mode)
            if w:
                out.append("%s %s: %s" % (name, mode.upper(), w))
            done, lost = s[mode + "_completed"], s[mode + "_lost"]
            if done and lost / (done + lost) > LOST_WARN:
                out.append("%s %s: %d queries lost (%.2f%%)." %
                           (name, mode.upper(), lost, 100.0 * lost / (done + lost)))
    # The same query file should give the same rcode mix from every server.
    for mode in ("udp", "tcp"):
        mixes = {}
        for name, s in summaries.items():
            total = sum(s[mode + "_rcodes"].values())
            if total:
                mixes[name] = {k: 100.0 * v / total for k, v in s[mode + "_rcodes"].items()}
        codes = set(k for m in mixes.values() for k in m)
        for code in sorted(codes):
            vals = {n: m.get(code, 0.0) for n, m in mixes.items()}
            if max(vals.values()) - min(vals.values()) > RCODE_WARN:
                out.append("%s rcode mix differs for %s: %s" % (
                    mode.upper(), code, ", ".join("%s %.1f%%" % kv for kv in vals.items())))
    return out


def _bottleneck_warning(s, mode):
    """Why the server was not saturated, if it was not: other work on the
    benchmark CPUs, dnsperf's core, or the outstanding-query window."""
    util, gen = s[mode + "_cpu_util"], s[mode + "_loadgen_util"]
    if util is None:
        return None
    other = _other_load(s, mode)
    if other is not None and other > OTHER_WARN:
        return ("other work used ~%.0f%% of a CPU on the benchmark CPUs during the runs "
                "(a build or test in another shell?); QPS is unreliable, us/query "
                "less affected." % (other * 100))
    if util >= SATURATED:
        return None
    if gen is not None and gen >= GEN_SATURATED:
        return ("the server used %.0f%% of its CPU while dnsperf used %.0f%% of its own: "
                "dnsperf was the limit, QPS is a lower bound (us/query holds)."
                % (util * 100, gen * 100))
    return ("neither the server (%.0f%%) nor dnsperf (%s) was CPU-bound: QPS is limited "
            "by latency x outstanding queries (BENCH_OUTSTANDING) or by kernel work."
            % (util * 100, fmt(gen and gen * 100, "%.0f%%")))


def _other_load(s, mode):
    """CPU time on CPUs 0+1 not used by the server or dnsperf (share of one
    CPU).  Loopback softirq work that lands in ksoftirqd shows up here too,
    so a few percent is normal."""
    busy0, busy1 = s[mode + "_busy0"], s[mode + "_busy1"]
    if busy0 is None or busy1 is None or s[mode + "_cpu_util"] is None:
        return None
    return busy0 + busy1 - s[mode + "_cpu_util"] - (s[mode + "_loadgen_util"] or 0)


def cpu_row(name, s):
    row = [name]
    for mode in ("udp", "tcp"):
        row += [fmt(s[mode + "_cpu_util"], "%.2f"), fmt(s[mode + "_loadgen_util"], "%.2f"),
                fmt(s[mode + "_loadgen_us_per_query"], "%.2f"),
                fmt(_other_load(s, mode), "%.2f")]
    return row


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return ["CPU: %d x %s" % (os.cpu_count(), model),
            "Kernel: %s %s" % (platform.system(), platform.release()),
            "Load average at report time: %s" % load,
            "Date: %s" % time.strftime("%Y-%m-%d %H:%M:%S %Z")]


def text_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def md_table(header, rows):
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
           ["| " + " | ".join(r) + " |" for r in rows]


def memory_rows(summaries):
    out = []
    for name, s in summaries.items():
        out.append([name, "%s / %s" % (fmt(s["procs_10k"], "%d"), fmt(s["threads_10k"], "%d")),
                    mib(s["rss_10k"]), mib(s["pss_10k"]),
                    mib(s["rss_1m"]), mib(s["pss_1m"])])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--servers", required=True)
    ap.add_argument("--check", action="append", default=[])
    ap.add_argument("--params", default="")
    ap.add_argument("versions", nargs="*")
    args = ap.parse_args()

    rows = load(args.results)
    summaries = {name: summarize(rows, name) for name in args.servers.split()}
    table = table_rows(summaries)
    ratios = ratio_lines(summaries)
    warns = warnings(summaries)

    # Plain text for the terminal.
    print("\n$ " + args.command + "\n")
    print("\n".join(text_table(COLUMNS, table)))
    print("\nQPS: median of runs.  us/query: server CPU (user+sys, whole process tree) per "
          "answered query.  RSS: PSS of the process tree after load.")
    for line in ratios + (["", "Warnings:"] + ["  - " + w for w in warns] if warns else []):
        print(line)

    md = ["# Cirrus benchmark results", "", "Produced by:", "", "```", args.command, "```", "",
          "## Machine", ""] + ["- " + m for m in machine()] + \
         ["- Parameters: " + args.params] + ["- " + v for v in args.versions] + \
         ["", "## Results", "",
          "Medians over runs.  *us/query* = server CPU time (user+system, whole process "
          "tree, from /proc/PID/stat) divided by answered queries.  *latency* = dnsperf "
          "average.  *cold start* = exec to first authoritative answer.  *RSS* = PSS "
          "(proportional set size) of the process tree after load; see the memory table.",
          ""] + md_table(COLUMNS, table) + [""]
    if ratios:
        md += ["## Ratios", ""] + ["- " + r for r in ratios] + [""]
    md += ["## Memory detail", "",
           "VmRSS summed over a forked tree counts shared pages once per process; PSS "
           "shares them out.  For a single-process server the two are close.", ""] + \
        md_table(["server", "processes / threads", "VmRSS 10k", "PSS 10k", "VmRSS 1M", "PSS 1M"],
                 memory_rows(summaries)) + [""]
    md += ["## CPU use during load runs", "",
           "Share of one CPU used by the server tree and by dnsperf (1.00 = fully busy), "
           "and dnsperf's own CPU per query.  A server well below 1.00 was not the "
           "bottleneck: its QPS is then a lower bound.  *other* = busy time of CPUs 0 "
           "and 1 not charged to the server or dnsperf (other processes, ksoftirqd).", ""]
    md += md_table(["server", "UDP server", "UDP dnsperf", "UDP dnsperf us/q", "UDP other",
                    "TCP server", "TCP dnsperf", "TCP dnsperf us/q", "TCP other"],
                   [cpu_row(n, s) for n, s in summaries.items()]) + [""]
    if warns:
        md += ["## Warnings", ""] + ["- " + w for w in warns] + [""]
    checks = [c for c in args.check if os.path.exists(c)]
    if checks:
        md += ["## Answer cross-check", "",
               "Each server answered a fixed sample of the queries one at a time; compared "
               "with the reference on rcode, AA, answer section and (for empty answers) "
               "authority section.", ""]
        for path in checks:
            with open(path) as f:
                md += [f.read()]
    with open(args.out, "w") as f:
        f.write("\n".join(md) + "\n")
    print("\nbench: wrote %s" % args.out)


if __name__ == "__main__":
    main()
