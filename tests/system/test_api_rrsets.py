"""REST API RRsets (issue 3): PATCH REPLACE/DELETE applied atomically and
visible over UDP as soon as the 204 arrives; every request validated before
anything is written (rdata, names, TTL range of RFC 2181 section 8, JSON
shape, body size, content type), with the offending field named."""
import socket

import dns.rcode
import pytest

from util_api import api, assert_error, delete, replace  # noqa: F401 (fixture)


@pytest.fixture
def srv(api):
    s = api()
    s.create_zone("patch.test.", nameservers=["ns1.patch.test."])
    assert s.patch("patch.test", [replace("ns1", "A", 300, "192.0.2.53"),
                                  replace("www", "A", 300, "192.0.2.1")]).status == 204
    return s


def addresses(srv, name, rtype="A"):
    resp = srv.query(name, rtype)
    if not resp.answer:
        return resp.rcode(), []
    return resp.rcode(), sorted(r.to_text() for r in resp.answer[0])


def test_replace_visible_over_udp_at_once(srv):
    for i in range(20):
        addr = f"192.0.2.{100 + i}"
        assert srv.patch("patch.test", [replace("www", "A", 60, addr)]).status == 204
        # no sleep: the 204 means the change is served
        assert addresses(srv, "www.patch.test.") == (dns.rcode.NOERROR, [addr])


def test_replace_sets_exactly_and_bumps_serial_once(srv):
    before = srv.serial("patch.test")
    r = srv.patch("patch.test", [
        replace("www.patch.test.", "A", 120, "192.0.2.7", "192.0.2.8"),
        replace("www", "TXT", 120, '"hello"'),
        replace("new", "AAAA", 120, "2001:db8::5"),
    ])
    assert r.status == 204, r
    assert r.body == b""
    assert srv.serial("patch.test") == before + 1
    assert addresses(srv, "www.patch.test.") == (dns.rcode.NOERROR, ["192.0.2.7", "192.0.2.8"])
    resp = srv.query("www.patch.test.", "A")
    assert resp.answer[0].ttl == 120
    assert addresses(srv, "new.patch.test.", "AAAA") == (dns.rcode.NOERROR, ["2001:db8::5"])
    assert srv.query("patch.test.", "SOA").answer[0][0].serial == before + 1
    rrsets = srv.get("zones/patch.test/rrsets?name=www&type=A").json()["rrsets"]
    assert rrsets == [{"name": "www.patch.test.", "type": "A", "ttl": 120,
                       "records": ["192.0.2.7", "192.0.2.8"]}]


def test_delete(srv):
    assert srv.patch("patch.test", [replace("gone", "TXT", 60, '"x"')]).status == 204
    assert srv.patch("patch.test", [delete("gone", "TXT")]).status == 204
    resp = srv.query("gone.patch.test.", "TXT")
    assert resp.rcode() == dns.rcode.NXDOMAIN
    assert srv.get("zones/patch.test/rrsets?name=gone").json()["rrsets"] == []


def test_bad_record_changes_nothing(srv):
    """One bad record in a multi-change PATCH: 400 naming it, and neither
    the store nor the answers change."""
    serial = srv.serial("patch.test")
    rrsets = srv.get("zones/patch.test/rrsets").json()
    r = srv.patch("patch.test", [
        replace("www", "A", 60, "192.0.2.200"),
        delete("ns1", "A"),
        replace("other", "A", 60, "192.0.2.201", "192.0.2.999"),
    ])
    assert_error(r, 400, "rrsets[2].records[1]")
    assert srv.serial("patch.test") == serial
    assert srv.get("zones/patch.test/rrsets").json() == rrsets
    assert addresses(srv, "www.patch.test.") == (dns.rcode.NOERROR, ["192.0.2.1"])
    assert addresses(srv, "ns1.patch.test.") == (dns.rcode.NOERROR, ["192.0.2.53"])
    assert srv.query("other.patch.test.", "A").rcode() == dns.rcode.NXDOMAIN
    assert srv.query("patch.test.", "SOA").answer[0][0].serial == serial


@pytest.mark.parametrize("change,field", [
    (replace("www", "A", 60, "not-an-address"), "rrsets[1].records[0]"),
    (replace("www.elsewhere.test.", "A", 60, "192.0.2.1"), ("rrsets[1]", "rrsets[1].name")),
    (replace("www", "NOSUCHTYPE", 60, "x"), "rrsets[1].type"),
    (replace("www", "A", -1, "192.0.2.1"), "rrsets[1].ttl"),
    (replace("www", "A", 2147483648, "192.0.2.1"), "rrsets[1].ttl"),
    (replace("www", "A", "60", "192.0.2.1"), "rrsets[1].ttl"),
    (replace("www", "A", 60.5, "192.0.2.1"), "rrsets[1].ttl"),
    ({"name": "www", "type": "A", "changetype": "REPLACE", "records": ["192.0.2.1"]},
     "rrsets[1].ttl"),
    (replace("www", "A", 60), "rrsets[1].records"),
    (replace("www", "A", 60, 17), "rrsets[1].records[0]"),
    ({"name": "www", "type": "A", "ttl": 60, "changetype": "UPSERT", "records": []},
     "rrsets[1].changetype"),
    ({"name": "www", "type": "A", "ttl": 60, "changetype": "REPLACE",
      "records": ["192.0.2.1"], "comments": []}, "rrsets[1].comments"),
    ({"type": "A", "changetype": "DELETE"}, "rrsets[1].name"),
    ({"name": "www", "changetype": "DELETE"}, "rrsets[1].type"),
    ({"name": "www", "type": "A", "changetype": "DELETE", "records": ["192.0.2.1"]},
     "rrsets[1].records"),
    ("www A 192.0.2.1", "rrsets[1]"),
])
def test_validation(srv, change, field):
    serial = srv.serial("patch.test")
    r = srv.patch("patch.test", [replace("fine", "A", 60, "192.0.2.2"), change])
    body = assert_error(r, 400)
    assert body["field"] in (field if isinstance(field, tuple) else (field,)), body
    assert srv.serial("patch.test") == serial
    assert srv.query("fine.patch.test.", "A").rcode() == dns.rcode.NXDOMAIN


def test_ttl_range_ends_accepted(srv):
    assert srv.patch("patch.test", [replace("t0", "A", 0, "192.0.2.1"),
                                    replace("tmax", "A", 2147483647, "192.0.2.1")]).status == 204
    ttls = {r["name"]: r["ttl"] for r in srv.get("zones/patch.test/rrsets?type=A").json()["rrsets"]}
    assert ttls["t0.patch.test."] == 0 and ttls["tmax.patch.test."] == 2147483647


def test_cname_exclusive(srv):
    r = srv.patch("patch.test", [replace("www", "CNAME", 60, "ns1")])
    assert r.status in (400, 422), r
    assert_error(r, r.status)
    assert addresses(srv, "www.patch.test.") == (dns.rcode.NOERROR, ["192.0.2.1"])


@pytest.mark.parametrize("body", [
    b'{"rrsets": [',
    b"not json",
    b'{"rrsets": [], "rrsets": []}',
    b'{"rrsets": "x"}',
    b'{"rrsets": []}',
    b"[]",
    b"",
    b'{"rrsets": [{"name": "a\\u0000b", "type": "A"}]}',
])
def test_malformed_body_400(srv, body):
    serial = srv.serial("patch.test")
    r = srv.call("PATCH", "zones/patch.test/rrsets", body)
    assert_error(r, 400)
    assert srv.serial("patch.test") == serial


def test_wrong_content_type_415(srv):
    body = {"rrsets": [replace("www", "A", 60, "192.0.2.9")]}
    for ctype in ["text/plain", "application/x-www-form-urlencoded", None,
                  "application/jsonx"]:
        r = srv.call("PATCH", "zones/patch.test/rrsets", body, content_type=ctype)
        assert_error(r, 415)
    r = srv.call("PATCH", "zones/patch.test/rrsets", body,
                 content_type="application/json; charset=utf-8")
    assert r.status == 204, r


def test_body_limit_413(api):
    srv = api(api_conf={"max-body": 4096})
    srv.create_zone("big.test.")
    serial = srv.serial("big.test")
    records = [f'"{i:04d}{"x" * 40}"' for i in range(100)]
    r = srv.patch("big.test", [replace("txt", "TXT", 60, *records)])
    assert_error(r, 413)
    assert srv.serial("big.test") == serial
    # just under the limit passes
    r = srv.patch("big.test", [replace("txt", "TXT", 60, *records[:40])])
    assert r.status == 204, r


@pytest.mark.parametrize("expect", [True, False])
def test_body_limit_413_before_body(api, expect):
    """A client that waits for 100 Continue, or announces a body far beyond
    the limit, gets the 413 at once, before sending its body."""
    srv = api(api_conf={"max-body": 4096})
    with socket.create_connection(("127.0.0.1", srv.api_port), timeout=5) as s:
        s.sendall(("PATCH /api/v1/zones/file.test/rrsets HTTP/1.1\r\n"
                   "Host: 127.0.0.1\r\n"
                   f"Authorization: Bearer {srv.admin}\r\n"
                   "Content-Type: application/json\r\n"
                   "Content-Length: 10000000\r\n" +
                   ("Expect: 100-continue\r\n" if expect else "") + "\r\n").encode())
        head = s.recv(65536).decode()
    assert head.startswith("HTTP/1.1 413"), head


def test_rrsets_filters(srv):
    assert srv.patch("patch.test", [replace("www", "AAAA", 60, "2001:db8::1")]).status == 204
    all_sets = srv.get("zones/patch.test/rrsets").json()["rrsets"]
    assert {(r["name"], r["type"]) for r in all_sets} >= {
        ("patch.test.", "SOA"), ("patch.test.", "NS"), ("www.patch.test.", "A"),
        ("www.patch.test.", "AAAA"), ("ns1.patch.test.", "A")}
    www = srv.get("zones/patch.test/rrsets?name=www.patch.test.").json()["rrsets"]
    assert {r["type"] for r in www} == {"A", "AAAA"}
    a = srv.get("zones/patch.test/rrsets?type=A").json()["rrsets"]
    assert {r["name"] for r in a} == {"www.patch.test.", "ns1.patch.test."}
    assert_error(srv.get("zones/patch.test/rrsets?type=BOGUS"), 400)
    assert_error(srv.get("zones/patch.test/rrsets?owner=www"), 400, "owner")
    assert_error(srv.get("zones/missing.test/rrsets"), 404)
