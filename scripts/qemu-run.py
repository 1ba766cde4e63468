#!/usr/bin/env python3
"""Boot the test kernel under QEMU and judge what it did.

--mode check: the initramfs runs every test of the list and reports on the
second serial port; prints one status line per test as results arrive and
closes with 'N passed, N failed, N skipped'.
--mode run: the initramfs runs the demonstration program; its report is
printed as it comes.

Either way the run fails on a boot failure, a timeout, or a kernel splat in
the console log (kept in the log directory).
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import time

SPLAT = re.compile(r"(WARNING:|BUG:|KASAN|UBSAN|kernel BUG|Oops|general protection fault|"
                   r"Call Trace|Kernel panic|possible circular locking|possible recursive locking|"
                   r"inconsistent lock state|suspicious RCU usage|INFO: task .* blocked|"
                   r"unreferenced object|DEBUG_LOCKS_WARN_ON|kfence|soft lockup|hard LOCKUP)")
BOOT_MARGIN = 240  # seconds for boot, initramfs unpacking and power-off under TCG
KSFT_SKIP = 4
# Inodes a test may seem to leave allocated without leaking anything (seen:
# +-3 over clean runs, inodes of other kernel users freed late).  A guest_memfd
# leak shows up as many more: every guest_memfd is an inode of its own.
INODE_SLACK = 4


def parse_list(path):
    """tests/list: 'binary timeout [args...] [# comment]'.  A comment
    containing 'allow-skip: <reason>' lets the test skip without failing."""
    tests = []
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line, _, comment = raw.partition("#")
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2 or not fields[1].isdigit():
                sys.exit(f"{path}:{lineno}: expected 'binary timeout [args...]'")
            m = re.search(r"allow-skip:\s*(.+)", comment)
            tests.append({
                "bin": fields[0], "timeout": int(fields[1]), "args": " ".join(fields[2:]),
                "allow_skip": m.group(1).strip() if m else None,
            })
    return tests


def name_of(t):
    return t["bin"] + (" " + t["args"] if t["args"] else "")


def numa_args(a):
    """Memory split evenly over a.numa nodes (the guest_memfd NUMA policy
    test needs two), each with its own RAM backend.  All vCPUs sit in node
    0: QEMU's CPUs share a last-level cache, and Linux warns when cache
    siblings are in different nodes.  The other nodes are memory only."""
    if a.numa <= 1:
        return ["-m", a.mem]
    m = re.fullmatch(r"(\d+)G", a.mem)
    if not m or int(m.group(1)) % a.numa:
        sys.exit(f"--numa {a.numa} needs --mem in G, divisible by it")
    per_node = int(m.group(1)) // a.numa
    args = ["-m", a.mem]
    for n in range(a.numa):
        cpus = f",cpus=0-{a.smp - 1}" if n == 0 else ""
        args += ["-object", f"memory-backend-ram,id=ram{n},size={per_node}G",
                 "-numa", f"node,nodeid={n}{cpus},memdev=ram{n}"]
    return args


def qemu_cmd(a, mode):
    accel = a.accel
    cpu = "max" if accel.startswith("tcg") else "host"
    append = f"console=ttyS0 loglevel=6 panic=-1 gmem.mode={mode} {a.append}".strip()
    return ["qemu-system-x86_64", "-machine", "q35", "-accel", accel, "-cpu", cpu,
            "-smp", str(a.smp)] + numa_args(a) + [
            "-display", "none", "-monitor", "none",
            "-no-reboot", "-kernel", a.kernel, "-initrd", a.initrd, "-append", append,
            "-serial", f"file:{a.console}", "-serial", f"file:{a.output}"]


class Reader:
    """Follows a growing log file and yields complete lines."""

    def __init__(self, path):
        self.path, self.pos, self.buf = path, 0, ""

    def lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return []
        self.pos += len(data)
        self.buf += data.decode("utf-8", "replace").replace("\r", "")
        *done, self.buf = self.buf.split("\n")
        return done


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["check", "run"], default="check")
    p.add_argument("--list")
    p.add_argument("--kernel", required=True)
    p.add_argument("--initrd", required=True)
    p.add_argument("--logdir", required=True)
    p.add_argument("--accel", default=os.environ.get("ACCEL", "tcg"))
    p.add_argument("--smp", type=int, default=2)
    # 2 GiB of it is reserved at boot (Makefile, KERNEL_APPEND).
    p.add_argument("--mem", default="6G")
    p.add_argument("--numa", type=int, default=int(os.environ.get("NUMA_NODES", "2")))
    p.add_argument("--append", default=os.environ.get("KERNEL_APPEND", ""))
    p.add_argument("--timeout", type=int, default=0)
    a = p.parse_args()

    os.makedirs(a.logdir, exist_ok=True)
    a.console = os.path.join(a.logdir, f"{a.mode}-console.log")
    a.output = os.path.join(a.logdir, f"{a.mode}-output.log")
    for f in (a.console, a.output):
        open(f, "w").close()

    tests = parse_list(a.list) if a.mode == "check" else []
    limit = a.timeout or (sum(t["timeout"] for t in tests) + BOOT_MARGIN if tests else 600)
    cmd = qemu_cmd(a, a.mode)
    print(f"qemu: {' '.join(shlex.quote(c) for c in cmd)}", flush=True)
    print(f"qemu: console log {a.console}, test output {a.output}, time limit {limit}s",
          flush=True)

    start = time.time()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    reader = Reader(a.output)
    results, outputs, current, booted, done = {}, {}, None, False, False
    footprint = {}
    timed_out = False
    t_start = start

    def consume(lines):
        nonlocal current, booted, done, t_start
        for line in lines:
            if line.startswith("### BOOTED"):
                booted = True
                print(f"boot: {line[len('### BOOTED '):]} ({time.time() - start:.0f}s)",
                      flush=True)
            elif line.startswith("### START "):
                current = line[len("### START "):].strip()
                outputs[current] = []
                t_start = time.time()
            elif line.startswith("### FOOTPRINT "):
                footprint[current] = [int(x) for x in line.split()[2:6]]
            elif line.startswith("### KMEMLEAK "):
                print(f"kmemleak: {line[len('### KMEMLEAK '):]}", flush=True)
            elif line.startswith("### RESULT "):
                rc, _, name = line[len("### RESULT "):].partition(" ")
                name = name.strip()
                report(name, int(rc), time.time() - t_start)
                current = None
            elif line.startswith("### DEMO-EXIT "):
                results["demo"] = (int(line.split()[2]), 0)
            elif line.startswith("### BOOT-EXIT "):
                results["boot"] = (int(line.split()[2]), 0)
            elif line.startswith("### DONE"):
                done = True
            elif a.mode == "run":
                print(line, flush=True)
            elif current is not None:
                outputs[current].append(line)

    # One verdict per list entry, in list order: an entry may repeat.
    verdicts = [None] * len(tests)

    def leaked(name):
        """What the test left allocated after it exited: unevictable
        memory (guest_memfd pages) or inodes (guest_memfd files)."""
        f = footprint.get(name)
        if not f or len(f) != 4:
            return "no footprint reported"
        unev, inodes = f[2] - f[0], f[3] - f[1]
        what = []
        if unev > 0:
            what.append(f"{unev} kB of unevictable memory")
        if inodes > INODE_SLACK:
            what.append(f"{inodes} inodes")
        return ", ".join(what)

    def report(name, rc, secs):
        i = next((i for i, t in enumerate(tests)
                  if name_of(t) == name and verdicts[i] is None), None)
        if i is None:
            return
        t = tests[i]
        if rc == 0:
            v, why = "PASS", ""
        elif rc == KSFT_SKIP and t["allow_skip"]:
            v, why = "SKIP", f" (allowed: {t['allow_skip']})"
        elif rc == KSFT_SKIP:
            v, why = "FAIL", " (skipped, but the list expects it to run)"
        elif rc == 137:
            v, why = "FAIL", f" (killed after its {t['timeout']}s timeout)"
        else:
            v, why = "FAIL", f" (exit status {rc})"
        leak = leaked(name)
        if leak and v == "PASS":
            v, why = "FAIL", f" (left behind {leak})"
        verdicts[i] = v
        f = footprint.get(name) or [0, 0, 0, 0]
        delta = f" {f[2] - f[0]:+d} kB {f[3] - f[1]:+d} inodes" if len(f) == 4 else ""
        print(f"{v:4}  {name}  [{secs:.1f}s{delta}]{why}", flush=True)
        if v == "FAIL" or (v == "SKIP" and os.environ.get("V")):
            for line in outputs.get(name, [])[-40:]:
                print(f"      | {line}")
            sys.stdout.flush()

    while proc.poll() is None:
        consume(reader.lines())
        if time.time() - start > limit:
            timed_out = True
            proc.kill()
            break
        time.sleep(0.5)
    proc.wait()
    consume(reader.lines())

    failed = []
    if timed_out:
        failed.append(f"QEMU did not finish within {limit}s"
                      + (f" (stuck in: {current})" if current else ""))
    if not booted:
        failed.append("the kernel did not boot to the test runner")
    elif not done and not timed_out:
        failed.append("the test runner did not finish (kernel crash or reboot?)")

    with open(a.console, errors="replace") as f:
        console = f.read().replace("\r", "").split("\n")
    splats = [i for i, l in enumerate(console) if SPLAT.search(l)]
    if splats:
        failed.append(f"{len(splats)} kernel splat line(s) in {a.console}")
        shown = set()
        print("kernel splats:")
        for i in splats[:5]:
            for j in range(max(0, i - 2), min(len(console), i + 12)):
                if j not in shown:
                    shown.add(j)
                    print(f"      ! {console[j]}")
        sys.stdout.flush()

    if a.mode == "run":
        rc = results.get("demo", (None,))[0]
        if rc is None:
            failed.append("the demonstration did not finish")
        elif rc != 0:
            failed.append(f"the demonstration exited with status {rc}")
        rc = results.get("boot", (0,))[0]
        if rc != 0:
            failed.append(f"the guest booted from private memory exited with status {rc}")
        for f in failed:
            print(f"run: ERROR: {f}")
        return 1 if failed else 0

    for i, t in enumerate(tests):
        if verdicts[i] is None:
            verdicts[i] = "FAIL"
            print(f"FAIL  {name_of(t)}  (did not run to completion)", flush=True)
    for f in failed:
        print(f"check: ERROR: {f}")
    npass = verdicts.count("PASS")
    nfail = verdicts.count("FAIL")
    nskip = verdicts.count("SKIP")
    print(f"total time {time.time() - start:.0f}s")
    # A splat or boot failure fails the run even when every test passed; it
    # is counted as one more failure so the closing line never reads clean.
    if failed and nfail == 0:
        nfail = 1
    print(f"{npass} passed, {nfail} failed, {nskip} skipped")
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
