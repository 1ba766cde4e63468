// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_boot: boot a Linux guest whose whole RAM is private memory.
 *
 * A small VMM for a KVM_X86_SW_PROTECTED_VM that keeps its private/shared
 * state in its guest_memfd (kvm.gmem_in_place_conversion):
 *
 *  1. all of guest RAM is one guest_memfd, created shared and mapped;
 *  2. the VMM loads the kernel (64-bit boot protocol), the initramfs, the
 *     boot parameters, a GDT and page tables through that mapping;
 *  3. it converts the whole file to private in place, with one
 *     KVM_SET_MEMORY_ATTRIBUTES2, before the first guest instruction;
 *  4. it runs the vCPU, emulating a serial port for the console and an
 *     exit port (0xf4) that the guest's /init writes its status to.
 *
 * Before and after, it counts the pages it can read through its mapping,
 * and shows that the kernel image it loaded is out of its reach.
 *
 * Usage: gmem_boot BZIMAGE INITRD [MiB of RAM] [kernel command line]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/kvm.h>

#define PARAM		"/sys/module/kvm/parameters/gmem_in_place_conversion"

/* Guest physical layout below 1 MiB, and where the kernel goes. */
#define GDT_GPA		0x1000ul
#define PML4_GPA	0x2000ul
#define PDPT_GPA	0x3000ul
#define PD_GPA		0x4000ul
#define ZERO_PAGE_GPA	0x7000ul
#define CMDLINE_GPA	0x20000ul
#define KERNEL_GPA	0x1000000ul

#define EXIT_PORT	0xf4
/* The keyboard controller's command port: 0xfe pulses the reset line. */
#define KBD_CMD_PORT	0x64
#define KBD_CMD_RESET	0xfe
#define COM1		0x3f8
#define COM1_IRQ	4

/*
 * The guest cannot calibrate its TSC against the PIT under emulation, so
 * the VMM tells it the TSC frequency KVM gives it (tsc_early_khz=).
 */
#define DEFAULT_CMDLINE	"console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 reboot=k"

/* Offsets in struct boot_params and its setup header (boot protocol). */
#define BP_E820_ENTRIES		0x1e8
#define BP_HDR			0x1f1
#define BP_E820_TABLE		0x2d0
#define HDR_SETUP_SECTS		0x1f1
#define HDR_BOOT_FLAG		0x1fe
#define HDR_HEADER		0x202
#define HDR_VERSION		0x206
#define HDR_TYPE_OF_LOADER	0x210
#define HDR_LOADFLAGS		0x211
#define HDR_RAMDISK_IMAGE	0x218
#define HDR_RAMDISK_SIZE	0x21c
#define HDR_HEAP_END_PTR	0x224
#define HDR_CMD_LINE_PTR	0x228
#define HDR_INITRD_ADDR_MAX	0x22c
#define HDR_XLOADFLAGS		0x236
#define HDR_CMDLINE_SIZE	0x238

#define LOADED_HIGH		0x01
#define CAN_USE_HEAP		0x80
#define XLF_KERNEL_64		0x01

#define E820_RAM		1
#define E820_RESERVED		2

static uint8_t *ram;
static size_t ram_size;
static int gmem_fd;

static void die(const char *what)
{
	fprintf(stderr, "gmem_boot: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "gmem_boot: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void *read_file(const char *path, size_t *size)
{
	struct stat st;
	void *buf;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		die(path);
	buf = malloc(st.st_size);
	if (!buf || read(fd, buf, st.st_size) != st.st_size)
		die(path);
	close(fd);
	*size = st.st_size;
	return buf;
}

/*
 * Whether the VMM can read the page at @offset of guest RAM.  Reading
 * through /proc/self/mem takes the same page fault as a load from the
 * mapping would, but reports a page the host may not map as EIO instead
 * of SIGBUS.
 */
static bool host_can_read(int mem_fd, size_t offset)
{
	uint8_t byte;

	return pread(mem_fd, &byte, 1, (off_t)(uintptr_t)(ram + offset)) == 1;
}

static void count_pages(const char *when)
{
	size_t off, readable = 0, pages = ram_size / 4096;
	int mem_fd = open("/proc/self/mem", O_RDONLY);

	if (mem_fd < 0)
		die("/proc/self/mem");
	for (off = 0; off < ram_size; off += 4096)
		readable += host_can_read(mem_fd, off);
	close(mem_fd);
	printf("gmem_boot: %s: %zu of %zu pages shared (the VMM can read them), %zu private\n",
	       when, readable, pages, pages - readable);
}

static sigjmp_buf sigbus_env;

static void on_sigbus(int sig)
{
	siglongjmp(sigbus_env, 1);
}

/* Load the first bytes of the kernel image: SIGBUS once RAM is private. */
static void try_to_read_kernel(const uint8_t *image_start, const char *when)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	volatile uint64_t word = 0;

	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(sigbus_env, 1)) {
		printf("gmem_boot: %s: reading the kernel image at 0x%lx raised SIGBUS\n",
		       when, KERNEL_GPA);
		return;
	}
	memcpy((void *)&word, ram + KERNEL_GPA, sizeof(word));
	printf("gmem_boot: %s: the kernel image at 0x%lx reads %016lx (%s)\n", when,
	       KERNEL_GPA, (unsigned long)word,
	       memcmp((void *)&word, image_start, sizeof(word)) ? "not what was loaded" :
								 "what was loaded");
}

static void put_e820(uint8_t *bp, int i, uint64_t addr, uint64_t size, uint32_t type)
{
	uint8_t *e = bp + BP_E820_TABLE + i * 20;

	memcpy(e, &addr, 8);
	memcpy(e + 8, &size, 8);
	memcpy(e + 16, &type, 4);
}

/* Load kernel, initramfs, boot parameters, GDT and page tables into RAM. */
static uint64_t load_guest(const char *bzimage, const char *initrd, const char *cmdline,
			   const uint8_t **image_start)
{
	size_t kernel_size, initrd_size, setup_size, hdr_end;
	uint8_t *kernel = read_file(bzimage, &kernel_size);
	uint8_t *rd = read_file(initrd, &initrd_size);
	uint8_t *bp = ram + ZERO_PAGE_GPA;
	uint64_t *pml4 = (void *)(ram + PML4_GPA);
	uint64_t *pdpt = (void *)(ram + PDPT_GPA);
	uint64_t *pd = (void *)(ram + PD_GPA);
	uint64_t *gdt = (void *)(ram + GDT_GPA);
	uint32_t initrd_gpa, initrd_max, u32;
	uint16_t version;
	int i, setup_sects;

	if (kernel_size < 0x1000 || *(uint16_t *)(kernel + HDR_BOOT_FLAG) != 0xaa55 ||
	    memcmp(kernel + HDR_HEADER, "HdrS", 4))
		fail("%s is not a bzImage", bzimage);
	memcpy(&version, kernel + HDR_VERSION, 2);
	if (version < 0x206 || !(kernel[HDR_XLOADFLAGS] & XLF_KERNEL_64))
		fail("%s has boot protocol %x without a 64-bit entry", bzimage, version);

	setup_sects = kernel[HDR_SETUP_SECTS] ? kernel[HDR_SETUP_SECTS] : 4;
	setup_size = (setup_sects + 1) * 512;
	if (KERNEL_GPA + kernel_size - setup_size > ram_size / 2)
		fail("%s does not fit in %zu MiB", bzimage, ram_size >> 20);
	memcpy(ram + KERNEL_GPA, kernel + setup_size, kernel_size - setup_size);
	*image_start = kernel + setup_size;

	/* The setup header, as the boot protocol says, then what we fill in. */
	memset(bp, 0, 4096);
	hdr_end = 0x202 + kernel[0x201];
	memcpy(bp + BP_HDR, kernel + BP_HDR, hdr_end - BP_HDR);
	bp[HDR_TYPE_OF_LOADER] = 0xff;
	bp[HDR_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	*(uint16_t *)(bp + HDR_HEAP_END_PTR) = 0xfe00;
	u32 = CMDLINE_GPA;
	memcpy(bp + HDR_CMD_LINE_PTR, &u32, 4);
	memcpy(&u32, kernel + HDR_CMDLINE_SIZE, 4);
	if (strlen(cmdline) >= u32)
		fail("the command line is longer than the kernel takes (%u)", u32);
	strcpy((char *)ram + CMDLINE_GPA, cmdline);

	/* The initramfs goes as high as the kernel lets it, page aligned. */
	memcpy(&initrd_max, kernel + HDR_INITRD_ADDR_MAX, 4);
	initrd_gpa = ram_size - 4096 - initrd_size;
	if (initrd_gpa > initrd_max - initrd_size)
		initrd_gpa = initrd_max - initrd_size;
	initrd_gpa &= ~4095u;
	memcpy(ram + initrd_gpa, rd, initrd_size);
	memcpy(bp + HDR_RAMDISK_IMAGE, &initrd_gpa, 4);
	u32 = initrd_size;
	memcpy(bp + HDR_RAMDISK_SIZE, &u32, 4);

	bp[BP_E820_ENTRIES] = 3;
	put_e820(bp, 0, 0, 0x9fc00, E820_RAM);
	put_e820(bp, 1, 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
	put_e820(bp, 2, 0x100000, ram_size - 0x100000, E820_RAM);

	/* Null, null, 64-bit code (0x10), data (0x18). */
	gdt[2] = 0x00af9b000000ffffull;
	gdt[3] = 0x00cf93000000ffffull;

	/* The first GiB, identity mapped with 2 MiB pages. */
	pml4[0] = PDPT_GPA | 3;
	pdpt[0] = PD_GPA | 3;
	for (i = 0; i < 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;

	printf("gmem_boot: loaded %s (%zu bytes at 0x%lx) and %s (%zu bytes at 0x%x)\n",
	       bzimage, kernel_size - setup_size, KERNEL_GPA, initrd, initrd_size, initrd_gpa);
	free(rd);
	return KERNEL_GPA + 0x200;
}

static void set_cpuid(int kvm_fd, int vcpu_fd)
{
	struct kvm_cpuid2 *cpuid;
	unsigned int i, n = 128;

	cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
	cpuid->nent = n;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
		die("KVM_GET_SUPPORTED_CPUID");
	/*
	 * Keep the KVM signature, which lets the guest switch its local APIC
	 * to x2APIC mode (MSRs rather than MMIO), but offer no paravirtual
	 * feature: kvmclock, steal time and the like would have KVM write
	 * into guest memory that is private.
	 */
	for (i = 0; i < cpuid->nent; i++) {
		if (cpuid->entries[i].function == 0x40000001)
			cpuid->entries[i].eax = 0;
		/* No XSAVE: FXSAVE is enough, and the XSAVE leaves need not agree. */
		if (cpuid->entries[i].function == 1)
			cpuid->entries[i].ecx &= ~((1u << 26) | (1u << 27) | (1u << 28));
	}
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid))
		die("KVM_SET_CPUID2");
	free(cpuid);
}

static void set_boot_state(int vcpu_fd, uint64_t entry)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 11,
		.present = 1, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.base = 0, .limit = 0xffffffff, .selector = 0x18, .type = 3,
		.present = 1, .s = 1, .db = 1, .g = 1,
	};
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = entry,
		.rsi = ZERO_PAGE_GPA,
		.rflags = 2,
	};

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs))
		die("KVM_GET_SREGS");
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.cr0 = 0x80050033;		/* PG, AM, WP, NE, ET, MP, PE */
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = 0x20;		/* PAE */
	sregs.efer = 0x500;		/* LMA, LME */
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs))
		die("KVM_SET_SREGS");
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs))
		die("KVM_SET_REGS");
}

/*
 * A 16550A at COM1, as much of it as Linux's 8250 driver probes and uses:
 * transmit only, an interrupt whenever the transmitter is empty and that
 * interrupt is enabled.
 */
struct uart {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thri_pending;
};

static void uart_irq(int vm_fd, struct uart *u)
{
	struct kvm_irq_level irq = { .irq = COM1_IRQ };

	if (!(u->ier & 0x02) || !u->thri_pending)
		return;
	irq.level = 1;
	ioctl(vm_fd, KVM_IRQ_LINE, &irq);
	irq.level = 0;
	ioctl(vm_fd, KVM_IRQ_LINE, &irq);
}

static void uart_io(int vm_fd, struct uart *u, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned int reg = run->io.port - COM1;
	bool dlab = u->lcr & 0x80;

	if (run->io.direction == KVM_EXIT_IO_OUT) {
		switch (reg) {
		case 0:
			if (dlab) {
				u->dll = *data;
			} else {
				putchar(*data);
				if (*data == '\n')
					fflush(stdout);
				u->thri_pending = true;
			}
			break;
		case 1:
			if (dlab) {
				u->dlm = *data;
			} else {
				u->ier = *data & 0x0f;
				u->thri_pending = true;
			}
			break;
		case 2:
			u->fcr = *data;
			break;
		case 3:
			u->lcr = *data;
			break;
		case 4:
			u->mcr = *data & 0x1f;
			break;
		case 7:
			u->scr = *data;
			break;
		}
		uart_irq(vm_fd, u);
		return;
	}

	switch (reg) {
	case 0:
		*data = dlab ? u->dll : 0;
		break;
	case 1:
		*data = dlab ? u->dlm : u->ier;
		break;
	case 2:
		/* FIFOs as enabled, and the one interrupt this UART raises. */
		*data = (u->fcr & 1 ? 0xc0 : 0) |
			(u->ier & 0x02 && u->thri_pending ? 0x02 : 0x01);
		u->thri_pending = false;
		break;
	case 3:
		*data = u->lcr;
		break;
	case 4:
		*data = u->mcr;
		break;
	case 5:
		*data = 0x60;	/* transmitter empty, never anything to receive */
		break;
	case 6:
		/* In loopback, the modem lines follow the control lines. */
		*data = u->mcr & 0x10 ? ((u->mcr & 0x01) << 5) | ((u->mcr & 0x02) << 3) |
					((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4) :
					0xb0;
		break;
	case 7:
		*data = u->scr;
		break;
	}
}

int main(int argc, char *argv[])
{
	const char *extra = argc > 4 ? argv[4] : DEFAULT_CMDLINE;
	char cmdline[512];
	long tsc_khz;
	struct kvm_create_guest_memfd gmem = {};
	struct kvm_userspace_memory_region2 region = {};
	struct kvm_memory_attributes2 attrs = {};
	struct kvm_pit_config pit = {};
	int kvm_fd, vm_fd, vcpu_fd, param_fd, status = -1;
	const uint8_t *image_start;
	char saved_param = 'N';
	struct kvm_run *run;
	struct uart uart = {};
	unsigned long exits = 0;
	uint64_t entry;

	if (argc < 3)
		fail("usage: %s BZIMAGE INITRD [MiB of RAM] [command line]", argv[0]);
	ram_size = (argc > 3 ? strtoul(argv[3], NULL, 0) : 128) << 20;
	if (ram_size < (64ul << 20) || ram_size > (1ul << 30))
		fail("RAM must be 64 MiB to 1 GiB");

	/* VMs created now keep their private memory in their guest_memfds. */
	param_fd = open(PARAM, O_RDWR);
	if (param_fd < 0 || read(param_fd, &saved_param, 1) != 1 ||
	    pwrite(param_fd, "Y", 1, 0) != 1)
		die(PARAM);

	kvm_fd = open("/dev/kvm", O_RDWR);
	if (kvm_fd < 0)
		die("/dev/kvm");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vm_fd < 0)
		die("KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)");
	if (pwrite(param_fd, &saved_param, 1, 0) != 1)
		die(PARAM);
	close(param_fd);
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES) !=
	    KVM_MEMORY_ATTRIBUTE_PRIVATE)
		fail("the VM cannot convert guest_memfd pages in place");
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) ||
	    ioctl(vm_fd, KVM_CREATE_IRQCHIP) || ioctl(vm_fd, KVM_CREATE_PIT2, &pit))
		die("setting up the in-kernel TSS, irqchip and PIT");

	/* All of RAM: one guest_memfd, shared for now, mapped by the VMM. */
	gmem.size = ram_size;
	gmem.flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
	gmem_fd = ioctl(vm_fd, KVM_CREATE_GUEST_MEMFD, &gmem);
	if (gmem_fd < 0)
		die("KVM_CREATE_GUEST_MEMFD");
	ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, gmem_fd, 0);
	if (ram == MAP_FAILED)
		die("mmap(guest_memfd)");
	region.slot = 0;
	region.flags = KVM_MEM_GUEST_MEMFD;
	region.memory_size = ram_size;
	region.userspace_addr = (uintptr_t)ram;
	region.guest_memfd = gmem_fd;
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &region))
		die("KVM_SET_USER_MEMORY_REGION2");

	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0)
		die("KVM_CREATE_VCPU");
	tsc_khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
	if (tsc_khz <= 0)
		die("KVM_GET_TSC_KHZ");
	snprintf(cmdline, sizeof(cmdline), "%s tsc_early_khz=%ld", extra, tsc_khz);

	entry = load_guest(argv[1], argv[2], cmdline, &image_start);
	count_pages("loaded");
	try_to_read_kernel(image_start, "loaded");

	/* Every page private, in place, before the first instruction. */
	attrs.offset = 0;
	attrs.size = ram_size;
	attrs.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE;
	if (ioctl(gmem_fd, KVM_SET_MEMORY_ATTRIBUTES2, &attrs))
		die("KVM_SET_MEMORY_ATTRIBUTES2(all of RAM, private)");
	count_pages("converted");
	try_to_read_kernel(image_start, "converted");

	run = mmap(NULL, ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0),
		   PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED)
		die("mmap(vCPU)");
	set_cpuid(kvm_fd, vcpu_fd);
	set_boot_state(vcpu_fd, entry);

	printf("gmem_boot: starting the guest at 0x%lx, command line \"%s\"\n", entry, cmdline);
	printf("---------------------------------------- guest console\n");
	fflush(stdout);
	while (status < 0) {
		if (ioctl(vcpu_fd, KVM_RUN, 0)) {
			if (errno == EINTR)
				continue;
			if (run->exit_reason == KVM_EXIT_MEMORY_FAULT)
				fail("KVM_RUN: memory fault at gpa 0x%llx (%s)",
				     run->memory_fault.gpa,
				     run->memory_fault.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE ?
				     "private" : "shared");
			die("KVM_RUN");
		}
		exits++;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.port >= COM1 && run->io.port < COM1 + 8)
				uart_io(vm_fd, &uart, run);
			else if (run->io.port == EXIT_PORT &&
				 run->io.direction == KVM_EXIT_IO_OUT)
				status = *((uint8_t *)run + run->io.data_offset);
			else if (run->io.port == KBD_CMD_PORT &&
				 run->io.direction == KVM_EXIT_IO_OUT &&
				 *((uint8_t *)run + run->io.data_offset) == KBD_CMD_RESET)
				fail("the guest reset itself after %lu exits, without reporting a status",
				     exits);
			else if (run->io.direction == KVM_EXIT_IO_IN)
				memset((uint8_t *)run + run->io.data_offset, 0xff,
				       run->io.size * run->io.count);
			break;
		case KVM_EXIT_MMIO:
			/* Nothing is behind any MMIO address: reads give ones. */
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff, run->mmio.len);
			break;
		case KVM_EXIT_SHUTDOWN:
			fail("the guest shut down (triple fault) after %lu exits", exits);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			fail("KVM internal error %u after %lu exits", run->internal.suberror, exits);
			break;
		default:
			fail("unexpected exit reason %u after %lu exits", run->exit_reason, exits);
		}
	}
	fflush(stdout);
	printf("---------------------------------------- end of guest console\n");
	printf("gmem_boot: the guest's /init reported status %d after %lu exits to the VMM\n",
	       status, exits);
	count_pages("after the guest ran");
	try_to_read_kernel(image_start, "after the guest ran");
	return status;
}
