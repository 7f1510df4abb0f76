"""Many zones at once: RFC 1034 4.3.2 step 2 picks the nearest ancestor of
QNAME among the served zones (longest match, on label boundaries); a name
in no served zone is REFUSED."""
import pytest

from util_dns import (assert_auth_answer, assert_rcode, assert_sections, flags, module_server,
                      soa_line)

N_ZONES = 50


def simple_zone(origin, www, minimum=300, extra=""):
    return f"""\
$ORIGIN {origin}
$TTL 3600
@           IN SOA ns1.{origin} hostmaster.{origin} 2024010101 7200 3600 1209600 {minimum}
@              NS    ns1
@              NS    ns2.example.net.
ns1            A     192.0.2.1
www            A     {www}
{extra}"""


ZONES = {f"zone{i:02d}.test.": simple_zone(f"zone{i:02d}.test.", f"10.2.{i}.1")
         for i in range(N_ZONES)}
ZONES["example.com."] = simple_zone("example.com.", "192.0.2.10", extra="""\
sub            NS    ns.sub
ns.sub         A     192.0.2.53
ub             TXT   "in example.com"
""")
ZONES["sub.example.com."] = simple_zone("sub.example.com.", "192.0.2.20", extra="""\
ns             A     192.0.2.53
deep           NS    ns.deep
ns.deep        A     192.0.2.54
""")
ZONES["deep.sub.example.com."] = simple_zone("deep.sub.example.com.", "192.0.2.30")
ZONES["b.example.org."] = simple_zone("b.example.org.", "198.51.100.2")

server = module_server(ZONES)


def test_fifty_zones_each_answered(server):
    """RFC 1034 4.3.2 step 2: each of 50 served zones answers its own names
    authoritatively."""
    for i in range(N_ZONES):
        origin = f"zone{i:02d}.test."
        r = server.query(f"www.{origin}", "A")
        assert_auth_answer(r)
        assert_sections(r, answer=[f"www.{origin} 3600 IN A 10.2.{i}.1"], authority=[])


def test_fifty_zones_negative_uses_own_soa(server):
    """RFC 2308 section 3: NXDOMAIN carries the SOA of the zone that holds
    QNAME's closest encloser."""
    for i in (0, 17, N_ZONES - 1):
        origin = f"zone{i:02d}.test."
        r = server.query(f"nope.{origin}", "A")
        assert_auth_answer(r, "NXDOMAIN")
        assert_sections(r, answer=[], authority=[soa_line(origin, 300)])


@pytest.mark.parametrize("qname,address", [
    ("www.example.com.", "192.0.2.10"),
    ("www.sub.example.com.", "192.0.2.20"),
    ("www.deep.sub.example.com.", "192.0.2.30"),
    ("WWW.Deep.SUB.example.COM.", "192.0.2.30"),
])
def test_longest_match(server, qname, address):
    """RFC 1034 4.3.2 step 2: the deepest served zone containing QNAME
    answers (comparison case-insensitive, RFC 4343)."""
    r = server.query(qname, "A")
    assert_auth_answer(r)
    assert_sections(r, answer=[f"{qname.lower()} 3600 IN A {address}"], authority=[])


@pytest.mark.parametrize("qname,origin", [
    ("nope.example.com.", "example.com."),
    ("nope.sub.example.com.", "sub.example.com."),
    ("a.b.nope.deep.sub.example.com.", "deep.sub.example.com."),
])
def test_longest_match_negative(server, qname, origin):
    """RFC 1034 4.3.2 step 2 / RFC 2308: the NXDOMAIN SOA is that of the
    deepest served zone."""
    r = server.query(qname, "A")
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=[], authority=[soa_line(origin, 300)])


def test_zone_apexes_answer_their_own_soa(server):
    """RFC 1034 4.3.2 step 2: a query for a served apex is answered by that
    zone, not by the parent zone's delegation."""
    for origin in ("example.com.", "sub.example.com.", "deep.sub.example.com."):
        r = server.query(origin, "SOA")
        assert_auth_answer(r)
        assert_sections(r, answer=[soa_line(origin, 3600)], authority=[])


def test_label_boundary(server):
    """RFC 1034 3.1: zone membership follows whole labels: "ub.example.com" is
    in example.com (not sub.example.com) and "ab.example.org" is not in
    b.example.org."""
    r = server.query("ub.example.com.", "TXT")
    assert_auth_answer(r)
    assert_sections(r, answer=['ub.example.com. 3600 IN TXT "in example.com"'])
    r = server.query("ab.example.org.", "A")
    assert_rcode(r, "REFUSED")
    assert "AA" not in flags(r)


@pytest.mark.parametrize("qname", [
    "www.zone50.test.",          # a sibling of the served zones
    "test.",                     # their parent
    "www.example.org.",          # parent of b.example.org, not served
    "example.net.",
    "com.",
    ".",
])
def test_unserved_names_refused(server, qname):
    """RFC 1035 4.1.1 (REFUSED): siblings and parents of served zones are not
    ours: REFUSED, AA=0, no data."""
    r = server.query(qname, "A")
    assert_rcode(r, "REFUSED")
    assert "AA" not in flags(r)
    assert_sections(r, answer=[], authority=[], additional=[])
