"""Compiled zone images: `cirrus zone compile` and `cirrus serve --image`.

A server started from an image answers exactly as one that parsed the zone
files; an image that is stale, damaged or not an image is not used (with a
warning) and the files are loaded instead; a zone that fails its checks is
not compiled.
"""
import subprocess

import dns.rcode
import pytest

from conftest import Server, assert_clean_exit, cirrus_bin

EXAMPLE_COM = """$TTL 300
@ SOA ns1 hostmaster 2026120101 3600 900 604800 60
@ NS ns1
@ NS ns2.example.net.
@ MX 10 mail
ns1 A 192.0.2.1
mail A 192.0.2.25
mail AAAA 2001:db8::25
www A 192.0.2.80
www A 192.0.2.81
www TXT "hello" "world"
alias CNAME www
chain CNAME alias
*.wild A 192.0.2.99
*.wild TXT "wildcard"
a.b.c.ent TXT "deep"
sub NS ns.sub
ns.sub A 192.0.2.53
_sip._udp SRV 0 5 5060 www
caa CAA 0 issue "ca.example"
old DNAME example.org.
x TYPE65280 \\# 3 010203
"""

EXAMPLE_ORG = """$TTL 60
@ SOA ns hostmaster 1 3600 900 604800 60
@ NS ns
ns A 198.51.100.1
www A 198.51.100.80
"""

ZONES = {"example.com.": EXAMPLE_COM, "example.org.": EXAMPLE_ORG}

QUESTIONS = [
    ("example.com.", "SOA"), ("example.com.", "NS"), ("example.com.", "MX"),
    ("www.example.com.", "A"), ("WwW.ExAmPlE.CoM.", "TXT"), ("www.example.com.", "AAAA"),
    ("alias.example.com.", "A"), ("chain.example.com.", "A"), ("x.wild.example.com.", "A"),
    ("y.wild.example.com.", "TXT"), ("c.ent.example.com.", "A"), ("ent.example.com.", "TXT"),
    ("nx.example.com.", "A"), ("a.b.nx.example.com.", "MX"), ("sub.example.com.", "A"),
    ("deep.sub.example.com.", "A"), ("sub.example.com.", "DS"), ("_sip._udp.example.com.", "SRV"),
    ("caa.example.com.", "CAA"), ("q.old.example.com.", "A"), ("x.example.com.", "TYPE65280"),
    ("mail.example.com.", "ANY"), ("www.example.org.", "A"), ("nx.example.org.", "A"),
    ("example.net.", "A"),
]


def compile_image(*args):
    return subprocess.run([cirrus_bin(), "zone", "compile", *args],
                          capture_output=True, text=True, timeout=60)


def answers(server):
    """Each question's answer as comparable text (the ID left out)."""
    out = []
    for name, rtype in QUESTIONS:
        for tcp in (False, True):
            r = server.query(name, rtype, tcp=tcp)
            r.id = 0
            out.append(r.to_text())
    return out


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        assert_clean_exit(s)


def new_server(servers, workdir, zones=ZONES):
    workdir.mkdir(exist_ok=True)
    s = Server(workdir, zones)
    s.write_conf()
    # start() writes the configuration again; the zone files, written now,
    # must keep the time the image records.
    s.zones = {origin: None for origin in zones}
    servers.append(s)
    return s


def test_image_answers_like_the_zone_files(servers, tmp_path):
    from_files = new_server(servers, tmp_path / "files").start()
    s = new_server(servers, tmp_path / "image")
    image = tmp_path / "zones.img"
    done = compile_image("-c", str(s.conf_path), "-O", str(image))
    assert done.returncode == 0, done.stderr
    assert "2 zones" in done.stdout
    s.extra_args = ["--image", str(image)]
    s.start()
    assert "from image" in s.log()
    assert "loading the zone files instead" not in s.log()
    assert answers(s) == answers(from_files)


def test_stale_image_is_not_used(servers, tmp_path):
    s = new_server(servers, tmp_path)
    image = tmp_path / "zones.img"
    assert compile_image("-c", str(s.conf_path), "-O", str(image)).returncode == 0
    with open(s.zone_path("example.org."), "a") as f:
        f.write("fresh A 198.51.100.7\n")
    s.extra_args = ["--image", str(image)]
    s.start()
    assert "changed after the image was compiled" in s.log()
    r = s.query("fresh.example.org.", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert r.answer[0][0].address == "198.51.100.7"


@pytest.mark.parametrize("damage", ["truncated", "not-an-image", "missing"])
def test_unusable_image_falls_back_to_files(servers, tmp_path, damage):
    s = new_server(servers, tmp_path)
    image = tmp_path / "zones.img"
    assert compile_image("-c", str(s.conf_path), "-O", str(image)).returncode == 0
    if damage == "truncated":
        data = image.read_bytes()
        image.write_bytes(data[: len(data) // 2])
    elif damage == "not-an-image":
        image.write_text(EXAMPLE_ORG)
    else:
        image.unlink()
    s.extra_args = ["--image", str(image)]
    s.start()
    assert "loading the zone files instead" in s.log()
    assert s.query("www.example.com.", "A").answer[0][0].address in ("192.0.2.80", "192.0.2.81")


def test_zone_only_in_config_is_loaded_from_its_file(servers, tmp_path):
    """An image compiled from one zone file serves that zone; the
    configuration's other zone comes from its file."""
    s = new_server(servers, tmp_path)
    image = tmp_path / "one.img"
    done = compile_image(str(s.zone_path("example.org.")), "--origin", "example.org",
                         "-O", str(image))
    assert done.returncode == 0, done.stderr
    s.extra_args = ["--image", str(image)]
    s.start()
    assert "zone example.org.: 4 records from image" in s.log()
    assert "zone example.com." not in s.log()
    assert s.query("www.example.org.", "A").rcode() == dns.rcode.NOERROR
    assert s.query("www.example.com.", "A").rcode() == dns.rcode.NOERROR


def test_reload_reads_the_files(servers, tmp_path):
    import time
    s = new_server(servers, tmp_path)
    image = tmp_path / "zones.img"
    assert compile_image("-c", str(s.conf_path), "-O", str(image)).returncode == 0
    s.extra_args = ["--image", str(image)]
    s.start()
    s.zone_path("example.org.").write_text(
        EXAMPLE_ORG.replace("@ SOA ns hostmaster 1", "@ SOA ns hostmaster 2")
        + "later A 198.51.100.9\n")
    s.reload()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if s.query("later.example.org.", "A").rcode() == dns.rcode.NOERROR:
            break
        time.sleep(0.05)
    assert s.query("later.example.org.", "A").answer[0][0].address == "198.51.100.9"


def test_broken_zone_is_not_compiled(tmp_path):
    bad = tmp_path / "example.com.zone"
    bad.write_text("$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 604800 60\n@ NS ns1\n"
                   "ns1 A 192.0.2.1\nwww CNAME ns1\nwww A 192.0.2.2\n")
    image = tmp_path / "zones.img"
    done = compile_image(str(bad), "-O", str(image))
    assert done.returncode == 1
    assert f"{bad}:6:" in done.stderr
    assert not image.exists()


def test_compile_usage(tmp_path):
    assert compile_image("--help").returncode == 0
    assert compile_image(str(tmp_path / "x.zone")).returncode == 2   # no -O
    assert compile_image("-O", str(tmp_path / "x.img")).returncode == 2  # nothing to compile


def fn_answers(fn):
    """Each question's DoH answer as comparable text (the ID left out)."""
    import dns.message
    out = []
    for name, rtype in QUESTIONS:
        status, _, body = fn.doh_post(dns.message.make_query(name, rtype).to_wire())
        assert status == 200, (name, rtype, status)
        r = dns.message.from_wire(body)
        r.id = 0
        out.append(r.to_text())
    return out


def test_function_http_starts_from_an_image(tmp_path):
    """`function http --image` answers as it does from the zone files."""
    from test_function_http import FnServer
    s = Server(tmp_path, ZONES)
    s.write_conf()
    image = tmp_path / "zones.img"
    assert compile_image("-c", str(s.conf_path), "-O", str(image)).returncode == 0
    from_files = FnServer(tmp_path, ["-c", str(s.conf_path)], name="files").start()
    from_image = FnServer(tmp_path, ["-c", str(s.conf_path), "--image", str(image)],
                          name="image").start()
    try:
        assert "from image" in from_image.log()
        assert "from image" not in from_files.log()
        assert fn_answers(from_image) == fn_answers(from_files)
    finally:
        assert from_files.stop() == 0
        assert from_image.stop() == 0


def test_policies_apply_to_zones_from_an_image(servers, tmp_path):
    """A zone from the image gets the policies its configuration declares,
    in serve and in function http alike."""
    from test_function_http import FnServer
    s = new_server(servers, tmp_path)
    image = tmp_path / "zones.img"
    assert compile_image("-c", str(s.conf_path), "-O", str(image)).returncode == 0
    text = s.conf_path.read_text().replace(
        '  - origin: "example.org."\n',
        '  - origin: "example.org."\n'
        '    policies:\n'
        '      - name: pol\n'
        '        type: A\n'
        '        rule: failover\n'
        '        endpoints:\n'
        '          - { rdata: 198.51.100.50, health: primary }\n'
        '          - { rdata: 198.51.100.51 }\n')
    assert text != s.conf_path.read_text()
    s.conf_path.write_text(text + "health:\n  primary: down\n")
    s.write_conf = lambda: None   # keep the policies just written
    s.extra_args = ["--image", str(image)]
    s.start()
    assert "example.org.: 4 records from image" in s.log()
    assert s.query("pol.example.org.", "A").answer[0][0].address == "198.51.100.51"
    fn = FnServer(tmp_path, ["-c", str(s.conf_path), "--image", str(image)]).start()
    try:
        body, _ = fn.resolve(name="pol.example.org", type="A")
        assert [a["data"] for a in body["Answer"]] == ["198.51.100.51"]
        assert "from image" in fn.log()
    finally:
        assert fn.stop() == 0


def test_function_checks_its_image_after_it_answers(servers, tmp_path):
    """`function http` answers from an image at once and checks its checksum
    right after, at idle priority: an intact image keeps serving; one with a
    changed byte ends the instance with status 1 and says why (serve checks
    before it answers: test_unusable_image_falls_back_to_files)."""
    import time
    from test_function_http import FnServer
    s = new_server(servers, tmp_path)
    s.write_conf()
    image = tmp_path / "zones.img"
    assert compile_image("-c", str(s.conf_path), "-O", str(image)).returncode == 0
    args = ["-c", str(s.conf_path), "--image", str(image)]
    fn = FnServer(tmp_path, args).start()
    try:
        body, _ = fn.resolve(name="www.example.org", type="A")
        assert body["Status"] == 0 and "from image" in fn.log()
        deadline = time.monotonic() + 5
        while "checksum verified" not in fn.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "checksum verified" in fn.log() and fn.proc.poll() is None, fn.log()
    finally:
        assert fn.stop() == 0

    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0x5A     # inside the nodes, past the header
    image.write_bytes(bytes(data))
    proc = subprocess.Popen([cirrus_bin(), "function", "http", "--listen", "127.0.0.1",
                             "--port", "0"] + args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "damaged zone image (checksum)" in err and str(image) in err, err
