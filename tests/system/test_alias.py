"""ALIAS at the apex (docs/policies.md#alias) against the real binary on
loopback: in-zone flattening through CNAMEs and the target's own policy,
TTL = the lowest on the way, apex SOA/NS/MX untouched, NODATA for a
missing target or a loop, a store zone's target changed through the REST
API showing at once, aliases re-read on SIGHUP; out of zone through an upstream resolver that is a
second `cirrus serve`: SERVFAIL before the first resolution, the TTL
counting down, the new data after the upstream's changes once the TTL ran
out, TCP when the upstream truncates, NODATA for NXDOMAIN upstream, stale
answers while the upstream is down and SERVFAIL after serve-stale; and
bad aliases refused at start with FILE:LINE."""
import time

import dns.edns
import dns.rcode
import dns.rdatatype
import pytest

import conftest
from conftest import wait_for
from util_api import ApiServer, replace

ZONE = """\
$ORIGIN example.com.
$TTL 300
@     SOA ns1 hostmaster 1 7200 3600 1209600 60
@     NS  ns1
@     MX  10 mail
ns1   A   192.0.2.1
mail  A   192.0.2.25
www   120 A    192.0.2.10
www   120 AAAA 2001:db8::10
cdn   100 CNAME www
lp    CNAME lp2
lp2   CNAME lp
"""

POLICIES = """\
    policies:
      - { name: "@", type: ALIAS, target: cdn, ttl: 200 }
      - { name: loop, type: ALIAS, target: lp }
      - { name: missing, type: ALIAS, target: nothere }
      - { name: pooled, type: ALIAS, target: pool.example.com. }
      - { name: app, type: ALIAS, target: www.store.test. }
      - name: pool
        type: A
        rule: weighted
        endpoints:
          - { rdata: 192.0.2.50, weight: 1 }
          - { rdata: 192.0.2.51, weight: 1 }
"""


def with_policies(conf_path, zone_path, policies, extra=""):
    """Put policies under the zone whose file is zone_path; add extra keys."""
    text = conf_path.read_text()
    line = f"    file: {conftest.yaml_str(zone_path)}\n"
    assert line in text
    conf_path.write_text(text.replace(line, line + policies) + extra)


class AliasApiServer(ApiServer):
    """A cirrus with the REST API whose example.com declares policies."""

    policies = POLICIES

    def write_conf(self):
        super().write_conf()
        with_policies(self.conf_path, self.zone_path("example.com."), self.policies)


def answer(srv, name, rtype="A", tcp=False):
    """(rcode, sorted records, TTL or None)."""
    resp = srv.query(name, rtype, tcp=tcp)
    if not resp.answer:
        return resp.rcode(), [], None
    rrset = resp.answer[-1]
    return resp.rcode(), sorted(r.to_text() for r in rrset), rrset.ttl


def extended_errors(srv, name, rtype="A"):
    """(rcode, [(RFC 8914 info code, extra text)]) of an EDNS query."""
    resp = srv.query(name, rtype, use_edns=0)
    return resp.rcode(), [(int(o.code), o.text) for o in resp.options
                          if o.otype == dns.edns.OptionType.EDE]


def assert_nodata(srv, name, rtype="A"):
    resp = srv.query(name, rtype)
    assert resp.rcode() == dns.rcode.NOERROR, resp
    assert resp.answer == [], resp
    assert [r.rdtype for r in resp.authority] == [dns.rdatatype.SOA], resp
    assert resp.authority[0].name.to_text() == "example.com.", resp


def test_in_zone(tmp_path):
    srv = AliasApiServer(tmp_path, {"example.com.": ZONE})
    srv.start()
    try:
        # The apex follows cdn's CNAME to www: TTL = min(200, 100, 120).
        assert answer(srv, "example.com.") == (dns.rcode.NOERROR, ["192.0.2.10"], 100)
        assert answer(srv, "example.com.", "AAAA") == (dns.rcode.NOERROR,
                                                       ["2001:db8::10"], 100)
        # The rest of the apex is the zone's.
        assert answer(srv, "example.com.", "MX")[1] == ["10 mail.example.com."]
        assert answer(srv, "example.com.", "NS")[1] == ["ns1.example.com."]
        assert answer(srv, "example.com.", "SOA")[0] == dns.rcode.NOERROR
        assert_nodata(srv, "example.com.", "TXT")
        # The alias itself, as PowerDNS's ALIAS type.
        rdata = answer(srv, "example.com.", "TYPE65401")[1][0]
        assert rdata.replace(" ", "") == r"\#170363646e076578616d706c6503636f6d00"
        # Missing target and CNAME loop: NODATA, not SERVFAIL.
        assert_nodata(srv, "missing.example.com.")
        assert_nodata(srv, "loop.example.com.", "AAAA")
        # The target's weighted policy chooses per query.
        seen = {tuple(answer(srv, "pooled.example.com.")[1]) for _ in range(100)}
        assert seen == {("192.0.2.50",), ("192.0.2.51",)}
        assert_nodata(srv, "pooled.example.com.", "AAAA")
        # A target in a zone not served (yet) and no resolver: SERVFAIL,
        # with EDE 0 (Other) saying why.
        assert answer(srv, "app.example.com.")[0] == dns.rcode.SERVFAIL
        assert extended_errors(srv, "app.example.com.") == \
            (dns.rcode.SERVFAIL, [(0, "no resolver for ALIAS targets")])
        # Once the store zone exists, API changes to the target show at once.
        srv.create_zone("store.test.", nameservers=["ns1.store.test."])
        assert srv.patch("store.test", [replace("www", "A", 40, "192.0.2.77")]).status == 204
        assert answer(srv, "app.example.com.") == (dns.rcode.NOERROR, ["192.0.2.77"], 40)
        assert srv.patch("store.test", [replace("www", "A", 30, "192.0.2.78",
                                                "192.0.2.79")]).status == 204
        assert answer(srv, "app.example.com.") == (dns.rcode.NOERROR,
                                                   ["192.0.2.78", "192.0.2.79"], 30)
        assert_nodata(srv, "app.example.com.", "AAAA")
        # SIGHUP re-reads the aliases.
        srv.policies = POLICIES.replace("target: cdn, ttl: 200", "target: mail, ttl: 200")
        srv.write_conf()
        srv.reload()
        assert wait_for(lambda: answer(srv, "example.com.")[1] == ["192.0.2.25"], 10), srv.log()
        assert_nodata(srv, "example.com.", "AAAA")
    finally:
        conftest.assert_clean_exit(srv)


UPSTREAM = """\
$ORIGIN ext.test.
$TTL 6
@     SOA ns1 hostmaster 1 7200 3600 1209600 5
@     NS  ns1
ns1   A   192.0.2.1
www   A   198.51.100.7
www   AAAA 2001:db8::7
"""
# Enough records that a UDP answer without EDNS (512 bytes) is truncated.
BIG = "".join(f"big A 198.51.100.{i}\n" for i in range(1, 61))

EXTERNAL = """\
    policies:
      - { name: "@", type: ALIAS, target: www.ext.test. }
      - { name: big, type: ALIAS, target: big.ext.test. }
      - { name: nx, type: ALIAS, target: nope.ext.test. }
"""


class AliasServer(conftest.Server):
    """A cirrus whose example.com aliases names of ext.test., resolved at
    upstream_port."""

    def __init__(self, workdir, upstream_port):
        super().__init__(workdir, {"example.com.": ZONE})
        self.upstream_port = upstream_port

    def write_conf(self):
        super().write_conf()
        with_policies(self.conf_path, self.zone_path("example.com."), EXTERNAL,
                      "resolver:\n  address: 127.0.0.1\n"
                      f"  port: {self.upstream_port}\n"
                      "  timeout: 200ms\n  retries: 1\n  min-ttl: 1\n  serve-stale: 4\n")


def test_out_of_zone(tmp_path):
    (tmp_path / "up").mkdir()
    (tmp_path / "main").mkdir()
    upstream = conftest.Server(tmp_path / "up", {"ext.test.": UPSTREAM + BIG})
    srv = AliasServer(tmp_path / "main", upstream.port)
    srv.start()
    try:
        # Before the first resolution (the upstream is not running): SERVFAIL,
        # with EDE 22 (No Reachable Authority).
        assert answer(srv, "example.com.")[0] == dns.rcode.SERVFAIL
        assert extended_errors(srv, "example.com.") == \
            (dns.rcode.SERVFAIL, [(22, "ALIAS target not resolved")])
        assert_nodata(srv, "example.com.", "TXT")
        upstream.start()
        # Retried after 1 s, then 2 s: resolved within a few seconds.
        assert wait_for(lambda: answer(srv, "example.com.")[0] == dns.rcode.NOERROR, 8), \
            srv.log()
        assert answer(srv, "example.com.")[1] == ["198.51.100.7"]
        assert answer(srv, "example.com.", "AAAA")[1] == ["2001:db8::7"]
        assert extended_errors(srv, "example.com.") == (dns.rcode.NOERROR, [])
        # NXDOMAIN upstream: NODATA at the alias.
        assert_nodata(srv, "nx.example.com.")
        # The upstream truncated over UDP; the resolver asked over TCP.
        rcode, records, _ = answer(srv, "big.example.com.", tcp=True)
        assert len(records) == 60, records

        # The TTL counts down: catch a fresh answer (TTL 5 or 6), then wait.
        assert wait_for(lambda: answer(srv, "example.com.")[2] >= 5, 8)
        start = time.monotonic()
        time.sleep(2.2)
        ttl = answer(srv, "example.com.")[2]
        if time.monotonic() - start < 3.0:   # not refreshed in between
            assert 2 <= ttl <= 4, ttl

        # A change upstream shows once the TTL (6 s) has run out.
        upstream.zones["ext.test."] = UPSTREAM.replace("198.51.100.7", "198.51.100.8") + BIG
        upstream.write_conf()
        upstream.reload()
        changed = time.monotonic()
        assert wait_for(lambda: answer(srv, "example.com.")[1] == ["198.51.100.8"], 10), \
            srv.log()
        assert time.monotonic() - changed <= 8.0

        # The upstream goes down: the data is served stale (TTL 30) for
        # serve-stale (4 s) after its TTL ran out, then SERVFAIL.
        upstream.stop()
        down = time.monotonic()
        assert answer(srv, "example.com.")[1] == ["198.51.100.8"]
        assert wait_for(lambda: answer(srv, "example.com.")[2] == 30, 8), srv.log()
        assert answer(srv, "example.com.")[1] == ["198.51.100.8"]
        # ...saying so with EDE 3 (Stale Answer).
        assert extended_errors(srv, "example.com.") == \
            (dns.rcode.NOERROR, [(3, "ALIAS target served stale")])
        assert wait_for(lambda: answer(srv, "example.com.")[0] == dns.rcode.SERVFAIL, 12)
        assert time.monotonic() - down >= 4.0
        assert "keeping the last answer" in srv.log()
    finally:
        conftest.assert_clean_exit(srv)
        if upstream.proc is not None and upstream.proc.poll() is None:
            conftest.assert_clean_exit(upstream)


BAD = [
    ("      - { name: '@', type: ALIAS, target: www, rule: weighted }\n",
     "'rule' does not apply to an ALIAS"),
    ("      - { name: '@', type: ALIAS }\n", "an ALIAS needs a 'target'"),
    ("      - { name: www, type: ALIAS, target: cdn }\n",
     "the name has A or AAAA records"),
    ("      - { name: x, type: A, endpoints: [ { rdata: 192.0.2.9 } ], rule: weighted }\n"
     "      - { name: x, type: ALIAS, target: www }\n",
     "the name has A or AAAA records"),
    ("      - { name: x, type: ALIAS, target: www }\n"
     "      - { name: x, type: AAAA, endpoints: [ { rdata: '2001:db8::9' } ], rule: weighted }\n",
     "the name has an ALIAS"),
    ("      - { name: x, type: A, target: www, rule: weighted, endpoints: [ { rdata: 192.0.2.9 } ] }\n",
     "'target' applies to type ALIAS only"),
    ("      - { name: cdn, type: ALIAS, target: www }\n", "CNAME"),
]


@pytest.mark.parametrize("policy,reason", BAD)
def test_bad_alias_refuses_to_start(tmp_path, policy, reason):
    srv = conftest.Server(tmp_path, {"example.com.": ZONE})
    srv.write_conf()
    with_policies(srv.conf_path, srv.zone_path("example.com."), "    policies:\n" + policy)
    srv.write_conf = lambda: None  # keep the file written above
    assert srv.start_refused() != 0
    line = len(srv.conf_path.read_text().split(policy)[0].splitlines()) + policy.count("\n")
    log = srv.log()
    assert reason in log, log
    assert f"{srv.conf_path}:{line}: " in log, log
