"""REST API authentication and authorization (issue 3): bearer tokens made
with `cirrus token create` or POST /api/v1/tokens, stored hashed; 401 with
WWW-Authenticate without a valid token, 403 outside the token's scopes
(admin, zone:PATTERN:read, zone:PATTERN:write; docs/api.yaml)."""
import hashlib
import sqlite3

import pytest

from util_api import api, assert_error, replace  # noqa: F401 (fixture)


def test_no_token_is_401_with_challenge(api):
    srv = api()
    for method, path in [("GET", "zones"), ("GET", "zones/file.test"), ("GET", "audit"),
                         ("GET", "tokens"), ("DELETE", "zones/file.test")]:
        r = srv.call(method, path, token=None)
        assert_error(r, 401)
        assert r.header("www-authenticate").startswith("Bearer"), r.headers


@pytest.mark.parametrize("authorization", [
    "Bearer cirrus_notarealtoken",
    "Bearer ",
    "Basic YWRtaW46YWRtaW4=",
    "cirrus_abc",
    "Bearer a b",
    "Bearer " + "x" * 5000,
])
def test_bad_token_is_401(api, authorization):
    srv = api()
    srv.admin  # a real token exists; these are still refused
    r = srv.get("zones", token=None, headers={"Authorization": authorization})
    assert_error(r, 401)
    assert r.header("www-authenticate").startswith("Bearer")


def test_token_is_stored_hashed(api):
    srv = api()
    secret = srv.make_token("ci", "zone:*:read")
    db = sqlite3.connect(srv.db)
    rows = db.execute("SELECT * FROM tokens").fetchall()
    db.close()
    dump = repr(rows)
    assert secret not in dump
    assert hashlib.sha256(secret.encode()).hexdigest() in dump
    assert srv.get("zones", token=secret).status == 200


def test_read_scope(api):
    srv = api()
    srv.create_zone("a.test.")
    srv.create_zone("b.test.")
    reader = srv.make_token("reader", "zone:a.test:read")
    r = srv.get("zones", token=reader)
    assert r.status == 200
    assert [z["name"] for z in r.json()["zones"]] == ["a.test."]
    assert srv.get("zones/a.test", token=reader).status == 200
    assert srv.get("zones/A.TEST.", token=reader).status == 200
    assert srv.get("zones/a.test/rrsets", token=reader).status == 200
    assert srv.get("zones/a.test/export", token=reader).status == 200
    assert srv.get("audit?zone=a.test", token=reader).status == 200
    assert_error(srv.get("zones/b.test", token=reader), 403)
    assert_error(srv.get("zones/b.test/rrsets", token=reader), 403)
    assert_error(srv.get("zones/b.test/export", token=reader), 403)
    assert_error(srv.get("audit?zone=b.test", token=reader), 403)
    assert_error(srv.get("audit", token=reader), 403)
    assert_error(srv.get("tokens", token=reader), 403)
    # read does not allow writing, and a 403 changes nothing
    serial = srv.serial("a.test")
    assert_error(srv.patch("a.test", [replace("www", "A", 60, "192.0.2.1")], token=reader), 403)
    assert_error(srv.call("DELETE", "zones/a.test", token=reader), 403)
    assert_error(srv.call("POST", "zones", {"name": "a.test."}, token=reader), 403)
    assert srv.serial("a.test") == serial
    # 403 for a zone outside the scope, whether it exists or not
    assert_error(srv.get("zones/nonexistent.test", token=reader), 403)


def test_write_scope_glob(api):
    srv = api()
    writer = srv.make_token("cust", "zone:*.cust.test:write")
    r = srv.call("POST", "zones", {"name": "shop1.cust.test."}, token=writer)
    assert r.status == 201, r
    r = srv.call("POST", "zones", {"name": "a.b.cust.test"}, token=writer)
    assert r.status == 201, r
    assert_error(srv.call("POST", "zones", {"name": "cust.test."}, token=writer), 403)
    assert_error(srv.call("POST", "zones", {"name": "evilcust.test."}, token=writer), 403)
    assert srv.patch("shop1.cust.test", [replace("www", "A", 60, "192.0.2.9")],
                     token=writer).status == 204
    # write implies read
    assert srv.get("zones/shop1.cust.test/rrsets?name=www&type=A", token=writer).status == 200
    assert srv.call("DELETE", "zones/shop1.cust.test", token=writer).status == 204
    names = [z["name"] for z in srv.get("zones", token=writer).json()["zones"]]
    assert names == ["a.b.cust.test."]
    assert_error(srv.get("tokens", token=writer), 403)


def test_tokens_api(api):
    srv = api()
    r = srv.call("POST", "tokens", {"name": "acme", "scopes": ["ZONE:Example.COM.:write"]})
    assert r.status == 201, r
    body = r.json()
    assert body["name"] == "acme"
    assert body["scopes"] == ["zone:example.com:write"]
    secret = body["token"]
    assert secret.startswith("cirrus_")
    listing = srv.get("tokens")
    assert listing.status == 200
    assert secret.encode() not in listing.body
    tokens = {t["name"]: t for t in listing.json()["tokens"]}
    assert set(tokens) == {"admin", "acme"}
    assert tokens["acme"]["scopes"] == ["zone:example.com:write"]
    assert set(tokens["acme"]) == {"name", "scopes", "created"}
    # the new token works, then stops working once deleted
    assert srv.get("zones", token=secret).status == 200
    assert_error(srv.call("POST", "tokens", {"name": "acme", "scopes": ["admin"]}), 409, "name")
    assert srv.call("DELETE", "tokens/acme").status == 204
    assert_error(srv.get("zones", token=secret), 401)
    assert_error(srv.call("DELETE", "tokens/acme"), 404)


def test_tokens_api_is_admin_only(api):
    """Every /tokens operation needs `admin`; even a token that may write
    every zone gets 403, and nothing changes."""
    srv = api()
    srv.make_token("victim", "zone:a.test:read")
    for scopes in (["zone:*:write"], ["zone:*:read"]):
        name = scopes[0].split(":")[2]
        secret = srv.make_token(f"not-admin-{name}", *scopes)
        assert_error(srv.get("tokens", token=secret), 403)
        assert_error(srv.call("POST", "tokens", {"name": "escalate", "scopes": ["admin"]},
                              token=secret), 403)
        assert_error(srv.call("DELETE", "tokens/victim", token=secret), 403)
        assert_error(srv.call("DELETE", "tokens/admin", token=secret), 403)
    assert_error(srv.call("POST", "tokens", {"name": "x", "scopes": ["admin"]}, token=None), 401)
    assert_error(srv.call("DELETE", "tokens/victim", token="cirrus_" + "A" * 43), 401)
    names = sorted(t["name"] for t in srv.get("tokens").json()["tokens"])
    assert names == ["admin", "not-admin-read", "not-admin-write", "victim"]


@pytest.mark.parametrize("body,field", [
    ({"name": "x", "scopes": ["zone:example.com:delete"]}, "scopes[0]"),
    ({"name": "x", "scopes": ["admin", "root"]}, "scopes[1]"),
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": "admin"}, "scopes"),
    ({"name": "x", "scopes": [7]}, "scopes[0]"),
    ({"name": "bad name", "scopes": ["admin"]}, "name"),
    ({"scopes": ["admin"]}, "name"),
    ({"name": "x", "scopes": ["admin"], "expires": 5}, "expires"),
])
def test_tokens_api_rejects(api, body, field):
    srv = api()
    assert_error(srv.call("POST", "tokens", body), 400, field)
    names = [t["name"] for t in srv.get("tokens").json()["tokens"]]
    assert names == ["admin"]


def test_token_cli(api):
    srv = api()
    secret = srv.make_token("deploy", "zone:a.test:write", "zone:b.test:read")
    res = srv.cli("token", "list", "-c", srv.conf_path)
    assert res.returncode == 0, res.stderr
    assert "deploy" in res.stdout and "zone:a.test:write zone:b.test:read" in res.stdout
    assert secret not in res.stdout
    # the same name twice, a bad scope, bad usage
    res = srv.cli("token", "create", "--name", "deploy", "--scope", "admin", "-c", srv.conf_path)
    assert res.returncode == 1 and "already exists" in res.stderr
    res = srv.cli("token", "create", "--name", "x", "--scope", "zone:a", "-c", srv.conf_path)
    assert res.returncode == 2 and "scope" in res.stderr
    res = srv.cli("token", "create", "--name", "x", "-c", srv.conf_path)
    assert res.returncode == 2
    # deleting takes effect on the running server at once
    assert srv.get("zones", token=secret).status == 200
    res = srv.cli("token", "delete", "deploy", "-c", srv.conf_path)
    assert res.returncode == 0, res.stderr
    assert_error(srv.get("zones", token=secret), 401)
    res = srv.cli("token", "delete", "deploy", "-c", srv.conf_path)
    assert res.returncode == 1 and "no token" in res.stderr
    # both changes are in the audit log, by the local user
    entries = srv.get("audit").json()["entries"]
    actions = [(e["action"], e["actor"].startswith("cli:")) for e in entries]
    assert ("token.create", True) in actions and ("token.delete", True) in actions


def test_token_cache_follows_every_change(api):
    """Accepted tokens are cached (api_token_cache.c), yet a token made by the
    CLI (another process) is accepted at its first use, and one deleted
    through the API or by the CLI is refused at the very next request, each
    after it was used (and so cached) many times."""
    srv = api()
    assert srv.get("tokens").status == 200   # the admin token is cached now
    by_cli = srv.make_token("made-by-cli", "zone:*:read")
    r = srv.call("POST", "tokens", {"name": "made-by-api", "scopes": ["zone:*:read"]})
    assert r.status == 201, r
    by_api = r.json()["token"]
    for _ in range(20):
        assert srv.get("zones", token=by_cli).status == 200
        assert srv.get("zones", token=by_api).status == 200
    assert srv.call("DELETE", "tokens/made-by-cli").status == 204
    assert_error(srv.get("zones", token=by_cli), 401)
    assert srv.get("zones", token=by_api).status == 200
    res = srv.cli("token", "delete", "made-by-api", "-c", srv.conf_path)
    assert res.returncode == 0, res.stderr
    assert_error(srv.get("zones", token=by_api), 401)
    # the admin token, cached all along, still works
    assert srv.get("tokens").status == 200


def test_openapi_needs_no_token(api):
    srv = api()
    r = srv.get("openapi.yaml", token=None)
    assert r.status == 200
    assert r.header("content-type") == "application/yaml"
    assert r.body.startswith(b"openapi: 3.")
