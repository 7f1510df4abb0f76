"""`cirrus proxy`: UDP/TCP in front, DoH (RFC 8484 POST) behind.

Real components on loopback: the proxy in front of the real `cirrus function
http`, and in front of dnsdist's DoH (a server no one here wrote, with a
self-signed certificate the proxy is told to trust) backed by `cirrus serve`.
Python test upstreams count requests, look at the ECS the proxy adds, or
stall (accept and never answer) for the failover and deadline tests.
"""
import http.client
import http.server
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

import conftest

ZONE = """$ORIGIN px.test.
$TTL 300
@      600 SOA ns1 hostmaster 1 3600 900 604800 120
@          NS  ns1
ns1        A   192.0.2.1
www        A   192.0.2.80
www        AAAA 2001:db8::80
alias   60 CNAME www
mail       MX  10 www
sub        NS  ns.sub
ns.sub     A   192.0.2.53
"""
# An RRset too big for 512 bytes: the proxy must truncate it for UDP.
ZONE += "".join(f'big TXT "{"x" * 60} {i}"\n' for i in range(20))


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


class Proc:
    """A child process with its stderr in a file; clean exit checked on stop."""

    def __init__(self, workdir, name, cmd, env=None):
        self.log_path = workdir / f"{name}.stderr"
        self.stderr = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.stderr, stderr=self.stderr, env=env)
        self.name = name

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self, check=True):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not exit within 10 s of SIGTERM")
        self.stderr.close()
        if check:
            log = self.log()
            assert "Sanitizer" not in log and "runtime error:" not in log, log
            assert self.proc.returncode == 0, f"{self.name} exited {self.proc.returncode}:\n{log}"


class Stack:
    """Everything a test started, stopped in reverse order."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.procs = []
        self.servers = []

    # -- function http ---------------------------------------------------
    def function(self, zone=ZONE):
        port = conftest.free_port()
        (self.tmp / "px.zone").write_text(zone)
        conf = self.tmp / "fn.yaml"
        conf.write_text(f"zones:\n  - origin: px.test.\n    file: {self.tmp / 'px.zone'}\n")
        p = Proc(self.tmp, "fn", [conftest.cirrus_bin(), "function", "http", "-c", str(conf),
                                  "--listen", "127.0.0.1", "--port", str(port),
                                  "--threads", "2"])
        self.procs.append(p)

        def ready():
            assert p.proc.poll() is None, p.log()
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
                c.request("GET", "/readyz")
                return c.getresponse().status == 200
            except OSError:
                return False
        assert wait_until(ready, 20), p.log()
        return f"http://127.0.0.1:{port}/dns-query"

    # -- the proxy -------------------------------------------------------
    def proxy(self, upstreams, extra="", check=True):
        port = conftest.free_port()
        conf = self.tmp / f"proxy{len(self.procs)}.yaml"
        ups = "\n".join(f"  - {u}" for u in upstreams)
        conf.write_text(f"listen: 127.0.0.1\nport: {port}\nupstreams:\n{ups}\n"
                        f"log:\n  level: debug\n{extra}")
        p = Proc(self.tmp, f"proxy{len(self.procs)}",
                 [conftest.cirrus_bin(), "proxy", "-c", str(conf)])
        p.port = port
        p.check = check
        self.procs.append(p)

        def ready():
            assert p.proc.poll() is None, p.log()
            return "proxy: ready" in p.log()
        assert wait_until(ready, 20), p.log()
        return p

    # -- Python upstreams ------------------------------------------------
    def doh_upstream(self, forward_to=None, delay=0.0):
        """A DoH server: records each query; forwards it to forward_to (a
        DoH URL) or answers REFUSED itself; waits delay seconds first."""
        seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                q = dns.message.from_wire(body)
                seen.append((self.headers.get("Content-Type"), q))
                time.sleep(delay)
                if forward_to:
                    host, port = forward_to.split("/")[2].split(":")
                    c = http.client.HTTPConnection(host, int(port), timeout=5)
                    c.request("POST", "/dns-query", body,
                              {"Content-Type": "application/dns-message"})
                    answer = c.getresponse().read()
                else:
                    r = dns.message.make_response(q)
                    r.set_rcode(dns.rcode.REFUSED)
                    answer = r.to_wire()
                self.send_response(200)
                self.send_header("Content-Type", "application/dns-message")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/dns-query", seen

    def stalling_upstream(self):
        """Accepts TCP connections (the kernel's backlog does) and never answers."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        self.servers.append(s)
        return f"http://127.0.0.1:{s.getsockname()[1]}/dns-query"

    def stop(self):
        for srv in self.servers:
            if isinstance(srv, socket.socket):
                srv.close()
            else:
                srv.shutdown()
                srv.server_close()
        for p in reversed(self.procs):
            p.stop(check=getattr(p, "check", True))


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path)
    yield s
    s.stop()


def ask(port, name, rtype="A", tcp=False, timeout=3.0, **kw):
    q = dns.message.make_query(name, rtype, **kw)
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=port, timeout=timeout)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)


def doh(url, q):
    host, port = url.split("/")[2].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=5)
    c.request("POST", "/dns-query", q.to_wire(), {"Content-Type": "application/dns-message"})
    r = c.getresponse()
    assert r.status == 200
    return dns.message.from_wire(r.read())


def same_answer(a, b):
    assert a.rcode() == b.rcode()
    assert a.flags & ~dns.flags.TC == b.flags & ~dns.flags.TC
    for section in ("answer", "authority", "additional"):
        assert sorted(map(str, getattr(a, section))) == sorted(map(str, getattr(b, section))), \
            section


# -- (1) in front of `cirrus function http` ------------------------------------

CASES = [("www.px.test.", "A"), ("www.px.test.", "AAAA"), ("alias.px.test.", "A"),
         ("mail.px.test.", "MX"), ("nothing.px.test.", "A"), ("www.px.test.", "TXT"),
         ("host.sub.px.test.", "A"), ("px.test.", "SOA"), ("example.org.", "A")]


def test_answers_match_function_http(stack):
    fn = stack.function()
    px = stack.proxy([fn])
    for name, rtype in CASES:
        want = doh(fn, dns.message.make_query(name, rtype, use_edns=0))
        for tcp in (False, True):
            got = ask(px.port, name, rtype, tcp=tcp, use_edns=0)
            same_answer(got, want)
    # Without EDNS the answer has no OPT either (RFC 6891 7).
    got = ask(px.port, "www.px.test.", "A", use_edns=False)
    assert got.edns < 0 and got.answer


def test_id_case_and_pipelining(stack):
    fn = stack.function()
    px = stack.proxy([fn])
    q = dns.message.make_query("WwW.Px.TeSt.", "A")
    q.id = 4242
    r = dns.query.udp(q, "127.0.0.1", port=px.port, timeout=3)
    assert r.id == 4242 and r.question[0].name.to_text() == "WwW.Px.TeSt."
    # TCP: several queries written at once, each answered with its ID.
    names = ["www", "mail", "alias", "ns1", "nothing"]
    with socket.create_connection(("127.0.0.1", px.port), timeout=5) as s:
        wire = b""
        for i, n in enumerate(names):
            m = dns.message.make_query(f"{n}.px.test.", "A")
            m.id = 100 + i
            w = m.to_wire()
            wire += len(w).to_bytes(2, "big") + w
        s.sendall(wire)
        ids = set()
        for _ in names:
            size = int.from_bytes(recv_exact(s, 2), "big")
            ids.add(dns.message.from_wire(recv_exact(s, size)).id)
        assert ids == {100 + i for i in range(len(names))}


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


def test_udp_truncation(stack):
    fn = stack.function()
    px = stack.proxy([fn])
    r = ask(px.port, "big.px.test.", "TXT", use_edns=False)
    assert r.flags & dns.flags.TC and not r.answer
    r = ask(px.port, "big.px.test.", "TXT", use_edns=0, payload=1232)
    assert r.flags & dns.flags.TC and not r.answer and r.edns == 0
    r = ask(px.port, "big.px.test.", "TXT", tcp=True)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 20
    r = ask(px.port, "big.px.test.", "TXT", use_edns=0, payload=4096)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 20


# -- (2) in front of dnsdist's DoH, backed by `cirrus serve` --------------------

def test_dnsdist_doh_upstream(stack, cirrus, tmp_path):
    dnsdist = shutil.which("dnsdist") or "/usr/bin/dnsdist"
    if not os.access(dnsdist, os.X_OK):
        pytest.fail("dnsdist is not installed (scripts/deps.sh test)")
    auth = cirrus(zones={"px.test.": ZONE})
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    doh_port, dns_port = conftest.free_port(), conftest.free_port()
    conf = tmp_path / "dnsdist.conf"
    conf.write_text(f"""
setSecurityPollSuffix("")
setLocal("127.0.0.1:{dns_port}")
addDOHLocal("127.0.0.1:{doh_port}", "{cert}", "{key}", "/dns-query")
-- Forced up: dnsdist's own health check (1 s timeout) can mark a busy
-- sanitizer-built server down, and these tests are about the proxy.
newServer({{address="127.0.0.1:{auth.port}"}}):setUp()
""")
    p = Proc(tmp_path, "dnsdist", [dnsdist, "--supervised", "--disable-syslog", "-C", str(conf)])
    stack.procs.append(p)
    p.check = False   # dnsdist's own exit status on SIGTERM is not ours to judge

    def listening():
        assert p.proc.poll() is None, p.log()
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", doh_port)) == 0
    assert wait_until(listening, 20), p.log()
    url = f"https://127.0.0.1:{doh_port}/dns-query"
    # A generous deadline, and a first answer awaited: on a loaded machine
    # the first TLS handshake of a sanitizer build can take seconds, and
    # this test is about interoperating, not about the deadline.
    px = stack.proxy([url], extra=f"ca-file: {cert}\ndeadline-ms: 10000\n")
    first_name, first_type = CASES[0]
    assert wait_until(lambda: ask(px.port, first_name, first_type, timeout=12).rcode()
                      == dns.rcode.NOERROR,
                      30), px.log()
    for name, rtype in CASES:
        want = auth.query(name, rtype)
        for tcp in (False, True):
            got = ask(px.port, name, rtype, tcp=tcp)
            same_answer(got, want)
    # Without the CA the certificate is refused: SERVFAIL, never an answer.
    px2 = stack.proxy([url], extra="deadline-ms: 1500\n")
    r = ask(px2.port, "www.px.test.", "A")
    assert r.rcode() == dns.rcode.SERVFAIL
    assert "certificate" in px2.log().lower() or "SSL" in px2.log()


def test_http2_multiplexed_to_dnsdist(stack, cirrus, tmp_path):
    """Many queries at once over one HTTP/2 connection: dnsdist's DoH counts."""
    dnsdist = shutil.which("dnsdist") or "/usr/bin/dnsdist"
    auth = cirrus(zones={"px.test.": ZONE})
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    doh_port, dns_port, console = (conftest.free_port() for _ in range(3))
    conf = tmp_path / "dnsdist.conf"
    conf.write_text(f"""
setSecurityPollSuffix("")
setLocal("127.0.0.1:{dns_port}")
controlSocket("127.0.0.1:{console}")
setKey("MXNeLFWHUe4363BBKrY06cAsH8NWNb+Se2eXU5+Bb74=")
addDOHLocal("127.0.0.1:{doh_port}", "{cert}", "{key}", "/dns-query")
-- Forced up: dnsdist's own health check (1 s timeout) can mark a busy
-- sanitizer-built server down, and these tests are about the proxy.
newServer({{address="127.0.0.1:{auth.port}"}}):setUp()
""")
    p = Proc(tmp_path, "dnsdist", [dnsdist, "--supervised", "--disable-syslog", "-C", str(conf)])
    stack.procs.append(p)
    p.check = False

    def listening():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", doh_port)) == 0
    assert wait_until(listening, 20), p.log()
    px = stack.proxy([f"https://127.0.0.1:{doh_port}/dns-query"],
                     extra=f"ca-file: {cert}\nhealth-check:\n  interval: 0\n")
    socks = []
    for i in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        q = dns.message.make_query(f"n{i}.px.test.", "A")
        s.sendto(q.to_wire(), ("127.0.0.1", px.port))
        socks.append(s)
    for s in socks:
        s.settimeout(5)
        assert dns.message.from_wire(s.recv(4096)).rcode() == dns.rcode.NXDOMAIN
        s.close()
    out = subprocess.run([dnsdist, "-c", f"127.0.0.1:{console}", "-k",
                          "MXNeLFWHUe4363BBKrY06cAsH8NWNb+Se2eXU5+Bb74=", "-C", str(conf),
                          "-e", "showDOHFrontends()"], capture_output=True, text=True,
                         timeout=20).stdout
    # Columns: #, address, HTTP connections, HTTP/1.1, HTTP/2, ...
    row = [l.split() for l in out.splitlines() if f"127.0.0.1:{doh_port}" in l][0]
    connections, http1, http2 = int(row[2]), int(row[3]), int(row[4])
    assert http2 >= 50 and http1 == 0, out
    # Two connections: the readiness probe's, and one the proxy multiplexes over.
    assert connections == 2, out


# -- (3) failover ------------------------------------------------------------

def test_failover_to_second_upstream(stack):
    fn = stack.function()
    closed = f"http://127.0.0.1:{conftest.free_port()}/dns-query"   # nothing listens
    stall = stack.stalling_upstream()
    px = stack.proxy([closed, stall, fn], extra="""deadline-ms: 2000
upstream-timeout-ms: 300
health-check:
  interval: 1
  fall: 2
  rise: 1
""")
    for tcp in (False, True):
        t = time.monotonic()
        r = ask(px.port, "www.px.test.", tcp=tcp)
        assert r.rcode() == 0 and r.answer, r
        assert time.monotonic() - t < 1.5
    # The probes mark both dead upstreams down; then queries go straight
    # to the live one, without waiting for the stalled one.
    assert wait_until(lambda: px.log().count("is down after") >= 2, 10), px.log()
    t = time.monotonic()
    for _ in range(5):
        assert ask(px.port, "www.px.test.").answer
    assert time.monotonic() - t < 0.5


def test_latency_policy_prefers_fast_upstream(stack):
    fn = stack.function()
    slow, slow_seen = stack.doh_upstream(forward_to=fn, delay=0.15)
    fast, fast_seen = stack.doh_upstream(forward_to=fn)
    px = stack.proxy([slow, fast], extra="policy: latency\nhealth-check:\n  interval: 0\n")
    for i in range(20):
        assert ask(px.port, f"n{i}.px.test.").rcode() == dns.rcode.NXDOMAIN
    # Each is measured once, then the fast one takes the rest.
    assert len(slow_seen) <= 2 and len(fast_seen) >= 18, (len(slow_seen), len(fast_seen))


# -- (4) deadline ------------------------------------------------------------

def test_deadline_servfail_when_all_stall(stack):
    a, b = stack.stalling_upstream(), stack.stalling_upstream()
    px = stack.proxy([a, b], extra="deadline-ms: 800\nupstream-timeout-ms: 5000\n")
    for tcp in (False, True):
        t = time.monotonic()
        r = ask(px.port, "www.px.test.", tcp=tcp, timeout=5)
        took = time.monotonic() - t
        assert r.rcode() == dns.rcode.SERVFAIL
        assert 0.7 < took < 0.8 + 0.5, took
    # Many at once: every one gets its SERVFAIL in time.
    socks = []
    t = time.monotonic()
    for i in range(30):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(dns.message.make_query(f"n{i}.px.test.", "A").to_wire(),
                 ("127.0.0.1", px.port))
        socks.append(s)
    for s in socks:
        s.settimeout(3)
        assert dns.message.from_wire(s.recv(4096)).rcode() == dns.rcode.SERVFAIL
        s.close()
    assert time.monotonic() - t < 0.8 + 0.7


# -- (5) cache ---------------------------------------------------------------

def test_cache_hits_ttl_and_negative(stack):
    fn = stack.function()
    up, seen = stack.doh_upstream(forward_to=fn)
    px = stack.proxy([up], extra="cache:\n  size: 100\nhealth-check:\n  interval: 0\n")
    first = ask(px.port, "www.px.test.")
    assert len(seen) == 1 and first.answer[0].ttl == 300
    time.sleep(1.1)
    q = dns.message.make_query("WWW.PX.TEST.", "A")
    q.id = 777
    second = dns.query.udp(q, "127.0.0.1", port=px.port, timeout=3)
    assert len(seen) == 1, "the second query reached the upstream"
    assert second.id == 777 and second.question[0].name.to_text() == "WWW.PX.TEST."
    assert 298 <= second.answer[0].ttl <= 299        # aged by the time in cache
    assert ask(px.port, "www.px.test.", tcp=True).answer
    assert len(seen) == 1
    # DO=1 is another entry.
    ask(px.port, "www.px.test.", want_dnssec=True)
    assert len(seen) == 2
    # NXDOMAIN is cached too (RFC 2308), with its SOA.
    nx = ask(px.port, "nothing.px.test.")
    assert nx.rcode() == dns.rcode.NXDOMAIN and len(seen) == 3
    nx2 = ask(px.port, "nothing.px.test.", tcp=True)
    assert nx2.rcode() == dns.rcode.NXDOMAIN and nx2.authority and len(seen) == 3


def test_servfail_not_cached(stack):
    up, seen = stack.doh_upstream()   # answers REFUSED itself
    px = stack.proxy([up], extra="cache:\n  size: 100\nhealth-check:\n  interval: 0\n")
    for _ in range(3):
        assert ask(px.port, "www.px.test.").rcode() == dns.rcode.REFUSED
    assert len(seen) == 3


# -- (6) ECS -----------------------------------------------------------------

def test_ecs_added_with_client_subnet(stack):
    fn = stack.function()
    up, seen = stack.doh_upstream(forward_to=fn)
    px = stack.proxy([up], extra="ecs: add\ncache:\n  size: 10\nhealth-check:\n  interval: 0\n")
    r = ask(px.port, "www.px.test.", use_edns=False)
    assert r.answer and r.edns < 0        # the client asked without EDNS: none back
    ctype, q = seen[-1]
    assert ctype == "application/dns-message"
    assert q.id == 0                       # RFC 8484 4.1
    ecs = [o for o in q.options if o.otype == dns.edns.ECS]
    assert len(ecs) == 1 and ecs[0].address == "127.0.0.0" and ecs[0].srclen == 24
    # The client's own ECS is passed on as it is (mode add).
    own = dns.edns.ECSOption("198.51.100.0", 24)
    r = ask(px.port, "mail.px.test.", "MX", options=[own])
    ecs = [o for o in seen[-1][1].options if o.otype == dns.edns.ECS]
    assert len(ecs) == 1 and ecs[0].address == "198.51.100.0"
    assert [o for o in r.options if o.otype == dns.edns.ECS]   # echoed to a client that sent it
    # Without ECS configured nothing is added.
    up2, seen2 = stack.doh_upstream(forward_to=fn)
    px2 = stack.proxy([up2], extra="health-check:\n  interval: 0\n")
    ask(px2.port, "www.px.test.")
    assert not [o for o in seen2[-1][1].options if o.otype == dns.edns.ECS]


# -- (7) bad input -----------------------------------------------------------

def test_malformed_input(stack):
    fn = stack.function()
    px = stack.proxy([fn])
    addr = ("127.0.0.1", px.port)
    good = dns.message.make_query("www.px.test.", "A")
    good.id = 99
    wire = good.to_wire()

    def udp(data, timeout=0.5):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(data, addr)
            try:
                return s.recv(65535)
            except socket.timeout:
                return None

    assert udp(b"") is None
    assert udp(b"\x00" * 5) is None                           # runt: dropped
    assert udp(wire[:2] + b"\x80" + wire[3:]) is None         # QR=1: dropped
    r = udp(wire[:-3])                                        # cut question
    assert r is not None and r[3] & 0xf == dns.rcode.FORMERR and r[:2] == wire[:2]
    r = udp(wire[:4] + b"\x00\x02" + wire[6:])                # QDCOUNT 2
    assert r[3] & 0xf == dns.rcode.FORMERR
    r = udp(wire[:2] + b"\x28" + wire[3:])                    # opcode UPDATE
    assert r[3] & 0xf == dns.rcode.NOTIMP
    for i in range(200):                                      # random bytes
        udp(os.urandom(1 + i % 300), timeout=0.01)
    # TCP: a length shorter than a header closes the connection only.
    with socket.create_connection(addr, timeout=3) as s:
        s.sendall(b"\x00\x03abc")
        assert s.recv(10) == b""
    with socket.create_connection(addr, timeout=3) as s:
        s.sendall(b"\x00\x20" + b"\x00" * 10)                 # then hang up mid-message
    assert ask(px.port, "www.px.test.").answer
    assert ask(px.port, "www.px.test.", tcp=True).answer
    assert px.proc.poll() is None


def test_usage_errors():
    bin_ = conftest.cirrus_bin()
    r = subprocess.run([bin_, "proxy"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "upstream" in r.stderr
    r = subprocess.run([bin_, "proxy", "-u", "ftp://x/"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 2
    r = subprocess.run([bin_, "proxy", "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "DoH" in r.stdout


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("upstreams:\n  - http://127.0.0.1:1/dns-query\npolicy: random\n")
    r = subprocess.run([conftest.cirrus_bin(), "proxy", "-c", str(bad)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1 and f"{bad}:3:" in r.stderr and "failover or latency" in r.stderr
    bad.write_text("upstreams: []\ncache: {sise: 3}\n")
    r = subprocess.run([conftest.cirrus_bin(), "proxy", "-c", str(bad)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1 and ":1:" in r.stderr
