#!/usr/bin/env python3
"""Offline checks of scripts/qemu-run.py's KUnit handling, no kernel needed.

1. parse_kunit()/judge_kunit() on synthetic console logs: suites ok, not ok
   (with assertion messages), skipped (with and without allow-skip),
   missing, a kernel without KUnit, a suite not in the list failing, a
   suite whose init failed, a boot that stopped inside a suite, a long
   suite, timestamps (PRINTK_TIME, PRINTK_CALLER) and kernel messages in
   between.
2. qemu-run.py end to end, with a fake qemu-system-x86_64 first in PATH
   that writes a scenario's console and /init output: the verdict lines,
   their order (list order), the counts, the ERROR lines, the exit status.

Run: scripts/qemu-run-selftest.py (prints 'N checks passed' or the failures).
"""
import importlib.util
import os
import re
import stat
import subprocess
import sys
import tempfile
import textwrap

sys.dont_write_bytecode = True
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU_RUN = os.path.join(TOP, "scripts", "qemu-run.py")
spec = importlib.util.spec_from_file_location("qemu_run", QEMU_RUN)
qr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(qr)

failures = []
checks = 0


def check(what, cond, detail=""):
    global checks
    checks += 1
    if not cond:
        failures.append(f"{what}{': ' + str(detail) if detail else ''}")


def entry(suite, allow_skip=None):
    return {"bin": f"kunit:{suite}", "timeout": 60, "args": "", "allow_skip": allow_skip,
            "kunit": suite}


def log(text, stamp=False, caller=False):
    """Console lines from @text; with @stamp as PRINTK_TIME prints them."""
    out = []
    for n, line in enumerate(textwrap.dedent(text).strip("\n").split("\n")):
        if stamp:
            pre = f"[{n // 10:5d}.{n % 10 * 1000:06d}]"
            pre += f"[{'T1':>6}] " if caller else " "
            line = pre + line
        out.append(line)
    return out


# A boot log: the kernel's own messages, KUnit's KTAP with our three suites
# (rmp_model passes, gmem has a failing subtest, psc is skipped), an
# unrelated suite that passes, and kernel messages in between, some at the
# top level, one between two subtests.
BOOT = """\
    Linux version 6.1.192+ (root@vm) #1 SMP
    Kernel command line: console=ttyS0 loglevel=7
    ok 9 not_ktap_yet
    kvm: Nested Virtualization enabled
    KTAP version 1
    1..4
        # kvm_snp_rmp_model: initializing suite
        KTAP version 1
        # Subtest: kvm_snp_rmp_model
        1..3
        ok 1 rmp_lookup
        ok 2 rmp_assign
    random: crng init done
        ok 3 rmp_reclaim
    # kvm_snp_rmp_model: pass:3 fail:0 skip:0 total:3
    # Totals: pass:3 fail:0 skip:0 total:3
    ok 1 kvm_snp_rmp_model
        KTAP version 1
        # Subtest: kvm_snp_gmem
        1..3
        ok 1 gmem_bind
        # gmem_prepare: EXPECTATION FAILED at arch/x86/kvm/svm/snp_test.c:120
        Expected rmp_state(pfn) == RMP_PRIVATE, but
            rmp_state(pfn) == 0
            RMP_PRIVATE == 2
        not ok 2 gmem_prepare
        ok 3 gmem_invalidate
    # kvm_snp_gmem: pass:2 fail:1 skip:0 total:3
    # Totals: pass:2 fail:1 skip:0 total:3
    not ok 2 kvm_snp_gmem
        KTAP version 1
        # Subtest: kvm_snp_psc
        1..1
        ok 1 psc_batch # SKIP no SNP firmware model
    ok 3 kvm_snp_psc # SKIP no SNP firmware model
        KTAP version 1
        # Subtest: example
        1..1
        ok 1 example_simple_test
    ok 4 example
    Freeing unused kernel image (initmem) memory: 1234K
    Run /init as init process
"""


def parse(text, **kw):
    return qr.parse_kunit(log(text, **kw))


def unit_checks():
    for kw in ({}, {"stamp": True}, {"stamp": True, "caller": True}):
        k = parse(BOOT, **kw)
        tag = f"boot log {kw or 'plain'}"
        check(f"{tag}: header, plan, complete", k["header"] and k["plan"] == 4
              and qr.kunit_complete(k), k)
        check(f"{tag}: 'ok' before the header is not a result", "not_ktap_yet" not in k["suites"])
        check(f"{tag}: suites", sorted(k["suites"]) ==
              ["example", "kvm_snp_gmem", "kvm_snp_psc", "kvm_snp_rmp_model"], sorted(k["suites"]))
        v = qr.judge_kunit(entry("kvm_snp_rmp_model"), k)
        check(f"{tag}: ok -> PASS with stats",
              v[:2] == ("PASS", "") and v[3] == " pass:3 fail:0 skip:0 total:3", v)
        v = qr.judge_kunit(entry("kvm_snp_gmem"), k)
        check(f"{tag}: not ok -> FAIL naming the subtest",
              v[0] == "FAIL" and v[1] == " (not ok: gmem_prepare failed)", v[:2])
        text = "\n".join(v[2])
        check(f"{tag}: not ok shows the assertion", "EXPECTATION FAILED" in text
              and "RMP_PRIVATE == 2" in text and "not ok 2 kvm_snp_gmem" in text, text)
        v = qr.judge_kunit(entry("kvm_snp_psc"), k)
        check(f"{tag}: skip without allow-skip -> FAIL", v[0] == "FAIL" and
              v[1] == " (skipped: no SNP firmware model, but the list expects it to run)", v[:2])
        v = qr.judge_kunit(entry("kvm_snp_psc", "no SNP here"), k)
        check(f"{tag}: skip with allow-skip -> SKIP", v[0] == "SKIP" and "allowed: no SNP here"
              in v[1], v[:2])
        v = qr.judge_kunit(entry("kvm_snp_missing"), k)
        check(f"{tag}: absent -> FAIL did not run", v[0] == "FAIL" and "did not run" in v[1], v[:2])
        un = qr.kunit_unlisted_failures([entry("kvm_snp_rmp_model")], k)
        check(f"{tag}: unlisted failing suite", un == ["kvm_snp_gmem"], un)
        un = qr.kunit_unlisted_failures([entry("kvm_snp_gmem")], k)
        check(f"{tag}: a listed failing suite is not 'unlisted'", un == [], un)

    # A kernel without KUnit (or with kunit.enable=0): no KTAP at all.
    k = parse("""\
        Linux version 6.1.192+
        Run /init as init process
    """)
    v = qr.judge_kunit(entry("kvm_snp_rmp_model"), k)
    check("no KUnit: FAIL, no KUnit output", v[0] == "FAIL" and "no KUnit output" in v[1], v)
    check("no KUnit: not complete", not qr.kunit_complete(k))

    # KUnit with no suite at all (CONFIG_KUNIT=y, the SNP symbol not there yet).
    k = parse("""\
        KTAP version 1
        1..0
        Run /init as init process
    """)
    v = qr.judge_kunit(entry("kvm_snp_rmp_model"), k)
    check("KUnit, no suites: FAIL, no such suite",
          v[0] == "FAIL" and "KUnit reported no such suite" in v[1], v)
    check("KUnit, no suites: complete", qr.kunit_complete(k))

    # The kernel stopped inside a suite (oops, hang): the suite is named.
    k = parse("""\
        KTAP version 1
        1..2
            KTAP version 1
            # Subtest: kvm_snp_rmp_model
            1..2
            ok 1 rmp_lookup
        BUG: kernel NULL pointer dereference, address: 0000000000000008
    """)
    check("stopped in a suite: running", k["running"] == "kvm_snp_rmp_model", k["running"])
    check("stopped in a suite: not complete", not qr.kunit_complete(k))
    v = qr.judge_kunit(entry("kvm_snp_rmp_model"), k)
    check("stopped in a suite: FAIL did not finish, with its lines",
          v[0] == "FAIL" and "did not finish" in v[1] and any("BUG:" in l for l in v[2]), v)
    v = qr.judge_kunit(entry("kvm_snp_gmem"), k)
    check("stopped in a suite: the next one did not run",
          v[0] == "FAIL" and "KUnit reported no such suite" in v[1], v)

    # suite_init failed: no subtest header, an error and 'not ok'.
    k = parse("""\
        KTAP version 1
        1..1
            # failed to initialize (-12)
        not ok 1 kvm_snp_psc
    """)
    v = qr.judge_kunit(entry("kvm_snp_psc"), k)
    check("suite init failed: FAIL with the error",
          v[0] == "FAIL" and v[1] == " (not ok)" and "failed to initialize" in "\n".join(v[2]), v)

    # A long suite: the first subtest fails, 60 pass after it; the excerpt
    # keeps the assertion of the early failure within KUNIT_SHOW lines.
    body = ["KTAP version 1", "1..1", "    KTAP version 1", "    # Subtest: kvm_snp_psc",
            "    1..61",
            "    # psc_first: ASSERTION FAILED at arch/x86/kvm/svm/snp_test.c:10",
            "    Expected ret == 0, but", "        ret == -22",
            "    not ok 1 psc_first"]
    for n in range(2, 62):
        body += [f"    ok {n} psc_{n}"]
    body += ["# kvm_snp_psc: pass:60 fail:1 skip:0 total:61", "not ok 1 kvm_snp_psc"]
    k = qr.parse_kunit(body)
    v = qr.judge_kunit(entry("kvm_snp_psc"), k)
    check("long suite: FAIL", v[0] == "FAIL" and "psc_first failed" in v[1], v[:2])
    check("long suite: excerpt bounded", len(v[2]) <= qr.KUNIT_SHOW, len(v[2]))
    text = "\n".join(v[2])
    check("long suite: excerpt has the assertion and the result",
          "ASSERTION FAILED" in text and "ret == -22" in text and
          "not ok 1 kvm_snp_psc" in text and "[..." in text, text)

    # A suite reported twice (a second KTAP run): a failure is not hidden.
    k = parse("""\
        KTAP version 1
        1..1
        not ok 1 kvm_snp_gmem
        KTAP version 1
        1..1
        ok 1 kvm_snp_gmem
    """)
    check("reported twice: the failure stays", not k["suites"]["kvm_snp_gmem"]["ok"])

    # The list parser: kunit: entries, with allow-skip, and a bad one.
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as f:
        f.write("kunit:kvm_snp_psc 60  # allow-skip: no firmware\nx86_64/foo_test 120 -x bar\n")
    try:
        ts = qr.parse_list(f.name)
    finally:
        os.unlink(f.name)
    check("parse_list: kunit entry", ts[0]["kunit"] == "kvm_snp_psc" and
          ts[0]["allow_skip"] == "no firmware" and ts[1]["kunit"] is None, ts)


# ------------------------------------------------------------ end to end

FAKE_QEMU = r'''#!/usr/bin/env python3
# Stands in for qemu-system-x86_64: writes the scenario's console (first
# -serial file:) and /init output (second), then exits; 'hang' sleeps.
import os, sys, time
files = [sys.argv[i + 1][len("file:"):] for i, x in enumerate(sys.argv) if x == "-serial"]
scen = os.environ["FAKE_SCENARIO"]
console = open(os.path.join(scen, "console")).read()
output = open(os.path.join(scen, "output")).read()
with open(files[0], "a") as f:
    f.write(console.replace("\n", "\r\n"))
time.sleep(0.6)
with open(files[1], "a") as f:
    for line in output.splitlines(True):
        if line.startswith("SLEEP"):
            f.flush()
            time.sleep(float(line.split()[1]))
            continue
        f.write(line.replace("\n", "\r\n"))
'''

INIT_OUT = """\
### BOOTED 6.1.192+ 2 cpus kvm=yes
### START x86_64/foo_test
SLEEP 0.7
### FOOTPRINT 0 100 0 100
### RESULT 0 x86_64/foo_test
### START x86_64/bar_test -x y
# FAIL: something
### FOOTPRINT 0 100 0 100
### RESULT 1 x86_64/bar_test -x y
### DONE
"""

LIST = """\
# SEV-SNP backend on a software RMP model, run at boot
kunit:kvm_snp_rmp_model 60
kunit:kvm_snp_gmem 60
kunit:kvm_snp_psc 60
x86_64/foo_test 120
kunit:kvm_snp_late 60  # placed after a selftest: reported after it
x86_64/bar_test 120 -x y
"""


def run_scenario(tmp, name, console, output, listing, extra_args=()):
    scen = os.path.join(tmp, name)
    os.makedirs(scen)
    with open(os.path.join(scen, "console"), "w") as f:
        f.write(console)
    with open(os.path.join(scen, "output"), "w") as f:
        f.write(output)
    lst = os.path.join(scen, "list")
    with open(lst, "w") as f:
        f.write(listing)
    env = dict(os.environ, FAKE_SCENARIO=scen, PATH=f"{tmp}/bin:{os.environ['PATH']}",
               ACCEL="tcg", KERNEL_APPEND="")
    env.pop("V", None)
    p = subprocess.run([sys.executable, QEMU_RUN, "--mode", "check", "--list", lst,
                        "--kernel", "/nonexistent", "--initrd", "/nonexistent",
                        "--logdir", os.path.join(scen, "logs"), *extra_args],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120)
    return p.returncode, p.stdout


def verdict_lines(out):
    return [l for l in out.splitlines() if re.match(r"^(PASS|FAIL|SKIP)  ", l)]


def e2e_checks():
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "bin"))
        q = os.path.join(tmp, "bin", "qemu-system-x86_64")
        with open(q, "w") as f:
            f.write(FAKE_QEMU)
        os.chmod(q, os.stat(q).st_mode | stat.S_IXUSR)

        boot = "\n".join(log(BOOT, stamp=True)) + "\n"
        rc, out = run_scenario(tmp, "mixed", boot, INIT_OUT, LIST)
        vl = verdict_lines(out)
        names = [l.split()[1] for l in vl]
        check("e2e mixed: list order", names == ["kunit:kvm_snp_rmp_model", "kunit:kvm_snp_gmem",
                                                 "kunit:kvm_snp_psc", "x86_64/foo_test",
                                                 "kunit:kvm_snp_late", "x86_64/bar_test"], out)
        check("e2e mixed: verdicts",
              [l.split()[0] for l in vl] == ["PASS", "FAIL", "FAIL", "PASS", "FAIL", "FAIL"], out)
        check("e2e mixed: PASS line format",
              "PASS  kunit:kvm_snp_rmp_model  [at boot pass:3 fail:0 skip:0 total:3]" in out, out)
        check("e2e mixed: assertion shown", re.search(
            r"^      \| \[ *[0-9.]+\]     # gmem_prepare: EXPECTATION FAILED", out, re.M), out)
        check("e2e mixed: counts", "2 passed, 4 failed, 0 skipped" in out, out)
        check("e2e mixed: no unlisted ERROR (gmem is listed)", "KUnit suite" not in out, out)
        check("e2e mixed: exit status 1", rc == 1, rc)

        # The same boot, the failing and skipped suites not listed / skip allowed.
        listing = ("kunit:kvm_snp_rmp_model 60\nkunit:kvm_snp_psc 60 # allow-skip: no firmware\n"
                   "x86_64/foo_test 120\nx86_64/bar_test 120 -x y\n")
        rc, out = run_scenario(tmp, "unlisted", boot, INIT_OUT.replace(
            "### RESULT 1 x86_64/bar_test", "### RESULT 0 x86_64/bar_test"), listing)
        vl = verdict_lines(out)
        check("e2e unlisted: verdicts", [l.split()[0] for l in vl] == ["PASS", "SKIP", "PASS",
                                                                      "PASS"], out)
        check("e2e unlisted: ERROR line for kvm_snp_gmem",
              "check: ERROR: KUnit suite kvm_snp_gmem reported not ok" in out, out)
        check("e2e unlisted: counted as a failure", "3 passed, 1 failed, 1 skipped" in out, out)
        check("e2e unlisted: exit status 1", rc == 1, rc)

        # All green.
        green = boot.replace("not ok 2 kvm_snp_gmem", "ok 2 kvm_snp_gmem") \
            .replace("ok 3 kvm_snp_psc # SKIP no SNP firmware model", "ok 3 kvm_snp_psc")
        listing = ("kunit:kvm_snp_rmp_model 60\nkunit:kvm_snp_gmem 60\nkunit:kvm_snp_psc 60\n"
                   "x86_64/foo_test 120\nx86_64/bar_test 120 -x y\n")
        rc, out = run_scenario(tmp, "green", green, INIT_OUT.replace(
            "### RESULT 1 x86_64/bar_test", "### RESULT 0 x86_64/bar_test"), listing)
        check("e2e green: counts and status", "5 passed, 0 failed, 0 skipped" in out and rc == 0,
              out)

        # A kernel without KUnit: the kunit: entries did not run.
        rc, out = run_scenario(tmp, "nokunit", "Linux version 6.1.192+\nRun /init as init process\n",
                               INIT_OUT.replace("### RESULT 1 x86_64/bar_test",
                                                "### RESULT 0 x86_64/bar_test"), listing)
        vl = verdict_lines(out)
        check("e2e no KUnit: kunit entries FAIL 'did not run'",
              [l.split()[0] for l in vl] == ["FAIL", "FAIL", "FAIL", "PASS", "PASS"] and
              out.count("did not run: no KUnit output") == 3, out)
        check("e2e no KUnit: counts", "2 passed, 3 failed, 0 skipped" in out and rc == 1, out)

        # The boot stops inside a KUnit suite: /init never starts.
        stuck = textwrap.dedent("""\
            KTAP version 1
            1..3
                KTAP version 1
                # Subtest: kvm_snp_rmp_model
                1..2
            """)
        rc, out = run_scenario(tmp, "stuck", stuck, "SLEEP 30\n", listing, ["--timeout", "3"])
        check("e2e stuck in a suite: ERROR names it",
              "QEMU did not start /init within 3s (stuck in: kunit:kvm_snp_rmp_model)" in out, out)
        check("e2e stuck in a suite: did not finish / did not run",
              "FAIL  kunit:kvm_snp_rmp_model  [at boot] (did not finish" in out and
              "FAIL  kunit:kvm_snp_gmem  [at boot] (did not run" in out and
              "FAIL  x86_64/foo_test  (did not run to completion)" in out, out)
        check("e2e stuck: counts", "0 passed, 5 failed, 0 skipped" in out and rc == 1, out)


if __name__ == "__main__":
    unit_checks()
    e2e_checks()
    for f in failures:
        print(f"FAIL: {f}\n")
    print(f"{checks - len(failures)} of {checks} checks passed")
    sys.exit(1 if failures else 0)
