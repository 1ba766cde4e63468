#!/bin/bash
# Install what building and booting the series needs.  With arguments,
# install just those Debian packages; without, everything below.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

all=(qemu-system-x86 busybox-static build-essential bc flex bison libelf-dev
     libssl-dev cpio ccache linux-source-6.1 linux-source-6.12 rsync xz-utils
     kmod python3 python3-ply)
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=("${all[@]}")

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
	die "not a Debian/Ubuntu machine: install the equivalents of: ${pkgs[*]}"
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
