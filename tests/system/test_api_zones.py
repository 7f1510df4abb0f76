"""REST API zones (issue 3): create with SOA and NS defaults, list, get,
delete, export as a master file that `cirrus zone check`, Knot's
`kzonecheck` and BIND's `named-checkzone` accept; store
zones and file zones served side by side, and every change visible over
DNS as soon as the API answers."""
import subprocess

import dns.rcode

from util_api import api, assert_error, replace  # noqa: F401 (fixture)
from util_dns import run_cirrus


def test_create_list_get_delete(api):
    srv = api()
    r = srv.call("POST", "zones", {"name": "Example.TEST", "nameservers":
                                   ["ns1.example.net.", "ns2.example.net."],
                                   "hostmaster": "dns.example.net.", "ttl": 600})
    assert r.status == 201, r
    assert r.header("location") == "/api/v1/zones/example.test."
    zone = r.json()
    assert zone == {"name": "example.test.", "serial": zone["serial"], "records": 3,
                    "source": "store"}
    # served at once
    resp = srv.query("example.test.", "SOA")
    assert resp.rcode() == dns.rcode.NOERROR
    soa = resp.answer[0]
    assert soa.ttl == 600
    assert str(soa[0].mname) == "ns1.example.net." and str(soa[0].rname) == "dns.example.net."
    assert soa[0].serial == zone["serial"]
    ns = srv.query("example.test.", "NS").answer[0]
    assert sorted(str(r.target) for r in ns) == ["ns1.example.net.", "ns2.example.net."]

    listing = srv.get("zones").json()["zones"]
    assert {z["name"]: z["source"] for z in listing} == {"example.test.": "store",
                                                          "file.test.": "file"}
    assert srv.get("zones/example.test").json() == zone
    assert srv.get("zones/file.test.").json()["serial"] == 7

    assert srv.call("DELETE", "zones/example.test").status == 204
    assert_error(srv.get("zones/example.test"), 404)
    assert_error(srv.call("DELETE", "zones/example.test"), 404)
    assert srv.query("example.test.", "SOA").rcode() == dns.rcode.REFUSED
    # the file zone is untouched
    assert srv.query("www.file.test.", "A").answer[0][0].address == "192.0.2.80"


def test_create_defaults(api):
    srv = api()
    zone = srv.create_zone("defaults.test.")
    rrsets = srv.get("zones/defaults.test/rrsets").json()["rrsets"]
    by_type = {r["type"]: r for r in rrsets}
    assert set(by_type) == {"SOA", "NS"}
    assert by_type["NS"]["records"] == ["ns1.defaults.test."]
    assert by_type["SOA"]["ttl"] == 3600
    assert by_type["SOA"]["records"][0].startswith("ns1.defaults.test. hostmaster.defaults.test. ")
    assert zone["records"] == 2


def test_create_rejects(api):
    srv = api()
    srv.create_zone("taken.test.")
    assert_error(srv.call("POST", "zones", {"name": "taken.test"}), 409, "name")
    assert_error(srv.call("POST", "zones", {"name": "file.test."}), 409, "name")
    assert_error(srv.call("POST", "zones", {}), 400, "name")
    assert_error(srv.call("POST", "zones", {"name": 5}), 400, "name")
    assert_error(srv.call("POST", "zones", {"name": "a..b"}), 400, "name")
    assert_error(srv.call("POST", "zones", {"name": "x.test", "nameservers": []}), 400,
                 "nameservers")
    assert_error(srv.call("POST", "zones", {"name": "x.test", "nameservers": ["ns1.x.", 3]}),
                 400, "nameservers[1]")
    assert_error(srv.call("POST", "zones", {"name": "x.test", "ttl": 0}), 400, "ttl")
    assert_error(srv.call("POST", "zones", {"name": "x.test", "ttl": 2147483648}), 400, "ttl")
    assert_error(srv.call("POST", "zones", {"name": "x.test", "ttl": "300"}), 400, "ttl")
    assert_error(srv.call("POST", "zones", {"name": "x.test", "kind": "native"}), 400, "kind")
    assert_error(srv.call("POST", "zones", {"name": "x.test", "hostmaster": ["a"]}), 400,
                 "hostmaster")
    assert_error(srv.call("POST", "zones", ["x.test"]), 400)
    names = [z["name"] for z in srv.get("zones").json()["zones"]]
    assert sorted(names) == ["file.test.", "taken.test."]


def test_file_zone_is_read_only(api):
    srv = api()
    assert_error(srv.patch("file.test", [replace("www", "A", 60, "192.0.2.99")]), 409)
    assert_error(srv.call("DELETE", "zones/file.test"), 404)
    assert srv.query("www.file.test.", "A").answer[0][0].address == "192.0.2.80"


def test_export_passes_zone_check(api, tmp_path):
    srv = api()
    srv.create_zone("export.test.", nameservers=["ns1.export.test."])
    r = srv.patch("export.test", [
        replace("ns1", "A", 300, "192.0.2.53"),
        replace("www", "A", 60, "192.0.2.1", "192.0.2.2"),
        replace("www", "AAAA", 60, "2001:db8::1"),
        replace("@", "MX", 300, "10 mail.export.test."),
        replace("mail", "A", 300, "192.0.2.25"),
        replace("txt", "TXT", 300, '"hello world" "two strings"', '"v=spf1 -all"'),
        replace("alias", "CNAME", 300, "www"),
        replace("_sip._tcp", "SRV", 300, "0 5 5060 sip.example.net."),
        replace("sub", "NS", 300, "ns.sub.export.test."),
        replace("ns.sub", "A", 300, "192.0.2.54"),
        replace("odd", "TYPE65534", 300, r"\# 3 abcdef"),
        replace("caa", "CAA", 300, '0 issue "letsencrypt.org"'),
    ])
    assert r.status == 204, r
    exp = srv.get("zones/export.test/export")
    assert exp.status == 200
    assert exp.header("content-type") == "text/dns"
    text = exp.body.decode()
    assert text.lstrip().split()[0] in ("export.test.", "$ORIGIN", "$TTL")
    path = tmp_path / "export.test.zone"
    path.write_text(text)
    res = run_cirrus("zone", "check", path, "--origin", "export.test.")
    assert res.returncode == 0, res.stderr + text
    records = srv.get("zones/export.test").json()["records"]
    assert f"{records} records" in res.stdout
    # the other servers' own checkers (scripts/deps.sh test installs both)
    for argv in (["kzonecheck", "-o", "export.test.", str(path)],
                 ["named-checkzone", "-k", "fail", "-n", "fail", "-i", "local",
                  "export.test.", str(path)]):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"{argv[0]} rejects the export:\n{p.stdout}{p.stderr}\n{text}"
    # and the export imports back into another store as the same zone
    db = tmp_path / "copy.db"
    res = run_cirrus("zone", "import", path, "--origin", "export.test.", "--db", db)
    assert res.returncode == 0, res.stderr
    again = run_cirrus("zone", "export", "export.test.", "--db", db)
    assert again.returncode == 0, again.stderr
    assert sorted(again.stdout.splitlines()) == sorted(text.splitlines())
    # and a file zone exports too
    assert srv.get("zones/file.test/export").status == 200
    assert_error(srv.get("zones/missing.test/export"), 404)


def test_zone_names_in_path(api):
    srv = api()
    srv.create_zone("case.test.")
    for path in ["zones/case.test", "zones/CASE.test.", "zones/case.test."]:
        assert srv.get(path).json()["name"] == "case.test."
    assert_error(srv.get("zones/a..b"), 400, "zone")
    assert_error(srv.get("zones/"), 404)
    assert_error(srv.get("zones/case.test/nothing"), 404)
    r = srv.call("PUT", "zones/case.test", {})
    assert_error(r, 405)
    assert set(r.header("allow").split(", ")) == {"GET", "DELETE"}


def test_store_zone_survives_restart(api):
    srv = api()
    srv.create_zone("durable.test.")
    assert srv.patch("durable.test", [replace("www", "A", 60, "192.0.2.77")]).status == 204
    serial = srv.serial("durable.test")
    assert srv.stop() == 0
    srv.start()
    assert srv.serial("durable.test") == serial
    assert srv.query("www.durable.test.", "A").answer[0][0].address == "192.0.2.77"
