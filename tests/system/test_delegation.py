"""Zone cuts: referrals (RFC 1034 4.3.2 step 3b, RFC 9471 glue) and the DS
RRset, which lives on the parent side of the cut (RFC 4035 3.1.4.1)."""
import pytest

from util_dns import assert_auth_answer, assert_rcode, assert_sections, flags, module_server, soa_line

DS_SECURE = "12345 13 2 " + "4A" * 32
DS_CHILD = "54321 13 2 " + "B7" * 32

BIG_NS = [f"ns{i:02d}.big.example.com." for i in range(1, 14)]
BIG_DELEGATION = "\n".join(
    [f"big            NS    {ns}" for ns in BIG_NS]
    + [f"{ns:<22} A     192.0.2.{100 + i}\n{ns:<22} AAAA  2001:db8::{100 + i}"
       for i, ns in enumerate(BIG_NS)])

PARENT = f"""\
$ORIGIN example.com.
$TTL 3600
@           IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300
@              NS    ns1
@              NS    ns2
ns1            A     192.0.2.1
ns2            A     192.0.2.2
www            A     192.0.2.10
; an unsigned delegation: two in-bailiwick servers with glue, one outside
sub      86400 NS    ns1.sub
sub      86400 NS    ns2.sub
sub      86400 NS    ns.example.net.
ns1.sub  86400 A     192.0.2.53
ns1.sub  86400 AAAA  2001:db8::53
ns2.sub  86400 A     192.0.2.54
; a delegation with a DS RRset
secure         NS    ns.secure
ns.secure      A     192.0.2.60
secure         DS    {DS_SECURE}
; delegations to zones this server also serves
child          NS    ns.child
ns.child       A     192.0.2.70
child          DS    {DS_CHILD}
nods           NS    ns.nods
ns.nods        A     192.0.2.80
; a delegation whose in-domain glue does not fit in 512 octets
{BIG_DELEGATION}
"""

CHILD = """\
$ORIGIN child.example.com.
$TTL 600
@       IN SOA ns.child.example.com. hostmaster.child.example.com. 5 7200 3600 1209600 60
@          NS    ns
ns         A     192.0.2.70
www        A     192.0.2.71
"""

NODS = """\
$ORIGIN nods.example.com.
$TTL 600
@       IN SOA ns.nods.example.com. hostmaster.nods.example.com. 9 7200 3600 1209600 60
@          NS    ns
ns         A     192.0.2.80
www        A     192.0.2.81
"""

server = module_server({"example.com.": PARENT,
                        "child.example.com.": CHILD,
                        "nods.example.com.": NODS})

SUB_NS = ["sub.example.com. 86400 IN NS ns1.sub.example.com.",
          "sub.example.com. 86400 IN NS ns2.sub.example.com.",
          "sub.example.com. 86400 IN NS ns.example.net."]
SUB_GLUE = ["ns1.sub.example.com. 86400 IN A 192.0.2.53",
            "ns1.sub.example.com. 86400 IN AAAA 2001:db8::53",
            "ns2.sub.example.com. 86400 IN A 192.0.2.54"]
SOA_PARENT = soa_line("example.com", 300)
SOA_CHILD = ("child.example.com. 60 IN SOA ns.child.example.com. "
             "hostmaster.child.example.com. 5 7200 3600 1209600 60")


def assert_referral(r, ns, glue):
    """RFC 1034 4.3.2 step 3b: NOERROR, AA=0, empty answer, the cut's NS RRset
    in authority and its glue in additional."""
    assert_rcode(r, "NOERROR")
    f = flags(r)
    assert "QR" in f
    assert "AA" not in f, "referral must not be authoritative\n" + r.to_text()
    assert "TC" not in f
    assert_sections(r, answer=[], authority=ns, additional=glue)


@pytest.mark.parametrize("qname,qtype", [
    ("sub.example.com.", "A"),
    ("sub.example.com.", "AAAA"),
    ("sub.example.com.", "NS"),
    ("sub.example.com.", "SOA"),
    ("sub.example.com.", "TXT"),
    ("www.sub.example.com.", "A"),
    ("a.b.c.sub.example.com.", "MX"),
    ("ns1.sub.example.com.", "A"),
    ("ns2.sub.example.com.", "AAAA"),
    ("x.sub.example.com.", "DS"),
])
def test_referral(server, qname, qtype):
    """RFC 1034 4.3.2 step 3b: at and below a cut, for any QTYPE except DS at
    the cut, the parent refers: AA=0, NS (owner = cut) in authority, glue
    A/AAAA in additional, empty answer. Glue is not answered as data."""
    r = server.query(qname, qtype)
    assert_referral(r, SUB_NS, SUB_GLUE)


def test_referral_over_tcp(server):
    """RFC 1034 4.3.2 step 3b: the referral is the same over TCP."""
    r = server.query("www.sub.example.com.", "A", tcp=True)
    assert_referral(r, SUB_NS, SUB_GLUE)


def test_referral_secure_delegation_without_do(server):
    """RFC 4035 3.1.4: DS goes into a referral only for DO=1 queries; without
    it the referral is NS and glue only."""
    r = server.query("www.secure.example.com.", "A")
    assert_referral(r, ["secure.example.com. 3600 IN NS ns.secure.example.com."],
                    ["ns.secure.example.com. 3600 IN A 192.0.2.60"])


def test_ds_at_cut_without_ds_is_nodata_from_parent(server):
    """RFC 4035 3.1.4.1: DS at a cut is answered by the parent,
    authoritatively; with no DS RRset it is NODATA with the parent SOA."""
    r = server.query("sub.example.com.", "DS")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_PARENT], additional=[])


def test_ds_at_cut_with_ds(server):
    """RFC 4035 3.1.4.1 / RFC 4034 5: the parent answers the DS RRset with
    AA=1."""
    r = server.query("secure.example.com.", "DS")
    assert_auth_answer(r)
    assert_sections(r, answer=[f"secure.example.com. 3600 IN DS {DS_SECURE}"],
                    authority=[])


def test_ds_for_served_child_comes_from_parent(server):
    """RFC 4035 3.1.4.1: with both sides served, DS at the child apex comes
    from the parent zone."""
    r = server.query("child.example.com.", "DS")
    assert_auth_answer(r)
    assert_sections(r, answer=[f"child.example.com. 3600 IN DS {DS_CHILD}"], authority=[])


def test_ds_for_served_child_without_ds_is_parent_nodata(server):
    """RFC 4035 3.1.4.1: with both sides served and no DS in the parent, the
    NODATA carries the parent's SOA, not the child's."""
    r = server.query("nods.example.com.", "DS")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_PARENT])


@pytest.mark.parametrize("qtype,answer", [
    ("SOA", ["child.example.com. 600 IN SOA ns.child.example.com. "
             "hostmaster.child.example.com. 5 7200 3600 1209600 60"]),
    ("NS", ["child.example.com. 600 IN NS ns.child.example.com."]),
])
def test_served_child_apex_answered_from_child(server, qtype, answer):
    """RFC 1034 4.3.2 step 2: the best (deepest) served zone is the child, so
    apex data other than DS is the child's authoritative data."""
    r = server.query("child.example.com.", qtype)
    assert_auth_answer(r)
    assert_sections(r, answer=answer, authority=[], additional=None)


def test_served_child_apex_nodata_uses_child_soa(server):
    """RFC 2308 section 2.2: NODATA at the child apex carries the child SOA."""
    r = server.query("child.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_CHILD])


def test_below_served_child_answered_from_child(server):
    """RFC 1034 4.3.2 step 2: names below the cut are answered by the child
    zone (AA=1), not referred."""
    r = server.query("www.child.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=["www.child.example.com. 600 IN A 192.0.2.71"], authority=[])
    r = server.query("ns.child.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=["ns.child.example.com. 600 IN A 192.0.2.70"])


def test_referral_glue_that_does_not_fit_sets_tc(server):
    """RFC 9471 section 3.1: all in-domain glue MUST be in the referral; when
    it does not fit (13 NS with A and AAAA in 512 octets) TC is set."""
    r = server.query("www.big.example.com.", "A")
    assert "AA" not in flags(r)
    assert "TC" in flags(r), "in-domain glue dropped without TC\n" + r.to_text()


def test_referral_all_glue_with_edns(server):
    """RFC 9471 section 3.1: with room (EDNS 1232) the referral carries every
    NS and all in-domain glue, TC clear."""
    r = server.query("www.big.example.com.", "A", use_edns=0, payload=1232)
    assert_referral(r, [f"big.example.com. 3600 IN NS {ns}" for ns in BIG_NS],
                    [f"{ns} 3600 IN A 192.0.2.{100 + i}" for i, ns in enumerate(BIG_NS)]
                    + [f"{ns} 3600 IN AAAA 2001:db8::{100 + i}" for i, ns in enumerate(BIG_NS)])
