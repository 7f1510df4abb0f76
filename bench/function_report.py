#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""function_report.py -- the function-mode section of make bench.

Reads bench/out/function.jsonl (start lines from start_server.py, doh lines
from function_load.py) and writes bench/out/function.md (also printed):
cold-start medians per way of loading and zone, against Knot and NSD, the
issue 5 targets (image: < 10 ms at 10k, < 100 ms at 1M, ahead of Knot and
NSD at both sizes), and DoH requests/s with server CPU per request.

  function_report.py --results F --out function.md --command CMD [--params P] VERSION...
"""

import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (load, median, fmt)

STARTS = [("function-file", "function http, zone file"),
          ("function-image", "function http, compiled image"),
          ("function-db", "function http, SQLite store"),
          ("knot", "Knot DNS (zone file)"), ("nsd", "NSD (zone file)")]
LIMITS = {"10k": 10.0, "1m": 100.0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", default="")
    ap.add_argument("--params", default="")
    ap.add_argument("versions", nargs="*")
    args = ap.parse_args()
    rows = report.load(args.results) if os.path.exists(args.results) else []

    def starts(server, zone):
        return [r for r in rows if r["kind"] == "start" and r["server"] == server
                and r["zone"] == zone]

    med = {(s, z): report.median([r["ready_ms"] for r in starts(s, z)])
           for s, _ in STARTS for z in ("10k", "1m")}
    md = ["# Function mode", "", "`%s`" % args.command, "",
          "%s, %s; %s" % (time.strftime("%Y-%m-%d %H:%M"), platform.node(), args.params), ""]
    md += ["- " + v for v in args.versions] + [""]
    md += ["Cold start, exec to first authoritative answer for `bench.test. SOA` (median; "
           "every start in brackets; Cirrus over DoH, Knot and NSD over UDP):", "",
           "| server | 10k records | 1M records | RSS 10k | RSS 1M |", "|---|---|---|---|---|"]
    for s, shown in STARTS:
        cells = []
        for z in ("10k", "1m"):
            each = ", ".join("%.1f" % r["ready_ms"] for r in starts(s, z))
            cells.append("-" if med[(s, z)] is None else
                         "%.1f ms (%s)" % (med[(s, z)], each))
        src = {r.get("source") for z in ("10k", "1m") for r in starts(s, z)} - {None}
        for z in ("10k", "1m"):
            rss = report.median([r["pss_kb"] for r in starts(s, z)])
            cells.append(report.fmt(rss and rss / 1024, "%.1f", " MiB (PSS)"))
        md.append("| %s%s | %s |" % (shown, " (from the main phase)" if src else "",
                                     " | ".join(cells)))
    md += ["", "| target (compiled image) | value | verdict |", "|---|---|---|"]
    for z in ("10k", "1m"):
        v = med[("function-image", z)]
        md.append("| %s: under %.0f ms | %s | %s |" % (
            z, LIMITS[z], report.fmt(v, "%.1f", " ms"),
            "not measured" if v is None else ("**met**" if v < LIMITS[z] else "**missed**")))
        for ref in ("knot", "nsd"):
            r = med[(ref, z)]
            md.append("| %s: ahead of %s | image / %s = %s | %s |" % (
                z, ref, ref, report.fmt(v / r if v and r else None, "%.3f"),
                "not measured" if v is None or r is None else
                ("**met**" if v < r else "**missed**")))
    md += [""]

    md += ["DoH on one core (`function http --threads 1` on CPU 1, h2load --h1 on CPU 0; "
           "medians of the clean runs):", "",
           "| requests | req/s | server us/request | server CPU | h2load CPU | latency (mean) "
           "| runs (disturbed) | req/s of each run |", "|---|---|---|---|---|---|---|---|"]
    for label, shown in (("get", "GET, main query mix (10,000 URLs)"),
                         ("post", "POST, one query")):
        runs = [r for r in rows if r["kind"] == "doh" and r["label"] == label]
        if not runs:
            continue
        clean = [r for r in runs if not r["disturbed"]] or runs

        def m(key):
            return report.median([r.get(key) for r in clean])
        md.append("| %s | %s | %s | %s | %s | %s | %d (%d) | %s |" % (
            shown, report.fmt(m("rps"), "%.0f"), report.fmt(m("us_per_request"), "%.2f"),
            report.fmt(m("cpu_util") and m("cpu_util") * 100, "%.0f", " %"),
            report.fmt(m("loadgen_util") and m("loadgen_util") * 100, "%.0f", " %"),
            report.fmt(m("latency_mean_ms"), "%.3f", " ms"), len(runs),
            sum(1 for r in runs if r["disturbed"]),
            ", ".join("%.0f%s" % (r["rps"], "*" if r["disturbed"] else "") for r in runs)))
    md += ["", "`*` disturbed run, left out of the medians when there are clean runs.", ""]
    text = "\n".join(md)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
