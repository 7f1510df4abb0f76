#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""procstat.py -- CPU time and memory of a server's whole process tree.

A server is a tree, not one pid: NSD forks a serving child and xfrd from its
main process, so the main pid's own counters miss the work.  We sum over the
pid and all its live descendants (threads are already folded into each
process's /proc/PID/stat).

Memory: VmRSS summed over a forked tree counts copy-on-write pages once per
process, so we also report PSS (proportional set size), which splits shared
pages between the sharers and is therefore the fair figure to compare a
forking server with a threaded one.

  procstat.py cpu PID   -> CPU microseconds (utime+stime) of the tree
  procstat.py mem PID   -> "RSS_KB PSS_KB NPROCS NTHREADS"
  procstat.py pin PID CPU -> pins all threads of the tree, prints how many moved
  procstat.py quiet CPUS LIMIT TIMEOUT -> wait until CPUS (e.g. 0,1) are idle
"""

import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def read_stat(path):
    """(comm, fields after comm) of a /proc/.../stat file; OSError if gone.
    fields[11] and fields[12] are utime and stime in ticks."""
    with open(path) as f:
        data = f.read()
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    return data[data.index("(") + 1:data.rindex(")")], data[data.rindex(")") + 2:].split()


def _stat_fields(pid):
    return read_stat("/proc/%d/stat" % pid)[1]


def all_stats():
    """{pid: (comm, fields)} for every process still there when read."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                out[int(entry)] = read_stat("/proc/%s/stat" % entry)
            except OSError:
                continue
    return out


def tree(root):
    """ROOT and all its live descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry))[1])
        except (OSError, ValueError, IndexError):
            continue  # the process went away while we looked
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo and len(out) < 10000:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_us(root):
    """utime+stime of the tree, in microseconds (resolution: one clock tick)."""
    total = 0
    for pid in tree(root):
        try:
            f = _stat_fields(pid)
        except OSError:
            continue
        # After the comm field: state=0 ppid=1 ... utime=11 stime=12.
        total += int(f[11]) + int(f[12])
    return total * 1000000 // TICKS


def _kb(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def mem_kb(root):
    """(sum of VmRSS, sum of Pss, number of processes, number of threads)
    over the tree."""
    pids = tree(root)
    rss = sum(_kb("/proc/%d/status" % p, "VmRSS") for p in pids)
    pss = sum(_kb("/proc/%d/smaps_rollup" % p, "Pss") for p in pids)
    threads = sum(_kb("/proc/%d/status" % p, "Threads") for p in pids)
    return rss, pss, len(pids), threads


def all_cpu_ticks():
    """{pid: (comm, utime+stime ticks)} for every process: a before/after
    pair names whoever else used the CPUs during a run."""
    return {pid: (comm, int(f[11]) + int(f[12])) for pid, (comm, f) in all_stats().items()}


def top_others(before, after, exclude, seconds, n=3):
    """The N biggest CPU users between two all_cpu_ticks() samples, leaving
    out the pids in EXCLUDE; [(comm, share of one CPU)]. Keyed by pid, not
    by name: a kernel worker renames itself after the work queue it serves
    (kworker/u8:1-writeback, then -events_unbound), and a name seen only
    afterwards would count the worker's whole lifetime."""
    rows = []
    for pid, (comm, ticks) in after.items():
        if pid in exclude:
            continue
        share = (ticks - before.get(pid, (comm, 0))[1]) / TICKS / seconds
        if share >= 0.02:
            rows.append((comm, round(share, 2)))
    return sorted(rows, key=lambda r: -r[1])[:n]


def pin_tree(root, cpu):
    """Pin every thread of the tree to CPU; return how many were elsewhere.
    Needed because taskset only sets the starting mask: Knot DNS, for one,
    binds its UDP worker threads to CPUs 0..n-1 itself, which would put the
    server on the load generator's core."""
    moved = 0
    for pid in tree(root):
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in map(int, tids):
            try:
                if os.sched_getaffinity(tid) != {cpu}:
                    os.sched_setaffinity(tid, {cpu})
                    moved += 1
            except OSError:
                pass  # the thread exited meanwhile
    return moved


def cpu_busy():
    """Per-CPU (busy, total) jiffies from /proc/stat, keyed by CPU number."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *vals = line.split()
                vals = [int(v) for v in vals[:8]]
                idle = vals[3] + vals[4]   # idle + iowait
                out[name[3:]] = (sum(vals) - idle, sum(vals))
    return out


def cpu_busy_share(before, after):
    """Busy share of each CPU between two cpu_busy() samples.  Comparing it
    with our own processes' share shows how much other work (a build in
    another shell) ran on the benchmark's CPUs."""
    share = {}
    for cpu, (b1, t1) in after.items():
        b0, t0 = before.get(cpu, (0, 0))
        share[cpu] = round((b1 - b0) / (t1 - t0), 3) if t1 > t0 else 0.0
    return share


def measured_run(pid, cmd, cpu, loadgen_cpu, timeout, max_other=0.15):
    """Run CMD (a load generator, pinned by the caller) against the server
    tree PID, as load_run.py does for dnsperf: re-pin the server to CPU,
    then the server's CPU time, the load generator's (our reaped children),
    the two CPUs' busy shares and who else ran.  Returns a dict; "disturbed"
    when other work took more than MAX_OTHER of a CPU."""
    import resource
    import subprocess

    def children_us():
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (ru.ru_utime + ru.ru_stime) * 1e6
    moved = pin_tree(pid, cpu)
    cpu0, gen0, busy0, ticks0 = cpu_us(pid), children_us(), cpu_busy(), all_cpu_ticks()
    wall0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)
    server, wall = cpu_us(pid) - cpu0, time.monotonic() - wall0
    gen = children_us() - gen0
    busy = cpu_busy_share(busy0, cpu_busy())
    others = top_others(ticks0, all_cpu_ticks(), set(tree(pid)) | {os.getpid()}, wall)
    other = (busy.get(str(cpu), 0) + busy.get(str(loadgen_cpu), 0)
             - server / 1e6 / wall - gen / 1e6 / wall)
    return {"proc": proc, "moved": moved, "server_us": server, "loadgen_us": gen,
            "wall_s": wall, "cpu_busy": busy, "other_load": round(other, 3),
            "other_top": others, "disturbed": other > max_other,
            "alive": os.path.exists("/proc/%d" % pid)}


def wait_quiet(cpus, limit, timeout):
    """Sample CPUS in 0.5 s windows until none is busier than LIMIT, for at
    most TIMEOUT seconds.  Returns (quiet?, last busy shares)."""
    deadline = time.monotonic() + timeout
    while True:
        before = cpu_busy()
        time.sleep(0.5)
        share = cpu_busy_share(before, cpu_busy())
        busy = {c: share.get(c, 0.0) for c in cpus}
        if max(busy.values()) <= limit:
            return True, busy
        if time.monotonic() >= deadline:
            return False, busy


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "quiet":
        quiet, busy = wait_quiet(sys.argv[2].split(","), float(sys.argv[3]),
                                 float(sys.argv[4]))
        print(" ".join("cpu%s %.0f%%" % (c, b * 100) for c, b in sorted(busy.items())))
        sys.exit(0 if quiet else 1)
    if len(sys.argv) < 3 or sys.argv[1] not in ("cpu", "mem", "pin"):
        sys.exit("usage: procstat.py cpu|mem PID | pin PID CPU | quiet CPUS LIMIT TIMEOUT")
    pid = int(sys.argv[2])
    if not os.path.exists("/proc/%d" % pid):
        sys.exit("procstat: no process %d" % pid)
    if sys.argv[1] == "cpu":
        print(cpu_us(pid))
    elif sys.argv[1] == "pin":
        print(pin_tree(pid, int(sys.argv[3])))
    else:
        print("%d %d %d %d" % mem_kb(pid))


if __name__ == "__main__":
    main()
