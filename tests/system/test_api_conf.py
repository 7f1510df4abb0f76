"""The `store` and `api` sections of cirrus.yaml (docs/configuration.md):
bad values stop the server with FILE:LINE; the API is off unless enabled;
TLS with tls-cert and tls-key (GnuTLS through libmicrohttpd)."""
import shutil
import socket
import subprocess

import pytest

import conftest
from util_api import api, replace  # noqa: F401 (fixture)
from util_dns import run_cirrus


@pytest.mark.parametrize("section,line,message", [
    ("api:\n  enabled: maybe\n", 2, "enabled must be true or false"),
    ("api:\n  listen: localhost\n", 2, "not an IP address"),
    ("api:\n  port: 0\n", 2, "port must be an integer from 1 to 65535"),
    ("api:\n  max-body: 10\n", 2, "max-body must be an integer"),
    ("api:\n  tls-cert: cert.pem\n", 2, "both tls-cert and tls-key"),
    ("api:\n  color: blue\n", 2, "unknown key 'color' in api"),
    ("store:\n  serial-policy: random\n", 2, "serial-policy must be increment or date"),
    ("store:\n  path: \"\"\n", 2, "path must be text"),
    ("store:\n  file: x.db\n", 2, "unknown key 'file' in store"),
])
def test_bad_values_name_file_and_line(tmp_path, section, line, message):
    conf = tmp_path / "cirrus.yaml"
    conf.write_text(section)
    res = run_cirrus("serve", "-c", conf)
    assert res.returncode == 1
    assert f"{conf}:{line}: " in res.stderr and message in res.stderr, res.stderr


def test_api_off_by_default(cirrus):
    """Without `api: enabled: true` the API does not start."""
    srv = cirrus({})
    assert "api: listening" not in srv.log()


def test_api_port_taken_fails_start(api, tmp_path):
    first = api()
    second = conftest.Server(tmp_path / "second", {})
    (tmp_path / "second").mkdir()
    second.write_conf()
    with open(second.conf_path, "a") as f:
        f.write(f"api:\n  enabled: true\n  port: {first.api_port}\n")
    res = subprocess.run([conftest.cirrus_bin(), "serve", "-c", str(second.conf_path)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1
    assert f"port {first.api_port}" in res.stderr, res.stderr


def test_date_serial_policy(api):
    srv = api(store_conf={"serial-policy": "date"})
    serial = srv.create_zone("date.test.")["serial"]
    assert 2000010100 < serial < 2100010100
    assert srv.patch("date.test", [replace("a", "A", 60, "192.0.2.1")]).status == 204
    assert srv.serial("date.test") == serial + 1


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a cert")
def test_tls(api, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    srv = api(api_conf={"tls-cert": f'"{cert}"', "tls-key": f'"{key}"'})
    r = srv.get("zones")
    assert r.status == 200, r
    assert srv.get("openapi.yaml", token=None).body.startswith(b"openapi:")
    # plain HTTP to the TLS port gets no HTTP answer
    with socket.create_connection(("127.0.0.1", srv.api_port), timeout=5) as s:
        s.sendall(b"GET /api/v1/openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(100)
        except OSError:
            data = b""
    assert not data.startswith(b"HTTP/1.1 200")


def test_tls_missing_file_fails_start(tmp_path):
    conf = tmp_path / "cirrus.yaml"
    conf.write_text(f"server:\n  port: {conftest.free_port()}\n"
                    "api:\n  enabled: true\n  port: 1\n  tls-cert: nope.pem\n  tls-key: nope.key\n")
    res = run_cirrus("serve", "-c", conf)
    assert res.returncode == 1
    assert "nope.pem" in res.stderr, res.stderr
