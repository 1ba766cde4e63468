// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_demo: a guided tour of what this kernel's KVM offers for guest
 * private memory, written against the upstream Linux uAPI.  `make run` boots
 * the patched kernel and runs this program as the only process.
 *
 * Each step prints what it asked the kernel and what came back.  Steps that
 * need a feature this kernel lacks say so and are skipped; the exit status is
 * non-zero only when a supported feature misbehaves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/kvm.h>

/* Upstream uAPI values, for building against headers that predate them. */
#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2 231
#endif
#ifndef KVM_CAP_MEMORY_FAULT_INFO
#define KVM_CAP_MEMORY_FAULT_INFO 232
#endif
#ifndef KVM_CAP_MEMORY_ATTRIBUTES
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#endif
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234
#endif
#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235
#endif
#ifndef KVM_X86_SW_PROTECTED_VM
#define KVM_X86_DEFAULT_VM 0
#define KVM_X86_SW_PROTECTED_VM 1
#endif
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD (1UL << 2)
#endif
#ifndef KVM_SET_USER_MEMORY_REGION2
struct kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#endif
#ifndef KVM_CREATE_GUEST_MEMFD
struct kvm_create_guest_memfd {
	__u64 size;
	__u64 flags;
	__u64 reserved[6];
};
#define KVM_CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
#endif

static int failures;

#define step(fmt, ...)	printf("\n== " fmt "\n", ##__VA_ARGS__)
#define info(fmt, ...)	printf("   " fmt "\n", ##__VA_ARGS__)
#define bad(fmt, ...)	do { failures++; printf("   FAILED: " fmt "\n", ##__VA_ARGS__); } while (0)

static const struct {
	int cap;
	const char *name;
	const char *what;
} caps[] = {
	{ KVM_CAP_USER_MEMORY2, "KVM_CAP_USER_MEMORY2", "memslots that can name a guest_memfd" },
	{ KVM_CAP_GUEST_MEMFD, "KVM_CAP_GUEST_MEMFD", "KVM_CREATE_GUEST_MEMFD" },
	{ KVM_CAP_MEMORY_ATTRIBUTES, "KVM_CAP_MEMORY_ATTRIBUTES", "private/shared attributes per gfn range" },
	{ KVM_CAP_MEMORY_FAULT_INFO, "KVM_CAP_MEMORY_FAULT_INFO", "KVM_EXIT_MEMORY_FAULT details" },
	{ KVM_CAP_VM_TYPES, "KVM_CAP_VM_TYPES", "VM types (software-protected VMs)" },
};

#define GUEST_MEM_SIZE	(2UL << 20)
#define GUEST_CODE_GPA	0x0
#define GUEST_PROBE_GPA	0x1000
#define PROBE_PORT	0x10

/*
 * Real-mode guest:
 *	mov al, [0x1000]	; what is there before anyone wrote it
 *	out 0x10, al
 *	mov byte [0x1000], 0x42	; write a "secret"
 *	mov al, [0x1000]
 *	out 0x10, al		; what the guest reads back
 *	mov al, [0x1000]	; (after the host converted the page to shared)
 *	out 0x10, al
 *	hlt
 */
#define GUEST_SECRET	0x42
#define HOST_BYTE	0x99
static const unsigned char guest_code[] = {
	0xa0, 0x00, 0x10, 0xe6, PROBE_PORT,
	0xc6, 0x06, 0x00, 0x10, GUEST_SECRET,
	0xa0, 0x00, 0x10, 0xe6, PROBE_PORT,
	0xa0, 0x00, 0x10, 0xe6, PROBE_PORT,
	0xf4,
};

static int set_private(int vm, unsigned long gpa, unsigned long size, int private)
{
#ifdef KVM_SET_MEMORY_ATTRIBUTES
	struct kvm_memory_attributes attrs = {
		.address = gpa,
		.size = size,
		.attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
	};

	return ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, &attrs);
#else
	errno = ENOTTY;
	return -1;
#endif
}

/* Run a tiny guest in a memslot bound to @gmem_fd; print what it saw. */
static void demo_guest(int kvm, int vm, int gmem_fd)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = 0,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM_SIZE,
		.guest_memfd = gmem_fd,
		.guest_memfd_offset = 0,
	};
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = GUEST_CODE_GPA, .rflags = 2 };
	struct kvm_run *run;
	int vcpu, run_size, exits = 0, io_exits = 0, private;
	unsigned char *shared;

	step("a guest on guest_memfd-backed memory");
	shared = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		bad("mmap of the shared half: %s", strerror(errno));
		return;
	}
	memcpy(shared + GUEST_CODE_GPA, guest_code, sizeof(guest_code));
	region.userspace_addr = (unsigned long)shared;

	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region)) {
		bad("KVM_SET_USER_MEMORY_REGION2(KVM_MEM_GUEST_MEMFD) failed: %s", strerror(errno));
		goto out_unmap;
	}
	info("KVM_SET_USER_MEMORY_REGION2: slot 0, 2 MiB at gpa 0, private half from the guest_memfd");

	private = !set_private(vm, GUEST_PROBE_GPA, 0x1000, 1);
	if (private)
		info("KVM_SET_MEMORY_ATTRIBUTES: gpa 0x%x is private (guest accesses go to the guest_memfd)",
		     GUEST_PROBE_GPA);
	else
		info("KVM_SET_MEMORY_ATTRIBUTES: %s; the page stays shared", strerror(errno));

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	run = vcpu < 0 ? MAP_FAILED : mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		bad("creating the vCPU failed: %s", strerror(errno));
		goto out_unmap;
	}
	ioctl(vcpu, KVM_GET_SREGS, &sregs);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	ioctl(vcpu, KVM_SET_SREGS, &sregs);
	ioctl(vcpu, KVM_SET_REGS, &regs);

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0)) {
			if (errno == EFAULT && run->exit_reason == KVM_EXIT_MEMORY_FAULT)
				bad("KVM_EXIT_MEMORY_FAULT: gpa 0x%llx size 0x%llx flags 0x%llx",
				    run->memory_fault.gpa, run->memory_fault.size,
				    run->memory_fault.flags);
			else
				bad("KVM_RUN failed: %s", strerror(errno));
			break;
		}
		exits++;
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == PROBE_PORT) {
			unsigned char seen = *((unsigned char *)run + run->io.data_offset);

			switch (io_exits++) {
			case 0:
				info("guest read 0x%02x at gpa 0x%x before writing it (fresh memory: must be 0)",
				     seen, GUEST_PROBE_GPA);
				if (seen)
					bad("fresh guest memory was not zero");
				break;
			case 1:
				info("guest wrote 0x%02x and read back 0x%02x", GUEST_SECRET, seen);
				info("host's own mapping of gpa 0x%x holds 0x%02x: %s", GUEST_PROBE_GPA,
				     shared[GUEST_PROBE_GPA], !private ? "shared memory, visible" :
				     shared[GUEST_PROBE_GPA] == GUEST_SECRET ? "LEAKED" :
				     "the private write is invisible to the host");
				if (seen != GUEST_SECRET || (private && shared[GUEST_PROBE_GPA] == GUEST_SECRET))
					bad("private memory did not behave as private");
				if (private) {
					shared[GUEST_PROBE_GPA] = HOST_BYTE;
					if (set_private(vm, GUEST_PROBE_GPA, 0x1000, 0))
						bad("converting to shared failed: %s", strerror(errno));
					else
						info("host wrote 0x%02x to its mapping and converted the page to shared",
						     HOST_BYTE);
				}
				break;
			default:
				info("after the conversion the guest reads 0x%02x", seen);
				if (private && seen != HOST_BYTE)
					bad("expected the host's 0x%02x after converting to shared", HOST_BYTE);
				break;
			}
			continue;
		}
		if (run->exit_reason == KVM_EXIT_MEMORY_FAULT) {
			bad("unexpected KVM_EXIT_MEMORY_FAULT at gpa 0x%llx", run->memory_fault.gpa);
			break;
		}
		if (run->exit_reason == KVM_EXIT_HLT) {
			info("guest halted: %d exits to userspace (%d port I/O reports, 1 halt)",
			     exits, io_exits);
			break;
		}
		bad("unexpected exit reason %u", run->exit_reason);
		break;
	}
	munmap(run, run_size);
	close(vcpu);
out_unmap:
	munmap(shared, GUEST_MEM_SIZE);
}

static void demo_guest_memfd(int kvm, int vm)
{
	struct kvm_create_guest_memfd gmem = { .size = GUEST_MEM_SIZE };
	char buf[16];
	int fd;

	step("guest_memfd: memory owned by KVM, not by a host mapping");
	fd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &gmem);
	if (fd < 0) {
		bad("KVM_CREATE_GUEST_MEMFD(size=2 MiB) failed: %s", strerror(errno));
		return;
	}
	info("KVM_CREATE_GUEST_MEMFD(size=2 MiB) -> fd %d", fd);

	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20))
		bad("fallocate(allocate first 1 MiB) failed: %s", strerror(errno));
	else
		info("fallocate(allocate first 1 MiB) -> pages allocated, zeroed, unevictable");

	if (read(fd, buf, sizeof(buf)) >= 0)
		bad("read() on a guest_memfd succeeded; guest memory must not be readable by the host");
	else
		info("read() -> %s: the host cannot read guest memory through the fd", strerror(errno));

	if (fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, 1 << 20))
		bad("fallocate(PUNCH_HOLE first 1 MiB) failed: %s", strerror(errno));
	else
		info("fallocate(PUNCH_HOLE first 1 MiB) -> pages freed");

	demo_guest(kvm, vm, fd);
	close(fd);
	info("close(guest_memfd) -> memslot unbound, memory freed with the file");
}

int main(void)
{
	int kvm, vm, i, types, type = KVM_X86_DEFAULT_VM, have_gmem = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("guest_memfd demonstration\n");

	step("KVM");
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("   /dev/kvm: %s (is KVM enabled and SVM/VMX exposed?)\n", strerror(errno));
		return 1;
	}
	info("KVM API version %d", ioctl(kvm, KVM_GET_API_VERSION, 0));

	types = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES);
	if (types > 0 && (types & (1 << KVM_X86_SW_PROTECTED_VM)))
		type = KVM_X86_SW_PROTECTED_VM;
	vm = ioctl(kvm, KVM_CREATE_VM, type);
	info("KVM_CREATE_VM(%s)", type ? "KVM_X86_SW_PROTECTED_VM" : "KVM_X86_DEFAULT_VM");
	if (vm < 0) {
		printf("   KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}

	step("capabilities for private memory");
	for (i = 0; i < (int)(sizeof(caps) / sizeof(caps[0])); i++) {
		int r = ioctl(vm, KVM_CHECK_EXTENSION, caps[i].cap);

		info("%-28s %-4s (%s)", caps[i].name, r > 0 ? "yes" : "no", caps[i].what);
		if (caps[i].cap == KVM_CAP_GUEST_MEMFD)
			have_gmem = r > 0;
	}

	if (have_gmem)
		demo_guest_memfd(kvm, vm);
	else
		info("\n   This kernel has no guest_memfd: the remaining steps are skipped.");

	close(vm);
	close(kvm);
	printf("\n%s\n", failures ? "demo: FAILED" : "demo: done");
	return failures ? 1 : 0;
}
