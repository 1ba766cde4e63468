// SPDX-License-Identifier: GPL-2.0-only
/*
 * gmem_bench: the workloads of 'make bench' (see README.md, "Benchmarks").
 *
 * Written against the upstream (Linux 6.12) KVM uAPI and linked with the
 * 6.12 KVM selftest library, so that the very same binary runs on our 6.1
 * kernel and on the reference 6.12 kernel.  Every VM is a
 * KVM_X86_SW_PROTECTED_VM.
 *
 * One invocation runs one workload and prints one line per measurement:
 *
 *	BENCH <name> <param> key=value ...
 *
 * Times are in microseconds (CLOCK_MONOTONIC), memory in KiB.  kmem_kb is
 * the growth of Slab + VmallocUsed in /proc/meminfo (the kernel's own
 * metadata: attribute trees, memslot arrays, MMU page headers), used_kb the
 * growth of MemTotal - MemFree (everything, guest pages included).
 *
 * A case whose cost grows with its size is run in increasing sizes; when
 * the last size measured predicts, linearly, that a case would take longer
 * than the limit (-l, seconds) as a whole, that size is not run, because an
 * ioctl that has started cannot be interrupted.  Each of its steps is then
 * reported with its own projection:
 *
 *	BENCH <name> <param> skipped=1 limit_s=<limit> projected_s=<estimate>
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/kvm.h>
#include <linux/kvm_para.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define KIB		1024ULL
#define MIB		(1024 * KIB)
#define GIB		(1024 * MIB)
#define PG		4096ULL

/* Guest physical layout: the library's slot 0 sits low; ours start here. */
#define DATA_GPA	(4 * GIB)
#define DATA_SLOT	1

/*
 * In-place conversion (workload 7), with the numbers of the unmerged
 * upstream series "guest_memfd: In-place conversion support" (v8), which
 * 6.12's headers do not have.  6.12 answers the ioctl with ENOTTY.
 */
#ifndef KVM_SET_MEMORY_ATTRIBUTES2
#define KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES	250
#define KVM_SET_MEMORY_ATTRIBUTES2	_IOWR(KVMIO, 0xd2, struct kvm_memory_attributes2)
struct kvm_memory_attributes2 {
	__u64 offset;
	__u64 size;
	__u64 attributes;
	__u64 flags;
	__u64 error_offset;
	__u64 reserved[11];
};
#endif
#ifndef GUEST_MEMFD_FLAG_MMAP
#define GUEST_MEMFD_FLAG_MMAP		(1ULL << 0)
#endif
#ifndef GUEST_MEMFD_FLAG_HUGETLB
#define KVM_CAP_GUEST_MEMFD_FLAGS	244
#define GUEST_MEMFD_FLAG_HUGETLB	(1ULL << 2)
#define GUESTMEM_HUGETLB_FLAG_2MB	(21ULL << 58)
#endif
#ifndef GUESTMEM_HUGETLB_FLAG_1GB
#define GUESTMEM_HUGETLB_FLAG_1GB	(30ULL << 58)
#endif
#define IN_PLACE_PARAM	"/sys/module/kvm/parameters/gmem_in_place_conversion"

static double limit_s = 120;

/* ---------------------------------------------------------------- host */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

struct meminfo {
	long long free_kb, total_kb, slab_kb, vmalloc_kb;
};

static struct meminfo meminfo(void)
{
	struct meminfo m = { 0 };
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	TEST_ASSERT(f, "open /proc/meminfo");
	while (fgets(line, sizeof(line), f)) {
		long long v;
		char key[64];

		if (sscanf(line, "%63[^:]: %lld", key, &v) != 2)
			continue;
		if (!strcmp(key, "MemFree"))
			m.free_kb = v;
		else if (!strcmp(key, "MemTotal"))
			m.total_kb = v;
		else if (!strcmp(key, "Slab"))
			m.slab_kb = v;
		else if (!strcmp(key, "VmallocUsed"))
			m.vmalloc_kb = v;
	}
	fclose(f);
	return m;
}

static long long kmem_delta(struct meminfo a, struct meminfo b)
{
	return (b.slab_kb + b.vmalloc_kb) - (a.slab_kb + a.vmalloc_kb);
}

static long long used_delta(struct meminfo a, struct meminfo b)
{
	return a.free_kb - b.free_kb;
}

/*
 * Wait until the frees of the previous case are over, so that they do not
 * count against this one: a VM's teardown may hand its metadata to RCU
 * callbacks, which take seconds under emulation for a large xarray.  Done
 * when Slab + VmallocUsed has moved by less than 64 KiB in each of three
 * 200 ms intervals, or after two minutes.
 */
static void settle(void)
{
	struct meminfo a, b;
	int i, calm = 0;

	sync();
	a = meminfo();
	for (i = 0; i < 600 && calm < 3; i++) {
		usleep(200 * 1000);
		b = meminfo();
		calm = llabs(kmem_delta(a, b)) < 64 ? calm + 1 : 0;
		a = b;
	}
}

static int create_sw_vm_fd(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm;

	TEST_ASSERT(kvm >= 0, "open /dev/kvm: %s", strerror(errno));
	vm = ioctl(kvm, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	TEST_ASSERT(vm >= 0, "KVM_CREATE_VM(SW_PROTECTED): %s", strerror(errno));
	close(kvm);
	return vm;
}

static void set_attrs_fd(int vm, uint64_t gpa, uint64_t size, uint64_t attrs)
{
	struct kvm_memory_attributes a = {
		.address = gpa, .size = size, .attributes = attrs,
	};
	int r = ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, &a);

	TEST_ASSERT(!r, "KVM_SET_MEMORY_ATTRIBUTES [0x%lx, +0x%lx) = 0x%lx: %s",
		    gpa, size, attrs, strerror(errno));
}

static void report_skip(const char *name, const char *param, double projected)
{
	printf("BENCH %s %s skipped=1 limit_s=%.0f projected_s=%.1f\n",
	       name, param, limit_s, projected);
	fflush(stdout);
}

/* Parse "1,16,64" into at most @max sizes. */
static int parse_sizes(const char *s, uint64_t *out, int max)
{
	int n = 0;

	while (*s && n < max) {
		char *end;

		out[n++] = strtoull(s, &end, 0);
		TEST_ASSERT(end != s, "bad size list");
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

/*
 * Workload 1a: attributes over one contiguous range with no memslot
 * behind it, private then shared, then the VM's teardown.
 */
static void bench_attr(const char *list)
{
	uint64_t sizes[16], prev_gib = 0, prev_total = 0, prev_priv = 0, prev_shared = 0;
	int i, n = parse_sizes(list, sizes, 16);

	for (i = 0; i < n; i++) {
		uint64_t gib = sizes[i], t0, t1, t2, t3;
		struct meminfo m0, m1, m2;
		char param[32];
		int vm;

		snprintf(param, sizeof(param), "%luG", gib);
		if (prev_gib && (double)prev_total * gib / prev_gib / 1e6 > limit_s) {
			double scale = (double)gib / prev_gib / 1e6;

			report_skip("attr-private", param, prev_priv * scale);
			report_skip("attr-shared", param, prev_shared * scale);
			continue;
		}

		vm = create_sw_vm_fd();
		settle();
		m0 = meminfo();
		t0 = now_us();
		set_attrs_fd(vm, DATA_GPA, gib * GIB, KVM_MEMORY_ATTRIBUTE_PRIVATE);
		t1 = now_us();
		m1 = meminfo();
		printf("BENCH attr-private %s time_us=%lu kmem_kb=%lld\n",
		       param, t1 - t0, kmem_delta(m0, m1));
		fflush(stdout);

		set_attrs_fd(vm, DATA_GPA, gib * GIB, 0);
		t2 = now_us();
		m2 = meminfo();
		close(vm);
		t3 = now_us();
		printf("BENCH attr-shared %s time_us=%lu kmem_kb=%lld teardown_us=%lu\n",
		       param, t2 - t1, kmem_delta(m0, m2), t3 - t2);
		fflush(stdout);

		prev_gib = gib;
		prev_total = t3 - t0;
		prev_priv = t1 - t0;
		prev_shared = t2 - t1;
	}
}

/*
 * Workload 1b: @gib GiB fragmented into 4 KiB pieces, every other one
 * private (one ioctl per piece), then the whole range shared in one call.
 */
static void bench_attr_frag(uint64_t gib)
{
	uint64_t pieces = gib * GIB / PG, t0, t1, t2, t3, i;
	struct meminfo m0, m1, m2;
	char param[32];
	int vm = create_sw_vm_fd();

	snprintf(param, sizeof(param), "%luG", gib);
	settle();
	m0 = meminfo();
	t0 = now_us();
	for (i = 0; i < pieces; i += 2)
		set_attrs_fd(vm, DATA_GPA + i * PG, PG, KVM_MEMORY_ATTRIBUTE_PRIVATE);
	t1 = now_us();
	m1 = meminfo();
	printf("BENCH frag-private %s time_us=%lu ioctls=%lu kmem_kb=%lld\n",
	       param, t1 - t0, pieces / 2, kmem_delta(m0, m1));
	fflush(stdout);

	set_attrs_fd(vm, DATA_GPA, gib * GIB, 0);
	t2 = now_us();
	m2 = meminfo();
	close(vm);
	t3 = now_us();

	printf("BENCH frag-shared %s time_us=%lu kmem_kb=%lld teardown_us=%lu\n",
	       param, t2 - t1, kmem_delta(m0, m2), t3 - t2);
	fflush(stdout);
}

/*
 * Workload 1c: @gib GiB in runs of @run_mib MiB, every other run made
 * private with one ioctl per run, then the whole range shared in one call.
 */
static void bench_attr_runs(uint64_t gib, uint64_t run_mib)
{
	uint64_t run = run_mib * MIB, runs = gib * GIB / run, t0, t1, t2, t3, i;
	struct meminfo m0, m1, m2;
	char param[32];
	int vm = create_sw_vm_fd();

	snprintf(param, sizeof(param), "%luG", gib);
	settle();
	m0 = meminfo();
	t0 = now_us();
	for (i = 0; i < runs; i += 2)
		set_attrs_fd(vm, DATA_GPA + i * run, run, KVM_MEMORY_ATTRIBUTE_PRIVATE);
	t1 = now_us();
	m1 = meminfo();
	printf("BENCH runs-private %s time_us=%lu ioctls=%lu run_kb=%lu kmem_kb=%lld\n",
	       param, t1 - t0, runs / 2, (uint64_t)(run / KIB), kmem_delta(m0, m1));
	fflush(stdout);

	set_attrs_fd(vm, DATA_GPA, gib * GIB, 0);
	t2 = now_us();
	m2 = meminfo();
	close(vm);
	t3 = now_us();
	printf("BENCH runs-shared %s time_us=%lu kmem_kb=%lld teardown_us=%lu\n",
	       param, t2 - t1, kmem_delta(m0, m2), t3 - t2);
	fflush(stdout);
}

/*
 * xorshift64 (Marsaglia), fixed seed: both kernels see the same sequence.
 * The low bits pick the page, the top bit the state.
 */
static uint64_t xorshift64(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

#define RANDOM_SEED	0x9e3779b97f4a7c15ULL

/*
 * Workload 1d: @count ioctls, each setting one random 4 KiB page of @gib
 * GiB to a random state (private or shared).  Also reports where that
 * leaves the range: private pages and runs of them.
 */
static void bench_attr_random(uint64_t gib, uint64_t count)
{
	uint64_t pages = gib * GIB / PG, seed = RANDOM_SEED, t0, t1, t2, i;
	uint64_t priv = 0, runs = 0;
	uint8_t *bitmap = calloc(pages / 8 + 1, 1);
	struct meminfo m0, m1;
	char param[32];
	int vm = create_sw_vm_fd();

	TEST_ASSERT(bitmap, "calloc");
	snprintf(param, sizeof(param), "%luG", gib);
	settle();
	m0 = meminfo();
	t0 = now_us();
	for (i = 0; i < count; i++) {
		uint64_t r = xorshift64(&seed), page = r % pages;
		uint64_t attrs = r >> 63 ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;

		set_attrs_fd(vm, DATA_GPA + page * PG, PG, attrs);
		if (attrs)
			bitmap[page / 8] |= 1 << (page % 8);
		else
			bitmap[page / 8] &= ~(1 << (page % 8));
	}
	t1 = now_us();
	m1 = meminfo();
	close(vm);
	t2 = now_us();
	for (i = 0; i < pages; i++) {
		int on = bitmap[i / 8] >> (i % 8) & 1;

		priv += on;
		runs += on && (!i || !(bitmap[(i - 1) / 8] >> ((i - 1) % 8) & 1));
	}
	printf("BENCH random %s time_us=%lu ioctls=%lu private_pages=%lu private_runs=%lu "
	       "kmem_kb=%lld teardown_us=%lu\n", param, t1 - t0, count, priv, runs,
	       kmem_delta(m0, m1), t2 - t1);
	fflush(stdout);
	free(bitmap);
}

/* ---------------------------------------------------------------- guest */

/* Write one word in every 4 KiB page of [gpa, gpa + size), then report. */
static void guest_touch(uint64_t gpa, uint64_t size)
{
	uint64_t pass, off;

	GUEST_SYNC(0);
	for (pass = 1;; pass++) {
		for (off = 0; off < size; off += PG)
			*(volatile uint64_t *)(gpa + off) = pass ^ off;
		GUEST_SYNC(pass);
	}
}

/*
 * Ask the host to make [gpa, gpa + size) shared, use it, ask for it to be
 * private again, use it; @rounds times, between two syncs.
 */
static void guest_convert(uint64_t gpa, uint64_t size, uint64_t rounds)
{
	volatile uint64_t *p = (volatile uint64_t *)gpa;
	uint64_t i, r;

	*p = 0;
	GUEST_SYNC(0);
	for (i = 0; i < rounds; i++) {
		r = kvm_hypercall(KVM_HC_MAP_GPA_RANGE, gpa, size / PG,
				  KVM_MAP_GPA_RANGE_DECRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K, 0);
		GUEST_ASSERT_EQ(r, 0);
		*p = i;
		r = kvm_hypercall(KVM_HC_MAP_GPA_RANGE, gpa, size / PG,
				  KVM_MAP_GPA_RANGE_ENCRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K, 0);
		GUEST_ASSERT_EQ(r, 0);
		*p = i;
	}
	GUEST_SYNC(1);
}

/* ------------------------------------------- VMs with a private memslot */

struct pvm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int gmem;
	void *shared;		/* the memslot's userspace (shared) view */
	uint64_t size;
};

static struct kvm_vm *new_vm(struct kvm_vcpu **vcpu, void *guest_code)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};

	return __vm_create_shape_with_one_vcpu(shape, vcpu, 0, guest_code);
}

/*
 * Give @p->vm a guest_memfd of @size at DATA_GPA, bound to a memslot, with
 * attributes @attrs all over it; the guest maps the first @map bytes of it
 * (2 MiB pages).
 */
static void add_gmem_slot(struct pvm *p, uint64_t size, uint64_t map, uint64_t attrs)
{
	p->size = size;
	p->gmem = vm_create_guest_memfd(p->vm, size, 0);
	p->shared = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(p->shared != MAP_FAILED, "mmap %lu bytes: %s", size, strerror(errno));
	vm_set_user_memory_region2(p->vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD, DATA_GPA,
				   size, p->shared, p->gmem, 0);
	if (attrs)
		vm_set_memory_attributes(p->vm, DATA_GPA, size, attrs);
	virt_map_level(p->vm, DATA_GPA, DATA_GPA, map, PG_LEVEL_2M);
}

static void add_private_slot(struct pvm *p, uint64_t size, uint64_t map)
{
	add_gmem_slot(p, size, map, KVM_MEMORY_ATTRIBUTE_PRIVATE);
}

static void free_pvm(struct pvm *p)
{
	close(p->gmem);
	munmap(p->shared, p->size);
	kvm_vm_free(p->vm);
}

/*
 * Run until the guest's next GUEST_SYNC and return its argument, handing
 * every KVM_HC_MAP_GPA_RANGE exit to @convert (which returns the
 * hypercall's result).
 */
static uint64_t run_to_sync_with(struct kvm_vcpu *vcpu,
				 uint64_t (*convert)(void *ctx, uint64_t gpa, uint64_t len,
						     bool private),
				 void *ctx)
{
	struct kvm_run *run = vcpu->run;
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu);
		if (run->exit_reason == KVM_EXIT_HYPERCALL) {
			TEST_ASSERT_EQ(run->hypercall.nr, KVM_HC_MAP_GPA_RANGE);
			run->hypercall.ret = convert(ctx, run->hypercall.args[0],
						     run->hypercall.args[1] * PG,
						     run->hypercall.args[2] &
						     KVM_MAP_GPA_RANGE_ENCRYPTED);
			continue;
		}
		TEST_ASSERT(run->exit_reason == KVM_EXIT_IO, "unexpected exit %u (%s)",
			    run->exit_reason, exit_reason_str(run->exit_reason));
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			return uc.args[1];
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
	}
}

/* Conversions as VM attributes, the only way 6.12 has. */
static uint64_t convert_attrs(void *vm, uint64_t gpa, uint64_t len, bool private)
{
	vm_set_memory_attributes(vm, gpa, len, private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0);
	return 0;
}

static uint64_t run_to_sync(struct kvm_vcpu *vcpu)
{
	return run_to_sync_with(vcpu, convert_attrs, vcpu->vm);
}

/*
 * Workloads 2 and 5: fault in @mib MiB of fresh private memory, punch it
 * all out, fault it in again, tear the VM down.
 */
static void bench_fault(uint64_t mib)
{
	uint64_t size = mib * MIB, pages = size / PG, t0, t1, t2, t3, t4, t5;
	struct meminfo m0, m1;
	struct pvm p = { 0 };
	char param[32];
	int r;

	snprintf(param, sizeof(param), "%luM", mib);
	p.vm = new_vm(&p.vcpu, guest_touch);
	add_private_slot(&p, size, size);
	vcpu_args_set(p.vcpu, 2, DATA_GPA, size);
	TEST_ASSERT_EQ(run_to_sync(p.vcpu), 0);

	settle();
	m0 = meminfo();
	t0 = now_us();
	TEST_ASSERT_EQ(run_to_sync(p.vcpu), 1);
	t1 = now_us();
	m1 = meminfo();

	r = fallocate(p.gmem, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size);
	TEST_ASSERT(!r, "punch hole: %s", strerror(errno));
	t2 = now_us();

	TEST_ASSERT_EQ(run_to_sync(p.vcpu), 2);
	t3 = now_us();

	t4 = now_us();
	free_pvm(&p);
	t5 = now_us();

	printf("BENCH fault %s time_us=%lu pages=%lu rate=%.0f used_kb=%lld kmem_kb=%lld\n",
	       param, t1 - t0, pages, pages * 1e6 / (t1 - t0),
	       used_delta(m0, m1), kmem_delta(m0, m1));
	printf("BENCH punch %s time_us=%lu\n", param, t2 - t1);
	printf("BENCH refault %s time_us=%lu rate=%.0f\n", param, t3 - t2,
	       pages * 1e6 / (t3 - t2));
	printf("BENCH teardown %s time_us=%lu\n", param, t5 - t4);
	fflush(stdout);
}

/*
 * A KVM statistic summed over every VM or vCPU, from debugfs: 0 without it
 * (the table then shows no fault counts).
 */
static uint64_t kvm_debugfs_stat(const char *name)
{
	char path[128], buf[32] = "";
	uint64_t v = 0;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%s", name);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) > 0)
			v = strtoull(buf, NULL, 0);
		close(fd);
	}
	return v;
}

/* The guest_memfd flags for the largest pages the kernel backs files with. */
static uint64_t huge_gmem_flags(void)
{
	if (kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS) & GUEST_MEMFD_FLAG_HUGETLB)
		return GUEST_MEMFD_FLAG_HUGETLB | GUESTMEM_HUGETLB_FLAG_2MB;
	return 0;
}

/*
 * The first use of a 1 GiB pool block writes to memory that QEMU has not
 * backed yet, which bench/init's warm-up cannot reach (the pool holds it
 * from boot): allocate and free @mib MiB of 1 GiB pages once, so that the
 * measured run finds it warm, as the other kernel finds its pages.
 */
static void warm_gig_pool(uint64_t mib)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = new_vm(&vcpu, guest_touch);
	int fd = vm_create_guest_memfd(vm, mib * MIB, GUEST_MEMFD_FLAG_HUGETLB |
				       GUESTMEM_HUGETLB_FLAG_1GB);

	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, mib * MIB),
		    "fallocate %lu MiB of 1 GiB pages: %s (boot with gmem_pool_1g=N)",
		    mib, strerror(errno));
	close(fd);
	kvm_vm_free(vm);
}

/*
 * Workload 8a: private fault-in of @mib MiB from a guest_memfd with the
 * largest pages the kernel offers (2 MiB folios here, 4 KiB on 6.12), or
 * with @gig 1 GiB pages where it has them, the guest writing every 4 KiB
 * page once; the page faults KVM took (pf_taken) and the mappings it made;
 * then the VM's teardown.  Done twice: with the memory allocated (and
 * zeroed) by the faults, and with it allocated by fallocate() first, as a
 * VMM that preallocates does, which the "hugeprealloc" line times.  The
 * memslot's userspace memory is aligned to the page size, as huge private
 * mappings need.
 */
static void bench_hugefault_one(uint64_t mib, bool prealloc, bool gig)
{
	uint64_t size = mib * MIB, pages = size / PG, flags = huge_gmem_flags();
	uint64_t t0, t1, t2, t3, tp0, tp1, f0, f1, pages_1g, pages_2m, pages_4k;
	const char *pre = gig ? "gig" : "huge";
	uint64_t align = 2 * MIB;
	struct meminfo m0, m1;
	struct pvm p = { 0 };
	char param[32];
	int page_kb;
	void *raw;

	if (gig && flags) {
		flags = GUEST_MEMFD_FLAG_HUGETLB | GUESTMEM_HUGETLB_FLAG_1GB;
		align = 1024 * MIB;
		warm_gig_pool(mib);
	}
	page_kb = !flags ? 4 : gig ? 1024 * 1024 : 2048;
	snprintf(param, sizeof(param), "%luM", mib);
	p.vm = new_vm(&p.vcpu, guest_touch);
	p.size = size;
	p.gmem = vm_create_guest_memfd(p.vm, size, flags);
	raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(raw != MAP_FAILED, "mmap %lu bytes: %s", size, strerror(errno));
	p.shared = (void *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	vm_set_user_memory_region2(p.vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD, DATA_GPA,
				   size, p.shared, p.gmem, 0);
	vm_set_memory_attributes(p.vm, DATA_GPA, size, KVM_MEMORY_ATTRIBUTE_PRIVATE);
	virt_map_level(p.vm, DATA_GPA, DATA_GPA, size, PG_LEVEL_2M);
	vcpu_args_set(p.vcpu, 2, DATA_GPA, size);
	TEST_ASSERT_EQ(run_to_sync(p.vcpu), 0);

	settle();
	m0 = meminfo();
	tp0 = now_us();
	if (prealloc)
		TEST_ASSERT(!fallocate(p.gmem, FALLOC_FL_KEEP_SIZE, 0, size),
			    "fallocate %lu bytes: %s", size, strerror(errno));
	tp1 = now_us();
	f0 = kvm_debugfs_stat("pf_taken");
	t0 = now_us();
	TEST_ASSERT_EQ(run_to_sync(p.vcpu), 1);
	t1 = now_us();
	f1 = kvm_debugfs_stat("pf_taken");
	m1 = meminfo();
	pages_1g = vm_get_stat(p.vm, "pages_1g");
	pages_2m = vm_get_stat(p.vm, "pages_2m");
	pages_4k = vm_get_stat(p.vm, "pages_4k");

	t2 = now_us();
	close(p.gmem);
	kvm_vm_free(p.vm);
	t3 = now_us();
	munmap(raw, size + align);

	if (prealloc)
		printf("BENCH %sprealloc %s time_us=%lu pages=%lu rate=%.0f\n", pre, param,
		       tp1 - tp0, pages, pages * 1e6 / (tp1 - tp0));
	printf("BENCH %s%s %s time_us=%lu pages=%lu rate=%.0f faults=%lu pages_1g=%lu "
	       "pages_2m=%lu pages_4k=%lu page_kb=%d used_kb=%lld kmem_kb=%lld\n",
	       pre, prealloc ? "prefault" : "fault", param, t1 - t0, pages,
	       pages * 1e6 / (t1 - t0), f1 - f0, pages_1g, pages_2m, pages_4k, page_kb,
	       used_delta(m0, m1), kmem_delta(m0, m1));
	if (!prealloc)
		printf("BENCH %steardown %s time_us=%lu\n", pre, param, t3 - t2);
	fflush(stdout);
}

static void bench_hugefault(uint64_t mib, bool gig)
{
	bench_hugefault_one(mib, false, gig);
	bench_hugefault_one(mib, true, gig);
}

/*
 * Workload 1e: the fault path's attribute lookup after a fragmented update.
 * Three fresh VMs, each with @mib MiB of guest_memfd memslot, and a guest
 * writing one word in each of its 4 KiB pages: all private; all shared (the
 * memslot's userspace memory, no THP); every other page private, set with
 * one ioctl per page while the memslot is in place, the others shared.
 * Each takes one 4 KiB fault per page (spte_4k/spte_2m say so).
 */
static void bench_mixfault(uint64_t mib)
{
	static const char *const mode[] = { "private", "shared", "alt" };
	uint64_t size = mib * MIB, pages = size / PG;
	char param[32];
	int m;

	snprintf(param, sizeof(param), "%luM", mib);
	for (m = 0; m < 3; m++) {
		uint64_t t0, t1, s0, s1, i, pages_4k, pages_2m;
		struct meminfo m0, m1;
		struct pvm p = { 0 };

		p.vm = new_vm(&p.vcpu, guest_touch);
		add_gmem_slot(&p, size, size, m == 0 ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0);
		/*
		 * 4 KiB faults in all three: without this, 6.12 maps the
		 * all-shared pass with 2 MiB pages where the userspace view got
		 * transparent huge pages (ours does not).  Fails harmlessly
		 * without THP.
		 */
		(void)madvise(p.shared, size, MADV_NOHUGEPAGE);
		if (m == 2) {
			struct meminfo a0, a1;

			settle();
			a0 = meminfo();
			s0 = now_us();
			for (i = 0; i < pages; i += 2)
				set_attrs_fd(p.vm->fd, DATA_GPA + i * PG, PG,
					     KVM_MEMORY_ATTRIBUTE_PRIVATE);
			s1 = now_us();
			a1 = meminfo();
			printf("BENCH mixfault-setup %s time_us=%lu ioctls=%lu kmem_kb=%lld\n",
			       param, s1 - s0, pages / 2, kmem_delta(a0, a1));
		}
		vcpu_args_set(p.vcpu, 2, DATA_GPA, size);
		TEST_ASSERT_EQ(run_to_sync(p.vcpu), 0);

		settle();
		m0 = meminfo();
		t0 = now_us();
		TEST_ASSERT_EQ(run_to_sync(p.vcpu), 1);
		t1 = now_us();
		m1 = meminfo();
		/* How KVM mapped it (the whole VM, slot 0 too): 4 KiB or 2 MiB. */
		pages_4k = vm_get_stat(p.vm, "pages_4k");
		pages_2m = vm_get_stat(p.vm, "pages_2m");
		free_pvm(&p);

		printf("BENCH mixfault-%s %s time_us=%lu pages=%lu rate=%.0f used_kb=%lld "
		       "kmem_kb=%lld spte_4k=%lu spte_2m=%lu\n",
		       mode[m], param, t1 - t0, pages, pages * 1e6 / (t1 - t0),
		       used_delta(m0, m1), kmem_delta(m0, m1), pages_4k, pages_2m);
		fflush(stdout);
	}
}

/* Workload 3: @rounds guest-requested 2 MiB shared<->private round trips. */
static void bench_convert(uint64_t rounds)
{
	const uint64_t size = 2 * MIB;
	struct pvm p = { 0 };
	uint64_t t0, t1;

	p.vm = new_vm(&p.vcpu, guest_convert);
	vm_enable_cap(p.vm, KVM_CAP_EXIT_HYPERCALL, 1 << KVM_HC_MAP_GPA_RANGE);
	add_private_slot(&p, size, size);
	vcpu_args_set(p.vcpu, 3, DATA_GPA, size, rounds);
	TEST_ASSERT_EQ(run_to_sync(p.vcpu), 0);

	t0 = now_us();
	TEST_ASSERT_EQ(run_to_sync(p.vcpu), 1);
	t1 = now_us();
	free_pvm(&p);

	printf("BENCH convert 2M time_us=%lu rounds=%lu rate=%.0f\n",
	       t1 - t0, rounds, rounds * 1e6 / (t1 - t0));
	fflush(stdout);
}

/*
 * Workload 7: a guest converts the first half of @mib MiB back and forth,
 * writing one word in every page of that half after each conversion; the
 * other half stays private and was written once.  Per round trip: time,
 * and the most memory the VM held at any sync point (used_kb, all of it
 * guest pages but for a little metadata).
 *
 * @mode is how the VMM backs the two states:
 *  inplace  one guest_memfd holds both (mmap()ed, a gmem-only memslot);
 *           the VMM converts with KVM_SET_MEMORY_ATTRIBUTES2.  Ours only.
 *  keep     VM attributes; private pages in a guest_memfd, shared ones in
 *           anonymous memory, and the VMM frees neither side: the range
 *           ends up held twice.
 *  discard  VM attributes, and the VMM frees the side the range leaves:
 *           a hole punched in the guest_memfd when it becomes shared,
 *           MADV_DONTNEED when it becomes private.  One copy, but every
 *           conversion gives the guest zeroed pages, so contents must be
 *           copied by the guest if it needs them.
 */
static void guest_halves(uint64_t gpa, uint64_t size, uint64_t rounds)
{
	uint64_t half = size / 2, i, off;
	uint64_t r;

	for (off = 0; off < size; off += PG)
		*(volatile uint64_t *)(gpa + off) = off;
	GUEST_SYNC(0);
	for (i = 0; i < rounds; i++) {
		r = kvm_hypercall(KVM_HC_MAP_GPA_RANGE, gpa, half / PG,
				  KVM_MAP_GPA_RANGE_DECRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K, 0);
		GUEST_ASSERT_EQ(r, 0);
		for (off = 0; off < half; off += PG)
			*(volatile uint64_t *)(gpa + off) = i;
		GUEST_SYNC(1);
		r = kvm_hypercall(KVM_HC_MAP_GPA_RANGE, gpa, half / PG,
				  KVM_MAP_GPA_RANGE_ENCRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K, 0);
		GUEST_ASSERT_EQ(r, 0);
		for (off = 0; off < half; off += PG)
			*(volatile uint64_t *)(gpa + off) = i;
		GUEST_SYNC(1);
	}
	GUEST_SYNC(2);
}

static void set_in_place(const char *val)
{
	int fd = open(IN_PLACE_PARAM, O_WRONLY);

	TEST_ASSERT(fd >= 0 && write(fd, val, 1) == 1, "writing %s to %s: %s", val,
		    IN_PLACE_PARAM, strerror(errno));
	close(fd);
}

struct halves {
	struct pvm p;
	const char *mode;
};

/* The VMM's side of one KVM_HC_MAP_GPA_RANGE exit, as the mode does it. */
static uint64_t halves_convert(void *ctx, uint64_t gpa, uint64_t len, bool private)
{
	struct halves *h = ctx;
	uint64_t off = gpa - DATA_GPA;

	if (!strcmp(h->mode, "inplace")) {
		struct kvm_memory_attributes2 a = {
			.offset = off,
			.size = len,
			.attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
		};

		TEST_ASSERT(!ioctl(h->p.gmem, KVM_SET_MEMORY_ATTRIBUTES2, &a),
			    "KVM_SET_MEMORY_ATTRIBUTES2: %s", strerror(errno));
		return 0;
	}

	convert_attrs(h->p.vm, gpa, len, private);
	if (strcmp(h->mode, "discard"))
		return 0;
	if (private)
		TEST_ASSERT(!madvise((char *)h->p.shared + off, len, MADV_DONTNEED),
			    "MADV_DONTNEED: %s", strerror(errno));
	else
		TEST_ASSERT(!fallocate(h->p.gmem, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
				       off, len), "punch: %s", strerror(errno));
	return 0;
}

static void bench_halves(uint64_t mib, uint64_t rounds, const char *mode)
{
	uint64_t size = mib * MIB, t0, t1, peak = 0;
	bool inplace = !strcmp(mode, "inplace");
	struct halves h = { .mode = mode };
	struct pvm *p = &h.p;
	struct meminfo m0, m;
	char param[48];

	snprintf(param, sizeof(param), "%luM-%s", mib, mode);
	if (inplace) {
		if (access(IN_PLACE_PARAM, W_OK)) {
			printf("BENCH halves %s unsupported=1\n", param);
			fflush(stdout);
			return;
		}
		set_in_place("Y");
	}
	p->vm = new_vm(&p->vcpu, guest_halves);
	if (inplace)
		set_in_place("N");
	vm_enable_cap(p->vm, KVM_CAP_EXIT_HYPERCALL, 1 << KVM_HC_MAP_GPA_RANGE);
	settle();
	m0 = meminfo();

	p->size = size;
	if (inplace) {
		/* Private from creation; the slot's shared pages come from it too. */
		p->gmem = vm_create_guest_memfd(p->vm, size, GUEST_MEMFD_FLAG_MMAP);
		p->shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, p->gmem, 0);
		TEST_ASSERT(p->shared != MAP_FAILED, "mmap(guest_memfd): %s", strerror(errno));
		vm_set_user_memory_region2(p->vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD, DATA_GPA,
					   size, p->shared, p->gmem, 0);
		virt_map_level(p->vm, DATA_GPA, DATA_GPA, size, PG_LEVEL_2M);
	} else {
		add_private_slot(p, size, size);
	}
	vcpu_args_set(p->vcpu, 3, DATA_GPA, size, rounds);
	TEST_ASSERT_EQ(run_to_sync_with(p->vcpu, halves_convert, &h), 0);

	t0 = now_us();
	while (run_to_sync_with(p->vcpu, halves_convert, &h) == 1) {
		m = meminfo();
		peak = used_delta(m0, m) > (long long)peak ? used_delta(m0, m) : peak;
	}
	t1 = now_us();
	free_pvm(p);

	printf("BENCH halves %s time_us=%lu rounds=%lu rate=%.2f used_kb=%lu "
	       "copies=%.2f\n", param, t1 - t0, rounds, rounds * 1e6 / (t1 - t0), peak,
	       peak / (size / 1024.0));
	fflush(stdout);
}

/*
 * Workload 4: the cost of starting a VM with a private memslot of each
 * size: guest_memfd, memslot, attributes, a guest touching @touch_mib MiB.
 */
static void bench_start(const char *list, uint64_t touch_mib)
{
	uint64_t sizes[16], prev_us = 0, prev_gib = 0;
	int i, n = parse_sizes(list, sizes, 16);

	for (i = 0; i < n; i++) {
		uint64_t gib = sizes[i], size = gib * GIB, touch = touch_mib * MIB;
		uint64_t t0, t1, t2, t3, t4;
		struct meminfo m0, m1;
		struct pvm p = { 0 };
		char param[32];

		snprintf(param, sizeof(param), "%luG", gib);
		if (prev_gib) {
			double projected = (double)prev_us * gib / prev_gib / 1e6;

			if (projected > limit_s) {
				report_skip("start", param, projected);
				continue;
			}
		}

		p.vm = new_vm(&p.vcpu, guest_touch);
		vcpu_args_set(p.vcpu, 2, DATA_GPA, touch);
		settle();
		m0 = meminfo();
		t0 = now_us();
		p.size = size;
		p.gmem = vm_create_guest_memfd(p.vm, size, 0);
		p.shared = mmap(NULL, size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		TEST_ASSERT(p.shared != MAP_FAILED, "mmap %lu GiB: %s", gib, strerror(errno));
		vm_set_user_memory_region2(p.vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD, DATA_GPA,
					   size, p.shared, p.gmem, 0);
		t1 = now_us();
		vm_set_memory_attributes(p.vm, DATA_GPA, size, KVM_MEMORY_ATTRIBUTE_PRIVATE);
		t2 = now_us();
		virt_map_level(p.vm, DATA_GPA, DATA_GPA, touch, PG_LEVEL_2M);
		TEST_ASSERT_EQ(run_to_sync(p.vcpu), 0);
		TEST_ASSERT_EQ(run_to_sync(p.vcpu), 1);
		t3 = now_us();
		m1 = meminfo();
		free_pvm(&p);
		t4 = now_us();

		printf("BENCH start %s time_us=%lu slot_us=%lu attr_us=%lu run_us=%lu "
		       "kmem_kb=%lld used_kb=%lld teardown_us=%lu\n",
		       param, t3 - t0, t1 - t0, t2 - t1, t3 - t2,
		       kmem_delta(m0, m1), used_delta(m0, m1), t4 - t3);
		fflush(stdout);
		prev_us = t4 - t0;
		prev_gib = gib;
	}
}

/*
 * Workload 6's control: after the fault-in, each vCPU writes its pages
 * again this many times, with no fault to take.  Whether that scales with
 * the vCPUs says what the emulator, on the host of the moment, can run in
 * parallel at all.
 */
#define REWRITE_PASSES	32

/* One vCPU thread of workload 6. */
struct vthread {
	pthread_t thread;
	struct kvm_vcpu *vcpu;
	pthread_barrier_t *go;
	uint64_t start_us, end_us;		/* the fault-in */
	uint64_t rw_start_us, rw_end_us;	/* the rewrite passes */
};

static void *vthread_main(void *arg)
{
	struct vthread *v = arg;
	uint64_t pass;

	pthread_barrier_wait(v->go);
	v->start_us = now_us();
	TEST_ASSERT_EQ(run_to_sync(v->vcpu), 1);
	v->end_us = now_us();

	pthread_barrier_wait(v->go);
	v->rw_start_us = now_us();
	for (pass = 2; pass < 2 + REWRITE_PASSES; pass++)
		TEST_ASSERT_EQ(run_to_sync(v->vcpu), pass);
	v->rw_end_us = now_us();
	return NULL;
}

#define MAX_VCPUS	16

/*
 * Workload 6: for each vCPU count, one VM whose vCPUs each fault in their
 * own @mib MiB of private guest_memfd memory (one word per 4 KiB page), in
 * a host thread each, all released together by a barrier.  Then, released
 * together again, they write the same pages REWRITE_PASSES times more:
 * the same work without the faults.
 */
static void bench_vcpus(const char *list, uint64_t mib)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	uint64_t counts[MAX_VCPUS], size = mib * MIB, pages = size / PG;
	int i, j, n = parse_sizes(list, counts, MAX_VCPUS);

	for (i = 0; i < n; i++) {
		struct kvm_vcpu *vcpus[MAX_VCPUS];
		struct vthread v[MAX_VCPUS];
		uint64_t nr = counts[i], first = UINT64_MAX, last = 0;
		uint64_t vmin = UINT64_MAX, vmax = 0, rw_first = UINT64_MAX, rw_last = 0;
		pthread_barrier_t go;
		struct meminfo m0, m1;
		struct pvm p = { 0 };
		char param[32];

		TEST_ASSERT(nr >= 1 && nr <= MAX_VCPUS, "vCPU count %lu", nr);
		snprintf(param, sizeof(param), "%lux%luM", nr, mib);
		p.vm = __vm_create_with_vcpus(shape, nr, 0, guest_touch, vcpus);
		add_private_slot(&p, nr * size, nr * size);
		for (j = 0; j < nr; j++) {
			vcpu_args_set(vcpus[j], 2, DATA_GPA + j * size, size);
			TEST_ASSERT_EQ(run_to_sync(vcpus[j]), 0);
		}

		settle();
		m0 = meminfo();
		TEST_ASSERT(!pthread_barrier_init(&go, NULL, nr), "pthread_barrier_init");
		for (j = 0; j < nr; j++) {
			v[j] = (struct vthread){ .vcpu = vcpus[j], .go = &go };
			TEST_ASSERT(!pthread_create(&v[j].thread, NULL, vthread_main, &v[j]),
				    "pthread_create");
		}
		for (j = 0; j < nr; j++) {
			uint64_t t;

			pthread_join(v[j].thread, NULL);
			first = v[j].start_us < first ? v[j].start_us : first;
			last = v[j].end_us > last ? v[j].end_us : last;
			rw_first = v[j].rw_start_us < rw_first ? v[j].rw_start_us : rw_first;
			rw_last = v[j].rw_end_us > rw_last ? v[j].rw_end_us : rw_last;
			t = v[j].end_us - v[j].start_us;
			vmin = t < vmin ? t : vmin;
			vmax = t > vmax ? t : vmax;
		}
		m1 = meminfo();
		pthread_barrier_destroy(&go);
		free_pvm(&p);

		printf("BENCH vcpus %s time_us=%lu vcpus=%lu pages=%lu rate=%.0f "
		       "vcpu_min_us=%lu vcpu_max_us=%lu used_kb=%lld kmem_kb=%lld "
		       "rewrite_us=%lu rewrite_rate=%.0f\n",
		       param, last - first, nr, nr * pages, nr * pages * 1e6 / (last - first),
		       vmin, vmax, used_delta(m0, m1), kmem_delta(m0, m1), rw_last - rw_first,
		       nr * pages * REWRITE_PASSES * 1e6 / (rw_last - rw_first));
		fflush(stdout);
	}
}

/*
 * Workload 8b: a guest on @mib MiB of private 2 MiB guest_memfd pages (in
 * place, a gmem-only memslot) that shares one 4 KiB page in each 2 MiB
 * page and takes it back.  Measured: the conversions that split the huge
 * pages (one ioctl per 2 MiB), the guest writing all of its memory while
 * it is mixed (4 KiB faults), the conversions back, and the guest writing
 * all of it again (2 MiB mappings come back); faults taken and memory
 * used at each step.  Only where guest_memfd has huge pages and in-place
 * conversion.
 */
static void bench_hugesplit(uint64_t mib)
{
	uint64_t size = mib * MIB, pages = size / PG, flags = huge_gmem_flags();
	uint64_t t0, t1, f0, f1, off, n, pass = 0;
	struct meminfo m0, m1;
	struct pvm p = { 0 };
	const char *step[] = { "split", "mixed", "merge", "remerged" };
	int s;

	if (!flags || access(IN_PLACE_PARAM, W_OK)) {
		for (s = 0; s < 4; s++)
			printf("BENCH hugesplit-%s %luM unsupported=1\n", step[s], mib);
		fflush(stdout);
		return;
	}
	set_in_place("Y");
	p.vm = new_vm(&p.vcpu, guest_touch);
	set_in_place("N");
	p.size = size;
	p.gmem = vm_create_guest_memfd(p.vm, size, GUEST_MEMFD_FLAG_MMAP | flags);
	p.shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, p.gmem, 0);
	TEST_ASSERT(p.shared != MAP_FAILED, "mmap(guest_memfd): %s", strerror(errno));
	vm_set_user_memory_region2(p.vm, DATA_SLOT, KVM_MEM_GUEST_MEMFD, DATA_GPA,
				   size, p.shared, p.gmem, 0);
	virt_map_level(p.vm, DATA_GPA, DATA_GPA, size, PG_LEVEL_2M);
	vcpu_args_set(p.vcpu, 2, DATA_GPA, size);
	TEST_ASSERT_EQ(run_to_sync(p.vcpu), pass++);
	TEST_ASSERT_EQ(run_to_sync(p.vcpu), pass++);
	settle();

	for (s = 0; s < 4; s++) {
		bool convert = !(s & 1);

		m0 = meminfo();
		f0 = kvm_debugfs_stat("pf_taken");
		t0 = now_us();
		if (convert) {
			for (off = 0; off < size; off += 2 * MIB) {
				struct kvm_memory_attributes2 a = {
					.offset = off + 3 * PG,
					.size = PG,
					.attributes = s ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
				};

				TEST_ASSERT(!ioctl(p.gmem, KVM_SET_MEMORY_ATTRIBUTES2, &a),
					    "KVM_SET_MEMORY_ATTRIBUTES2(0x%lx): %s",
					    (uint64_t)(off + 3 * PG), strerror(errno));
			}
		} else {
			TEST_ASSERT_EQ(run_to_sync(p.vcpu), pass++);
		}
		t1 = now_us();
		f1 = kvm_debugfs_stat("pf_taken");
		m1 = meminfo();
		n = convert ? size / (2 * MIB) : pages;
		printf("BENCH hugesplit-%s %luM time_us=%lu pages=%lu rate=%.0f faults=%lu "
		       "pages_2m=%lu used_kb=%lld kmem_kb=%lld\n", step[s], mib, t1 - t0,
		       n, n * 1e6 / (t1 - t0), f1 - f0, (uint64_t)vm_get_stat(p.vm, "pages_2m"),
		       used_delta(m0, m1), kmem_delta(m0, m1));
	}
	fflush(stdout);
	free_pvm(&p);
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-l limit_s] attr SIZES_GIB      e.g. attr 1,16,64\n"
		"       %s [-l limit_s] frag GIB             e.g. frag 16\n"
		"       %s runs GIB RUN_MIB                  e.g. runs 16 2\n"
		"       %s random GIB IOCTLS                 e.g. random 16 1048576\n"
		"       %s mixfault MIB                      e.g. mixfault 1024\n"
		"       %s fault MIB                         e.g. fault 1024\n"
		"       %s convert ROUNDS                    e.g. convert 2000\n"
		"       %s [-l limit_s] start SIZES_GIB [TOUCH_MIB]\n"
		"       %s vcpus COUNTS MIB_PER_VCPU         e.g. vcpus 1,2,4 256\n"
		"       %s halves MIB ROUNDS inplace|keep|discard   e.g. halves 1024 2 inplace\n"
		"       %s hugefault MIB                     e.g. hugefault 1024\n"
		"       %s gigfault MIB                      e.g. gigfault 1024\n"
		"       %s hugesplit MIB                     e.g. hugesplit 256\n",
		prog, prog, prog, prog, prog, prog, prog, prog, prog, prog, prog, prog,
		prog);
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	const char *prog = argv[0], *w;
	int opt;

	while ((opt = getopt(argc, argv, "l:")) != -1) {
		if (opt == 'l')
			limit_s = atof(optarg);
		else
			usage(prog);
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage(prog);

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD));
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_MEMORY_ATTRIBUTES) & KVM_MEMORY_ATTRIBUTE_PRIVATE);
	setvbuf(stdout, NULL, _IOLBF, 0);

	w = argv[0];
	if (!strcmp(w, "attr"))
		bench_attr(argv[1]);
	else if (!strcmp(w, "frag"))
		bench_attr_frag(strtoull(argv[1], NULL, 0));
	else if (!strcmp(w, "runs") && argc > 2)
		bench_attr_runs(strtoull(argv[1], NULL, 0), strtoull(argv[2], NULL, 0));
	else if (!strcmp(w, "random") && argc > 2)
		bench_attr_random(strtoull(argv[1], NULL, 0), strtoull(argv[2], NULL, 0));
	else if (!strcmp(w, "mixfault"))
		bench_mixfault(strtoull(argv[1], NULL, 0));
	else if (!strcmp(w, "fault"))
		bench_fault(strtoull(argv[1], NULL, 0));
	else if (!strcmp(w, "convert"))
		bench_convert(strtoull(argv[1], NULL, 0));
	else if (!strcmp(w, "start"))
		bench_start(argv[1], argc > 2 ? strtoull(argv[2], NULL, 0) : 16);
	else if (!strcmp(w, "vcpus") && argc > 2)
		bench_vcpus(argv[1], strtoull(argv[2], NULL, 0));
	else if (!strcmp(w, "hugefault"))
		bench_hugefault(strtoull(argv[1], NULL, 0), false);
	else if (!strcmp(w, "gigfault"))
		bench_hugefault(strtoull(argv[1], NULL, 0), true);
	else if (!strcmp(w, "hugesplit"))
		bench_hugesplit(strtoull(argv[1], NULL, 0));
	else if (!strcmp(w, "halves") && argc > 3)
		bench_halves(strtoull(argv[1], NULL, 0), strtoull(argv[2], NULL, 0), argv[3]);
	else
		usage(prog);
	return 0;
}
