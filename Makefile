# guest_memfd for Linux 6.1: build, boot and test the patch series.
# See README.md.  Everything generated lives under build/.

SHELL := /bin/bash
TOP := $(CURDIR)
B := $(TOP)/build
K := $(B)/linux
# The kernel is built out of tree; DEBUG=1 builds and boots a second one.
ifeq ($(DEBUG),1)
KOUT := $(B)/kout-debug
else
KOUT := $(B)/kout
endif
BZIMAGE := $(KOUT)/arch/x86/boot/bzImage
# QEMU 7.2's multi-threaded TCG sometimes resumes a nested guest with its
# host's registers (RIP just after the host's VMRUN, the host's CR3) while
# another vCPU invalidates the guest's memory: see README.md, "Reliability".
# The racy runs (DEBUG=1 and check-stress) therefore use one TCG thread,
# unless ACCEL is given.
SINGLE_TCG := tcg,thread=single
ifeq ($(DEBUG),1)
ACCEL ?= $(SINGLE_TCG)
endif
ACCEL ?= tcg
DEBUG ?= 0
export ACCEL DEBUG

LOGDIR := $(B)/logs

.PHONY: FORCE all deps tree tree-lenient export kernel selftests initramfs check check-upstream check-stress soak run guest bench \
	fuzz-compare lint checkpatch w1 w1-sev bisect clean distclean help

all: check

# The steps of check/run depend on each other's output: never run them in parallel.
.NOTPARALLEL:

help:
	@echo "make run            build and boot the patched kernel, run the demonstration and"
	@echo "                    boot a Linux guest from all-private memory (examples/gmem_boot.c)"
	@echo "make check          build everything and run tests/list under QEMU (CI runs this)"
	@echo "make check-upstream run only the upstream (Linux 6.12) conformance tests"
	@echo "make check-stress   run the stress tests of tests/stress.list"
	@echo "make soak           the fuzzer, both phases, 4 threads, SOAK_SECONDS (1800) on the"
	@echo "                    debug kernel, then leaks checked (not in CI)"
	@echo "make tree           extract the base kernel to build/linux and apply patches/"
	@echo "make export         write build/linux base..HEAD back to patches/"
	@echo "make kernel         build the test kernel (build/kout, DEBUG=1: build/kout-debug)"
	@echo "make selftests      build the listed selftests and the demo, statically"
	@echo "make bench          our kernel against Linux 6.12 on guest_memfd workloads (BENCH_ROUNDS=3)"
	@echo "make fuzz-compare   the fuzzer on our kernel and on Linux 6.12: same seeds, both TCG"
	@echo "                    modes, failures by signature (FUZZ_SEEDS FUZZ_RUNS; not in CI)"
	@echo "make lint           checkpatch --strict, W=1 build (also with SEV on: make w1-sev),"
	@echo "                    bisect build of every patch"
	@echo "make deps           install the Debian packages all of this needs"
	@echo "Variables: ACCEL=tcg|kvm  DEBUG=1  BASE_TARBALL=path  FORCE=1 (make tree)"

deps:
	@scripts/deps.sh

# The tree is (re)made from patches/ whenever it is missing; 'make tree'
# also re-applies after a change to patches/.
$(K)/.git:
	@scripts/tree.sh

tree:
	@scripts/tree.sh

export:
	@scripts/export.sh

kernel: $(K)/.git
	@scripts/build-kernel.sh

# What 'make check' runs: tests/list, or with DEBUG=1 the lists in
# DEBUG_LISTS (tests/list and tests/stress.list unless given; CI gives
# tests/ci-debug.list) with every timeout multiplied by DEBUG_SLOWDOWN,
# since KASAN and lockdep slow the kernel down.
DEBUG_SLOWDOWN ?= 4
DEBUG_LISTS ?= $(TOP)/tests/list $(TOP)/tests/stress.list
ifeq ($(DEBUG),1)
CHECK_LIST := $(B)/debug.list
else
CHECK_LIST := $(TOP)/tests/list
endif

# Remade every time: DEBUG_LISTS may differ from the last run's.
$(B)/debug.list: $(DEBUG_LISTS) FORCE
	@mkdir -p $(B)
	@sed -e 's/#.*//' $(DEBUG_LISTS) | awk -v k=$(DEBUG_SLOWDOWN) \
		'NF { $$2 = $$2 * k; print }' > $@

FORCE:

selftests: $(K)/.git $(if $(filter 1,$(DEBUG)),$(B)/debug.list)
	@flock $(B)/.selftests.lock env TEST_LIST=$(CHECK_LIST) scripts/build-selftests.sh

initramfs: selftests guest
	@GUEST_DIR=$(B)/guest TEST_LIST=$(CHECK_LIST) scripts/mkinitramfs.sh

# One 1 GiB hugetlb page for private_mem_test's huge_pages_1g, and one block
# of guest_memfd's 1 GiB pool for guest_memfd_huge_test's gig_* subtests:
# a free gigabyte is certain only at boot.  cgroup.memory=nokmem: memory
# cgroups charge page cache (guest_memfd's pages, guest_memfd_memcg_test)
# but no kernel memory, whose per-slab bookkeeping allocations would shift
# the failure points that memory_attributes_test's fail-nth sweep counts.
KERNEL_APPEND ?= hugepagesz=1G hugepages=1 gmem_pool_1g=1 cgroup.memory=nokmem
# The debug kernel boots with 4-level paging (no5lvl).  On 6.1 with KASAN
# and 5-level paging, an interrupt that lands while identify_cpu() has
# cleared the CPU's capabilities sees pgtable_l5_enabled() false, so KASAN
# takes every direct-map address for a wild access (seen once in CI, in a
# spinlock of the timer interrupt during start_kernel(), long before any
# KVM code runs).  4-level paging has no such window.
ifeq ($(DEBUG),1)
KERNEL_APPEND += no5lvl
endif
export KERNEL_APPEND

define boot
	@scripts/qemu-run.py --mode $(1) --list $(2) --kernel $(BZIMAGE) \
		--initrd $(B)/initramfs.cpio.gz --logdir $(LOGDIR)
endef

# check and run use build/linux as it is when it holds unexported work.
tree-lenient:
	@TREE_LENIENT=1 scripts/tree.sh

check: deps tree-lenient kernel initramfs
	$(call boot,check,$(CHECK_LIST))

check-upstream: deps tree-lenient kernel
	@grep -E '^upstream/' tests/list > $(B)/upstream.list || \
		{ echo "check-upstream: tests/list names no upstream tests"; exit 1; }
	@TEST_LIST=$(B)/upstream.list scripts/build-selftests.sh
	@TEST_LIST=$(B)/upstream.list scripts/mkinitramfs.sh
	$(call boot,check,$(B)/upstream.list)

check-stress: ACCEL := $(if $(filter command line environment,$(origin ACCEL)),$(ACCEL),$(SINGLE_TCG))
check-stress: deps tree-lenient kernel
	@TEST_LIST=$(TOP)/tests/stress.list scripts/build-selftests.sh
	@TEST_LIST=$(TOP)/tests/stress.list scripts/mkinitramfs.sh
	$(call boot,check,$(TOP)/tests/stress.list)

# The fuzzer's two phases with 4 threads for SOAK_SECONDS on the debug
# kernel, one TCG thread (the shared-VM phase races: see check-stress), as
# many rounds as fit; then /init's leak checks (unevictable memory, inodes)
# and kmemleak, as in make check DEBUG=1.  Not in CI: it takes half an hour.
# 200 rounds are more than fit (a round takes minutes), and bound the SKIP
# lines the fuzzer prints for the rounds left when the time is up.
SOAK_SECONDS ?= 1800
soak: deps tree-lenient
	@$(MAKE) --no-print-directory DEBUG=1 kernel
	@printf 'x86_64/guest_memfd_fuzz_test\t%d\t-n 4 -r 200 -t %d\n' \
		$$(( $(SOAK_SECONDS) + 900 )) $(SOAK_SECONDS) > $(B)/soak.list
	@flock $(B)/.selftests.lock env TEST_LIST=$(B)/soak.list STAGE_DIR=$(B)/tests-soak \
		scripts/build-selftests.sh
	@TEST_LIST=$(B)/soak.list STAGE_DIR=$(B)/tests-soak ROOT_DIR=$(B)/initramfs-soak \
		scripts/mkinitramfs.sh $(B)/initramfs-soak.cpio.gz
	@ACCEL=$(if $(filter command line environment,$(origin ACCEL)),$(ACCEL),$(SINGLE_TCG)) \
		scripts/qemu-run.py --mode check --list $(B)/soak.list \
		--kernel $(B)/kout-debug/arch/x86/boot/bzImage \
		--initrd $(B)/initramfs-soak.cpio.gz --logdir $(B)/logs-soak

# The demo, then a Linux guest booted from all-private memory by
# examples/gmem_boot.c (scripts/build-guest.sh builds both into build/guest;
# make check boots it too, as the guest/gmem_boot entry of tests/list).
run: deps tree-lenient kernel initramfs
	$(call boot,run,$(TOP)/tests/list)

guest: $(K)/.git
	@scripts/build-guest.sh

# Boots our kernel and Linux 6.12 in turn on the same benchmark; builds only
# what is missing (README.md, "Benchmarks").
bench: deps
	@JOBS=$${JOBS:-2} scripts/bench.py

# The fuzzer on our kernel (build/kout; 'make kernel' if missing) and on
# the bench's Linux 6.12: the same seeds, both TCG modes, boots interleaved;
# the table goes to build/fz-compare/results.md (README.md, "Shared-VM
# failures").  Not in CI: about 25 minutes with these defaults.
FUZZ_SEEDS ?= 1 2 3 4 5
FUZZ_RUNS ?= 20
FUZZ_ITERS ?= 2000
export FUZZ_SEEDS FUZZ_RUNS FUZZ_ITERS
fuzz-compare: deps
	@JOBS=$${JOBS:-2} scripts/fuzz-compare.py

lint: deps tree
	@scripts/lint.sh

checkpatch w1 w1-sev bisect: deps tree
	@scripts/lint.sh $@

clean:
	rm -rf $(B)/tests $(B)/initramfs $(B)/initramfs.cpio.gz $(LOGDIR)
	rm -rf $(B)/kout $(B)/kout-debug

distclean:
	rm -rf $(B)
