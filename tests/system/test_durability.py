"""Nothing lost (issue 3): an acknowledged write survives kill -9, and
concurrent writers to one zone do not lose updates.

Both tests drive the real server through its REST API and check the
outcome the way a client would: DNS answers and the audit log."""
import threading

import dns.rcode

from util_api import api, kill_9_when, replace  # noqa: F401  (api is a fixture)

ZONE = "durable.test."


def test_acknowledged_writes_survive_kill_9(api):
    """Write in a loop, SIGKILL the server mid-way, restart it on the same
    store: every write that got its 204 is served and in the audit log."""
    srv = api()
    srv.create_zone(ZONE, nameservers=["ns1.example.net."])
    acked = []
    stop = threading.Event()

    def writer():
        for i in range(2000):  # bounded; the kill ends it much sooner
            if stop.is_set():
                return
            try:
                r = srv.patch(ZONE, [replace(f"w{i}.{ZONE}", "TXT", 60, f'"write {i}"')])
            except OSError:
                return  # the server is gone
            if r.status == 204:
                acked.append(i)

    t = threading.Thread(target=writer)
    t.start()
    kill_9_when(srv, acked, 25, [t], stop, timeout=20)
    assert len(acked) >= 25, f"only {len(acked)} writes acknowledged before the kill"

    srv.stderr.close()
    srv.start()
    for i in acked:
        r = srv.query(f"w{i}.{ZONE}", "TXT")
        assert r.rcode() == dns.rcode.NOERROR and r.answer, f"acknowledged write {i} lost"
    audited = set()
    assert len(acked) < 1000  # all fit in one page of the audit log
    r = srv.get(f"audit?zone={ZONE}&limit=1000")
    assert r.status == 200, r
    for entry in r.json()["entries"]:
        for after in entry["after"] or []:
            if isinstance(after, dict) and after["name"].startswith("w"):
                audited.add(int(after["name"].split(".")[0][1:]))
    missing = sorted(set(acked) - audited)
    assert not missing, f"acknowledged writes missing from the audit log: {missing[:10]}"
    # the serial counted every committed change exactly once
    assert srv.serial(ZONE) == 1 + len(audited)


def test_concurrent_writers_lose_nothing(api):
    """Four writers patch the same zone at once; every acknowledged change
    is there at the end and the serial moved once per change."""
    srv = api()
    srv.create_zone(ZONE, nameservers=["ns1.example.net."])
    start_serial = srv.serial(ZONE)
    results = {}

    def writer(w):
        ok = []
        for i in range(40):
            r = srv.patch(ZONE, [replace(f"c{w}-{i}.{ZONE}", "A", 60, f"192.0.2.{w + 1}")])
            assert r.status == 204, r
            ok.append(i)
        results[w] = ok

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == [0, 1, 2, 3]
    names = {r["name"] for r in srv.get(f"zones/{ZONE}/rrsets?type=A").json()["rrsets"]}
    for w, ok in results.items():
        for i in ok:
            assert f"c{w}-{i}.{ZONE}" in names
    assert srv.serial(ZONE) == start_serial + 4 * 40
    r = srv.query(f"c3-39.{ZONE}", "A")
    assert [rd.address for rd in r.answer[0]] == ["192.0.2.4"]
