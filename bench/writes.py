#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""writes.py -- the control-plane benchmark: how fast API changes are served.

Cirrus only (NSD and Knot have no REST API).  A generated zone is imported
into a store (`cirrus zone import`), the server runs from that store with
the REST API on, pinned to CPU 1; this script, its HTTP clients and dnsperf
run on CPU 0.  Three measurements:

1. write-to-visible latency, 10,000- and 1,000,000-record zones: a PATCH
   adding one A record at a fresh name goes out on a keep-alive connection;
   the clock starts when it is sent; UDP queries for the name follow one
   after another (no sleep) until one returns the new address.  The time
   the PATCH response arrives is noted in the same loop, and each timed
   write is followed by one PATCH without probes (its response time alone).
2. sustained API writes per second: 1 and 4 concurrent HTTP clients, each
   sending single-record PATCHes to distinct names, back to back.
3. query throughput with and without a steady write load: dnsperf on the
   10k zone read-only, and again while a paced writer sends PATCHes.

Every measurement starts a fresh server from a pristine copy of the store
(the writes add names: the zone under test stays the size it says).  A run
that other processes disturbed (as in load_run.py) is repeated, at most
--retries times.
Results: a table on stdout and OUT/writes.md; raw rows in OUT/writes.jsonl.

  writes.py CIRRUS_BIN [--out DIR] [--runs 3] [--seconds 10] [--skip-1m] ...

Exit status: 0 done (a missed target is reported, not an error), 1 failure.
"""

import argparse
import errno
import fcntl
import hashlib
import json
import multiprocessing
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import dnswire  # noqa: E402
import load_run  # noqa: E402  (parse_dnsperf)
import procstat  # noqa: E402
import start_server  # noqa: E402  (wait_ready)

PY = "/usr/bin/python3"
ORIGIN = "bench.test."          # gen_zone.py's origin
SEED = 20240101                  # the same seed as run.sh
ADDR = "127.0.0.1"
LOADGEN_CPU = 0
SERVER_CPU = 1
TARGET_P99_MS = {"10k": 5.0, "1m": 50.0}   # issue 3, "Change propagation"
TARGET_QPS_RATIO = 0.90
POLL_TIMEOUT = 0.2        # one UDP probe waits at most this long for its answer
VISIBLE_TIMEOUT = 5.0     # a write not visible after this long is a failed sample
HTTP_TIMEOUT = 10.0
WARMUP_WRITES = 5         # unrecorded writes after each start (SQLite and page caches)
MAX_OTHER = 0.15          # other processes' CPU share that marks a run "disturbed"
QUIET_LIMIT = 0.10

STOP = threading.Event()  # set by SIGTERM/SIGINT: loops end, servers are stopped


def say(msg):
    print("writes: " + msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------
# statistics

def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(1, -(-len(s) * p // 100))   # ceil(n*p/100), at least 1
    return s[min(len(s), int(k)) - 1]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------
# test data: the zones come from gen_zone.py, cached like run.sh does

def generate(path, args):
    """Run gen_zone.py ARGS unless PATH was made by the same generator with
    the same arguments.  The stamp format is run.sh's, so the 1M zone made
    by the main benchmark is reused here and the other way round."""
    with open(os.path.join(BENCH_DIR, "gen_zone.py"), "rb") as f:
        stamp = "%s %s" % (hashlib.sha1(f.read()).hexdigest(), " ".join(args))
    try:
        with open(path + ".stamp") as f:
            if os.path.exists(path) and f.read().rstrip("\n") == stamp:
                say("reusing %s" % path)
                return
    except OSError:
        pass
    try:
        os.unlink(path + ".stamp")
    except OSError:
        pass
    subprocess.run([PY, os.path.join(BENCH_DIR, "gen_zone.py")] + args, check=True,
                   stdout=sys.stderr, timeout=600)
    with open(path + ".stamp", "w") as f:
        f.write(stamp + "\n")


def cli(binary, *args, timeout=600):
    res = subprocess.run([binary] + list(args), capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise BenchError("%s %s failed (status %d): %s" % (
            binary, " ".join(args), res.returncode, res.stderr.strip()[-2000:]))
    return res.stdout


def make_store(binary, zonefile, db):
    """Import ZONEFILE into a new store DB and create the admin token in it.
    Returns (secret, import seconds)."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(db + suffix)
        except FileNotFoundError:
            pass
    t0 = time.monotonic()
    cli(binary, "zone", "import", zonefile, "--origin", ORIGIN, "--db", db)
    took = time.monotonic() - t0
    secret = cli(binary, "token", "create", "--name", "bench", "--scope", "admin",
                 "--db", db, timeout=60).strip()
    if not secret or "\n" in secret:
        raise BenchError("cirrus token create printed %r, not one secret" % secret)
    return secret, took


# ---------------------------------------------------------------------------
# the server

class Server:
    """A cirrus serving the store at a fresh copy of PRISTINE, pinned to
    SERVER_CPU, in its own session (one killpg stops it all)."""

    def __init__(self, ctx, tag, pristine, label):
        self.ctx = ctx
        self.dir = os.path.join(ctx.out, "run", "cirrus-writes-%s" % label)
        self.pristine = pristine
        self.tag = tag
        self.proc = None
        self.pid = None

    def start(self):
        a = self.ctx.args
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        db = os.path.join(self.dir, "bench.db")
        for suffix in ("", "-wal"):
            if os.path.exists(self.pristine + suffix):
                shutil.copyfile(self.pristine + suffix, db + suffix)
        conf = os.path.join(self.dir, "cirrus.yaml")
        with open(conf, "w") as f:
            f.write("# Generated by bench/writes.py\n"
                    "server: {listen: [%s], port: %d, workers: 1}\n"
                    "store: {path: %s}\n"
                    "api: {enabled: true, listen: %s, port: %d}\n"
                    % (ADDR, a.port, db, ADDR, a.api_port))
        for port, what in ((a.port, "DNS"), (a.api_port, "API")):
            if start_server.tcp_listening(ADDR, port):
                raise BenchError("something already listens on %s port %d (%s); set "
                                 "BENCH_PORT" % (ADDR, port, what))
        log = open(os.path.join(self.dir, "server.log"), "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU), self.ctx.binary, "serve", "-c", conf],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        self.pid = self.proc.pid
        try:
            ready = self._wait(t0)
        except BaseException:
            self.stop()
            raise
        say("cirrus (%s zone from the store) answering after %.0f ms, pid %d"
            % (self.tag, (ready - t0) * 1000, self.pid))
        return self

    def _wait(self, t0):
        a = self.ctx.args
        probe = argparse.Namespace(addr=ADDR, port=a.port, zone=ORIGIN, http=False)
        ready = start_server.wait_ready(self.proc, probe, t0 + a.start_timeout)
        if ready is None:
            raise BenchError("cirrus (%s zone) did not answer within %d s; log tail:\n%s"
                             % (self.tag, a.start_timeout, start_server.log_tail(
                                 os.path.join(self.dir, "server.log"))))
        deadline = time.monotonic() + 30
        while not start_server.tcp_listening(ADDR, a.api_port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise BenchError("the API did not listen on port %d" % a.api_port)
            time.sleep(0.01)
        procstat.pin_tree(self.pid, SERVER_CPU)
        return ready

    def check_alive(self):
        if self.proc.poll() is not None:
            raise BenchError("cirrus exited (status %s); log tail:\n%s" % (
                self.proc.returncode,
                start_server.log_tail(os.path.join(self.dir, "server.log"))))

    def stop(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            say("pid %d ignored SIGTERM for 10 s; sending SIGKILL" % self.pid)
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------------------
# a minimal HTTP/1.1 client: keep-alive, and a request can be sent and its
# response read separately (the latency loop polls DNS in between)

class Http:
    def __init__(self, port, token):
        self.port = port
        self.token = token
        self.sock = None
        self.buf = b""

    def connect(self):
        self.close()
        self.sock = socket.create_connection((ADDR, self.port), timeout=HTTP_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def encode(self, method, path, body):
        """The request's bytes, for send_bytes() (a client that sends the
        same request many times builds it once)."""
        data = json.dumps(body, separators=(",", ":")).encode()
        return ("%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (method, path, ADDR, self.port, self.token, len(data))).encode() + data

    def send_bytes(self, req):
        if self.sock is None:
            self.connect()
        self.sock.sendall(req)

    def send(self, method, path, body):
        self.send_bytes(self.encode(method, path, body))

    def readable(self):
        return bool(self.buf) or bool(select.select([self.sock], [], [], 0)[0])

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the API closed the connection")
        self.buf += chunk

    def recv(self):
        """The next response: (status, body).  Reconnects next time if the
        server asked to close."""
        for _ in range(10000):
            if b"\r\n\r\n" in self.buf:
                break
            self._fill()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "chunked" in headers.get("transfer-encoding", ""):
            raise BenchError("chunked API responses are not supported by this client")
        length = int(headers.get("content-length", "0"))
        self.buf = rest
        for _ in range(10000):
            if len(self.buf) >= length:
                break
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def request(self, method, path, body):
        self.send(method, path, body)
        return self.recv()


def rrsets_path():
    return "/api/v1/zones/%s/rrsets" % ORIGIN


def add_a(name, address):
    """One single-record change: NAME A ADDRESS (NAME is new)."""
    return {"rrsets": [{"name": name, "type": "A", "ttl": 60, "changetype": "REPLACE",
                        "records": [address]}]}


def address(i):
    """Distinct addresses for up to 2^24 writes (100.64.0.0/10)."""
    return "100.%d.%d.%d" % (64 + (i >> 16 & 63), i >> 8 & 255, i & 255)


# Fresh names: gen_zone.py's labels are [a-z0-9] only, so a hyphen can never
# collide with generated data (and no name sits below a delegation).
def fresh_name(kind, run, i, client=0):
    return "%s-%d-%d-%d.%s" % (kind, run, client, i, ORIGIN)


def expect_204(status, body, what):
    if status != 204:
        raise BenchError("%s: HTTP %d %s" % (what, status, body[:300]))


# ---------------------------------------------------------------------------
# 1. write-to-visible latency

def one_latency_sample(http, prober, name, addr):
    """(visible_ms, response_ms, probes): the clock starts as the PATCH is sent."""
    body = add_a(name, addr)
    if http.sock is None:
        http.connect()   # (re)connect before the clock starts
    t0 = time.perf_counter()
    http.send("PATCH", rrsets_path(), body)
    resp_t = None
    visible_t = None
    probes = 0
    while True:
        if resp_t is None and http.readable():
            resp_t = time.perf_counter()
        ok = dnswire.has_a(prober.ask(name), addr)
        probes += 1
        now = time.perf_counter()
        if ok:
            visible_t = now
            break
        if now - t0 > VISIBLE_TIMEOUT:
            break
    if resp_t is None:
        r, _, _ = select.select([http.sock], [], [], HTTP_TIMEOUT)
        resp_t = time.perf_counter() if r else None
    status, rbody = http.recv()
    expect_204(status, rbody, "PATCH %s" % name)
    if visible_t is None:
        raise BenchError("%s was not visible %.0f s after its PATCH (answered %d)"
                         % (name, VISIBLE_TIMEOUT, status))
    return (visible_t - t0) * 1000.0, (resp_t - t0) * 1000.0, probes


def cpu_times():
    """{cpu: (busy, irq+softirq, steal, total)} ticks from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *vals = line.split()
                v = [int(x) for x in vals[:8]]
                # user nice system idle iowait irq softirq steal
                out[name[3:]] = (sum(v) - v[3] - v[4], v[5] + v[6], v[7], sum(v))
    return out


class Watch:
    """CPU accounting around one measurement, as load_run.py does it: the
    server tree's CPU, ours (this process and its reaped children: HTTP
    clients, writer, dnsperf), and the busy time of the two benchmark CPUs.
    What is left over is other work on the machine.  Kernel threads and
    interrupt time are counted apart, not as disturbance: loopback traffic
    and the store's fsyncs make the kernel work on the benchmark's behalf.
    Steal time (the hypervisor ran something else) does count."""

    def __init__(self, server_pid):
        self.server_pid = server_pid
        self.cpu0 = procstat.cpu_us(server_pid)
        self.threads0 = self._threads()
        self.self0 = self._rusage(resource.RUSAGE_SELF)
        self.child0 = self._rusage(resource.RUSAGE_CHILDREN)
        self.times0 = cpu_times()
        self.procs0 = self._procs()
        self.wall0 = time.monotonic()

    @staticmethod
    def _rusage(who):
        ru = resource.getrusage(who)
        return ru.ru_utime + ru.ru_stime

    def _threads(self):
        """Server CPU ticks by role: "api" (libmicrohttpd's MHD-worker
        threads), "main" (the main thread) and "workers" (the others: the
        UDP workers and the TCP thread)."""
        out = {"api": 0, "main": 0, "workers": 0}
        try:
            tids = os.listdir("/proc/%d/task" % self.server_pid)
        except OSError:
            return out
        for tid in tids:
            try:
                comm, f = procstat.read_stat("/proc/%d/task/%s/stat" % (self.server_pid, tid))
            except OSError:
                continue
            role = ("api" if comm.startswith("MHD") else
                    "main" if int(tid) == self.server_pid else "workers")
            out[role] += int(f[11]) + int(f[12])
        return out

    @staticmethod
    def _procs():
        """{pid: (comm, kernel thread?, ticks)} for every process."""
        # A kernel thread is kthreadd (pid 2) or one of its children.
        return {pid: (comm, pid == 2 or f[1] == "2", int(f[11]) + int(f[12]))
                for pid, (comm, f) in procstat.all_stats().items()}

    def finish(self):
        wall = time.monotonic() - self.wall0
        server = procstat.cpu_us(self.server_pid) - self.cpu0
        threads1 = self._threads()
        by_role = {k: (threads1[k] - self.threads0[k]) * 1000000 // procstat.TICKS
                   for k in threads1}
        ours = (self._rusage(resource.RUSAGE_SELF) - self.self0
                + self._rusage(resource.RUSAGE_CHILDREN) - self.child0)
        times1 = cpu_times()
        share = {}
        for cpu in (str(LOADGEN_CPU), str(SERVER_CPU)):
            d = [b - a for a, b in zip(self.times0.get(cpu, (0, 0, 0, 0)), times1[cpu])]
            share[cpu] = [x / d[3] if d[3] else 0.0 for x in d[:3]]   # busy, irq, steal
        busy = sum(s[0] for s in share.values())
        irq = sum(s[1] for s in share.values())
        steal = sum(s[2] for s in share.values())
        mine = set(procstat.tree(self.server_pid)) | set(procstat.tree(os.getpid()))
        kernel, top = 0.0, []
        for pid, (comm, kthread, ticks) in self._procs().items():
            if pid in mine:
                continue
            before = self.procs0.get(pid)
            delta = (ticks - (before[2] if before else 0)) / procstat.TICKS / wall
            if kthread:
                kernel += delta
            elif delta >= 0.02:
                top.append((comm, round(delta, 2)))
        top = sorted(top, key=lambda r: -r[1])[:3]
        if steal >= 0.02:
            top.append(("steal (hypervisor)", round(steal, 2)))
        other = busy - server / 1e6 / wall - ours / wall - kernel - irq
        return {"wall_s": round(wall, 3), "server_cpu_us": server,
                "server_cpu_us_by_thread": by_role,
                "server_cpu_util": server / 1e6 / wall, "ours_cpu_util": ours / wall,
                "kernel_threads_util": round(kernel, 3), "irq_util": round(irq, 3),
                "cpu_busy": {c: round(s[0], 3) for c, s in share.items()},
                "other_load": round(other, 3), "other_top": top,
                "disturbed": other > MAX_OTHER}


def disturbed_note(row):
    if not row["disturbed"]:
        return ""
    return "  DISTURBED: other load %.0f%% (%s)" % (
        row["other_load"] * 100,
        ", ".join("%s %.0f%%" % (c, v * 100) for c, v in row["other_top"])
        or "short-lived processes")


def repeat_if_disturbed(ctx, what, measure):
    """MEASURE() -> row, repeated (at most --retries times) while other
    processes disturbed it.  Every attempt is recorded; the one marked
    "used" (the first undisturbed one, else the least disturbed) is what
    the report takes."""
    attempts = []
    for attempt in range(ctx.args.retries + 1):
        if STOP.is_set():
            break
        procstat_quiet(ctx)
        row = measure()
        row["attempt"] = attempt
        attempts.append(row)
        if not row["disturbed"]:
            break
        if attempt < ctx.args.retries:
            say("%s: disturbed by other processes; again" % what)
    if not attempts:
        return None
    best = next((r for r in attempts if not r["disturbed"]),
                min(attempts, key=lambda r: r["other_load"]))
    for r in attempts:
        r["used"] = r is best
        ctx.record(r)
    return best


def one_patch(http, name, addr):
    """Response time (ms) of one PATCH with nothing else going on."""
    body = add_a(name, addr)
    if http.sock is None:
        http.connect()
    t0 = time.perf_counter()
    http.send("PATCH", rrsets_path(), body)
    status, rbody = http.recv()
    took = (time.perf_counter() - t0) * 1000.0
    expect_204(status, rbody, "PATCH %s" % name)
    return took


def latency_run(ctx, tag, pristine, samples, run):
    a = ctx.args
    label = "latency-%s-%s" % (tag, run or "perf")
    with Server(ctx, tag, pristine, label) as srv:
        http = Http(a.api_port, ctx.tokens[tag])
        prober = dnswire.UdpProber(ADDR, a.port, POLL_TIMEOUT)
        perf = None
        try:
            for i in range(WARMUP_WRITES):
                one_latency_sample(http, prober, fresh_name("warm", run, i), address(i))
            if run == 0:
                perf = start_perf(ctx, srv.pid)
            vis, resp, probes, alone = [], [], [], []
            t_end = time.monotonic() + a.phase_budget
            watch = Watch(srv.pid)
            for i in range(samples):
                if STOP.is_set() or time.monotonic() > t_end:
                    say("latency %s run %d: time budget (%d s) reached after %d samples"
                        % (tag, run, a.phase_budget, i))
                    break
                v, r, n = one_latency_sample(http, prober, fresh_name("lat", run, i),
                                             address(2 * i))
                vis.append(v)
                resp.append(r)
                probes.append(n)
                # Each probed write is followed by one without probes: its
                # response time is the PATCH alone, without the probes'
                # load on the server's CPU (both kinds see the same store
                # and zone, and the same share of WAL checkpoints).
                alone.append(one_patch(http, fresh_name("alone", run, i), address(2 * i + 1)))
            w = watch.finish()
            srv.check_alive()
        finally:
            if perf is not None:
                stop_perf(perf)
            http.close()
            prober.close()
    if not vis:
        raise BenchError("latency %s run %d: no samples" % (tag, run))
    row = {"kind": "latency" if run else "latency-perf", "zone": tag, "run": run,
           "samples": len(vis), "visible_ms": [round(v, 4) for v in vis],
           "response_ms": [round(r, 4) for r in resp], "probes": probes,
           "alone_ms": [round(x, 4) for x in alone],
           "server_cpu_us_per_write": w["server_cpu_us"] / (len(vis) + len(alone))}
    row.update(w)
    say("latency %-3s %s: %d writes  visible p50 %.2f p90 %.2f p99 %.2f max %.2f ms"
        "  | response p50 %.2f p99 %.2f | alone p50 %.2f p99 %.2f max %.2f ms  | "
        "%.0f probes/write, server %.0f us CPU/write%s"
        % (tag, "run %d" % run if run else "under perf", len(vis), pct(vis, 50),
           pct(vis, 90), pct(vis, 99), max(vis), pct(resp, 50), pct(resp, 99),
           pct(alone, 50), pct(alone, 99), max(alone),
           statistics.mean(probes), row["server_cpu_us_per_write"], disturbed_note(row)))
    return row


def latency_phase(ctx, tag, pristine, samples):
    for run in range(1, ctx.args.runs + 1):
        repeat_if_disturbed(ctx, "latency %s run %d" % (tag, run),
                            lambda: latency_run(ctx, tag, pristine, samples, run))
    if ctx.args.perf and tag == "1m" and not STOP.is_set():
        # One more run under perf record; not in the medians (perf costs CPU).
        procstat_quiet(ctx)
        row = latency_run(ctx, tag, pristine, samples, 0)
        row["used"] = False
        ctx.record(row)


def start_perf(ctx, pid):
    """perf record -g of the whole server during an extra 1M latency run.
    Read it with: perf report -i OUT/writes-perf-1m.data --stdio"""
    path = os.path.join(ctx.out, "writes-perf-1m.data")
    say("extra 1M latency run under perf record -g (pid %d) -> %s" % (pid, path))
    p = subprocess.Popen(["taskset", "-c", str(LOADGEN_CPU), "perf", "record", "-g",
                          "-o", path, "-p", str(pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return p


def stop_perf(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=10)


# ---------------------------------------------------------------------------
# 2. sustained writes per second

def child_signals():
    """In a client process: leave Ctrl-C and SIGTERM to the parent, which
    stops the server (the client then fails and ends) and reports."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def writer_client(port, token, run, client, start_at, seconds, cap, conn):
    """Child process: back-to-back PATCHes to distinct names from START_AT
    for SECONDS (at most CAP).  Sends (ok, errors, nerrors, latencies ms)."""
    child_signals()
    os.sched_setaffinity(0, {LOADGEN_CPU})
    http = Http(port, token)
    ok, errors, nerr, lat = 0, [], 0, []
    try:
        http.connect()
        while time.time() < start_at:
            time.sleep(min(0.01, max(0.0, start_at - time.time())))
        end = time.monotonic() + seconds
        for i in range(cap):
            if time.monotonic() >= end:
                break
            t0 = time.perf_counter()
            try:
                status, body = http.request("PATCH", rrsets_path(),
                                            add_a(fresh_name("tp", run, i, client), address(i)))
            except (OSError, ConnectionError) as e:
                nerr += 1
                errors.append(str(e))
                http.connect()
                continue
            lat.append((time.perf_counter() - t0) * 1000.0)
            if status == 204:
                ok += 1
            else:
                nerr += 1
                errors.append("HTTP %d %s" % (status, body[:100]))
    except Exception as e:  # noqa: BLE001  (reported by the parent)
        nerr += 1
        errors.append("%s: %s" % (type(e).__name__, e))
    conn.send((ok, errors[:20], nerr, lat))
    conn.close()


def run_clients(ctx, tag, nclients, run, seconds, cap):
    """Start NCLIENTS writer processes together; returns their results."""
    a = ctx.args
    start_at = time.time() + 0.3
    procs = []
    for c in range(nclients):
        parent, child = multiprocessing.Pipe(duplex=False)
        p = multiprocessing.Process(target=writer_client, daemon=True, args=(
            a.api_port, ctx.tokens[tag], run, c, start_at, seconds, cap, child))
        p.start()
        child.close()
        procs.append((p, parent))
    results = []
    for p, parent in procs:
        if parent.poll(seconds + 60):
            results.append(parent.recv())
        else:
            results.append((0, ["no result from client"], 1, []))
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
            p.join()
    return results


def throughput_run(ctx, pristine, nclients, run):
    a = ctx.args
    with Server(ctx, "10k", pristine, "tput-%dc-%d" % (nclients, run)) as srv:
        http = Http(a.api_port, ctx.tokens["10k"])
        for i in range(WARMUP_WRITES):
            expect_204(*http.request("PATCH", rrsets_path(),
                                     add_a(fresh_name("warm", run, i), address(i))),
                       "warm-up PATCH")
        http.close()
        watch = Watch(srv.pid)
        res = run_clients(ctx, "10k", nclients, run, a.seconds, a.write_cap)
        w = watch.finish()
        srv.check_alive()
    ok = sum(r[0] for r in res)
    nerr = sum(r[2] for r in res)
    lat = [x for r in res for x in r[3]]
    if nerr:
        say("throughput %d client(s) run %d: %d failed requests, e.g. %s"
            % (nclients, run, nerr, [e for r in res for e in r[1]][:3]))
    if not ok:
        raise BenchError("throughput run with %d client(s) made no write" % nclients)
    row = {"kind": "throughput", "clients": nclients, "run": run, "ok": ok,
           "errors": nerr, "seconds": a.seconds, "writes_per_s": ok / a.seconds,
           "latency_p50_ms": pct(lat, 50), "latency_p99_ms": pct(lat, 99),
           "server_cpu_us_per_write": w["server_cpu_us"] / ok}
    row.update(w)
    say("throughput %d client(s) run %d: %d writes in %d s = %.0f/s  latency p50 %.2f "
        "p99 %.2f ms  server CPU %.0f%% (%.0f us/write), clients CPU %.0f%%, kernel "
        "threads %.0f%%%s"
        % (nclients, run, ok, a.seconds, row["writes_per_s"], row["latency_p50_ms"],
           row["latency_p99_ms"], row["server_cpu_util"] * 100,
           row["server_cpu_us_per_write"], row["ours_cpu_util"] * 100,
           row["kernel_threads_util"] * 100, disturbed_note(row)))
    return row


def throughput_phase(ctx, pristine):
    for nclients in (1, 4):
        for run in range(1, ctx.args.runs + 1):
            repeat_if_disturbed(ctx, "throughput %d client(s) run %d" % (nclients, run),
                                lambda: throughput_run(ctx, pristine, nclients, run))


# ---------------------------------------------------------------------------
# 3. query throughput under a steady write load

def paced_writer(port, token, run, rate, seconds, conn, stop_evt):
    """Child process: RATE PATCH/s for at most SECONDS (or until STOP_EVT).
    A late send is not made up for by a burst: pacing stays even."""
    child_signals()
    os.sched_setaffinity(0, {LOADGEN_CPU})
    http = Http(port, token)
    ok, errors, nerr, lat, late, elapsed = 0, [], 0, [], 0, 0.0
    try:
        http.connect()
        t0 = time.monotonic()
        interval = 1.0 / rate
        for i in range(int(rate * seconds) + 1):
            due = t0 + i * interval
            now = time.monotonic()
            if now - t0 >= seconds or stop_evt.is_set():
                break
            if due > now:
                if stop_evt.wait(due - now):
                    break
            elif now - due > interval:
                late += 1
            s = time.perf_counter()
            status, body = http.request("PATCH", rrsets_path(),
                                        add_a(fresh_name("bg", run, i), address(i)))
            lat.append((time.perf_counter() - s) * 1000.0)
            if status == 204:
                ok += 1
            else:
                nerr += 1
                errors.append("HTTP %d %s" % (status, body[:100]))
        elapsed = time.monotonic() - t0
    except Exception as e:  # noqa: BLE001
        nerr += 1
        errors.append("%s: %s" % (type(e).__name__, e))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    conn.send((ok, errors[:20], nerr, lat, ru.ru_utime + ru.ru_stime, elapsed, late))
    conn.close()


def dnsperf_run(ctx, srv, mode, run, writer_rate):
    """One dnsperf run, with a paced writer if WRITER_RATE; returns the row."""
    a = ctx.args
    procstat.pin_tree(srv.pid, SERVER_CPU)
    raw = os.path.join(ctx.out, "raw", "writes-dnsperf-%s-%d.txt" % (mode, run))
    cmd = ["taskset", "-c", str(LOADGEN_CPU), "dnsperf", "-s", ADDR, "-p", str(a.port),
           "-d", ctx.queries_10k, "-l", str(a.seconds), "-q", str(a.outstanding),
           "-m", "udp", "-c", str(a.udp_clients)]
    writer = None
    if writer_rate:
        parent, child = multiprocessing.Pipe(duplex=False)
        stop_evt = multiprocessing.Event()
        writer = multiprocessing.Process(target=paced_writer, daemon=True, args=(
            a.api_port, ctx.tokens["10k"], run, writer_rate, a.seconds + 5, child, stop_evt))
    watch = Watch(srv.pid)
    if writer is not None:
        writer.start()
        child.close()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=a.seconds + 120)
    finally:
        wres = None
        if writer is not None:
            stop_evt.set()
            wres = parent.recv() if parent.poll(30) else None
            writer.join(timeout=10)
            if writer.is_alive():
                writer.kill()
                writer.join()
    w = watch.finish()
    with open(raw, "w") as f:
        f.write("$ %s\n%s" % (" ".join(cmd), proc.stdout))
    srv.check_alive()
    stats = load_run.parse_dnsperf(proc.stdout)
    if proc.returncode != 0 or not stats["completed"]:
        raise BenchError("dnsperf failed (status %d); see %s" % (proc.returncode, raw))
    if writer is not None and wres is None:
        raise BenchError("the paced writer gave no result")
    row = {"kind": "query", "mode": mode, "run": run, "qps": stats["qps"],
           "completed": int(stats["completed"]), "lost": int(stats["lost"] or 0),
           "latency_ms": stats["latency_s"] * 1000.0, "runtime_s": stats["runtime_s"],
           "us_per_query": w["server_cpu_us"] / stats["completed"], "rcodes": stats["rcodes"]}
    row.update(w)
    # The server's share over dnsperf's own run time, as load_run.py has it.
    row["server_cpu_util"] = w["server_cpu_us"] / 1e6 / stats["runtime_s"]
    if wres is not None:
        ok, errs, nerr, lat, wcpu, welapsed, late = wres
        row.update({"writes_ok": ok, "write_errors": nerr, "writes_late": late,
                    "write_rate": ok / welapsed if welapsed else 0.0,
                    "write_latency_p50_ms": pct(lat, 50) if lat else None,
                    "write_latency_p99_ms": pct(lat, 99) if lat else None,
                    "writer_cpu_util": wcpu / w["wall_s"]})
        if nerr:
            say("paced writer: %d failed requests, e.g. %s" % (nerr, errs[:3]))
    threads = w["server_cpu_us_by_thread"]
    row["worker_us_per_query"] = threads["workers"] / stats["completed"]
    row["api_cpu_util"] = threads["api"] / 1e6 / w["wall_s"]
    line = ("query %-10s run %d: %9.0f qps  %5.2f us/query (workers %.2f, api cpu %.1f%%)  "
            "server cpu %3.0f%%  dnsperf+writer cpu %3.0f%%  latency %.3f ms  lost %d"
            % (mode, run, row["qps"], row["us_per_query"], row["worker_us_per_query"],
               row["api_cpu_util"] * 100, row["server_cpu_util"] * 100,
               row["ours_cpu_util"] * 100, row["latency_ms"], row["lost"]))
    if wres is not None:
        line += "  | %d writes (%.1f/s, p50 %.2f p99 %.2f ms, writer cpu %.1f%%)" % (
            row["writes_ok"], row["write_rate"], row["write_latency_p50_ms"] or 0,
            row["write_latency_p99_ms"] or 0, row["writer_cpu_util"] * 100)
    say(line + disturbed_note(row))
    return row


def query_phase(ctx, pristine):
    """RUNS pairs on a fresh server each: a read-only run and a run with
    writes, in alternating order (drift on a shared machine, or a server
    warming up, then favours neither)."""
    pair = [("read-only", 0), ("writes", ctx.args.write_rate)]
    for run in range(1, ctx.args.runs + 1):
        if STOP.is_set():
            return
        with Server(ctx, "10k", pristine, "query-%d" % run) as srv:
            for mode, rate in (pair if run % 2 else pair[::-1]):
                repeat_if_disturbed(ctx, "query %s run %d" % (mode, run),
                                    lambda: dnsperf_run(ctx, srv, mode, run, rate))


def procstat_quiet(ctx):
    quiet, busy = procstat.wait_quiet([str(LOADGEN_CPU), str(SERVER_CPU)], QUIET_LIMIT,
                                      ctx.args.quiet_wait)
    if not quiet:
        say("CPUs still busy after %d s (%s); running anyway" % (
            ctx.args.quiet_wait,
            " ".join("cpu%s %.0f%%" % (c, b * 100) for c, b in sorted(busy.items()))))


# ---------------------------------------------------------------------------
# report

def fmt(v, spec="%.2f", unit=""):
    return "-" if v is None else (spec % v) + unit


def verdict(ok):
    return "-" if ok is None else ("met" if ok else "**MISSED**")


def used(rows, kind):
    return [r for r in rows if r["kind"] == kind and r.get("used")]


def run_label(r):
    return "%s run %d%s" % (r.get("zone") or r.get("mode") or "%d client(s)" % r["clients"],
                            r["run"], " (disturbed)" if r["disturbed"] else "")


def report(ctx, header):
    rows = ctx.rows
    a = ctx.args
    out = ["# Cirrus control-plane benchmark", ""] + header + [""]
    summary = {}

    lat = used(rows, "latency")
    if lat:
        out += ["## 1. Write-to-visible latency", "",
                "Each timed write adds one A record at a fresh name with a PATCH on a "
                "keep-alive HTTP connection; the clock starts when the request is sent; UDP "
                "queries for the name follow back to back until an answer holds the new "
                "address (*visible*). The same loop notes when the HTTP response arrives "
                "(*response*). After each timed write comes one PATCH without probes "
                "(*PATCH alone*). Nearest-rank percentiles per run, median of the runs.", "",
                "| zone | runs x writes | visible p50 | p90 | p99 | max | target p99 |",
                "|---|---|---|---|---|---|---|"]
        sums = []
        for tag, label in (("10k", "10,000 records"), ("1m", "1,000,000 records")):
            rs = [r for r in lat if r["zone"] == tag]
            if not rs:
                continue
            s = {"label": label}
            for key in ("visible_ms", "response_ms", "alone_ms"):
                for p in (50, 90, 99):
                    s["%s_p%d" % (key, p)] = med([pct(r[key], p) for r in rs])
                s[key + "_max"] = med([max(r[key]) for r in rs])
            s["cpu"] = med([r["server_cpu_us_per_write"] for r in rs])
            s["probes"] = med([statistics.mean(r["probes"]) for r in rs])
            s["met"] = s["visible_ms_p99"] < TARGET_P99_MS[tag]
            summary[tag] = s
            sums.append(s)
            out.append("| %s | %d x %s | %s | %s | %s | %s | < %g ms: %s |" % (
                label, len(rs), "/".join(str(r["samples"]) for r in rs),
                fmt(s["visible_ms_p50"], unit=" ms"), fmt(s["visible_ms_p90"], unit=" ms"),
                fmt(s["visible_ms_p99"], unit=" ms"), fmt(s["visible_ms_max"], unit=" ms"),
                TARGET_P99_MS[tag], verdict(s["met"])))
        out += ["", "| zone | response p50 | p99 | PATCH alone p50 | p90 | p99 | max | "
                "probes per write | server CPU per write |", "|---|---|---|---|---|---|---|---|---|"]
        for s in sums:
            out.append("| %s | %s | %s | %s | %s | %s | %s | %.0f | %s |" % (
                s["label"], fmt(s["response_ms_p50"], unit=" ms"),
                fmt(s["response_ms_p99"], unit=" ms"), fmt(s["alone_ms_p50"], unit=" ms"),
                fmt(s["alone_ms_p90"], unit=" ms"), fmt(s["alone_ms_p99"], unit=" ms"),
                fmt(s["alone_ms_max"], unit=" ms"), s["probes"],
                fmt(s["cpu"], "%.0f", " us")))
        out += ["", "Per run, visible p50 / p99 / max (ms): " + "; ".join(
            "%s: %.2f / %.2f / %.2f" % (run_label(r), pct(r["visible_ms"], 50),
                                       pct(r["visible_ms"], 99), max(r["visible_ms"]))
            for r in lat), ""]

    tp = used(rows, "throughput")
    if tp:
        out += ["## 2. Sustained API writes", "",
                "10k zone; each client sends single-record PATCHes to distinct names back "
                "to back on its own keep-alive connection for %d s; median of the runs."
                % a.seconds, "",
                "| clients | writes/s | runs | PATCH latency p50 | p99 | server CPU | "
                "server CPU per write | failed requests |",
                "|---|---|---|---|---|---|---|---|"]
        for n in (1, 4):
            r = [x for x in tp if x["clients"] == n]
            if not r:
                continue
            summary["writes_%d" % n] = med([x["writes_per_s"] for x in r])
            out.append("| %d | %s | %s | %s | %s | %s | %s | %d |" % (
                n, fmt(summary["writes_%d" % n], "%.0f"),
                ", ".join("%.0f%s" % (x["writes_per_s"], "*" if x["disturbed"] else "")
                          for x in r),
                fmt(med([x["latency_p50_ms"] for x in r]), unit=" ms"),
                fmt(med([x["latency_p99_ms"] for x in r]), unit=" ms"),
                fmt(med([x["server_cpu_util"] * 100 for x in r]), "%.0f", " %"),
                fmt(med([x["server_cpu_us_per_write"] for x in r]), "%.0f", " us"),
                sum(x["errors"] for x in r)))
        out.append("")

    qr = used(rows, "query")
    if qr:
        out += ["## 3. Query throughput under a steady write load", "",
                "10k zone; dnsperf -m udp -c %d -q %d -l %d on CPU %d, read-only and, on "
                "the same server, with a writer sending %g PATCH/s (paced) from CPU %d too "
                "(the order alternates between runs); median of the runs." % (a.udp_clients, a.outstanding, a.seconds,
                                         LOADGEN_CPU, a.write_rate, LOADGEN_CPU), "",
                "| mode | QPS | runs | server us/query | of which UDP/TCP threads | API threads "
                "CPU | server CPU | dnsperf+writer CPU | dnsperf latency | writes done | "
                "write p99 |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        m = {}
        for mode in ("read-only", "writes"):
            r = [x for x in qr if x["mode"] == mode]
            if not r:
                continue
            m[mode] = {"qps": med([x["qps"] for x in r]),
                       "us": med([x["us_per_query"] for x in r])}
            w = mode == "writes"
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                mode, fmt(m[mode]["qps"], "%.0f"),
                ", ".join("%.0f%s" % (x["qps"], "*" if x["disturbed"] else "") for x in r),
                fmt(m[mode]["us"]), fmt(med([x.get("worker_us_per_query") for x in r])),
                fmt(med([x.get("api_cpu_util", 0) * 100 for x in r]), "%.1f", " %"),
                fmt(med([x["server_cpu_util"] * 100 for x in r]), "%.0f", " %"),
                fmt(med([x["ours_cpu_util"] * 100 for x in r]), "%.0f", " %"),
                fmt(med([x["latency_ms"] for x in r]), "%.3f", " ms"),
                ", ".join("%d" % x["writes_ok"] for x in r) if w else "-",
                fmt(med([x["write_latency_p99_ms"] for x in r]), unit=" ms") if w else "-"))
        if "read-only" in m and "writes" in m:
            q = m["writes"]["qps"] / m["read-only"]["qps"]
            c = m["read-only"]["us"] / m["writes"]["us"]
            summary["ratio"] = q
            out += ["", "QPS under writes / read-only QPS: **%.3f** (target >= %.2f: %s). "
                    "Read-only / under-writes server CPU per query: %.3f (the server's CPU "
                    "includes applying the writes)." % (q, TARGET_QPS_RATIO,
                                                       verdict(q >= TARGET_QPS_RATIO), c)]
        out.append("")

    bad = [r for r in rows if r.get("disturbed") and r.get("used")]
    redone = [r for r in rows if r.get("disturbed") and not r.get("used")
              and r["kind"] != "latency-perf"]
    if bad or redone:
        out.append("Other work on the machine: %d run(s) were disturbed and repeated "
                   "(at most %d times each)." % (len(redone) + len(bad), a.retries))
        if bad:
            out.append("**%d run(s) in the tables above (marked disturbed or *) found no "
                       "quiet attempt; their numbers are pessimistic:** %s" % (
                           len(bad), "; ".join(
                               "%s %s (other load %.0f%%: %s)" % (
                                   r["kind"], run_label(r), r["other_load"] * 100,
                                   ", ".join("%s %.0f%%" % (c, v * 100)
                                             for c, v in r["other_top"])
                                   or "short-lived processes") for r in bad)))
        out.append("")
    text = "\n".join(out) + "\n"
    with open(os.path.join(ctx.out, "writes.md"), "w") as f:
        f.write(text)
    print(text)
    return summary


# ---------------------------------------------------------------------------

class Ctx:
    def __init__(self, args):
        self.args = args
        self.binary = os.path.abspath(args.cirrus)
        self.out = os.path.abspath(args.out)
        self.rows = []
        self.tokens = {}
        self.results = os.path.join(self.out, "writes.jsonl")
        self.queries_10k = None

    def record(self, row):
        self.rows.append(row)
        with open(self.results, "a") as f:
            f.write(json.dumps(row) + "\n")


def positive(text):
    v = int(text)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cirrus", help="the cirrus binary (release build)")
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "out"))
    ap.add_argument("--runs", type=positive, default=3)
    ap.add_argument("--seconds", type=positive, default=10,
                    help="length of each throughput and dnsperf run")
    ap.add_argument("--samples-10k", type=positive, default=300)
    ap.add_argument("--samples-1m", type=positive, default=100)
    ap.add_argument("--phase-budget", type=positive, default=120,
                    help="seconds one latency run may take at most")
    ap.add_argument("--write-rate", type=float, default=50.0,
                    help="PATCH/s of the writer during the dnsperf run")
    ap.add_argument("--write-cap", type=positive, default=200000,
                    help="most writes one throughput client sends in a run")
    ap.add_argument("--skip-1m", action="store_true")
    ap.add_argument("--port", type=positive, default=29530)
    ap.add_argument("--api-port", type=positive, help="default: --port + 1")
    ap.add_argument("--udp-clients", type=positive, default=8)
    ap.add_argument("--outstanding", type=positive, default=100)
    ap.add_argument("--start-timeout", type=positive, default=120)
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--quiet-wait", type=int, default=30)
    ap.add_argument("--perf", action="store_true",
                    help="add one 1M latency run with perf record -g on the server "
                         "(OUT/writes-perf-1m.data; not in the medians)")
    ap.add_argument("--only", choices=("latency", "throughput", "query"), action="append",
                    help="run only these parts (repeatable)")
    ap.add_argument("--locked", action="store_true",
                    help="the caller (run.sh) already holds OUT/.lock")
    ap.add_argument("--command", help="command line for the report (run.sh passes its own)")
    args = ap.parse_args()
    args.api_port = args.api_port or args.port + 1
    if not (0 < args.write_rate <= 1000):
        ap.error("--write-rate must be in (0, 1000]")
    if not os.access(args.cirrus, os.X_OK):
        sys.exit("writes: %s is not an executable; run 'make build' first" % args.cirrus)
    for tool in ("dnsperf", "taskset"):
        if shutil.which(tool) is None:
            sys.exit("writes: '%s' not found (scripts/deps.sh bench installs it)" % tool)
    if args.perf and shutil.which("perf") is None:
        sys.exit("writes: --perf needs 'perf' (linux-perf)")
    if os.cpu_count() < 2:
        sys.exit("writes: need 2 CPUs")
    only = set(args.only or ("latency", "throughput", "query"))

    ctx = Ctx(args)
    for d in ("data", "raw", "run"):
        os.makedirs(os.path.join(ctx.out, d), exist_ok=True)
    if not args.locked:
        lock = open(os.path.join(ctx.out, ".lock"), "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                sys.exit("writes: another benchmark is running (lock %s)" % lock.name)
            raise
    # This process, its HTTP clients and dnsperf are the load generator.
    os.sched_setaffinity(0, {LOADGEN_CPU})
    multiprocessing.set_start_method("fork")

    def on_signal(signum, _frame):
        STOP.set()
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    command = args.command or "bench/writes.py " + " ".join(sys.argv[1:])
    print(command)
    t_start = time.monotonic()
    try:
        os.unlink(ctx.results)
    except FileNotFoundError:
        pass
    version = cli(ctx.binary, "version", timeout=10).strip().splitlines()[0]
    with open(ctx.binary, "rb") as f:
        bin_sha = hashlib.sha1(f.read()).hexdigest()[:12]
    try:
        rev = subprocess.run(["git", "-C", BENCH_DIR, "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = "unknown"

    status = 0
    stores = os.path.join(ctx.out, "run", "writes-stores")
    store_1m = os.path.join(stores, "1m.db")
    try:
        data = os.path.join(ctx.out, "data")
        zone_10k = os.path.join(data, "writes-10k.zone")
        ctx.queries_10k = os.path.join(data, "writes-queries-10k.txt")
        generate(zone_10k, ["--seed", str(SEED), "--records", "10000", "--zone", zone_10k,
                            "--queries", ctx.queries_10k])
        zone_1m = os.path.join(data, "bench.test-1m.zone")
        if not args.skip_1m and "latency" in only:
            # Exactly run.sh's arguments, so that its cached 1M zone is reused.
            generate(zone_1m, ["--seed", str(SEED), "--records", "1000000", "--zone",
                               zone_1m, "--queries", os.path.join(data, "queries-1m.txt"),
                               "--query-count", "2000"])
        os.makedirs(stores, exist_ok=True)
        pristine = {"10k": os.path.join(stores, "10k.db")}
        ctx.tokens["10k"], took = make_store(ctx.binary, zone_10k, pristine["10k"])
        say("10k zone imported into the store in %.1f s" % took)
        if "latency" in only:
            latency_phase(ctx, "10k", pristine["10k"], args.samples_10k)
            if not args.skip_1m and not STOP.is_set():
                say("importing the 1M zone into a store (~15 s)")
                ctx.tokens["1m"], took = make_store(ctx.binary, zone_1m, store_1m)
                say("1M zone imported into the store in %.1f s" % took)
                latency_phase(ctx, "1m", store_1m, args.samples_1m)
        # Queries before the write storm of the throughput runs, whose
        # writeback would otherwise still be running during them.
        if "query" in only:
            query_phase(ctx, pristine["10k"])
        if "throughput" in only:
            throughput_phase(ctx, pristine["10k"])
    except BenchError as e:
        say("error: %s" % e)
        status = 1
    except (OSError, subprocess.SubprocessError) as e:
        say("error: %s: %s" % (type(e).__name__, e))
        status = 1
    except KeyboardInterrupt:
        say("interrupted")
        status = 130
    finally:
        for suffix in ("", "-wal", "-shm"):   # the 1M store is 100 MB
            try:
                os.unlink(store_1m + suffix)
            except FileNotFoundError:
                pass
    header = ["Command: `%s`" % command, "",
              "- cirrus: %s, binary %s (sha1 %s); bench/ at git %s" % (
                  version, ctx.binary, bin_sha, rev),
              "- server pinned to CPU %d (1 UDP worker, API on its 4 libmicrohttpd threads); "
              "this script, its HTTP clients, the paced writer and dnsperf on CPU %d"
              % (SERVER_CPU, LOADGEN_CPU),
              "- store: SQLite, WAL, synchronous=FULL, on %s" % ctx.out,
              "- params: runs=%d seconds=%d samples_10k=%d samples_1m=%d write_rate=%g "
              "udp_clients=%d outstanding=%d; took %.0f s" % (
                  args.runs, args.seconds, args.samples_10k, args.samples_1m, args.write_rate,
                  args.udp_clients, args.outstanding, time.monotonic() - t_start)]
    if status:
        header.append("- **the run did not complete** (see the messages above); the numbers "
                      "below are partial")
    if ctx.rows:
        report(ctx, header)
    sys.exit(status)


if __name__ == "__main__":
    main()
