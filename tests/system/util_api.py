"""Helpers for the REST API system tests: a cirrus with the `api` and
`store` sections on top of conftest's Server, tokens made with the real
`cirrus token create`, and a small HTTP client on http.client.

Not a fixture file: conftest.py owns the Server class; test modules import
the `api` fixture from here (`from util_api import api`).
"""
import http.client
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import conftest

REPO = Path(__file__).resolve().parents[2]

ZONE_FILE = """$ORIGIN file.test.
$TTL 300
@    SOA ns1 hostmaster 7 3600 900 604800 60
@    NS  ns1
ns1  A   192.0.2.1
www  A   192.0.2.80
"""


class Response:
    """An HTTP answer: status, headers (case-insensitive get) and body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class ApiServer(conftest.Server):
    """A cirrus serving DNS and the REST API on free loopback ports."""

    def __init__(self, workdir, zones, api_conf=None, store_conf=None):
        super().__init__(workdir, zones)
        self.api_port = conftest.free_port()
        self.api_conf = dict(api_conf or {})
        self.store_conf = dict(store_conf or {})
        self.db = self.workdir / "cirrus.db"
        self.scheme = "https" if "tls-cert" in self.api_conf else "http"
        self._admin = None

    def write_conf(self):
        super().write_conf()
        api = {"enabled": "true", "listen": "127.0.0.1", "port": self.api_port}
        api.update(self.api_conf)
        store = {"path": self.db.name}
        store.update(self.store_conf)
        lines = ["store:"] + [f"  {k}: {v}" for k, v in store.items()]
        lines += ["api:"] + [f"  {k}: {v}" for k, v in api.items()]
        with open(self.conf_path, "a") as f:
            f.write("\n".join(lines) + "\n")

    def wait_ready(self, timeout=20.0):
        super().wait_ready(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.api_port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the API did not listen within {timeout}s:\n{self.log()}")

    # -- tokens ----------------------------------------------------------
    def cli(self, *args):
        # Where the server runs: `-c FILE` without a store section means
        # ./cirrus.db there.
        return subprocess.run([conftest.cirrus_bin(), *map(str, args)],
                              capture_output=True, text=True, timeout=30, cwd=self.cwd)

    def make_token(self, name, *scopes):
        """A token made with `cirrus token create`; returns its secret."""
        args = ["token", "create", "--name", name, "-c", self.conf_path]
        for s in scopes:
            args += ["--scope", s]
        res = self.cli(*args)
        assert res.returncode == 0, res.stderr
        secret = res.stdout.strip()
        assert secret.startswith("cirrus_") and "\n" not in secret, res.stdout
        return secret

    @property
    def admin(self):
        if self._admin is None:
            self._admin = self.make_token("admin", "admin")
        return self._admin

    # -- HTTP ------------------------------------------------------------
    def connection(self, timeout=10):
        if self.scheme == "https":
            import ssl
            ctx = ssl.create_default_context(cafile=self.api_conf["tls-cert"].strip('"'))
            ctx.check_hostname = False
            return http.client.HTTPSConnection("127.0.0.1", self.api_port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=timeout)

    def call(self, method, path, body=None, token="admin", headers=None,
             content_type="application/json"):
        """One request. body: dict/list (sent as JSON), str or bytes.
        token: "admin" (the admin token), None (no header) or a secret."""
        hdrs = dict(headers or {})
        if token == "admin":
            token = self.admin
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body is not None and content_type is not None:
            hdrs["Content-Type"] = content_type
        if not path.startswith("/"):
            path = "/api/v1/" + path
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def patch(self, zone, changes, **kw):
        return self.call("PATCH", f"zones/{zone}/rrsets", {"rrsets": changes}, **kw)

    def create_zone(self, name, **fields):
        r = self.call("POST", "zones", {"name": name, **fields})
        assert r.status == 201, r
        return r.json()

    def serial(self, zone):
        r = self.get(f"zones/{zone}")
        assert r.status == 200, r
        return r.json()["serial"]


def kill_9_when(srv, acked, count, threads, stop, timeout=30):
    """SIGKILL the server once `acked` holds `count` entries (or after
    `timeout` s), then tell the writer threads to stop and join them."""
    deadline = time.monotonic() + timeout
    while len(acked) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=30)


def replace(name, rtype, ttl, *records):
    return {"name": name, "type": rtype, "ttl": ttl, "changetype": "REPLACE",
            "records": list(records)}


def delete(name, rtype):
    return {"name": name, "type": rtype, "changetype": "DELETE"}


def assert_error(resp, status, field=None):
    """resp is status with the {"error", "field"} body (field checked if given)."""
    assert resp.status == status, resp
    assert resp.header("content-type") == "application/json", resp.headers
    body = resp.json()
    assert set(body) == {"error", "field"}, body
    assert body["error"], body
    if field is not None:
        assert body["field"] == field, body
    return body


@pytest.fixture
def api(tmp_path):
    """Factory: api(zones={origin: text}, api_conf={...}, store_conf={...})
    -> a started ApiServer. Stopped with conftest's clean-exit checks."""
    servers = []

    def start(zones=None, api_conf=None, store_conf=None):
        srv = ApiServer(tmp_path, zones if zones is not None else {"file.test.": ZONE_FILE},
                        api_conf, store_conf)
        servers.append(srv)
        return srv.start()

    yield start
    for srv in servers:
        conftest.assert_clean_exit(srv)
