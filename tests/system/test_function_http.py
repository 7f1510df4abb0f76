"""`cirrus function http`: DoH (RFC 8484) and the JSON API over HTTP, the
trusted-proxy rule, store changes picked up while running, draining on
SIGTERM, and every refusal status. The real binary on a loopback port;
clients are dnspython's DoH (httpx), http.client, raw sockets and curl.
"""
import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import time

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

import conftest
from util_api import api, replace  # noqa: F401 (fixture)

ZONE = """$ORIGIN fn.test.
$TTL 300
@      600 SOA ns1 hostmaster 1 3600 900 604800 120
@          NS  ns1
ns1        A   192.0.2.1
www        A   192.0.2.80
www        AAAA 2001:db8::80
alias   60 CNAME www
txt        TXT "hello world" "two"
mail       MX  10 www
"""

STORE_ZONE = """$ORIGIN store.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 900 604800 60
@    NS  ns1
ns1  A   192.0.2.1
www  A   192.0.2.10
"""


class FnServer:
    """A running `cirrus function http` with a small HTTP client."""

    def __init__(self, workdir, args, env=None, name="fn"):
        self.workdir = workdir
        self.port = conftest.free_port()
        self.args = list(args)
        self.env = env
        self.stderr_path = workdir / f"{name}.stderr"
        self.proc = None

    def start(self, port_flag=True):
        env = dict(os.environ, **(self.env or {}))
        cmd = [conftest.cirrus_bin(), "function", "http", "--listen", "127.0.0.1"]
        if port_flag:
            cmd += ["--port", str(self.port)]
        else:  # $PORT decides; 0 lets the kernel choose, and the log says which
            self.port = int(env["PORT"]) or None
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(cmd + self.args, stdout=self.stderr, stderr=self.stderr,
                                     env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}:\n{self.log()}")
            if self.port is None:
                lines = [l for l in self.log().splitlines() if "http listening on" in l]
                self.port = int(lines[-1].rsplit(" ", 1)[1]) if lines else None
            try:
                if self.port and self.request("GET", "/healthz", timeout=0.5)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"did not answer /healthz within 20 s:\n{self.log()}")

    def url(self, path="/dns-query"):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method, path, body=None, headers=None, timeout=5):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def resolve(self, **params):
        from urllib.parse import urlencode
        status, headers, body = self.request("GET", "/resolve?" + urlencode(params))
        assert status == 200, (status, body)
        assert headers["content-type"] == "application/dns-json", headers
        return json.loads(body), headers

    def doh_get(self, wire):
        dns_param = base64.urlsafe_b64encode(wire).rstrip(b"=").decode()
        return self.request("GET", "/dns-query?dns=" + dns_param)

    def doh_post(self, wire, content_type="application/dns-message"):
        return self.request("POST", "/dns-query", body=wire,
                            headers={"Content-Type": content_type})

    def log(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("function http did not exit within 15 s of SIGTERM")
        finally:
            self.stderr.close()


def write_conf(tmp_path, zones, level="info"):
    lines = ["log:", f"  level: {level}", "store:", "  path: absent.db", "zones:"]
    for origin, text in zones.items():
        path = tmp_path / ("fn-" + origin.strip(".") + ".zone")
        path.write_text(text)
        lines += [f"  - origin: {origin}", f"    file: {path}"]
    conf = tmp_path / "function.yaml"
    conf.write_text("\n".join(lines) + "\n")
    return conf


@pytest.fixture
def function(tmp_path):
    """Factory: function(*args, zones=..., level=..., env=...) -> started FnServer.
    With zones, a cirrus.yaml listing them is passed with -c."""
    servers = []

    def start(*args, zones=None, level="info", env=None, port_flag=True, name="fn"):
        args = list(args)
        if zones is not None:
            args = ["-c", str(write_conf(tmp_path, zones, level))] + args
        srv = FnServer(tmp_path, args, env, name)
        servers.append(srv)
        return srv.start(port_flag)

    yield start
    for srv in servers:
        conftest.assert_clean_exit(srv)


@pytest.fixture
def fn(function):
    return function(zones={"fn.test.": ZONE})


def query(name, rtype="A", qid=None, **kw):
    q = dns.message.make_query(name, rtype, **kw)
    if qid is not None:
        q.id = qid
    return q


# -- DoH ---------------------------------------------------------------------

def test_doh_post_and_get_with_dnspython(fn):
    for post in (True, False):
        for qid in (0, 4242):
            q = query("www.fn.test.", "AAAA", qid)
            r = dns.query.https(q, fn.url(), post=post, timeout=5)
            assert r.id == qid
            assert r.rcode() == dns.rcode.NOERROR
            assert r.flags & dns.flags.AA
            assert [rd.address for rd in r.answer[0]] == ["2001:db8::80"]


def test_doh_headers_and_cache_control(fn):
    status, headers, body = fn.doh_post(query("www.fn.test.").to_wire())
    assert status == 200
    assert headers["content-type"] == "application/dns-message"
    assert headers["cache-control"] == "max-age=300"
    assert dns.message.from_wire(body).answer[0][0].address == "192.0.2.80"
    # The smallest TTL of the answer: the CNAME's 60, not the target's 300.
    status, headers, body = fn.doh_get(query("alias.fn.test.").to_wire())
    assert status == 200 and headers["cache-control"] == "max-age=60"
    assert len(dns.message.from_wire(body).answer) == 2


def test_doh_negative_cache_control_is_soa_minimum(fn):
    # SOA TTL 600, MINIMUM 120: RFC 2308 says min(600, 120).
    for name, rtype, rcode in (("nothing.fn.test.", "A", dns.rcode.NXDOMAIN),
                               ("www.fn.test.", "MX", dns.rcode.NOERROR)):
        status, headers, body = fn.doh_post(query(name, rtype).to_wire())
        assert status == 200
        assert dns.message.from_wire(body).rcode() == rcode
        assert headers["cache-control"] == "max-age=120"


def test_doh_no_max_age_without_records(fn):
    status, headers, body = fn.doh_post(query("other.example.", "A").to_wire())
    assert status == 200
    assert dns.message.from_wire(body).rcode() == dns.rcode.REFUSED
    assert "cache-control" not in headers


def test_doh_large_answer_is_not_truncated(function):
    many = "".join(f"big A 10.0.{i // 250}.{i % 250 + 1}\n" for i in range(600))
    srv = function(zones={"fn.test.": ZONE + many})
    status, _, body = srv.doh_post(query("big.fn.test.").to_wire())
    r = dns.message.from_wire(body)
    assert status == 200 and not r.flags & dns.flags.TC
    assert len(body) > 4096 and len(r.answer[0]) == 600


# -- the JSON API ------------------------------------------------------------

def test_json_answer(fn):
    doc, headers = fn.resolve(name="www.fn.test")
    assert headers["cache-control"] == "max-age=300"
    assert doc == {"Status": 0, "TC": False, "RD": True, "RA": False, "AD": False,
                   "CD": False, "Question": [{"name": "www.fn.test.", "type": 1}],
                   "Answer": [{"name": "www.fn.test.", "type": 1, "TTL": 300,
                               "data": "192.0.2.80"}]}
    for rtype in ("AAAA", "aaaa", "28"):
        doc, _ = fn.resolve(name="www.fn.test.", type=rtype)
        assert doc["Answer"] == [{"name": "www.fn.test.", "type": 28, "TTL": 300,
                                  "data": "2001:db8::80"}]


def test_json_presentation_form(fn):
    doc, _ = fn.resolve(name="txt.fn.test", type="TXT")
    assert doc["Answer"][0]["data"] == '"hello world" "two"'
    doc, _ = fn.resolve(name="mail.fn.test", type="MX")
    assert doc["Answer"][0]["data"] == "10 www.fn.test."
    assert {"name": "www.fn.test.", "type": 1, "TTL": 300,
            "data": "192.0.2.80"} in doc["Additional"]


def test_json_nxdomain(fn):
    doc, headers = fn.resolve(name="nothing.fn.test", type="A")
    assert doc["Status"] == 3
    assert "Answer" not in doc
    assert doc["Authority"][0]["type"] == 6
    assert doc["Authority"][0]["data"].startswith("ns1.fn.test. hostmaster.fn.test. 1 ")
    assert headers["cache-control"] == "max-age=120"


def test_json_cname(fn):
    doc, _ = fn.resolve(name="alias.fn.test")
    assert doc["Status"] == 0
    assert doc["Answer"] == [
        {"name": "alias.fn.test.", "type": 5, "TTL": 60, "data": "www.fn.test."},
        {"name": "www.fn.test.", "type": 1, "TTL": 300, "data": "192.0.2.80"}]


def test_json_flags_and_client_subnet(fn):
    doc, _ = fn.resolve(name="www.fn.test", cd="1", do="true",
                        edns_client_subnet="198.51.100.77/24")
    assert doc["CD"] is True and doc["Status"] == 0
    assert doc["edns_client_subnet"] == "198.51.100.0/24"
    doc, _ = fn.resolve(name="www.fn.test", edns_client_subnet="2001:db8:1:2::1")
    assert doc["edns_client_subnet"] == "2001:db8:1::/56"


# -- refusals ----------------------------------------------------------------

def reason(body):
    text = body.decode()
    assert text.endswith("\n") and 0 < len(text) < 200, text
    return text


def test_bad_requests(fn):
    response = dns.message.make_response(query("www.fn.test."))
    notify = query("fn.test.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    cases = [
        ("GET", "/dns-query?dns=!!!", None, {}, 400),
        ("GET", "/dns-query?dns=A", None, {}, 400),            # not a base64 length
        ("GET", "/dns-query", None, {}, 400),                  # no dns parameter
        ("GET", "/dns-query?dns=AAAA", None, {}, 400),         # shorter than a header
        ("POST", "/dns-query", response.to_wire(),
         {"Content-Type": "application/dns-message"}, 400),   # QR=1
        ("POST", "/dns-query", notify.to_wire(),
         {"Content-Type": "application/dns-message"}, 400),   # opcode NOTIFY
        ("POST", "/dns-query", b"", {"Content-Type": "application/dns-message"}, 400),
        ("POST", "/dns-query", query("www.fn.test.").to_wire(),
         {"Content-Type": "application/octet-stream"}, 415),
        ("POST", "/dns-query", query("www.fn.test.").to_wire(), {}, 415),
        ("POST", "/dns-query", b"\0" * 70000,
         {"Content-Type": "application/dns-message"}, 413),
        ("GET", "/resolve", None, {}, 400),                    # no name
        ("GET", "/resolve?name=www.fn.test&type=BOGUS", None, {}, 400),
        ("GET", "/resolve?name=www.fn.test&do=maybe", None, {}, 400),
        ("GET", "/resolve?name=a..b", None, {}, 400),
        ("GET", "/resolve?name=www.fn.test&edns_client_subnet=1.2.3.4/33", None, {}, 400),
        ("GET", "/nothing-here", None, {}, 404),
        ("GET", "/", None, {}, 404),
        ("PUT", "/dns-query", b"x", {"Content-Type": "application/dns-message"}, 405),
        ("DELETE", "/resolve", None, {}, 405),
        ("POST", "/healthz", b"", {}, 405),
    ]
    for method, path, body, headers, want in cases:
        status, hdrs, text = fn.request(method, path, body, headers)
        assert status == want, (method, path, status, text)
        reason(text)
        if want == 405:
            assert hdrs["allow"] in ("GET", "GET, POST")
    status, headers, _ = fn.doh_post(query("www.fn.test.").to_wire())
    assert status == 200


def test_oversized_chunked_body_is_413(fn):
    with socket.create_connection(("127.0.0.1", fn.port), timeout=5) as s:
        s.sendall(b"POST /dns-query HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/dns-message\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"\0" * 8192
        try:
            for _ in range(10):
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may close once it has answered
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413 "), reply


def test_garbage_http_does_not_crash(fn):
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64,
                 b"GET /dns-query?dns=" + b"A" * 100000 + b" HTTP/1.1\r\n\r\n",
                 b"GET / HTTP/9.9\r\n\r\n", b"\r\n\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", fn.port), timeout=5) as s:
            try:
                s.sendall(junk)
                s.recv(4096)
            except OSError:
                pass
    assert fn.request("GET", "/healthz")[0] == 200


# -- health ------------------------------------------------------------------

def test_health_and_ready(fn):
    status, headers, body = fn.request("GET", "/healthz")
    assert status == 200 and body == b"ok\n"
    status, headers, body = fn.request("GET", "/readyz")
    assert status == 200 and body == b"ready: 1 zone\n"


@pytest.mark.parametrize("threads", [None, "1", "3"])
def test_threads_answer_in_parallel_and_start_without_warnings(function, threads):
    import concurrent.futures
    srv = function(*(["--threads", threads] if threads else []), zones={"fn.test.": ZONE})
    wire = query("www.fn.test.").to_wire()
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: srv.doh_post(wire), range(24)))
    for status, _, body in results:
        assert status == 200
        assert dns.message.from_wire(body).answer[0][0].address == "192.0.2.80"
    assert "warning" not in srv.log(), srv.log()


# -- the client address behind proxies ---------------------------------------

def clients(srv, headers_list):
    """The client each DoH request was logged for (log level debug)."""
    seen = []
    for headers in headers_list:
        before = srv.log()
        status, _, _ = srv.request("POST", "/dns-query", query("www.fn.test.").to_wire(),
                                   dict(headers, **{"Content-Type":
                                                    "application/dns-message"}))
        assert status == 200
        new = srv.log()[len(before):]
        lines = [l for l in new.splitlines() if "POST /dns-query -> 200" in l]
        assert len(lines) == 1, new
        seen.append(lines[0].split("function: ")[1].split(" ")[0])
    return seen


def test_forwarded_for_only_from_trusted_proxies(function):
    untrusting = function(zones={"fn.test.": ZONE}, level="debug", name="plain")
    assert clients(untrusting, [{"X-Forwarded-For": "203.0.113.7"}]) == ["127.0.0.1"]
    srv = function("--trusted-proxy", "127.0.0.0/8", "-t", "10.0.0.0/8",
                   zones={"fn.test.": ZONE}, level="debug", name="proxied")
    assert clients(srv, [
        {},
        {"X-Forwarded-For": "203.0.113.7"},
        # The first untrusted hop from the right; what the client wrote is ignored.
        {"X-Forwarded-For": "198.51.100.1, 203.0.113.7, 10.1.2.3"},
        {"X-Forwarded-For": "198.51.100.1, 10.1.2.3"},
        {"X-Forwarded-For": "garbage, 10.1.2.3"},
        {"Forwarded": 'for="[2001:db8::7]:4711";proto=https'},
        {"Forwarded": "for=192.0.2.60, for=10.0.0.1",
         "X-Forwarded-For": "203.0.113.99"},
        {"Forwarded": "for=unknown"},
    ]) == ["127.0.0.1", "203.0.113.7", "203.0.113.7", "198.51.100.1", "10.1.2.3",
           "2001:db8::7", "192.0.2.60", "127.0.0.1"]


# -- zones from the store ----------------------------------------------------

def cirrus_cli(*args):
    return subprocess.run([conftest.cirrus_bin(), *map(str, args)], capture_output=True,
                          text=True, timeout=30)


def wait_for(check, timeout=5.0):
    """Poll check() until it is truthy; the time it took, or fail."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    pytest.fail(f"condition not met within {timeout} s")


def answer_of(srv, name, rtype="A"):
    doc, _ = srv.resolve(name=name, type=rtype)
    return doc["Status"], [a["data"] for a in doc.get("Answer", [])]


def test_store_changes_without_restart(api, function, tmp_path):
    writer = api()  # cirrus serve with the REST API over tmp_path/cirrus.db
    writer.create_zone("api.test.", nameservers=["ns1.api.test."])
    assert writer.patch("api.test", [replace("www", "A", 60, "192.0.2.1")]).status == 204
    srv = function("--db", writer.db, "--poll-interval", "100",
                   zones={"fn.test.": ZONE})
    assert answer_of(srv, "www.api.test") == (0, ["192.0.2.1"])
    assert answer_of(srv, "www.fn.test") == (0, ["192.0.2.80"])
    assert srv.request("GET", "/readyz")[2] == b"ready: 2 zones\n"
    # A change through the API of a running `cirrus serve`.
    assert writer.patch("api.test", [replace("www", "A", 60, "192.0.2.2")]).status == 204
    took = wait_for(lambda: answer_of(srv, "www.api.test") == (0, ["192.0.2.2"]))
    assert took < 2.0
    # A zone added by `cirrus zone import` into the same file.
    zone_file = tmp_path / "store.test.zone"
    zone_file.write_text(STORE_ZONE)
    res = cirrus_cli("zone", "import", zone_file, "--db", writer.db)
    assert res.returncode == 0, res.stderr
    wait_for(lambda: answer_of(srv, "www.store.test") == (0, ["192.0.2.10"]))
    # A deleted zone is no longer served.
    assert writer.call("DELETE", "zones/api.test").status == 204
    wait_for(lambda: answer_of(srv, "www.api.test")[0] == dns.rcode.REFUSED)
    assert answer_of(srv, "www.fn.test") == (0, ["192.0.2.80"])


def test_store_policies(api, function):
    """Routing policies made through the API are served in function mode
    too, and a change to one reaches it like any change of its zone."""
    writer = api()
    writer.create_zone("pol.test.", nameservers=["ns1.pol.test."])
    spec = {"rule": "weighted", "endpoints": [{"rdata": "192.0.2.9", "weight": 0},
                                              {"rdata": "192.0.2.10"}]}
    assert writer.call("PUT", "zones/pol.test/policies/www/A", spec).status == 201
    srv = function("--db", writer.db, "--poll-interval", "100", zones={"fn.test.": ZONE})
    for _ in range(20):  # never the drained endpoint the zone's placeholder holds
        assert answer_of(srv, "www.pol.test") == (0, ["192.0.2.10"])
    spec["endpoints"][1]["rdata"] = "192.0.2.11"
    assert writer.call("PUT", "zones/pol.test/policies/www/A", spec).status == 200
    wait_for(lambda: answer_of(srv, "www.pol.test") == (0, ["192.0.2.11"]))


def test_store_latency_table_changes(api, function):
    """A latency table changed or added through the API moves no zone's
    serial, yet the function's policies read the new one at the next poll.
    The client is the HTTP peer, 127.0.0.1."""
    def rtt(eu, us):
        return {"rows": [{"prefix": "127.0.0.0/8", "region": "eu", "ms": eu},
                         {"prefix": "127.0.0.0/8", "region": "us", "ms": us}]}
    writer = api()
    writer.create_zone("lat.test.", nameservers=["ns1.lat.test."])
    assert writer.call("PUT", "latency/rtt", rtt(10, 90)).status == 204
    spec = {"rule": "latency", "latency-table": "rtt", "endpoints": [
        {"rdata": "192.0.2.1", "region": "eu"}, {"rdata": "192.0.2.2", "region": "us"}]}
    assert writer.call("PUT", "zones/lat.test/policies/www/A", spec).status == 201
    srv = function("--db", writer.db, "--poll-interval", "100")
    assert answer_of(srv, "www.lat.test") == (0, ["192.0.2.1"])
    serial = writer.serial("lat.test.")
    assert writer.call("PUT", "latency/rtt", rtt(90, 10)).status == 204
    assert writer.serial("lat.test.") == serial
    wait_for(lambda: answer_of(srv, "www.lat.test") == (0, ["192.0.2.2"]))


def test_store_is_opened_read_only(tmp_path):
    missing = tmp_path / "missing.db"
    res = cirrus_cli("function", "http", "--db", missing, "--listen", "127.0.0.1",
                     "--port", conftest.free_port())
    assert res.returncode == 1
    assert "missing.db" in res.stderr
    assert not missing.exists()


def test_store_zone_from_a_store_file_that_appears_later(function, tmp_path):
    # With -c, store.path may not exist yet: served once it appears.
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "fn.test.zone").write_text(ZONE)
    (conf_dir / "cirrus.yaml").write_text(
        "store:\n  path: later.db\nzones:\n  - origin: fn.test.\n    file: fn.test.zone\n")
    srv = function("-c", conf_dir / "cirrus.yaml", "--poll-interval", "100")
    assert answer_of(srv, "www.store.test")[0] == dns.rcode.REFUSED
    zone_file = tmp_path / "store.test.zone"
    zone_file.write_text(STORE_ZONE)
    res = cirrus_cli("zone", "import", zone_file, "--db", conf_dir / "later.db")
    assert res.returncode == 0, res.stderr
    wait_for(lambda: answer_of(srv, "www.store.test") == (0, ["192.0.2.10"]))


# -- lifecycle -----------------------------------------------------------------

def test_port_from_environment(function):
    port = conftest.free_port()
    srv = function(zones={"fn.test.": ZONE}, port_flag=False, env={"PORT": str(port)})
    assert srv.port == port
    assert answer_of(srv, "www.fn.test") == (0, ["192.0.2.80"])
    chosen = function(zones={"fn.test.": ZONE}, port_flag=False, env={"PORT": "0"},
                      name="chosen")
    assert chosen.port not in (None, 0, port)
    assert chosen.request("GET", "/healthz")[0] == 200


def test_sigterm_finishes_a_request_in_flight(fn):
    wire = query("www.fn.test.").to_wire()
    s = socket.create_connection(("127.0.0.1", fn.port), timeout=5)
    s.sendall(b"POST /dns-query HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/dns-message\r\n"
              b"Content-Length: %d\r\n\r\n" % len(wire) + wire[:10])
    time.sleep(0.2)  # the server has the headers and part of the body
    start = time.monotonic()
    fn.proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    with pytest.raises(OSError):  # no new connections once draining
        socket.create_connection(("127.0.0.1", fn.port), timeout=1).close()
    s.sendall(wire[10:])
    reply = b""
    for _ in range(100):  # until the server closes (Connection: close)
        data = s.recv(65536)
        if not data:
            break
        reply += data
    s.close()
    head, body = reply.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"Connection: close" in head
    assert dns.message.from_wire(body).answer[0][0].address == "192.0.2.80"
    rc = fn.proc.wait(timeout=5)
    assert time.monotonic() - start < 1.0
    assert rc == 0, fn.log()


def test_sigterm_exits_within_a_second_with_a_stalled_request(fn):
    s = socket.create_connection(("127.0.0.1", fn.port), timeout=5)
    s.sendall(b"POST /dns-query HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/dns-message\r\nContent-Length: 40\r\n\r\nabc")
    time.sleep(0.2)
    start = time.monotonic()
    fn.proc.send_signal(signal.SIGTERM)
    rc = fn.proc.wait(timeout=5)
    took = time.monotonic() - start
    s.close()
    assert rc == 0, fn.log()
    assert took < 1.0, took
    assert "1 request still in flight closed" in fn.log()


def test_usage():
    res = cirrus_cli("function", "http", "--help")
    assert res.returncode == 0 and "/dns-query" in res.stdout
    for args in (["function"], ["function", "http"], ["function", "lambada"],
                 ["function", "http", "--db", "x.db", "--trusted-proxy", "10.0.0.0/40"],
                 ["function", "http", "--db", "x.db", "--port", "70000"]):
        res = cirrus_cli(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert "usage: cirrus function http" in res.stderr


# -- interop with a client we did not write ------------------------------------

def test_curl_doh(fn, tmp_path):
    wire = tmp_path / "q.bin"
    wire.write_bytes(query("www.fn.test.", "AAAA", 7).to_wire())
    out = subprocess.run(["curl", "-sS", "--fail", "-H", "Content-Type: application/dns-message",
                          "--data-binary", f"@{wire}", fn.url()],
                         capture_output=True, timeout=10, check=True).stdout
    r = dns.message.from_wire(out)
    assert r.id == 7 and r.answer[0][0].address == "2001:db8::80"
    param = base64.urlsafe_b64encode(wire.read_bytes()).rstrip(b"=").decode()
    out = subprocess.run(["curl", "-sS", "--fail", fn.url("/dns-query?dns=" + param)],
                         capture_output=True, timeout=10, check=True).stdout
    assert dns.message.from_wire(out).answer[0][0].address == "2001:db8::80"
    out = subprocess.run(["curl", "-sS", "--fail", fn.url("/resolve?name=www.fn.test")],
                         capture_output=True, timeout=10, check=True).stdout
    assert json.loads(out)["Answer"][0]["data"] == "192.0.2.80"
