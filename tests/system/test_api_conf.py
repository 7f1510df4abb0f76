"""The `store` and `api` sections of cirrus.yaml (docs/configuration.md):
bad values stop the server with FILE:LINE; the API is off unless enabled;
without a `store` section the store is ./cirrus.db in the directory the
server runs in; TLS with tls-cert and
tls-key (GnuTLS through libmicrohttpd), checked with Python's ssl and curl
against a self-signed certificate made with openssl."""
import json
import socket
import ssl
import subprocess

import pytest

import conftest
from util_api import ApiServer, api, replace  # noqa: F401 (fixture)
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
    res = run_cirrus("serve", "-c", conf, cwd=tmp_path)
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
                         capture_output=True, text=True, timeout=30, cwd=tmp_path / "second")
    assert res.returncode == 1
    assert f"port {first.api_port}" in res.stderr, res.stderr


def test_date_serial_policy(api):
    srv = api(store_conf={"serial-policy": "date"})
    serial = srv.create_zone("date.test.")["serial"]
    assert 2000010100 < serial < 2100010100
    assert srv.patch("date.test", [replace("a", "A", 60, "192.0.2.1")]).status == 204
    assert srv.serial("date.test") == serial + 1


def test_default_store_is_cirrus_db(tmp_path):
    """No `store` section: `cirrus serve` keeps API changes in ./cirrus.db
    (the directory it runs in, not the configuration's), where `cirrus zone
    export` run from there (default --db ./cirrus.db) finds them, also after
    a restart."""
    (tmp_path / "conf").mkdir()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    srv = ApiServer(tmp_path / "conf", {})
    srv.cwd = run_dir
    srv.write_conf = lambda: default_store_conf(srv)
    srv.start()
    try:
        srv.create_zone("default.test.")
        assert srv.patch("default.test", [replace("www", "A", 60, "192.0.2.7")]).status == 204
        assert not (tmp_path / "conf" / "cirrus.db").exists()
        assert (run_dir / "cirrus.db").is_file()
        res = subprocess.run([conftest.cirrus_bin(), "zone", "export", "default.test."],
                             cwd=run_dir, capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        assert "192.0.2.7" in res.stdout
        assert srv.stop() == 0
        srv.start()
        assert srv.query("www.default.test.", "A").answer[0][0].address == "192.0.2.7"
    finally:
        conftest.assert_clean_exit(srv)


def default_store_conf(srv):
    conftest.Server.write_conf(srv)
    with open(srv.conf_path, "a") as f:
        f.write(f"api:\n  enabled: true\n  listen: 127.0.0.1\n  port: {srv.api_port}\n")


def make_cert(tmp_path):
    """A self-signed P-256 certificate for 127.0.0.1 (IP subjectAltName)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    return cert, key


def test_tls(api, tmp_path):
    cert, key = make_cert(tmp_path)
    srv = api(api_conf={"tls-cert": f'"{cert}"', "tls-key": f'"{key}"'})
    # Python's ssl, verifying the chain and the host name (the IP SAN)
    ctx = ssl.create_default_context(cafile=str(cert))
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    with socket.create_connection(("127.0.0.1", srv.api_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.sendall(b"GET /api/v1/zones HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        b"Authorization: Bearer " + srv.admin.encode() +
                        b"\r\nConnection: close\r\n\r\n")
            data = b""
            for _ in range(100):  # bounded: the server closes after the reply
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert b'"zones"' in data
    # the helper client (https) for a write and a 401
    assert srv.patch("file.test", [replace("www", "A", 60, "192.0.2.1")]).status == 409
    assert srv.get("zones", token="cirrus_wrong").status == 401
    # curl, the client operators use: a PATCH through TLS, visible in DNS
    srv.create_zone("tls.test.")
    url = f"https://127.0.0.1:{srv.api_port}/api/v1/zones/tls.test/rrsets"
    body = json.dumps({"rrsets": [replace("www", "A", 60, "192.0.2.44")]})
    res = subprocess.run(["curl", "-sS", "--cacert", str(cert), "-X", "PATCH",
                          "-H", f"Authorization: Bearer {srv.admin}",
                          "-H", "Content-Type: application/json", "--data", body,
                          "-o", "/dev/null", "-w", "%{http_code} %{scheme}", url],
                         capture_output=True, text=True, timeout=30)
    assert res.stdout == "204 HTTPS", res.stdout + res.stderr
    assert srv.query("www.tls.test.", "A").answer[0][0].address == "192.0.2.44"
    # curl without the certificate refuses the unknown issuer (exit 60)
    res = subprocess.run(["curl", "-sS", "-o", "/dev/null", url], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 60, res.stderr
    # plain HTTP to the TLS port gets no HTTP answer
    with socket.create_connection(("127.0.0.1", srv.api_port), timeout=5) as s:
        s.sendall(b"GET /api/v1/openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(100)
        except OSError:
            data = b""
    assert not data.startswith(b"HTTP/1.1")


def test_tls_missing_file_fails_start(tmp_path):
    conf = tmp_path / "cirrus.yaml"
    conf.write_text(f"server:\n  port: {conftest.free_port()}\n"
                    "api:\n  enabled: true\n  port: 1\n  tls-cert: nope.pem\n  tls-key: nope.key\n")
    res = run_cirrus("serve", "-c", conf, cwd=tmp_path)
    assert res.returncode == 1
    assert "nope.pem" in res.stderr, res.stderr
