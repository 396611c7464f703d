#!/usr/bin/env bash
# The guest root file system of the kernel matrix: Debian bookworm, minbase, from Debian's packages
# (debootstrap), with what the tests need in the guest: libstdc++6 (node links it), util-linux
# (unshare, nsenter) and a static busybox (a workload without a dynamic loader makes exactly the
# syscalls it asks for). No libbpf, libelf or zlib: the addon embeds them, and the guest proves it. Node itself
# and the repository are not copied: the runner shares them from the host read-only.
# Cached in .cache/vm/rootfs-<arch>; rebuilt when this script changes.
#   scripts/vm/rootfs.sh [amd64|arm64]
set -euo pipefail
cd "$(dirname "$0")/../.."
arch="${1:-amd64}"
dir=".cache/vm/rootfs-$arch"
stamp="$dir/.boxwatch-rootfs"
want="$(sha256sum scripts/vm/rootfs.sh | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
command -v debootstrap > /dev/null || { echo "rootfs: debootstrap is missing (scripts/setup.sh installs it)" >&2; exit 1; }
rm -rf "$dir" "$dir.tmp"
mkdir -p "$(dirname "$dir")"
foreign=()
[ "$arch" = "$(dpkg --print-architecture)" ] || foreign=(--foreign)
echo "rootfs: debootstrap bookworm ($arch) into $dir"
debootstrap --variant=minbase --arch="$arch" "${foreign[@]}" \
  --include=libstdc++6,util-linux,busybox-static,kmod \
  bookworm "$dir.tmp" http://deb.debian.org/debian > "$dir.log" 2>&1 || { tail -20 "$dir.log" >&2; exit 1; }
# Mount points of the shares and the guest's own file systems.
mkdir -p "$dir.tmp/repo" "$dir.tmp/out" "$dir.tmp/host-node" "$dir.tmp/sys/fs/bpf"
echo "$want" > "$dir.tmp/.boxwatch-rootfs"
mv "$dir.tmp" "$dir"
echo "rootfs: ready ($(du -sh "$dir" | cut -f1))"
