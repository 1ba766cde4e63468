#!/bin/bash
# Write build/linux base..HEAD back to patches/ as git format-patch files,
# plus patches/series and the cover letter.  The output depends only on the
# commits (no hashes, dates of export or tool versions), so re-exporting an
# unchanged commit leaves its file unchanged.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux
patches=$top/patches
. "$top/scripts/lib.sh"

[ -d "$tree/.git" ] || die "no build/linux (run 'make tree')"
git -C "$tree" rev-parse -q --verify base >/dev/null || die "build/linux has no 'base' tag"
if [ -n "$(git -C "$tree" status --porcelain --untracked-files=no)" ]; then
	warn "build/linux has uncommitted edits; they are not exported"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=$(git -C "$tree" rev-list --count base..HEAD)
version=$(make -s -C "$tree" kernelversion)

fp=(format-patch --quiet --zero-commit --no-signature --no-stat --full-index
    --abbrev=12 --subject-prefix=PATCH --numbered --output-directory "$tmp")
if [ "$n" -gt 0 ]; then
	git -C "$tree" -c diff.noprefix=false -c core.abbrev=12 -c format.signOff=false \
		-c format.coverLetter=false -c diff.renames=true "${fp[@]}" base..HEAD
fi

# Cover letter: the hand-written text in patches/cover.txt, then a shortlog
# and diffstat of the series computed from the tree.
{
	echo "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001"
	echo "From: guest_memfd series <series@localhost>"
	echo "Date: Thu, 1 Jan 1970 00:00:00 +0000"
	echo "Subject: [PATCH 00/$(printf '%02d' "$n")] KVM: guest_memfd for Linux 6.1"
	echo
	cat "$patches/cover.txt"
	echo
	echo "Base: Linux $version ($(git -C "$tree" log -1 --format=%s base | sed 's/.*(\(.*\))/\1/'))"
	echo
	if [ "$n" -gt 0 ]; then
		git -C "$tree" shortlog --no-merges base..HEAD | sed 's/[[:space:]]*$//'
		echo
		git -C "$tree" diff --stat=72 --summary base HEAD
	else
		echo "(no patches yet)"
	fi
	echo
	echo "-- "
} > "$tmp/0000-cover-letter.patch"

# Replace the old export: drop files of commits that are gone, keep files
# whose content did not change (so their mtime does not churn).
for f in "$patches"/[0-9][0-9][0-9][0-9]-*.patch; do
	[ -e "$f" ] || continue
	[ -e "$tmp/$(basename "$f")" ] || rm -f "$f"
done
for f in "$tmp"/*.patch; do
	cmp -s "$f" "$patches/$(basename "$f")" || cp "$f" "$patches/"
done
( cd "$tmp" && ls [0-9][0-9][0-9][0-9]-*.patch | grep -v '^0000-' || true ) > "$tmp/series"
cmp -s "$tmp/series" "$patches/series" || cp "$tmp/series" "$patches/series"
log "exported $n patches to patches/ (base Linux $version)"
