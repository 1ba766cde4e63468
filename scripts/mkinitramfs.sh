#!/bin/bash
# Pack build/initramfs.cpio.gz: static busybox, tests/init, tests/list and
# the statically linked test binaries staged under build/tests/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
stage=${STAGE_DIR:-$top/build/tests}
root=${ROOT_DIR:-$top/build/initramfs}
out=${1:-$top/build/initramfs.cpio.gz}

bb=/bin/busybox
if [ ! -x "$bb" ] || ldd "$bb" >/dev/null 2>&1; then
	"$top/scripts/deps.sh" busybox-static
	! ldd "$bb" >/dev/null 2>&1 || die "$bb is not statically linked (install busybox-static)"
fi
[ -d "$stage" ] || die "no staged tests in build/tests (run 'make selftests')"

rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,tests}
cp "$bb" "$root/bin/busybox"
cp "$top/tests/init" "$root/init"
chmod +x "$root/init"
cp -a "$stage/." "$root/tests/"
cp "${TEST_LIST:-$top/tests/list}" "$root/tests/list"
# make run: the guest that gmem_boot boots from private memory.
if [ -n "${GUEST_DIR:-}" ]; then
	mkdir -p "$root/tests/guest"
	cp "$GUEST_DIR/bzImage" "$GUEST_DIR/initrd" "$GUEST_DIR/gmem_boot" "$root/tests/guest/"
fi
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 > "$out"
log "$(basename "$out"): $(du -h "$out" | cut -f1)"
