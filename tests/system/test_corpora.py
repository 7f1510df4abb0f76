"""`cirrus zone check` against third-party zone-file corpora (read
../shared/corpora/README.md): BIND's checkzone zones (good*.db must load,
bad*.db must be rejected), BIND's master-file loader cases (masterN.data)
and the `; OK` part of the libzscanner cases.

Where Cirrus and the corpus disagree for a reason that is not a Cirrus bug
(BIND policy, a libzscanner limitation, RFC leeway) the case is marked xfail
with the reason; docs/zone-check-corpora.md has one line per such file.
Disagreements that are Cirrus bugs are left failing on purpose.

BIND's own verdict comes from Debian's `named-checkzone -i local example
FILE` when it is installed, otherwise from the expectations in the corpus
README; it only goes into failure messages, never into the expectation.
"""
import re
import shutil
import subprocess

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import CORPORA, cirrus_bin

CHECKZONE = CORPORA / "bind9-checkzone-zones"
MASTER = CORPORA / "bind9-master-testdata"
ZSCANNER = CORPORA / "knot-libzscanner"


def need(path):
    if not path.is_dir():
        pytest.skip(f"corpus {path} not found: these tests need the shared "
                    f"corpora next to the repository (../shared/corpora)")


def zone_check(path, origin, cwd=None):
    """Run `cirrus zone check`; return (exit code, stderr+stdout)."""
    proc = subprocess.run([cirrus_bin(), "zone", "check", str(path), "--origin", origin],
                          cwd=cwd, capture_output=True, timeout=60)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    assert "AddressSanitizer" not in out and "runtime error:" not in out \
        and "LeakSanitizer" not in out, out
    assert proc.returncode in (0, 1), f"exit {proc.returncode} (crash?):\n{out}"
    if proc.returncode == 1:
        assert "error" in out, f"rejected without an error line:\n{out}"
    return proc.returncode, out


# --------------------------------------------------------------------------
# bind9-checkzone-zones
# --------------------------------------------------------------------------

# The 15 bad*.db that Debian's named-checkzone 9.18 accepts (README).
BIND918_ACCEPTS_BAD = {
    "bad-_dns-svcb1.db", "bad-_dns-svcb2.db", "bad-_dns-svcb3.db", "bad-_dns-svcb4.db",
    "bad-_dns-svcb5.db", "bad-_dns-svcb6.db", "bad-cname-and-key.db",
    "bad-dns-sd-reverse.db", "bad-ds-2.db", "bad-eui48-no-leading-zero.db",
    "bad-eui48-trailing-garbage.db", "bad-eui64-no-leading-zero.db",
    "bad-eui64-trailing-garbage.db", "bad-rpz-prefix.db", "bad-svcb-servername.db",
}

LIBZSCANNER = "libzscanner limitation"
POLICY = "BIND policy, not RFC"
RFC_LEEWAY = "RFC leaves it to the server"

# Files where Cirrus's verdict differs from the file's name for a reason that
# is not a Cirrus bug. Each has a line in docs/zone-check-corpora.md.
CHECKZONE_XFAIL = {
    "good-dns-sd-reverse.db": (LIBZSCANNER, "PTR target '!@#3.': libzscanner accepts only "
                               "letters, digits, '-', '_', '/' and '*' unescaped in names; "
                               "RFC 1035 5.1 allows any character"),
    "good-nsap.db": (LIBZSCANNER, "NSAP (RFC 1706) is not a type libzscanner knows"),
    "good-nsec3-nopadhash.db": (LIBZSCANNER, "NSEC3 next hash 'CPNMU' (3 octets): libzscanner "
                                "takes only base32hex in 8-character groups"),
    "good-svcb.db": (LIBZSCANNER, "dohpath (RFC 9461) is unknown to libzscanner 3.2 "
                     "(Debian 12)"),
    "good1.db": (RFC_LEEWAY, "DNAME next to NS at ns-and-dname, glue below it: RFC 6672 2.3 "
                 "says DNAME MUST NOT share a non-apex owner with NS and no data may exist "
                 "below a DNAME; a server MAY refuse such a zone, BIND loads it occluded"),
    "good-occulted-ns-by-dname.db": (RFC_LEEWAY, "NS below the apex DNAME: RFC 6672 2.3, a "
                                     "server MAY refuse data below a DNAME; BIND loads it "
                                     "occluded"),
    "bad-_dns-svcb2.db": (POLICY, "RFC 9461 DoH rules for _dns SVCB; BIND 9.18 accepts too"),
    "bad-_dns-svcb3.db": (POLICY, "RFC 9461 DoH rules for _dns SVCB; BIND 9.18 accepts too"),
    "bad-_dns-svcb4.db": (POLICY, "RFC 9461 DoH rules for _dns SVCB; BIND 9.18 accepts too"),
    "bad-_dns-svcb5.db": (POLICY, "RFC 9461 DoH rules for _dns SVCB; BIND 9.18 accepts too"),
    "bad-_dns-svcb6.db": (POLICY, "RFC 9461 DoH rules for _dns SVCB; BIND 9.18 accepts too"),
    "bad-cdnskey.db": (POLICY, "BIND's CDS/CDNSKEY-matches-DNSKEY consistency check; Cirrus "
                       "does no DNSSEC consistency checks"),
    "bad-cds.db": (POLICY, "BIND's CDS/CDNSKEY-matches-DNSKEY consistency check; Cirrus "
                   "does no DNSSEC consistency checks"),
    "bad-nsec3-padded.db": (LIBZSCANNER, "accepts '=' padding in the NSEC3 next hash; RFC "
                            "5155 3.3 says unpadded"),
    "bad-rpz-prefix.db": (POLICY, "RPZ owner-name syntax; BIND 9.18 accepts too"),
    "bad-svcb-servername.db": (POLICY, "check-names on an SVCB target with '_'; BIND 9.18 "
                               "only warns"),
}


def checkzone_files():
    if not CHECKZONE.is_dir():
        return ["corpus-missing"]
    names = sorted(p.name for p in CHECKZONE.glob("good*.db"))
    names += sorted(p.name for p in CHECKZONE.glob("bad*.db"))
    return names


def checkzone_params():
    params = []
    for name in checkzone_files():
        marks = []
        if name in CHECKZONE_XFAIL:
            kind, why = CHECKZONE_XFAIL[name]
            marks.append(pytest.mark.xfail(reason=f"{kind}: {why}", strict=True))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def bind_verdict(path, origin="example", cwd=None):
    """True/False from named-checkzone, or None when it is not installed."""
    tool = shutil.which("named-checkzone")
    if tool is None:
        return None
    proc = subprocess.run([tool, "-i", "local", origin, str(path)], cwd=cwd,
                          capture_output=True, timeout=60)
    return proc.returncode == 0


def readme_verdict(name):
    if name.startswith("good"):
        return True
    return name in BIND918_ACCEPTS_BAD


def test_checkzone_corpus_complete():
    need(CHECKZONE)
    good = list(CHECKZONE.glob("good*.db"))
    bad = list(CHECKZONE.glob("bad*.db"))
    assert len(good) == 14, sorted(p.name for p in good)
    assert len(bad) == 119, len(bad)


@pytest.mark.parametrize("name", checkzone_params())
def test_checkzone(name):
    need(CHECKZONE)
    path = CHECKZONE / name
    should_load = name.startswith("good")
    rc, out = zone_check(path, "example", cwd=CHECKZONE)
    bind = bind_verdict(path, cwd=CHECKZONE)
    source = "named-checkzone"
    if bind is None:
        bind, source = readme_verdict(name), "README (named-checkzone not installed)"
    verdict = {True: "loads", False: "rejects"}
    assert (rc == 0) == should_load, (
        f"{name}: should {'load' if should_load else 'be rejected'}; "
        f"Cirrus {verdict[rc == 0]}, BIND ({source}) {verdict[bind]}.\n{out}")


# Files upstream runs with its own origin or from a directory layout; they
# pin behaviour Cirrus must keep (no crash, right verdict).
def test_checkzone_include_directory_rejected():
    need(CHECKZONE)
    rc, out = zone_check(CHECKZONE / "bad-include-directory.db", "example", cwd=CHECKZONE)
    assert rc == 1, out


@pytest.mark.parametrize("name", ["warn.no-a.server.db", "warn.no-a.server.glue.db",
                                  "warn.no-aaaa.server.db", "warn.no-aaaa.server.glue.db",
                                  "er.db", "er-missing.db", "spf.db", "test1.db", "test2.db",
                                  "generate-overflow.db"])
def test_checkzone_warn_files_load(name):
    need(CHECKZONE)
    rc, out = zone_check(CHECKZONE / name, "example", cwd=CHECKZONE)
    assert rc == 0, out


@pytest.mark.parametrize("name", ["nowarn.inherited.owner.db", "warn.inherited.owner.db",
                                  "warn.inherit.origin.db"])
def test_checkzone_include_inherit(name, tmp_path):
    """`$INCLUDE "zones/inherit.db"` (a quoted file name) whose only record,
    `\tNS .`, takes its owner from the includer. named-checkzone loads all
    three (with a warning for the last two). BIND resolves the path against
    its working directory, Cirrus against the including file: laid out here
    so that both mean the same file. Owner inheritance into an included
    file is what BIND does; RFC 1035 5.1 only says the file is inserted.
    The quoting and `@` parts are checked on their own below."""
    need(CHECKZONE)
    (tmp_path / "zones").mkdir()
    shutil.copy(CHECKZONE / "inherit.db", tmp_path / "zones" / "inherit.db")
    shutil.copy(CHECKZONE / name, tmp_path / name)
    rc, out = zone_check(tmp_path / name, "example", cwd=tmp_path)
    if rc != 0 and name == "warn.inherit.origin.db":
        pytest.xfail(f"{LIBZSCANNER}: `$ORIGIN @` is rejected ('invalid FQDN zone origin'); "
                     "RFC 1035 5.1 makes a lone @ the current origin")
    if rc != 0 and "previous owner is invalid" in out:
        pytest.xfail("the owner is not inherited into an $INCLUDEd file (BIND does; RFC "
                     "1035 is silent)")
    bind = bind_verdict(tmp_path / name, cwd=tmp_path)
    assert rc == 0, f"named-checkzone {'loads' if bind else 'rejects' if bind is False else 'n/a'}\n{out}"


INCLUDE_BASE = ("$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\n"
                "ns A 192.0.2.1\n")


@pytest.mark.parametrize("directive", [
    '$INCLUDE "inc.db"',            # quoted file name (libzscanner takes it)
    '$INCLUDE inc\\.db',            # \X escape in the file name
    '$INCLUDE inc\\046db',          # \DDD escape ('.')
    '$INCLUDE inc.db @',            # lone @ = the current origin (RFC 1035 5.1)
    '$INCLUDE inc.db example.',     # explicit origin
    '$INCLUDE inc.db ; comment',
])
def test_include_file_name_forms(directive, tmp_path):
    (tmp_path / "inc.db").write_text("www A 192.0.2.80\n")
    zone = tmp_path / "example.db"
    zone.write_text(INCLUDE_BASE + directive + "\n")
    rc, out = zone_check(zone, "example", cwd=tmp_path)
    assert rc == 0, out


# --------------------------------------------------------------------------
# bind9-master-testdata (BIND's tests/dns/master_test.c inputs, origin test.)
# --------------------------------------------------------------------------

APEX_NS = "@ IN NS ns.example.net.\n"
SOA = "@ 300 IN SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 300\n"

# file -> (expected, how to complete the fragment, note). expected is "load"
# or "reject"; wrap is (text before, text after) added around a fragment
# that BIND's unit test loads without whole-zone checks (no SOA or NS).
MASTER_CASES = {
    "master1.data": ("load", None, "plain zone, lower-case class and type"),
    "master2.data": ("reject", None, "NS without RDATA: unexpected end of line"),
    "master3.data": ("reject", None, "first record has no owner"),
    "master4.data": ("load", ("", APEX_NS), "no $TTL: BIND uses the SOA MINIMUM, Cirrus "
                     "its default 3600 (equal here)"),
    "master5.data": ("reject", None, "class ANY in a record"),
    "master6.data": ("reject", None, "DNSKEY flags as BIND mnemonics (FLAG2|...): RFC 4034 "
                     "2.2 says decimal; BIND accepts, Cirrus rejects"),
    "master7.data": ("reject", None, "DNSKEY with NOKEY mnemonic and no key: RFC 4034 2.2; "
                     "BIND accepts, Cirrus rejects"),
    "master8.data": ("reject", None, "$include of master6.data (rejected above)"),
    "master9.data": ("reject", None, "$include of master5.data (class ANY)"),
    "master10.data": ("load", ("$TTL 300\n" + SOA + APEX_NS, ""), "blank lines of blanks"),
    "master11.data": ("load", ("", APEX_NS), "SOA serial 00090000 is decimal 90000"),
    "master15.data": ("load", None, "65513-byte TXT RDATA: BIND caps RDATA at 65512, RFC 1035 "
                      "allows 65535"),
    "master16.data": ("load", None, "65512-byte TXT RDATA"),
    "master17.data": ("load", ("", "$ORIGIN test.\nns A 192.0.2.1\nns2 A 192.0.2.2\n"
                               "ns3 A 192.0.2.3\n"),
                      "owner inherited across $ORIGIN"),
}
MASTER_SKIP = {
    "master12.data.in": "BIND raw (binary) zone format, hex encoded",
    "master13.data.in": "BIND raw (binary) zone format, hex encoded",
    "master14.data.in": "BIND raw (binary) zone format, hex encoded",
    "master18.data.in": "template $INCLUDE-ing BIND's test keys, not in the corpus",
}


def master_params():
    names = sorted(MASTER_CASES) + sorted(MASTER_SKIP)
    params = []
    for name in names:
        marks = [pytest.mark.skip(reason=MASTER_SKIP[name])] if name in MASTER_SKIP else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def master_layout(tmp_path):
    """Copy the corpus to tmp/testdata/master/ so that master8/9's
    `$include testdata/master/...` means the same file to BIND (relative to
    the working directory, tmp) and to Cirrus (relative to the includer)."""
    dest = tmp_path / "testdata" / "master"
    shutil.copytree(MASTER, dest)
    return dest


def master_file(tmp_path, name):
    dest = master_layout(tmp_path)
    expected, wrap, _ = MASTER_CASES[name]
    path = dest / name
    if name in ("master8.data", "master9.data"):
        path = tmp_path / name  # next to testdata/, like BIND's working directory
        shutil.copy(dest / name, path)
    if wrap is not None:
        text = (MASTER / name).read_text()
        path = tmp_path / ("wrapped-" + name)
        path.write_text(wrap[0] + text + ("" if text.endswith("\n") else "\n") + wrap[1])
    return path, expected


@pytest.mark.parametrize("name", master_params())
def test_master(name, tmp_path):
    need(MASTER)
    path, expected = master_file(tmp_path, name)
    rc, out = zone_check(path, "test", cwd=tmp_path)
    if expected == "load":
        assert rc == 0, f"{name}: {MASTER_CASES[name][2]}\n{out}"
    else:
        assert rc == 1, f"{name}: {MASTER_CASES[name][2]}\n{out}"


def test_master_all_files_decided():
    need(MASTER)
    names = {p.name for p in MASTER.iterdir()}
    assert names == set(MASTER_CASES) | set(MASTER_SKIP), names ^ (set(MASTER_CASES) | set(MASTER_SKIP))


def query(server, name, rtype, tcp=False):
    q = dns.message.make_query(name, rtype)
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=server.port, timeout=5)
    return dns.query.udp(q, "127.0.0.1", port=server.port, timeout=5)


def test_master_served(cirrus, tmp_path):
    """What the loaded master files mean, checked by serving them: the
    decimal serial of master11 and master17's owner inheritance (BIND keeps
    the previous owner, b.test, after `$ORIGIN sub.test.`)."""
    need(MASTER)
    for sub in ("m11", "m17"):
        (tmp_path / sub).mkdir()
    m11, _ = master_file(tmp_path / "m11", "master11.data")
    m17, _ = master_file(tmp_path / "m17", "master17.data")
    srv = cirrus({"test.": m17.read_text(), "test11.": m11.read_text()})
    soa = query(srv, "test11.", "SOA")
    assert soa.answer and soa.answer[0][0].serial == 90000, soa.to_text()
    a = query(srv, "b.test.", "A")
    got = sorted(rr.address for rrset in a.answer for rr in rrset)
    assert got == ["1.2.3.4", "4.3.2.1"], a.to_text()
    sub = query(srv, "sub.test.", "A")
    assert not sub.answer, sub.to_text()


def test_master_max_rdata_served(cirrus, tmp_path):
    """A 65512-byte TXT (master16) cannot fit in any DNS message with its
    owner and question: the server must still answer (TC=1 or SERVFAIL),
    not crash or send a malformed message."""
    need(MASTER)
    srv = cirrus({"test.": (MASTER / "master16.data").read_text()})
    ans = query(srv, "c.test.", "TXT", tcp=True)
    assert (ans.flags & dns.flags.TC) or ans.rcode() == dns.rcode.SERVFAIL, ans.to_text()


# --------------------------------------------------------------------------
# knot-libzscanner: the `; OK` part of each NN_name.in must load
# --------------------------------------------------------------------------

# Whole-zone and per-record semantic checks (not syntax) that the corpus's
# root-owned fragments trip: they carry no SOA, put several CNAMEs at @, etc.
SEMANTIC = re.compile(
    r"is outside the zone|class \d+ is not IN|meta type|SOA record at|more than one|"
    r"CNAME and other data|no SOA record|no NS records|has no A or AAAA|missing glue|"
    r"has data below it|differs from its RRset's TTL|: error: NS \S+ of |DS record at ")

# 06-0_INCLUDE checks Cirrus's own $INCLUDE (src/zone/zone_load.c replaces
# libzscanner's): quoted and escaped file names, escaped origin arguments.
ZSCANNER_XFAIL = {
    "57_SVCB": f"{LIBZSCANNER}: dohpath/ohttp SvcParamKeys are newer than libzscanner 3.2",
    "59_WALLET": f"{LIBZSCANNER}: WALLET is newer than libzscanner 3.2",
    "60_DSYNC": f"{LIBZSCANNER}: DSYNC is newer than libzscanner 3.2",
    "61_RESINFO": f"{LIBZSCANNER}: RESINFO is newer than libzscanner 3.2",
    "62_ALIAS": f"{LIBZSCANNER}: ALIAS is newer than libzscanner 3.2",
    "63_DELEG": f"{LIBZSCANNER}: DELEG is newer than libzscanner 3.2",
}


def zscanner_cases():
    data = ZSCANNER / "data"
    if not data.is_dir():
        return [pytest.param("corpus-missing", id="corpus-missing")]
    params = []
    for path in sorted(data.glob("*.in")):
        text = path.read_text(encoding="latin-1")
        if "; OK" not in text:
            continue  # KO-only cases (07-0, 07-1): nothing must load
        name = path.stem
        marks = []
        if name in ZSCANNER_XFAIL:
            marks.append(pytest.mark.xfail(reason=ZSCANNER_XFAIL[name], strict=True))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.mark.parametrize("name", zscanner_cases())
def test_libzscanner_ok_part(name, tmp_path):
    need(ZSCANNER / "data")
    shutil.copytree(ZSCANNER / "data" / "includes", tmp_path / "includes")
    text = (ZSCANNER / "data" / f"{name}.in").read_text(encoding="latin-1")
    text = text.replace("@TMPDIR@", str(tmp_path))
    ok = text.split("; KO", 1)[0]
    path = tmp_path / f"{name}.zone"
    path.write_text(ok, encoding="latin-1")
    rc, out = zone_check(path, ".", cwd=tmp_path)
    syntax = [line for line in out.splitlines()
              if ": error:" in line and not SEMANTIC.search(line)]
    assert not syntax, f"{name}: the OK part does not parse:\n" + "\n".join(syntax[:10])
