#!/bin/bash
# Series hygiene.  With no argument runs all three checks:
#   checkpatch  scripts/checkpatch.pl --strict on every patch in patches/series:
#               no error, warning or check, except the ones lint/checkpatch-exceptions
#               lists with their reason ("<patch-file-without-number> <TYPE> <reason>").
#   w1          a W=1 build of arch/x86/kvm (which includes virt/kvm) at base and
#               at HEAD: HEAD must add no warning.
#   bisect      build the kernel (and the KVM selftests, when a patch touches
#               them) at every patch of the series.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
tree=$top/build/linux
patches=$top/patches
B=$top/build
jobs=${JOBS:-$(nproc)}
exceptions=$top/lint/checkpatch-exceptions

series() { grep -v -e '^#' -e '^[[:space:]]*$' "$patches/series" 2>/dev/null || true; }

do_checkpatch() {
	local p bad=0 ignore out
	for p in $(series); do
		# Exceptions name patches without their number, which moves.
		ignore=$(awk -v p="${p#[0-9][0-9][0-9][0-9]-}" '$1 == p { printf "%s,", $2 }' "$exceptions" 2>/dev/null)
		if out=$(cd "$tree" && scripts/checkpatch.pl --strict --quiet --no-summary \
				--show-types ${ignore:+--ignore "${ignore%,}"} "$patches/$p"); then
			echo "checkpatch: ok    $p"
		else
			echo "checkpatch: FAIL  $p"
			echo "$out" | sed 's/^/    /'
			bad=1
		fi
	done
	[ "$bad" = 0 ] || die "checkpatch found problems"
}

# W=1 build of the KVM objects in a separate output directory so that the
# normal build is untouched; prints the warnings, normalised (no line numbers).
w1_warnings() {	# $1 = source tree, $2 = output dir
	mkdir -p "$2"
	KSRC=$1 KOUT=$2 "$top/scripts/build-kernel.sh" >/dev/null
	find "$2/arch/x86/kvm" -name '*.o' -delete 2>/dev/null || true
	make -C "$1" O="$2" -j"$jobs" W=1 arch/x86/kvm/ 2>&1 >/dev/null |
		grep -E 'warning:' | sed -E 's|^.*/(arch/x86/kvm/\|virt/kvm/\|include/)|\1|; s/:[0-9]+:[0-9]+:/:/' |
		sort -u
}

do_w1() {
	local wt=$B/w1-base
	rm -rf "$wt"; git -C "$tree" worktree prune
	git -C "$tree" worktree add -q --detach "$wt" base
	w1_warnings "$wt" "$B/w1-base-out" > "$B/w1-base.txt"
	w1_warnings "$tree" "$B/w1-head-out" > "$B/w1-head.txt"
	git -C "$tree" worktree remove --force "$wt"
	local new
	new=$(comm -13 "$B/w1-base.txt" "$B/w1-head.txt")
	echo "w1: base has $(wc -l < "$B/w1-base.txt") W=1 warnings in arch/x86/kvm, HEAD $(wc -l < "$B/w1-head.txt")"
	if [ -n "$new" ]; then
		echo "$new" | sed 's/^/    /'
		die "the series adds W=1 warnings"
	fi
	echo "w1: no new warnings"
}

do_bisect() {
	local wt=$B/bisect c n=0 total
	total=$(git -C "$tree" rev-list --count base..HEAD)
	rm -rf "$wt"; git -C "$tree" worktree prune
	git -C "$tree" worktree add -q --detach "$wt" base
	for c in $(git -C "$tree" rev-list --reverse base..HEAD); do
		n=$((n + 1))
		git -C "$wt" checkout -q "$c"
		printf 'bisect: [%d/%d] %s\n' "$n" "$total" "$(git -C "$wt" log -1 --format=%s)"
		if ! KSRC=$wt KOUT=$B/bisect-out "$top/scripts/build-kernel.sh" > "$B/bisect.log" 2>&1; then
			tail -30 "$B/bisect.log"
			die "the kernel does not build at: $(git -C "$wt" log -1 --format='%h %s')"
		fi
		if git -C "$wt" diff --quiet "$c~1" "$c" -- tools/testing/selftests/kvm tools/include include/uapi; then
			continue
		fi
		make -C "$wt" -s headers_install INSTALL_HDR_PATH="$wt/usr" >/dev/null
		if ! make -C "$wt/tools/testing/selftests/kvm" -s -j"$jobs" > "$B/bisect.log" 2>&1; then
			tail -30 "$B/bisect.log"
			die "the KVM selftests do not build at: $(git -C "$wt" log -1 --format='%h %s')"
		fi
	done
	git -C "$tree" worktree remove --force "$wt"
	echo "bisect: all $total patches build"
}

case "${1:-all}" in
checkpatch) do_checkpatch ;;
w1) do_w1 ;;
bisect) do_bisect ;;
all) do_checkpatch; do_w1; do_bisect ;;
*) die "unknown check '$1'" ;;
esac
