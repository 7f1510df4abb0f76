#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""policy_report.py -- the routing-policy section of make bench.

Reads bench/out/policy.jsonl (load_run.py lines, one per dnsperf run, and
start lines), takes medians with report.py's summarize() (disturbed runs left
out when there are clean ones), checks the answer dumps of policy_check.py,
and writes bench/out/policy.md (also printed).

Targets (issue 4): Cirrus policy / Cirrus static server CPU per query <= 1.1;
Cirrus policy / PowerDNS LUA policy <= 1/3.

  policy_report.py --results F --out policy.md --answers DIR --command CMD [--params P] VERSION...
"""

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (load, summarize, fmt)

SERVERS = [  # (label in policy.jsonl, shown as, answer dump)
    ("policy-cirrus-static-static", "Cirrus, static A", "cirrus-static-static"),
    ("policy-cirrus-policy-policy", "Cirrus, policies", "cirrus-policy-policy"),
    ("policy-pdns-static", "PowerDNS, static A (packet cache on)", "pdns-static"),
    ("policy-pdns-policy", "PowerDNS, LUA records (packet cache on)", "pdns-policy"),
    ("policy-pdns-nocache-policy", "PowerDNS, LUA records, packet cache off",
     "pdns-nocache-policy"),
]


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(value, limit):
    if value is None:
        return "not measured"
    return "**met**" if value <= limit else "**missed**"


def answers(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return None


def check_answers(adir):
    """Lines about the answer dumps."""
    dumps = {d: answers(os.path.join(adir, "policy-answers-%s.json" % d)) for _, _, d in SERVERS}
    lines = []
    for d, rows in dumps.items():
        if rows is None:
            continue
        bad = sum(1 for r in rows if r.get("timeout") or r["rcode"] != "NOERROR" or not r["answer"])
        lines.append("- %s: %d sampled queries, %d without a NOERROR answer" % (d, len(rows), bad))
    cp, pp = dumps.get("cirrus-policy-policy"), dumps.get("pdns-policy")
    if cp and pp:
        ip = [(c, p) for c, p in zip(cp, pp) if c["name"].startswith("ip-")]
        same = sum(1 for c, p in ip if c.get("answer") == p.get("answer"))
        lines.append("- `ip` rule: Cirrus and PowerDNS gave the same address for %d of %d "
                     "sampled ECS queries" % (same, len(ip)))
    if cp:
        scopes = {}
        for r in cp:
            if r["name"].startswith("ip-"):
                scopes[r.get("scope")] = scopes.get(r.get("scope"), 0) + 1
        lines.append("- Cirrus ECS scope prefixes on `ip` answers: %s" %
                     ", ".join("/%s: %d" % kv for kv in sorted(scopes.items(), key=str)))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--answers", required=True, help="directory of policy-answers-*.json")
    ap.add_argument("--command", default="")
    ap.add_argument("--params", default="")
    ap.add_argument("versions", nargs="*")
    args = ap.parse_args()
    rows = report.load(args.results) if os.path.exists(args.results) else []
    s = {label: report.summarize(rows, label) for label, _, _ in SERVERS}

    md = ["# Routing policies", "",
          "`%s`" % args.command, "",
          "%s, %s; %s" % (time.strftime("%Y-%m-%d %H:%M"), platform.node(), args.params), ""]
    md += ["- " + v for v in args.versions] + [""]
    md += ["| server | UDP QPS | server us/query | runs (disturbed) | server CPU | dnsperf CPU "
           "| latency | us/query of each clean run |",
           "|---|---|---|---|---|---|---|---|"]
    for label, shown, _ in SERVERS:
        v = s[label]
        if not v["udp_total"]:
            continue
        runs = [r for r in rows if r["kind"] == "load" and r["server"] == label]
        each = ", ".join("%.2f%s" % (r["us_per_query"], "*" if r.get("disturbed") else "")
                         for r in runs)
        md.append("| %s | %s | %s | %d (%d) | %s | %s | %s | %s |" % (
            shown, report.fmt(v["udp_qps"], "%.0f"),
            report.fmt(v["udp_us_per_query"], "%.2f"), v["udp_total"], v["udp_disturbed"],
            report.fmt(v["udp_cpu_util"] and v["udp_cpu_util"] * 100, "%.0f", " %"),
            report.fmt(v["udp_loadgen_util"] and v["udp_loadgen_util"] * 100, "%.0f", " %"),
            report.fmt(v["udp_latency_ms"], "%.3f", " ms"), each))
    md += ["", "`*` disturbed run (other processes used more than 15 % of a CPU), "
           "left out of the medians when the server has clean runs.", ""]

    def us(label):
        return s[label]["udp_us_per_query"]
    r_static = ratio(us("policy-cirrus-policy-policy"), us("policy-cirrus-static-static"))
    r_pdns = ratio(us("policy-cirrus-policy-policy"), us("policy-pdns-policy"))
    r_nocache = ratio(us("policy-cirrus-policy-policy"), us("policy-pdns-nocache-policy"))
    r_pdns_self = ratio(us("policy-pdns-policy"), us("policy-pdns-static"))
    md += ["| ratio of server CPU per query | value | target |", "|---|---|---|",
           "| Cirrus policies / Cirrus static | %s | <= 1.1: %s |"
           % (report.fmt(r_static, "%.3f"), verdict(r_static, 1.1)),
           "| Cirrus policies / PowerDNS LUA, packet cache on | %s | <= 0.333: %s |"
           % (report.fmt(r_pdns, "%.3f"), verdict(r_pdns, 1 / 3)),
           "| Cirrus policies / PowerDNS LUA, packet cache off | %s | <= 0.333: %s |"
           % (report.fmt(r_nocache, "%.3f"), verdict(r_nocache, 1 / 3)),
           "| (PowerDNS LUA / PowerDNS static, both cached) | %s | |"
           % report.fmt(r_pdns_self, "%.2f"), ""]
    all_disturbed = [shown for label, shown, _ in SERVERS if s[label]["udp_all_disturbed"]]
    if all_disturbed:
        md += ["**Every run was disturbed for: %s.** Their medians are of disturbed runs."
               % ", ".join(all_disturbed), ""]
    failed = [label for label, _, _ in SERVERS
              if any(r["kind"] == "error" and r["server"] == label for r in rows)]
    if failed:
        md += ["Failed: %s" % ", ".join(failed), ""]
    md += ["Answers (first 1,000 queries of the file, one at a time):", ""]
    md += check_answers(args.answers) + [""]
    text = "\n".join(md)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
