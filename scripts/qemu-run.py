#!/usr/bin/env python3
"""Boot the test kernel under QEMU and judge what it did.

--mode check: the initramfs runs every test of the list and reports on the
second serial port; prints one status line per test as results arrive and
closes with 'N passed, N failed, N skipped'.  Entries 'kunit:<suite>' of the
list are KUnit suites built into the kernel: they ran at boot, before /init,
and are judged from the KTAP that KUnit printed on the console.
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
    containing 'allow-skip: <reason>' lets the test skip without failing.
    'kunit:<suite> timeout' names a KUnit suite; its timeout only adds to
    the time QEMU is given (the suite runs during boot)."""
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
            kunit = fields[0][len("kunit:"):] if fields[0].startswith("kunit:") else None
            if kunit is not None and (not kunit or len(fields) > 2):
                sys.exit(f"{path}:{lineno}: expected 'kunit:<suite> timeout'")
            tests.append({
                "bin": fields[0], "timeout": int(fields[1]), "args": " ".join(fields[2:]),
                "allow_skip": m.group(1).strip() if m else None, "kunit": kunit,
            })
    return tests


def name_of(t):
    return t["bin"] + (" " + t["args"] if t["args"] else "")


# KUnit, built in, runs its suites at boot and prints KTAP on the console at
# KERN_INFO (hence loglevel=7), one record per line:
#   KTAP version 1
#   1..2
#       KTAP version 1
#       # Subtest: kvm_snp_rmp_model
#       1..3
#       ok 1 rmp_lookup
#       # rmp_assign: EXPECTATION FAILED at arch/x86/kvm/svm/...
#       Expected ...
#       not ok 2 rmp_assign
#       ok 3 rmp_size # SKIP no 2M pages
#   # kvm_snp_rmp_model: pass:1 fail:1 skip:1 total:3
#   # Totals: pass:1 fail:1 skip:1 total:3
#   not ok 1 kvm_snp_rmp_model
#   ok 2 kvm_snp_gmem # SKIP <why>
# Other kernel messages may come in between.  With CONFIG_PRINTK_TIME (and
# PRINTK_CALLER) every line starts with "[    1.234567] " ("[...][    T1] ").
KMSG_PREFIX = re.compile(r"^\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])? ")
KTAP_HEADER = re.compile(r"^K?TAP version \d+$")
KTAP_PLAN = re.compile(r"^1\.\.(\d+)$")
KTAP_RESULT = re.compile(r"^(not ok|ok) \d+ (?:- )?(\S+)(?:\s+#\s*(.*?))?\s*$")
KTAP_SUBRESULT = re.compile(r"^    (not ok|ok) \d+ (?:- )?(\S+)")
KTAP_SUBTEST = re.compile(r"^    # Subtest: (\S+)")
KTAP_STATS = re.compile(r"^(?:    )?# (\S+): (pass:\d+ fail:\d+ skip:\d+ total:\d+)")
KUNIT_SHOW = 40  # console lines shown for a failed suite


def parse_kunit(lines):
    """What KUnit reported in the console @lines: a dict of
      header    a top-level KTAP header was seen (the kernel has KUnit)
      plan      suites announced by the top-level plan lines (None: no plan)
      reported  top-level results seen
      suites    {name: suite}, a failure winning over an earlier result
      running   a suite that started and never reported (None if none)
      rest      the lines after the last result
    A suite: ok, skip (the SKIP directive's text, None if not skipped),
    lines (the console lines since the previous result, up to its own),
    stats ('pass:N fail:N skip:N total:N' or ''), failed (its failing
    subtests) and spans (their line ranges in lines, assertions included)."""
    k = {"header": False, "plan": None, "reported": 0, "suites": {}, "running": None,
         "rest": []}
    block = []
    for raw in lines:
        line = KMSG_PREFIX.sub("", raw, count=1)
        if KTAP_HEADER.match(line):
            k["header"] = True
            continue
        if not k["header"]:
            continue
        m = KTAP_PLAN.match(line)
        if m:
            k["plan"] = (k["plan"] or 0) + int(m.group(1))
            continue
        block.append(raw)
        m = KTAP_RESULT.match(line)
        if not m:
            continue
        directive = m.group(3) or ""
        suite = {"ok": m.group(1) == "ok",
                 "skip": directive[4:].strip() if directive.upper().startswith("SKIP") else None,
                 "lines": block, "stats": "", "failed": [], "spans": []}
        start = 0
        for i, b in enumerate(block):
            b = KMSG_PREFIX.sub("", b, count=1)
            sm = KTAP_STATS.match(b)
            if sm and sm.group(1) == m.group(2):
                suite["stats"] = sm.group(2)
            sm = KTAP_SUBRESULT.match(b)
            if sm:
                if sm.group(1) == "not ok":
                    suite["failed"].append(sm.group(2))
                    suite["spans"].append((start, i))
                start = i + 1
        old = k["suites"].get(m.group(2))
        if old is None or old["ok"]:
            k["suites"][m.group(2)] = suite
        k["reported"] += 1
        block = []
    while block and not block[-1].strip():
        block.pop()
    k["rest"] = block
    for b in block:
        m = KTAP_SUBTEST.match(KMSG_PREFIX.sub("", b, count=1))
        if m:
            k["running"] = m.group(1)
    return k


def kunit_complete(k):
    return k["header"] and k["plan"] is not None and k["reported"] >= k["plan"]


def kunit_excerpt(suite, limit=KUNIT_SHOW):
    """At most @limit lines of a failed or skipped suite: all of them when
    they fit, else the lines before its first subtest's result (setup
    errors), each failing subtest's lines (its assertion messages) and the
    closing lines."""
    lines = suite["lines"]
    if len(lines) <= limit:
        return lines
    keep = set(range(len(lines) - 2, len(lines)))
    first = next((i for i, l in enumerate(lines)
                  if KTAP_SUBRESULT.match(KMSG_PREFIX.sub("", l, count=1))), len(lines))
    keep.update(range(min(first, 8)))
    for a, b in suite["spans"]:
        keep.update(range(max(a, b - 15), b + 1))
    out, last = [], -1
    for i in sorted(keep):
        if i > last + 1:
            out.append(f"[... {i - last - 1} lines ...]")
        out.append(lines[i])
        last = i
    if len(out) > limit:
        out = out[:limit - 3] + [f"[... {len(out) - limit + 2} more, see the console log ...]"] \
            + out[-2:]
    return out


def judge_kunit(t, k):
    """(verdict, reason, lines to show, stats) of the list entry t, a
    kunit:<suite> entry, from parse_kunit()'s k."""
    name = t["kunit"]
    s = k["suites"].get(name)
    if s is None:
        if not k["header"]:
            return "FAIL", " (did not run: no KUnit output on the console)", [], ""
        if k["running"] == name:
            return "FAIL", " (did not finish: the kernel stopped in it)", \
                k["rest"][-KUNIT_SHOW:], ""
        return "FAIL", " (did not run: KUnit reported no such suite)", [], ""
    stats = f" {s['stats']}" if s["stats"] else ""
    if not s["ok"]:
        failed = f": {', '.join(s['failed'])} failed" if s["failed"] else ""
        return "FAIL", f" (not ok{failed})", kunit_excerpt(s), stats
    if s["skip"] is not None:
        why = f": {s['skip']}" if s["skip"] else ""
        if t["allow_skip"]:
            return "SKIP", f" (skipped{why}; allowed: {t['allow_skip']})", kunit_excerpt(s), stats
        return "FAIL", f" (skipped{why}, but the list expects it to run)", kunit_excerpt(s), stats
    return "PASS", "", [], stats


def kunit_unlisted_failures(tests, k):
    """Suites that reported not ok and that no kunit: entry names."""
    listed = {t["kunit"] for t in tests if t.get("kunit")}
    return [n for n, s in k["suites"].items() if not s["ok"] and n not in listed]


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
    # loglevel=7: KERN_INFO reaches the console, where KUnit prints its KTAP.
    append = f"console=ttyS0 loglevel=7 panic=-1 gmem.mode={mode} {a.append}".strip()
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
    # KUnit's suites run before /init: /init must start within this.
    boot_limit = BOOT_MARGIN + sum(t["timeout"] for t in tests if t["kunit"])
    cmd = qemu_cmd(a, a.mode)
    print(f"qemu: {' '.join(shlex.quote(c) for c in cmd)}", flush=True)
    print(f"qemu: console log {a.console}, test output {a.output}, time limit {limit}s"
          f" (/init within {min(limit, boot_limit)}s)", flush=True)

    start = time.time()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    reader = Reader(a.output)
    results, outputs, current, booted, done = {}, {}, None, False, False
    footprint = {}
    timed_out = False
    t_start = start
    kunit = None  # parse_kunit() of the console, once /init has started

    def read_console():
        with open(a.console, errors="replace") as f:
            return f.read().replace("\r", "").split("\n")

    def kunit_at_boot():
        """KUnit is done before /init starts: read what it printed, giving
        the console a few seconds to catch up if it looks incomplete."""
        nonlocal kunit
        deadline = time.time() + 3
        while True:
            kunit = parse_kunit(read_console())
            if kunit_complete(kunit) or time.time() > deadline:
                return
            time.sleep(0.5)

    def consume(lines):
        nonlocal current, booted, done, t_start
        for line in lines:
            if line.startswith("### BOOTED"):
                booted = True
                print(f"boot: {line[len('### BOOTED '):]} ({time.time() - start:.0f}s)",
                      flush=True)
                if any(t["kunit"] for t in tests):
                    kunit_at_boot()
                    flush_kunit()
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
                flush_kunit()
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

    def show(lines):
        for line in lines:
            print(f"      | {line}")
        sys.stdout.flush()

    def report_kunit(i):
        v, why, lines, stats = judge_kunit(tests[i], kunit)
        verdicts[i] = v
        print(f"{v:4}  {name_of(tests[i])}  [at boot{stats}]{why}", flush=True)
        if v == "FAIL" or (v == "SKIP" and os.environ.get("V")):
            show(lines)

    def flush_kunit():
        """The kunit: entries up to the next test /init has not reported
        yet, in list order (the suites themselves all ran at boot)."""
        for i, t in enumerate(tests):
            if verdicts[i] is not None:
                continue
            if not t["kunit"] or kunit is None:
                return
            report_kunit(i)

    def report(name, rc, secs):
        i = next((i for i, t in enumerate(tests)
                  if not t["kunit"] and name_of(t) == name and verdicts[i] is None), None)
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
            show(outputs.get(name, [])[-40:])

    while proc.poll() is None:
        consume(reader.lines())
        if time.time() - start > limit or (not booted and time.time() - start > boot_limit):
            timed_out = True
            proc.kill()
            break
        time.sleep(0.5)
    proc.wait()
    consume(reader.lines())

    console = read_console()
    kunit = parse_kunit(console)
    failed = []
    if timed_out and not booted:
        failed.append(f"QEMU did not start /init within {min(limit, boot_limit)}s"
                      + (f" (stuck in: kunit:{kunit['running']})" if kunit["running"] else ""))
    elif timed_out:
        failed.append(f"QEMU did not finish within {limit}s"
                      + (f" (stuck in: {current})" if current else ""))
    if not booted:
        failed.append("the kernel did not boot to the test runner")
    elif not done and not timed_out:
        failed.append("the test runner did not finish (kernel crash or reboot?)")

    # A KUnit suite no kunit: entry names fails the run when it fails.
    for name in kunit_unlisted_failures(tests, kunit):
        failed.append(f"KUnit suite {name} reported not ok (no kunit:{name} in the list)")
        print(f"KUnit suite {name}: not ok")
        show(kunit_excerpt(kunit["suites"][name]))
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
        if verdicts[i] is None and t["kunit"]:
            report_kunit(i)
        elif verdicts[i] is None:
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
