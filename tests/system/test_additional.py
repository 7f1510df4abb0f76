"""Additional section processing (RFC 1034 3.6/4.3.2 step 6, RFC 1035
3.3.9/3.3.11, RFC 2782) and minimal responses: the answer carries addresses
of in-zone targets, nothing for targets elsewhere, and no NS in authority."""
from util_dns import assert_auth_answer, assert_sections, flags, module_server

BIG_A = "\n".join(f"big            A     10.0.0.{i}" for i in range(1, 41))

ZONE = f"""\
$ORIGIN example.com.
$TTL 3600
@           IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300
@              NS    ns1
@              NS    ns.example.net.
@              MX    10 mail
@              MX    20 mail.example.net.
ns1            A     192.0.2.1
ns1            AAAA  2001:db8::1
mail       900 A     192.0.2.25
mail       900 AAAA  2001:db8::25
www            A     192.0.2.10
sip            A     192.0.2.50
_sip._tcp      SRV   0 5 5060 sip
_ext._tcp      SRV   0 5 5060 sip.example.net.
noaddr         MX    10 www.example.net.
onlyv4         MX    10 www
bulky          MX    10 big
{BIG_A}
"""

server = module_server({"example.com.": ZONE})


def test_ns_answer_has_glue_for_in_zone_targets(server):
    """RFC 1034 3.6 / 4.3.2 step 6: an NS answer brings the A and AAAA of its
    in-zone targets in additional; the out-of-zone target brings nothing."""
    r = server.query("example.com.", "NS")
    assert_auth_answer(r)
    assert_sections(r,
                    answer=["example.com. 3600 IN NS ns1.example.com.",
                            "example.com. 3600 IN NS ns.example.net."],
                    authority=[],
                    additional=["ns1.example.com. 3600 IN A 192.0.2.1",
                                "ns1.example.com. 3600 IN AAAA 2001:db8::1"])


def test_mx_answer_has_target_addresses(server):
    """RFC 1035 3.3.9: MX answers carry the exchange's A/AAAA in additional
    when known (in zone); mail.example.net gets nothing."""
    r = server.query("example.com.", "MX")
    assert_auth_answer(r)
    assert_sections(r,
                    answer=["example.com. 3600 IN MX 10 mail.example.com.",
                            "example.com. 3600 IN MX 20 mail.example.net."],
                    authority=[],
                    additional=["mail.example.com. 900 IN A 192.0.2.25",
                                "mail.example.com. 900 IN AAAA 2001:db8::25"])


def test_mx_target_with_only_a(server):
    """RFC 1035 3.3.9 / RFC 3596: only the address RRsets that exist are
    added (A here, no AAAA)."""
    r = server.query("onlyv4.example.com.", "MX")
    assert_auth_answer(r)
    assert_sections(r, answer=["onlyv4.example.com. 3600 IN MX 10 www.example.com."],
                    authority=[], additional=["www.example.com. 3600 IN A 192.0.2.10"])


def test_srv_answer_has_target_addresses(server):
    """RFC 2782 ("Usage rules", additional data): the SRV target's addresses
    go into additional."""
    r = server.query("_sip._tcp.example.com.", "SRV")
    assert_auth_answer(r)
    assert_sections(r, answer=["_sip._tcp.example.com. 3600 IN SRV 0 5 5060 sip.example.com."],
                    authority=[], additional=["sip.example.com. 3600 IN A 192.0.2.50"])


def test_out_of_zone_targets_add_nothing(server):
    """RFC 1034 4.3.2 step 6: only data the server has authoritatively is
    added; targets outside the zone give an empty additional section."""
    r = server.query("_ext._tcp.example.com.", "SRV")
    assert_auth_answer(r)
    assert_sections(r, answer=["_ext._tcp.example.com. 3600 IN SRV 0 5 5060 sip.example.net."],
                    authority=[], additional=[])
    r = server.query("noaddr.example.com.", "MX")
    assert_auth_answer(r)
    assert_sections(r, answer=["noaddr.example.com. 3600 IN MX 10 www.example.net."],
                    authority=[], additional=[])


def test_positive_answer_has_no_ns_in_authority(server):
    """RFC 2181 6.1 / RFC 1034 4.3.2 (minimal responses): the NS RRset is not
    repeated in authority of positive answers, nor its glue in additional."""
    for qname, qtype in (("www.example.com.", "A"), ("mail.example.com.", "AAAA"),
                         ("example.com.", "SOA")):
        r = server.query(qname, qtype)
        assert_auth_answer(r)
        assert r.authority == [], r.to_text()
        assert r.additional == [], r.to_text()


def test_additional_overflow_does_not_set_tc(server):
    """RFC 2181 section 9: an additional RRset that does not fit (40 A RRs in
    512 octets) is omitted entirely and the reply sent with TC clear."""
    r = server.query("bulky.example.com.", "MX")   # no EDNS: 512 bytes
    assert_auth_answer(r)
    assert "TC" not in flags(r)
    assert_sections(r, answer=["bulky.example.com. 3600 IN MX 10 big.example.com."],
                    authority=[], additional=[])
