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

Environment: BENCH_ROUNDS (3), BENCH_LIMIT (120 s), BENCH_ONLY (a subset of
the plan: workload numbers and/or invocation names, e.g. "1,6" or
"runs,random"), BENCH_OURS (benchmark this bzImage as ours instead of the
one 'make kernel' builds; nothing is built), JOBS (2).
"""
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
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
# size that the last one measured predicts to take longer is not run (see
# bench/gmem_bench.c) and reads "not run, est. N" in the table.
LIMIT = int(os.environ.get("BENCH_LIMIT", "120"))
FAULT_MIB = 1024
CONVERT_ROUNDS = 2000
RANDOM_IOCTLS = 1048576
MIXFAULT_MIB = 1024
VCPU_COUNTS = [1, 2, 4]
VCPU_MIB = 256
HALVES_ROUNDS = 200
HALVES_MIB = 1024
HUGE_MIB = 1024

# One line per benchmark invocation in each boot: the workloads (README.md's
# numbers) it serves, timeout (s), arguments.  The fragmented updates go
# last: a kernel crash there (ours had one, since fixed) costs no other
# result.
FULL_PLAN = [
    ((1,), 600, f"-l {LIMIT} attr 1,16,64"),
    ((2, 5), 600, f"fault {FAULT_MIB}"),
    ((3,), 600, f"convert {CONVERT_ROUNDS}"),
    ((4,), 900, f"-l {LIMIT} start 4,16,64,128,192"),
    ((6,), 600, f"vcpus {','.join(map(str, VCPU_COUNTS))} {VCPU_MIB}"),
    ((1,), 600, f"mixfault {MIXFAULT_MIB}"),
    ((1,), 600, "runs 16 2"),
    ((1,), 900, f"random 16 {RANDOM_IOCTLS}"),
    ((1,), 900, "frag 16"),
    ((7,), 600, f"halves 4 {HALVES_ROUNDS} inplace"),
    ((7,), 600, f"halves 4 {HALVES_ROUNDS} discard"),
    ((7,), 900, f"halves {HALVES_MIB} 1 inplace"),
    ((7,), 900, f"halves {HALVES_MIB} 1 keep"),
    ((7,), 900, f"halves {HALVES_MIB} 1 discard"),
    ((8,), 600, f"hugefault {HUGE_MIB}"),
    ((8,), 600, f"gigfault {HUGE_MIB}"),
    ((8,), 600, f"hugesplit {HUGE_MIB}"),
]
# Which invocation of the plan produces each result name.
SOURCE = {"attr-private": "attr", "attr-shared": "attr", "fault": "fault", "punch": "fault",
          "refault": "fault", "teardown": "fault", "convert": "convert", "start": "start",
          "frag-private": "frag", "frag-shared": "frag",
          "runs-private": "runs", "runs-shared": "runs", "random": "random",
          "mixfault-setup": "mixfault", "mixfault-alt": "mixfault", "mixfault-private": "mixfault",
          "mixfault-shared": "mixfault", "vcpus": "vcpus", "halves": "halves",
          "hugefault": "hugefault", "hugeteardown": "hugefault",
          "hugeprealloc": "hugefault", "hugeprefault": "hugefault",
          "gigfault": "gigfault", "gigteardown": "gigfault",
          "gigprealloc": "gigfault", "gigprefault": "gigfault",
          "hugesplit-split": "hugesplit", "hugesplit-mixed": "hugesplit",
          "hugesplit-merge": "hugesplit", "hugesplit-remerged": "hugesplit"}
BOOT_MARGIN = 240

# Table rows: (name, param, label, metric, memory field).  Metric 'time'
# shows time_us; 'rate' shows the rate (ratios still compare the times).
ROWS = [
    ("attr-private", "1G", "1. attributes private, 1 GiB", "time", "kmem_kb"),
    ("attr-shared", "1G", "1. attributes shared, 1 GiB", "time", None),
    ("attr-private", "16G", "1. attributes private, 16 GiB", "time", "kmem_kb"),
    ("attr-shared", "16G", "1. attributes shared, 16 GiB", "time", None),
    ("attr-private", "64G", "1. attributes private, 64 GiB", "time", "kmem_kb"),
    ("attr-shared", "64G", "1. attributes shared, 64 GiB", "time", None),
    ("frag-private", "16G", "1. 16 GiB, every other 4 KiB private (2M ioctls)", "time", "kmem_kb"),
    ("frag-shared", "16G", "1. same, then all 16 GiB shared (1 ioctl)", "time", None),
    ("runs-private", "16G", "1. 16 GiB, every other 2 MiB private (4096 ioctls)", "time", "kmem_kb"),
    ("runs-shared", "16G", "1. same, then all 16 GiB shared (1 ioctl)", "time", None),
    ("random", "16G", "1. 16 GiB, 1M random 4 KiB pages private/shared", "time", "kmem_kb"),
    ("mixfault-setup", f"{MIXFAULT_MIB}M",
     f"1. {MIXFAULT_MIB} MiB memslot, every other 4 KiB private ({MIXFAULT_MIB * 128 // 1024}k ioctls)",
     "time", "kmem_kb"),
    ("mixfault-alt", f"{MIXFAULT_MIB}M",
     "1. then fault-in of all of it (pages/s)", "rate", None),
    ("mixfault-private", f"{MIXFAULT_MIB}M",
     "1. same fault-in, all private (pages/s)", "rate", None),
    ("mixfault-shared", f"{MIXFAULT_MIB}M",
     "1. same fault-in, all shared (pages/s)", "rate", None),
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
] + [
    ("halves", "4M-inplace", "7. 2 MiB round trips, in place (/s)", "rate", "used_kb"),
    ("halves", "4M-discard", "7. 2 MiB round trips, two backings, other side freed (/s)",
     "rate", "used_kb"),
    ("halves", f"{HALVES_MIB}M-inplace",
     f"7. {HALVES_MIB // 2} MiB of {HALVES_MIB} MiB converted and back, in place", "time", "used_kb"),
    ("halves", f"{HALVES_MIB}M-keep",
     f"7. same, two backings, nothing freed", "time", "used_kb"),
    ("halves", f"{HALVES_MIB}M-discard",
     f"7. same, two backings, other side freed", "time", "used_kb"),
] + [
    ("hugefault", f"{HUGE_MIB}M",
     f"8. private fault-in, {HUGE_MIB} MiB, largest guest_memfd pages "
     "(ours 2 MiB, 6.12 4 KiB) (pages/s)", "rate", "kmem_kb"),
    ("hugeteardown", f"{HUGE_MIB}M", "8. VM teardown after it", "time", None),
    ("hugeprealloc", f"{HUGE_MIB}M",
     f"8. fallocate() of {HUGE_MIB} MiB of the same guest_memfd (pages/s)", "rate", None),
    ("hugeprefault", f"{HUGE_MIB}M", "8. then private fault-in of it (pages/s)", "rate", None),
    ("gigfault", f"{HUGE_MIB}M",
     f"8. private fault-in, {HUGE_MIB} MiB, ours 1 GiB pages, 6.12 4 KiB (pages/s)",
     "rate", "kmem_kb"),
    ("gigteardown", f"{HUGE_MIB}M", "8. VM teardown after it", "time", None),
    ("gigprealloc", f"{HUGE_MIB}M",
     f"8. fallocate() of {HUGE_MIB} MiB of the same guest_memfd (pages/s)", "rate", None),
    ("gigprefault", f"{HUGE_MIB}M", "8. then private fault-in of it (pages/s)", "rate", None),
    ("hugesplit-split", f"{HUGE_MIB}M",
     f"8. {HUGE_MIB} MiB on 2 MiB pages: share 4 KiB of each (ioctls/s, splits)",
     "rate", "used_kb"),
    ("hugesplit-mixed", f"{HUGE_MIB}M", "8. guest writes it all, mixed (pages/s)",
     "rate", "used_kb"),
    ("hugesplit-merge", f"{HUGE_MIB}M", "8. make the 4 KiB pages private again (ioctls/s)",
     "rate", "used_kb"),
    ("hugesplit-remerged", f"{HUGE_MIB}M", "8. guest writes it all again (pages/s)",
     "rate", "used_kb"),
] + [
    ("vcpus", f"{n}x{VCPU_MIB}M",
     f"6. private fault-in, {n} vCPU{'s' if n > 1 else ''} x {VCPU_MIB} MiB (pages/s, wall)",
     "ratewall", None) for n in VCPU_COUNTS
]


def workload_of(args):
    """'-l 45 attr 1,16' -> 'attr'."""
    words = args.split()
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2
    return words[i] if i < len(words) else args


def selected_plan():
    """The plan, or the part of it that BENCH_ONLY names: workload numbers
    (as in README.md) and/or invocation names ('attr', 'runs', ...)."""
    only = [w.strip() for w in os.environ.get("BENCH_ONLY", "").split(",") if w.strip()]
    if not only:
        return [(tmo, args) for _, tmo, args in FULL_PLAN]
    known = {str(n) for ns, _, _ in FULL_PLAN for n in ns} | {workload_of(a) for _, _, a in FULL_PLAN}
    bad = [w for w in only if w not in known]
    if bad:
        sys.exit(f"bench: ERROR: BENCH_ONLY: unknown {', '.join(bad)} "
                 f"(known: {', '.join(sorted(known))})")
    return [(tmo, args) for ns, tmo, args in FULL_PLAN
            if workload_of(args) in only or any(str(n) in only for n in ns)]


PLAN = selected_plan()

SPLAT = re.compile(r"(WARNING:|BUG:|KASAN|UBSAN|kernel BUG|Oops|general protection fault|"
                   r"Call Trace|Kernel panic|possible circular locking|possible recursive locking|"
                   r"inconsistent lock state|suspicious RCU usage|INFO: task .* blocked|"
                   r"DEBUG_LOCKS_WARN_ON|soft lockup|hard LOCKUP)")


def log(msg):
    print(f"bench: {msg}", flush=True)


def run(cmd, **kw):
    r = subprocess.run(cmd, **kw)
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
    given = os.environ.get("BENCH_OURS")
    if given:
        # A bzImage given as is: nothing is built, and build/linux says
        # nothing about it.
        bz = os.path.abspath(given)
        if not os.path.exists(bz):
            sys.exit(f"bench: ERROR: BENCH_OURS={given}: no such file")
        dst = os.path.join(BB, "bzImage-ours")
        if not os.path.exists(dst) or not os.path.samefile(bz, dst):
            shutil.copyfile(bz, dst)
        info = {"bzimage": bz, "sha1": sha1(dst), "given": True,
                "built": time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(bz)))}
        log(f"ours: {bz} (BENCH_OURS, dated {info['built']}) copied to {dst}")
        return dst, info
    bz = our_bzimage_path()
    if not os.path.exists(bz):
        log("our kernel is not built: make kernel")
        run(["make", "-C", TOP, "kernel"], env=clean_make_env())
        bz = our_bzimage_path()
    if not os.path.exists(bz):
        sys.exit(f"bench: ERROR: no bzImage at {bz} after 'make kernel'")
    dst = os.path.join(BB, "bzImage-ours")
    shutil.copyfile(bz, dst)
    built = os.path.getmtime(bz)
    info = {"bzimage": bz, "sha1": sha1(dst),
            "built": time.strftime("%Y-%m-%d %H:%M", time.localtime(built))}
    tree = os.path.join(B, "linux")
    r = subprocess.run(["git", "-C", tree, "log", "-1", "--format=%h"],
                       capture_output=True, text=True)
    if r.returncode == 0 and r.stdout.strip():
        head = r.stdout.strip()
        info["head"] = head
        d = subprocess.run(["git", "-C", tree, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
        info["dirty"] = bool(d.stdout.strip())
        # Like make: a kernel source file newer than the bzImage means that
        # the tree has changed since (the selftests do not count).
        newer = subprocess.run(
            ["find", tree, "(", "-path", f"{tree}/.git", "-o", "-path", f"{tree}/tools",
             "-o", "-path", f"{tree}/Documentation", "-o", "-path", f"{tree}/samples",
             "-o", "-path", f"{tree}/usr", ")",
             "-prune", "-o", "-type", "f", "(", "-name", "*.[chS]", "-o", "-name", "Kconfig*",
             "-o", "-name", "Makefile*", "-o", "-name", "Kbuild", ")",
             "-newer", bz, "-print", "-quit"], capture_output=True, text=True).stdout.strip()
        if newer:
            log(f"WARNING: {os.path.relpath(newer, tree)} in build/linux is newer than {bz}: "
                "benchmarking the bzImage anyway ('make kernel' first to include the change)")
            info["stale"] = True
    log(f"ours: {bz} (built {info['built']}) copied to {dst}")
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
            # gmem_pool_1g: 1 GiB guest_memfd pages for gigfault (6.12
            # passes the unknown parameter to init, which ignores it).
            "-append", "console=ttyS0 loglevel=6 panic=-1 gmem_pool_1g=1",
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
    """Boot one kernel once; return what its benchmark reported."""
    console = os.path.join(LOGS, f"r{rnd}-{name}-console.log")
    output = os.path.join(LOGS, f"r{rnd}-{name}-output.log")
    for f in (console, output):
        open(f, "w").close()
    limit = sum(t for t, _ in PLAN) + BOOT_MARGIN
    cmd = qemu_cmd(kernel, initrd, console, output)
    start = time.time()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    timed_out = False
    try:
        while proc.poll() is None:
            if time.time() - start > limit:
                timed_out = True
                break
            time.sleep(1)
    finally:
        # Also when interrupted: never leave a QEMU behind.
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    res = {"kernel": name, "round": rnd, "wall_s": round(time.time() - start), "bench": {},
           "failed": {}, "errors": [], "uname": None, "crash": None}
    ended, current, asserts = set(), None, {}
    with open(output, errors="replace") as f:
        for line in f.read().replace("\r", "").split("\n"):
            if line.startswith("### BOOTED "):
                res["uname"] = line[len("### BOOTED "):].split()[0]
            elif line.startswith("### START "):
                current = line[len("### START "):].strip()
            elif line.startswith("### END "):
                rc, _, args = line[len("### END "):].partition(" ")
                args = args.strip()
                ended.add(args)
                if rc != "0":
                    why = ("killed at its timeout" if rc == "137" else f"exit status {rc}")
                    if args in asserts:
                        why += ": " + asserts[args]
                    res["failed"][workload_of(args)] = why
                current = None
            elif line.startswith("BENCH "):
                parts = line.split()
                if len(parts) >= 3:
                    res["bench"][(parts[1], parts[2])] = parse_kv(parts[3:])
            elif current and current not in asserts and (
                    "Assertion Failure" in line or "ASSERT" in line or "failed" in line):
                asserts[current] = line.strip()

    with open(console, errors="replace") as f:
        lines = f.read().replace("\r", "").split("\n")
    splats = [i for i, l in enumerate(lines) if SPLAT.search(l)]
    if splats:
        first = lines[splats[0]].strip()
        rip = next((l.strip() for l in lines[splats[0]:] if l.strip().startswith("RIP:")), "")
        res["crash"] = first + (f" ({rip.split()[-1]})" if rip else "")
        res["errors"].append(f"kernel splat: {res['crash']}; see {console}")

    if res["uname"] is None:
        res["errors"].append("the kernel did not boot to the benchmark")
    elif timed_out:
        res["errors"].append(f"QEMU killed after {limit}s" + (f" (in: {current})" if current else ""))
    for _, args in PLAN:
        if res["uname"] is None or args in ended:
            continue
        w = workload_of(args)
        if current == args and res["crash"]:
            res["failed"][w] = f"kernel crash: {res['crash']}"
        elif current == args and timed_out:
            res["failed"][w] = "QEMU time limit"
        else:
            res["failed"][w] = "not run (an earlier workload stopped the boot)"
    for w, why in res["failed"].items():
        res["errors"].append(f"{w}: {why}")
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
    if abs(kb) < 4:
        return "~0"
    if abs(kb) >= 10 * 1024:
        return f"{kb / 1024:.0f} MiB"
    if abs(kb) >= 1024:
        return f"{kb / 1024:.1f} MiB"
    return f"{kb:.0f} KiB"


INF = float("inf")


def summarize(results, kernel, key, metric, memf):
    """One row for one kernel over the rounds: median and spread of the
    time (a size not run because it was projected over the limit counts as
    longer than anything measured), of the rate, of the memory."""
    times, rates, mems, projected, failed = [], [], [], [], []
    unsupported = False
    for r in results:
        if r["kernel"] != kernel:
            continue
        d = r["bench"].get(key)
        if d is None:
            failed.append(r["failed"].get(SOURCE.get(key[0]), "no result"))
            continue
        if d.get("unsupported"):
            unsupported = True
            continue
        if d.get("skipped"):
            times.append(INF)
            projected.append(d.get("projected_s", 0))
            continue
        times.append(d["time_us"])
        if metric in ("rate", "ratewall"):
            rates.append(d["rate"])
        if memf and memf in d:
            mems.append(d[memf])
    s = {"times": times, "failed": failed, "projected": projected,
         "unsupported": unsupported and not times}
    if times:
        s["median_us"] = statistics.median(times)
        s["min_us"], s["max_us"] = min(times), max(times)
    if rates:
        s["rate_median"] = statistics.median(rates)
        s["rate_min"], s["rate_max"] = min(rates), max(rates)
    if mems:
        s["mem_kb"] = statistics.median(mems)
    return s


def estimate(s):
    """Projected time (us) of a row that was not run."""
    return statistics.median(s["projected"]) * 1e6 if s["projected"] else INF


def cell(s, metric):
    if s.get("unsupported"):
        return "n/a (not in 6.12)"
    if "median_us" not in s:
        why = s["failed"][0] if s["failed"] else "no result"
        if why.startswith("kernel crash"):
            why = "kernel crash"
        return f"FAILED ({why})"
    if s["median_us"] == INF:
        txt = f"not run, est. {fmt_time(estimate(s))}"
    elif metric in ("rate", "ratewall"):
        txt = (f"{fmt_rate(s['rate_median'])} "
               f"({fmt_rate(s['rate_min'])}-{fmt_rate(s['rate_max'])})")
        if metric == "ratewall":
            txt += f", {fmt_time(s['median_us'])}"
    else:
        hi = f">{LIMIT} s" if s["max_us"] == INF else fmt_time(s["max_us"])
        txt = f"{fmt_time(s['median_us'])} ({fmt_time(s['min_us'])}-{hi})"
    n = len(s["times"])
    if s["failed"]:
        txt += f" [{len(s['failed'])} of {n + len(s['failed'])} failed]"
    return txt


def ratio(o, u):
    """6.12 time / our time (above 1: ours is faster) and its verdict."""
    if o.get("unsupported") or u.get("unsupported"):
        return "n/a", "6.12 has no such guest_memfd"
    if "median_us" not in o or "median_us" not in u:
        return "n/a", "FAILED on ours" if "median_us" not in u else "failed on 6.12"
    ot, ut = o["median_us"], u["median_us"]
    if ot == INF and ut == INF:
        return "n/a", "not run on either"
    if ot == INF or ut == INF:
        # Not run: compare with the projection, marked as such.
        q = (estimate(o) if ot == INF else ot) / (estimate(u) if ut == INF else ut)
        return "~" + (f"{q:,.0f}" if q >= 100 else f"{q:.2f}"), \
            ("ours faster" if q >= 1 else "OURS SLOWER") + " (projected)"
    q = ot / ut
    if q >= 1.1:
        verdict = "ours faster"
    elif q > 1 / 1.1:
        verdict = "same (within 10%)"
    else:
        verdict = "OURS SLOWER"
    if q >= 1.1 or q <= 1 / 1.1:
        # With the ranges of the two kernels overlapping, a difference of
        # the medians may be noise.
        if o["min_us"] <= u["max_us"] and u["min_us"] <= o["max_us"]:
            verdict += " (ranges overlap)"
    return (f"{q:,.0f}" if q >= 100 else f"{q:.2f}"), verdict


def planned_rows(plan):
    """The rows of ROWS that the invocations of @plan produce."""
    words = {workload_of(args) for _, args in plan}
    return [r for r in ROWS if SOURCE.get(r[0]) in words]


def table(results, plan):
    hdr = ["workload", "ours: median (min-max)", "6.12: median (min-max)",
           "6.12/ours", "verdict", "kmem ours", "kmem 6.12"]
    rows = []
    for name, param, label, metric, memf in planned_rows(plan):
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


def scaling(results, plan):
    """Workload 6: each kernel's aggregate rate with N vCPUs over its rate
    with one (medians), for the fault-in and for the control (the same
    pages written again, without faults); "" if workload 6 was not run."""
    if not any(workload_of(a) == "vcpus" for _, a in plan) or len(VCPU_COUNTS) < 2:
        return ""

    def speedups(field):
        parts = []
        for k in ("ours", "6.12"):
            med = {}
            for n in VCPU_COUNTS:
                vals = [r["bench"][("vcpus", f"{n}x{VCPU_MIB}M")][field] for r in results
                        if r["kernel"] == k and field in
                        r["bench"].get(("vcpus", f"{n}x{VCPU_MIB}M"), {})]
                if vals:
                    med[n] = statistics.median(vals)
            base = med.get(VCPU_COUNTS[0])
            if base:
                parts.append(f"{k} " + ", ".join(f"{n} vCPUs x{med[n] / base:.2f}"
                                                 for n in VCPU_COUNTS[1:] if n in med))
        return "; ".join(parts) if parts else "no results"

    return (f"6. aggregate rate against {VCPU_COUNTS[0]} vCPU (medians; QEMU's VM has 2 "
            f"CPUs): fault-in: {speedups('rate')}.  Control, the same pages written "
            f"again without faults: {speedups('rewrite_rate')}.\n\n")


def huge_faults(results, plan):
    """Workload 8: the page faults KVM took (pf_taken) and the 2 MiB
    mappings it made in each step, medians per kernel; "" if not run."""
    if not any(workload_of(a) in ("hugefault", "gigfault", "hugesplit") for _, a in plan):
        return ""
    parts = []
    for name in ("hugefault", "hugeprefault", "gigfault", "gigprefault", "hugesplit-split",
                 "hugesplit-mixed", "hugesplit-merge", "hugesplit-remerged"):
        key = (name, f"{HUGE_MIB}M")
        for k in ("ours", "6.12"):
            ds = [r["bench"][key] for r in results if r["kernel"] == k and key in r["bench"]
                  and "faults" in r["bench"][key]]
            if ds:
                f = statistics.median(d["faults"] for d in ds)
                m = statistics.median(d.get("pages_2m", 0) for d in ds)
                g = statistics.median(d.get("pages_1g", 0) for d in ds)
                parts.append(f"{name} {k}: {f:,.0f} faults, {m:,.0f} 2 MiB mappings"
                             + (f", {g:,.0f} 1 GiB" if g else ""))
    return ("8. faults taken and 2 MiB (1 GiB) mappings after each step (medians): "
            + "; ".join(parts) + ".\n\n") if parts else ""


LEGEND = f"""\
Medians over the rounds, (min-max) over the rounds; rates are per second
(", T": followed by the median wall time T).
6.12/ours: ratio of the median times, above 1 ours is faster; within 10%
the verdict reads "same", and "(ranges overlap)" flags a difference that
the spread of the rounds does not support.  kmem: growth of Slab +
VmallocUsed in the guest kernel (page granular; ~0: under 4 KiB).
"not run, est. N": the previous size of the same workload projected more
than {LIMIT} s for this size, so it was not started (an attributes ioctl
cannot be interrupted); N is the projection for this step, and the ratio
marked ~ compares with it."""


def report(results, meta):
    unames = {r["kernel"]: r["uname"] for r in results if r["uname"]}
    rounds = max(r["round"] for r in results)
    ours = meta.get("ours", {})
    head = (f"{rounds} round(s), each booting both kernels, alternating which goes first, "
            f"under `{meta.get('qemu', '').removesuffix(' -kernel')}`; "
            f"the boots took {meta.get('boots_s', 0) / 60:.1f} min.\n"
            f"ours: {unames.get('ours', '?')}"
            + (f", bzImage {ours.get('bzimage', '?')} given by BENCH_OURS, "
               f"dated {ours.get('built', '?')}" if ours.get("given") else
               f", bzImage built {ours.get('built', '?')}")
            + (f" (build/linux at {ours['head']}"
               + (", which has uncommitted changes" if ours.get("dirty") else "")
               + (", newer than the bzImage" if ours.get("stale") else "") + ")"
               if ours.get("head") else "")
            + f"; reference: {unames.get('6.12', '?')}; host load average "
            f"{meta.get('load', '?')} at the start.\n")
    if "plan" in meta:
        plan = [tuple(p) for p in meta["plan"]]
    else:
        # Results of a run before the plan was recorded: what they hold.
        have = {SOURCE.get(n) for r in results for n, _ in r["bench"]}
        have |= {w for r in results for w in r["failed"]}
        plan = [(t, a) for _, t, a in FULL_PLAN if workload_of(a) in have]
    if meta.get("only"):
        head += (f"BENCH_ONLY={meta['only']}: only "
                 + ", ".join(f"`{a}`" for _, a in plan) + ".\n")
    errors = [f"{r['kernel']} round {r['round']}: {e}" for r in results for e in r["errors"]]
    text = (head + "\n" + table(results, plan) + "\n\n" + scaling(results, plan)
            + huge_faults(results, plan))
    text += LEGEND + "\n"
    if errors:
        text += "\nProblems:\n" + "".join(f"- {e}\n" for e in errors)
    return text, errors


def load_results(path):
    with open(path) as f:
        data = json.load(f)
    for r in data["results"]:
        r["bench"] = {tuple(k.split(" ", 1)): v for k, v in r["bench"].items()}
    return data["results"], data["meta"]


def save_results(path, results, meta):
    with open(path, "w") as f:
        json.dump({"meta": meta, "results": [
            {**r, "bench": {f"{a} {b}": v for (a, b), v in r["bench"].items()}}
            for r in results]}, f, indent=1)


def main():
    if sys.argv[1:] == ["--report"]:
        # Print the table of the last run again (build/bench/results.json).
        results, meta = load_results(os.path.join(BB, "results.json"))
        text, errors = report(results, meta)
        print(text, end="")
        return 1 if errors else 0
    if sys.argv[1:]:
        sys.exit("usage: scripts/bench.py [--report]   (BENCH_ROUNDS=3 BENCH_LIMIT=120 "
                 "BENCH_ONLY=1,6 BENCH_OURS=bzImage JOBS=2)")

    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    os.makedirs(LOGS, exist_ok=True)
    t0 = time.time()
    meta = {"load": os.getloadavg()[0].__round__(1), "plan": PLAN,
            "only": os.environ.get("BENCH_ONLY", "")}
    ours, meta["ours"] = build_ours()
    ref, meta["6.12"] = build_612()
    exe = build_bench()
    initrd = pack_initramfs(exe)
    meta["qemu"] = " ".join(qemu_cmd("bzImage", "initramfs", "c", "o")[:16]) + " ..."
    log(f"built in {time.time() - t0:.0f}s; {rounds} round(s) of two boots, "
        f"each up to {(sum(t for t, _ in PLAN) + BOOT_MARGIN) // 60} min")

    kernels = {"ours": ours, "6.12": ref}
    results = []
    t_boots = time.time()
    for rnd in range(1, rounds + 1):
        for k in (["ours", "6.12"] if rnd % 2 else ["6.12", "ours"]):
            r = boot(k, kernels[k], initrd, rnd)
            results.append(r)
            log(f"round {rnd}/{rounds} {k:4}: {r['uname'] or 'no boot'}, "
                f"{len(r['bench'])} results in {r['wall_s']}s"
                + (f", {len(r['errors'])} problem(s)" if r["errors"] else ""))
            for e in r["errors"]:
                log(f"  {e}")
    meta["boots_s"] = time.time() - t_boots
    save_results(os.path.join(BB, "results.json"), results, meta)

    text, errors = report(results, meta)
    with open(os.path.join(BB, "results.md"), "w") as f:
        f.write(text)
    print()
    print(text)
    print(f"bench: {os.path.join(BB, 'results.md')}, raw results in results.json, "
          f"boot logs in {LOGS}; total {(time.time() - t0) / 60:.1f} min")
    if errors:
        print(f"bench: FAILED: {len(errors)} problem(s) listed above")
        return 1
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
