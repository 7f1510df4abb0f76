"""Message-level protocol rules: RFC 1035 4.1 header handling, REFUSED and
NOTIMP, FORMERR for malformed queries, CHAOS identity queries, case
preservation (RFC 4343) and name compression (RFC 1035 4.1.4)."""
import struct

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdatatype
import pytest

from util_dns import (assert_alive, assert_auth_answer, assert_rcode, assert_sections, flags,
                      header, make_header, module_server, name_wire, opt_wire, question_wire,
                      udp_raw, uncompressed_size)

ZONE = """\
$ORIGIN example.com.
$TTL 3600
@           IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300
@              NS    ns1
@              NS    ns2
ns1            A     192.0.2.1
ns2            A     192.0.2.2
www            A     192.0.2.10
many           A     192.0.2.11
many           A     192.0.2.12
many           A     192.0.2.13
many           A     192.0.2.14
many           A     192.0.2.15
"""

server = module_server({"example.com.": ZONE})
chaos_server = module_server({"example.com.": ZONE},
                             {"identity": "ns-test-1.example", "version": "cirrus-test 1.2.3"})

FORMERR, NOTIMP, REFUSED = 1, 4, 5
ID = 0xBEEF
RD = 0x0100


def raw_answer(srv, wire, timeout=1.0):
    raw = udp_raw(srv.port, wire, timeout)
    assert raw is not None, f"no answer to {wire.hex()}"
    h = header(raw)
    assert h["qr"], "QR not set in answer"
    assert h["id"] == struct.unpack("!H", wire[:2])[0], "ID not copied"
    return raw, h


# -- REFUSED / NOTIMP --------------------------------------------------------

@pytest.mark.parametrize("qname", ["www.example.net.", "com.", ".", "xexample.com."])
def test_refused_outside_served_zones(server, qname):
    """RFC 1035 4.1.1 (REFUSED) / RFC 2308 ("not authoritative"): a name in
    no served zone is REFUSED, AA=0, with the question echoed and no data."""
    r = server.query(qname, "A")
    assert_rcode(r, "REFUSED")
    assert "AA" not in flags(r)
    assert_sections(r, answer=[], authority=[], additional=[])
    assert r.question[0].name == dns.name.from_text(qname)


@pytest.mark.parametrize("opcode", [2, 3, 15])
def test_unknown_opcode_notimp(server, opcode):
    """RFC 1035 4.1.1: an opcode the server does not implement (2 STATUS,
    unassigned 3 and 15) gets NOTIMP with the opcode copied."""
    q = dns.message.make_query("www.example.com.", "A")
    q.id = ID
    wire = bytearray(q.to_wire())
    fl = struct.unpack_from("!H", wire, 2)[0]
    fl = (fl & ~0x7800) | (opcode << 11)
    struct.pack_into("!H", wire, 2, fl)
    _, h = raw_answer(server, bytes(wire))
    assert h["rcode"] == NOTIMP, h
    assert h["opcode"] == opcode, h
    assert not h["aa"]
    assert h["ancount"] == 0


# -- FORMERR -----------------------------------------------------------------

QUESTION = question_wire("www.example.com.")

FORMERR_CASES = {
    "qdcount_0": make_header(ID, RD, qd=0),
    "qdcount_2": make_header(ID, RD, qd=2) + QUESTION + question_wire("ns1.example.com."),
    "truncated_name": make_header(ID, RD, qd=1) + b"\x03www\x07exam",
    "truncated_type_class": make_header(ID, RD, qd=1) + name_wire("www.example.com.") + b"\x00",
    "reserved_label_type": make_header(ID, RD, qd=1) + b"\x83www\x00\x00\x01\x00\x01",
    "extended_label_type": make_header(ID, RD, qd=1) + b"\x43www\x00\x00\x01\x00\x01",
    "name_over_255_octets": make_header(ID, RD, qd=1)
        + b"".join(b"\x3f" + bytes([97 + i]) * 63 for i in range(5)) + b"\x00\x00\x01\x00\x01",
    "pointer_loop": make_header(ID, RD, qd=1) + b"\xc0\x0c\x00\x01\x00\x01",
    "pointer_out_of_range": make_header(ID, RD, qd=1) + b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8",
    "trailing_garbage": make_header(ID, RD, qd=1) + QUESTION + b"\xde\xad\xbe\xef garbage",
    "counts_exceed_data": make_header(ID, RD, qd=1, an=1) + QUESTION,
    "two_opt": make_header(ID, RD, qd=1, ar=2) + QUESTION + opt_wire() + opt_wire(),
    "opt_option_overruns_rdata": make_header(ID, RD, qd=1, ar=1) + QUESTION
        + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 4) + struct.pack("!HH", 10, 8),
    "opt_rdlen_overruns_message": make_header(ID, RD, qd=1, ar=1) + QUESTION
        + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 40) + b"\x00\x0a\x00\x00",
}


@pytest.mark.parametrize("case", sorted(FORMERR_CASES))
def test_malformed_query_formerr(server, case):
    """RFC 1035 4.1.1 (FORMERR: "unable to interpret the query"): bad
    counts, truncation, names over 255 octets (RFC 1035 3.1), reserved and
    extended label types (RFC 1035 4.1.4, RFC 6891 5), pointer loops, trailing
    bytes; RFC 6891 6.1.1: more than one OPT, or a malformed option length.
    The server answers FORMERR with QR=1 and the query's ID, and keeps
    serving."""
    _, h = raw_answer(server, FORMERR_CASES[case])
    assert h["rcode"] == FORMERR, h
    assert h["ancount"] == 0 and h["nscount"] == 0
    assert_alive(server, "www.example.com.")


@pytest.mark.parametrize("wire", [b"", b"\x12", b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00"])
def test_shorter_than_header_dropped(server, wire):
    """RFC 1035 4.1.1: without a whole 12-octet header there is no ID to
    answer to; the datagram is dropped and the server keeps serving."""
    assert udp_raw(server.port, wire, timeout=0.3) is None
    assert_alive(server, "www.example.com.")


def test_response_is_not_answered(server):
    """RFC 1035 4.1.1 (QR): a message with QR=1 is a response, never answered
    (no reflection loops); the server keeps serving."""
    q = dns.message.make_query("www.example.com.", "A")
    q.flags |= dns.flags.QR
    assert udp_raw(server.port, q.to_wire(), timeout=0.5) is None
    assert_alive(server, "www.example.com.")


# -- header bits -------------------------------------------------------------

@pytest.mark.parametrize("rd", [True, False])
def test_rd_copied_ra_clear(server, rd):
    """RFC 1035 4.1.1: RD is copied into the response; RA is clear because an
    authoritative-only server offers no recursion."""
    q = dns.message.make_query("www.example.com.", "A")
    if not rd:
        q.flags &= ~dns.flags.RD
    r = server.send(q)
    assert_auth_answer(r)
    assert ("RD" in flags(r)) == rd
    assert "RA" not in flags(r)


def test_header_z_bit_ignored(server):
    """RFC 1035 4.1.1 / RFC 8906 section 3.1.3: the Z bit must be zero; a
    query with it set is answered normally and the answer has it clear."""
    q = dns.message.make_query("www.example.com.", "A")
    wire = bytearray(q.to_wire())
    wire[3] |= 0x40
    raw, h = raw_answer(server, bytes(wire))
    assert h["rcode"] == 0 and h["aa"] and h["ancount"] == 1
    assert not h["flags"] & 0x0040, "Z bit set in the answer"


# -- classes and CHAOS ---------------------------------------------------------

@pytest.mark.parametrize("rdclass", ["HS", "CLASS42"])
def test_other_class_refused(server, rdclass):
    """RFC 1035 3.2.4 / 4.1.1: the zones are class IN; a query for another
    class (not CH) is REFUSED."""
    r = server.query("www.example.com.", "A", rdclass=rdclass)
    assert_rcode(r, "REFUSED")
    assert "AA" not in flags(r)
    assert r.answer == []


@pytest.mark.parametrize("qname,text", [
    ("version.bind.", "cirrus-test 1.2.3"),
    ("version.server.", "cirrus-test 1.2.3"),
    ("id.server.", "ns-test-1.example"),
    ("hostname.bind.", "ns-test-1.example"),
])
def test_chaos_identity_when_configured(chaos_server, qname, text):
    """RFC 4892 section 2/3 (id.server, version.bind conventions): CH TXT
    answers with the configured string, class CH, owner = QNAME."""
    r = chaos_server.query(qname, "TXT", rdclass="CH")
    assert_rcode(r, "NOERROR")
    assert len(r.answer) == 1, r.to_text()
    rrset = r.answer[0]
    assert rrset.name == dns.name.from_text(qname)
    assert rrset.rdclass == dns.rdataclass.CH and rrset.rdtype == dns.rdatatype.TXT
    assert [b"".join(rd.strings) for rd in rrset] == [text.encode()]


@pytest.mark.parametrize("qname", ["version.bind.", "id.server.", "hostname.bind.",
                                   "version.server."])
def test_chaos_identity_refused_when_not_configured(server, qname):
    """RFC 4892 section 2 (operators may decline to disclose): with no
    identity/version configured the CH TXT query is REFUSED."""
    r = server.query(qname, "TXT", rdclass="CH")
    assert_rcode(r, "REFUSED")
    assert r.answer == []


# -- names on the wire -----------------------------------------------------------

def test_qname_case_preserved(server):
    """RFC 4343 section 4.1 / RFC 1035 7.3: the question is copied as sent,
    and the answer owner keeps the QNAME's case."""
    qname = "WwW.ExAmPlE.cOm."
    raw, h = raw_answer(server, dns.message.make_query(qname, "A").to_wire())
    assert h["rcode"] == 0
    r = dns.message.from_wire(raw)
    assert r.question[0].name.to_text() == qname
    assert [rrset.name.to_text() for rrset in r.answer] == [qname]
    assert name_wire(qname) in raw


def test_nxdomain_qname_case_preserved(server):
    """RFC 4343 section 4.1: the question section of a negative answer is
    copied with its case."""
    qname = "NoSuCh.ExAmPlE.cOm."
    raw, h = raw_answer(server, dns.message.make_query(qname, "A").to_wire())
    assert h["rcode"] == 3
    assert dns.message.from_wire(raw).question[0].name.to_text() == qname


def test_answers_use_compression(server):
    """RFC 1035 4.1.4: repeated names are compressed with pointers (0xC0..),
    so the answer is shorter than its uncompressed form."""
    raw, h = raw_answer(server, dns.message.make_query("many.example.com.", "A").to_wire())
    assert h["ancount"] == 5
    r = dns.message.from_wire(raw)
    assert len(raw) < uncompressed_size(r), (len(raw), uncompressed_size(r))
    assert b"\xc0\x0c" in raw[12 + len(name_wire("many.example.com.")) + 4:]
