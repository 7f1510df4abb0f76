"""Negative answers (RFC 2308): NXDOMAIN and NODATA carry the zone SOA in
authority with TTL = min(SOA TTL, SOA MINIMUM), and are authoritative."""
import pytest

from util_dns import assert_auth_answer, assert_sections, module_server

# SOA TTL larger than MINIMUM: the negative TTL is MINIMUM (300).
LOW_MIN = """\
$ORIGIN example.com.
$TTL 3600
@        3600 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300
@              NS    ns1
@              NS    ns2.example.net.
ns1            A     192.0.2.1
www            A     192.0.2.10
a.b.c          TXT   "deep"
"""

# SOA TTL smaller than MINIMUM: the negative TTL is the SOA TTL (60).
LOW_TTL = """\
$ORIGIN example.org.
$TTL 3600
@          60 IN SOA ns1.example.org. hostmaster.example.org. 42 7200 3600 1209600 900
@              NS    ns1
ns1            A     198.51.100.1
www            A     198.51.100.10
x.y            A     198.51.100.11
"""

server = module_server({"example.com.": LOW_MIN, "example.org.": LOW_TTL})

SOA_COM = ("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. "
           "2024010101 7200 3600 1209600 300")
SOA_ORG = ("example.org. 60 IN SOA ns1.example.org. hostmaster.example.org. "
           "42 7200 3600 1209600 900")


@pytest.mark.parametrize("qname,soa", [
    ("nope.example.com.", SOA_COM),
    ("nope.example.org.", SOA_ORG),
])
def test_nxdomain_soa_ttl_is_min(server, qname, soa):
    """RFC 2308 section 3 and 5: NXDOMAIN, AA=1, the SOA in authority with
    TTL min(SOA TTL, MINIMUM) (tested with MINIMUM < TTL and TTL < MINIMUM),
    the SOA RDATA itself unchanged."""
    r = server.query(qname, "A")
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=[], authority=[soa], additional=[])


@pytest.mark.parametrize("qname,qtype,soa", [
    ("www.example.com.", "AAAA", SOA_COM),
    ("www.example.org.", "MX", SOA_ORG),
    ("example.com.", "TXT", SOA_COM),
    ("www.example.com.", "TYPE65000", SOA_COM),
])
def test_nodata_soa_ttl_is_min(server, qname, qtype, soa):
    """RFC 2308 section 2.2 and 3: NODATA is NOERROR with an empty answer, AA=1
    and the SOA (TTL min(SOA TTL, MINIMUM)) in authority."""
    r = server.query(qname, qtype)
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[soa], additional=[])


@pytest.mark.parametrize("qname,soa", [
    ("b.c.example.com.", SOA_COM),
    ("c.example.com.", SOA_COM),
    ("y.example.org.", SOA_ORG),
])
def test_empty_non_terminal_is_nodata(server, qname, soa):
    """RFC 2308 section 2.2 / RFC 4592 2.2.2 / RFC 8020: an empty non-terminal
    exists, so it is NODATA (NOERROR, no answer), never NXDOMAIN."""
    for qtype in ("A", "TXT"):
        r = server.query(qname, qtype)
        assert_auth_answer(r)
        assert_sections(r, answer=[], authority=[soa], additional=[])


def test_below_leaf_is_nxdomain(server):
    """RFC 2308 section 2.1: a name under an existing leaf that has no
    children does not exist."""
    r = server.query("x.www.example.com.", "A")
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=[], authority=[SOA_COM])


def test_negative_over_tcp_same(server):
    """RFC 2308 section 3: the negative answer does not depend on transport."""
    r = server.query("nope.example.org.", "A", tcp=True)
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=[], authority=[SOA_ORG])
    r = server.query("www.example.org.", "TXT", tcp=True)
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_ORG])


def test_negative_with_edns_same(server):
    """RFC 2308 section 3 with RFC 6891: EDNS does not change the negative
    answer's sections."""
    r = server.query("nope.example.com.", "A", use_edns=0)
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=[], authority=[SOA_COM], additional=[])
