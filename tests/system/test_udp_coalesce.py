"""server.udp-coalesce-us (docs/configuration.md): the pause a UDP worker
takes after a small batch never loses or holds back an answer, and the key
is checked like every other."""
import socket

import dns.message
import dns.rcode
import pytest

from util_dns import run_cirrus

ZONE = """$TTL 300
@    SOA ns1 hostmaster 1 3600 900 604800 60
@    NS  ns1
ns1  A   192.0.2.1
www  A   192.0.2.10
"""


@pytest.mark.parametrize("pause", [0, 30, 1000])
def test_bursts_and_lone_queries_all_answered(cirrus, pause):
    srv = cirrus({"example.com.": ZONE}, server_conf={"udp-coalesce-us": pause})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        # Room for every answer of a burst (the default buffer drops some).
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        for round_ in range(3):
            # A burst (large batches), then a lone query (a small one).
            ids = set()
            for i in range(150):
                q = dns.message.make_query(f"n{i}.example.com." if i % 2 else "www.example.com.",
                                           "A")
                q.id = (round_ * 1000 + i) & 0xFFFF
                ids.add(q.id)
                s.sendto(q.to_wire(), ("127.0.0.1", srv.port))
            while ids:
                r = dns.message.from_wire(s.recv(4096))
                assert r.id in ids
                ids.discard(r.id)
                www = r.question[0].name.to_text() == "www.example.com."
                assert r.rcode() == (dns.rcode.NOERROR if www else dns.rcode.NXDOMAIN)
            lone = dns.message.make_query("www.example.com.", "A")
            s.sendto(lone.to_wire(), ("127.0.0.1", srv.port))
            r = dns.message.from_wire(s.recv(4096))
            assert r.id == lone.id and r.answer[0][0].address == "192.0.2.10"


def test_out_of_range_is_refused_with_file_and_line(tmp_path):
    conf = tmp_path / "cirrus.yaml"
    conf.write_text("server:\n  udp-coalesce-us: 1001\n")
    res = run_cirrus("serve", "-c", conf, cwd=tmp_path)
    assert res.returncode == 1
    assert f"{conf}:2: udp-coalesce-us must be an integer from 0 to 1000" in res.stderr, \
        res.stderr
