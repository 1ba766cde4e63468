#!/bin/bash
# Build, statically linked, the selftests named in tests/list and stage them
# under build/tests/ for the initramfs:
#   x86_64/foo, foo          from the patched tree (build/linux), against its
#                            own installed uAPI headers;
#   upstream/foo             the unmodified selftest 'foo' of Linux 6.12
#                            (Debian's linux-source-6.12), built in its own
#                            tree (build/linux-6.12) with its own headers;
#   kunit:suite              nothing: a KUnit suite built into the kernel.
# Also builds the demonstration program examples/gmem_demo.c.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
tree=${KTREE:-$top/build/linux}
up=$top/build/linux-6.12
stage=${STAGE_DIR:-$top/build/tests}
jobs=${JOBS:-$(nproc)}
list=${TEST_LIST:-$top/tests/list}

[ -f "$tree/Makefile" ] || die "no build/linux (run 'make tree')"

entries() { sed -e 's/#.*//' "$list" | awk 'NF { print $1 }' | sort -u; }

build_suite() {	# $1 = kernel tree, $2 = stage dir, rest = test paths
	local ktree=$1 dst=$2; shift 2
	local kvm=$ktree/tools/testing/selftests/kvm targets=() t
	[ $# -gt 0 ] || return 0
	# Out of tree (the headers still land in $ktree/usr, where the
	# selftests look), so the source tree stays clean for O= kernel builds.
	make -C "$ktree" O="$top/build/hdr-$(basename "$ktree")" -s headers_install \
		INSTALL_HDR_PATH="$ktree/usr" >/dev/null
	for t in "$@"; do
		targets+=("$kvm/$t")
	done
	# The selftests' lib.mk only sets OUTPUT in a top-level make: never
	# let it see that 'make check' is our caller.
	env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS \
		make -C "$kvm" -s -j"$jobs" EXTRA_CFLAGS=-static "${targets[@]}" >/dev/null
	for t in "$@"; do
		mkdir -p "$dst/$(dirname "$t")"
		cp "$kvm/$t" "$dst/$t"
	done
}

upstream_tree() {
	local tarball=/usr/src/linux-source-6.12.tar.xz
	[ -f "$up/Makefile" ] && return 0
	[ -f "$tarball" ] || "$top/scripts/deps.sh" linux-source-6.12
	log "extracting $(basename "$tarball") for the upstream conformance tests"
	rm -rf "$up" "$top/build/.extract-6.12"
	mkdir -p "$top/build/.extract-6.12"
	tar -C "$top/build/.extract-6.12" -xf "$tarball"
	mv "$top/build/.extract-6.12"/linux-source-6.12 "$up"
	rmdir "$top/build/.extract-6.12"
}

rm -rf "$stage"
mkdir -p "$stage"
ours=() theirs=()
for e in $(entries); do
	case "$e" in
	upstream/*) theirs+=("${e#upstream/}") ;;
	demo|guest/*|kunit:*) ;;
	*) ours+=("$e") ;;
	esac
done

build_suite "$tree" "$stage" "${ours[@]}"
if [ ${#theirs[@]} -gt 0 ]; then
	upstream_tree
	build_suite "$up" "$stage/upstream" "${theirs[@]}"
fi

gcc -static -O2 -Wall -Werror -I"$tree/usr/include" -I"$top/examples" \
	-o "$stage/demo" "$top/examples/gmem_demo.c" -lpthread
log "staged ${#ours[@]} tests, ${#theirs[@]} upstream tests and the demo in build/tests"
