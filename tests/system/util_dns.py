"""Helpers shared by the system tests: compare answer sections as sets of
RRsets, build and take apart raw DNS wire, talk raw TCP, and run one server
for a whole test module when the tests only read from it.

Not a fixture file: conftest.py owns the `cirrus` fixture and the Server
class; this module only adds what the tests need on top of them.
"""
import socket
import struct
import subprocess
import time
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

import conftest

DATA = Path(__file__).resolve().parent / "data"


# -- RRset comparison ---------------------------------------------------------

def _canon(rd):
    """Rdata text in canonical form (RFC 4034 6.2: names lower-cased)."""
    wire = rd.to_digestable(dns.name.root)
    return dns.rdata.from_wire(rd.rdclass, rd.rdtype, wire, 0, len(wire)).to_text()


def _key(name, rdclass, rdtype, ttl, rdatas):
    return (name.to_text().lower(), dns.rdataclass.to_text(rdclass),
            dns.rdatatype.to_text(rdtype), int(ttl),
            frozenset(_canon(r) for r in rdatas))


def section(rrsets):
    """A message section as a set of (owner, class, type, ttl, rdatas)."""
    return {_key(r.name, r.rdclass, r.rdtype, r.ttl, r) for r in rrsets}


def rrs(*lines):
    """Expected RRsets from master-file lines "owner ttl [class] type rdata".

    Lines with the same owner, class and type form one RRset (they must
    carry the same TTL). Names must be absolute.
    """
    groups = {}
    for line in lines:
        tokens = line.split()
        owner, ttl = tokens[0], int(tokens[1])
        idx = 2
        rdclass = dns.rdataclass.IN
        if tokens[2].upper() in ("IN", "CH", "HS"):
            rdclass = dns.rdataclass.from_text(tokens[2])
            idx = 3
        rdtype = dns.rdatatype.from_text(tokens[idx])
        parts = line.split(None, idx + 1)
        rdata = parts[idx + 1] if len(parts) > idx + 1 else ""
        name = dns.name.from_text(owner)
        rd = dns.rdata.from_text(rdclass, rdtype, rdata.strip(), origin=dns.name.root)
        k = (name, rdclass, rdtype)
        entry = groups.setdefault(k, [ttl, []])
        assert entry[0] == ttl, f"TTL mismatch inside expected RRset {k}"
        entry[1].append(rd)
    return {_key(n, c, t, ttl, rds) for (n, c, t), (ttl, rds) in groups.items()}


def describe(msg):
    return "\n" + msg.to_text()


def assert_sections(resp, answer=(), authority=(), additional=()):
    """Compare the three sections (OPT excluded) with expected RRsets.

    Each expected argument is a list of lines for rrs() or None to skip.
    """
    if answer is not None:
        assert section(resp.answer) == rrs(*answer), "answer" + describe(resp)
    if authority is not None:
        assert section(resp.authority) == rrs(*authority), "authority" + describe(resp)
    if additional is not None:
        assert section(resp.additional) == rrs(*additional), "additional" + describe(resp)


def flags(resp):
    """The set of header flags by name, e.g. {"QR", "AA"}."""
    return set(dns.flags.to_text(resp.flags).split())


def assert_rcode(resp, rcode):
    want = dns.rcode.from_text(rcode) if isinstance(rcode, str) else rcode
    assert resp.rcode() == want, (
        f"rcode {dns.rcode.to_text(resp.rcode())}, want {dns.rcode.to_text(want)}"
        + describe(resp))


def assert_auth_answer(resp, rcode="NOERROR"):
    """QR=1, AA=1, TC=0 and the given rcode."""
    assert_rcode(resp, rcode)
    f = flags(resp)
    assert "QR" in f, describe(resp)
    assert "AA" in f, "AA not set" + describe(resp)
    assert "TC" not in f, "TC set" + describe(resp)


def soa_line(origin, ttl, mname="ns1", rname="hostmaster", serial=2024010101,
             refresh=7200, retry=3600, expire=1209600, minimum=300):
    origin = origin.rstrip(".") + "."
    return (f"{origin} {ttl} IN SOA {mname}.{origin} {rname}.{origin} "
            f"{serial} {refresh} {retry} {expire} {minimum}")


# -- raw wire ---------------------------------------------------------------

HEADER = struct.Struct("!HHHHHH")


def header(wire):
    """Decode the 12-byte header of a raw message into a dict."""
    ident, fl, qd, an, ns, ar = HEADER.unpack_from(wire, 0)
    return {"id": ident, "flags": fl, "qr": bool(fl & 0x8000),
            "opcode": (fl >> 11) & 0xF, "aa": bool(fl & 0x0400),
            "tc": bool(fl & 0x0200), "rd": bool(fl & 0x0100),
            "ra": bool(fl & 0x0080), "rcode": fl & 0xF,
            "qdcount": qd, "ancount": an, "nscount": ns, "arcount": ar}


def make_header(ident=0x1234, fl=0x0000, qd=1, an=0, ns=0, ar=0):
    return HEADER.pack(ident, fl, qd, an, ns, ar)


def name_wire(name):
    """Uncompressed wire form of a name (case kept)."""
    return dns.name.from_text(name).to_wire()


def question_wire(name, rdtype=1, rdclass=1):
    return name_wire(name) + struct.pack("!HH", rdtype, rdclass)


def opt_wire(payload=1232, ext_rcode=0, version=0, do=False, options=b""):
    """One OPT pseudo-RR with raw option bytes."""
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return b"\x00" + struct.pack("!HHIH", 41, payload, ttl, len(options)) + options


def uncompressed_size(msg):
    """Size the message would have without name compression."""
    size = 12
    for q in msg.question:
        size += len(q.name.to_wire()) + 4
    for sec in (msg.answer, msg.authority, msg.additional):
        for rrset in sec:
            for rd in rrset:
                size += len(rrset.name.to_wire()) + 10 + len(rd.to_wire())
    if msg.opt is not None:
        size += 11 + sum(4 + len(o.to_wire()) for o in msg.options)
    return size


def udp_raw(port, wire, timeout=1.0):
    """Send raw bytes over UDP; the raw answer or None on timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(wire, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


# -- TCP --------------------------------------------------------------------

def tcp_connect(port, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_recv(sock):
    """One length-prefixed message, or None if the peer closed."""
    head = _recv_exact(sock, 2)
    if head is None:
        return None
    (length,) = struct.unpack("!H", head)
    return _recv_exact(sock, length)


def tcp_closed_within(sock, seconds):
    """True if the peer closes (EOF or reset) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not data:
            return True
    return False


# -- liveness ---------------------------------------------------------------

def assert_alive(srv, name="alive.probe.invalid.", tcp=False):
    """The server still answers (any rcode) after an odd input."""
    assert srv.proc.poll() is None, "cirrus exited:\n" + srv.log()
    resp = srv.query(name, "A", tcp=tcp, timeout=2.0)
    assert "QR" in flags(resp)
    return resp


# -- one server for a module ------------------------------------------------

def module_server(zones, server_conf=None, workers=1):
    """A module-scoped fixture running one cirrus for read-only tests.

    Teardown applies the same clean-exit checks as the `cirrus` fixture.
    """
    @pytest.fixture(scope="module")
    def _server(tmp_path_factory):
        srv = conftest.Server(tmp_path_factory.mktemp("cirrus"), zones, server_conf, workers)
        srv.start()
        yield srv
        conftest.assert_clean_exit(srv)
    return _server


# -- running the binary directly --------------------------------------------

def run_cirrus(*args, timeout=20, cwd=None):
    """Run `cirrus ARGS...` (in cwd: `serve` may create ./cirrus.db there);
    returns CompletedProcess with text output."""
    return subprocess.run([conftest.cirrus_bin(), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def write_conf(path, port, zones):
    """A minimal cirrus.yaml serving {origin: file}."""
    lines = ["server:", "  listen: [127.0.0.1]", f"  port: {port}", "  workers: 1",
             "zones:"]
    for origin, fname in zones.items():
        lines.append(f"  - origin: {conftest.yaml_str(origin)}")
        lines.append(f"    file: {conftest.yaml_str(fname)}")
    Path(path).write_text("\n".join(lines) + "\n")
