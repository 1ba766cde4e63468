// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the guest that gmem_boot boots from private memory: say what
 * ran, show a little of what the guest kernel sees, and report to the
 * VMM's exit port.  Built statically; the guest has nothing else.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/utsname.h>

#define EXIT_PORT	0xf4

static void show(const char *path, const char *prefix)
{
	char line[256];
	FILE *f = fopen(path, "r");

	if (!f) {
		printf("init: cannot open %s\n", path);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!prefix || !strncmp(line, prefix, strlen(prefix)))
			printf("init: %s: %s", path, line);
	}
	fclose(f);
}

int main(void)
{
	struct utsname u;
	int status = 0;

	if (mount("proc", "/proc", "proc", 0, NULL))
		status = 1;
	uname(&u);
	printf("init: hello from %s %s, running from private memory\n", u.sysname, u.release);
	show("/proc/cmdline", NULL);
	show("/proc/meminfo", "MemTotal");
	show("/proc/cpuinfo", "model name");
	show("/proc/interrupts", "LOC");
	fflush(stdout);

	if (!ioperm(EXIT_PORT, 1, 1))
		outb(status, EXIT_PORT);
	reboot(RB_AUTOBOOT);
	return status;
}
