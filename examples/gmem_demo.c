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

static void demo_guest_memfd(int vm)
{
	struct kvm_create_guest_memfd gmem = { .size = 2 << 20 };
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
	close(fd);
}

int main(void)
{
	int kvm, vm, i, have_gmem = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("guest_memfd demonstration\n");

	step("KVM");
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("   /dev/kvm: %s (is KVM enabled and SVM/VMX exposed?)\n", strerror(errno));
		return 1;
	}
	info("KVM API version %d", ioctl(kvm, KVM_GET_API_VERSION, 0));

	vm = ioctl(kvm, KVM_CREATE_VM, 0);
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
		demo_guest_memfd(vm);
	else
		info("\n   This kernel has no guest_memfd: the remaining steps are skipped.");

	close(vm);
	close(kvm);
	printf("\n%s\n", failures ? "demo: FAILED" : "demo: done");
	return failures ? 1 : 0;
}
