# SPDX-License-Identifier: Apache-2.0
"""dnswire.py -- the little DNS wire code the benchmark helpers need.

Hand-written on purpose: the bench must run with the Python standard library
alone (dnspython is not a bench dependency), and it only needs to build one
question and read answers back well enough to compare servers.
"""

import random
import socket
import struct

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
         "AAAA": 28, "SRV": 33, "OPT": 41, "CAA": 257}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED"}

FLAG_AA = 0x0400
FLAG_TC = 0x0200


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def build_query(qid, name, rtype):
    """A plain query (RD clear, no EDNS) for NAME/RTYPE."""
    header = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    return header + encode_name(name) + struct.pack("!HH", TYPES[rtype], 1)


def read_name(msg, off):
    """Decode a (possibly compressed) name at OFF; return (name, next_off)."""
    labels = []
    end = None
    for _ in range(128):  # bound pointer chains
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            continue
        if n == 0:
            break
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace").lower())
        off += 1 + n
    else:
        raise ValueError("name pointer loop")
    return ".".join(labels) + ".", (end if end is not None else off + 1)


def rdata_text(msg, rtype, off, rdlen):
    """RDATA as text, with embedded names decompressed, so that two servers'
    answers compare equal whatever compression they chose."""
    rd = msg[off:off + rdlen]
    if rtype == 1 and rdlen == 4:
        return socket.inet_ntop(socket.AF_INET, rd)
    if rtype == 28 and rdlen == 16:
        return socket.inet_ntop(socket.AF_INET6, rd)
    if rtype in (2, 5, 12):
        return read_name(msg, off)[0]
    if rtype == 15:
        return "%d %s" % (struct.unpack("!H", rd[:2])[0], read_name(msg, off + 2)[0])
    if rtype == 6:
        mname, o = read_name(msg, off)
        rname, o = read_name(msg, o)
        return "%s %s %d %d %d %d %d" % ((mname, rname) + struct.unpack("!5I", msg[o:o + 20]))
    return rd.hex()


def parse_response(msg):
    """Return a dict: id, flags, rcode and the three sections as lists of
    (name, type, ttl, rdata) tuples; OPT records are dropped."""
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        _, off = read_name(msg, off)
        off += 4
    sections = []
    for count in (an, ns, ar):
        rrs = []
        for _ in range(count):
            name, off = read_name(msg, off)
            rtype, _cls, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
            off += 10
            if rtype != 41:
                rrs.append((name, TYPE_NAMES.get(rtype, str(rtype)), ttl,
                            rdata_text(msg, rtype, off, rdlen)))
            off += rdlen
        sections.append(rrs)
    return {"id": qid, "flags": flags, "rcode": RCODES.get(flags & 0xF, str(flags & 0xF)),
            "aa": bool(flags & FLAG_AA), "tc": bool(flags & FLAG_TC),
            "answer": sections[0], "authority": sections[1], "additional": sections[2]}


def udp_query(addr, port, name, rtype, timeout, qid=0x4242):
    """One UDP exchange; returns the parsed response or None on timeout."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(build_query(qid, name, rtype), (addr, port))
        try:
            data, _ = s.recvfrom(65535)
        except (socket.timeout, ConnectionRefusedError):
            return None
    resp = parse_response(data)
    return resp if resp["id"] == qid else None


class UdpProber:
    """A connected UDP socket for repeated probes; each ask is a new query
    id, and late answers to earlier probes are skipped."""

    def __init__(self, addr, port, timeout):
        self.sock = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET,
                                  socket.SOCK_DGRAM)
        self.sock.connect((addr, port))
        self.sock.settimeout(timeout)
        self.qid = random.randrange(65536)

    def ask(self, name, rtype="A"):
        """The parsed answer to NAME RTYPE, or None (no answer in time)."""
        self.qid = (self.qid + 1) & 0xFFFF
        self.sock.send(build_query(self.qid, name, rtype))
        for _ in range(100):
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return None
            if struct.unpack("!H", data[:2])[0] == self.qid:
                return parse_response(data)
        return None

    def close(self):
        self.sock.close()


def has_a(resp, addr):
    """Whether a parsed answer holds the A record addr."""
    return resp is not None and any(rr[1] == "A" and rr[3] == addr for rr in resp["answer"])


def tcp_query(addr, port, name, rtype, timeout, qid=0x4243):
    """One TCP exchange (used when UDP comes back truncated)."""
    wire = build_query(qid, name, rtype)
    with socket.create_connection((addr, port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        head = _recv_exact(s, 2)
        data = _recv_exact(s, struct.unpack("!H", head)[0])
    return parse_response(data)


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf
