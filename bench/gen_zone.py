#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""gen_zone.py -- write the benchmark zone and a dnsperf query file.

The zone is synthetic but shaped like a real one: hosts with A/AAAA and
sometimes MX/TXT, CNAMEs (mostly in-zone), delegations with glue, TXT-only
names, and one wildcard.  Everything comes from one seeded PRNG, so the same
arguments always give byte-identical files (results stay comparable between
machines and commits).

  gen_zone.py --names 10000 --zone out/bench.test.zone --queries out/queries.txt
  gen_zone.py --records 1000000 --zone out/bench1m.test.zone

The query file is dnsperf's "NAME TYPE" format.  A side file (QUERIES.tsv)
gives the category of each line, for the answer cross-check.
"""

import argparse
import random
import sys

ORIGIN = "bench.test."
TTL = 3600

# Share of generated names by kind.  The averages give ~1.75 records/name.
NAME_KINDS = [("host", 78), ("cname", 15), ("txtonly", 5), ("deleg", 2)]

# Query mix requested for the benchmark (percent of the query file).
QUERY_MIX = [("exist", 60), ("nodata", 10), ("nxdomain", 15), ("cname", 10),
             ("referral", 5)]

# Names the generator writes by hand; random labels must not collide.
FIXED_LABELS = {"ns1", "ns2", "mx1", "mx2", "mx3", "mx4", "wild", "www"}
MAIL_HOSTS = ["mx1", "mx2", "mx3", "mx4"]
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def weighted(rng, table):
    """Pick a key from [(key, weight)] with the given PRNG."""
    total = sum(w for _, w in table)
    r = rng.randrange(total)
    for key, w in table:
        if r < w:
            return key
        r -= w
    return table[-1][0]


def new_label(rng, taken):
    """A fresh random label (3..12 chars, starts with a letter)."""
    for _ in range(1000):
        n = rng.randint(3, 12)
        label = rng.choice(ALPHABET[:26]) + "".join(
            rng.choice(ALPHABET) for _ in range(n - 1))
        if label not in taken:
            taken.add(label)
            return label
    sys.exit("gen_zone: could not find a free label (namespace exhausted)")


def rand_ipv4(rng):
    return "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256),
                             rng.randrange(1, 255))


def rand_ipv6(rng):
    return "2001:db8:%x:%x::%x" % (rng.randrange(65536), rng.randrange(65536),
                                   rng.randrange(1, 65536))


def rand_text(rng, n):
    return "".join(rng.choice(ALPHABET) for _ in range(n))


class Zone:
    """Collects records and remembers, per name, what kind it is and which
    types it owns -- the query generator needs both."""

    def __init__(self):
        self.lines = []
        self.count = 0
        self.names = {"host": [], "cname": [], "txtonly": [], "deleg": []}
        self.types = {}  # label -> set of types owned

    def add(self, owner, rtype, rdata):
        self.lines.append("%s\t%d\tIN\t%s\t%s\n" % (owner, TTL, rtype, rdata))
        self.count += 1

    def fqdn(self, label):
        return "%s.%s" % (label, ORIGIN) if label else ORIGIN


def add_apex(zone, rng):
    """SOA, NS, the name servers, the mail hosts and the wildcard."""
    zone.add(ORIGIN, "SOA", "ns1.%s hostmaster.%s 2024010101 3600 900 604800 300"
             % (ORIGIN, ORIGIN))
    for ns in ("ns1", "ns2"):
        zone.add(ORIGIN, "NS", zone.fqdn(ns))
    zone.add(ORIGIN, "MX", "10 %s" % zone.fqdn("mx1"))
    zone.add(ORIGIN, "TXT", '"v=spf1 mx -all"')
    for host in ["ns1", "ns2", "www"] + MAIL_HOSTS:
        zone.add(zone.fqdn(host), "A", rand_ipv4(rng))
        zone.add(zone.fqdn(host), "AAAA", rand_ipv6(rng))
    # wild.bench.test. itself stays an empty non-terminal (a NODATA case).
    zone.add("*.wild." + ORIGIN, "A", rand_ipv4(rng))
    zone.add("*.wild." + ORIGIN, "TXT", '"wildcard %s"' % rand_text(rng, 8))


def add_name(zone, rng, kind, label):
    """Write the records of one generated name of the given kind."""
    owner = zone.fqdn(label)
    types = set()
    if kind == "host":
        zone.add(owner, "A", rand_ipv4(rng))
        types.add("A")
        if rng.random() < 0.5:
            zone.add(owner, "AAAA", rand_ipv6(rng))
            types.add("AAAA")
        if rng.random() < 0.15:
            zone.add(owner, "MX", "%d %s" % (rng.choice((10, 20)),
                                             zone.fqdn(rng.choice(MAIL_HOSTS))))
            types.add("MX")
        if rng.random() < 0.2:
            zone.add(owner, "TXT", '"%s"' % rand_text(rng, rng.randint(8, 40)))
            types.add("TXT")
    elif kind == "cname":
        hosts = zone.names["host"]
        # Mostly in-zone targets (the server chases them); some point away.
        if hosts and rng.random() < 0.9:
            target = zone.fqdn(rng.choice(hosts))
        else:
            target = "%s.example.net." % rand_text(rng, 6)
        zone.add(owner, "CNAME", target)
        types.add("CNAME")
    elif kind == "txtonly":
        zone.add(owner, "TXT", '"%s"' % rand_text(rng, rng.randint(8, 40)))
        types.add("TXT")
    elif kind == "deleg":
        for ns in ("ns1", "ns2"):
            zone.add(owner, "NS", "%s.%s" % (ns, owner))
            zone.add("%s.%s" % (ns, owner), "A", rand_ipv4(rng))
        zone.add("ns1." + owner, "AAAA", rand_ipv6(rng))
        types.add("NS")
    zone.names[kind].append(label)
    zone.types[label] = types


def build_zone(rng, names, records):
    """Generate NAMES names, or (if RECORDS) names until RECORDS records."""
    zone = Zone()
    taken = set(FIXED_LABELS)
    add_apex(zone, rng)
    limit = names if not records else 10**9
    i = 0
    while i < limit and (not records or zone.count < records):
        add_name(zone, rng, weighted(rng, NAME_KINDS), new_label(rng, taken))
        i += 1
    return zone, taken


def query_for(zone, rng, taken, category):
    """One (name, type) of the given category."""
    if category == "exist":
        r = rng.random()
        if r < 0.05:    # wildcard synthesis
            return "%s.wild.%s" % (rand_text(rng, 6), ORIGIN), rng.choice(("A", "TXT"))
        if r < 0.07:    # apex
            return ORIGIN, rng.choice(("SOA", "NS", "MX"))
        label = rng.choice(zone.names["host"])
        return zone.fqdn(label), rng.choice(sorted(zone.types[label]))
    if category == "nodata":
        r = rng.random()
        if r < 0.05:    # empty non-terminal above the wildcard
            return "wild." + ORIGIN, "A"
        if r < 0.30 and zone.names["txtonly"]:
            return zone.fqdn(rng.choice(zone.names["txtonly"])), "A"
        label = rng.choice(zone.names["host"])
        missing = [t for t in ("AAAA", "MX", "TXT", "SRV") if t not in zone.types[label]]
        return zone.fqdn(label), rng.choice(missing)
    if category == "nxdomain":
        if rng.random() < 0.2:  # below an existing host: still NXDOMAIN
            return "%s.%s" % (rand_text(rng, 5), zone.fqdn(rng.choice(zone.names["host"]))), "A"
        while True:
            label = "nx" + rand_text(rng, rng.randint(4, 10))
            if label not in taken:
                return zone.fqdn(label), rng.choice(("A", "AAAA"))
    if category == "cname":
        return zone.fqdn(rng.choice(zone.names["cname"])), rng.choice(("A", "A", "AAAA"))
    if category == "referral":
        label = rng.choice(zone.names["deleg"])
        prefix = rng.choice(("www.", "mail.", ""))
        return prefix + zone.fqdn(label), "A"
    raise ValueError(category)


def write_queries(zone, rng, taken, count, path):
    """Write COUNT queries to PATH (dnsperf) and PATH.tsv (with categories).
    Categories are drawn per line, so the mix is right for any prefix dnsperf
    manages to send within its time limit."""
    with open(path, "w") as q, open(path + ".tsv", "w") as tsv:
        for _ in range(count):
            category = weighted(rng, QUERY_MIX)
            name, rtype = query_for(zone, rng, taken, category)
            q.write("%s %s\n" % (name, rtype))
            tsv.write("%s\t%s\t%s\n" % (category, name, rtype))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--names", type=int, default=10000)
    ap.add_argument("--records", type=int, default=0,
                    help="generate names until this many records (overrides --names)")
    ap.add_argument("--seed", type=int, default=20240101)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--queries", help="dnsperf query file to write")
    ap.add_argument("--query-count", type=int, default=100000)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    zone, taken = build_zone(rng, args.names, args.records)
    with open(args.zone, "w") as f:
        f.write("$ORIGIN %s\n$TTL %d\n" % (ORIGIN, TTL))
        f.writelines(zone.lines)
    if args.queries:
        # A separate PRNG stream: the query file does not shift if the
        # zone-generation code draws one more number.
        write_queries(zone, random.Random(args.seed + 1), taken,
                      args.query_count, args.queries)
    print("gen_zone: %s: %d names, %d records" %
          (args.zone, sum(len(v) for v in zone.names.values()), zone.count))


if __name__ == "__main__":
    main()
