#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""start_server.py -- start a DNS server and time its cold start.

Starts COMMAND in its own session (so run.sh can stop the whole tree with
one signal to the process group), then sends single UDP queries in a tight
loop until the server gives an authoritative answer for the zone's SOA.
The clock starts just before exec, so the figure is "exec to first
authoritative answer": zone parsing, any compilation (NSD) and socket setup.

An answer that is not authoritative does not count: Knot answers SERVFAIL
while it still loads the zone in the background.

With --http the probe is an RFC 8484 DoH GET on http://ADDR:PORT/dns-query
over a new connection each time (cirrus function http).

  start_server.py --port P --zone bench.test. --log LOG --pidfile F \\
                  [--timeout 120] [--record results.jsonl --server nsd --label 10k] \\
                  -- COMMAND...

Prints "PID READY_MS" on success.  Exit status: 0 ready, 1 the server died
(its log tail goes to stderr), 2 timed out (server killed), 3 port busy.
"""

import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnswire  # noqa: E402
import procstat  # noqa: E402

POLL_TIMEOUT = 0.005   # per-probe wait: small, so the cold-start error is ~5 ms
POLL_PAUSE = 0.0002    # after "connection refused" (nothing bound yet): the
                       # probe runs on the other CPU, so polling often is free
SETTLE = 1.0           # let the server finish post-load work before reading RSS


def log_tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def authoritative(resp):
    return resp is not None and resp["rcode"] == "NOERROR" and resp["aa"] and resp["answer"]


def doh_query(addr, port, name, rtype, timeout, qid=0):
    """One DoH GET for NAME/RTYPE; the parsed answer, None if the server
    answered with something else than 200, OSError if it did not answer."""
    dns = base64.urlsafe_b64encode(dnswire.build_query(qid, name, rtype)).rstrip(b"=")
    with socket.create_connection((addr, port), timeout=timeout) as s:
        s.sendall(b"GET /dns-query?dns=%s HTTP/1.1\r\nHost: bench\r\n"
                  b"Connection: close\r\n\r\n" % dns)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    return dnswire.parse_response(body)


def wait_ready(proc, args, deadline):
    """Poll until an authoritative SOA answer; return the monotonic time of it,
    or None if the process exited or the deadline passed."""
    qid = 1
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        qid = (qid + 1) & 0xFFFF
        try:
            if args.http:
                resp = doh_query(args.addr, args.port, args.zone, "SOA", POLL_TIMEOUT * 20)
            else:
                resp = dnswire.udp_query(args.addr, args.port, args.zone, "SOA",
                                         POLL_TIMEOUT, qid)
        except OSError:
            resp = None
            time.sleep(POLL_PAUSE)
        if authoritative(resp):
            return time.monotonic()
        if resp is not None:   # answered, but not yet with the zone
            time.sleep(POLL_PAUSE)
    return None


def tcp_listening(addr, port):
    try:
        socket.create_connection((addr, port), timeout=0.2).close()
        return True
    except OSError:
        return False


def spawn(cmd, log, cpu):
    """Start cmd in its own session; with cpu, already on that CPU.  The
    child inherits the CPU mask at fork, so no `taskset` runs first: its
    own start (it reads the locale files) took 4-9 ms here, all of which
    used to count in every server's cold start.  The probe itself then
    moves off that CPU (when there is another), so that it does not take
    turns with the server it is timing."""
    saved = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        others = saved - {cpu}
        os.sched_setaffinity(0, others if cpu is not None and others else saved)


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--http", action="store_true", help="probe with DoH GET instead of UDP")
    ap.add_argument("--cpu", type=int, help="start the server on this CPU, and pin all its "
                    "threads here again once it answers")
    ap.add_argument("--record", help="append a JSON result line here")
    ap.add_argument("--server", default="")
    ap.add_argument("--label", default="")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        sys.exit("start_server: no command")

    # Anything already on the port would fake our readiness check (UDP) or
    # make the server fail to bind (TCP).
    if dnswire.udp_query(args.addr, args.port, args.zone, "SOA", 0.2) is not None \
            or tcp_listening(args.addr, args.port):
        print("start_server: something already listens on %s port %d (another "
              "benchmark? set BENCH_PORT)" % (args.addr, args.port), file=sys.stderr)
        sys.exit(3)

    log = open(args.log, "w")
    t0 = time.monotonic()
    proc = spawn(cmd, log, args.cpu)
    with open(args.pidfile, "w") as f:
        f.write("%d\n" % proc.pid)
    try:
        ready = wait_ready(proc, args, t0 + args.timeout)
    except KeyboardInterrupt:
        kill_group(proc)   # run.sh does not know this pid yet
        sys.exit(130)
    if ready is None:
        died = proc.poll() is not None
        if not died:
            kill_group(proc)
        why = "exited with status %s" % proc.returncode if died else \
            "gave no authoritative answer within %.0f s" % args.timeout
        print("start_server: %s %s\n--- %s (tail) ---\n%s" %
              (" ".join(cmd), why, args.log, log_tail(args.log)), file=sys.stderr)
        sys.exit(1 if died else 2)

    ready_ms = (ready - t0) * 1000.0
    if args.cpu is not None:
        moved = procstat.pin_tree(proc.pid, args.cpu)
        if moved:
            print("start_server: %d thread(s) had left CPU %d (the server sets its own "
                  "affinity); pinned back" % (moved, args.cpu), file=sys.stderr)
    if args.record:
        time.sleep(SETTLE)
        rss, pss, nprocs, nthreads = procstat.mem_kb(proc.pid)
        with open(args.record, "a") as f:
            f.write(json.dumps({"kind": "start", "server": args.server, "zone": args.label,
                                "ready_ms": round(ready_ms, 1), "rss_kb": rss,
                                "pss_kb": pss, "procs": nprocs,
                                "threads": nthreads}) + "\n")
    print("%d %.1f" % (proc.pid, ready_ms))


if __name__ == "__main__":
    main()
