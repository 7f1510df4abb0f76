"""`cirrus function lambda`: the AWS Lambda custom runtime against a test
server that implements the documented Runtime API contract (version
2018-06-01: invocation/next with the Lambda-Runtime-* headers,
invocation/{id}/response, invocation/{id}/error, init/error). The server
records every request the runtime sends, and the tests assert the exact
sequence. The real binary runs with AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT,
as the subcommand and as `bootstrap`.

Run by hand as a local Runtime API (one event per file, answers printed):
    python3 tests/system/test_function_lambda.py PORT EVENT.json...
"""
import base64
import http.server
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid

import dns.message
import dns.rcode
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import conftest  # noqa: E402

PREFIX = "/2018-06-01/runtime/"
WAIT = 20  # seconds: the bound of every wait below

ZONE = """$ORIGIN lambda.test.
$TTL 300
@      600 SOA ns1 hostmaster 1 3600 900 604800 120
@          NS  ns1
ns1        A   192.0.2.1
www        A   192.0.2.80
mail    60 MX  10 www
"""

STORE_ZONE = """$ORIGIN {origin}
$TTL 300
@    SOA ns1 hostmaster 1 3600 900 604800 60
@    NS  ns1
ns1  A   192.0.2.1
www  A   {address}
"""


class RuntimeApi:
    """The Lambda Runtime API, as documented, on 127.0.0.1: events are
    queued by the test and handed out on invocation/next (a long poll);
    every request is recorded as (method, path, headers, body)."""

    def __init__(self, port=0):
        self.events = queue.Queue()
        self.rids = []               # request ids handed to invoke(), in order
        self.requests = []
        self.results = {}            # request id -> (kind, headers, body)
        self.connections = 0
        self.cond = threading.Condition()
        self.closing = False
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive, as Lambda's API

            def setup(self):
                super().setup()
                with api.cond:
                    api.connections += 1

            def log_message(self, *args):
                pass

            def record(self, body):
                with api.cond:
                    api.requests.append((self.command, self.path,
                                         {k.lower(): v for k, v in self.headers.items()}, body))
                    api.cond.notify_all()

            def reply(self, status, doc=None, headers=()):
                data = json.dumps(doc).encode() if doc is not None else b""
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self.record(b"")
                if self.path != PREFIX + "invocation/next":
                    return self.reply(404, {"errorType": "NotFound"})
                item = api.take_event()
                if item is None:          # the test is over
                    return self.reply(500, {"errorType": "ServiceShuttingDown"})
                if isinstance(item, int):  # a status to answer with instead
                    return self.reply(item, {"errorType": "Test"})
                rid, event, trace = item
                data = event if isinstance(event, bytes) else json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
                self.send_header("Lambda-Runtime-Deadline-Ms",
                                 str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 "arn:aws:lambda:us-east-1:123456789012:function:cirrus")
                self.send_header("Lambda-Runtime-Trace-Id", trace)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                self.record(body)
                path = self.path[len(PREFIX):] if self.path.startswith(PREFIX) else ""
                parts = path.split("/")
                if path == "init/error":
                    api.done("init", "error", self.headers, body)
                elif len(parts) == 3 and parts[0] == "invocation" and \
                        parts[2] in ("response", "error"):
                    api.done(parts[1], parts[2], self.headers, body)
                else:
                    return self.reply(404, {"errorType": "NotFound"})
                self.reply(202, {"status": "OK"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take_event(self):
        """Block (the long poll) until an event is queued or the test ends."""
        while not self.closing:
            try:
                return self.events.get(timeout=0.1)
            except queue.Empty:
                pass
        return None

    def done(self, rid, kind, headers, body):
        with self.cond:
            self.results[rid] = (kind, {k.lower(): v for k, v in headers.items()}, body)
            self.cond.notify_all()

    def queue(self, event, rid=None, trace=None):
        rid = rid or str(uuid.uuid4())
        trace = trace or f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
        self.events.put((rid, event, trace))
        return rid

    def wait_for(self, pred, what):
        with self.cond:
            if not self.cond.wait_for(pred, timeout=WAIT):
                raise AssertionError(f"no {what} within {WAIT} s; requests: {self.requests}")

    def result(self, rid, timeout=WAIT):
        with self.cond:
            if not self.cond.wait_for(lambda: rid in self.results, timeout=timeout):
                raise AssertionError(f"no reply to {rid} within {timeout} s")
        return self.results[rid]

    def invoke(self, event):
        """Queue an event; (kind, payload) once the runtime has answered."""
        rid = self.queue(event)
        self.rids.append(rid)
        kind, headers, body = self.result(rid)
        return kind, json.loads(body), headers

    def sequence(self):
        with self.cond:
            return [(m, p[len(PREFIX):]) for m, p, _, _ in self.requests]

    def close(self):
        self.closing = True
        self.server.shutdown()
        self.server.server_close()


class Runtime:
    """The cirrus binary as a Lambda runtime."""

    def __init__(self, workdir, api, args=(), env=None, argv0=None, name="lambda"):
        self.stderr_path = workdir / f"{name}.stderr"
        self.stderr = open(self.stderr_path, "ab")
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("CIRRUS_", "LAMBDA_", "AWS_"))}
        full_env.update({"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.port}",
                         "LAMBDA_TASK_ROOT": str(workdir)})
        full_env.update(env or {})
        exe = argv0 or conftest.cirrus_bin()
        cmd = [exe] if argv0 else [exe, "function", "lambda"]
        self.proc = subprocess.Popen(cmd + [str(a) for a in args], stdout=self.stderr,
                                     stderr=self.stderr, env=full_env, cwd=workdir)

    def log(self):
        return self.stderr_path.read_text(errors="replace")

    def wait(self, timeout=WAIT):
        """The exit status, once it is clean under the sanitizers."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the runtime did not exit within {timeout} s:\n{self.log()}")
        finally:
            self.stderr.close()
        log = self.log()
        for bad in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert bad not in log, log
        return rc

    def stop(self):
        """SIGTERM (in the long poll): exit 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()


def write_conf(workdir, zones=None, name="cirrus.yaml", extra=""):
    zones = {"lambda.test.": ZONE} if zones is None else zones
    lines = ["log:", "  level: debug", "store:", "  path: absent.db", "zones:"]
    for origin, text in zones.items():
        path = workdir / (origin.strip(".") + ".zone")
        path.write_text(text)
        lines += [f"  - origin: {origin}", f"    file: {path.name}"]
    conf = workdir / name
    conf.write_text("\n".join(lines) + "\n" + extra)
    return conf


@pytest.fixture
def api():
    srv = RuntimeApi()
    yield srv
    srv.close()


@pytest.fixture
def runtime(tmp_path, api):
    """Factory: runtime(*args, env=..., argv0=...) -> started Runtime; each
    must exit 0 on SIGTERM at teardown."""
    started = []

    def start(*args, env=None, argv0=None, name="lambda"):
        rt = Runtime(tmp_path, api, args, env, argv0, name)
        started.append(rt)
        return rt

    yield start
    for rt in started:
        if rt.proc.returncode is None:
            assert rt.stop() == 0, rt.log()


def http_event(method, path, query=None, body=None, b64=True, headers=None, raw_query=""):
    ev = {
        "version": "2.0", "routeKey": "$default", "rawPath": path,
        "rawQueryString": raw_query, "headers": dict(headers or {}),
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "domainName": "x.lambda-url.aws",
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "198.51.100.7", "userAgent": "test"},
        },
        "isBase64Encoded": False,
    }
    if query is not None:
        ev["queryStringParameters"] = query
    if body is not None:
        ev["body"] = base64.b64encode(body).decode() if b64 else body
        ev["isBase64Encoded"] = b64
    return ev


def wire(name, rtype="A", qid=0):
    q = dns.message.make_query(name, rtype)
    q.id = qid
    return q.to_wire()


def doh_answer(payload):
    assert payload["statusCode"] == 200, payload
    assert payload["isBase64Encoded"] is True
    assert payload["headers"]["content-type"] == "application/dns-message"
    return dns.message.from_wire(base64.b64decode(payload["body"]))


def addresses(msg):
    return sorted(r.address for rrset in msg.answer for r in rrset if hasattr(r, "address"))


# -- events ----------------------------------------------------------------------

def test_every_event_kind_and_the_exact_request_sequence(tmp_path, api, runtime):
    rt = runtime("-c", write_conf(tmp_path))
    # DoH GET (base64url in queryStringParameters), as a Function URL sends it.
    dns_param = base64.urlsafe_b64encode(wire("www.lambda.test")).rstrip(b"=").decode()
    kind, payload, headers = api.invoke(http_event("GET", "/dns-query", {"dns": dns_param},
                                                   raw_query="dns=" + dns_param))
    assert kind == "response"
    assert headers["content-type"] == "application/json"
    msg = doh_answer(payload)
    assert addresses(msg) == ["192.0.2.80"]
    assert payload["headers"]["cache-control"] == "max-age=300"
    # DoH POST, body base64 as Lambda encodes binary bodies.
    kind, payload, _ = api.invoke(http_event(
        "POST", "/dns-query", body=wire("mail.lambda.test", "MX", 0x7777),
        headers={"content-type": "application/dns-message"}))
    msg = doh_answer(payload)
    assert msg.id == 0x7777 and msg.answer[0].rdtype == 15
    assert payload["headers"]["cache-control"] == "max-age=60"
    # The JSON API over HTTP.
    kind, payload, _ = api.invoke(http_event("GET", "/resolve",
                                             {"name": "www.lambda.test", "type": "A"}))
    assert payload["statusCode"] == 200 and payload["isBase64Encoded"] is False
    assert payload["headers"]["content-type"] == "application/dns-json"
    doc = json.loads(payload["body"])
    assert [a["data"] for a in doc["Answer"]] == ["192.0.2.80"]
    # Direct invocations.
    kind, doc, _ = api.invoke({"name": "nothing.lambda.test", "type": "AAAA"})
    assert kind == "response" and doc["Status"] == dns.rcode.NXDOMAIN
    kind, doc, _ = api.invoke({"query": base64.b64encode(wire("www.lambda.test", qid=42))
                               .decode()})
    assert kind == "response" and set(doc) == {"answer"}
    msg = dns.message.from_wire(base64.b64decode(doc["answer"]))
    assert msg.id == 42 and addresses(msg) == ["192.0.2.80"]
    # next, then the response, for each event; then the next long poll.
    api.wait_for(lambda: len(api.requests) == 11, "11th request (the next long poll)")
    seq = api.sequence()
    expected = []
    for rid in api.rids:
        expected += [("GET", "invocation/next"), ("POST", f"invocation/{rid}/response")]
    assert seq == expected + [("GET", "invocation/next")]
    assert rt.stop() == 0


def test_refusals_are_http_responses(tmp_path, api, runtime):
    runtime("-c", write_conf(tmp_path))
    cases = [
        (http_event("GET", "/nope"), 404, "no such resource"),
        (http_event("PUT", "/dns-query"), 405, "allowed: GET, POST"),
        (http_event("GET", "/dns-query"), 400, "dns parameter is missing"),
        (http_event("GET", "/dns-query", {"dns": "%%%"}), 400, "not base64url"),
        (http_event("POST", "/dns-query", body=b"x" * 70000,
                    headers={"content-type": "application/dns-message"}), 413, "65535"),
        (http_event("POST", "/dns-query", body=wire("www.lambda.test"),
                    headers={"content-type": "application/json"}), 415, "application/json"),
        (http_event("GET", "/resolve", {"type": "A"}), 400, "name parameter is required"),
    ]
    for event, status, reason in cases:
        kind, payload, _ = api.invoke(event)
        assert kind == "response", (event, payload)
        assert payload["statusCode"] == status, payload
        assert reason in payload["body"], payload
        assert payload["headers"]["cache-control"] == "no-store"
    assert payload["headers"]["content-type"] == "text/plain; charset=utf-8"


def test_bad_event_is_an_invocation_error_and_the_loop_goes_on(tmp_path, api, runtime):
    runtime("-c", write_conf(tmp_path))
    rid = api.queue({"Records": [{"eventSource": "aws:s3"}]})
    kind, headers, body = api.result(rid)
    assert kind == "error"
    assert headers["lambda-runtime-function-error-type"] == "Cirrus.BadEvent"
    assert headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["errorType"] == "Cirrus.BadEvent"
    assert "unknown event" in doc["errorMessage"]
    # Not JSON at all; then a good event is still answered.
    rid2 = api.queue(b"\x00not json")
    assert api.result(rid2)[0] == "error"
    kind, doc, _ = api.invoke({"name": "www.lambda.test"})
    assert kind == "response" and doc["Answer"][0]["data"] == "192.0.2.80"
    # A bad direct request is an error of its own type.
    rid3 = api.queue({"name": "www.lambda.test", "type": "NOPE"})
    kind, headers, body = api.result(rid3)
    assert kind == "error" and json.loads(body)["errorType"] == "Cirrus.BadRequest"
    seq = api.sequence()
    assert seq[:6] == [("GET", "invocation/next"), ("POST", f"invocation/{rid}/error"),
                       ("GET", "invocation/next"), ("POST", f"invocation/{rid2}/error"),
                       ("GET", "invocation/next"), seq[5]]
    assert seq[5][1].endswith("/response")


@pytest.mark.parametrize("breakage", ["zone", "config", "missing"])
def test_init_error_when_the_configuration_is_broken(tmp_path, api, runtime, breakage):
    if breakage == "zone":
        conf = write_conf(tmp_path, {"lambda.test.": ZONE + "www CNAME elsewhere.\n"})
        want_type, want_text = "Cirrus.ZonesInvalid", "zone file failed to load"
    elif breakage == "config":
        conf = tmp_path / "cirrus.yaml"
        conf.write_text("zones: [\n")
        want_type, want_text = "Cirrus.ConfigInvalid", "cirrus.yaml"
    else:
        conf = tmp_path / "absent.yaml"
        want_type, want_text = "Cirrus.ConfigInvalid", "absent.yaml"
    rt = runtime(env={"CIRRUS_CONFIG": str(conf)})
    assert rt.wait() == 1, rt.log()
    assert api.sequence() == [("POST", "init/error")]
    _, headers, body, = api.results["init"]
    assert headers["lambda-runtime-function-error-type"] == want_type
    doc = json.loads(body)
    assert doc["errorType"] == want_type and want_text in doc["errorMessage"], doc


def test_no_zones_at_all_is_an_init_error(tmp_path, api, runtime):
    rt = runtime()   # no CIRRUS_CONFIG, no cirrus.yaml in LAMBDA_TASK_ROOT, no store
    assert rt.wait() == 1
    assert api.sequence() == [("POST", "init/error")]
    assert "CIRRUS_CONFIG" in json.loads(api.results["init"][2])["errorMessage"]


def test_next_is_a_long_poll(tmp_path, api, runtime):
    rt = runtime("-c", write_conf(tmp_path))
    api.wait_for(lambda: len(api.requests) == 1, "the first next")
    time.sleep(2.5)   # longer than any default timeout a client might have set
    assert api.sequence() == [("GET", "invocation/next")]
    assert rt.proc.poll() is None
    kind, doc, _ = api.invoke({"name": "www.lambda.test"})
    assert kind == "response"
    # Still the one request: the runtime waited on it and did not retry.
    assert api.sequence()[:2] == [("GET", "invocation/next"),
                                  ("POST", api.sequence()[1][1])]


def test_one_connection_kept_alive(tmp_path, api, runtime):
    runtime("-c", write_conf(tmp_path))
    for i in range(5):
        assert api.invoke({"name": "www.lambda.test"})[0] == "response"
    api.wait_for(lambda: len(api.requests) == 11, "the sixth next")
    assert api.connections == 1


def test_runtime_api_failure_ends_the_runtime(tmp_path, api, runtime):
    rt = runtime("-c", write_conf(tmp_path))
    api.events.put(500)   # "Container error. Non-recoverable state."
    assert rt.wait() == 1
    assert "answered 500" in rt.log()


def test_bootstrap_by_argv0_with_the_default_configuration(tmp_path, api, runtime):
    # Lambda starts $LAMBDA_TASK_ROOT/bootstrap with no arguments; the zones
    # come from $LAMBDA_TASK_ROOT/cirrus.yaml.
    write_conf(tmp_path)
    bootstrap = tmp_path / "bootstrap"
    bootstrap.symlink_to(conftest.cirrus_bin())
    rt = runtime(argv0=str(bootstrap))
    kind, doc, _ = api.invoke({"name": "mail.lambda.test", "type": "MX"})
    assert kind == "response" and doc["Answer"][0]["data"] == "10 www.lambda.test."
    assert rt.stop() == 0


def test_flags_override_the_environment(tmp_path, api, runtime):
    broken = tmp_path / "broken.yaml"
    broken.write_text("zones: [\n")
    runtime("-c", write_conf(tmp_path, name="good.yaml"), env={"CIRRUS_CONFIG": str(broken)})
    assert api.invoke({"name": "www.lambda.test"})[0] == "response"


def test_image_from_the_environment(tmp_path, api, runtime):
    conf = write_conf(tmp_path)
    image = tmp_path / "zones.img"
    res = subprocess.run([conftest.cirrus_bin(), "zone", "compile", "-c", str(conf),
                          "-O", str(image)], capture_output=True, text=True, timeout=WAIT)
    assert res.returncode == 0, res.stderr
    rt = runtime(env={"CIRRUS_CONFIG": str(conf), "CIRRUS_IMAGE": str(image)})
    assert api.invoke({"name": "www.lambda.test"})[1]["Answer"][0]["data"] == "192.0.2.80"
    rt.stop()
    assert f"from image {image}" in rt.log()


def import_zone(tmp_path, db, origin, address):
    zone_file = tmp_path / (origin + "zone")
    zone_file.write_text(STORE_ZONE.format(origin=origin, address=address))
    res = subprocess.run([conftest.cirrus_bin(), "zone", "import", str(zone_file), "--db",
                          str(db)], capture_output=True, text=True, timeout=WAIT)
    assert res.returncode == 0, res.stderr


def test_store_is_polled_between_invocations(tmp_path, api, runtime):
    db = tmp_path / "store.db"
    import_zone(tmp_path, db, "store.test.", "192.0.2.10")
    runtime("--poll-interval", "200", env={"CIRRUS_DB": str(db)})

    def www(origin):
        doc = api.invoke({"name": "www." + origin})[1]
        return doc["Status"], [a["data"] for a in doc.get("Answer", [])]

    assert www("store.test.") == (0, ["192.0.2.10"])
    assert www("later.test.") == (dns.rcode.REFUSED, [])
    import_zone(tmp_path, db, "later.test.", "192.0.2.11")
    time.sleep(0.3)   # past the poll interval: the next event sees the change
    assert www("later.test.") == (0, ["192.0.2.11"])
    assert www("store.test.") == (0, ["192.0.2.10"])


def test_usage(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    res = subprocess.run([conftest.cirrus_bin(), "function", "lambda"], env=env,
                         capture_output=True, text=True, timeout=WAIT)
    assert res.returncode == 2 and "AWS_LAMBDA_RUNTIME_API is not set" in res.stderr
    res = subprocess.run([conftest.cirrus_bin(), "function", "lambda", "--help"],
                         capture_output=True, text=True, timeout=WAIT)
    assert res.returncode == 0 and "bootstrap" in res.stdout


def main(argv):
    """A local Runtime API: hand out each event file once, print the replies."""
    if len(argv) < 3:
        sys.exit(__doc__)
    api = RuntimeApi(int(argv[1]))
    print(f"listening: run the runtime with AWS_LAMBDA_RUNTIME_API=127.0.0.1:{api.port}",
          flush=True)
    for path in argv[2:]:
        with open(path, "rb") as f:
            rid = api.queue(f.read())
        kind, headers, body = api.result(rid, timeout=600)
        print(f"{path}: {kind}: {body.decode(errors='replace')}", flush=True)
    api.close()


if __name__ == "__main__":
    main(sys.argv)
