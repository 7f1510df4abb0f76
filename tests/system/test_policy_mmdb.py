"""The geo rule over a MaxMind database (docs/policies.md) against the real
binary: the test writes its own .mmdb with mmdb_writer.py, checks the file
with libmaxminddb's own mmdblookup, then asks through EDNS Client Subnet
from networks placed in subdivisions, countries and continents, and checks
the endpoint and the ECS scope (the database network's prefix length).
SIGHUP reads a new database; a missing or corrupt one is refused with
"FILE: reason" and the old policy keeps answering."""
import shutil
import subprocess

import pytest

import conftest
import mmdb_writer
from test_policy import PolicyServer, addresses, ecs_query, echoed, wait_for


def place(continent, country, *subdivisions):
    record = {"continent": {"code": continent, "names": {"en": continent}},
              "country": {"iso_code": country, "names": {"en": country, "de": country}}}
    if subdivisions:
        record["subdivisions"] = [{"iso_code": s} for s in subdivisions]
    return record


NETWORKS = [
    ("10.10.0.0/16", place("NA", "US", "CA")),
    ("10.11.0.0/16", place("NA", "US", "NY")),
    ("10.12.0.0/20", place("EU", "DE", "BY")),
    ("10.13.0.0/16", place("EU", "FR")),
    ("10.14.0.0/16", place("SA", "BR")),
    ("10.15.0.0/16", place("EU", "GB", "ENG", "LND")),
    ("2001:db8:50::/48", place("AS", "JP")),
    ("2001:db8:51::/48", place("OC", "AU", "NSW")),
]

POLICY = """\
    policies:
      - name: geo
        type: A
        rule: geo
        mmdb: geo.mmdb
        endpoints:
          - { rdata: 192.0.2.1, subdivisions: [US-CA] }
          - { rdata: 192.0.2.2, countries: [US] }
          - { rdata: 192.0.2.3, countries: [DE] }
          - { rdata: 192.0.2.4, continents: [EU] }
          - { rdata: 192.0.2.5, continents: [AS] }
          - { rdata: 192.0.2.6, subdivisions: [AU-NSW, GB-LND] }
          - { rdata: 192.0.2.9, default: true }
"""


@pytest.fixture(scope="module")
def mmdb_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mmdb") / "geo.mmdb"
    mmdb_writer.write(str(path), NETWORKS, database_type="Cirrus-Test-City")
    return path


def mmdblookup(path, ip, *args):
    return subprocess.run(["mmdblookup", "--file", str(path), "--ip", ip, *args],
                          capture_output=True, text=True, timeout=10)


@pytest.mark.parametrize("ip,path,want", [
    ("10.10.1.2", ["subdivisions", "0", "iso_code"], '"CA" <utf8_string>'),
    ("10.12.15.255", ["country", "iso_code"], '"DE" <utf8_string>'),
    ("10.15.0.1", ["subdivisions", "1", "iso_code"], '"LND" <utf8_string>'),
    ("10.15.0.1", ["continent", "code"], '"EU" <utf8_string>'),
    ("2001:db8:51::1", ["country", "names", "de"], '"AU" <utf8_string>'),
])
def test_mmdblookup_reads_the_written_file(mmdb_file, ip, path, want):
    """libmaxminddb's own tool reads what mmdb_writer.py wrote."""
    r = mmdblookup(mmdb_file, ip, *path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == want


@pytest.mark.parametrize("ip,found,prefix", [
    ("10.12.5.1", True, 96 + 20),      # IPv4 sits at ::/96 of an IPv6 tree
    ("10.12.16.1", False, 96 + 20),    # the empty half beside 10.12.0.0/20
    ("2001:db8:51::1", True, 48),
])
def test_mmdblookup_metadata_and_prefix(mmdb_file, ip, found, prefix):
    """The metadata, and the network prefix length libmaxminddb reports,
    which is what the server's scope comes from."""
    r = mmdblookup(mmdb_file, ip, "--verbose")
    assert "Type:          Cirrus-Test-City" in r.stdout
    assert "IP version:    IPv6" in r.stdout
    assert f"Record prefix length: {prefix}" in r.stdout
    assert ("Could not find an entry" not in r.stderr) == found, r.stderr


class MmdbServer(PolicyServer):
    def __init__(self, workdir, mmdb, policies=POLICY):
        super().__init__(workdir, "[127.0.0.1/32]", policies=policies, health={})
        shutil.copy(mmdb, workdir / "geo.mmdb")


@pytest.fixture(scope="module")
def server(tmp_path_factory, mmdb_file):
    srv = MmdbServer(tmp_path_factory.mktemp("cirrus"), mmdb_file)
    srv.start()
    yield srv
    conftest.assert_clean_exit(srv)


@pytest.mark.parametrize("subnet,prefix,answer,scope", [
    ("10.10.3.0", 24, "192.0.2.1", 16),      # US-CA: the subdivision's endpoint
    ("10.11.0.0", 24, "192.0.2.2", 16),      # US-NY: not listed, the country's
    ("10.12.5.0", 24, "192.0.2.3", 20),      # DE beats its continent; a /20 network
    ("10.13.0.0", 24, "192.0.2.4", 16),      # FR: the continent EU
    ("10.15.9.0", 24, "192.0.2.6", 16),      # GB-LND, the more specific subdivision
    ("10.14.0.0", 24, "192.0.2.9", 16),      # BR, SA: nobody serves it, the default
    ("10.12.16.0", 24, "192.0.2.9", 20),     # no record: the empty /20 beside 10.12.0/20
    ("192.0.2.0", 24, "192.0.2.9", 1),       # no record; leaves 10/8 at the first bit
    ("10.0.0.0", 12, "192.0.2.9", 13),       # the empty 10.0/13: more bits than were sent
    ("2001:db8:50::", 56, "192.0.2.5", 48),  # JP: the continent AS
    ("2001:db8:51::", 56, "192.0.2.6", 48),  # AU-NSW
    ("2001:db8:52::", 48, "192.0.2.9", 47),  # no record beside the two /48
    ("10.10.3.0", 0, "192.0.2.9", 0),        # source 0: do not locate me
])
def test_geo_mmdb_by_client_subnet(server, subnet, prefix, answer, scope):
    subnet = subnet if prefix else "0.0.0.0"
    r = ecs_query(server, "geo.example.com.", subnet, prefix)
    assert addresses(r) == [answer]
    assert echoed(r) == (prefix, scope, subnet)


def test_missing_mmdb_refuses_to_start(tmp_path, mmdb_file):
    srv = MmdbServer(tmp_path, mmdb_file)
    (tmp_path / "geo.mmdb").unlink()
    srv.start(wait=False)
    try:
        rc = srv.proc.wait(timeout=20)
    finally:
        srv.stderr.close()
    assert rc != 0
    want = (f"{srv.conf_path}:10: mmdb {tmp_path / 'geo.mmdb'}: Error opening the specified "
            "MaxMind DB file (No such file or directory)")
    assert want in srv.log(), srv.log()


def test_reload_new_then_corrupt_mmdb(tmp_path, mmdb_file):
    """SIGHUP reads the database again; a corrupt one is refused with
    FILE: reason and the previous policy keeps answering."""
    srv = MmdbServer(tmp_path, mmdb_file)
    srv.start()
    try:
        assert addresses(ecs_query(srv, "geo.example.com.", "10.13.0.0", 24)) == ["192.0.2.4"]
        moved = [(n, place("EU", "DE") if n == "10.13.0.0/16" else r) for n, r in NETWORKS]
        mmdb_writer.write(str(tmp_path / "geo.mmdb.new"), moved)
        (tmp_path / "geo.mmdb.new").replace(tmp_path / "geo.mmdb")
        srv.reload()
        assert wait_for(lambda: addresses(ecs_query(srv, "geo.example.com.", "10.13.0.0", 24))
                        == ["192.0.2.3"]), srv.log()
        (tmp_path / "geo.mmdb.new").write_bytes(b"\0" * 4096)
        (tmp_path / "geo.mmdb.new").replace(tmp_path / "geo.mmdb")
        srv.reload()
        want = f"mmdb {tmp_path / 'geo.mmdb'}: The MaxMind DB file contains invalid metadata"
        assert wait_for(lambda: want in srv.log()), srv.log()
        assert "keeping the previous version" in srv.log()
        assert addresses(ecs_query(srv, "geo.example.com.", "10.13.0.0", 24)) == ["192.0.2.3"]
        assert addresses(ecs_query(srv, "geo.example.com.", "10.10.3.0", 24)) == ["192.0.2.1"]
    finally:
        conftest.assert_clean_exit(srv)
