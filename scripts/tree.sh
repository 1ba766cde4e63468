#!/bin/bash
# Create build/linux from the base kernel source and apply patches/series.
#
# Base source, in order of preference:
#   BASE_TARBALL=/path/linux-6.1.y.tar.xz   a kernel.org (or any) 6.1 tarball
#   /usr/src/linux-source-6.1.tar.xz        Debian's linux-source-6.1 (installed when missing)
#
# The tree is a git repository whose pristine base commit is tagged 'base';
# the series is applied on top with 'git am'.  Re-running is safe: a tree
# that already carries exactly the series is left alone, and a tree holding
# unexported commits or uncommitted edits is never thrown away (FORCE=1
# rebuilds it from scratch anyway).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux
patches=$top/patches
. "$top/scripts/lib.sh"

git_k() { git -C "$tree" -c user.name="guest_memfd series" -c user.email=series@localhost "$@"; }

series_files() {
	[ -f "$patches/series" ] || return 0
	grep -v -e '^#' -e '^[[:space:]]*$' "$patches/series" | sed "s|^|$patches/|"
}

series_ids() {
	local f
	series_files | while read -r f; do cat "$f"; done | git patch-id --stable | awk '{print $1}' | sort
}

tree_ids() {
	git_k format-patch --stdout base..HEAD | git patch-id --stable | awk '{print $1}' | sort
}

apply_series() {
	local f n=0
	for f in $(series_files); do
		[ -f "$f" ] || die "patches/series names $(basename "$f"), which does not exist"
		if ! git_k am -q --keep-cr "$f" >/dev/null 2>"$top/build/git-am.log"; then
			git_k am --abort >/dev/null 2>&1 || true
			cat "$top/build/git-am.log" >&2
			die "patch does not apply: $(basename "$f")"
		fi
		n=$((n + 1))
	done
	log "applied $n patches on top of base ($(git_k describe --tags --always HEAD))"
}

recorded_base() {
	[ -f "$patches/0000-cover-letter.patch" ] || return 0
	sed -n 's/^Base: Linux \([0-9][0-9.]*\).*/\1/p' "$patches/0000-cover-letter.patch" 2>/dev/null | head -n1
}

check_base_version() {
	local have want
	have=$(make -s -C "$tree" kernelversion 2>/dev/null)
	want=$(recorded_base)
	if [ -n "$want" ] && [ "$have" != "$want" ]; then
		warn "base is Linux $have, but the cover letter records Linux $want; the series may not apply or behave as tested"
	fi
}

extract_base() {
	local tarball=${BASE_TARBALL:-}
	if [ -z "$tarball" ]; then
		tarball=/usr/src/linux-source-6.1.tar.xz
		[ -f "$tarball" ] || "$top/scripts/deps.sh" linux-source-6.1
		[ -f "$tarball" ] || die "no $tarball; install Debian's linux-source-6.1 or set BASE_TARBALL"
	fi
	[ -f "$tarball" ] || die "BASE_TARBALL=$tarball does not exist"
	log "extracting $(basename "$tarball")"
	local tmp=$top/build/.extract
	rm -rf "$tmp" "$tree"
	mkdir -p "$tmp"
	tar -C "$tmp" -xf "$tarball"
	local dir
	dir=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
	[ -f "$dir/Makefile" ] || die "$tarball does not look like a kernel source tarball"
	mv "$dir" "$tree"
	rm -rf "$tmp"
	# Debian's tarball ignores every top-level path (its packaging repo
	# keeps the kernel elsewhere); drop that block so that new files in
	# the tree are seen by git.
	if grep -q '^# Debian packaging: ignore everything' "$tree/.gitignore"; then
		awk '/^# Debian packaging: ignore everything/ { exit }
		     { if (held != "") print held; held = $0; if (held == "") { print; held = "" } }
		     END { }' "$tree/.gitignore" > "$tree/.gitignore.new"
		mv "$tree/.gitignore.new" "$tree/.gitignore"
	fi
	rm -rf "$tree/.git"
	git_k init -q
	git_k config core.autocrlf false
	git_k add -A
	git_k commit -q -m "Linux $(make -s -C "$tree" kernelversion) ($(basename "$tarball"))"
	git_k tag base
}

mkdir -p "$top/build"
if [ -d "$tree/.git" ] && git_k rev-parse -q --verify base >/dev/null; then
	if [ "${FORCE:-0}" != 1 ]; then
		# 'make check' and 'make run' test a developer's work in
		# progress as it is; only 'make tree' insists on the series.
		complain=die
		[ "${TREE_LENIENT:-0}" = 1 ] && complain=warn
		if [ -n "$(git_k status --porcelain --untracked-files=no)" ]; then
			$complain "build/linux has uncommitted edits; commit and 'make export' them, or FORCE=1 make tree to discard"
			exit 0
		fi
		if [ "$(tree_ids)" = "$(series_ids)" ]; then
			check_base_version
			log "build/linux already carries the series ($(git_k rev-list --count base..HEAD) patches)"
			exit 0
		fi
		if [ "$(git_k rev-list --count base..HEAD)" != 0 ]; then
			$complain "build/linux has commits that differ from patches/ ('make export' them first, or FORCE=1 make tree to discard)"
			exit 0
		fi
	else
		git_k am --abort >/dev/null 2>&1 || true
		git_k checkout -q -f base 2>/dev/null || true
		git_k checkout -q -B master base
		git_k clean -qfdx
	fi
else
	extract_base
	git_k checkout -q -B master base
fi
check_base_version
apply_series
