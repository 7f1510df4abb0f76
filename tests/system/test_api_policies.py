"""Routing policies through the REST API (issue 4): PUT, GET, list and
DELETE of /api/v1/zones/{zone}/policies/{name}/{type} on store zones, with
DNS answers following each change as soon as it is acknowledged; bad specs
refused before anything is written; zone scopes; audit rows; policies that
survive a restart, a kill -9 and later RRset changes of their zone; zone
files refused (their policies are declared in cirrus.yaml)."""
import collections
import signal
import time

import dns.edns
import dns.flags
import dns.rdatatype
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest

from util_api import ZONE_FILE, ApiServer, assert_error, delete, replace
import conftest

ZONE = "pol.test."

WEIGHTED = {
    "ttl": 30,
    "rule": "weighted",
    "endpoints": [
        {"rdata": "192.0.2.9", "weight": 0},      # drained, and the placeholder
        {"rdata": "192.0.2.10", "weight": 3},
        {"rdata": "192.0.2.11"},                  # weight 1, the default
    ],
}

FAILOVER = {
    "rule": "failover",
    "endpoints": [
        {"level": 1, "rule": "weighted", "endpoints": [
            {"rdata": "192.0.2.20", "health": "web-a"},
            {"rdata": "192.0.2.21", "health": "web-a"}]},
        {"rdata": "198.51.100.20", "level": 2},
    ],
}


class PolicyServer(ApiServer):
    """An API server whose cirrus.yaml also holds static health states."""

    health = {}

    def write_conf(self):
        super().write_conf()
        if self.health:
            with open(self.conf_path, "a") as f:
                f.write("health:\n" + "".join(f"  {k}: {v}\n" for k, v in self.health.items()))


@pytest.fixture
def srv(tmp_path):
    s = PolicyServer(tmp_path, {"file.test.": ZONE_FILE})
    s.health = {"web-a": "down"}
    s.server_conf = {"ecs-trust": "all"}
    s.start()
    s.create_zone(ZONE, nameservers=["ns1.example.net."])
    assert s.patch(ZONE, [replace("static", "A", 60, "192.0.2.99")]).status == 204
    yield s
    conftest.assert_clean_exit(s)


def put(srv, name, rtype, spec, **kw):
    return srv.call("PUT", f"zones/{ZONE}/policies/{name}/{rtype}", spec, **kw)


def answers(srv, name, rtype="A", n=200):
    """How often each record answered n queries."""
    seen = collections.Counter()
    for _ in range(n):
        resp = srv.query(name, rtype)
        assert resp.rcode() == dns.rcode.NOERROR, resp
        assert len(resp.answer) == 1, resp
        seen.update(r.to_text() for r in resp.answer[0])
    return seen


def follows_weighted(srv):
    """Answers are the weighted policy's: never the drained endpoint (which
    the zone's placeholder RRset holds), about 3:1 between the others."""
    seen = answers(srv, f"www.{ZONE}", n=400)
    assert set(seen) == {"192.0.2.10", "192.0.2.11"}, seen
    assert 0.6 < seen["192.0.2.10"] / 400 < 0.9, seen
    return True


def test_create_get_list_and_answers(srv):
    serial = srv.serial(ZONE)
    r = put(srv, "www", "A", WEIGHTED)
    assert r.status == 201, r
    got = r.json()
    assert got == {"name": f"www.{ZONE}", "type": "A", **WEIGHTED}
    assert follows_weighted(srv)  # at once: no wait after the 201
    assert srv.query(f"www.{ZONE}", "A").answer[0].ttl == 30
    assert srv.serial(ZONE) == serial + 1
    assert srv.query(ZONE, "SOA").answer[0][0].serial == serial + 1
    assert srv.get(f"zones/{ZONE}/policies/www.{ZONE}/a").json() == got
    assert srv.get(f"zones/{ZONE}/policies").json() == {"policies": [got]}
    # what GET gives, PUT takes back unchanged
    r = put(srv, f"www.{ZONE}", "A", got)
    assert r.status == 200, r
    assert r.json() == got


def test_failover_follows_health(srv):
    assert put(srv, "app", "A", FAILOVER).status == 201
    # web-a is down (cirrus.yaml): the second level answers
    assert set(answers(srv, f"app.{ZONE}", n=20)) == {"198.51.100.20"}
    srv.health = {"web-a": "up"}
    srv.write_conf()
    srv.reload()
    seen = {}
    for _ in range(100):  # SIGHUP re-reads health: bounded wait
        seen = answers(srv, f"app.{ZONE}", n=10)
        if "198.51.100.20" not in seen:
            break
        time.sleep(0.05)
    assert set(seen) <= {"192.0.2.20", "192.0.2.21"}, seen


def test_replace_then_delete(srv):
    assert put(srv, "www", "A", WEIGHTED).status == 201
    serial = srv.serial(ZONE)
    other = {"rule": "multivalue", "pick": 2, "endpoints": [
        {"rdata": "192.0.2.30"}, {"rdata": "192.0.2.31"}, {"rdata": "192.0.2.32"}]}
    r = put(srv, "www", "A", other)
    assert r.status == 200, r
    assert r.json()["rule"] == "multivalue"
    assert srv.serial(ZONE) == serial + 1
    for _ in range(20):
        resp = srv.query(f"www.{ZONE}", "A")
        got = {x.to_text() for x in resp.answer[0]}
        assert len(got) == 2 and got <= {"192.0.2.30", "192.0.2.31", "192.0.2.32"}, got
    r = srv.call("DELETE", f"zones/{ZONE}/policies/www/A")
    assert r.status == 204, r
    assert srv.query(f"www.{ZONE}", "A").rcode() == dns.rcode.NXDOMAIN
    assert srv.serial(ZONE) == serial + 2
    assert_error(srv.get(f"zones/{ZONE}/policies/www/A"), 404)
    assert srv.get(f"zones/{ZONE}/policies").json() == {"policies": []}
    assert_error(srv.call("DELETE", f"zones/{ZONE}/policies/www/A"), 404)
    # a static RRset may take the name and type now
    assert srv.patch(ZONE, [replace("www", "A", 60, "192.0.2.40")]).status == 204


def test_delete_keeps_other_data_at_the_name(srv):
    assert put(srv, "www", "A", WEIGHTED).status == 201
    assert srv.patch(ZONE, [replace("www", "TXT", 60, '"hi"')]).status == 204
    assert srv.call("DELETE", f"zones/{ZONE}/policies/www/A").status == 204
    resp = srv.query(f"www.{ZONE}", "A")
    assert resp.rcode() == dns.rcode.NOERROR and not resp.answer
    assert srv.query(f"www.{ZONE}", "TXT").answer[0][0].to_text() == '"hi"'


def test_latency_table_delete(srv):
    """A table that a policy names (nested in a rule too) is not deleted (409,
    naming the policy); once no policy names it, DELETE removes it with an
    audit row, and it stays gone after a restart."""
    rows = table(("10.1.0.0/16", "eu-west", 12), ("10.1.0.0/16", "us-east", 85))
    assert srv.call("PUT", "latency/rtt", rows).status == 204
    nested = {"rule": "failover", "endpoints": [
        {"rdata": "192.0.2.1", "level": 1, "health": "down-key"},
        {"rule": "latency", "latency-table": "rtt", "level": 2, "endpoints": [
            {"rdata": "192.0.2.90", "region": "eu-west"},
            {"rdata": "192.0.2.91", "region": "us-east"}]}]}
    assert put(srv, "deep", "A", nested).status == 201
    body = assert_error(srv.call("DELETE", "latency/rtt"), 409)
    assert f"deep.{ZONE} A" in body["error"], body
    assert srv.call("DELETE", f"zones/{ZONE}/policies/deep/A").status == 204
    assert srv.get("latency/rtt").json() == {"name": "rtt", **rows}

    writer = srv.make_token("writer", f"zone:{ZONE.rstrip('.')}:write")
    assert_error(srv.call("DELETE", "latency/rtt", token=writer), 403)
    assert_error(srv.call("DELETE", "latency/no%20such"), 400, "name")
    assert srv.call("DELETE", "latency/rtt").status == 204
    assert_error(srv.get("latency/rtt"), 404)
    assert_error(srv.call("DELETE", "latency/rtt"), 404)
    entries = srv.get("audit?limit=20").json()["entries"]
    deletes = [e for e in entries if e["action"] == "latency.delete"]
    assert len(deletes) == 1, entries
    assert deletes[0]["before"] == {"name": "rtt", "rows": 2}
    assert deletes[0]["after"] is None
    # a policy naming it is refused again, as before the table was loaded
    body = assert_error(put(srv, "api", "A", LATENCY), 400)
    assert "no latency table 'rtt'" in body["error"]
    assert srv.stop() == 0
    srv.start()
    assert_error(srv.get("latency/rtt"), 404)


@pytest.mark.parametrize("name,rtype,spec,status,field", [
    ("www", "A", {**WEIGHTED, "colour": "blue"}, 400, "colour"),
    ("www", "A", {"rule": "weighted", "endpoints": [{"rdata": "192.0.2.1"},
                                                    {"rdata": "192.0.2.300"}]},
     400, "endpoints[1]"),
    ("www", "A", {"rule": "weighted", "endpoints": [{"rdata": "192.0.2.1", "weight": -1}]},
     400, "endpoints[0].weight"),
    ("www", "A", {"rule": "weighted", "endpoints": [{"rdata": "192.0.2.1",
                                                     "cidrs": ["10.0.0.0/8"]}]},
     400, "endpoints[0]"),
    ("www", "A", {"rule": "roundrobin", "endpoints": [{"rdata": "192.0.2.1"}]}, 400, ""),
    ("www", "A", {"rule": "weighted"}, 400, ""),
    ("www", "A", {"rule": "geo", "map": "geo.cidr", "endpoints": [{"rdata": "192.0.2.1"}]},
     400, "map"),
    ("www", "A", {"rule": "geo", "map": "/nonexistent/geo.cidr",
                  "endpoints": [{"rdata": "192.0.2.1", "default": True}]}, 400, ""),
    ("www", "CNAME", {"rule": "multivalue", "endpoints": [{"rdata": "a.example."}]}, 400, ""),
    ("www", "TXT", WEIGHTED, 400, "type"),
    ("www", "ALIAS", {"ttl": 60}, 400, ""),       # an ALIAS needs a target
    ("www", "ALIAS", {"target": "www"}, 400, ""),  # not itself
    ("www", "ALIAS", {"target": "t", "rule": "weighted",
                      "endpoints": [{"rdata": "192.0.2.1"}]}, 400, ""),
    ("static", "ALIAS", {"target": "keep"}, 409, None),   # a static A is there
    ("www.elsewhere.test.", "A", WEIGHTED, 400, "name"),
    ("www", "A", {**WEIGHTED, "name": "other"}, 400, "name"),
    ("www", "A", {**WEIGHTED, "type": "AAAA"}, 400, "type"),
    ("www", "A", [1, 2], 400, None),
    ("static", "A", WEIGHTED, 409, None),         # a static A is there
    ("static", "CNAME", {"rule": "failover", "endpoints": [{"rdata": "a.example."}]},
     409, None),                                  # CNAME and other data
])
def test_bad_specs_change_nothing(srv, name, rtype, spec, status, field):
    assert put(srv, "keep", "A", WEIGHTED).status == 201
    serial = srv.serial(ZONE)
    listed = srv.get(f"zones/{ZONE}/policies").json()
    rrsets = srv.get(f"zones/{ZONE}/rrsets").json()
    assert_error(put(srv, name, rtype, spec), status, field)
    assert srv.serial(ZONE) == serial
    assert srv.get(f"zones/{ZONE}/policies").json() == listed
    assert srv.get(f"zones/{ZONE}/rrsets").json() == rrsets
    assert srv.query(f"www.{ZONE}", "A").rcode() == dns.rcode.NXDOMAIN
    assert srv.query(f"static.{ZONE}", "A").answer[0][0].to_text() == "192.0.2.99"
    assert set(answers(srv, f"keep.{ZONE}", n=40)) <= {"192.0.2.10", "192.0.2.11"}


def test_alias_at_the_apex(srv):
    """An ALIAS made through the API flattens its in-zone target at the apex,
    follows changes of the target at once, keeps the apex's own data, owns
    A and AAAA at its name, and goes away with DELETE."""
    assert srv.patch(ZONE, [replace("web", "A", 120, "192.0.2.50", "192.0.2.51"),
                            replace("web", "AAAA", 30, "2001:db8::50")]).status == 204
    r = put(srv, ZONE, "ALIAS", {"target": "web", "ttl": 60})
    assert r.status == 201, r.text
    got = srv.get(f"zones/{ZONE}/policies/{ZONE}/ALIAS").json()
    assert got["type"] == "ALIAS" and got["target"] == "web"
    a = srv.query(ZONE, "A")
    assert a.rcode() == dns.rcode.NOERROR and a.flags & dns.flags.AA
    assert sorted(r.to_text() for r in a.answer[0]) == ["192.0.2.50", "192.0.2.51"]
    assert a.answer[0].name.to_text() == ZONE and a.answer[0].ttl == 60
    aaaa = srv.query(ZONE, "AAAA")
    assert [r.to_text() for r in aaaa.answer[0]] == ["2001:db8::50"] and aaaa.answer[0].ttl == 30
    assert srv.query(ZONE, "SOA").answer[0][0].rdtype == dns.rdatatype.SOA
    assert srv.query(ZONE, "NS").answer[0][0].to_text() == "ns1.example.net."
    # A change of the target shows in the next answer.
    assert srv.patch(ZONE, [replace("web", "A", 120, "192.0.2.52")]).status == 204
    assert [r.to_text() for r in srv.query(ZONE, "A").answer[0]] == ["192.0.2.52"]
    # A and AAAA at the alias's name are the alias's: a PATCH of them is refused.
    assert_error(srv.patch(ZONE, [replace(ZONE, "A", 60, "192.0.2.1")]), 409, None)
    assert [r.to_text() for r in srv.query(ZONE, "A").answer[0]] == ["192.0.2.52"]
    # It survives a restart (compiled again from the store).
    assert srv.stop() == 0
    srv.start()
    assert [r.to_text() for r in srv.query(ZONE, "A").answer[0]] == ["192.0.2.52"]
    assert srv.call("DELETE", f"zones/{ZONE}/policies/{ZONE}/ALIAS").status == 204
    gone = srv.query(ZONE, "A")
    assert gone.rcode() == dns.rcode.NOERROR and not gone.answer
    assert srv.patch(ZONE, [replace(ZONE, "A", 60, "192.0.2.1")]).status == 204


def test_cname_failover(srv):
    """A CNAME policy answers one target: the first healthy level's first."""
    spec = {"rule": "failover", "endpoints": [
        {"rdata": "primary.example.net.", "health": "web-a", "level": 1},
        {"rdata": "secondary.example.net.", "level": 2}]}
    assert put(srv, "cdn", "CNAME", spec).status == 201
    resp = srv.query(f"cdn.{ZONE}", "A")
    assert [r.to_text() for r in resp.answer[0]] == ["secondary.example.net."]


def test_rrset_changes_cannot_touch_a_policy(srv):
    assert put(srv, "www", "A", WEIGHTED).status == 201
    serial = srv.serial(ZONE)
    assert_error(srv.patch(ZONE, [replace("www", "A", 60, "192.0.2.1")]), 409, "rrsets[0]")
    assert_error(srv.patch(ZONE, [delete("www", "A")]), 409, "rrsets[0]")
    r = srv.patch(ZONE, [replace("www", "CNAME", 60, "elsewhere.example.")])
    assert r.status in (409, 422), r
    # a delegation above it would hide it
    r = srv.patch(ZONE, [replace("www", "NS", 60, "ns.example.net.")])
    assert_error(r, 422)
    assert srv.serial(ZONE) == serial
    assert follows_weighted(srv)


def test_update_cannot_touch_a_policy(srv):
    """RFC 2136 UPDATE is REFUSED on a policy's name and type, whatever the
    key allows; other data at the name still changes."""
    assert put(srv, "www", "A", WEIGHTED).status == 201
    r = srv.cli("key", "add", "all", "--rule", f"zone={ZONE} name=* types=*",
                "--db", str(srv.db))
    assert r.returncode == 0, r.stderr
    ring = dns.tsigkeyring.from_text({"all.": ("hmac-sha256",
                                               r.stdout.split('secret "')[1].split('"')[0])})

    def update(change):
        upd = dns.update.UpdateMessage(ZONE, keyring=ring, keyname="all.",
                                       keyalgorithm=dns.tsig.HMAC_SHA256)
        change(upd)
        return srv.send(upd).rcode()

    serial = srv.serial(ZONE)
    assert update(lambda u: u.replace(f"www.{ZONE}", 60, "A", "192.0.2.1")) == dns.rcode.REFUSED
    assert update(lambda u: u.add(f"www.{ZONE}", 60, "A", "192.0.2.1")) == dns.rcode.REFUSED
    assert update(lambda u: u.delete(f"www.{ZONE}", "A")) == dns.rcode.REFUSED
    assert update(lambda u: u.delete(f"www.{ZONE}")) == dns.rcode.REFUSED
    assert srv.serial(ZONE) == serial
    assert follows_weighted(srv)
    assert update(lambda u: u.add(f"www.{ZONE}", 60, "TXT", '"next to it"')) == \
        dns.rcode.NOERROR
    assert srv.query(f"www.{ZONE}", "TXT").answer[0][0].to_text() == '"next to it"'
    assert follows_weighted(srv)


def test_rrset_patch_keeps_policy(srv):
    """Every later version of the zone carries the policy over."""
    assert put(srv, "www", "A", WEIGHTED).status == 201
    for i in range(5):
        assert srv.patch(ZONE, [replace(f"n{i}", "A", 60, f"192.0.2.{50 + i}"),
                                replace("www", "TXT", 60, f'"v{i}"')]).status == 204
        assert follows_weighted(srv)
    assert srv.query(f"n4.{ZONE}", "A").answer[0][0].to_text() == "192.0.2.54"


def test_scopes(srv):
    assert put(srv, "www", "A", WEIGHTED).status == 201
    reader = srv.make_token("reader", f"zone:{ZONE.rstrip('.')}:read")
    other = srv.make_token("other", "zone:other.test:write")
    writer = srv.make_token("writer", f"zone:{ZONE.rstrip('.')}:write")
    assert srv.get(f"zones/{ZONE}/policies", token=reader).status == 200
    assert srv.get(f"zones/{ZONE}/policies/www/A", token=reader).status == 200
    assert_error(put(srv, "www", "A", FAILOVER, token=reader), 403)
    assert_error(srv.call("DELETE", f"zones/{ZONE}/policies/www/A", token=reader), 403)
    assert_error(srv.get(f"zones/{ZONE}/policies", token=other), 403)
    assert_error(put(srv, "x", "A", WEIGHTED, token=other), 403)
    assert_error(srv.get(f"zones/{ZONE}/policies", token=None), 401)
    assert follows_weighted(srv)
    assert put(srv, "x", "A", WEIGHTED, token=writer).status == 201


def test_audit_rows(srv):
    assert put(srv, "www", "A", WEIGHTED, headers={"X-Request-Id": "pol-1"}).status == 201
    assert put(srv, "www", "A", FAILOVER).status == 200
    assert srv.call("DELETE", f"zones/{ZONE}/policies/www/A").status == 204
    entries = srv.get(f"audit?zone={ZONE}&limit=3").json()["entries"]
    assert [e["action"] for e in entries] == ["policy.delete", "policy.put", "policy.put"]
    deleted, replaced, created = entries
    www = {"name": f"www.{ZONE}", "type": "A"}
    assert created["before"] == [None] and created["after"] == [{**www, **WEIGHTED}]
    assert created["request_id"] == "pol-1" and created["actor"] == "admin"
    assert replaced["before"] == [{**www, **WEIGHTED}]
    assert replaced["after"] == [{**www, "ttl": 60, **FAILOVER}]
    assert deleted["before"] == replaced["after"] and deleted["after"] == [None]


def test_file_zone_refused(srv):
    r = srv.call("PUT", "zones/file.test/policies/www/A", WEIGHTED)
    body = assert_error(r, 409)
    assert "cirrus.yaml" in body["error"]
    assert_error(srv.get("zones/file.test/policies"), 409)
    assert_error(srv.call("DELETE", "zones/file.test/policies/www/A"), 409)
    assert_error(srv.get("zones/missing.test/policies"), 404)
    assert srv.query("www.file.test.", "A").answer[0][0].to_text() == "192.0.2.80"


def test_restart_keeps_policies(srv):
    assert put(srv, "www", "A", WEIGHTED).status == 201
    assert put(srv, "app", "A", FAILOVER).status == 201
    listed = srv.get(f"zones/{ZONE}/policies").json()
    assert srv.stop() == 0
    srv.start()
    assert srv.get(f"zones/{ZONE}/policies").json() == listed
    assert follows_weighted(srv)
    assert set(answers(srv, f"app.{ZONE}", n=20)) == {"198.51.100.20"}
    # and the zone still takes changes around them
    assert srv.patch(ZONE, [replace("more", "A", 60, "192.0.2.77")]).status == 204
    assert follows_weighted(srv)


def test_kill_9_after_200_keeps_policy(srv):
    assert put(srv, "www", "A", WEIGHTED).status == 201
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=10)
    srv.stderr.close()
    srv.start()
    assert follows_weighted(srv)


def test_stored_policy_that_no_longer_compiles_stops_start(tmp_path):
    """A stored policy whose file is gone: the server says which and does
    not start (as for a bad policy in cirrus.yaml)."""
    geo = tmp_path / "geo.cidr"
    geo.write_text("192.0.2.0/24 DE EU\n")
    s = PolicyServer(tmp_path, {"file.test.": ZONE_FILE})
    s.start()
    s.create_zone(ZONE, nameservers=["ns1.example.net."])
    spec = {"rule": "geo", "map": str(geo), "endpoints": [
        {"rdata": "192.0.2.1", "countries": ["DE"]}, {"rdata": "192.0.2.2", "default": True}]}
    assert put(s, "geo", "A", spec).status == 201
    assert s.stop() == 0
    geo.unlink()
    s.start(wait=False)
    assert s.proc.wait(timeout=20) != 0
    s.stderr.close()
    assert f"stored zone {ZONE}: policy geo.{ZONE} A" in s.log()
    assert "geo.cidr" in s.log()


LATENCY = {"rule": "latency", "latency-table": "rtt", "endpoints": [
    {"rdata": "192.0.2.90", "region": "eu-west"},
    {"rdata": "192.0.2.91", "region": "us-east"},
    {"rdata": "192.0.2.99", "default": True}]}


def table(*rows):
    return {"rows": [{"prefix": p, "region": r, "ms": ms} for p, r, ms in rows]}


def nearest(srv, subnet):
    """The answer for a client in subnet/24, sent as ECS by a trusted resolver."""
    resp = srv.query(f"api.{ZONE}", "A", use_edns=0, options=[dns.edns.ECSOption(subnet, 24)])
    return [r.to_text() for r in resp.answer[0]]


def test_latency_table_through_the_api(srv):
    """A latency table loaded and updated through the API: the policies that
    name it answer from the new measurements at once, with no serial change;
    a bad row changes nothing; it survives a restart."""
    body = assert_error(put(srv, "api", "A", LATENCY), 400)
    assert "no latency table 'rtt'" in body["error"]
    r = srv.call("PUT", "latency/rtt", table(("10.1.0.0/16", "eu-west", 12),
                                             ("10.1.0.0/16", "us-east", 85)))
    assert r.status == 204, r
    assert put(srv, "api", "A", LATENCY).status == 201
    assert nearest(srv, "10.1.2.0") == ["192.0.2.90"]
    assert nearest(srv, "10.2.0.0") == ["192.0.2.99"]
    serial = srv.serial(ZONE)

    new = table(("10.1.0.0/16", "eu-west", 90), ("10.1.0.0/16", "us-east", 9),
                ("10.2.0.0/16", "eu-west", 5.5))
    assert srv.call("PUT", "latency/rtt", new).status == 204
    assert nearest(srv, "10.1.2.0") == ["192.0.2.91"]  # at once
    assert nearest(srv, "10.2.0.0") == ["192.0.2.90"]
    assert srv.serial(ZONE) == serial
    assert srv.get("latency/rtt").json() == {"name": "rtt", **new}

    bad = table(("10.1.0.0/16", "eu-west", 1), ("10.1.0.0/33", "eu-west", 1))
    assert_error(srv.call("PUT", "latency/rtt", bad), 400, "rows[1]")
    assert_error(srv.call("PUT", "latency/rtt", table(("10.1.0.0/16", "eu west", 1))), 400,
                 "rows[0].region")
    assert_error(srv.call("PUT", "latency/rtt", {"rows": []}), 400, "rows")
    assert_error(srv.call("PUT", "latency/no%20such", new), 400, "name")
    assert_error(srv.get("latency/other"), 404)
    assert srv.get("latency/rtt").json() == {"name": "rtt", **new}
    assert nearest(srv, "10.1.2.0") == ["192.0.2.91"]

    writer = srv.make_token("writer", f"zone:{ZONE.rstrip('.')}:write")
    assert_error(srv.call("PUT", "latency/rtt", new, token=writer), 403)
    entries = srv.get("audit?limit=20").json()["entries"]
    puts = [e for e in entries if e["action"] == "latency.put"]
    assert len(puts) == 2, entries
    assert puts[0]["before"] == {"name": "rtt", "rows": 2}
    assert puts[0]["after"] == {"name": "rtt", "rows": 3, "policies": [f"api.{ZONE} A"]}
    assert puts[1]["before"] is None and puts[1]["after"]["policies"] == []

    # later changes of the zone keep the new table's answers; so does a restart
    assert srv.patch(ZONE, [replace("more", "A", 60, "192.0.2.77")]).status == 204
    assert nearest(srv, "10.1.2.0") == ["192.0.2.91"]
    assert srv.stop() == 0
    srv.start()
    assert nearest(srv, "10.1.2.0") == ["192.0.2.91"]
    assert nearest(srv, "10.2.0.0") == ["192.0.2.90"]
