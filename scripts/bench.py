#!/usr/bin/env python3
"""make bench: our kernel against Linux 6.12 on the same guest_memfd workloads.

Builds what is missing (our kernel with 'make kernel', the reference 6.12
kernel from Debian's linux-source-6.12 with configs/kvm.config +
configs/bench-6.12.config, the benchmark bench/gmem_bench.c linked with the
6.12 KVM selftest library), packs build/bench/initramfs.cpio.gz (busybox,
bench/init, the benchmark and its plan), then boots the two kernels in turn
under the same QEMU command, BENCH_ROUNDS times (default 3), swapping which
one goes first every round.  Each boot runs every workload once; results
come back on the second serial port.

Prints a table of medians over the rounds, with the spread (min-max) and
the ratio 6.12/ours of times (> 1: ours is faster), and writes it to
build/bench/results.md; raw results go to build/bench/results.json and the
logs of every boot to build/bench/logs/.

Exits non-zero if a boot fails, a workload fails on either kernel, or a
kernel splat appears in a console log.
"""
import hashlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = os.path.join(TOP, "build")
BB = os.path.join(B, "bench")
SRC612 = os.path.join(BB, "linux-6.12")
OUT612 = os.path.join(BB, "out-6.12")
HDR612 = os.path.join(BB, "hdr-6.12")
KVM612 = os.path.join(BB, "kvm-6.12")
LOGS = os.path.join(BB, "logs")
TARBALL = "/usr/src/linux-source-6.12.tar.xz"
FRAGS612 = [os.path.join(TOP, "configs", "kvm.config"),
            os.path.join(TOP, "configs", "bench-6.12.config")]
JOBS = os.environ.get("JOBS", "2")

# Projection limit (seconds) of the workloads that grow with their size: a
# size that the previous one predicts to take longer is not run (see
# bench/gmem_bench.c) and reads '>LIMIT s' in the table.
LIMIT = int(os.environ.get("BENCH_LIMIT", "60"))
FAULT_MIB = 1024
CONVERT_ROUNDS = 1000

# One line per benchmark invocation in each boot: timeout (s), arguments.
PLAN = [
    (600, f"-l {LIMIT} attr 1,16,64"),
    (600, "frag 16"),
    (600, f"fault {FAULT_MIB}"),
    (600, f"convert {CONVERT_ROUNDS}"),
    (900, f"-l {LIMIT} start 4,16,64,128,192"),
]
BOOT_MARGIN = 240

# Table rows: (name, param, label, metric, memory field, unit of the metric).
# metric 'time' shows time_us; 'rate' shows the rate and compares times.
ROWS = [
    ("attr-private", "1G", "1. attributes private, 1 GiB", "time", "kmem_kb"),
    ("attr-shared", "1G", "1. attributes shared, 1 GiB", "time", None),
    ("attr-private", "16G", "1. attributes private, 16 GiB", "time", "kmem_kb"),
    ("attr-shared", "16G", "1. attributes shared, 16 GiB", "time", None),
    ("attr-private", "64G", "1. attributes private, 64 GiB", "time", "kmem_kb"),
    ("attr-shared", "64G", "1. attributes shared, 64 GiB", "time", None),
    ("frag-private", "16G", "1. 16 GiB in 4 KiB pieces: 2M x private", "time", "kmem_kb"),
    ("frag-shared", "16G", "1. 16 GiB in 4 KiB pieces: all shared", "time", None),
    ("fault", f"{FAULT_MIB}M", f"2. private fault-in, {FAULT_MIB} MiB (pages/s)", "rate", "kmem_kb"),
    ("refault", f"{FAULT_MIB}M", f"2. fault-in again after punch (pages/s)", "rate", None),
    ("convert", "2M", "3. 2 MiB shared<->private round trips (/s)", "rate", None),
    ("start", "4G", "4. VM start, 4 GiB private", "time", "kmem_kb"),
    ("start", "16G", "4. VM start, 16 GiB private", "time", "kmem_kb"),
    ("start", "64G", "4. VM start, 64 GiB private", "time", "kmem_kb"),
    ("start", "128G", "4. VM start, 128 GiB private", "time", "kmem_kb"),
    ("start", "192G", "4. VM start, 192 GiB private", "time", "kmem_kb"),
    ("punch", f"{FAULT_MIB}M", f"5. punch hole, {FAULT_MIB} MiB faulted in", "time", None),
    ("teardown", f"{FAULT_MIB}M", f"5. VM teardown, {FAULT_MIB} MiB faulted in", "time", None),
]

SPLAT = re.compile(r"(WARNING:|BUG:|KASAN|UBSAN|kernel BUG|Oops|general protection fault|"
                   r"Call Trace|Kernel panic|possible circular locking|possible recursive locking|"
                   r"inconsistent lock state|suspicious RCU usage|INFO: task .* blocked|"
                   r"DEBUG_LOCKS_WARN_ON|soft lockup|hard LOCKUP)")


def log(msg):
    print(f"bench: {msg}", flush=True)


def run(cmd, **kw):
    env = dict(os.environ)
    env.update(kw.pop("env", {}))
    r = subprocess.run(cmd, env=env, **kw)
    if r.returncode:
        sys.exit(f"bench: ERROR: {' '.join(map(shlex.quote, cmd))} failed ({r.returncode})")
    return r


def clean_make_env(extra=None):
    # The selftests' lib.mk only sets OUTPUT in a top-level make, and our
    # own kernel must be the non-debug one.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    env["DEBUG"] = "0"
    env["JOBS"] = JOBS
    env.update(extra or {})
    return env


# ------------------------------------------------------------------ builds

def our_bzimage_path():
    """Where 'make kernel' puts our bzImage, as the top Makefile says."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", TOP,
                        "--eval", "bench-print-bzimage: ; @echo $(BZIMAGE)",
                        "bench-print-bzimage"],
                       env=clean_make_env(), capture_output=True, text=True)
    path = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ""
    return path or os.path.join(B, "linux", "arch", "x86", "boot", "bzImage")


def build_ours():
    bz = our_bzimage_path()
    if not os.path.exists(bz):
        log("our kernel is not built: make kernel")
        run(["make", "-C", TOP, "kernel"], env=clean_make_env())
        bz = our_bzimage_path()
    if not os.path.exists(bz):
        sys.exit(f"bench: ERROR: no bzImage at {bz} after 'make kernel'")
    dst = os.path.join(BB, "bzImage-ours")
    shutil.copyfile(bz, dst)
    info = {"bzimage": bz, "sha1": sha1(dst)}
    tree = os.path.join(B, "linux")
    r = subprocess.run(["git", "-C", tree, "log", "-1", "--format=%h %s"],
                       capture_output=True, text=True)
    if r.returncode == 0:
        info["head"] = r.stdout.strip()
        d = subprocess.run(["git", "-C", tree, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
        info["dirty"] = bool(d.stdout.strip())
    log(f"ours: {bz} copied to {dst}")
    return dst, info


def sha1(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()[:12]


def extract_612():
    if os.path.exists(os.path.join(SRC612, "Makefile")):
        return
    if not os.path.exists(TARBALL):
        run([os.path.join(TOP, "scripts", "deps.sh"), "linux-source-6.12"])
    # A private, pristine tree: build/linux-6.12 (the upstream selftests of
    # 'make check') has generated headers in it, which an O= kernel build
    # refuses ("source tree is not clean").
    log(f"extracting {TARBALL} to {SRC612}")
    tmp = os.path.join(BB, ".extract")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    run(["tar", "-C", tmp, "-xf", TARBALL])
    shutil.rmtree(SRC612, ignore_errors=True)
    os.rename(os.path.join(tmp, "linux-source-6.12"), SRC612)
    os.rmdir(tmp)


def build_612():
    extract_612()
    bz = os.path.join(OUT612, "arch", "x86", "boot", "bzImage")
    want = hashlib.sha1(b"".join(open(f, "rb").read() for f in FRAGS612)).hexdigest()
    try:
        have = open(os.path.join(OUT612, ".config-fragments")).read().strip()
    except FileNotFoundError:
        have = ""
    if not os.path.exists(bz) or have != want:
        log("building the Linux 6.12 kernel (build/bench/out-6.12)")
        run([os.path.join(TOP, "scripts", "build-kernel.sh")],
            env=clean_make_env({"KSRC": SRC612, "KOUT": OUT612,
                                "EXTRA_FRAGMENTS": FRAGS612[1]}))
    dst = os.path.join(BB, "bzImage-6.12")
    shutil.copyfile(bz, dst)
    return dst, {"bzimage": bz, "sha1": sha1(dst)}


def build_bench():
    if not os.path.exists(os.path.join(HDR612, "include", "linux", "kvm.h")):
        log("installing the 6.12 uAPI headers (build/bench/hdr-6.12)")
        run(["make", "-C", SRC612, "-s", f"O={os.path.join(BB, 'hdr-obj-6.12')}",
             "headers_install", f"INSTALL_HDR_PATH={HDR612}"],
            env=clean_make_env(), stdout=subprocess.DEVNULL)
    kvm = os.path.join(SRC612, "tools", "testing", "selftests", "kvm")
    exe = os.path.join(KVM612, "gmem_bench")
    os.makedirs(KVM612, exist_ok=True)
    run(["make", "-C", kvm, "-f", "Makefile", "-f", os.path.join(TOP, "bench", "bench.mk"),
         "-s", f"-j{JOBS}", f"OUTPUT={KVM612}",
         f"KHDR_INCLUDES=-isystem {os.path.join(HDR612, 'include')}",
         "EXTRA_CFLAGS=-static", exe], env=clean_make_env(), stdout=subprocess.DEVNULL)
    return exe


def busybox():
    bb = "/bin/busybox"
    if not os.path.exists(bb) or subprocess.run(["ldd", bb], capture_output=True).returncode == 0:
        run([os.path.join(TOP, "scripts", "deps.sh"), "busybox-static"])
    if subprocess.run(["ldd", bb], capture_output=True).returncode == 0:
        sys.exit(f"bench: ERROR: {bb} is not statically linked (install busybox-static)")
    return bb


def pack_initramfs(exe):
    root = os.path.join(BB, "initramfs")
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "sbin", "dev", "proc", "sys", "tmp", "bench"):
        os.makedirs(os.path.join(root, d))
    shutil.copy2(busybox(), os.path.join(root, "bin", "busybox"))
    shutil.copy2(os.path.join(TOP, "bench", "init"), os.path.join(root, "init"))
    os.chmod(os.path.join(root, "init"), 0o755)
    shutil.copy2(exe, os.path.join(root, "bench", "gmem_bench"))
    with open(os.path.join(root, "bench", "plan"), "w") as f:
        for tmo, args in PLAN:
            f.write(f"{tmo} {args}\n")
    out = os.path.join(BB, "initramfs.cpio.gz")
    files = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True,
                           check=True).stdout
    files = "\n".join(sorted(files.split(), key=lambda s: s.encode())) + "\n"
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=root,
                          input=files.encode(), capture_output=True, check=True).stdout
    with open(out, "wb") as f:
        f.write(subprocess.run(["gzip", "-1"], input=cpio, capture_output=True,
                               check=True).stdout)
    return out


# ------------------------------------------------------------------- boots

def qemu_cmd(kernel, initrd, console, output):
    accel = os.environ.get("ACCEL", "tcg")
    cpu = "max" if accel == "tcg" else "host"
    return ["qemu-system-x86_64", "-machine", "q35", "-accel", accel, "-cpu", cpu,
            "-smp", "2", "-m", "8G", "-display", "none", "-monitor", "none",
            "-no-reboot", "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 loglevel=6 panic=-1",
            "-serial", f"file:{console}", "-serial", f"file:{output}"]


def parse_kv(fields):
    d = {}
    for f in fields:
        k, sep, v = f.partition("=")
        if sep:
            try:
                d[k] = float(v)
            except ValueError:
                d[k] = v
    return d


def boot(name, kernel, initrd, rnd):
    console = os.path.join(LOGS, f"r{rnd}-{name}-console.log")
    output = os.path.join(LOGS, f"r{rnd}-{name}-output.log")
    for f in (console, output):
        open(f, "w").close()
    limit = sum(t for t, _ in PLAN) + BOOT_MARGIN
    cmd = qemu_cmd(kernel, initrd, console, output)
    start = time.time()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    timed_out = False
    while proc.poll() is None:
        if time.time() - start > limit:
            proc.kill()
            timed_out = True
            break
        time.sleep(1)
    proc.wait()
    wall = time.time() - start

    res = {"kernel": name, "round": rnd, "wall_s": round(wall), "bench": {}, "errors": [],
           "uname": None}
    ended, current = set(), None
    with open(output, errors="replace") as f:
        for line in f.read().replace("\r", "").split("\n"):
            if line.startswith("### BOOTED "):
                res["uname"] = line[len("### BOOTED "):].strip()
            elif line.startswith("### START "):
                current = line[len("### START "):].strip()
            elif line.startswith("### END "):
                rc, _, args = line[len("### END "):].partition(" ")
                ended.add(args.strip())
                if rc != "0":
                    res["errors"].append(f"'gmem_bench {args.strip()}' exited with {rc}"
                                         + (" (killed at its timeout)" if rc == "137" else ""))
                current = None
            elif line.startswith("BENCH "):
                parts = line.split()
                if len(parts) >= 3:
                    res["bench"][(parts[1], parts[2])] = parse_kv(parts[3:])
            elif line.startswith("==== Test Assertion Failure") or "ASSERT" in line:
                res["errors"].append(f"{current}: {line.strip()}")
    if res["uname"] is None:
        res["errors"].append("the kernel did not boot to the benchmark")
    if timed_out:
        res["errors"].append(f"QEMU killed after {limit}s" + (f" (in: {current})" if current else ""))
    for _, args in PLAN:
        if res["uname"] and args not in ended and not timed_out:
            res["errors"].append(f"'gmem_bench {args}' never finished (crash?)")
    with open(console, errors="replace") as f:
        lines = f.read().replace("\r", "").split("\n")
    splats = [i for i, l in enumerate(lines) if SPLAT.search(l)]
    if splats:
        res["errors"].append(f"{len(splats)} kernel splat line(s) in {console}")
        for i in splats[:3]:
            res["errors"].extend("  ! " + l for l in lines[max(0, i - 1):i + 8])
    return res


# ------------------------------------------------------------------ report

def fmt_time(us):
    s = us / 1e6
    if s >= 10:
        return f"{s:.1f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if us >= 1000:
        return f"{us / 1000:.1f} ms"
    return f"{us:.0f} us"


def fmt_rate(r):
    if r >= 1e5:
        return f"{r / 1e3:.0f}k"
    if r >= 1e4:
        return f"{r / 1e3:.1f}k"
    return f"{r:.0f}"


def fmt_kb(kb):
    if kb is None:
        return ""
    if abs(kb) >= 10 * 1024:
        return f"{kb / 1024:.0f} MiB"
    if abs(kb) >= 1024:
        return f"{kb / 1024:.1f} MiB"
    return f"{kb:.0f} KiB"


def summarize(results, kernel, key, metric, memf):
    """Median and spread of one row for one kernel.  A skipped size counts
    as longer than any measurement (it was projected over the limit)."""
    times, rates, mems, skipped, missing = [], [], [], 0, 0
    for r in results:
        if r["kernel"] != kernel:
            continue
        d = r["bench"].get(key)
        if d is None:
            missing += 1
            continue
        if d.get("skipped"):
            skipped += 1
            times.append(float("inf"))
            continue
        times.append(d["time_us"])
        if metric == "rate":
            rates.append(d["rate"])
        if memf and memf in d:
            mems.append(d[memf])
    s = {"n": len(times), "skipped": skipped, "missing": missing}
    if not times:
        return s
    s["median_us"] = statistics.median(times)
    finite = [t for t in times if t != float("inf")]
    s["min_us"] = min(times)
    s["max_us"] = max(times)
    if rates:
        s["rate_median"] = statistics.median(rates)
        s["rate_min"], s["rate_max"] = min(rates), max(rates)
    if mems:
        s["mem_kb"] = statistics.median(mems)
    s["finite"] = bool(finite)
    return s


def cell(s, metric):
    if "median_us" not in s:
        return "n/a"
    if s["median_us"] == float("inf"):
        return f">{LIMIT} s (not run)"
    if metric == "rate":
        txt = f"{fmt_rate(s['rate_median'])} ({fmt_rate(s['rate_min'])}-{fmt_rate(s['rate_max'])})"
    else:
        hi = "" if s["max_us"] != float("inf") else f">{LIMIT} s"
        txt = f"{fmt_time(s['median_us'])} ({fmt_time(s['min_us'])}-{hi or fmt_time(s['max_us'])})"
    return txt


def ratio(o, u):
    """6.12 time / our time (> 1: ours is faster), with its verdict."""
    if "median_us" not in o or "median_us" not in u:
        return "n/a", ""
    ot, ut = o["median_us"], u["median_us"]
    inf = float("inf")
    if ot == inf and ut == inf:
        return "n/a", "both over the limit"
    if ut == inf:
        return f"<{ot / (LIMIT * 1e6):.2g}", "OURS SLOWER"
    if ot == inf:
        return f">{LIMIT * 1e6 / ut:,.0f}", "ours faster"
    q = ut / ot
    q = ot / ut
    if q >= 1.1:
        verdict = "ours faster"
    elif q > 1 / 1.1:
        verdict = "same (within 10%)"
    else:
        verdict = "OURS SLOWER"
    txt = f"{q:,.0f}" if q >= 100 else f"{q:.2f}"
    return txt, verdict


def table(results, rounds, meta):
    hdr = ["workload", "ours: median (min-max)", "6.12: median (min-max)",
           "6.12/ours", "verdict", "kmem ours", "kmem 6.12"]
    rows = []
    for name, param, label, metric, memf in ROWS:
        key = (name, param)
        u = summarize(results, "ours", key, metric, memf)
        o = summarize(results, "6.12", key, metric, memf)
        q, verdict = ratio(o, u)
        rows.append([label, cell(u, metric), cell(o, metric), q, verdict,
                     fmt_kb(u.get("mem_kb")) if memf else "",
                     fmt_kb(o.get("mem_kb")) if memf else ""])
    widths = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]

    def line(r):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    out = [line(hdr), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def main():
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    os.makedirs(LOGS, exist_ok=True)
    t0 = time.time()
    ours, ours_info = build_ours()
    ref, ref_info = build_612()
    exe = build_bench()
    initrd = pack_initramfs(exe)
    log(f"built in {time.time() - t0:.0f}s; {rounds} rounds of 2 boots "
        f"(qemu {' '.join(qemu_cmd('K', 'I', 'C', 'O')[1:16])})")

    kernels = {"ours": ours, "6.12": ref}
    results, errors = [], []
    t_boots = time.time()
    for rnd in range(1, rounds + 1):
        order = ["ours", "6.12"] if rnd % 2 else ["6.12", "ours"]
        for k in order:
            r = boot(k, kernels[k], initrd, rnd)
            results.append(r)
            status = "ok" if not r["errors"] else f"{len(r['errors'])} error(s)"
            log(f"round {rnd}/{rounds} {k:4}: {r['uname'] or 'no boot'}, "
                f"{len(r['bench'])} results, {r['wall_s']}s, {status}")
            for e in r["errors"]:
                log(f"  {k} round {rnd}: {e}")
                errors.append(f"{k} round {rnd}: {e}")
    boots_s = time.time() - t_boots

    with open(os.path.join(BB, "results.json"), "w") as f:
        json.dump([{**r, "bench": {f"{a} {b}": v for (a, b), v in r["bench"].items()}}
                   for r in results], f, indent=1)

    unames = {r["kernel"]: r["uname"] for r in results if r["uname"]}
    tab = table(results, rounds, None)
    head = (f"{rounds} rounds, each booting both kernels (alternating which goes first) "
            f"under `{' '.join(qemu_cmd('bzImage', 'initrd', 'c', 'o')[:16])}`; "
            f"boots took {boots_s / 60:.1f} min.\n"
            f"ours: {unames.get('ours', '?')}"
            + (f" (build/linux {ours_info.get('head', '?')}"
               + (", uncommitted changes" if ours_info.get("dirty") else "") + ")")
            + f"; 6.12: {unames.get('6.12', '?')}.\n")
    print()
    print(head)
    print(tab)
    print()
    print("Times are medians over the rounds (min-max in parentheses); rates are per second.\n"
          "6.12/ours is the ratio of median times: above 1 ours is faster.  kmem is the\n"
          "growth of Slab + VmallocUsed in the guest kernel (median).  '>N s (not run)':\n"
          f"the smaller size projected more than the {LIMIT} s limit for this one.")
    with open(os.path.join(BB, "results.md"), "w") as f:
        f.write(head + "\n" + tab + "\n")
        if errors:
            f.write("\nErrors:\n" + "".join(f"- {e}\n" for e in errors))
    print(f"\nbench: results in {os.path.join(BB, 'results.md')}, raw in results.json, "
          f"logs in {LOGS}; total {(time.time() - t0) / 60:.1f} min")
    if errors:
        print(f"bench: ERROR: {len(errors)} problem(s), see above")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
