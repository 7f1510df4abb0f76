"""Differential test: one generated zone served by Cirrus and by a reference
authoritative server (NSD, and Knot DNS), the same 2000 queries to each over
UDP and over TCP, and every difference in rcode, header flags, EDNS DO and
the three sections (as sets of RRsets, TTLs included) listed.

The zone comes from a fixed seed: hosts with A/AAAA/MX/TXT, SRV under empty
non-terminals, CNAME chains (in zone, dangling, out of zone, into a
wildcard, into a delegation, a loop), wildcards (plain, CNAME, below an
empty non-terminal, next to existing names, with a name below the `*`
owner), delegations with glue, without glue, with sibling glue, with an
in-zone authoritative NS and with DS, DNAMEs (in zone, out of zone, into a
wildcard, into a delegation, back to the apex, one whose substitution
overflows), answers and referrals too big for 512 or 1232 octets, an
unknown type and a non-ASCII label. Queries cover existing data, NODATA,
NXDOMAIN, CNAME and DNAME chains, names under wildcards, referrals, DS at
and away from cuts, DNSSEC types in an unsigned zone and case-mixed names,
with no EDNS or EDNS payloads 512/1232/4096, DO set on a quarter; ANY is
left out (RFC 8482 lets servers differ).

Normalisations, each with its reason (anything else is reported):
  * UDP answers compare on rcode and TC only; a truncated answer may carry
    any part of the data (RFC 2181 9). Cirrus setting TC on a referral
    whose in-domain glue the reference dropped silently is RFC 9471 3.
  * The reference's apex NS RRset in the authority section of a positive
    answer is dropped: optional data NSD adds, Cirrus sends minimal answers.
  * Additional data only Cirrus has is accepted when the reference serves
    exactly that RRset authoritatively (additional data is optional, RFC
    1034 4.3.2 step 6, and servers fill a full message differently);
    referral glue the reference has below the cut Cirrus must have too.
  * YXDOMAIN where a DNAME substitution overflows 255 octets (RFC 6672
    2.2); Knot 3.2 says NXDOMAIN.
  * NSEC/RRSIG asked at a CNAME owner of an unsigned zone: following the
    CNAME (Cirrus, NSD; RFC 1034 3.6.2) or NODATA (Knot; RFC 4035 2.5).
  * CNAME chains stay within every server's limit here (Knot follows 5
    hops); test_cname_chain_limit covers longer chains on their own.
The test fails listing the first differences and a count per query class.
"""
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from conftest import free_port

SEED = 20240101
ORIGIN = "diff.example."
APEX = dns.name.from_text(ORIGIN)
EXT = "ext.example.net."
MAX_REPORTED = 20
QUERY_COUNT = 2000


# --------------------------------------------------------------------------
# zone generation
# --------------------------------------------------------------------------

class ZoneGen:
    """Builds the zone text and remembers names by role for the queries."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.lines = []
        self.names = {}        # relative owner -> set of types
        self.roles = {}        # role -> list of relative names

    def add(self, owner, rtype, rdata, ttl=None):
        ttl = ttl if ttl is not None else self.rng.choice([60, 300, 3600, 86400])
        self.lines.append(f"{owner}\t{ttl}\tIN\t{rtype}\t{rdata}")
        self.names.setdefault(owner, set()).add(rtype)

    def role(self, role, name):
        self.roles.setdefault(role, []).append(name)

    def ip4(self):
        return f"192.0.{self.rng.randrange(2, 3)}.{self.rng.randrange(1, 255)}"

    def ip6(self):
        return f"2001:db8::{self.rng.randrange(1, 0xffff):x}"

    def build(self):
        r = self.rng
        self.lines.append("$TTL 3600")
        self.add("@", "SOA", "ns1 hostmaster 2024010101 3600 900 604800 300", 3600)
        for target in ("ns1", "ns2", f"ns.{EXT}"):
            self.add("@", "NS", target, 3600)
        self.add("ns1", "A", "192.0.2.1", 3600)
        self.add("ns1", "AAAA", "2001:db8::1", 3600)
        self.add("ns2", "A", "192.0.2.2", 3600)
        self.add("@", "MX", "10 mail", 3600)
        self.add("@", "MX", f"20 mx.{EXT}", 3600)
        self.add("mail", "A", "192.0.2.25", 3600)
        self.add("@", "A", "192.0.2.80", 300)
        self.add("@", "TXT", '"v=spf1 mx -all"', 300)
        for n in ("ns1", "ns2", "mail", "@"):
            self.role("host", n)

        hosts = [f"h{i:03d}" for i in range(150)]
        for h in hosts:
            ttl = r.choice([60, 300, 3600, 86400])
            for _ in range(r.randint(1, 3)):
                self.add(h, "A", self.ip4(), ttl)
            if r.random() < 0.5:
                self.add(h, "AAAA", self.ip6())
            if r.random() < 0.2:
                self.add(h, "TXT", f'"host {h}" "seed {SEED}"')
            if r.random() < 0.15:
                target = r.choice(hosts + [f"mx.{EXT}", "mail"])
                self.add(h, "MX", f"{r.randint(0, 50)} {target}")
            self.role("host", h)
        for h in r.sample(hosts, 15):       # names below hosts
            child = f"www.{h}"
            self.add(child, "A", self.ip4())
            self.role("host", child)
        for i, h in enumerate(r.sample(hosts, 20)):  # SRV under ENTs
            owner = f"_svc{i}._tcp.{h}"
            for _ in range(r.randint(1, 3)):
                target = r.choice(hosts + [f"srv.{EXT}"])
                self.add(owner, "SRV", f"{r.randint(0, 20)} {r.randint(0, 100)} "
                                       f"{r.randint(1, 65535)} {target}", 600)
            self.role("srv", owner)
            self.role("ent", f"_tcp.{h}")

        # empty non-terminals: a.b.eNNN has data, b.eNNN and eNNN do not
        for i in range(20):
            self.add(f"a.b.e{i:03d}", "A", self.ip4())
            self.role("host", f"a.b.e{i:03d}")
            self.role("ent", f"e{i:03d}")
            self.role("ent", f"b.e{i:03d}")

        # wildcards
        for i in range(10):
            w = f"w{i:02d}"
            self.add(f"*.{w}", "A", self.ip4(), 600)
            if i % 2 == 0:
                self.add(f"*.{w}", "TXT", f'"wildcard {w}"', 600)
            if i % 3 == 0:
                self.add(f"*.{w}", "MX", f"10 {r.choice(hosts)}", 600)
            self.role("wild", w)
        self.add("exists.w00", "A", "192.0.2.200")     # next to a wildcard
        self.add("deep.sub.w01", "A", "192.0.2.201")   # ENT sub.w01 blocks *.w01
        self.role("host", "exists.w00")
        self.role("ent", "sub.w01")
        self.add("*.wcname", "CNAME", r.choice(hosts), 600)
        self.add("*.wcext", "CNAME", f"www.{EXT}", 600)
        self.add("*.e.entw", "A", "192.0.2.202", 600)  # wildcard under ENTs
        for w in ("wcname", "wcext", "e.entw"):
            self.role("wild", w)
        self.role("ent", "entw")
        self.role("ent", "e.entw")

        # CNAME chains (targets only later in the list: no loops)
        cnames = [f"c{i:03d}" for i in range(40)]
        for i, c in enumerate(cnames):
            roll = r.random()
            if roll < 0.55:
                target = r.choice(hosts)
            elif roll < 0.8 and i < len(cnames) - 1:
                target = r.choice(cnames[i + 1:])
            elif roll < 0.86:
                target = f"www.{EXT}"
            elif roll < 0.92:
                target = f"missing{i}"
            else:
                target = f"x{i}.w0{i % 10}"
            self.add(c, "CNAME", target, r.choice([60, 300, 3600]))
            self.role("cname", c)
        for i in range(4):                           # a chain of 4, within all limits
            self.add(f"chain{i}", "CNAME", f"chain{i + 1}", 300)
        self.add("chain4", "A", "192.0.2.204", 300)
        self.role("cname", "chain0")
        self.add("loop1", "CNAME", "loop2", 300)
        self.add("loop2", "CNAME", "loop1", 300)
        self.role("cname", "loop1")
        self.add("cdeleg", "CNAME", "www.d00", 300)   # CNAME into a delegation
        self.role("cname", "cdeleg")

        # delegations
        deleg = [f"d{i:02d}" for i in range(20)]
        for i, d in enumerate(deleg):
            kind = i % 5
            if kind in (0, 1, 2):
                self.add(d, "NS", f"ns1.{d}", 86400)
                self.add(f"ns1.{d}", "A", self.ip4(), 86400)
                if kind == 1:
                    self.add(f"ns1.{d}", "AAAA", self.ip6(), 86400)
                if kind == 2:
                    self.add(d, "NS", f"ns2.{d}", 86400)
                    self.add(f"ns2.{d}", "A", self.ip4(), 86400)
            if kind in (1, 3):
                self.add(d, "NS", f"ns.{EXT}", 86400)
            if kind == 3:
                self.add(d, "NS", "ns1", 86400)        # in-zone authoritative target
            if kind == 4:
                self.add(d, "NS", "ns1.d00", 86400)    # sibling glue (RFC 9471 2.2)
                self.add(d, "NS", f"ns.{EXT}", 86400)
            if i % 3 == 0:
                self.add(d, "DS", f"{1000 + i} 13 2 " + f"{i:02x}" * 32, 3600)
            self.role("deleg", d)

        # DNAMEs: in zone (target subtree has data) and out of zone
        for i in range(5):
            tgt = f"tgt{i}"
            for leaf in ("www", "mail", "a.b"):
                self.add(f"{leaf}.{tgt}", "A", self.ip4())
            self.add(f"alias.{tgt}", "CNAME", r.choice(hosts), 300)
            self.add(f"dn{i}", "DNAME", f"{tgt}", r.choice([300, 3600]))
            self.role("dname", f"dn{i}")
            self.role("host", f"www.{tgt}")
        self.add("dnext", "DNAME", EXT, 300)
        self.add("dnwild", "DNAME", "w03", 300)      # DNAME into a wildcard
        self.add("dnapex", "DNAME", ORIGIN, 300)     # back to the apex
        for d in ("dnext", "dnwild", "dnapex"):
            self.role("dname", d)

        # sizes: answers over 512 and 1232 bytes, additional overflow,
        # a referral whose glue does not fit in 512 bytes
        for i in range(24):
            self.add("bigtxt", "TXT", f'"{i:02d} ' + "x" * 90 + '"', 300)
        for i in range(90):
            self.add("manya", "A", f"198.51.100.{i + 1}", 300)
        for i, h in enumerate(r.sample(hosts, 30)):
            self.add("manymx", "MX", f"{i} {h}", 300)
        for i in range(12):
            ns = f"ns{i:02d}-with-a-longer-name.bigdeleg"
            self.add("bigdeleg", "NS", ns, 86400)
            self.add(ns, "A", self.ip4(), 86400)
            self.add(ns, "AAAA", self.ip6(), 86400)
        for n in ("bigtxt", "manya", "manymx", "bigdeleg"):
            self.role("big", n)
        self.role("deleg", "bigdeleg")
        # DNAME whose substitution can overflow 255 octets (YXDOMAIN)
        self.add("dnlong", "DNAME", ".".join(["l" * 60] * 3) + ".diff.example.", 300)
        self.role("dname", "dnlong")
        # DNAME pointing into a delegation, and CNAME to a DNAME'd name
        self.add("dndeleg", "DNAME", "d01", 300)
        self.role("dname", "dndeleg")
        self.add("c2dname", "CNAME", "www.dn0", 300)
        self.role("cname", "c2dname")
        # additional-section targets that are glue, not authoritative data
        self.add("mx2glue", "MX", "10 ns1.d00", 300)
        self.add("mx2glue", "MX", "20 h001", 300)
        self.add("_x._tcp.srv2glue", "SRV", "0 0 53 ns1.d01", 300)
        self.role("host", "mx2glue")
        self.role("srv", "_x._tcp.srv2glue")
        # a name below a wildcard's owner (RFC 4592 2.2.1)
        self.add("x.*.w05", "A", "192.0.2.205", 300)
        self.role("host", "x.*.w05")
        # a label with a non-ASCII octet: only A-Z fold (RFC 4343)
        self.add("caf\\233", "A", "192.0.2.233", 300)
        self.role("host", "caf\\233")
        # unknown type (RFC 3597)
        self.add("unk", "TYPE65280", r"\# 4 0a0b0c0d", 300)
        self.role("host", "unk")
        self.hosts = hosts
        return "\n".join(self.lines) + "\n"


# --------------------------------------------------------------------------
# queries
# --------------------------------------------------------------------------

TYPES = ["A", "AAAA", "MX", "TXT", "SRV", "NS", "SOA", "CNAME", "DS", "DNAME", "PTR", "CAA",
         "TYPE65280"]


def fq(rel):
    return ORIGIN if rel == "@" else f"{rel}.{ORIGIN}"


def mixcase(rng, name):
    return "".join(c.upper() if c.isalpha() and rng.random() < 0.5 else c for c in name)


def make_queries(gen, seed):
    rng = random.Random(seed + 1)
    qs = []   # (category, qname, qtype)

    def q(cat, rel, rtype):
        qs.append((cat, fq(rel), rtype))

    for owner, types in gen.names.items():
        if owner.startswith("*"):
            continue
        for t in types:
            q("exists", owner, t)
        for t in rng.sample([t for t in TYPES if t not in types], 2):
            q("nodata", owner, t)
    for ent in gen.roles["ent"]:
        for t in ("A", "TXT", "NS"):
            q("ent", ent, t)
    for i in range(120):
        parent = rng.choice(["@"] + gen.roles["host"])
        label = f"nx{i}-{rng.randrange(10**6)}"
        q("nxdomain", label if parent == "@" else f"{label}.{parent}",
          rng.choice(["A", "AAAA", "MX", "TXT"]))
    for c in gen.roles["cname"]:
        for t in ("A", "AAAA", "TXT", "MX", "CNAME"):
            q("cname", c, t)
    for w in gen.roles["wild"]:
        for i in range(8):
            label = f"q{i}-{rng.randrange(10**5)}"
            if i % 3 == 2:
                label = f"deeper.{label}"
            q("wildcard", f"{label}.{w}", rng.choice(["A", "TXT", "MX", "AAAA", "CNAME", "SRV"]))
        q("wildcard", f"*.{w}", "A")
        q("wildcard", w, "A")
    q("wildcard", "x.exists.w00", "A")    # closest encloser exists.w00: NXDOMAIN
    q("wildcard", "x.sub.w01", "A")       # ENT sub.w01 stops the wildcard
    q("wildcard", "sub.w01", "A")
    for d in gen.roles["deleg"]:
        for t in ("A", "NS", "DS", "SOA", "MX"):
            q("referral", d, t)
        for sub in ("www", "ns1", "a.b"):
            q("referral", f"{sub}.{d}", rng.choice(["A", "AAAA", "DS", "NS"]))
        q("ds", d, "DS")
    for h in rng.sample(gen.hosts, 20):
        q("ds", h, "DS")
    q("ds", "@", "DS")
    for d in gen.roles["dname"]:
        for t in ("A", "DNAME", "CNAME", "TXT"):
            q("dname", d, t)
        for sub in ("www", "mail", "a.b", "nothere", "alias", "x.y.z"):
            q("dname", f"{sub}.{d}", rng.choice(["A", "AAAA", "CNAME", "MX"]))
    for n in gen.roles["big"]:
        for t in ("A", "TXT", "MX", "NS", "AAAA"):
            q("big", n, t)
        q("big", f"www.{n}", "A")
    long_label = "q" * 50
    for depth in (1, 2, 3):
        q("dname", ".".join([long_label] * depth) + ".dnlong", "A")
    for n in ("unk", "h000", "c000", "x.w00"):
        q("unknown-type", n, "TYPE65280")
    for n in ("y.*.w05", "x.y.w05", "*.w05"):
        q("wildcard", n, "A")
    for n in ("caf\\201", "CAF\\233", "caf\\233"):
        q("case", n, "A")
    for n in ("h000", "c000", "x.w00", "d00", "@"):
        for t in ("RRSIG", "NSEC", "NSEC3PARAM", "DNSKEY"):
            q("dnssec-types", n, t)
    # case-mixed copies of a sample of everything above
    for cat, name, t in rng.sample(qs, 250):
        qs.append((f"case/{cat}", mixcase(rng, name), t))
    rng.shuffle(qs)
    if len(qs) > QUERY_COUNT:
        qs = qs[:QUERY_COUNT]
    # EDNS: one query in six without (512-byte UDP limit), otherwise a
    # payload of 512, 1232 or 4096 and DO=1 for one in four
    def edns():
        if rng.random() < 1 / 6:
            return None
        return (rng.choice([512, 1232, 1232, 4096]), rng.random() < 0.25)
    return [(cat, name, t, edns()) for cat, name, t in qs]


# --------------------------------------------------------------------------
# reference servers
# --------------------------------------------------------------------------

def wait_ready(port, proc, name, log, timeout=20.0):
    probe = dns.message.make_query(ORIGIN, "SOA")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text()}")
        try:
            r = dns.query.udp(probe, "127.0.0.1", port=port, timeout=0.3)
            if r.rcode() == dns.rcode.NOERROR and r.answer:
                dns.query.tcp(probe, "127.0.0.1", port=port, timeout=1)
                return
        except (dns.exception.Timeout, dns.query.BadResponse, OSError):  # see conftest
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer for {ORIGIN} within {timeout}s:\n{log.read_text()}")


def start_nsd(workdir, zone_text):
    nsd = shutil.which("nsd") or ("/usr/sbin/nsd" if Path("/usr/sbin/nsd").exists() else None)
    if nsd is None:
        pytest.skip("nsd not installed (Debian package nsd)")
    d = workdir / "nsd"
    d.mkdir()
    (d / "diff.example.zone").write_text(zone_text)
    port = free_port()
    (d / "nsd.conf").write_text(f"""server:
  ip-address: 127.0.0.1
  port: {port}
  server-count: 1
  zonesdir: "{d}"
  pidfile: "{d}/nsd.pid"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}"
  zonelistfile: "{d}/zone.list"
  database: ""
  username: ""
  chroot: ""
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: "{ORIGIN}"
  zonefile: "diff.example.zone"
""")
    return Reference("NSD", [nsd, "-d", "-c", str(d / "nsd.conf")], port, d / "nsd.stderr")


def start_knot(workdir, zone_text):
    knotd = shutil.which("knotd") or ("/usr/sbin/knotd" if Path("/usr/sbin/knotd").exists() else None)
    if knotd is None:
        pytest.skip("knotd not installed (Debian package knot)")
    d = workdir / "knot"
    d.mkdir()
    (d / "diff.example.zone").write_text(zone_text)
    port = free_port()
    (d / "knot.conf").write_text(f"""server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{d}"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: {ORIGIN}
    file: "{d}/diff.example.zone"
""")
    return Reference("Knot", [knotd, "-c", str(d / "knot.conf")], port, d / "knotd.stderr")


# --------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------

def ask(port, qname, qtype, edns=(1232, False)):
    """The same query over UDP and TCP; edns is None or (payload, DO).
    Returns (query, UDP answer, TCP answer); None for an answer that did
    not come within a few seconds."""
    if edns:
        q = dns.message.make_query(qname, qtype, use_edns=0, payload=edns[0],
                                   want_dnssec=edns[1])
    else:
        q = dns.message.make_query(qname, qtype, use_edns=False)
    q.flags &= ~dns.flags.RD
    udp = tcp = None
    try:
        udp = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
    except dns.exception.Timeout:
        pass
    try:
        tcp = dns.query.tcp(q, "127.0.0.1", port=port, timeout=3)
    except (dns.exception.Timeout, OSError, EOFError):
        pass
    return q, udp, tcp


def rrset_key(rrset):
    rdatas = frozenset(rd.to_digestable(dns.name.root) for rd in rrset)
    return (rrset.name.canonicalize().to_text(), dns.rdatatype.to_text(rrset.rdtype),
            dns.rdataclass.to_text(rrset.rdclass), rrset.ttl, rdatas)


def show(keys):
    out = []
    for name, rtype, _cls, ttl, rdatas in sorted(keys, key=lambda k: (k[0], k[1])):
        out.append(f"{name} {ttl} {rtype} ({len(rdatas)} rr)")
    return "; ".join(out) or "-"


def section(sec):
    return {rrset_key(r) for r in sec
            if r.rdtype not in (dns.rdatatype.OPT, dns.rdatatype.TSIG)}


def is_referral(msg):
    return (msg.rcode() == dns.rcode.NOERROR and not msg.answer and
            not (msg.flags & dns.flags.AA) and
            any(r.rdtype == dns.rdatatype.NS for r in msg.authority))


def referral_glue(msg):
    """Additional RRsets of a referral at or below its cut (RFC 9471 glue
    for in-domain name servers)."""
    cuts = [r.name for r in msg.authority if r.rdtype == dns.rdatatype.NS]
    return {k for k in section(msg.additional)
            if any(dns.name.from_text(k[0]).is_subdomain(c) for c in cuts)}


class Reference:
    """A running reference server: its port, and a cache of what it serves
    authoritatively for (name, type), to check optional additional data."""

    def __init__(self, name, argv, port, log):
        self.name, self.port, self.log = name, port, log
        self.cache = {}
        self.proc = subprocess.Popen(argv, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        try:
            wait_ready(port, self.proc, name, log)
        except Exception:
            self.stop()
            raise

    def authoritative(self, key):
        """True when the reference answers (name, type) with exactly this
        RRset (TTL included) from its zone."""
        name, rtype = key[0], key[1]
        if (name, rtype) not in self.cache:
            _, _, tcp = ask(self.port, name, rtype)
            keys = section(tcp.answer) if tcp is not None and tcp.flags & dns.flags.AA else set()
            self.cache[(name, rtype)] = keys
        return key in self.cache[(name, rtype)]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def compare_udp(query, mine, ref, mine_tcp):
    """UDP: rcode, AA and TC only (a truncated answer may carry any part of
    the data, RFC 2181 9). Cirrus setting TC where the reference sends a
    referral without all in-domain glue is what RFC 9471 3 requires."""
    if mine is None or ref is None:
        return [] if mine is ref else [
            f"no UDP answer from {'Cirrus' if mine is None else 'the reference'}"]
    diffs = []
    if mine.rcode() != ref.rcode() and not (mine.rcode() == dns.rcode.YXDOMAIN and
                                            dname_overflow(query, mine)):
        diffs.append(f"UDP rcode {dns.rcode.to_text(mine.rcode())} vs "
                     f"{dns.rcode.to_text(ref.rcode())}")
    tc_m, tc_r = bool(mine.flags & dns.flags.TC), bool(ref.flags & dns.flags.TC)
    if tc_m and not tc_r and is_referral(ref) and mine_tcp is not None and \
            not referral_glue(mine_tcp) <= referral_glue(ref):
        tc_r = True  # the reference dropped required glue without TC
    if tc_m != tc_r:
        diffs.append(f"UDP TC {int(tc_m)} vs {int(tc_r)} (sizes {len(mine.to_wire())} vs "
                     f"{len(ref.to_wire())})")
    return diffs


def dname_overflow(query, msg):
    """True when msg answers query with a DNAME whose substitution would be
    longer than 255 octets: RFC 6672 2.2 wants YXDOMAIN then."""
    qname = query.question[0].name
    for rrset in msg.answer:
        if rrset.rdtype == dns.rdatatype.DNAME and qname.is_subdomain(rrset.name):
            prefix = len(qname.to_wire()) - len(rrset.name.to_wire())
            return prefix + len(rrset[0].target.to_wire()) > 255
    return False


def cname_compatible_nodata(query, mine, ref):
    """NSEC or RRSIG asked at a CNAME owner of an unsigned zone: Cirrus (like
    NSD) follows the CNAME, RFC 1034 3.6.2; Knot answers NODATA because
    those types may sit next to a CNAME (RFC 4035 2.5). Both are defensible."""
    q = query.question[0]
    return (q.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.RRSIG) and
            ref.rcode() == dns.rcode.NOERROR and not ref.answer and
            bool(mine.answer) and mine.answer[0].rdtype == dns.rdatatype.CNAME and
            mine.answer[0].name == q.name)


def compare(query, mine, ref, reference):
    """Differences between Cirrus's full (TCP) answer and the reference's."""
    if mine is None or ref is None:
        return [] if mine is ref else [
            f"no TCP answer from {'Cirrus' if mine is None else 'the reference'}"]
    diffs = []
    if mine.question[0].name.to_text() != query.question[0].name.to_text():
        diffs.append(f"question name case changed: {mine.question[0].name}")
    if mine.question != ref.question:
        diffs.append(f"question {mine.question} vs {ref.question}")
    if mine.rcode() == dns.rcode.YXDOMAIN and ref.rcode() != mine.rcode() and \
            dname_overflow(query, mine):
        return diffs  # RFC 6672 2.2; Knot 3.2 answers NXDOMAIN here
    if cname_compatible_nodata(query, mine, ref):
        return diffs
    if mine.rcode() != ref.rcode():
        diffs.append(f"rcode {dns.rcode.to_text(mine.rcode())} vs "
                     f"{dns.rcode.to_text(ref.rcode())}")
    for flag in ("AA", "TC", "RD", "RA", "AD", "CD"):
        f = dns.flags.from_text(flag)
        if bool(mine.flags & f) != bool(ref.flags & f):
            diffs.append(f"{flag} {int(bool(mine.flags & f))} vs {int(bool(ref.flags & f))}")
    if (mine.edns >= 0) != (ref.edns >= 0):
        diffs.append(f"OPT present {mine.edns >= 0} vs {ref.edns >= 0}")
    elif mine.edns >= 0:
        do_m, do_r = bool(mine.ednsflags & dns.flags.DO), bool(ref.ednsflags & dns.flags.DO)
        if do_m != do_r:
            diffs.append(f"OPT DO {int(do_m)} vs {int(do_r)}")
    ans_m, ans_r = section(mine.answer), section(ref.answer)
    if ans_m != ans_r:
        diffs.append(f"answer: only Cirrus [{show(ans_m - ans_r)}], "
                     f"only ref [{show(ans_r - ans_m)}]")
    auth_m, auth_r = section(mine.authority), section(ref.authority)
    if ref.rcode() == dns.rcode.NOERROR and ref.answer:
        auth_r = {k for k in auth_r if not (k[0] == APEX.to_text() and k[1] == "NS")}
    if auth_m != auth_r:
        diffs.append(f"authority: only Cirrus [{show(auth_m - auth_r)}], "
                     f"only ref [{show(auth_r - auth_m)}]")
    add_m, add_r = section(mine.additional), section(ref.additional)
    extra = {k for k in add_m - add_r if not reference.authoritative(k)}
    if extra:
        diffs.append(f"additional: only Cirrus, and not the zone's data [{show(extra)}]")
    if is_referral(ref) and not referral_glue(ref) <= add_m:
        diffs.append(f"referral glue missing in Cirrus [{show(referral_glue(ref) - add_m)}]")
    return diffs


# --------------------------------------------------------------------------
# the test
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zone_and_queries():
    gen = ZoneGen(SEED)
    text = gen.build()
    return text, make_queries(gen, SEED)


def test_generated_zone_is_deterministic(zone_and_queries):
    text, queries = zone_and_queries
    again = ZoneGen(SEED).build()
    assert again == text
    assert 1500 <= len(queries) <= QUERY_COUNT, len(queries)
    assert not any(t == "ANY" for _, _, t, _ in queries)


@pytest.mark.parametrize("reference", ["nsd", "knot"])
def test_differential(reference, cirrus, tmp_path, zone_and_queries):
    text, queries = zone_and_queries
    (tmp_path / "diff.example.zone.txt").write_text(text)  # for reproducing by hand
    mine = cirrus({ORIGIN: text})
    ref = (start_nsd if reference == "nsd" else start_knot)(tmp_path, text)
    try:
        differences = []
        per_class = Counter()
        for cat, qname, qtype, edns in queries:
            q, udp_mine, tcp_mine = ask(mine.port, qname, qtype, edns)
            _, udp_ref, tcp_ref = ask(ref.port, qname, qtype, edns)
            diffs = compare_udp(q, udp_mine, udp_ref, tcp_mine) + \
                compare(q, tcp_mine, tcp_ref, ref)
            if diffs:
                per_class[cat] += 1
                how = f"EDNS {edns[0]}{' DO' if edns[1] else ''}" if edns else "no EDNS"
                differences.append(f"[{cat}] {qname} {qtype} ({how}): " + " | ".join(diffs))
    finally:
        ref.stop()
    if differences:
        summary = ", ".join(f"{k}={v}" for k, v in per_class.most_common())
        pytest.fail(f"{len(differences)} of {len(queries)} answers differ from {ref.name} "
                    f"(per query class: {summary}); first {MAX_REPORTED}:\n" +
                    "\n".join(differences[:MAX_REPORTED]), pytrace=False)


# --------------------------------------------------------------------------
# CNAME chains longer than a server follows
# --------------------------------------------------------------------------

CHAIN_ZONE = """$TTL 300
@ SOA ns1 hostmaster 1 3600 900 604800 300
@ NS ns1
ns1 A 192.0.2.1
""" + "".join(f"long{i:02d} CNAME long{i + 1:02d}\n" for i in range(24)) + \
    "long24 A 192.0.2.224\n"


def test_cname_chain_limit(cirrus, tmp_path):
    """RFC 1034 4.3.2 follows a CNAME chain to its end and names no limit;
    servers stop somewhere and the resolver carries on from the last
    target. Seen here: NSD 4.6 follows all 24 hops, Knot 3.2 five, Cirrus
    sixteen (CHAIN_MAX). Not a difference the main test counts; checked
    instead: what Cirrus sends is the chain's exact prefix, AA set,
    NOERROR, and no SOA when it stopped early (a stopped chain is not
    NODATA)."""
    mine = cirrus({ORIGIN: CHAIN_ZONE})
    ref = start_nsd(tmp_path, CHAIN_ZONE)
    try:
        for start in (0, 8, 16):
            qname = f"long{start:02d}.{ORIGIN}"
            q, _, a_mine = ask(mine.port, qname, "A")
            _, _, a_ref = ask(ref.port, qname, "A")
            full = [rrset_key(r) for r in a_ref.answer]
            got = [rrset_key(r) for r in a_mine.answer]
            assert len(full) == 24 - start + 1, a_ref.to_text()
            assert a_mine.rcode() == dns.rcode.NOERROR and a_mine.flags & dns.flags.AA
            assert got == full[:len(got)], a_mine.to_text()
            assert len(got) >= min(len(full), 8), a_mine.to_text()
            if len(got) < len(full):
                assert not a_mine.authority, a_mine.to_text()
    finally:
        ref.stop()


def test_compare_catches_differences():
    """The comparison is not vacuous: TTL, rcode, flags, authority and
    unverifiable additional data all count."""
    base = """id 1
opcode QUERY
rcode NOERROR
flags QR AA
;QUESTION
www.diff.example. IN A
;ANSWER
www.diff.example. 300 IN A 192.0.2.1
;AUTHORITY
;ADDITIONAL
"""
    query = dns.message.make_query("www.diff.example.", "A")

    class Stub:
        def authoritative(self, key):
            return False

    ref = dns.message.from_text(base)
    assert compare(query, dns.message.from_text(base), ref, Stub()) == []
    variants = [
        base.replace(" 300 IN A", " 299 IN A"),
        base.replace("rcode NOERROR", "rcode SERVFAIL"),
        base.replace("flags QR AA", "flags QR"),
        base.replace(";ADDITIONAL", "diff.example. 300 IN SOA a. b. 1 2 3 4 5\n;ADDITIONAL"),
        base + "mail.diff.example. 300 IN A 192.0.2.25\n",
    ]
    for text in variants:
        assert compare(query, dns.message.from_text(text), ref, Stub()), text
    with_ns = base.replace(";ADDITIONAL", "diff.example. 3600 IN NS ns1.diff.example.\n"
                                          ";ADDITIONAL")
    assert compare(query, dns.message.from_text(base), dns.message.from_text(with_ns),
                   Stub()) == []  # the reference's optional apex NS is ignored
