#!/usr/bin/env python3
"""make fuzz-compare: the guest_memfd fuzzer on our kernel and on Linux 6.12.

The same statically linked guest_memfd_fuzz_test (built from build/linux's
selftests) runs on both kernels, each boot under scripts/qemu-run.py --mode
check, with the kernels interleaved run by run so that the load of the
machine falls on both alike:

- own-VM phase (-m own): every seed of FUZZ_SEEDS on each kernel under both
  TCG modes.  Its outcome is deterministic: the fuzzer prints a digest per
  thread of the operations it made and of what its model expected.  The
  digests of a seed must be equal on one kernel across TCG modes (else the
  run is not deterministic) and between the kernels ("same"); where 6.12's
  MMIO SPTE rule changes the course of a run, the prefix digests (the
  iterations before) must be; else the first difference is shown.
- shared-VM phase (-m shared, racy, FUZZ_SHARED_ARGS): FUZZ_RUNS runs per
  kernel and TCG mode (tcg, i.e. multi-threaded, and tcg,thread=single),
  seeds taken in turn from FUZZ_SEEDS; every failure is classified by its
  signature (hang without progress, KVM_EXIT_SHUTDOWN, model mismatch,
  kernel splat, other) from the fuzzer's output and the console log.

Our kernel is build/kout's bzImage (built by 'make kernel' if missing),
copied at the start; 6.12 is the bench's build/bench/bzImage-6.12 (built by
scripts/bench.py's build_612() if missing).  Everything goes to
build/fz-compare/: the table to results.md (also printed), raw results to
results.json, each boot's logs to logs/<phase>-<kernel>-<tcg>-<n>/.

Environment: FUZZ_SEEDS ("1 2 3 4 5"), FUZZ_ITERS (2000, own-VM iterations
per thread), FUZZ_RUNS (20), FUZZ_SHARED_ARGS ("-r 1 -x file,slot,attrs"),
FUZZ_ATTR_PAGES (65536, the fuzzer's -A), FUZZ_TIMEOUT (900 s per test),
FUZZ_OUT (build/fz-compare), JOBS (2).  Exits 0 when everything ran,
whatever failed: the table is the result.  --report prints the last table
again (and rewrites results.md).
"""
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

# bench.py and qemu-run.py are loaded as modules: leave no __pycache__.
sys.dont_write_bytecode = True

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = os.path.join(TOP, "build")
# FUZZ_OUT: another directory, to keep the last run's results.
FZ = os.path.abspath(os.environ.get("FUZZ_OUT", os.path.join(B, "fz-compare")))
LOGS = os.path.join(FZ, "logs")
LOCK = os.path.join(B, ".selftests.lock")
FUZZ = "x86_64/guest_memfd_fuzz_test"
OURS_BZ = os.path.join(B, "kout", "arch", "x86", "boot", "bzImage")
REF_BZ = os.path.join(B, "bench", "bzImage-6.12")
# Both TCG modes: several TCG threads (QEMU's default), and one.
ACCELS = [("tcg", "multi-threaded"), ("tcg,thread=single", "single-threaded")]
KERNELS = ["ours", "6.12"]

SEEDS = os.environ.get("FUZZ_SEEDS", "1 2 3 4 5").replace(",", " ").split()
ITERS = int(os.environ.get("FUZZ_ITERS", "2000"))
RUNS = int(os.environ.get("FUZZ_RUNS", "20"))
SHARED_ARGS = os.environ.get("FUZZ_SHARED_ARGS", "-r 1 -x file,slot,attrs")
ATTR_PAGES = int(os.environ.get("FUZZ_ATTR_PAGES", "65536"))
TIMEOUT = int(os.environ.get("FUZZ_TIMEOUT", "900"))
JOBS = os.environ.get("JOBS", "2")

# Signatures, in the order the table lists them; a failure gets the first
# that applies.
SIGS = ["kernel splat", "hang (no progress)", "KVM_EXIT_SHUTDOWN", "model mismatch", "other"]
DIGEST = re.compile(r"^# fuzz: own-VM seed (\S+) thread (\d+) digest (\S+) checked (\d+) "
                    r"iterations (\d+)(.*)$")
RESULTS = re.compile(r"^# fuzz: own-VM seed (\S+) thread (\d+) results: (.*)$")
PREFIX = re.compile(r"^# fuzz: own-VM seed (\S+) thread (\d+) prefix digest (\S+) checked (\d+) "
                    r"iterations (\d+)$")


def log(msg):
    print(f"fuzz-compare: {msg}", flush=True)


def die(msg):
    sys.exit(f"fuzz-compare: ERROR: {msg}")


def run(cmd, **kw):
    r = subprocess.run(cmd, **kw)
    if r.returncode:
        die(f"{' '.join(cmd)} failed ({r.returncode})")
    return r


def sha1(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()[:12]


def clean_env(extra=None):
    # The selftests' lib.mk only sets OUTPUT in a top-level make, and our
    # kernel is the non-debug one.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    env["DEBUG"] = "0"
    env["JOBS"] = JOBS
    env.update(extra or {})
    return env


# ------------------------------------------------------------------ builds

def kernels():
    """Private copies of both bzImages, and what is known of them."""
    if not os.path.exists(OURS_BZ):
        log("our kernel is not built: make kernel")
        run(["make", "-C", TOP, "kernel"], env=clean_env())
    ours = os.path.join(FZ, "bzImage-ours")
    shutil.copyfile(OURS_BZ, ours)
    head = subprocess.run(["git", "-C", os.path.join(B, "linux"), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    info = {"ours": {"bzimage": OURS_BZ, "sha1": sha1(ours), "head": head or "?",
                     "built": time.strftime("%Y-%m-%d %H:%M",
                                            time.localtime(os.path.getmtime(OURS_BZ)))}}
    if not os.path.exists(REF_BZ):
        # The bench knows how to build the reference kernel: reuse it.
        log("no build/bench/bzImage-6.12: building it as 'make bench' does")
        spec = importlib.util.spec_from_file_location("bench", os.path.join(TOP, "scripts",
                                                                             "bench.py"))
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        bench.build_612()
    ref = os.path.join(FZ, "bzImage-6.12")
    shutil.copyfile(REF_BZ, ref)
    info["6.12"] = {"bzimage": REF_BZ, "sha1": sha1(ref)}
    log(f"ours: {OURS_BZ} (built {info['ours']['built']}, build/linux at {head}); "
        f"6.12: {REF_BZ}")
    return {"ours": ours, "6.12": ref}, info


def build_fuzzer():
    """The fuzzer, statically linked, staged in build/fz-compare/tests."""
    lst = os.path.join(FZ, "build.list")
    with open(lst, "w") as f:
        f.write(f"{FUZZ} 60\n")
    stage = os.path.join(FZ, "tests")
    # The selftests build in the shared build/linux tree: one at a time.
    run(["flock", LOCK, os.path.join(TOP, "scripts", "build-selftests.sh")],
        env=clean_env({"TEST_LIST": lst, "STAGE_DIR": stage}), stdout=subprocess.DEVNULL)
    exe = os.path.join(stage, FUZZ)
    src = os.path.join(B, "linux", "tools", "testing", "selftests", "kvm", FUZZ + ".c")
    return {"sha1": sha1(exe), "source_sha1": sha1(src)}


def initramfs(name, entries):
    """An initramfs whose tests/list is @entries: (timeout, args) pairs."""
    lst = os.path.join(FZ, f"{name}.list")
    with open(lst, "w") as f:
        for tmo, args in entries:
            f.write(f"{FUZZ}\t{tmo}\t{args}\n")
    out = os.path.join(FZ, "initramfs", f"{name}.cpio.gz")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    run([os.path.join(TOP, "scripts", "mkinitramfs.sh"), out], stdout=subprocess.DEVNULL,
        env=clean_env({"STAGE_DIR": os.path.join(FZ, "tests"), "TEST_LIST": lst,
                       "ROOT_DIR": os.path.join(FZ, "root")}))
    return lst, out


# ------------------------------------------------------------------- boots

def boot(kernel, bz, accel, lst, initrd, logdir):
    """One boot under qemu-run.py; returns its stdout lines."""
    shutil.rmtree(logdir, ignore_errors=True)
    os.makedirs(logdir)
    cmd = [os.path.join(TOP, "scripts", "qemu-run.py"), "--mode", "check", "--list", lst,
           "--kernel", bz, "--initrd", initrd, "--logdir", logdir, "--accel", accel]
    with open(os.path.join(logdir, "qemu-run.log"), "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait()
        finally:
            # Also when interrupted: never leave a QEMU behind.
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    with open(os.path.join(logdir, "qemu-run.log"), errors="replace") as f:
        return f.read().splitlines()


def entries_of(output):
    """The fuzzer runs of a boot's test output: [(args, rc, lines)]."""
    out, cur = [], None
    with open(output, errors="replace") as f:
        for line in f.read().replace("\r", "").split("\n"):
            if line.startswith("### START "):
                # "### START binary args"
                words = line[len("### START "):].split(None, 1)
                cur = [words[1].strip() if len(words) > 1 else "", None, []]
            elif line.startswith("### RESULT ") and cur:
                cur[1] = int(line.split()[2])
                out.append(tuple(cur))
                cur = None
            elif cur is not None and not line.startswith("###"):
                cur[2].append(line)
    if cur:
        out.append((cur[0], None, cur[2]))
    return out


def splats(console):
    # qemu-run.py's own list of what counts as a splat.
    spec = importlib.util.spec_from_file_location("qemu_run", os.path.join(TOP, "scripts",
                                                                          "qemu-run.py"))
    qr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(qr)
    with open(console, errors="replace") as f:
        lines = f.read().replace("\r", "").split("\n")
    return [l.strip() for l in lines if qr.SPLAT.search(l)]


def classify(rc, lines, verdict, reason, splat):
    """(signature, detail) of a failed run, or (None, "") if it passed."""
    text = "\n".join(lines)
    fail = next((l for l in lines if l.startswith("# FAIL:")), "")
    # The line after '# FAIL:' that says what went wrong.
    i = lines.index(fail) if fail else -1
    what = next((l.strip("# ").strip() for l in lines[i + 1:i + 6]
                 if l.startswith("#   ") and not l.startswith(("#   operation:", "#   call:",
                                                                 "#   thread", "#     "))),
                "") if fail else ""
    if splat:
        return SIGS[0], splat[0][:160]
    if verdict == "PASS":
        return None, ""
    if "no progress for" in fail:
        return SIGS[1], fail.split(": ", 2)[-1][:160]
    if "SHUTDOWN" in text:
        return SIGS[2], (what or fail)[:160]
    if fail:
        return SIGS[3], (what or fail)[:160]
    if rc is None:
        why = "did not finish (boot stopped)"
    elif rc == 137:
        why = "killed at its timeout"
    else:
        # What qemu-run.py said, e.g. "(left behind 8 inodes)".
        m = re.search(r"\(([^()]*)\)$", reason)
        why = m.group(1) if m else f"exit status {rc}"
    last = next((l for l in reversed(lines) if l.strip()), "")
    return SIGS[4], f"{why}: {last[:120]}"


def verdicts(stdout):
    """PASS/FAIL and reason per test line of qemu-run.py, in order."""
    out = []
    for line in stdout:
        m = re.match(r"^(PASS|FAIL|SKIP)  (\S+.*?)  (\(.*\)|\[.*)$", line)
        if m:
            out.append((m.group(1), line))
    return out


def judge(kernel, accel, phase, n, logdir, stdout):
    """The runs of one boot, each with its verdict and signature."""
    entries = entries_of(os.path.join(logdir, "check-output.log"))
    spl = splats(os.path.join(logdir, "check-console.log"))
    vs = verdicts(stdout)
    with open(os.path.join(FZ, f"{phase}.list" if phase == "own" else f"shared-{n}.list")) as f:
        planned = [l.split("\t")[2].strip() for l in f if l.strip()]
    runs = []
    for k, args in enumerate(planned):
        e = entries[k] if k < len(entries) else (args, None, [])
        v = vs[k][0] if k < len(vs) else "FAIL"
        reason = vs[k][1] if k < len(vs) else "no result"
        if "left behind" in reason:
            v = "FAIL"
        sig, detail = classify(e[1], e[2], v, reason, spl)
        r = {"kernel": kernel, "accel": accel, "phase": phase, "boot": n, "args": args,
             "rc": e[1], "passed": sig is None, "sig": sig, "detail": detail,
             "logdir": os.path.relpath(logdir, TOP), "own": {}}
        for line in e[2]:
            m = DIGEST.match(line)
            if m:
                r["own"].setdefault(m.group(2), {}).update(
                    digest=m.group(3), checked=int(m.group(4)), iterations=int(m.group(5)),
                    note=m.group(6).strip())
            m = PREFIX.match(line)
            if m:
                r["own"].setdefault(m.group(2), {})["prefix"] = [m.group(3), int(m.group(4)),
                                                                 int(m.group(5))]
            m = RESULTS.match(line)
            if m:
                r["own"].setdefault(m.group(2), {})["results"] = dict(
                    kv.split("=") for kv in m.group(3).split())
            if line.startswith("# fuzz: kernel "):
                r["rules"] = line[len("# fuzz: kernel "):]
        runs.append(r)
    return runs


# ------------------------------------------------------------------ report

def short(accel):
    return "single" if "single" in accel else "multi"


def own_compare(results):
    """One line per seed: the own-VM outcome of both kernels compared."""
    lines = []
    for seed in SEEDS:
        args = own_args(seed)
        rs = {(r["kernel"], r["accel"]): r for r in results
              if r["phase"] == "own" and r["args"] == args}

        def key(r):
            return {t: (o.get("digest"), o.get("checked"), o.get("iterations"), o.get("note"),
                        str(o.get("prefix"))) for t, o in r["own"].items()}

        notes = []
        # Deterministic: one kernel, both TCG modes, same outcome.
        for k in KERNELS:
            a, b = (rs.get((k, acc)) for acc, _ in ACCELS)
            if a and b and a["passed"] and b["passed"] and key(a) != key(b):
                notes.append(f"NOT DETERMINISTIC on {k} (the TCG modes differ)")
        # Per kernel a run that passed, if any: a failure under one TCG
        # mode is in the table already.
        ref = {k: sorted((rs[(k, acc)] for acc, _ in ACCELS if (k, acc) in rs),
                         key=lambda r: not r["passed"])[:1] for k in KERNELS}
        ref = {k: v[0] if v else None for k, v in ref.items()}
        o, u = ref["ours"], ref["6.12"]
        if not o or not u:
            lines.append(f"seed {seed}: not run on both kernels")
            continue
        ts = sorted(o["own"])
        if o["passed"] and u["passed"] and key(o) == key(u):
            verdict = ("same: " + ", ".join(
                f"thread {t} digest {o['own'][t]['digest']} ({o['own'][t]['checked']:,} checks)"
                for t in ts))
            # Statuses that the rule sets answer differently.
            diff = status_diff(o, u)
            if diff:
                verdict += f"; counts 6.12 minus ours: {diff}"
        elif o["passed"] and u["passed"] and ts and all(parted(o, u, t) for t in ts):
            # Alike until 6.12's MMIO SPTE rule may apply, apart after.
            verdict = ("same up to the first private access through a cached MMIO SPTE, "
                       "then apart as 6.12's rule says: " + "; ".join(
                           f"thread {t} to iteration {o['own'][t]['prefix'][2]} "
                           f"(digest {o['own'][t]['prefix'][0]}, "
                           f"{o['own'][t]['prefix'][1]:,} checks)"
                           + (", then 6.12: " + u['own'][t]['note'].strip('()')
                              .replace("6.12's ", "") if u['own'][t]['note'] else
                              ", then the same")
                           for t in ts))
        else:
            verdict = "DIFFERENT: " + first_difference(o, u)
        lines.append(f"seed {seed}: {verdict}" + ("; " + "; ".join(notes) if notes else ""))
    return lines


def parted(o, u, t):
    """Thread @t ran alike on both kernels, or alike until the iteration
    where 6.12's MMIO SPTE rule may apply and 6.12 took its path there."""
    a, b = o["own"].get(t, {}), u["own"].get(t, {})
    if not a.get("digest") or not b.get("digest"):
        return False
    if (a["digest"], a["checked"], a["iterations"]) == (b["digest"], b["checked"],
                                                      b["iterations"]):
        return True
    m = re.search(r"from iteration (\d+)", b.get("note", ""))
    return bool(a.get("prefix") and a.get("prefix") == b.get("prefix") and m
                and int(m.group(1)) >= a["prefix"][2] and not a.get("note"))


def status_diff(o, u):
    tot = {}
    for t in o["own"]:
        a = o["own"][t].get("results", {})
        b = u["own"].get(t, {}).get("results", {})
        for k in a:
            if k == "huge_mapped":
                continue
            d = int(b.get(k, 0)) - int(a[k])
            if d:
                tot[k] = tot.get(k, 0) + d
    return ", ".join(f"{k} {v:+d}" for k, v in tot.items())


def first_difference(o, u):
    threads = sorted(set(o["own"]) | set(u["own"])) or ["0"]
    # A failed thread stopped the others: it is the one to show.
    failed = [t for t in threads if any("failed" in r["own"].get(t, {}).get("note", "")
                                        for r in (o, u))]
    for t in failed + threads:
        a, b = o["own"].get(t), u["own"].get(t)
        if a == b and o["passed"] and u["passed"]:
            continue
        parts = []
        for k, r, d in (("ours", o, a), ("6.12", u, b)):
            if d and "digest" in d:
                txt = (f"{k} digest {d['digest']}, {d['checked']:,} checks, "
                       f"{d['iterations']} iterations{' ' + d['note'] if d['note'] else ''}")
                if d.get("prefix"):
                    txt += (f", prefix to iteration {d['prefix'][2]} digest {d['prefix'][0]} "
                            f"({d['prefix'][1]:,} checks)")
            else:
                txt = f"{k}: no digest"
            if not r["passed"]:
                txt += f" [{r['sig']}: {r['detail']}]"
            parts.append(txt)
        return f"thread {t}: " + "; ".join(parts)
    return "?"


def table(results, info):
    hdr = ["kernel", "phase", "TCG", "runs", "passed", "failed", "failure signatures"]
    rows = []
    names = {"ours": f"ours ({info.get('ours', {}).get('uname', '6.1')}, "
                     f"{info.get('ours', {}).get('head', '?')})",
             "6.12": f"6.12 ({info.get('6.12', {}).get('uname', '6.12')})"}
    for phase, pname in (("own", "own-VM"), ("shared", "shared-VM")):
        for k in KERNELS:
            for acc, aname in ACCELS:
                rs = [r for r in results if r["phase"] == phase and r["kernel"] == k
                      and r["accel"] == acc]
                if not rs:
                    continue
                sigs = {}
                for r in rs:
                    if r["sig"]:
                        sigs[r["sig"]] = sigs.get(r["sig"], 0) + 1
                sig = ", ".join(f"{s} {sigs[s]}" for s in SIGS if s in sigs)
                npass = sum(r["passed"] for r in rs)
                rows.append([names[k], pname, aname, str(len(rs)), str(npass),
                             str(len(rs) - npass), sig or "-"])
    widths = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]

    def line(r):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(hdr), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [line(r) for r in rows])


def report(results, meta):
    info = meta["kernels"]
    for k in KERNELS:
        u = next((r.get("rules", "") for r in results if r["kernel"] == k and r.get("rules")), "")
        if u:
            info[k]["uname"] = u.split(":")[0]
            info[k]["rules"] = u
    text = (f"make fuzz-compare, {meta['date']}: our kernel (build/linux at "
            f"{info['ours'].get('head', '?')}, bzImage built {info['ours'].get('built', '?')}) "
            f"and Linux {info['6.12'].get('uname', '6.12')}, the same static fuzzer "
            f"(sha1 {meta['fuzzer']['sha1']}), interleaved boots under QEMU/TCG "
            f"(2 vCPUs); {meta['minutes']:.0f} min, host load average "
            f"{meta['load_start']} at the start, {meta['load_end']} at the end.\n"
            f"own-VM: seeds {', '.join(SEEDS)}, `-m own -s SEED -r 1 -i {ITERS} -t 0 "
            f"-A {ATTR_PAGES}`, one boot per kernel and TCG mode.  shared-VM: "
            f"{RUNS} run(s) per kernel and TCG mode, `-m shared -s SEED {SHARED_ARGS} "
            f"-A {ATTR_PAGES}`, one boot per run.\n\n")
    text += table(results, info) + "\n\nOwn-VM phase, exact comparison per seed:\n"
    text += "".join(f"- {line}\n" for line in own_compare(results))
    fails = [r for r in results if not r["passed"]]
    if fails:
        text += "\nFailures:\n"
        for r in fails:
            text += (f"- {r['kernel']} {r['phase']} {short(r['accel'])}-TCG `{r['args']}`: "
                     f"{r['sig']}: {r['detail']} ({r['logdir']})\n")
    for k in KERNELS:
        if info[k].get("rules"):
            text += f"\n{k}: {info[k]['rules']}"
    return text + "\n"


# -------------------------------------------------------------------- main

def own_args(seed):
    return f"-m own -s {seed} -r 1 -i {ITERS} -t 0 -A {ATTR_PAGES}"


def main():
    global SEEDS, ITERS, RUNS, SHARED_ARGS, ATTR_PAGES
    if sys.argv[1:] == ["--report"]:
        # The table of the last run again, with that run's parameters.
        with open(os.path.join(FZ, "results.json")) as f:
            data = json.load(f)
        SEEDS, ITERS, RUNS, SHARED_ARGS, ATTR_PAGES = data["meta"]["params"]
        text = report(data["results"], data["meta"])
        with open(os.path.join(FZ, "results.md"), "w") as f:
            f.write(text)
        print(text, end="")
        return 0
    if sys.argv[1:]:
        sys.exit("usage: scripts/fuzz-compare.py [--report]   (FUZZ_SEEDS, FUZZ_ITERS, "
                 "FUZZ_RUNS, FUZZ_SHARED_ARGS, FUZZ_ATTR_PAGES, FUZZ_TIMEOUT)")
    if not SEEDS or RUNS < 0:
        die("FUZZ_SEEDS names no seed")
    t0 = time.time()
    os.makedirs(FZ, exist_ok=True)
    shutil.rmtree(LOGS, ignore_errors=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_start": round(os.getloadavg()[0], 1),
            "params": [SEEDS, ITERS, RUNS, SHARED_ARGS, ATTR_PAGES]}
    bz, meta["kernels"] = kernels()
    meta["fuzzer"] = build_fuzzer()
    own_list, own_rd = initramfs("own", [(TIMEOUT, own_args(s)) for s in SEEDS])
    shared = {}
    for i in range(RUNS):
        seed = SEEDS[i % len(SEEDS)]
        shared[i] = initramfs(f"shared-{i}", [(TIMEOUT, f"-m shared -s {seed} {SHARED_ARGS} "
                                                        f"-A {ATTR_PAGES}")])
    log(f"built in {time.time() - t0:.0f}s; {2 * len(ACCELS)} own-VM boots of "
        f"{len(SEEDS)} seeds, {2 * len(ACCELS) * RUNS} shared-VM boots")

    results = []

    def one(phase, n, k, acc, lst, rd):
        logdir = os.path.join(LOGS, f"{phase}-{k}-{short(acc)}-{n}")
        t = time.time()
        out = boot(k, bz[k], acc, lst, rd, logdir)
        rs = judge(k, acc, phase, n, logdir, out)
        results.extend(rs)
        for r in rs:
            log(f"{phase} {k:4} {short(acc):6} `{r['args']}`: "
                + ("pass" if r["passed"] else f"FAIL ({r['sig']}: {r['detail']})"))
        log(f"  boot took {time.time() - t:.0f}s")

    # Interleaved: which kernel goes first alternates from boot to boot.
    step = 0
    for acc, _ in ACCELS:
        for k in (KERNELS if step % 2 == 0 else KERNELS[::-1]):
            one("own", 0, k, acc, own_list, own_rd)
        step += 1
    for i in range(RUNS):
        for acc, _ in ACCELS:
            for k in (KERNELS if step % 2 == 0 else KERNELS[::-1]):
                one("shared", i, k, acc, *shared[i])
            step += 1

    meta["minutes"] = (time.time() - t0) / 60
    meta["load_end"] = round(os.getloadavg()[0], 1)
    with open(os.path.join(FZ, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    text = report(results, meta)
    with open(os.path.join(FZ, "results.md"), "w") as f:
        f.write(text)
    print()
    print(text, end="")
    log(f"{os.path.relpath(os.path.join(FZ, 'results.md'), TOP)}, raw results in results.json, "
        f"boot logs in {os.path.relpath(LOGS, TOP)}/")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
