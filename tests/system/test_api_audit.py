"""REST API audit log (issue 3): every change leaves an entry with the
token's name as actor, the request id (the client's X-Request-Id or one the
server made and echoed), the zone, and before/after as JSON; filters by
zone, actor and time (RFC 3339 or unix seconds)."""
import datetime
import time

from util_api import api, assert_error, replace  # noqa: F401 (fixture)


def entries(srv, query="", **kw):
    r = srv.get("audit" + query, **kw)
    assert r.status == 200, r
    return r.json()["entries"]


def test_entries_have_actor_and_request_id(api):
    srv = api()
    ci = srv.make_token("ci-pipeline", "zone:*.audit.test:write")
    r = srv.call("POST", "zones", {"name": "a.audit.test."}, token=ci,
                 headers={"X-Request-Id": "deploy-42:step-1"})
    assert r.status == 201
    assert r.header("x-request-id") == "deploy-42:step-1"
    r = srv.patch("a.audit.test", [replace("www", "A", 60, "192.0.2.1")], token=ci)
    assert r.status == 204
    generated = r.header("x-request-id")
    assert generated and len(generated) >= 16

    got = entries(srv, "?zone=a.audit.test")
    assert [e["action"] for e in got] == ["rrsets.patch", "zone.create"]
    patch, create = got
    assert set(patch) == {"id", "time", "actor", "request_id", "zone", "action", "before",
                          "after"}
    assert patch["actor"] == "ci-pipeline" and create["actor"] == "ci-pipeline"
    assert create["request_id"] == "deploy-42:step-1"
    assert patch["request_id"] == generated
    assert patch["zone"] == "a.audit.test."
    assert patch["id"] > create["id"]
    # before and after are embedded JSON, not strings holding JSON
    assert not isinstance(patch["after"], str)
    assert "192.0.2.1" in repr(patch["after"])
    assert isinstance(create["after"], dict)
    t = datetime.datetime.strptime(patch["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(t.replace(tzinfo=datetime.timezone.utc).timestamp() - time.time()) < 120


def test_insane_request_id_is_replaced(api):
    srv = api()
    for bad in ["has space", "x" * 65, "semi;colon", "quote\"d"]:
        r = srv.get("zones", headers={"X-Request-Id": bad})
        assert r.status == 200
        assert r.header("x-request-id") != bad
        assert r.header("x-request-id")
    r = srv.get("zones", token=None)
    assert r.status == 401 and r.header("x-request-id")


def test_rejected_request_leaves_no_entry(api):
    srv = api()
    srv.create_zone("reject.audit.test.")
    count = len(entries(srv))
    r = srv.patch("reject.audit.test", [replace("www", "A", 60, "192.0.2.999")])
    assert_error(r, 400)
    assert len(entries(srv)) == count


def test_filters(api):
    srv = api()
    alice = srv.make_token("alice", "zone:*:write")
    bob = srv.make_token("bob", "zone:*:write")
    srv.call("POST", "zones", {"name": "one.test."}, token=alice)
    time.sleep(1.1)
    middle = time.time()
    srv.call("POST", "zones", {"name": "two.test."}, token=bob)
    srv.patch("one.test", [replace("x", "A", 60, "192.0.2.3")], token=bob)

    assert {e["zone"] for e in entries(srv, "?actor=bob")} == {"one.test.", "two.test."}
    assert [e["action"] for e in entries(srv, "?actor=alice&zone=one.test")] == ["zone.create"]
    assert len(entries(srv, "?zone=ONE.test.")) == 2
    since = entries(srv, f"?since={int(middle)}&zone=one.test")
    assert [e["action"] for e in since] == ["rrsets.patch"]
    stamp = datetime.datetime.fromtimestamp(middle, datetime.timezone.utc)
    rfc = stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert [e["zone"] for e in entries(srv, f"?since={rfc}&actor=bob")] == \
        ["one.test.", "two.test."]
    local = stamp.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    q = local.strftime("%Y-%m-%dT%H:%M:%S.%f+02:00").replace("+", "%2B")
    assert [e["action"] for e in entries(srv, f"?until={q}&zone=one.test")] == ["zone.create"]
    assert len(entries(srv, "?limit=1")) == 1
    for bad in ["since=yesterday", "until=2024-13-01T00:00:00Z", "since=2024-02-30T00:00:00Z",
                "limit=0", "limit=1001", "limit=x", "zone=a..b", "color=red"]:
        key = bad.split("=")[0]
        assert_error(srv.get("audit?" + bad), 400, key)


def test_scope_of_audit(api):
    srv = api()
    srv.create_zone("mine.test.")
    srv.create_zone("theirs.test.")
    reader = srv.make_token("reader", "zone:mine.test:read")
    got = entries(srv, "?zone=mine.test", token=reader)
    assert {e["zone"] for e in got} == {"mine.test."}
    assert_error(srv.get("audit?zone=theirs.test", token=reader), 403)
    assert_error(srv.get("audit", token=reader), 403)
