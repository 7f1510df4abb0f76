"""Service answers (issue 6): the A/AAAA answer of a service name (SVC.Z and
a tag filter TAG.SVC.Z) holds at most `services: answer-max` of the healthy
instances' addresses (default 8), in an order drawn per query; over many
queries every instance appears, no answer exceeds the cap, and the order
varies. An instance's own name, SRV and plain RRsets are answered whole and
in their stored order. Checked with dnspython against the real server."""
import math
from collections import Counter

import dns.rdatatype
import pytest

import util_api
from util_api import assert_error  # noqa: F401

ZONE = "svc.test."
QUERIES = 300


class CapServer(util_api.ApiServer):
    """An ApiServer with a `services:` section."""

    def __init__(self, workdir, services=None):
        super().__init__(workdir, {"file.test.": util_api.ZONE_FILE})
        self.services = services

    def write_conf(self):
        super().write_conf()
        if self.services is not None:
            with open(self.conf_path, "a") as f:
                f.write("services:\n" + "".join(f"  {k}: {v}\n"
                                                 for k, v in self.services.items()))


@pytest.fixture
def cap_server(tmp_path):
    servers = []

    def start(services=None):
        srv = CapServer(tmp_path, services)
        servers.append(srv)
        srv.start()
        srv.create_zone(ZONE, nameservers=["ns1.example.net."])
        return srv

    yield start
    for srv in servers:
        util_api.conftest.assert_clean_exit(srv)


def register(srv, iid, addresses, service="web", **fields):
    body = {"addresses": addresses, "port": 8080, **fields}
    r = srv.call("PUT", f"services/svc.test/{service}/instances/{iid}", body)
    assert r.status == 200, r
    return r.json()


def answer(srv, name, rtype="A"):
    """The answer RRset's rdata texts in wire order ([] when none)."""
    r = srv.query(name, rtype)
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.from_text(rtype):
            return [rd.to_text() for rd in rrset]
    return []


def sample(srv, name, rtype="A", n=QUERIES):
    return [tuple(answer(srv, name, rtype)) for _ in range(n)]


def check_spread(answers, universe, cap):
    """No answer over the cap or with a repeat; every address seen; orders
    and first places vary."""
    assert all(1 <= len(a) <= cap for a in answers), max(map(len, answers))
    assert all(len(set(a)) == len(a) for a in answers)
    assert set().union(*map(set, answers)) == set(universe)
    possible = math.perm(len(universe), min(cap, len(universe)))
    assert len(set(answers)) >= min(len(answers), possible) // 2, "the same answers again"
    firsts = Counter(a[0] for a in answers)
    assert len(firsts) == len(universe), firsts   # every address comes first sometimes


def test_default_cap_is_8_and_shuffled(cap_server):
    srv = cap_server()
    addrs = [f"192.0.2.{i}" for i in range(1, 13)]
    for i, a in enumerate(addrs):
        register(srv, f"i{i}", [a], tags=["canary"] if i % 2 else [])
    got = sample(srv, "web.svc.test.")
    assert {len(a) for a in got} == {8}
    check_spread(got, addrs, 8)
    # the tag filter is a service answer too: 6 instances, all each time, shuffled
    tagged = sample(srv, "canary.web.svc.test.", n=150)
    assert {len(a) for a in tagged} == {6}
    assert len(set(tagged)) > 50
    # an instance's own name: its addresses, all of them
    assert answer(srv, "i3.web.svc.test.") == ["192.0.2.4"]
    # SRV: every instance, uncapped
    assert len(answer(srv, "_web._tcp.svc.test.", "SRV")) == 12


def test_configured_cap_and_aaaa(cap_server):
    srv = cap_server({"answer-max": 3})
    v4 = [f"192.0.2.{i}" for i in range(10, 20)]
    v6 = [f"2001:db8::{i:x}" for i in range(10, 15)]
    for i in range(10):
        register(srv, f"n{i}", [v4[i]] + ([v6[i]] if i < 5 else []))
    check_spread(sample(srv, "web.svc.test."), v4, 3)
    check_spread(sample(srv, "web.svc.test.", "AAAA", n=150), v6, 3)
    # a service of one or two instances: all of them
    register(srv, "only", ["198.51.100.1"], service="db")
    assert answer(srv, "db.svc.test.") == ["198.51.100.1"]
    register(srv, "two", ["198.51.100.2"], service="db")
    seen = {tuple(answer(srv, "db.svc.test.")) for _ in range(60)}
    assert seen == {("198.51.100.1", "198.51.100.2"), ("198.51.100.2", "198.51.100.1")}


def test_new_and_gone_instances_follow(cap_server):
    """The cap and the shuffle apply to whatever the service has now."""
    srv = cap_server({"answer-max": 2})
    for i in range(4):
        register(srv, f"i{i}", [f"192.0.2.{i + 1}"])
    check_spread(sample(srv, "web.svc.test.", n=120), [f"192.0.2.{i + 1}" for i in range(4)],
                 2)
    for i in range(3):
        assert srv.call("DELETE", f"services/svc.test/web/instances/i{i}").status == 204
    assert {tuple(answer(srv, "web.svc.test.")) for _ in range(20)} == {("192.0.2.4",)}


def test_plain_rrsets_are_not_touched(cap_server):
    """An RRset the registry does not own keeps every record and its order."""
    srv = cap_server({"answer-max": 2})
    register(srv, "i1", ["192.0.2.1"])
    records = [f"203.0.113.{i}" for i in range(1, 11)]
    r = srv.patch(ZONE, [{"name": "static", "type": "A", "ttl": 60, "changetype": "REPLACE",
                          "records": records}])
    assert r.status == 204, r
    got = {tuple(answer(srv, "static.svc.test.")) for _ in range(30)}
    assert len(got) == 1 and sorted(next(iter(got))) == sorted(records)


@pytest.mark.parametrize("value", [0, 65, "many"])
def test_bad_answer_max_refused(tmp_path, value):
    srv = CapServer(tmp_path, {"answer-max": value})
    srv.write_conf()
    res = srv.cli("serve", "-c", srv.conf_path)
    assert res.returncode == 1
    assert "answer-max" in res.stderr and "cirrus.yaml:" in res.stderr, res.stderr
