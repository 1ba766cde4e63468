#!/bin/bash
# Build what `make run` boots from private memory, into build/guest: the
# guest kernel (configs/guest.config, in build/kout-guest), its initramfs
# (examples/guest_init.c as /init) and the VMM, examples/gmem_boot.c.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
tree=$top/build/linux
out=${GUEST_DIR:-$top/build/guest}
kout=$top/build/kout-guest

mkdir -p "$out"
GUEST=1 KOUT="$kout" "$top/scripts/build-kernel.sh" >/dev/null
cp "$kout/arch/x86/boot/bzImage" "$out/bzImage"

gcc -static -O2 -Wall -Werror -o "$out/init" "$top/examples/guest_init.c"
cat > "$out/initramfs.list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
file /init $out/init 0755 0 0
LIST
"$kout/usr/gen_init_cpio" "$out/initramfs.list" > "$out/initrd"

gcc -static -O2 -Wall -Werror -I"$tree/usr/include" \
	-o "$out/gmem_boot" "$top/examples/gmem_boot.c"
log "guest kernel, initramfs and gmem_boot in ${out#$top/}"
