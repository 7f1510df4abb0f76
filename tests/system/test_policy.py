"""Routing policies (docs/policies.md) against the real binary on loopback:
weighted distribution over 10,000 queries, ip and geo answers per client
subnet through EDNS Client Subnet (RFC 7871) with the scope echoed, ECS
from an untrusted resolver ignored, malformed ECS answered FORMERR,
failover past a statically-down endpoint, multivalue count and shuffle, a
nested policy, and policy errors at start and on SIGHUP."""
import struct
import time

import dns.edns
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

import conftest
from util_dns import opt_wire, udp_raw

ZONE = """\
$ORIGIN example.com.
$TTL 300
@     IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 60
@        NS    ns1
@        MX    10 mail
ns1      A     192.0.2.1
alias    CNAME near
"""

# Country and continent of some prefixes, as a GeoIP export would list them.
GEO_MAP = """\
# prefix          country continent
10.10.0.0/16      DE EU
10.20.0.0/16      FR EU
10.30.0.0/16      US NA
10.30.128.0/17    CA NA
2001:db8:40::/48  JP AS
"""

WEIGHTS = {"192.0.2.10": 1, "192.0.2.11": 2, "192.0.2.12": 7, "192.0.2.13": 0}

POLICIES = """\
    policies:
      - name: www
        type: A
        ttl: 30
        rule: weighted
        endpoints:
          - { rdata: 192.0.2.10, weight: 1 }
          - { rdata: 192.0.2.11, weight: 2 }
          - { rdata: 192.0.2.12, weight: 7 }
          - { rdata: 192.0.2.13, weight: 0 }
      - name: near
        type: A
        rule: ip
        endpoints:
          - { rdata: 192.0.2.20, cidrs: [10.0.0.0/8] }
          - { rdata: 192.0.2.21, cidrs: [10.1.0.0/16, "2001:db8:1::/48"] }
          - { rdata: 192.0.2.22, cidrs: ["2001:db8::/32"] }
          - { rdata: 192.0.2.29, default: true }
      - name: geo
        type: A
        rule: geo
        map: geo.cidr
        endpoints:
          - { rdata: 192.0.2.30, countries: [DE] }
          - { rdata: 192.0.2.31, continents: [EU] }
          - { rdata: 192.0.2.32, continents: [NA] }
          - { rdata: 192.0.2.33, countries: [CA] }
          - { rdata: 192.0.2.39, default: true }
      - name: mail
        type: A
        rule: failover
        endpoints:
          - { rdata: 192.0.2.40, level: 1, health: web-a }
          - { rdata: 192.0.2.41, level: 2 }
      - name: app
        type: A
        rule: failover
        endpoints:
          - level: 1
            rule: weighted
            endpoints:
              - { rdata: 192.0.2.50, weight: 1, health: web-a }
              - { rdata: 192.0.2.51, weight: 1, health: web-b }
          - { rdata: 192.0.2.59, level: 2 }
      - name: many
        type: A
        rule: multivalue
        pick: 3
        endpoints:
          - rdata: 192.0.2.60
          - rdata: 192.0.2.61
          - rdata: 192.0.2.62
          - rdata: 192.0.2.63
          - { rdata: 192.0.2.64, health: web-a }
      - name: v6
        type: AAAA
        rule: ip
        endpoints:
          - { rdata: "2001:db8::1", cidrs: [10.0.0.0/8] }
          - { rdata: "2001:db8::2", default: true }
      - name: closed
        type: A
        fail: closed
        rule: weighted
        endpoints:
          - { rdata: 192.0.2.70, health: web-a }
"""


class PolicyServer(conftest.Server):
    """A cirrus whose zone declares POLICIES, with web-a held down."""

    def __init__(self, workdir, ecs_trust, policies=POLICIES, health=None):
        super().__init__(workdir, {"example.com.": ZONE})
        self.ecs_trust = ecs_trust
        self.policies = policies
        self.health = {"web-a": "down"} if health is None else health

    def write_conf(self):
        (self.workdir / "geo.cidr").write_text(GEO_MAP)
        zone = self.zone_path("example.com.")
        zone.write_text(ZONE)
        lines = ["server:", "  listen: [127.0.0.1]", f"  port: {self.port}", "  workers: 2"]
        if self.ecs_trust:
            lines.append(f"  ecs-trust: {self.ecs_trust}")
        if self.health:
            lines.append("health:")
            lines += [f"  {k}: {v}" for k, v in self.health.items()]
        lines += ["zones:", "  - origin: example.com.", f"    file: {conftest.yaml_str(zone)}"]
        self.conf_path.write_text("\n".join(lines) + "\n" + self.policies)


def policy_server(ecs_trust):
    @pytest.fixture(scope="module")
    def _server(tmp_path_factory):
        srv = PolicyServer(tmp_path_factory.mktemp("cirrus"), ecs_trust)
        srv.start()
        yield srv
        conftest.assert_clean_exit(srv)
    return _server


trusting = policy_server("[127.0.0.1/32]")
untrusting = policy_server(None)


def addresses(r, rdtype=dns.rdatatype.A):
    return [rd.address for rrset in r.answer if rrset.rdtype == rdtype for rd in rrset]


def ecs_query(srv, name, subnet, prefix, rdtype="A"):
    q = dns.message.make_query(name, rdtype, use_edns=0,
                               options=[dns.edns.ECSOption(subnet, prefix)])
    return srv.send(q)


def echoed(r):
    """(source prefix, scope prefix, address) of the response's ECS option."""
    opts = [o for o in r.options if o.otype == dns.edns.ECS]
    assert len(opts) == 1, r
    return opts[0].srclen, opts[0].scopelen, opts[0].address


# -- weighted -------------------------------------------------------------------

def test_weighted_distribution(trusting):
    """10,000 answers fit weights 1:2:7 (chi-square, 2 degrees of freedom,
    13.82 = 0.1% critical value); the weight-0 endpoint never answers."""
    counts = dict.fromkeys(WEIGHTS, 0)
    for _ in range(10000):
        r = trusting.query("www.example.com.", "A")
        got = addresses(r)
        assert len(got) == 1, r
        assert r.answer[0].ttl == 30
        counts[got[0]] += 1
    assert counts["192.0.2.13"] == 0
    total = sum(w for w in WEIGHTS.values())
    chi = sum((counts[a] - 10000 * w / total) ** 2 / (10000 * w / total)
              for a, w in WEIGHTS.items() if w)
    assert chi < 13.82, counts


def test_weighted_scope_is_zero(trusting):
    """A weighted answer does not depend on the client: scope 0."""
    r = ecs_query(trusting, "www.example.com.", "10.1.2.0", 24)
    assert echoed(r) == (24, 0, "10.1.2.0")


# -- ip and geo through ECS -----------------------------------------------------

@pytest.mark.parametrize("subnet,prefix,answer,scope", [
    ("10.1.2.0", 24, "192.0.2.21", 16),    # inside 10.1/16, nothing longer below it
    ("10.9.0.0", 16, "192.0.2.20", 13),    # 10/8; 10.1/16 branches off at bit 12
    ("11.0.0.0", 8, "192.0.2.29", 8),      # no match; 10/8 differs in bit 7
    ("192.0.2.0", 24, "192.0.2.29", 1),    # no match; differs from 10/8 in bit 0
    ("2001:db8:1::", 56, "192.0.2.21", 48),
    ("2001:db8:2::", 48, "192.0.2.22", 47),
    ("2001:db9::", 32, "192.0.2.29", 32),  # differs from 2001:db8::/32 in bit 31
])
def test_ip_by_client_subnet(trusting, subnet, prefix, answer, scope):
    r = ecs_query(trusting, "near.example.com.", subnet, prefix)
    assert r.rcode() == dns.rcode.NOERROR
    assert addresses(r) == [answer]
    assert echoed(r) == (prefix, scope, subnet)


@pytest.mark.parametrize("subnet,prefix,answer,scope", [
    ("10.10.5.0", 24, "192.0.2.30", 16),   # DE: its country endpoint
    ("10.20.0.0", 24, "192.0.2.31", 16),   # FR: no country endpoint, EU continent
    ("10.30.1.0", 24, "192.0.2.32", 17),   # US: NA; CA's /17 starts at bit 16
    ("10.30.200.0", 24, "192.0.2.33", 17), # CA: country beats continent
    ("2001:db8:40::", 56, "192.0.2.39", 48),  # JP, AS: no endpoint, the default
    ("10.99.0.0", 16, "192.0.2.39", 10),   # not in the map; 99 leaves the others at bit 9
])
def test_geo_by_client_subnet(trusting, subnet, prefix, answer, scope):
    r = ecs_query(trusting, "geo.example.com.", subnet, prefix)
    assert addresses(r) == [answer]
    assert echoed(r) == (prefix, scope, subnet)


def test_packet_source_without_ecs(trusting):
    """No ECS: the packet source (127.0.0.1) decides, no ECS in the answer."""
    r = trusting.query("near.example.com.", "A", use_edns=0)
    assert addresses(r) == ["192.0.2.29"]
    assert not [o for o in r.options if o.otype == dns.edns.ECS]


def test_static_answer_scope_zero(trusting):
    r = ecs_query(trusting, "ns1.example.com.", "10.1.2.0", 24)
    assert addresses(r) == ["192.0.2.1"]
    assert echoed(r) == (24, 0, "10.1.2.0")


def test_cname_into_policy(trusting):
    """A static CNAME into a policy: the chain ends in the subnet's answer."""
    r = ecs_query(trusting, "alias.example.com.", "10.1.0.0", 16)
    assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert addresses(r) == ["192.0.2.21"]
    assert echoed(r)[1] == 16


def test_aaaa_policy(trusting):
    r = ecs_query(trusting, "v6.example.com.", "10.5.0.0", 16, "AAAA")
    assert addresses(r, dns.rdatatype.AAAA) == ["2001:db8::1"]
    r = ecs_query(trusting, "v6.example.com.", "192.0.2.0", 24, "AAAA")
    assert addresses(r, dns.rdatatype.AAAA) == ["2001:db8::2"]


def test_untrusted_ecs_ignored(untrusting):
    """Without ecs-trust the subnet is ignored: the source answers, scope 0."""
    for subnet, prefix in [("10.1.2.0", 24), ("2001:db8:1::", 48)]:
        r = ecs_query(untrusting, "near.example.com.", subnet, prefix)
        assert addresses(r) == ["192.0.2.29"]
        assert echoed(r) == (prefix, 0, subnet)


# -- malformed ECS -----------------------------------------------------------

def raw_with_options(srv, options):
    q = dns.message.make_query("ns1.example.com.", "A").to_wire()
    wire = q[:10] + struct.pack("!H", 1) + q[12:] + opt_wire(options=options)
    raw = udp_raw(srv.port, wire, timeout=2.0)
    assert raw is not None
    return dns.message.from_wire(raw)


def ecs_option(family, source, scope, address):
    data = struct.pack("!HBB", family, source, scope) + address
    return struct.pack("!HH", 8, len(data)) + data


@pytest.mark.parametrize("option", [
    ecs_option(1, 33, 0, b"\x0a\x00\x00\x00\x00"),   # longer than IPv4 allows
    ecs_option(2, 129, 0, b"\x20" + b"\x00" * 16),   # longer than IPv6 allows
    ecs_option(3, 8, 0, b"\x0a"),                    # unknown family
    ecs_option(1, 15, 0, b"\x0a\x01"),               # bit 15 set past /15
    ecs_option(1, 16, 0, b"\x0a\x01\x00"),           # an octet too many
    ecs_option(1, 24, 0, b"\x0a\x01"),               # an octet short
    struct.pack("!HH", 8, 2) + b"\x00\x01",          # no room for the header
    ecs_option(1, 8, 0, b"\x0a") * 2,                # two ECS options
], ids=["v4-33", "v6-129", "family-3", "host-bits", "long", "short", "truncated", "twice"])
def test_malformed_ecs_formerr(trusting, option):
    r = raw_with_options(trusting, option)
    assert r.rcode() == dns.rcode.FORMERR


def test_wellformed_raw_ecs(trusting):
    r = raw_with_options(trusting, ecs_option(1, 15, 0, b"\x0a\x00"))
    assert r.rcode() == dns.rcode.NOERROR


# -- failover, multivalue, nesting, fail-closed ----------------------------------

def test_failover_past_down_endpoint(trusting):
    for _ in range(20):
        assert addresses(trusting.query("mail.example.com.", "A")) == ["192.0.2.41"]


def test_additional_and_any_use_policy(trusting):
    r = trusting.query("example.com.", "MX")
    extra = [rd.address for rrset in r.additional if rrset.rdtype == dns.rdatatype.A
             for rd in rrset]
    assert extra == ["192.0.2.41"]
    r = trusting.query("mail.example.com.", "ANY")
    assert addresses(r) == ["192.0.2.41"]


def test_multivalue_count_and_shuffle(trusting):
    """Three distinct healthy records per answer, in an order that changes:
    each of the four healthy endpoints comes first about a quarter of the
    time (400 answers: 100 expected, 50..150 is over 5 sigma)."""
    healthy = {f"192.0.2.{i}" for i in range(60, 64)}
    first = dict.fromkeys(healthy, 0)
    for _ in range(400):
        got = addresses(trusting.query("many.example.com.", "A"))
        assert len(got) == 3 and len(set(got)) == 3, got
        assert set(got) <= healthy, got
        first[got[0]] += 1
    assert all(50 <= n <= 150 for n in first.values()), first


def test_nested_policy(trusting):
    """Failover over a weighted level: with web-a down the level answers
    with its healthy half only, never level 2."""
    for _ in range(50):
        assert addresses(trusting.query("app.example.com.", "A")) == ["192.0.2.51"]


def test_fail_closed_nodata(trusting):
    r = trusting.query("closed.example.com.", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA


# -- declaration errors and reload ----------------------------------------------

def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


BAD_POLICY = """\
    policies:
      - name: www
        type: A
        rule: ip
        endpoints:
          - { rdata: 192.0.2.10, cidrs: [10.0.0.1/8] }
"""


def test_bad_policy_refuses_to_start(tmp_path):
    srv = PolicyServer(tmp_path, None, policies=BAD_POLICY)
    srv.start(wait=False)
    try:
        rc = srv.proc.wait(timeout=20)
    finally:
        srv.stderr.close()
    assert rc != 0
    conf = str(srv.conf_path)
    assert f"{conf}:15: '10.0.0.1/8' is not a prefix" in srv.log(), srv.log()


def test_reload_policy_and_health(tmp_path):
    """SIGHUP re-reads policies and health; a broken policy keeps the old
    version serving and logs FILE:LINE."""
    srv = PolicyServer(tmp_path, None)
    srv.start()
    try:
        assert addresses(srv.query("mail.example.com.", "A")) == ["192.0.2.41"]
        srv.health = {"web-a": "up"}
        srv.write_conf()
        srv.reload()
        assert wait_for(lambda: addresses(srv.query("mail.example.com.", "A")) ==
                        ["192.0.2.40"]), srv.log()
        srv.policies = BAD_POLICY
        srv.write_conf()
        srv.reload()
        assert wait_for(lambda: "is not a prefix" in srv.log()), srv.log()
        assert addresses(srv.query("mail.example.com.", "A")) == ["192.0.2.40"]
        assert "keeping the previous version" in srv.log()
    finally:
        conftest.assert_clean_exit(srv)
