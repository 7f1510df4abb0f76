"""A 1,000,000-record zone loads and serves (issue 2, "Zones").

The zone is generated here (deterministic), served by the real binary, and
probed for names at the start, middle and end of the file, a missing name
and an empty non-terminal. Under ASan this takes a few seconds."""
import time

import dns.rcode

RECORDS = 1_000_000


def big_zone_text():
    head = ("$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 604800 60\n@ NS ns1\n"
            "ns1 A 192.0.2.1\n")
    body = "".join(f"h{i}.g{i % 1000} A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n"
                   for i in range(RECORDS))
    return head + body


def test_million_records_load_and_serve(cirrus):
    """Every probed name answers with its own address; misses are NXDOMAIN,
    the generated g<N> parents are empty non-terminals (NODATA)."""
    started = time.monotonic()
    srv = cirrus({"big.test": big_zone_text()})
    load_seconds = time.monotonic() - started
    for i in (0, 1, RECORDS // 2, RECORDS - 1):
        r = srv.query(f"h{i}.g{i % 1000}.big.test.", "A")
        assert r.rcode() == dns.rcode.NOERROR
        addr = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        assert [rd.address for rd in r.answer[0]] == [addr]
    r = srv.query(f"h{RECORDS}.g0.big.test.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN
    r = srv.query("g7.big.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and r.authority
    # Generous bound: catches a quadratic loader, not a slow machine.
    assert load_seconds < 120, f"load took {load_seconds:.1f} s"
