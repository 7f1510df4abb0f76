"""The latency rule (docs/policies.md) against the real binary: clients in
several subnets, sent through EDNS Client Subnet, get the endpoint of the
region with the lowest measured latency from the operator's table, with the
scope of the matched prefix; a region whose endpoint is down is skipped for
the next fastest; SIGHUP reads a new table and a broken one keeps the old
policy answering."""
import pytest

import conftest
from test_policy import PolicyServer, addresses, ecs_query, echoed, wait_for

TABLE = """\
# client prefix   region     ms
10.1.0.0/16       eu-west    12
10.1.0.0/16       us-east    85
10.1.0.0/16       ap-south   160
10.1.64.0/18      us-east    9       # a peering that makes us-east closer
10.2.0.0/16       us-east    8
10.2.0.0/16       eu-west    70
10.3.0.0/16       ap-south   30
10.3.0.0/16       eu-west    31
10.4.0.0/16       eu-central 15      # down (health: fra)
10.4.0.0/16       eu-west    25
10.4.0.0/16       us-east    90
2001:db8:10::/48  ap-south   11
2001:db8:10::/48  eu-west    140
"""

POLICY = """\
    policies:
      - name: api
        type: A
        ttl: 20
        rule: latency
        latency: latency.txt
        endpoints:
          - { rdata: 192.0.2.1, region: eu-west }
          - { rdata: 192.0.2.2, region: us-east }
          - { rdata: 192.0.2.3, region: ap-south }
          - { rdata: 192.0.2.4, region: eu-central, health: fra }
          - { rdata: 192.0.2.9, default: true }
"""


class LatencyServer(PolicyServer):
    def __init__(self, workdir, table=TABLE):
        super().__init__(workdir, "[127.0.0.1/32]", policies=POLICY, health={"fra": "down"})
        self.table = table

    def write_conf(self):
        (self.workdir / "latency.txt").write_text(self.table)
        super().write_conf()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LatencyServer(tmp_path_factory.mktemp("cirrus"))
    srv.start()
    yield srv
    conftest.assert_clean_exit(srv)


@pytest.mark.parametrize("subnet,prefix,answer,scope", [
    ("10.1.5.0", 24, "192.0.2.1", 18),       # eu-west 12; 10.1.64/18 branches off at bit 17
    ("10.1.70.0", 24, "192.0.2.2", 18),      # the /18: us-east 9
    ("10.2.0.0", 24, "192.0.2.2", 16),       # us-east 8
    ("10.3.7.0", 24, "192.0.2.3", 16),       # ap-south 30 beats eu-west 31
    ("10.4.0.0", 24, "192.0.2.1", 16),       # eu-central 15 is down: eu-west 25
    ("2001:db8:10::", 56, "192.0.2.3", 48),  # ap-south over IPv6
    ("10.5.0.0", 24, "192.0.2.9", 16),       # not measured: the default; 10.4 differs at bit 15
    ("10.1.5.0", 0, "192.0.2.9", 0),         # source 0: do not locate me
])
def test_latency_by_client_subnet(server, subnet, prefix, answer, scope):
    subnet = subnet if prefix else "0.0.0.0"
    r = ecs_query(server, "api.example.com.", subnet, prefix)
    assert addresses(r) == [answer]
    assert r.answer[0].ttl == 20
    assert echoed(r) == (prefix, scope, subnet)


def test_reload_table(tmp_path):
    """SIGHUP reads the table again; a broken table is refused with its
    file and line and the previous version keeps answering."""
    srv = LatencyServer(tmp_path)
    srv.start()
    try:
        assert addresses(ecs_query(srv, "api.example.com.", "10.2.0.0", 24)) == ["192.0.2.2"]
        srv.table = TABLE.replace("10.2.0.0/16       eu-west    70",
                                  "10.2.0.0/16       eu-west    3")
        srv.write_conf()
        srv.reload()
        assert wait_for(lambda: addresses(ecs_query(srv, "api.example.com.", "10.2.0.0", 24))
                        == ["192.0.2.1"]), srv.log()
        srv.table = TABLE + "10.6.0.0/16 us-east soon\n"
        srv.write_conf()
        srv.reload()
        want = f"{tmp_path / 'latency.txt'}:15: not milliseconds from 0 to 600000: 'soon'"
        assert wait_for(lambda: want in srv.log()), srv.log()
        assert "keeping the previous version" in srv.log()
        assert addresses(ecs_query(srv, "api.example.com.", "10.2.0.0", 24)) == ["192.0.2.1"]
    finally:
        conftest.assert_clean_exit(srv)
