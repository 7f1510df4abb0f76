"""Name lookup in an authoritative zone: RFC 1034 section 4.3.2 (exact
match, CNAME following), RFC 6672 (DNAME) and RFC 4592 (wildcards)."""
import dns.message
import dns.name
import dns.rdatatype
import pytest

from util_dns import (DATA, assert_alive, assert_auth_answer, assert_rcode, assert_sections,
                      flags, header, module_server, section, soa_line, udp_raw)

LONG = ".".join(["a" * 63, "b" * 63, "c" * 63])

EXAMPLE_COM = f"""\
$ORIGIN example.com.
$TTL 3600
@           IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300
@              NS    ns1
@              NS    ns2
ns1            A     192.0.2.1
ns2            A     192.0.2.2
www            A     192.0.2.10
www            AAAA  2001:db8::10
www        600 TXT   "v=spf1 -all"
mail           A     192.0.2.25
alias      300 CNAME www
chain1         CNAME chain2
chain2     120 CNAME chain3
chain3         CNAME www.example.com.
loop-a         CNAME loop-b
loop-b         CNAME loop-a
self           CNAME self
external       CNAME www.example.net.
xzone          CNAME host.example.org.
dangling       CNAME nothere
olddept   1800 DNAME newdept.example.com.
www.newdept    A     192.0.2.20
legacy     900 DNAME example.org.
long           DNAME {LONG}.example.com.
*.wc           CNAME www
*.wild         TXT   "wildcard"
*.wild     120 MX    10 mail.example.com.
exists.wild    A     192.0.2.30
"""

EXAMPLE_ORG = """\
$ORIGIN example.org.
$TTL 3600
@       IN SOA ns1.example.org. hostmaster.example.org. 7 7200 3600 1209600 600
@          NS    ns1
ns1        A     198.51.100.1
host   900 A     198.51.100.7
"""

server = module_server({
    "example.com.": EXAMPLE_COM,
    "example.org.": EXAMPLE_ORG,
    "example.": (DATA / "rfc4592.zone").read_text(),
})

SOA_COM = soa_line("example.com", 300)          # min(3600, MINIMUM 300)
SOA_EX = ("example. 300 IN SOA ns.example.com. hostmaster.example.com. "
          "2024010101 7200 3600 1209600 300")


# -- exact match -----------------------------------------------------------

def test_exact_match_a(server):
    """RFC 1034 4.3.2 step 3a: the RRset matching QNAME and QTYPE is the
    whole answer, authoritative, with the zone's TTL."""
    r = server.query("www.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=["www.example.com. 3600 IN A 192.0.2.10"],
                    authority=[], additional=[])


def test_exact_match_keeps_per_rrset_ttl(server):
    """RFC 1035 3.2.1 / RFC 2181 5.2: each RRset is answered with its own TTL
    (an explicit TTL overrides $TTL)."""
    r = server.query("www.example.com.", "TXT")
    assert_auth_answer(r)
    assert_sections(r, answer=['www.example.com. 600 IN TXT "v=spf1 -all"'])
    r = server.query("www.example.com.", "AAAA")
    assert_sections(r, answer=["www.example.com. 3600 IN AAAA 2001:db8::10"])


def test_exact_match_apex_soa(server):
    """RFC 1034 4.3.2: the apex SOA is ordinary data at the zone top."""
    r = server.query("example.com.", "SOA")
    assert_auth_answer(r)
    assert_sections(r, answer=[soa_line("example.com", 3600)], authority=[])


def test_question_name_is_case_insensitive(server):
    """RFC 4343 section 3: name comparison is case-insensitive."""
    r = server.query("WWW.Example.COM.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=["www.example.com. 3600 IN A 192.0.2.10"])


# -- CNAME -----------------------------------------------------------------

def test_cname_followed(server):
    """RFC 1034 4.3.2 step 3a: a CNAME at QNAME is copied to the answer and
    the lookup restarts at its target."""
    r = server.query("alias.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=["alias.example.com. 300 IN CNAME www.example.com.",
                               "www.example.com. 3600 IN A 192.0.2.10"],
                    authority=[])


def test_cname_query_for_cname_type_is_not_followed(server):
    """RFC 1034 4.3.2 step 3a: when QTYPE is CNAME the CNAME itself is the
    answer; there is no restart."""
    r = server.query("alias.example.com.", "CNAME")
    assert_auth_answer(r)
    assert_sections(r, answer=["alias.example.com. 300 IN CNAME www.example.com."])


def test_cname_chain_within_zone(server):
    """RFC 1034 4.3.2 / 3.6.2: every CNAME of a chain is in the answer, then
    the final RRset."""
    r = server.query("chain1.example.com.", "AAAA")
    assert_auth_answer(r)
    assert_sections(r, answer=["chain1.example.com. 3600 IN CNAME chain2.example.com.",
                               "chain2.example.com. 120 IN CNAME chain3.example.com.",
                               "chain3.example.com. 3600 IN CNAME www.example.com.",
                               "www.example.com. 3600 IN AAAA 2001:db8::10"])


def test_cname_chain_across_served_zones(server):
    """RFC 1034 4.3.2 step 3a ("go back to step 1"): the restart picks the best
    zone again, so a target in another served zone is answered from it."""
    r = server.query("xzone.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=["xzone.example.com. 3600 IN CNAME host.example.org.",
                               "host.example.org. 900 IN A 198.51.100.7"],
                    authority=[])


def test_cname_to_unserved_name_gives_only_the_cname(server):
    """RFC 1034 4.3.2: the target is outside every served zone, so the answer
    stops at the CNAME (NOERROR, AA=1) and the resolver follows it."""
    r = server.query("external.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=["external.example.com. 3600 IN CNAME www.example.net."])


def test_cname_to_nonexistent_name_in_zone(server):
    """RFC 2308 section 2.1 and RFC 6604: the CNAME is in the answer, the
    rcode describes the target (NXDOMAIN) and the SOA is in authority."""
    r = server.query("dangling.example.com.", "A")
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=["dangling.example.com. 3600 IN CNAME nothere.example.com."],
                    authority=[SOA_COM])


@pytest.mark.parametrize("qname,cnames", [
    ("loop-a.example.com.", 2),
    ("self.example.com.", 1),
])
def test_cname_loop_answered_and_server_survives(server, qname, cnames):
    """RFC 1034 3.6.2 / RFC 1035 7.1: CNAME loops are illegal but must be
    detected; the server answers promptly without repeating RRs and keeps
    serving."""
    wire = dns.message.make_query(qname, "A").to_wire()
    raw = udp_raw(server.port, wire, timeout=2.0)
    assert raw is not None, "no answer to a CNAME loop"
    h = header(raw)
    assert h["qr"]
    assert h["rcode"] in (0, 2), f"rcode {h['rcode']} (want NOERROR or SERVFAIL)"
    assert h["ancount"] <= cnames, f"{h['ancount']} answer RRs for {cnames} CNAMEs"
    r = dns.message.from_wire(raw)
    assert all(s[2] == "CNAME" for s in section(r.answer)), r.to_text()
    if h["rcode"] == 0:
        assert (qname, "IN", "CNAME") in {s[:3] for s in section(r.answer)}, r.to_text()
    assert_alive(server, "www.example.com.")


# -- DNAME (RFC 6672) --------------------------------------------------------

def test_dname_synthesizes_cname(server):
    """RFC 6672 3.1/3.2: the answer holds the DNAME, a CNAME synthesized for
    QNAME with the DNAME's TTL, and then the target's data."""
    r = server.query("www.olddept.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=[
        "olddept.example.com. 1800 IN DNAME newdept.example.com.",
        "www.olddept.example.com. 1800 IN CNAME www.newdept.example.com.",
        "www.newdept.example.com. 3600 IN A 192.0.2.20"], authority=[])


def test_dname_target_in_other_served_zone(server):
    """RFC 6672 3.2 with RFC 1034 4.3.2 restart: synthesis into another
    served zone continues there."""
    r = server.query("host.legacy.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=[
        "legacy.example.com. 900 IN DNAME example.org.",
        "host.legacy.example.com. 900 IN CNAME host.example.org.",
        "host.example.org. 900 IN A 198.51.100.7"])


def test_dname_synthesis_to_nonexistent_name(server):
    """RFC 6672 3.2 / RFC 6604: after synthesis the target does not exist, so
    NXDOMAIN with the DNAME and synthesized CNAME in the answer."""
    r = server.query("nope.olddept.example.com.", "A")
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=[
        "olddept.example.com. 1800 IN DNAME newdept.example.com.",
        "nope.olddept.example.com. 1800 IN CNAME nope.newdept.example.com."],
        authority=[SOA_COM])


def test_dname_owner_itself_not_redirected(server):
    """RFC 6672 2.3: a DNAME does not redirect its own owner name; A at the
    owner is NODATA, DNAME at the owner is the DNAME."""
    r = server.query("olddept.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_COM])
    r = server.query("olddept.example.com.", "DNAME")
    assert_auth_answer(r)
    assert_sections(r, answer=["olddept.example.com. 1800 IN DNAME newdept.example.com."])


def test_dname_synthesis_too_long_is_yxdomain(server):
    """RFC 6672 2.2: when the substituted name would exceed 255 octets the
    server returns YXDOMAIN and synthesizes no CNAME."""
    qname = "q" * 60 + ".long.example.com."
    r = server.query(qname, "A")
    assert_rcode(r, "YXDOMAIN")
    assert not [s for s in r.answer if s.rdtype == dns.rdatatype.CNAME], r.to_text()


# -- wildcards (RFC 4592) ----------------------------------------------------

def test_wildcard_match_owner_is_qname(server):
    """RFC 4592 3.3.1: a synthesized answer carries QNAME as owner, never the
    '*' name, with the wildcard RRset's TTL."""
    r = server.query("anything.wild.example.com.", "TXT")
    assert_auth_answer(r)
    assert_sections(r, answer=['anything.wild.example.com. 3600 IN TXT "wildcard"'],
                    authority=[])
    assert r.answer[0].name == dns.name.from_text("anything.wild.example.com.")


def test_wildcard_matches_several_labels(server):
    """RFC 4592 2.1.1: '*' matches any number of labels below the closest
    encloser."""
    r = server.query("a.b.c.wild.example.com.", "MX")
    assert_auth_answer(r)
    assert_sections(r, answer=["a.b.c.wild.example.com. 120 IN MX 10 mail.example.com."],
                    additional=None)


def test_wildcard_nodata(server):
    """RFC 4592 2.2.1 ("host3.example. A"): the wildcard matches but has no
    RRset of QTYPE: NOERROR, empty answer, SOA in authority."""
    r = server.query("anything.wild.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_COM])


def test_existing_name_blocks_wildcard(server):
    """RFC 4592 2.2.1 ("host1.example. MX"): a name that exists is never
    synthesized, even for a type only the wildcard has."""
    r = server.query("exists.wild.example.com.", "TXT")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_COM])


def test_below_existing_name_is_nxdomain(server):
    """RFC 4592 3.3.1: the closest encloser exists.wild has no '*' child, so a
    name below it does not exist."""
    r = server.query("x.exists.wild.example.com.", "TXT")
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=[], authority=[SOA_COM])


def test_wildcard_parent_is_empty_non_terminal(server):
    """RFC 4592 2.2.2: the parent of '*' exists (as an empty non-terminal),
    so it answers NODATA and is not synthesized from the wildcard."""
    r = server.query("wild.example.com.", "TXT")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_COM])


def test_wildcard_asked_literally(server):
    """RFC 4592 2.3: a query for the '*' name itself gets its data with the
    '*' owner."""
    r = server.query("*.wild.example.com.", "TXT")
    assert_auth_answer(r)
    assert_sections(r, answer=['*.wild.example.com. 3600 IN TXT "wildcard"'])


def test_wildcard_cname(server):
    """RFC 4592 4.3: a wildcard CNAME is synthesized with QNAME as owner and
    then followed like any CNAME."""
    r = server.query("foo.wc.example.com.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=["foo.wc.example.com. 3600 IN CNAME www.example.com.",
                               "www.example.com. 3600 IN A 192.0.2.10"])
    r = server.query("deep.er.wc.example.com.", "AAAA")
    assert_auth_answer(r)
    assert_sections(r, answer=["deep.er.wc.example.com. 3600 IN CNAME www.example.com.",
                               "www.example.com. 3600 IN AAAA 2001:db8::10"])


# The RFC 4592 section 2.2.1 table, served as zone "example.".

def test_rfc4592_host3_mx(server):
    """RFC 4592 2.2.1: "QNAME=host3.example. QTYPE=MX" is answered from
    *.example with owner host3.example."""
    r = server.query("host3.example.", "MX")
    assert_auth_answer(r)
    assert_sections(r, answer=["host3.example. 3600 IN MX 10 host1.example."],
                    additional=None)


def test_rfc4592_host3_a(server):
    """RFC 4592 2.2.1: "QNAME=host3.example. QTYPE=A" matches the wildcard,
    which has no A: no error, no data."""
    r = server.query("host3.example.", "A")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_EX])


def test_rfc4592_foo_bar_txt(server):
    """RFC 4592 2.2.1: "QNAME=foo.bar.example. QTYPE=TXT" is synthesized
    from *.example (two labels match)."""
    r = server.query("foo.bar.example.", "TXT")
    assert_auth_answer(r)
    assert_sections(r, answer=['foo.bar.example. 3600 IN TXT "this is a wildcard"'])


def test_rfc4592_host1_mx(server):
    """RFC 4592 2.2.1: "QNAME=host1.example. QTYPE=MX": host1 exists, so no
    synthesis: no data."""
    r = server.query("host1.example.", "MX")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_EX])


def test_rfc4592_sub_star_mx(server):
    """RFC 4592 2.2.1: "QNAME=sub.*.example. QTYPE=MX": sub.*.example exists
    and is not a wildcard: no data."""
    r = server.query("sub.*.example.", "MX")
    assert_auth_answer(r)
    assert_sections(r, answer=[], authority=[SOA_EX])


def test_rfc4592_telnet_srv_under_empty_non_terminal(server):
    """RFC 4592 2.2.1: "QNAME=_telnet._tcp.host1.example. QTYPE=SRV": the
    closest encloser is the empty non-terminal _tcp.host1.example, which
    has no '*' child, so *.example does not apply: NXDOMAIN."""
    r = server.query("_telnet._tcp.host1.example.", "SRV")
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=[], authority=[SOA_EX])


def test_rfc4592_empty_non_terminals_block_wildcard(server):
    """RFC 4592 2.2.2: empty non-terminals (host2.example, _tcp.host2.example)
    exist, so they answer NODATA instead of the *.example TXT."""
    for qname in ("host2.example.", "_tcp.host2.example.", "_tcp.host1.example."):
        r = server.query(qname, "TXT")
        assert_auth_answer(r)
        assert_sections(r, answer=[], authority=[SOA_EX])


def test_rfc4592_subdel_referral(server):
    """RFC 4592 2.2.1: "QNAME=host.subdel.example. QTYPE=A" is a referral to
    subdel (wildcards do not apply below a cut)."""
    r = server.query("host.subdel.example.", "A")
    assert_rcode(r, "NOERROR")
    assert "AA" not in flags(r)
    assert_sections(r, answer=[], authority=["subdel.example. 3600 IN NS ns.example.com.",
                                             "subdel.example. 3600 IN NS ns.example.net."],
                    additional=[])


def test_rfc4592_ghost_star_mx(server):
    """RFC 4592 2.2.1: "QNAME=ghost.*.example. QTYPE=MX": the closest encloser
    is *.example itself and *.*.example does not exist: NXDOMAIN."""
    r = server.query("ghost.*.example.", "MX")
    assert_auth_answer(r, "NXDOMAIN")
    assert_sections(r, answer=[], authority=[SOA_EX])
