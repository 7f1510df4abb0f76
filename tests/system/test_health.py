"""Health checks against real backends on loopback: HTTP servers (Python's
http.server in threads) that the tests stop and start, an HTTPS server with
a self-signed certificate made with openssl, listening and closed TCP ports,
a UDP DNS responder; calculated checks; answers of failover and weighted
policies flipping within interval x fall + 1 s and coming back after rise
successes; GET /api/v1/health; audit rows; drills over the API and the CLI.
"""
import http.server
import os
import socket
import ssl
import subprocess
import threading
import time

import dns.message
import dns.rcode
import pytest

import conftest
from util_api import ApiServer

ZONE = """$ORIGIN hc.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 900 604800 60
@    NS  ns1
ns1  A   192.0.2.1
"""

PRIMARY, SECONDARY, OTHER = "192.0.2.10", "192.0.2.20", "192.0.2.11"


def wait_for(pred, timeout, step=0.05):
    """Poll pred until it is true; return the seconds it took. Bounded in time."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(step)
    raise AssertionError(f"not true within {timeout} s")


class Backend:
    """An HTTP(S) server on a fixed loopback port that can be stopped and
    started again; answers `status` with `body` and records Host headers."""

    def __init__(self, port=None, tls=None):
        self.port = port or conftest.free_port()
        self.tls = tls
        self.status = 200
        self.body = b"all ok"
        self.hosts = []
        self.server = None

    def start(self):
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                backend.hosts.append(self.headers.get("Host"))
                self.send_response(backend.status)
                self.send_header("Content-Length", str(len(backend.body)))
                self.end_headers()
                self.wfile.write(backend.body)

            def log_message(self, *args):
                pass

        ctx = None
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True

            def finish_request(self, request, client_address):
                # The TLS handshake in the connection's own thread: a client
                # that gives up on it (a failed verification) holds up no one.
                if ctx is not None:
                    request.settimeout(5)
                    try:
                        request = ctx.wrap_socket(request, server_side=True)
                    except (ssl.SSLError, OSError):
                        return
                super().finish_request(request, client_address)

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class DnsResponder:
    """A UDP DNS server in a thread answering every query with `rcode`."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.rcode = dns.rcode.NOERROR
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            q = dns.message.from_wire(wire)
            r = dns.message.make_response(q)
            r.set_rcode(self.rcode)
            self.sock.sendto(r.to_wire(), peer)

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


class HealthServer(ApiServer):
    """An ApiServer whose zone has policies and whose configuration has
    checks (and optionally static health states), given as YAML text."""

    def __init__(self, workdir, checks, policies="", health=""):
        super().__init__(workdir, {"hc.test.": ZONE})
        self.checks, self.policies, self.health = checks, policies, health

    def write_conf(self):
        super().write_conf()
        text = self.conf_path.read_text()
        if self.policies:
            zone_file = conftest.yaml_str(self.zone_path("hc.test."))
            anchor = f"    file: {zone_file}\n"
            text = text.replace(anchor, anchor + "    policies:\n" + self.policies)
        text += "checks:\n" + self.checks + self.health
        self.conf_path.write_text(text)

    def health_keys(self, token="admin"):
        r = self.get("health", token=token)
        assert r.status == 200, r
        return {k["key"]: k for k in r.json()["checks"]}

    def state(self, key):
        return self.health_keys()[key]["state"]

    def answers(self, name):
        r = self.query(f"{name}.hc.test.", "A", timeout=2.0)
        return sorted(rr.to_text() for rrset in r.answer for rr in rrset)

    def audit(self, actor):
        r = self.get(f"audit?actor={actor}&limit=1000")
        assert r.status == 200, r
        return r.json()["entries"]


@pytest.fixture
def health(tmp_path):
    servers = []

    def start(checks, policies="", health=""):
        srv = HealthServer(tmp_path, checks, policies, health)
        servers.append(srv)
        return srv.start()

    yield start
    for srv in servers:
        conftest.assert_clean_exit(srv)


POLICIES = f"""      - name: app
        type: A
        rule: failover
        endpoints:
          - {{ rdata: {PRIMARY}, health: web-a }}
          - {{ rdata: {SECONDARY} }}
      - name: split
        type: A
        rule: weighted
        endpoints:
          - {{ rdata: {PRIMARY}, health: web-a }}
          - {{ rdata: {OTHER} }}
"""


def web_check(name, port, **extra):
    keys = {"name": name, "type": "http", "address": "127.0.0.1", "port": port,
            "interval": "1s", "fall": 2, "rise": 2, "timeout": "500ms", **extra}
    return "  - { " + ", ".join(f"{k}: {v}" for k, v in keys.items()) + " }\n"


def test_http_failover_flips_within_bound_and_returns(health):
    """interval 1 s, fall 2, rise 2: after the backend stops, the failover
    policy answers the secondary within 1 x 2 + 1 s (asserted with 1.5 s of
    margin) and the weighted one stops answering the primary; after it starts
    again the primary is back within rise x interval + 1 s (same margin)."""
    backend = Backend().start()
    srv = health(web_check("web-a", backend.port), POLICIES)
    try:
        wait_for(lambda: srv.state("web-a") == "up", 5)
        assert srv.answers("app") == [PRIMARY]
        backend.stop()
        took = wait_for(lambda: srv.answers("app") == [SECONDARY], 3 + 1.5)
        assert took <= 4.5
        for _ in range(30):   # weight: the drained primary never answers
            assert srv.answers("split") == [OTHER]
        backend.start()
        took = wait_for(lambda: srv.answers("app") == [PRIMARY], 3 + 1.5)
        assert took <= 4.5
        seen = {tuple(srv.answers("split")) for _ in range(60)}
        assert seen == {(PRIMARY,), (OTHER,)}
    finally:
        backend.stop()

    key = srv.health_keys()["web-a"]
    assert key["type"] == "http" and key["state"] == "up" and key["checked"] == "up"
    assert key["last_result"]["ok"] is True
    assert key["last_result"]["message"] == "http: status 200"
    assert key["successes"] >= 2 and key["failures"] == 0
    assert key["last_change"].endswith("Z") and key["drill"] is None
    assert key["static_down"] is False

    rows = [e for e in srv.audit("health") if e["after"]["key"] == "web-a"]
    moves = [(e["before"]["state"], e["after"]["state"]) for e in reversed(rows)]
    assert moves == [("unknown", "up"), ("up", "down"), ("down", "up")], rows
    assert all(e["action"] == "health.transition" for e in rows)
    assert "Couldn't connect" in rows[1]["after"]["reason"] or \
        "refused" in rows[1]["after"]["reason"], rows[1]


def test_http_status_and_body(health):
    backend = Backend().start()
    checks = (web_check("code", backend.port, expect="[200]", fall=1, rise=1) +
              web_check("text", backend.port, body="ok", fall=1, rise=1, path="/health"))
    srv = health(checks)
    try:
        wait_for(lambda: srv.state("code") == "up" and srv.state("text") == "up", 5)
        backend.status = 202   # expected 200 only; the body check takes 200-399
        wait_for(lambda: srv.state("code") == "down", 4)
        assert srv.health_keys()["code"]["last_result"]["message"] == \
            "http: status 202 not expected"
        backend.status, backend.body = 200, b"failure"
        wait_for(lambda: srv.state("code") == "up" and srv.state("text") == "down", 4)
        assert "body without 'ok'" in srv.health_keys()["text"]["last_result"]["message"]
    finally:
        backend.stop()
    assert "127.0.0.1:%d" % backend.port in backend.hosts


def test_tcp_and_calculated_checks_and_static_down(health):
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(16)
    closed = conftest.free_port()
    port = listening.getsockname()[1]
    checks = (f"  - {{ name: open, type: tcp, address: 127.0.0.1, port: {port}, interval: 1s }}\n"
              f"  - {{ name: shut, type: tcp, address: 127.0.0.1, port: {closed}, interval: 1s }}\n"
              f"  - {{ name: held, type: tcp, address: 127.0.0.1, port: {port}, interval: 1s }}\n"
              "  - { name: all, type: calculated, rule: all, checks: [open, shut] }\n"
              "  - { name: any, type: calculated, rule: any, checks: [open, shut] }\n"
              "  - { name: one, type: calculated, rule: at-least, at-least: 1,"
              " checks: [open, shut] }\n"
              "  - { name: two, type: calculated, rule: at-least, at-least: 2,"
              " checks: [open, shut] }\n")
    srv = health(checks, health="health:\n  held: down\n")
    try:
        want = {"open": "up", "shut": "down", "all": "down", "any": "up", "one": "up",
                "two": "down", "held": "down"}
        wait_for(lambda: {k: v["state"] for k, v in srv.health_keys().items()
                          if k in want} == want, 5)
        keys = srv.health_keys()
        assert keys["shut"]["last_result"]["message"].startswith("connect: ")
        assert keys["held"]["checked"] == "up" and keys["held"]["static_down"] is True
        assert keys["all"]["type"] == "calculated"
        listening.close()   # now both are down: any and one follow
        wait_for(lambda: srv.state("any") == "down" and srv.state("one") == "down", 5)
    finally:
        listening.close()


def test_dns_check(health, tmp_path):
    responder = DnsResponder()
    checks = (f"  - {{ name: ns, type: dns, address: 127.0.0.1, port: {responder.port},"
              " query: hc.test, query-type: SOA, interval: 1s, fall: 1, rise: 1 }\n"
              f"  - {{ name: nx, type: dns, address: 127.0.0.1, port: {responder.port},"
              " query: nothing.hc.test, rcode: NXDOMAIN, interval: 1s, fall: 1, rise: 1 }\n")
    srv = health(checks)
    try:
        wait_for(lambda: srv.state("ns") == "up" and srv.state("nx") == "down", 5)
        assert srv.health_keys()["nx"]["last_result"]["message"] == \
            "dns: rcode NOERROR, expected NXDOMAIN"
        responder.rcode = dns.rcode.NXDOMAIN
        wait_for(lambda: srv.state("ns") == "down" and srv.state("nx") == "up", 4)
        responder.rcode = dns.rcode.NOERROR
        wait_for(lambda: srv.state("ns") == "up", 4)
    finally:
        responder.stop()
    # No responder: no answer within the timeout (or ICMP unreachable).
    wait_for(lambda: srv.state("ns") == "down", 4)


def test_dns_check_against_cirrus(health, cirrus):
    """A DNS check whose target is a second, real cirrus serve."""
    other = cirrus({"hc.test.": ZONE})
    checks = (f"  - {{ name: peer, type: dns, address: 127.0.0.1, port: {other.port},"
              " query: hc.test, interval: 1s, fall: 1, rise: 1 }\n"
              f"  - {{ name: peer-nx, type: dns, address: 127.0.0.1, port: {other.port},"
              " query: missing.hc.test, query-type: A, rcode: NXDOMAIN, interval: 1s }\n")
    srv = health(checks)
    wait_for(lambda: srv.state("peer") == "up" and srv.state("peer-nx") == "up", 5)
    conftest.assert_clean_exit(other)
    wait_for(lambda: srv.state("peer") == "down", 4)


def make_cert(tmp_path):
    cert, key = tmp_path / "backend.pem", tmp_path / "backend.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=backend.test", "-addext", "subjectAltName=DNS:backend.test",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def test_https_check(health, tmp_path):
    cert, key = make_cert(tmp_path)
    backend = Backend(tls=(cert, key)).start()
    p = backend.port
    slow = "interval: 1s"
    checks = (f"  - {{ name: tls, type: https, address: 127.0.0.1, port: {p}, host: backend.test,"
              f" ca-file: {conftest.yaml_str(cert)}, {slow}, fall: 1, rise: 1 }}\n"
              f"  - {{ name: tls-ip, type: https, address: 127.0.0.1, port: {p},"
              f" ca-file: {conftest.yaml_str(cert)}, {slow} }}\n"
              f"  - {{ name: tls-any, type: https, address: 127.0.0.1, port: {p},"
              f" insecure: true, {slow}, fall: 1, rise: 1 }}\n"
              f"  - {{ name: tls-system, type: https, address: 127.0.0.1, port: {p},"
              f" host: backend.test, {slow} }}\n")
    srv = health(checks)
    try:
        # Verified with the CA file and the name (SNI and Host: backend.test);
        # by IP the name does not match; without the CA file it is untrusted.
        want = {"tls": "up", "tls-ip": "down", "tls-any": "up", "tls-system": "down"}
        # Generous: this is about what TLS verification decides, not how fast
        # (the flip timing is asserted in the tests above), and TLS handshakes
        # under the sanitizers on a busy machine take a while.
        wait_for(lambda: {k: v["state"] for k, v in srv.health_keys().items()} == want, 20)
        assert f"backend.test:{p}" in backend.hosts
        backend.stop()
        wait_for(lambda: srv.state("tls") == "down" and srv.state("tls-any") == "down", 10)
    finally:
        backend.stop()


def test_drills_api_and_cli(health):
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(16)
    port = listening.getsockname()[1]
    policies = POLICIES.replace("web-a", "db")
    checks = f"  - {{ name: db, type: tcp, address: 127.0.0.1, port: {port}, interval: 1s }}\n"
    srv = health(checks, policies)
    url = f"http://127.0.0.1:{srv.api_port}"
    try:
        wait_for(lambda: srv.state("db") == "up", 5)
        assert srv.answers("app") == [PRIMARY]

        reader = srv.make_token("reader", "zone:*:read")
        assert srv.get("health", token=reader).status == 200
        r = srv.call("POST", "health/db/drill", {"down": "2s"}, token=reader)
        assert r.status == 403, r
        assert srv.call("POST", "health/nope/drill", {"down": "2s"}).status == 404
        assert srv.call("POST", "health/db/drill", {"down": "soon"}).status == 400
        assert srv.call("POST", "health/db/drill", {"down": "2s", "x": 1}).status == 400

        # API drill: down at once, back by itself once the time is up.
        r = srv.call("POST", "health/db/drill", {"down": "2s"})
        assert r.status == 200, r
        body = r.json()
        assert body["state"] == "down" and body["checked"] == "up"
        assert body["drill"]["by"] == "admin"
        assert srv.answers("app") == [SECONDARY]
        took = wait_for(lambda: srv.answers("app") == [PRIMARY], 2 + 2)
        assert took >= 1.0    # it did last (the drill was 2 s from the POST)
        assert srv.health_keys()["db"]["drill"] is None

        # CLI drill, shown by cirrus health, ended early with --end.
        env = dict(os.environ, CIRRUS_TOKEN=srv.admin)
        res = subprocess.run([conftest.cirrus_bin(), "drill", "db", "--down", "60s", "-u", url],
                             capture_output=True, text=True, timeout=30, env=env)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("db: down, drill until "), res.stdout
        assert srv.answers("app") == [SECONDARY]
        res = subprocess.run([conftest.cirrus_bin(), "health", "-c", str(srv.conf_path)],
                             capture_output=True, text=True, timeout=30, env=env)
        assert res.returncode == 0, res.stderr
        line = [ln for ln in res.stdout.splitlines() if ln.startswith("db ")][0]
        assert line.split()[1:4] == ["tcp", "down", "up"], line
        assert "by admin" in line
        res = subprocess.run([conftest.cirrus_bin(), "drill", "db", "--end", "-u", url],
                             capture_output=True, text=True, timeout=30, env=env)
        assert res.returncode == 0 and res.stdout == "db: up, no drill\n", res
        assert srv.answers("app") == [PRIMARY]
        res = subprocess.run([conftest.cirrus_bin(), "drill", "db", "--down", "60s", "-u", url],
                             capture_output=True, text=True, timeout=30,
                             env=dict(env, CIRRUS_TOKEN="cirrus_wrong"))
        assert res.returncode == 1 and "401" in res.stderr, res
    finally:
        listening.close()

    drills = [e for e in srv.audit("admin") if e["action"] == "health.drill"]
    assert [e["after"]["down_ms"] for e in reversed(drills)] == [2000, 60000, 0]
    moves = [(e["before"]["state"], e["after"]["state"], e["after"]["reason"])
             for e in reversed(srv.audit("health")) if e["after"]["key"] == "db"]
    assert moves[1:5] == [("up", "down", "drill by admin"),
                          ("down", "up", "drill or static hold ended"),
                          ("up", "down", "drill by admin"),
                          ("down", "up", "drill or static hold ended")], moves


def test_bad_checks_refused(tmp_path):
    """Mistakes in checks stop the server with the file and line."""
    conf = tmp_path / "cirrus.yaml"
    cases = [
        ("checks:\n  - { name: a, type: tcp, address: 127.0.0.1 }\n",
         "cirrus.yaml:2: check a: a tcp check needs a port"),
        ("checks:\n  - { name: a, type: http, address: 127.0.0.1, interval: 500ms }\n",
         "cirrus.yaml:2: check a: interval must be a duration from 1s to 1h"),
        ("checks:\n  - { name: a, type: tcp, address: 127.0.0.1, port: 1, body: x }\n",
         "cirrus.yaml:2: check a: 'body' does not apply to a tcp check"),
        ("checks:\n  - { name: c, type: calculated, rule: any, checks: [b] }\n",
         "cirrus.yaml:2: check c: 'b' is not a check declared above it"),
        ("checks:\n  - { name: a, type: ping, address: 127.0.0.1 }\n",
         "cirrus.yaml:2: check a: type must be http, https, tcp, dns or calculated"),
    ]
    for text, want in cases:
        conf.write_text(text)
        res = subprocess.run([conftest.cirrus_bin(), "serve", "-c", str(conf)],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 1 and want in res.stderr, (text, res.stderr)
