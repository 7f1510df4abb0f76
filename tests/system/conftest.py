"""Shared fixtures for system tests: start the real `cirrus` binary on a free
loopback port with zones written by the test, and talk to it with dnspython.

The binary comes from $CIRRUS_BIN (the Makefile points it at the ASan build);
otherwise build/src/cirrus. On teardown the server gets SIGTERM and must exit
0 with no sanitizer report on stderr.
"""
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CORPORA = SHARED / "corpora"


def cirrus_bin():
    path = os.environ.get("CIRRUS_BIN") or str(REPO / "build" / "src" / "cirrus")
    if not os.access(path, os.X_OK):
        pytest.fail(f"cirrus binary not found at {path}; run `make test` or set CIRRUS_BIN")
    return path


def _ephemeral_low():
    """The first port of the kernel's ephemeral range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_handed_out = set()


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1, below the kernel's
    ephemeral range: a port the kernel may give to an outgoing socket (the
    readiness probe's own, say) could be taken between this check and
    cirrus's bind, or make the probe talk to itself. Never the same port
    twice in one test run."""
    low = _ephemeral_low()
    for _ in range(1000):
        port = random.randrange(max(1024, low - 12000), low)
        if port in _handed_out:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
        except OSError:
            continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port")


def yaml_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Server:
    """A running cirrus with helpers to query it."""

    def __init__(self, workdir, zones, server_conf=None, workers=1):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.zones = zones
        self.server_conf = dict(server_conf or {})
        self.workers = workers
        self.proc = None
        self.conf_path = self.workdir / "cirrus.yaml"
        self.stderr_path = self.workdir / "cirrus.stderr"
        self.extra_args = []   # more `cirrus serve` arguments
        self.cwd = self.workdir  # where it runs: without a store section, ./cirrus.db

    def write_conf(self):
        lines = ["server:",
                 "  listen: [127.0.0.1]",
                 f"  port: {self.port}",
                 f"  workers: {self.workers}"]
        for key, value in self.server_conf.items():
            lines.append(f"  {key}: {value if isinstance(value, int) else yaml_str(value)}")
        lines.append("zones:")
        for origin, text in self.zones.items():
            fname = self.zone_path(origin)
            if text is not None:
                fname.write_text(text)
            lines.append(f"  - origin: {yaml_str(origin)}")
            lines.append(f"    file: {yaml_str(fname)}")
        self.conf_path.write_text("\n".join(lines) + "\n")

    def zone_path(self, origin):
        return self.workdir / ((origin.strip(".") or "root") + ".zone")

    def start(self, wait=True):
        self.write_conf()
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([cirrus_bin(), "serve", "-c", str(self.conf_path),
                                      *self.extra_args],
                                     stdout=self.stderr, stderr=self.stderr, cwd=self.cwd)
        if wait:
            self.wait_ready()
        return self

    def start_refused(self, timeout=20.0):
        """Start expecting the server to refuse (a bad configuration): its
        exit status."""
        self.start(wait=False)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.stderr.close()

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        probe = dns.message.make_query("version.cirrus.invalid.", "A")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cirrus exited with {self.proc.returncode}:\n{self.log()}")
            try:
                dns.query.udp(probe, "127.0.0.1", port=self.port, timeout=0.2)
                dns.query.tcp(probe, "127.0.0.1", port=self.port, timeout=0.5)
                return
            # BadResponse: until cirrus binds the port, the probe's own
            # ephemeral port can be that very port, and the probe reads
            # back its own query (a CI run hit this once).
            except (dns.exception.Timeout, dns.query.BadResponse, OSError):
                time.sleep(0.05)
        raise RuntimeError(f"cirrus did not answer within {timeout}s:\n{self.log()}")

    def log(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("cirrus did not exit within 15 s of SIGTERM")
        finally:
            self.stderr.close()
        return rc

    # -- queries ---------------------------------------------------------
    def query(self, qname, qtype="A", tcp=False, timeout=3.0, **kw):
        """Send a query (dnspython make_query keywords allowed)."""
        q = dns.message.make_query(qname, qtype, **kw)
        return self.send(q, tcp=tcp, timeout=timeout)

    def send(self, msg, tcp=False, timeout=3.0):
        if tcp:
            return dns.query.tcp(msg, "127.0.0.1", port=self.port, timeout=timeout)
        return dns.query.udp(msg, "127.0.0.1", port=self.port, timeout=timeout,
                             ignore_trailing=True)

    def send_raw_udp(self, wire, timeout=1.0):
        """Send raw bytes; return the raw answer or None on timeout."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(wire, ("127.0.0.1", self.port))
            try:
                return s.recv(65535)
            except socket.timeout:
                return None


def wait_for(predicate, timeout=5.0, step=0.05):
    """Poll predicate until it holds or timeout seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def assert_clean_exit(server):
    rc = server.stop()
    log = server.log()
    assert "ERROR: AddressSanitizer" not in log, log
    assert "runtime error:" not in log, log
    assert "LeakSanitizer" not in log, log
    assert rc == 0, f"cirrus exited with {rc}:\n{log}"


@pytest.fixture
def cirrus(tmp_path):
    """Factory: cirrus(zones={origin: text}, server_conf={...}) -> started Server."""
    servers = []

    def start(zones, server_conf=None, workers=1, wait=True):
        srv = Server(tmp_path, zones, server_conf, workers)
        servers.append(srv)
        return srv.start(wait=wait)

    yield start
    for srv in servers:
        assert_clean_exit(srv)
