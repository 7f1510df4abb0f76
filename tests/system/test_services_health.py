"""Instance health checks (issue 6): a registration may carry a check (the
kinds and keys of cirrus.yaml's `checks:`), run by the server's checker
thread like a configured one. Against a real HTTP backend on loopback that
the test stops and starts: the instance leaves the A, SRV and DNS-SD PTR
answers within interval x fall + 1 s of the backend going away (asserted
with the same 1.5 s margin as the policy tests) and comes back after rise
successes; it stays registered (GET lists it with its health) until its
lease ends; the changes are audited with actor "health"; its key is in
GET /api/v1/health and goes with the instance. Bad checks are refused."""
import time

import dns.rdatatype
import pytest

from test_health import Backend, wait_for
from util_api import api, assert_error  # noqa: F401  (api is a fixture)

ZONE = "svc.test."


@pytest.fixture
def srv(api):
    s = api()
    s.create_zone(ZONE, nameservers=["ns1.example.net."])
    return s


def path(iid, service="web"):
    return f"services/svc.test/{service}/instances/{iid}"


def register(srv, iid, addresses, port, **fields):
    r = srv.call("PUT", path(iid), {"addresses": addresses, "port": port, **fields})
    assert r.status == 200, r
    return r.json()


def rdata(srv, name, rtype):
    r = srv.query(name, rtype)
    return sorted(rd.to_text() for rrset in r.answer
                  if rrset.rdtype == dns.rdatatype.from_text(rtype) for rd in rrset)


def listed(srv, iid):
    for inst in srv.get("services/svc.test/web").json()["services"].get("web", []):
        if inst["id"] == iid:
            return inst
    return None


def health_keys(srv):
    r = srv.get("health")
    assert r.status == 200, r
    return {k["key"]: k for k in r.json()["checks"]}


CHECK = {"type": "http", "path": "/health", "interval": "1s", "timeout": "500ms",
         "fall": 2, "rise": 2}


def serving(srv):
    """Which of i1 (127.0.0.1, checked) and i2 (192.0.2.11) the A, SRV and
    PTR answers hold, as one tuple per type."""
    a = tuple(rdata(srv, "web.svc.test.", "A"))
    srv_rr = tuple(r.split()[-1].split(".")[0] for r in rdata(srv, "_web._tcp.svc.test.", "SRV"))
    ptr = tuple(r.split(".")[0] for r in rdata(srv, "_web._tcp.svc.test.", "PTR"))
    return a, srv_rr, ptr


BOTH = (("127.0.0.1", "192.0.2.11"), ("i1", "i2"), ("i1", "i2"))
ONLY_I2 = (("192.0.2.11",), ("i2",), ("i2",))


def test_unhealthy_instance_leaves_answers_and_returns(srv):
    backend = Backend().start()
    try:
        first = register(srv, "i1", ["127.0.0.1"], backend.port, check=CHECK, ttl_lease=300)
        assert first["check"]["path"] == "/health" and first["health"] == "unknown"
        register(srv, "i2", ["192.0.2.11"], 8080, ttl_lease=300)
        assert serving(srv) == BOTH   # unknown counts as up, as for policies
        wait_for(lambda: listed(srv, "i1")["health"] == "up", 5)
        assert listed(srv, "i2")["health"] == "unchecked"
        key = health_keys(srv)["svc@i1.web.svc.test"]
        assert key["type"] == "http" and key["state"] == "up"
        serial = srv.serial(ZONE)

        backend.stop()
        took = wait_for(lambda: serving(srv) == ONLY_I2, 3 + 1.5)
        print(f"left the answers {took:.2f} s after the backend stopped")
        assert took <= 4.5
        assert rdata(srv, "i1._web._tcp.svc.test.", "SRV") == []
        inst = listed(srv, "i1")   # still registered, and says why it is not served
        assert inst is not None and inst["health"] == "down"
        assert srv.serial(ZONE) != serial
        # a heartbeat keeps an unhealthy instance registered, not served
        assert srv.call("POST", path("i1") + "/heartbeat").status == 200
        assert serving(srv) == ONLY_I2

        backend.start()
        took = wait_for(lambda: serving(srv) == BOTH, 3 + 1.5)
        print(f"back in the answers {took:.2f} s after the backend started")
        assert took <= 4.5
        assert listed(srv, "i1")["health"] == "up"
    finally:
        backend.stop()

    rows = srv.get(f"audit?zone={ZONE}&actor=health").json()["entries"]
    patches = [e for e in rows if e["action"] == "rrsets.patch"]
    assert len(patches) == 2, rows   # out, then back in
    transitions = [e for e in srv.get("audit?actor=health&limit=1000").json()["entries"]
                   if e["action"] == "health.transition"
                   and e["after"]["key"] == "svc@i1.web.svc.test"]
    moves = [(e["before"]["state"], e["after"]["state"]) for e in reversed(transitions)]
    assert moves == [("unknown", "up"), ("up", "down"), ("down", "up")], moves

    # deregistration takes the check with it
    assert srv.call("DELETE", path("i1")).status == 204
    assert "svc@i1.web.svc.test" not in health_keys(srv)


def test_down_instance_stays_until_its_lease_ends(srv):
    """A check on a closed port: the instance is never served, is listed
    as down, and goes when its lease ends (actor lease, as any other)."""
    backend = Backend().start()
    closed = backend.port
    backend.stop()
    register(srv, "i2", ["192.0.2.11"], 8080, ttl_lease=300)
    register(srv, "bad", ["127.0.0.1"], closed, ttl_lease=3,
             check={"type": "tcp", "interval": "1s", "fall": 1, "rise": 1})
    wait_for(lambda: listed(srv, "bad")["health"] == "down", 4)
    wait_for(lambda: rdata(srv, "web.svc.test.", "A") == ["192.0.2.11"], 2)
    assert listed(srv, "bad") is not None
    wait_for(lambda: listed(srv, "bad") is None, 3 + 1 + 1)
    assert "svc@bad.web.svc.test" not in health_keys(srv)
    assert rdata(srv, "web.svc.test.", "A") == ["192.0.2.11"]


def test_replacing_the_check_and_the_instance(srv):
    """Registering again with another check replaces the old one; without
    a check the instance is unchecked and served."""
    backend = Backend().start()
    try:
        register(srv, "i1", ["127.0.0.1"], 1, ttl_lease=300,
                 check={**CHECK, "port": backend.port, "fall": 1})
        wait_for(lambda: listed(srv, "i1")["health"] == "up", 5)
        backend.stop()
        wait_for(lambda: rdata(srv, "web.svc.test.", "A") == [], 4)
        register(srv, "i1", ["127.0.0.1"], 1, ttl_lease=300)
        assert rdata(srv, "web.svc.test.", "A") == ["127.0.0.1"]
        assert listed(srv, "i1")["health"] == "unchecked"
        assert "svc@i1.web.svc.test" not in health_keys(srv)
        time.sleep(2.5)   # no stale check comes back to take it out
        assert rdata(srv, "web.svc.test.", "A") == ["127.0.0.1"]
    finally:
        backend.stop()


def test_checks_survive_a_restart(srv):
    backend = Backend().start()
    try:
        register(srv, "i1", ["127.0.0.1"], backend.port, ttl_lease=300, check=CHECK)
        srv.stop()
        srv.stderr.close()
        srv.start()
        wait_for(lambda: listed(srv, "i1")["health"] == "up", 5)
        backend.stop()
        wait_for(lambda: rdata(srv, "web.svc.test.", "A") == [], 4.5)
    finally:
        backend.stop()


@pytest.mark.parametrize("check,field", [
    ({"path": "/"}, "check"),                               # no type
    ({"type": "calculated"}, "check"),
    ({"type": "smtp"}, "check"),
    ({"type": "http", "interval": "100ms"}, "check"),      # the checker's own rules
    ({"type": "http", "fall": 11}, "check.fall"),
    ({"type": "http", "ca-file": "/etc/passwd"}, "check.ca-file"),
    ({"type": "tcp", "path": "/"}, "check"),                # not for a tcp check
    ({"type": "http", "address": "localhost"}, "check"),
    ({"type": "dns", "query-type": "NOPE"}, "check"),
    ("http", "check"),
])
def test_bad_checks_refused(srv, check, field):
    r = srv.call("PUT", path("i1"), {"addresses": ["192.0.2.1"], "port": 80, "check": check})
    assert_error(r, 400, field)
    assert srv.get("services/svc.test").json()["services"] == {}
    assert not [k for k in health_keys(srv) if k.startswith("svc@")]
