#!/bin/bash
# Series hygiene.  With no argument runs all four checks:
#   checkpatch  scripts/checkpatch.pl --strict on every patch in patches/series:
#               no error, warning or check, except the ones lint/checkpatch-exceptions
#               lists with their reason ("<patch-file-without-number> <TYPE> <reason>").
#   w1          a W=1 build of arch/x86/kvm (which includes virt/kvm) at base and
#               at HEAD: HEAD must add no warning.
#   w1-sev      the same with SEV on (configs/sev.config merged after kvm.config,
#               own output directory and result files): KVM_AMD_SEV must be =y
#               and arch/x86/kvm/svm/sev.o compiled with its SEV code.
#   bisect      build the kernel (and the KVM selftests, when a patch touches
#               them) at every patch of the series, or only at patches
#               BISECT_FROM..BISECT_TO (numbers as in patches/, inclusive).
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
		# Debian's python3 (with python3-ply) for checkpatch's SPDX check.
		if out=$(cd "$tree" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict --quiet --no-summary \
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

# Lint builds happen in one worktree of build/linux (build/lint-tree) with
# one output directory (build/lint-out), both kept between runs: moving the
# worktree from commit to commit rebuilds only what changed.  They see the
# committed series, not uncommitted edits in build/linux.
wt=$B/lint-tree
out=$B/lint-out

lint_checkout() {	# $1 = revision
	if ! git -C "$wt" rev-parse -q --verify HEAD >/dev/null 2>&1; then
		rm -rf "$wt"
		git -C "$tree" worktree prune
		git -C "$tree" worktree add -q --detach "$wt" "$1"
	fi
	git -C "$wt" checkout -q --detach "$(git -C "$tree" rev-parse "$1")"
	git -C "$wt" clean -q -f -d -x -e /usr/
}

# Kernel trees that predate a symbol of the fragment must still build.
lint_build_kernel() {	# [$1 = output directory]
	CONFIG_CHECK=0 KSRC=$wt KOUT=${1:-$out} "$top/scripts/build-kernel.sh"
}

# W=1 build of the KVM objects at the checked-out revision in output
# directory $1; prints the warnings, normalised (no line numbers, which
# patches move).
w1_warnings() {	# $1 = output directory
	local o=$1
	lint_build_kernel "$o" >/dev/null
	find "$o/arch/x86/kvm" -name '*.o' -delete 2>/dev/null || true
	if ! make -C "$wt" O="$o" -j"$jobs" W=1 arch/x86/kvm/ > "$o/w1-build.log" 2>&1; then
		tail -30 "$o/w1-build.log" >&2
		die "the W=1 build of arch/x86/kvm fails at: $(git -C "$wt" log -1 --format='%h %s')"
	fi
	{ grep -E 'warning:' "$o/w1-build.log" || true; } |
		sed -E 's|^.*/(arch/x86/kvm/\|virt/kvm/\|include/)|\1|; s/:[0-9]+(:[0-9]+)?:/:/' |
		sort -u
}

# The W=1 builds at base and HEAD: $1 names the check and its result files
# ($B/$1-base.txt, $B/$1-HEAD.txt), $2 is the output directory, $3 an
# optional command run after each build (given the output directory).
w1_compare() {
	local name=$1 o=$2 verify=${3:-} rev
	for rev in base HEAD; do
		lint_checkout "$rev"
		w1_warnings "$o" > "$B/$name-$rev.txt"
		[ -z "$verify" ] || "$verify" "$o"
	done
	local new
	new=$(comm -13 "$B/$name-base.txt" "$B/$name-HEAD.txt")
	echo "$name: base has $(wc -l < "$B/$name-base.txt") W=1 warnings in arch/x86/kvm, HEAD $(wc -l < "$B/$name-HEAD.txt")"
	if [ -n "$new" ]; then
		echo "$new" | sed 's/^/    /'
		die "the series adds W=1 warnings ($name)"
	fi
	echo "$name: no new warnings"
}

do_w1() {
	w1_compare w1 "$out"
}

# The W=1 build with SEV on really built SEV: the .config has it (lint
# builds skip build-kernel.sh's check) and sev.o holds code that only
# CONFIG_KVM_AMD_SEV compiles (the variable of the 'sev' module parameter).
sev_built() {	# $1 = output directory
	local at
	at=$(git -C "$wt" log -1 --format='%h %s')
	grep -qx 'CONFIG_KVM_AMD_SEV=y' "$1/.config" ||
		die "CONFIG_KVM_AMD_SEV is not =y in $1/.config at: $at (see configs/sev.config)"
	[ -f "$1/arch/x86/kvm/svm/sev.o" ] ||
		die "arch/x86/kvm/svm/sev.o was not compiled at: $at"
	# Not grep -q: nm killed by SIGPIPE would fail the pipeline (pipefail).
	nm "$1/arch/x86/kvm/svm/sev.o" | grep -w sev_enabled >/dev/null ||
		die "arch/x86/kvm/svm/sev.o has no SEV code (no sev_enabled) at: $at"
}

# SEV's own output directory: sharing lint-out with w1 would rebuild the
# whole kernel at every switch of configuration.
do_w1_sev() {
	EXTRA_FRAGMENTS="$top/configs/sev.config" w1_compare w1-sev "$B/kout-sev-lint" sev_built
}

do_bisect() {
	local c n=0 total
	total=$(git -C "$tree" rev-list --count base..HEAD)
	for c in $(git -C "$tree" rev-list --reverse base..HEAD); do
		n=$((n + 1))
		[ "$n" -ge "${BISECT_FROM:-1}" ] && [ "$n" -le "${BISECT_TO:-$total}" ] || continue
		lint_checkout "$c"
		printf 'bisect: [%d/%d] %s\n' "$n" "$total" "$(git -C "$wt" log -1 --format=%s)"
		if ! lint_build_kernel > "$B/bisect.log" 2>&1; then
			tail -30 "$B/bisect.log"
			die "the kernel does not build at: $(git -C "$wt" log -1 --format='%h %s')"
		fi
		if git -C "$wt" diff --quiet "$c~1" "$c" -- tools/testing/selftests/kvm tools/include include/uapi; then
			continue
		fi
		# Out of tree, like the kernel build: an in-tree headers_install
		# would leave the source tree unfit for O= builds.
		make -C "$wt" O="$out" -s headers_install INSTALL_HDR_PATH="$wt/usr" >/dev/null
		# The tests this project runs that exist at this patch (all
		# of 6.1's do not build: steal_time is broken in the base).
		local kvm=$wt/tools/testing/selftests/kvm targets=() t
		for t in $(sed -e 's/#.*//' "$top/tests/list" | awk 'NF && $1 !~ /^(upstream\/|kunit:)/ { print $1 }'); do
			[ -f "$kvm/$t.c" ] && targets+=("$kvm/$t")
		done
		if ! env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make -C "$kvm" -s -j"$jobs" \
				EXTRA_CFLAGS=-static "${targets[@]}" > "$B/bisect.log" 2>&1; then
			tail -30 "$B/bisect.log"
			die "the KVM selftests do not build at: $(git -C "$wt" log -1 --format='%h %s')"
		fi
	done
	echo "bisect: patches ${BISECT_FROM:-1}-${BISECT_TO:-$total} of $total build"
}

case "${1:-all}" in
checkpatch) do_checkpatch ;;
w1) do_w1 ;;
w1-sev) do_w1_sev ;;
bisect) do_bisect ;;
all) do_checkpatch; do_w1; do_w1_sev; do_bisect ;;
*) die "unknown check '$1'" ;;
esac
