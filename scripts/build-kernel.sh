#!/bin/bash
# Build the test kernel out of tree: tinyconfig + configs/kvm.config in
# build/kout, or + configs/debug.config in build/kout-debug with DEBUG=1, so
# that both stay incrementally buildable from the one source tree; GUEST=1
# builds the guest kernel of `make run` (configs/guest.config) in
# build/kout-guest instead.  Prints
# the bzImage path last.  Uses ccache when installed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
src=${KSRC:-$top/build/linux}
if [ "${GUEST:-0}" = 1 ]; then
	out=${KOUT:-$top/build/kout-guest}
elif [ "${DEBUG:-0}" = 1 ]; then
	out=${KOUT:-$top/build/kout-debug}
else
	out=${KOUT:-$top/build/kout}
fi
jobs=${JOBS:-$(nproc)}

[ -f "$src/Makefile" ] || { echo "build-kernel: no kernel tree at $src (run 'make tree')" >&2; exit 1; }

if [ "${GUEST:-0}" = 1 ]; then
	frags=("$top/configs/guest.config")
else
	frags=("$top/configs/kvm.config")
fi
if [ "${DEBUG:-0}" = 1 ] && [ "${GUEST:-0}" != 1 ]; then
	frags+=("$top/configs/debug.config")
fi
for f in ${EXTRA_FRAGMENTS:-}; do
	frags+=("$f")
done

cc=gcc
if command -v ccache >/dev/null 2>&1; then
	cc="ccache gcc"
	export CCACHE_DIR=${CCACHE_DIR:-$top/build/ccache}
	export CCACHE_BASEDIR=$top/build
	export CCACHE_NOHASHDIR=1
	export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
fi

mkdir -p "$out"

# The symbols the tree's Kconfig files define (menuconfig ones included).
known=$(grep -rhsE --include='Kconfig*' '^[[:space:]]*(menu)?config[[:space:]]+[A-Za-z0-9_]+' "$src" |
	awk '{ print $2 }' | sort -u)

# The fragment lines whose symbol the tree has but the .config does not
# have as asked.  A symbol the tree lacks is not one (6.12 has no
# BASE_FULL; CONFIG_KVM_AMD_SNP_KUNIT_TEST comes with a later patch): it is
# checked from the first build of a tree that has it.
unmet() {
	local f line sym
	for f in "${frags[@]}"; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*)
				sym=${line%%=*}
				if grep -qxF -- "${sym#CONFIG_}" <<< "$known" &&
				   ! grep -qxF -- "$line" "$out/.config" 2>/dev/null; then
					echo "$line (from $(basename "$f"))"
				fi ;;
			esac
		done < "$f"
	done
}

# Rebuild the .config only when a fragment changed, or when the tree gained
# a symbol that a fragment asks for (the kernel's own syncconfig would give
# it its default), so that an incremental build stays incremental.
stamp="$out/.config-fragments"
want=$(cat "${frags[@]}" | sha1sum | cut -d' ' -f1)
# Lint builds (CONFIG_CHECK=0) move one tree across commits whose Kconfig
# files differ, so they always regenerate it.
if [ ! -f "$out/.config" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] ||
   [ "${CONFIG_CHECK:-1}" = 0 ] || [ -n "$(unmet)" ]; then
	make -C "$src" O="$out" CC="$cc" -s tinyconfig >/dev/null
	(cd "$src" && KCONFIG_CONFIG="$out/.config" \
		scripts/kconfig/merge_config.sh -m -O "$out" "$out/.config" "${frags[@]}" >/dev/null)
	make -C "$src" O="$out" CC="$cc" -s olddefconfig >/dev/null
	# Every symbol the fragments ask for must have survived olddefconfig,
	# except in trees that predate some of them (lint's base and bisect
	# builds set CONFIG_CHECK=0).
	missing=$(unmet)
	if [ -n "$missing" ] && [ "${CONFIG_CHECK:-1}" != 0 ]; then
		echo "$missing" | sed 's/^/build-kernel: did not stick: /' >&2
		exit 1
	fi
	echo "$want" > "$stamp"
fi

make -C "$src" O="$out" CC="$cc" -j"$jobs" -s ${KBUILD_EXTRA:-} bzImage
echo "build-kernel: $out/arch/x86/boot/bzImage"
