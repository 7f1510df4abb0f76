"""Service discovery (issue 6): instances register through the REST API
with a lease, and are answered over DNS as A/AAAA, SRV (with the targets'
addresses in ADDITIONAL), DNS-SD PTR/SRV/TXT and tag names; heartbeats keep
them, an ended lease removes them within a second (audited with actor
"lease"), deregistration removes them, service-scoped tokens reach their
own service only, bad requests change nothing, and registrations survive
kill -9. Everything is checked the way a client sees it: DNS answers, the
API and the audit log of the real server."""
import signal
import threading
import time
from datetime import datetime

import dns.rcode
import dns.rdatatype
import pytest

from util_api import api, assert_error, kill_9_when  # noqa: F401  (api is a fixture)

ZONE = "svc.test."
BASE = "services/svc.test/web/instances"


def inst_path(iid, service="web"):
    return f"services/svc.test/{service}/instances/{iid}"


@pytest.fixture
def srv(api):
    s = api()
    s.create_zone(ZONE, nameservers=["ns1.example.net."])
    return s


def register(srv, iid, addresses, service="web", token="admin", **fields):
    body = {"addresses": addresses, "port": 8080, **fields}
    r = srv.call("PUT", inst_path(iid, service), body, token=token)
    assert r.status == 200, r
    return r.json()


def answer(srv, name, rtype):
    """(rcode, sorted rdata texts, ttl) of the answer RRset of that type."""
    r = srv.query(name, rtype)
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.from_text(rtype):
            return r.rcode(), sorted(rd.to_text() for rd in rrset), rrset.ttl
    return r.rcode(), [], None


def addrs(srv, name, rtype="A"):
    return answer(srv, name, rtype)[1]


def audit(srv, actor):
    r = srv.get(f"audit?zone={ZONE}&actor={actor}")
    assert r.status == 200, r
    return r.json()["entries"]


def expires_at(listing):
    return datetime.fromisoformat(listing["expires"].replace("Z", "+00:00")).timestamp()


def test_register_answers_a_aaaa_srv_with_additional(srv):
    register(srv, "i1", ["192.0.2.10", "2001:DB8::10"], port=8080, weight=10, priority=1,
             tags=["primary", "env=prod"])
    register(srv, "i2", ["192.0.2.11"], port=8081, weight=5, priority=2, tags=["env=prod"])
    # no wait: the 200 means the instance is served
    rcode, got, ttl = answer(srv, "web.svc.test.", "A")
    assert (rcode, got, ttl) == (dns.rcode.NOERROR, ["192.0.2.10", "192.0.2.11"], 5)
    assert addrs(srv, "web.svc.test.", "AAAA") == ["2001:db8::10"]
    assert addrs(srv, "i1.web.svc.test.") == ["192.0.2.10"]
    assert addrs(srv, "i2.web.svc.test.") == ["192.0.2.11"]
    r = srv.query("_web._tcp.svc.test.", "SRV")
    assert r.rcode() == dns.rcode.NOERROR
    srv_rrs = sorted(rd.to_text() for rd in r.answer[0])
    assert srv_rrs == ["1 10 8080 i1.web.svc.test.", "2 5 8081 i2.web.svc.test."]
    extra = {(rr.name.to_text(), rd.to_text()) for rr in r.additional for rd in rr}
    assert ("i1.web.svc.test.", "192.0.2.10") in extra
    assert ("i1.web.svc.test.", "2001:db8::10") in extra
    assert ("i2.web.svc.test.", "192.0.2.11") in extra


def test_dns_sd_browse_and_tags(srv):
    register(srv, "i1", ["192.0.2.10"], tags=["primary", "env=prod"])
    register(srv, "i2", ["192.0.2.11"])
    register(srv, "d1", ["192.0.2.53"], service="dns", protocol="udp", port=53)
    assert answer(srv, "_services._dns-sd._udp.svc.test.", "PTR")[1] == \
        ["_dns._udp.svc.test.", "_web._tcp.svc.test."]
    assert answer(srv, "_web._tcp.svc.test.", "PTR")[1] == \
        ["i1._web._tcp.svc.test.", "i2._web._tcp.svc.test."]
    assert answer(srv, "i1._web._tcp.svc.test.", "SRV")[1] == ["1 1 8080 i1.web.svc.test."]
    assert answer(srv, "i1._web._tcp.svc.test.", "TXT")[1] == ['"primary" "env=prod"']
    # RFC 6763 6.1: an instance without tags still has a TXT, one empty string
    assert answer(srv, "i2._web._tcp.svc.test.", "TXT")[1] == ['""']
    assert answer(srv, "_dns._udp.svc.test.", "SRV")[1] == ["1 1 53 d1.dns.svc.test."]
    # tag filter: only the instances with that (bare) tag
    assert addrs(srv, "primary.web.svc.test.") == ["192.0.2.10"]
    assert answer(srv, "env=prod.web.svc.test.", "A")[0] == dns.rcode.NXDOMAIN


def test_heartbeat_keeps_and_changes_no_zone(srv):
    first = register(srv, "i1", ["192.0.2.10"], ttl_lease=2)
    serial = srv.serial(ZONE)
    last = first
    deadline = time.monotonic() + 4.5   # over twice the lease
    while time.monotonic() < deadline:
        r = srv.call("POST", inst_path("i1") + "/heartbeat", token="admin")
        assert r.status == 200, r
        last = r.json()
        assert addrs(srv, "web.svc.test.") == ["192.0.2.10"]
        time.sleep(0.5)
    assert expires_at(last) > expires_at(first) + 3
    # a heartbeat moves the lease in the registry only: no zone change
    assert srv.serial(ZONE) == serial
    r = srv.call("POST", inst_path("nobody") + "/heartbeat")
    assert_error(r, 404)
    # the registration is logged as a change; renewals are not (debug)
    log = srv.log()
    assert f"PUT /api/v1/{inst_path('i1')} -> 200" in log
    assert "/heartbeat -> 200" not in log


def test_lease_lapse_removes_within_a_second_and_audits(srv):
    register(srv, "keep", ["192.0.2.20"], ttl_lease=60)
    listing = register(srv, "i1", ["192.0.2.10"], ttl_lease=2)
    expiry = expires_at(listing)
    assert addrs(srv, "web.svc.test.") == ["192.0.2.10", "192.0.2.20"]
    gone_at = None
    deadline = time.time() + 2 + 1 + 3   # lease + the 1 s promise + margin: bounded
    while time.time() < deadline:
        if addrs(srv, "web.svc.test.") == ["192.0.2.20"]:
            gone_at = time.time()
            break
        time.sleep(0.05)
    assert gone_at is not None, "the expired instance was never removed"
    assert gone_at >= expiry - 0.05, "removed before its lease ended"
    # within one second of expiry (plus one polling step and clock slack)
    assert gone_at - expiry <= 1.0 + 0.15, f"removed {gone_at - expiry:.2f} s after expiry"
    assert answer(srv, "i1.web.svc.test.", "A")[0] == dns.rcode.NXDOMAIN
    assert answer(srv, "_web._tcp.svc.test.", "SRV")[1] == ["1 1 8080 keep.web.svc.test."]
    rows = audit(srv, "lease")
    assert len(rows) == 1, rows
    removed = {b["name"] for b in rows[0]["before"] if b}
    assert "i1.web.svc.test." in removed
    r = srv.get("services/svc.test/web")
    assert [i["id"] for i in r.json()["services"]["web"]] == ["keep"]
    # a heartbeat cannot revive it
    assert_error(srv.call("POST", inst_path("i1") + "/heartbeat"), 404)


def test_deregister(srv):
    register(srv, "i1", ["192.0.2.10"])
    register(srv, "i2", ["192.0.2.11"])
    r = srv.call("DELETE", inst_path("i1"))
    assert r.status == 204, r
    assert addrs(srv, "web.svc.test.") == ["192.0.2.11"]
    assert answer(srv, "i1._web._tcp.svc.test.", "SRV")[0] == dns.rcode.NXDOMAIN
    assert_error(srv.call("DELETE", inst_path("i1")), 404)
    assert srv.call("DELETE", inst_path("i2")).status == 204
    # the last instance takes the service's names with it
    for name, rtype in [("web.svc.test.", "A"), ("_web._tcp.svc.test.", "SRV"),
                        ("_services._dns-sd._udp.svc.test.", "PTR")]:
        assert answer(srv, name, rtype)[0] == dns.rcode.NXDOMAIN, name
    acts = [e for e in audit(srv, "admin") if e["action"] == "rrsets.patch"]
    assert len(acts) == 4   # two registrations, two deregistrations


def test_listing(srv):
    register(srv, "i1", ["192.0.2.10"], tags=["a"], ttl_lease=30)
    register(srv, "x1", ["192.0.2.30"], service="api")
    r = srv.get("services/svc.test")
    assert r.status == 200, r
    body = r.json()
    assert body["zone"] == ZONE and set(body["services"]) == {"web", "api"}
    i1 = body["services"]["web"][0]
    assert i1["id"] == "i1" and i1["addresses"] == ["192.0.2.10"] and i1["tags"] == ["a"]
    assert i1["protocol"] == "tcp" and i1["port"] == 8080 and i1["ttl_lease"] == 30
    assert 25 < expires_at(i1) - time.time() <= 30.5
    assert i1["health"] == "unchecked"
    r = srv.get("services/svc.test/api")
    assert list(r.json()["services"]) == ["api"]


def test_scoped_token(srv):
    agent = srv.make_token("web-agent", "service:svc.test/web:write")
    register(srv, "i1", ["192.0.2.10"], token=agent)
    r = srv.call("POST", inst_path("i1") + "/heartbeat", token=agent)
    assert r.status == 200, r
    assert srv.get("services/svc.test/web", token=agent).status == 200
    # another service, the zone's listing, a plain RRset change: refused
    body = {"addresses": ["192.0.2.99"], "port": 1}
    assert_error(srv.call("PUT", inst_path("x", "api"), body, token=agent), 403)
    assert_error(srv.call("DELETE", inst_path("x", "api"), token=agent), 403)
    assert_error(srv.get("services/svc.test", token=agent), 403)
    assert_error(srv.patch(ZONE, [], token=agent), 403)
    assert addrs(srv, "api.svc.test.") == []
    # a zone write token and admin may change any service
    zw = srv.make_token("zone-writer", "zone:svc.test:write")
    register(srv, "x", ["192.0.2.99"], service="api", token=zw)
    assert srv.call("DELETE", inst_path("i1"), token=agent).status == 204
    # a bad service scope is refused when the token is made
    res = srv.cli("token", "create", "--name", "bad", "-c", srv.conf_path,
                  "--scope", "service:svc.test/web:read")
    assert res.returncode != 0 and "service:ZONE/NAME:write" in res.stderr


@pytest.mark.parametrize("path,body,status,field", [
    (inst_path("i1"), {"addresses": ["192.0.2.300"], "port": 80}, 400, "addresses[0]"),
    (inst_path("i1"), {"addresses": [], "port": 80}, 400, "addresses"),
    (inst_path("i1"), {"addresses": ["192.0.2.1"]}, 400, "port"),
    (inst_path("i1"), {"addresses": ["192.0.2.1"], "port": 70000}, 400, "port"),
    (inst_path("i1"), {"addresses": ["192.0.2.1"], "port": 80, "protocol": "sctp"}, 400,
     "protocol"),
    (inst_path("i1"), {"addresses": ["192.0.2.1"], "port": 80, "ttl_lease": 0}, 400,
     "ttl_lease"),
    (inst_path("i1"), {"addresses": ["192.0.2.1"], "port": 80, "tags": ["a b"]}, 400,
     "tags[0]"),
    (inst_path("i1"), {"addresses": ["192.0.2.1"], "port": 80, "colour": "red"}, 400,
     "colour"),
    (inst_path("-bad"), {"addresses": ["192.0.2.1"], "port": 80}, 400, "id"),
    (inst_path("i1", "we_b"), {"addresses": ["192.0.2.1"], "port": 80}, 400, "service"),
    ("services/nothere.test/web/instances/i1", {"addresses": ["192.0.2.1"], "port": 80},
     404, "zone"),
    ("services/file.test/web/instances/i1", {"addresses": ["192.0.2.1"], "port": 80},
     409, "zone"),
])
def test_bad_requests_change_nothing(srv, path, body, status, field):
    register(srv, "i0", ["192.0.2.5"])
    serial = srv.serial(ZONE)
    before = srv.get("services/svc.test").json()
    assert_error(srv.call("PUT", path, body), status, field)
    assert srv.serial(ZONE) == serial
    assert srv.get("services/svc.test").json()["services"]["web"][0]["addresses"] == \
        before["services"]["web"][0]["addresses"]
    assert len(before["services"]["web"]) == len(srv.get("services/svc.test").json()
                                                 ["services"]["web"])
    assert addrs(srv, "web.svc.test.") == ["192.0.2.5"]


def test_conflict_with_zone_data_changes_nothing(srv):
    """A CNAME at the service name: the registration is refused (422) and
    its row is rolled back, so neither the registry nor the zone moves."""
    r = srv.patch(ZONE, [{"name": "web", "type": "CNAME", "ttl": 60, "changetype": "REPLACE",
                          "records": ["elsewhere.example."]}])
    assert r.status == 204, r
    serial = srv.serial(ZONE)
    r = srv.call("PUT", inst_path("i1"), {"addresses": ["192.0.2.1"], "port": 80})
    assert r.status == 422, r
    assert srv.serial(ZONE) == serial
    assert srv.get("services/svc.test").json()["services"] == {}


def test_registrations_survive_kill_9(srv):
    register(srv, "i1", ["192.0.2.10"], ttl_lease=300)
    register(srv, "i2", ["2001:db8::2"], ttl_lease=300, tags=["canary"])
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=10)
    srv.stderr.close()
    srv.start()
    assert addrs(srv, "web.svc.test.") == ["192.0.2.10"]
    assert addrs(srv, "canary.web.svc.test.", "AAAA") == ["2001:db8::2"]
    ids = [i["id"] for i in srv.get("services/svc.test/web").json()["services"]["web"]]
    assert ids == ["i1", "i2"]
    # the start found the records right: nothing restored, nothing audited
    assert audit(srv, "registry") == []
    assert srv.call("POST", inst_path("i2") + "/heartbeat").status == 200


def test_concurrent_registrations_survive_kill_9(srv):
    """Four clients register at once (their changes share syncs: group
    commit), the server is killed mid-way; after a restart every
    registration that got its 200 is listed and answered, and every listed
    instance is answered (row and records commit together). kill -9 keeps
    the page cache, so this checks that nothing is acknowledged before it is
    stored, not the fdatasync itself (docs/architecture.md)."""
    acked = {}
    stop = threading.Event()

    def client(w):
        service = "web" if w % 2 == 0 else "api"
        for i in range(500):  # bounded; the kill ends it much sooner
            iid = f"c{w}-{i}"
            if stop.is_set():
                return
            try:
                r = srv.call("PUT", inst_path(iid, service),
                             {"addresses": [f"192.0.2.{w * 50 + i % 50 + 1}"], "port": 80,
                              "ttl_lease": 300})
            except OSError:
                return  # the server is gone
            if r.status == 200:
                acked[(service, iid)] = r.json()["addresses"][0]

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    kill_9_when(srv, acked, 60, threads, stop)
    assert len(acked) >= 60, f"only {len(acked)} registrations acknowledged before the kill"

    srv.stderr.close()
    srv.start()
    listed = {(service, i["id"]): i["addresses"][0]
              for service, insts in srv.get("services/svc.test").json()["services"].items()
              for i in insts}
    lost = sorted(k for k in acked if k not in listed)
    assert not lost, f"acknowledged registrations lost: {lost[:10]}"
    for (service, iid), addr in listed.items():
        assert addrs(srv, f"{iid}.{service}.{ZONE}") == [addr], (service, iid)
    # the start found the records right: nothing restored
    assert audit(srv, "registry") == []
