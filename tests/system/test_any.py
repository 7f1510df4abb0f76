"""QTYPE=ANY (RFC 8482): over UDP the answer is minimal, one RRset (one of
the node's, or a synthesized HINFO), never the whole node."""
import dns.name
import dns.rdatatype

from util_dns import (assert_auth_answer, assert_rcode, assert_sections, flags, module_server,
                      rrs, section, soa_line)

ZONE = """\
$ORIGIN example.com.
$TTL 3600
@           IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300
@              NS    ns1
@              NS    ns2
@              MX    10 mail
@              TXT   "v=spf1 mx -all"
ns1            A     192.0.2.1
ns2            A     192.0.2.2
mail           A     192.0.2.25
www            A     192.0.2.10
www            AAAA  2001:db8::10
www        600 TXT   "hello"
www            MX    10 mail
www            SSHFP 1 1 0123456789abcdef0123456789abcdef01234567
alias          CNAME www
a.ent          TXT   "below an empty non-terminal"
sub            NS    ns.sub
ns.sub         A     192.0.2.53
"""

server = module_server({"example.com.": ZONE})

WWW_RRSETS = rrs("www.example.com. 3600 IN A 192.0.2.10",
                 "www.example.com. 3600 IN AAAA 2001:db8::10",
                 'www.example.com. 600 IN TXT "hello"',
                 "www.example.com. 3600 IN MX 10 mail.example.com.",
                 "www.example.com. 3600 IN SSHFP 1 1 0123456789abcdef0123456789abcdef01234567")
APEX_RRSETS = rrs(soa_line("example.com", 3600),
                  "example.com. 3600 IN NS ns1.example.com.",
                  "example.com. 3600 IN NS ns2.example.com.",
                  "example.com. 3600 IN MX 10 mail.example.com.",
                  'example.com. 3600 IN TXT "v=spf1 mx -all"')


def assert_minimal_any(r, qname, node_rrsets):
    """RFC 8482 4.1/4.2: exactly one RRset, owned by QNAME, either one of the
    node's RRsets or a synthesized HINFO."""
    assert_auth_answer(r)
    assert len(r.answer) == 1, "ANY over UDP must be minimal (one RRset)\n" + r.to_text()
    rrset = r.answer[0]
    assert rrset.name == dns.name.from_text(qname)
    if rrset.rdtype == dns.rdatatype.HINFO:
        return
    assert section(r.answer) <= node_rrsets, r.to_text()


def test_any_minimal_over_udp(server):
    """RFC 8482 section 4: ANY over UDP answers one RRset of the node (or a
    synthesized HINFO), not all five."""
    r = server.query("www.example.com.", "ANY")
    assert_minimal_any(r, "www.example.com.", WWW_RRSETS)


def test_any_minimal_at_apex(server):
    """RFC 8482 section 4: the apex node is answered minimally too."""
    r = server.query("example.com.", "ANY")
    assert_minimal_any(r, "example.com.", APEX_RRSETS)


def test_any_minimal_with_edns(server):
    """RFC 8482 section 4: a large EDNS buffer does not change the minimal
    UDP answer."""
    r = server.query("www.example.com.", "ANY", use_edns=0, payload=4096)
    assert_minimal_any(r, "www.example.com.", WWW_RRSETS)


def test_any_over_tcp_nonempty_subset(server):
    """RFC 8482 section 4.4: over TCP the server may answer fully or
    minimally; whatever it returns is data of that node."""
    r = server.query("www.example.com.", "ANY", tcp=True)
    assert_auth_answer(r)
    assert r.answer, r.to_text()
    non_hinfo = [s for s in r.answer if s.rdtype != dns.rdatatype.HINFO]
    assert section(non_hinfo) <= WWW_RRSETS, r.to_text()


def test_any_at_cname_returns_the_cname(server):
    """RFC 1034 4.3.2 step 3a: ANY matches the CNAME itself, so the CNAME is
    the answer and it is not followed."""
    r = server.query("alias.example.com.", "ANY")
    assert_auth_answer(r)
    assert_sections(r, answer=["alias.example.com. 3600 IN CNAME www.example.com."])


def test_any_nxdomain(server):
    """RFC 8482 section 4 / RFC 2308: ANY for a missing name is NXDOMAIN."""
    r = server.query("nope.example.com.", "ANY")
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=[], authority=[soa_line("example.com", 300)])


def test_any_empty_non_terminal_nodata(server):
    """RFC 8482 section 4 / RFC 2308 2.2: an empty non-terminal has no RRset
    to give: NODATA."""
    r = server.query("ent.example.com.", "ANY")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[soa_line("example.com", 300)])


def test_any_below_cut_is_referral(server):
    """RFC 1034 4.3.2 step 3b: at a delegation ANY is referred like any type."""
    r = server.query("sub.example.com.", "ANY")
    assert_rcode(r, "NOERROR")
    assert "AA" not in flags(r)
    assert_sections(r, answer=[], authority=["sub.example.com. 3600 IN NS ns.sub.example.com."],
                    additional=["ns.sub.example.com. 3600 IN A 192.0.2.53"])
