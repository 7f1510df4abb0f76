"""EDNS(0) (RFC 6891): OPT echo, BADVERS, our advertised payload size, UDP
truncation and TCP fallback, NSID (RFC 5001), the DO bit (RFC 3225)."""
import struct

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import pytest

from util_dns import (assert_auth_answer, assert_rcode, assert_sections, flags, header,
                      module_server, opt_wire, udp_raw)


def txt_lines(owner, count):
    return "\n".join(f'{owner:<14} TXT   "record-{i:02d}-{"x" * 30}"' for i in range(count))


ZONE = f"""\
$ORIGIN example.com.
$TTL 3600
@           IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300
@              NS    ns1
@              NS    ns2
ns1            A     192.0.2.1
ns2            A     192.0.2.2
www            A     192.0.2.10
{txt_lines("big", 40)}
{txt_lines("medium", 12)}
{txt_lines("small", 7)}
"""

NSID = "ns-7.cirrus.test"

server = module_server({"example.com.": ZONE})
nsid_server = module_server({"example.com.": ZONE}, {"nsid": NSID})
wide_server = module_server({"example.com.": ZONE}, {"udp-payload": 4096})


def expected_txt(owner, count):
    return [f'{owner}.example.com. 3600 IN TXT "record-{i:02d}-{"x" * 30}"' for i in range(count)]


def raw_query(srv, qname, qtype, **kw):
    """Query over UDP; returns (raw bytes, parsed message)."""
    q = dns.message.make_query(qname, qtype, **kw)
    raw = udp_raw(srv.port, q.to_wire(), timeout=2.0)
    assert raw is not None, "no answer"
    return raw, dns.message.from_wire(raw, ignore_trailing=True)


# -- OPT presence and version ------------------------------------------------

def test_opt_echoed_when_query_has_one(server):
    """RFC 6891 6.1.1/7: a query with OPT gets an OPT (version 0) back."""
    r = server.query("www.example.com.", "A", use_edns=0)
    assert_auth_answer(r)
    assert r.edns == 0
    assert_sections(r, answer=["www.example.com. 3600 IN A 192.0.2.10"], additional=[])


def test_no_opt_without_edns(server):
    """RFC 6891 section 7: a responder MUST NOT add an OPT to the answer of a
    query without one."""
    raw, r = raw_query(server, "www.example.com.", "A")
    assert r.edns == -1
    assert header(raw)["arcount"] == 0


def test_opt_echoed_on_error_rcodes(server):
    """RFC 6891 section 7: OPT is in the response whatever the rcode
    (REFUSED, NXDOMAIN)."""
    r = server.query("www.example.net.", "A", use_edns=0)
    assert_rcode(r, "REFUSED")
    assert r.edns == 0
    r = server.query("nope.example.com.", "A", use_edns=0)
    assert_rcode(r, "NXDOMAIN")
    assert r.edns == 0


@pytest.mark.parametrize("version", [1, 2, 255])
def test_unknown_version_badvers(server, version):
    """RFC 6891 6.1.3: an OPT version above ours gets BADVERS (extended rcode
    16) with an OPT of our version (0) and no answer data."""
    # Built by hand: dnspython 2.3 turns use_edns=1 into version 0 (1 == True).
    q = dns.message.make_query("www.example.com.", "A")
    wire = bytearray(q.to_wire())
    struct.pack_into("!H", wire, 10, 1)          # ARCOUNT = 1
    raw = udp_raw(server.port, bytes(wire) + opt_wire(version=version), timeout=2.0)
    assert raw is not None, "no answer"
    r = dns.message.from_wire(raw)
    assert r.id == q.id
    assert r.rcode() == dns.rcode.BADVERS, r.to_text()
    assert r.edns == 0
    assert r.answer == []


# -- payload size and truncation -----------------------------------------------

def test_default_payload_advertised(server):
    """RFC 6891 6.2.3 / RFC 9715: our OPT advertises our UDP payload size,
    1232 by default."""
    r = server.query("www.example.com.", "A", use_edns=0, payload=4096)
    assert r.payload == 1232


def test_configured_payload_advertised(wide_server):
    """RFC 6891 6.2.3: the advertised size follows server.udp-payload."""
    r = wide_server.query("www.example.com.", "A", use_edns=0, payload=1232)
    assert r.payload == 4096


def test_tc_without_edns_then_full_over_tcp(server):
    """RFC 1035 4.2.1 / RFC 7766 section 5: without EDNS an answer larger than
    512 octets sets TC (and is at most 512); over TCP it comes whole."""
    raw, r = raw_query(server, "big.example.com.", "TXT")
    assert len(raw) <= 512
    assert "TC" in flags(r), r.to_text()
    assert_rcode(r, "NOERROR")
    r = server.query("big.example.com.", "TXT", tcp=True)
    assert_auth_answer(r)
    assert_sections(r, answer=expected_txt("big", 40), authority=[], additional=[])


def test_tc_with_edns_payload(server):
    """RFC 6891 6.2.5 / 7: an answer larger than the EDNS payload size sets TC,
    fits in the payload size, and still carries the OPT."""
    raw, r = raw_query(server, "big.example.com.", "TXT", use_edns=0, payload=1232)
    assert len(raw) <= 1232
    assert "TC" in flags(r)
    assert r.edns == 0
    r = server.query("big.example.com.", "TXT", tcp=True, use_edns=0)
    assert_auth_answer(r)
    assert_sections(r, answer=expected_txt("big", 40))


def test_fits_in_edns_payload_not_truncated(server):
    """RFC 6891 6.2.5: an answer of 512..1232 octets fits an EDNS 1232 query
    and is sent whole without TC."""
    raw, r = raw_query(server, "medium.example.com.", "TXT", use_edns=0, payload=1232)
    assert 512 < len(raw) <= 1232
    assert_auth_answer(r)
    assert_sections(r, answer=expected_txt("medium", 12))
    raw, r = raw_query(server, "medium.example.com.", "TXT")
    assert "TC" in flags(r), "no EDNS: over 512 must truncate"


def test_server_limit_caps_client_payload(server):
    """RFC 6891 6.2.5 / RFC 9715 section 3: we never send more than our own
    configured size (1232) even if the client offers 4096."""
    raw, r = raw_query(server, "big.example.com.", "TXT", use_edns=0, payload=4096)
    assert len(raw) <= 1232
    assert "TC" in flags(r)


def test_larger_configured_payload_allows_big_udp(wide_server):
    """RFC 6891 6.2.5: with udp-payload 4096 and a 4096 client, the 2 KB
    answer goes whole over UDP."""
    raw, r = raw_query(wide_server, "big.example.com.", "TXT", use_edns=0, payload=4096)
    assert len(raw) > 1232
    assert_auth_answer(r)
    assert_sections(r, answer=expected_txt("big", 40))


def test_payload_below_512_treated_as_512(server):
    """RFC 6891 6.2.5: "Values lower than 512 MUST be treated as equal to
    512": a ~400-octet answer is not truncated for payload=256."""
    raw, r = raw_query(server, "small.example.com.", "TXT", use_edns=0, payload=256)
    assert 256 < len(raw) <= 512, len(raw)
    assert_auth_answer(r)
    assert_sections(r, answer=expected_txt("small", 7))


# -- options -------------------------------------------------------------------

def nsid_option():
    return dns.edns.GenericOption(dns.edns.NSID, b"")


def nsid_payloads(r):
    return [o.to_wire() if not hasattr(o, "data") else o.data
            for o in r.options if o.otype == dns.edns.NSID]


def test_nsid_returned_when_configured_and_requested(nsid_server):
    """RFC 5001 2.3: a query with an empty NSID option gets our NSID back."""
    r = nsid_server.query("www.example.com.", "A", use_edns=0, options=[nsid_option()])
    assert_auth_answer(r)
    assert nsid_payloads(r) == [NSID.encode()]


def test_nsid_also_on_negative_answers(nsid_server):
    """RFC 5001 2.3: NSID is independent of the rcode."""
    r = nsid_server.query("nope.example.com.", "A", use_edns=0, options=[nsid_option()])
    assert_rcode(r, "NXDOMAIN")
    assert nsid_payloads(r) == [NSID.encode()]


def test_nsid_absent_when_not_requested(nsid_server):
    """RFC 5001 2.3: NSID is sent only to clients that asked for it."""
    r = nsid_server.query("www.example.com.", "A", use_edns=0)
    assert nsid_payloads(r) == []


def test_nsid_absent_when_not_configured(server):
    """RFC 5001 2.3: a server with no NSID configured omits the option."""
    r = server.query("www.example.com.", "A", use_edns=0, options=[nsid_option()])
    assert_auth_answer(r)
    assert nsid_payloads(r) == []


def test_unknown_option_ignored(server):
    """RFC 6891 6.1.2: unknown OPTION-CODEs MUST be ignored: a normal answer,
    the option not echoed."""
    opt = dns.edns.GenericOption(65001, b"\x01\x02\x03")
    r = server.query("www.example.com.", "A", use_edns=0, options=[opt])
    assert_auth_answer(r)
    assert_sections(r, answer=["www.example.com. 3600 IN A 192.0.2.10"])
    assert [o for o in r.options if o.otype == 65001] == []


def test_unknown_edns_flags_ignored_and_cleared(server):
    """RFC 6891 6.1.4 / RFC 8906 section 3.2.3: undefined EDNS flag bits (Z)
    are ignored by the receiver and sent as zero; DO still copied."""
    r = server.query("www.example.com.", "A", use_edns=0, ednsflags=0x4000,
                     want_dnssec=True)
    assert_auth_answer(r)
    assert_sections(r, answer=["www.example.com. 3600 IN A 192.0.2.10"])
    assert r.ednsflags & 0x7FFF == 0, hex(r.ednsflags)
    assert r.ednsflags & dns.flags.DO


@pytest.mark.parametrize("do", [True, False])
def test_do_bit_copied(server, do):
    """RFC 3225 section 3: the DO bit MUST be copied into the response."""
    r = server.query("www.example.com.", "A", use_edns=0, want_dnssec=do)
    assert_auth_answer(r)
    assert bool(r.ednsflags & dns.flags.DO) == do
