"""Zone (re)loading: SIGHUP swaps in new zone data or, for a broken file,
keeps the old data and logs FILE:LINE; `cirrus zone check` and `cirrus
serve` report bad zones as FILE:LINE: reason (RFC 1035 section 5 master
files) and fail."""
import re
import time

import dns.message
import pytest

import conftest
from conftest import wait_for
from util_dns import (assert_auth_answer, assert_sections, run_cirrus, udp_raw, write_conf)


def zone_text(serial, www, extra="", bad_line=None):
    """A zone whose line 7 is `www`; bad_line replaces line 6 if given."""
    lines = [
        "$ORIGIN example.com.",                                                         # 1
        "$TTL 3600",                                                                     # 2
        f"@     IN SOA ns1.example.com. hostmaster.example.com. {serial} 7200 3600 1209600 300",  # 3
        "@        NS    ns1",                                                            # 4
        "ns1      A     192.0.2.1",                                                      # 5
        "mail     A     192.0.2.25",                                                     # 6
        f"www      A     {www}",                                                         # 7
    ]
    if bad_line is not None:
        lines[5] = bad_line
    return "\n".join(lines) + "\n" + extra


GOOD = zone_text(1, "192.0.2.10", "old      TXT   \"going away\"\n")

# Each broken variant puts its error on line 6.
SYNTAX_ERRORS = {
    "bad_ipv4": "mail     A     192.0.2.256",
    "unknown_type": "mail     NOSUCHTYPE  1.2.3.4",
    "bad_ttl": "mail  12x34y  A  192.0.2.25",
    "missing_rdata": "mail     MX",
}


def www_address(srv):
    r = srv.query("www.example.com.", "A", timeout=1.0)
    return r.answer[0][0].address if r.answer else None


# -- SIGHUP ------------------------------------------------------------------

def test_sighup_serves_new_zone_data(cirrus):
    """RFC 1996 section 1 / RFC 1035 5: after the master file changes and
    SIGHUP, every worker serves the new data (new serial, added and removed
    names) and nothing of the old."""
    srv = cirrus({"example.com.": GOOD}, workers=2)
    assert www_address(srv) == "192.0.2.10"
    srv.zone_path("example.com.").write_text(
        zone_text(2, "192.0.2.11", "new      AAAA  2001:db8::11\n"))
    srv.reload()
    assert wait_for(lambda: www_address(srv) == "192.0.2.11"), srv.log()
    for _ in range(10):                     # fresh source ports hit both workers
        raw = udp_raw(srv.port, dns.message.make_query("www.example.com.", "A").to_wire())
        assert raw is not None
        assert dns.message.from_wire(raw).answer[0][0].address == "192.0.2.11"
    r = srv.query("example.com.", "SOA")
    assert r.answer[0][0].serial == 2
    r = srv.query("new.example.com.", "AAAA")
    assert_auth_answer(r)
    assert_sections(r, answer=["new.example.com. 3600 IN AAAA 2001:db8::11"])
    r = srv.query("old.example.com.", "TXT")
    assert_auth_answer(r, "NXDOMAIN")
    r = srv.query("www.example.com.", "A", tcp=True)
    assert_sections(r, answer=["www.example.com. 3600 IN A 192.0.2.11"])


def test_sighup_with_broken_zone_keeps_old_data(cirrus):
    """RFC 1035 5 (master files): a reload that fails to parse keeps serving
    the previous zone and logs the problem as FILE:LINE:; fixing the file and
    reloading again brings the new data."""
    srv = cirrus({"example.com.": GOOD})
    path = srv.zone_path("example.com.")
    path.write_text(zone_text(2, "192.0.2.12", bad_line=SYNTAX_ERRORS["bad_ipv4"]))
    srv.reload()
    pattern = re.compile(re.escape(path.name) + r":6: ")
    assert wait_for(lambda: pattern.search(srv.log())), "no FILE:LINE diagnostic:\n" + srv.log()
    assert srv.proc.poll() is None, "server exited on a bad reload"
    assert www_address(srv) == "192.0.2.10"
    r = srv.query("old.example.com.", "TXT")
    assert_sections(r, answer=['old.example.com. 3600 IN TXT "going away"'])

    path.write_text(zone_text(3, "192.0.2.13"))
    srv.reload()
    assert wait_for(lambda: www_address(srv) == "192.0.2.13"), srv.log()
    assert srv.query("example.com.", "SOA").answer[0][0].serial == 3


def test_repeated_sighup_is_harmless(cirrus):
    """RFC 1035 5: reloading an unchanged zone several times in a row keeps
    serving the same data without interruption."""
    srv = cirrus({"example.com.": GOOD})
    for _ in range(5):
        srv.reload()
        time.sleep(0.05)
        assert www_address(srv) == "192.0.2.10"
    time.sleep(0.2)
    assert www_address(srv) == "192.0.2.10"


# -- cirrus zone check ---------------------------------------------------------

def test_zone_check_good(tmp_path):
    """RFC 1035 5: a valid master file checks clean: exit status 0."""
    path = tmp_path / "example.com.zone"
    path.write_text(GOOD)
    res = run_cirrus("zone", "check", path, "--origin", "example.com.")
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("case", sorted(SYNTAX_ERRORS))
def test_zone_check_syntax_error_reports_file_line(tmp_path, case):
    """RFC 1035 5.1 (master file format): a bad record fails the check (exit
    status non-zero) with a `file:line: reason` diagnostic naming line 6."""
    path = tmp_path / "example.com.zone"
    path.write_text(zone_text(1, "192.0.2.10", bad_line=SYNTAX_ERRORS[case]))
    res = run_cirrus("zone", "check", path, "--origin", "example.com.")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert re.search(re.escape(str(path)) + r":6: \S", out), out


def test_zone_check_error_in_included_file(tmp_path):
    """RFC 1035 5.1 ($INCLUDE): an error inside an included file is reported
    with the included file's name and its own line number."""
    inc = tmp_path / "hosts.inc"
    inc.write_text("a   A   192.0.2.1\nb   A   not-an-address\n")
    path = tmp_path / "example.com.zone"
    path.write_text(GOOD + f"$INCLUDE {inc}\n")
    res = run_cirrus("zone", "check", path, "--origin", "example.com.")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert re.search(re.escape(inc.name) + r":2: \S", out), out


SEMANTIC_ERRORS = {
    # RFC 1035 5.2: exactly one SOA at the top of the zone
    "no_soa": "$ORIGIN example.com.\n$TTL 3600\n@ NS ns1\nns1 A 192.0.2.1\n",
    # RFC 1034 3.6.2 / RFC 2181 10.1: a CNAME node holds no other data
    "cname_and_other_data": GOOD + "www  CNAME  mail\n",
    # RFC 1034 3.6.2 / RFC 2181 10.1: at most one CNAME RR at a name
    "two_cnames": GOOD + "alias  CNAME  www\nalias  CNAME  mail\n",
    # RFC 1035 5.2 / RFC 2181 6.1: exactly one SOA, at the top of the zone
    "two_soa": GOOD + "@  SOA ns2.example.com. h.example.com. 9 7200 3600 1209600 300\n",
    # RFC 1034 4.2.1: the zone's NS RRs are at its top node
    "no_apex_ns": ("$ORIGIN example.com.\n$TTL 3600\n"
                   "@ SOA ns1.example.com. h.example.com. 1 7200 3600 1209600 300\n"
                   "ns1 A 192.0.2.1\n"),
}


@pytest.mark.parametrize("case", sorted(SEMANTIC_ERRORS))
def test_zone_check_semantic_errors(tmp_path, case):
    """RFC 1035 5.2 / RFC 1034 4.2.1 / RFC 2181 10.1: a zone without SOA or
    apex NS, with two SOAs, or with a CNAME beside other data or a second
    CNAME, is not a valid zone: the check fails."""
    path = tmp_path / "example.com.zone"
    path.write_text(SEMANTIC_ERRORS[case])
    res = run_cirrus("zone", "check", path, "--origin", "example.com.")
    assert res.returncode != 0, res.stdout + res.stderr
    assert "AddressSanitizer" not in res.stderr


def test_zone_check_missing_file(tmp_path):
    """RFC 1035 5: a master file that cannot be read fails the check with a
    message naming it (no crash)."""
    path = tmp_path / "absent.zone"
    res = run_cirrus("zone", "check", path, "--origin", "example.com.")
    assert res.returncode > 0, res
    assert str(path) in res.stderr


# -- cirrus serve with a broken zone ---------------------------------------------

def test_serve_with_broken_zone_fails_with_file_line(tmp_path):
    """RFC 1035 5: at start-up a zone that does not load makes `cirrus serve`
    exit non-zero, naming FILE:LINE on stderr."""
    path = tmp_path / "example.com.zone"
    path.write_text(zone_text(1, "192.0.2.10", bad_line=SYNTAX_ERRORS["unknown_type"]))
    conf = tmp_path / "cirrus.yaml"
    write_conf(conf, conftest.free_port(), {"example.com.": path})
    res = run_cirrus("serve", "-c", conf, timeout=15, cwd=tmp_path)
    assert res.returncode != 0, res.stderr
    assert re.search(re.escape(path.name) + r":6: \S", res.stderr), res.stderr
    assert "AddressSanitizer" not in res.stderr
