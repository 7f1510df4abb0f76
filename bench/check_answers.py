#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""check_answers.py -- do the servers give the same answers?

A fast server that answers wrongly is not fast.  While each server is up,
"dump" sends a fixed sample of the benchmark queries one at a time and saves
the parsed answers; "compare" then checks every server against a reference
(Knot DNS by default) on what matters:

  rcode, the AA bit, the answer section, and -- when the answer is empty
  (NODATA, NXDOMAIN, referral) -- the authority section; for referrals
  also the glue in the additional section.

Authority/additional contents of positive answers are a policy choice
(NSD adds the apex NS, Knot does not), so they are counted but reported as
"informational".

  check_answers.py dump --port P --queries queries.txt.tsv --sample 2000 --out a.json
  check_answers.py compare --ref knot --out check.md nsd=a.json knot=b.json ...
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire  # noqa: E402

MAX_EXAMPLES = 8


def dump(args):
    with open(args.queries) as f:
        lines = [l.rstrip("\n").split("\t") for _, l in zip(range(args.sample), f)]
    out = []
    for i, (category, name, rtype) in enumerate(lines):
        resp = dnswire.udp_query(args.addr, args.port, name, rtype, 1.0, qid=i & 0xFFFF)
        if resp is not None and resp["tc"]:
            resp = dnswire.tcp_query(args.addr, args.port, name, rtype, 2.0)
        row = {"category": category, "name": name, "type": rtype}
        if resp is None:
            row["error"] = "timeout"
        else:
            row.update({"rcode": resp["rcode"], "aa": resp["aa"],
                        "answer": sorted(map(list, resp["answer"])),
                        "authority": sorted(map(list, resp["authority"])),
                        "additional": sorted(map(list, resp["additional"]))})
        out.append(row)
    with open(args.out, "w") as f:
        json.dump(out, f)
    timeouts = sum(1 for r in out if "error" in r)
    print("check_answers: %d answers saved to %s (%d timeouts)" % (len(out), args.out, timeouts))


def differences(ref, got):
    """(hard, soft) lists of differing fields between two answers."""
    if "error" in ref or "error" in got:
        return (["timeout"] if ref.get("error") != got.get("error") else []), []
    hard, soft = [], []
    for key in ("rcode", "aa", "answer"):
        if ref[key] != got[key]:
            hard.append(key)
    if ref["authority"] != got["authority"]:
        (soft if ref["answer"] else hard).append("authority")
    if ref["additional"] != got["additional"]:
        # In a referral the glue is part of the answer that matters.
        referral = not ref["answer"] and not ref["aa"] and ref["rcode"] == "NOERROR"
        (hard if referral else soft).append("additional")
    return hard, soft


def compare(args):
    dumps = {}
    for spec in args.dumps:
        name, path = spec.split("=", 1)
        with open(path) as f:
            dumps[name] = json.load(f)
    if args.ref not in dumps:
        # Without the reference, fall back to the first server given.
        args.ref = next(iter(dumps))
    ref = dumps[args.ref]
    lines = ["### %s" % args.title, "",
             "Reference: **%s**; %d sampled queries (first lines of the query file)."
             % (args.ref, len(ref)), "",
             "| server | differing (rcode/AA/answer/neg. authority) | informational (auth/additional of positive answers) |",
             "|---|---|---|"]
    examples = []
    worst = 0
    for name, rows in dumps.items():
        if name == args.ref:
            continue
        hard_n = soft_n = 0
        by_cat = {}
        for r, g in zip(ref, rows):
            hard, soft = differences(r, g)
            if hard:
                hard_n += 1
                by_cat[r["category"]] = by_cat.get(r["category"], 0) + 1
                if sum(1 for e in examples if e[0] == name) < MAX_EXAMPLES:
                    examples.append((name, r, g, hard))
            elif soft:
                soft_n += 1
        worst = max(worst, hard_n)
        cats = ", ".join("%s %d" % kv for kv in sorted(by_cat.items()))
        lines.append("| %s | %d%s | %d |" % (name, hard_n, " (%s)" % cats if cats else "", soft_n))
    for name, r, g, hard in examples:
        lines += ["", "- %s vs %s, `%s %s` (%s), differs in %s:" %
                  (name, args.ref, r["name"], r["type"], r["category"], ", ".join(hard)),
                  "  - %s: `%s`" % (args.ref, _brief(r)), "  - %s: `%s`" % (name, _brief(g))]
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return worst


def _brief(row):
    if "error" in row:
        return row["error"]
    return "%s aa=%d an=%s ns=%s" % (row["rcode"], row["aa"],
                                     [" ".join(map(str, rr)) for rr in row["answer"]],
                                     [" ".join(map(str, rr[:2])) for rr in row["authority"]])


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--addr", default="127.0.0.1")
    d.add_argument("--port", type=int, required=True)
    d.add_argument("--queries", required=True, help="the .tsv written by gen_zone.py")
    d.add_argument("--sample", type=int, default=2000)
    d.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--ref", default="knot")
    c.add_argument("--title", default="Answers")
    c.add_argument("--out", required=True)
    c.add_argument("dumps", nargs="+", help="SERVER=FILE")
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
