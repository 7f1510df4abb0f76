"""DNS over TCP (RFC 7766): two-octet length framing, several and pipelined
queries per connection, the edns-tcp-keepalive option (RFC 7828), the idle
timeout and the cap on concurrent connections."""
import socket
import struct
import time

import dns.edns
import dns.message

from util_dns import (assert_alive, assert_auth_answer, assert_sections, frame, module_server,
                      tcp_closed_within, tcp_connect, tcp_recv, udp_raw)

KEEPALIVE = 11          # RFC 7828 option code

HOSTS = "\n".join(f"h{i:02d}           A     10.1.0.{i}" for i in range(1, 21))
ZONE = f"""\
$ORIGIN example.com.
$TTL 3600
@           IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300
@              NS    ns1
@              NS    ns2
ns1            A     192.0.2.1
ns2            A     192.0.2.2
www            A     192.0.2.10
{HOSTS}
"""

server = module_server({"example.com.": ZONE}, {"tcp-idle-timeout": 5})


def query_wire(qname, qtype="A", ident=None, **kw):
    q = dns.message.make_query(qname, qtype, **kw)
    if ident is not None:
        q.id = ident
    return q, q.to_wire()


def read_answer(sock):
    raw = tcp_recv(sock)
    assert raw is not None, "connection closed before the answer"
    return dns.message.from_wire(raw)


def test_two_octet_length_framing(server):
    """RFC 1035 4.2.2 / RFC 7766 section 8: each message is preceded by a
    two-octet length; the answer's prefix equals its size."""
    q, wire = query_wire("www.example.com.", ident=0x4242)
    with tcp_connect(server.port) as s:
        s.sendall(frame(wire))
        head = s.recv(2, socket.MSG_WAITALL)
        (length,) = struct.unpack("!H", head)
        body = s.recv(length, socket.MSG_WAITALL)
        assert len(body) == length
    r = dns.message.from_wire(body)
    assert r.id == 0x4242
    assert_auth_answer(r)
    assert_sections(r, answer=["www.example.com. 3600 IN A 192.0.2.10"])


def test_length_prefix_split_across_segments(server):
    """RFC 7766 section 8: the length and message may arrive in separate
    segments (even one octet at a time); the server must reassemble."""
    _, wire = query_wire("www.example.com.", ident=7)
    data = frame(wire)
    with tcp_connect(server.port) as s:
        for part in (data[:1], data[1:2], data[2:9], data[9:]):
            s.sendall(part)
            time.sleep(0.05)
        r = read_answer(s)
    assert r.id == 7
    assert_sections(r, answer=["www.example.com. 3600 IN A 192.0.2.10"])


def test_several_queries_one_connection(server):
    """RFC 7766 6.2.1: the server MUST allow several queries over one
    connection and not close it after the first answer."""
    with tcp_connect(server.port) as s:
        for i in range(1, 6):
            _, wire = query_wire(f"h{i:02d}.example.com.", ident=100 + i)
            s.sendall(frame(wire))
            r = read_answer(s)
            assert r.id == 100 + i
            assert_sections(r, answer=[f"h{i:02d}.example.com. 3600 IN A 10.1.0.{i}"])


def test_pipelined_queries(server):
    """RFC 7766 6.2.1.1: 20 queries sent in one write are all answered; the
    answers may come in any order and are matched by ID."""
    expected = {}
    blob = b""
    for i in range(1, 21):
        ident = 1000 + i
        _, wire = query_wire(f"h{i:02d}.example.com.", ident=ident)
        blob += frame(wire)
        expected[ident] = i
    got = {}
    with tcp_connect(server.port, timeout=3.0) as s:
        s.sendall(blob)
        for _ in range(20):
            r = read_answer(s)
            assert r.id in expected and r.id not in got, f"unexpected or repeated ID {r.id}"
            got[r.id] = r
    for ident, i in expected.items():
        assert_auth_answer(got[ident])
        assert_sections(got[ident], answer=[f"h{i:02d}.example.com. 3600 IN A 10.1.0.{i}"])


def keepalive_values(r):
    return [o.to_wire() if not hasattr(o, "data") else o.data
            for o in r.options if o.otype == KEEPALIVE]


def test_keepalive_option_over_tcp(server):
    """RFC 7828 3.3.2: a TCP query carrying edns-tcp-keepalive gets the option
    back with the idle TIMEOUT in units of 100 ms (tcp-idle-timeout 5 s ->
    50)."""
    opt = dns.edns.GenericOption(KEEPALIVE, b"")
    r = server.query("www.example.com.", "A", tcp=True, use_edns=0, options=[opt])
    assert_auth_answer(r)
    assert keepalive_values(r) == [struct.pack("!H", 50)]


def test_keepalive_absent_when_not_requested(server):
    """RFC 7828 3.3.2: the option is sent only in reply to a query that
    carried it."""
    r = server.query("www.example.com.", "A", tcp=True, use_edns=0)
    assert keepalive_values(r) == []


def test_keepalive_ignored_over_udp(server):
    """RFC 7828 3.3.2: a UDP query with edns-tcp-keepalive is answered as if
    the option were absent; the option is not sent over UDP."""
    opt = dns.edns.GenericOption(KEEPALIVE, b"")
    r = server.query("www.example.com.", "A", use_edns=0, options=[opt])
    assert_auth_answer(r)
    assert keepalive_values(r) == []


def test_partial_message_then_close(server):
    """RFC 7766 section 8 / robustness: a client that sends half a message and
    goes away costs nothing; the server keeps serving UDP and TCP."""
    _, wire = query_wire("www.example.com.")
    with tcp_connect(server.port) as s:
        s.sendall(frame(wire)[:10])
    with tcp_connect(server.port) as s:
        s.sendall(struct.pack("!H", 500) + b"\x00" * 20)
    assert_alive(server, "www.example.com.")
    assert_alive(server, "www.example.com.", tcp=True)


def test_idle_timeout_closes_connection(cirrus):
    """RFC 7766 6.2.3: the server closes idle connections after its idle
    timeout (tcp-idle-timeout 1 s: closed within ~3 s), but not before the
    connection was usable."""
    srv = cirrus({"example.com.": ZONE}, server_conf={"tcp-idle-timeout": 1})
    with tcp_connect(srv.port) as s:
        assert tcp_closed_within(s, 3.0), "idle connection without a query stayed open"
    with tcp_connect(srv.port) as s:
        time.sleep(0.3)
        _, wire = query_wire("www.example.com.", ident=9)
        s.sendall(frame(wire))
        assert read_answer(s).id == 9
        start = time.monotonic()
        assert tcp_closed_within(s, 3.0), "connection idle after a query stayed open"
        assert time.monotonic() - start >= 0.5, "closed long before the idle timeout"


def served_connection(srv, ident, tries=20):
    """A TCP connection that has had one query answered."""
    for _ in range(tries):
        c = tcp_connect(srv.port)
        _, wire = query_wire("www.example.com.", ident=ident)
        try:
            c.sendall(frame(wire))
            raw = tcp_recv(c)
        except (ConnectionResetError, BrokenPipeError):
            raw = None
        if raw is not None and dns.message.from_wire(raw).id == ident:
            return c
        c.close()
        time.sleep(0.05)
    raise AssertionError("could not get a served TCP connection")


def test_connection_cap(cirrus):
    """RFC 7766 6.2.2 (resource limits): with tcp-max-clients 2, a third
    concurrent connection is not served (closed or no answer), while the
    first two keep working; UDP is unaffected."""
    srv = cirrus({"example.com.": ZONE}, server_conf={"tcp-max-clients": 2,
                                                      "tcp-idle-timeout": 30})
    # The readiness probe's TCP connection may still hold a slot until the
    # server reads its EOF, so the first two get a few tries.
    c1, c2 = served_connection(srv, 1), served_connection(srv, 2)
    try:
        served = None
        try:
            c3 = tcp_connect(srv.port, timeout=1.5)
        except OSError:
            c3 = None               # refused outright: also fine
        if c3 is not None:
            with c3:
                _, wire = query_wire("www.example.com.", ident=3)
                try:
                    c3.sendall(frame(wire))
                    c3.settimeout(1.5)
                    served = tcp_recv(c3)
                except (socket.timeout, ConnectionResetError, BrokenPipeError):
                    served = None
        assert served is None, "third concurrent TCP connection was served"
        for i, c in enumerate((c1, c2), start=11):
            _, wire = query_wire("www.example.com.", ident=i)
            c.sendall(frame(wire))
            assert read_answer(c).id == i
        raw = udp_raw(srv.port, query_wire("www.example.com.")[1])
        assert raw is not None, "UDP stopped answering"
    finally:
        c1.close()
        c2.close()
